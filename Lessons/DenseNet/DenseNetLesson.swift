import ConvNetCore
import Foundation

// `lesson run densenet`: dense connectivity, the growth rate and compression, and the
// memory of concatenation.
//
//   1. the networks: DenseNet-121, 169, 201 and 161 counted from their shapes beside
//      Fixtures/torchvision-counts.json, the paper's top-1 errors printed as the paper's;
//   2. growth and compression: DenseNet-121's blocks and transitions, channel by channel
//      (c_0 + L k out of a block, theta = 0.5 out of a transition);
//   3. memory: dense blocks of 6, 12, 24 and 48 layers on real digit features, trained a
//      step naively (each layer's concatenation a new tensor) and with one shared buffer
//      (Pleiss et al. 2017): the same outputs and gradients, the bytes each keeps for
//      backward (counted, and measured from malloc) and the time each takes; one plot.

/// The DenseNet lesson, as `lesson list` and `lesson run densenet` see it.
public enum DenseNetLesson: Lesson {
    public static let name = "densenet"
    public static let folder = "DenseNet"
    public static let summary = "DenseNet (2017): every layer sees all earlier feature maps; growth rate, compression, the memory of concatenation"

    public static let options: [LessonOption] = [
        LessonOption("growth", .integer(1...64), default: "12", help: "growth rate k of the measured blocks (DenseNet-BC on CIFAR: 12)"),
        LessonOption("batch", .integer(1...64), default: "8", help: "digits in the measured blocks' batch (--quick: 4)"),
        LessonOption("size", .integer(4...28), default: "16", help: "the digits' side, n_H = n_W (resized from 28)"),
        LessonOption("seeds", .integer(1...10), default: "2", help: "paired seeds of the DenseNet-vs-ResNet training (--quick: 1)"),
        LessonOption("train", .integer(100...4_000), default: "1500", help: "training digits (--quick: 200)"),
        LessonOption("layers", .integer(1...16), default: "3", help: "layers per dense block of the trained DenseNet-BC"),
    ]

    public static let notes = """
    Defaults: blocks of 6, 12, 24 and 48 layers (--quick: 6 and 12), c_0 = 2k input channels from a 3x3 convolution of the digits.
    Training: 3 epochs (--epochs; the last at lr/10), batch 64, SGD 0.1, momentum 0.9, weight decay 1e-4, on 16x16 digits (--quick: 1 epoch).
    Writes under --out: index.html, memory.svg, densenet-digits.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("densenet121_parameters", "DenseNet-121, counted from its shapes"),
        ResultKey("densenet169_parameters", "DenseNet-169"),
        ResultKey("densenet201_parameters", "DenseNet-201"),
        ResultKey("densenet161_parameters", "DenseNet-161"),
        ResultKey("densenet121_macs", "DenseNet-121's multiply-accumulates at 224x224, batch 1"),
        ResultKey("counts_match", "all four nets' parameters and MACs equal Fixtures/torchvision-counts.json"),
        ResultKey("block_channels_121", "channels out of DenseNet-121's four dense blocks"),
        ResultKey("transition_channels_121", "channels out of its three transitions"),
        ResultKey("memory_depths", "layers of the measured blocks"),
        ResultKey("memory_batch", "digits in their batch"),
        ResultKey("kept_bytes_naive", "bytes of activations kept from forward to backward, naive concatenation, per depth"),
        ResultKey("kept_bytes_shared", "the same with the shared buffer"),
        ResultKey("heap_bytes_naive", "malloc's bytes in use after the forward pass minus before (kept + the output), naive, per depth (-1 where the C library does not say)"),
        ResultKey("heap_bytes_shared", "the same with the shared buffer"),
        ResultKey("ms_naive", "forward + backward of the block on one thread, naive, per depth: that thread's CPU time, ms (median)"),
        ResultKey("ms_shared", "the same with the shared buffer and recomputation"),
        ResultKey("wall_ms_naive", "the same passes' wall time, ms (on a shared machine it counts other programs too)"),
        ResultKey("wall_ms_shared", "the same passes' wall time with the shared buffer"),
        ResultKey("memory_ratio", "kept bytes naive / shared at the deepest block"),
        ResultKey("time_ratio", "CPU time shared / naive at the deepest block"),
        ResultKey("growth_exponent_naive", "p in kept bytes ~ L^p between the two deepest blocks, naive (2: quadratic)"),
        ResultKey("growth_exponent_shared", "the same with the shared buffer (1: linear)"),
        ResultKey("max_difference", "largest relative difference of any output or gradient, shared against naive (0: bit for bit)"),
        ResultKey("digits_parameters_densenet", "parameters of the small DenseNet-BC trained on digits"),
        ResultKey("digits_parameters_resnet", "parameters of the ResNet lesson's res-20 (widths 8/16/32)"),
        ResultKey("val_errors_densenet", "held-out error of the DenseNet-BC, each seed"),
        ResultKey("val_errors_resnet", "held-out error of res-20, each seed"),
        ResultKey("val_error_densenet", "mean over seeds"),
        ResultKey("val_error_resnet", "mean over seeds"),
        ResultKey("seconds_densenet", "training time, all seeds"),
        ResultKey("seconds_resnet", "training time, all seeds"),
        ResultKey("epochs", "epochs per net"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_examples", "training digits"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    public struct Results: Encodable {
        var densenet121Parameters = 0, densenet169Parameters = 0, densenet201Parameters = 0, densenet161Parameters = 0
        var densenet121Macs = 0, countsMatch = false
        var blockChannels121: [Int] = [], transitionChannels121: [Int] = []
        var memoryDepths: [Int] = [], memoryBatch = 0
        var keptBytesNaive: [Int] = [], keptBytesShared: [Int] = [], heapBytesNaive: [Int] = [], heapBytesShared: [Int] = []
        var msNaive: [Double] = [], msShared: [Double] = [], wallMsNaive: [Double] = [], wallMsShared: [Double] = []
        var memoryRatio = 0.0, timeRatio = 0.0, growthExponentNaive = 0.0, growthExponentShared = 0.0, maxDifference = 0.0
        var digitsParametersDensenet = 0, digitsParametersResnet = 0
        var valErrorsDensenet: [Double] = [], valErrorsResnet: [Double] = [], valErrorDensenet = 0.0, valErrorResnet = 0.0
        var secondsDensenet = 0.0, secondsResnet = 0.0, epochs = 0, seeds: [Int] = [], trainExamples = 0
        var quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case densenet121Parameters = "densenet121_parameters", densenet169Parameters = "densenet169_parameters"
            case densenet201Parameters = "densenet201_parameters", densenet161Parameters = "densenet161_parameters"
            case densenet121Macs = "densenet121_macs", countsMatch = "counts_match"
            case blockChannels121 = "block_channels_121", transitionChannels121 = "transition_channels_121"
            case memoryDepths = "memory_depths", memoryBatch = "memory_batch"
            case keptBytesNaive = "kept_bytes_naive", keptBytesShared = "kept_bytes_shared"
            case heapBytesNaive = "heap_bytes_naive", heapBytesShared = "heap_bytes_shared"
            case msNaive = "ms_naive", msShared = "ms_shared", wallMsNaive = "wall_ms_naive", wallMsShared = "wall_ms_shared"
            case memoryRatio = "memory_ratio", timeRatio = "time_ratio"
            case growthExponentNaive = "growth_exponent_naive", growthExponentShared = "growth_exponent_shared"
            case maxDifference = "max_difference", quick, outputDirectory = "output_directory"
            case digitsParametersDensenet = "digits_parameters_densenet", digitsParametersResnet = "digits_parameters_resnet"
            case valErrorsDensenet = "val_errors_densenet", valErrorsResnet = "val_errors_resnet"
            case valErrorDensenet = "val_error_densenet", valErrorResnet = "val_error_resnet"
            case secondsDensenet = "seconds_densenet", secondsResnet = "seconds_resnet"
            case epochs, seeds, trainExamples = "train_examples"
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let k = options.integer("growth"), side = options.integer("size")
        let batch = options.isGiven("batch") || !quick ? options.integer("batch") : 4
        let depths = quick ? [6, 12] : [6, 12, 24, 48]
        let run = try LessonRun(lesson: name, title: "DenseNet: dense connectivity and the memory of concatenation", options: options, console: console)
        var results = Results()
        results.quick = quick
        results.outputDirectory = run.directory.path
        results.memoryDepths = depths
        results.memoryBatch = batch

        // 1. The networks.
        run.step("The networks")
        run.say("In a dense block every layer receives the feature maps of ALL earlier layers, concatenated along the channels,"
                + " and passes its own on to all later ones: x_l = H_l([x_0, x_1, ..., x_{l-1}]). A ResNet adds (a[l+2] = g(z + a[l]));"
                + " a DenseNet concatenates, so nothing an earlier layer computed is lost, and each layer can be narrow: it adds only"
                + " k new channels (the growth rate). H_l is BN-ReLU-Conv 1x1 (to 4k channels: the bottleneck) then BN-ReLU-Conv 3x3 (to k).")
        let published = PublishedCounts.all(fixtures: options.fixtures)
        var rows: [[String]] = [], match = true
        for entry in DenseNets.all {
            let s = entry.make().summary(inputShape: [1, 3, 224, 224])
            let same = published[entry.key].map { $0.parameters == s.parameters && $0.macs == s.macs } ?? false
            match = match && same
            switch entry.key {
            case "densenet121": (results.densenet121Parameters, results.densenet121Macs) = (s.parameters, s.macs)
            case "densenet169": results.densenet169Parameters = s.parameters
            case "densenet201": results.densenet201Parameters = s.parameters
            default: results.densenet161Parameters = s.parameters
            }
            let paper = DenseNetPaper.table3.first { entry.name.hasPrefix($0.model + " ") }
            rows.append([entry.name, ModelSummary.grouped(s.parameters), ModelSummary.grouped(s.macs), same ? "match" : "MISMATCH",
                         paper.map { String(format: "%.2f%%", $0.top1) } ?? "not in the paper's table"])
        }
        results.countsMatch = match
        run.show(ReportTable(headers: ["network", "parameters", "MACs (224x224)", "torchvision-counts.json", "the paper's top-1 error (Table 3)"],
                             rows: rows))
        run.say("The paper's errors are on ImageNet (single 224x224 crop; DenseNet-264 at 22.15% is not built here) and are not measured"
                + " here. DenseNet-121 has \(ModelSummary.grouped(results.densenet121Parameters)) parameters, under a third of"
                + " ResNet-50's 25,557,032; the paper's comparison (its Figure 3): DenseNet-201, with about 20M parameters, reaches"
                + " about the validation error of ResNet-101, with more than 40M.")

        // 2. Growth and compression.
        run.step("Growth rate and compression: DenseNet-121, block by block")
        let net121 = DenseNet.densenet121()
        let blocks = net121.namedLayers().compactMap { $0.layer as? DenseBlock }
        var shapeRows: [[String]] = []
        for (name, shape) in DenseNets.stageShapes(net121) {
            if name.hasPrefix("denseblock") {
                let block = blocks[results.blockChannels121.count]
                results.blockChannels121.append(shape[1])
                shapeRows.append([name, shapeText(shape), "\(block.inChannels) + \(block.layers.count) x \(block.growthRate) = \(block.outChannels)",
                                  "layer l sees \(block.inChannels) + \(block.growthRate) l channels"])
            } else {
                results.transitionChannels121.append(shape[1])
                shapeRows.append([name, shapeText(shape), "theta = 0.5: half the channels", "2x2 average pool: half of n_H, n_W"])
            }
        }
        run.show(ReportTable(headers: ["stage", "output shape", "channels", "why"], rows: shapeRows))
        run.say("Inside a block the channels grow by k = 32 per layer: the first block takes 64 channels (after the 7x7 convolution and"
                + " max pool) and ends with 64 + 6 x 32 = 256; each transition's 1x1 convolution compresses them by theta = 0.5 before"
                + " the next block (DenseNet-BC: bottleneck and compression).")

        // 3. Memory.
        run.step("The memory of concatenation: naive against one shared buffer")
        let sample = try LabeledImages.smallDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"), trainCount: batch,
                                                   validationCount: 0, side: side, seed: options.seed).train
        let c0 = 2 * k
        let conv0 = Conv2d(1, c0, kernel: 3, padding: 1, bias: false)
        conv0.initialize(seed: options.seed)
        let x = conv0(sample.images)
        run.say("Naively, layer l of a block concatenates [x_0, ..., x_{l-1}] into a NEW tensor of c_0 + l k channels, and its first"
                + " batch norm keeps that tensor and its own output for backward: a block of L layers keeps about sum_l 2 (c_0 + l k)"
                + " channels, which grows as L^2. Pleiss et al. (2017) keep the block's features in ONE pre-allocated buffer into which"
                + " each layer writes its k new channels, let each layer's concatenation, first batch norm and 1x1 convolution die"
                + " after the forward pass, and recompute them in backward: what stays is the bottleneck's 4k channels and the k new"
                + " ones per layer, which grows as L.")
        run.say("Measured here: blocks of \(depths.map(String.init).joined(separator: ", ")) layers (k = \(k), c_0 = \(c0), bottleneck 4k)"
                + " on \(batch) real digits (\(side)x\(side), through a 3x3 convolution to \(c0) channels: \(shapeText(x.shape))),"
                + " one training step each way from the same initialisation. 'Kept' counts the distinct buffers the block's layers"
                + " hold after forward (DenseBlock.keptActivationBytes); 'malloc' is the C library's bytes in use after forward"
                + " minus before (it includes the block's output).")
        var memoryRows: [[String]] = []
        for depth in depths {
            let naive = try measureBlock(depth: depth, k: k, x: x, shared: false, quick: quick, seed: options.seed)
            let shared = try measureBlock(depth: depth, k: k, x: x, shared: true, quick: quick, seed: options.seed)
            let difference = zip(naive.outputs, shared.outputs).map { relativeError($1, $0) }.max() ?? 0
            results.maxDifference = max(results.maxDifference, difference)
            results.keptBytesNaive.append(naive.kept)
            results.keptBytesShared.append(shared.kept)
            results.heapBytesNaive.append(naive.heap ?? -1)
            results.heapBytesShared.append(shared.heap ?? -1)
            results.msNaive.append(naive.cpuSeconds * 1e3)
            results.msShared.append(shared.cpuSeconds * 1e3)
            results.wallMsNaive.append(naive.seconds * 1e3)
            results.wallMsShared.append(shared.seconds * 1e3)
            run.note("\(depth) layers: naive kept \(megabytes(naive.kept)), shared \(megabytes(shared.kept))")
            memoryRows.append(["\(depth) (\(c0 + depth * k) ch)", megabytes(naive.kept) + " / " + megabytes(shared.kept),
                               String(format: "%.2fx", Double(naive.kept) / Double(shared.kept)),
                               (naive.heap.map(megabytes) ?? "-") + " / " + (shared.heap.map(megabytes) ?? "-"),
                               String(format: "%.1f / %.1f ms", naive.cpuSeconds * 1e3, shared.cpuSeconds * 1e3),
                               String(format: "%.1f / %.1f ms", naive.seconds * 1e3, shared.seconds * 1e3), sci(difference)])
        }
        run.show(ReportTable(headers: ["layers (channels out)", "kept: naive / shared", "naive / shared", "malloc: naive / shared",
                                       "CPU time, 1 thread: naive / shared", "wall time", "largest difference"], rows: memoryRows))
        let last = depths.count - 1
        results.memoryRatio = Double(results.keptBytesNaive[last]) / Double(results.keptBytesShared[last])
        results.timeRatio = results.msShared[last] / results.msNaive[last]
        let depthRatio = log(Double(depths[last]) / Double(depths[last - 1]))
        results.growthExponentNaive = log(Double(results.keptBytesNaive[last]) / Double(results.keptBytesNaive[last - 1])) / depthRatio
        results.growthExponentShared = log(Double(results.keptBytesShared[last]) / Double(results.keptBytesShared[last - 1])) / depthRatio
        run.say(String(format: "From %d to %d layers the naive block's kept bytes grew as L^%.2f, the shared buffer's as L^%.2f: at %d layers"
                       + " the shared buffer keeps %.1fx less, for %.2fx the CPU time (the concatenations, first batch norms and 1x1"
                       + " convolutions run twice). Outputs, input gradients and every parameter gradient: largest relative difference"
                       + " %@%@.", depths[last - 1], depths[last], results.growthExponentNaive, results.growthExponentShared,
                       depths[last], results.memoryRatio, results.timeRatio, sci(results.maxDifference),
                       results.maxDifference == 0 ? " (bit for bit the same: the same kernels on the same numbers)" : ""))
        let paper = DenseNetPaper.memory
        run.say(String(format: "Pleiss et al. 2017 report, for %@: %.2f GB naive against %.2f GB with shared buffers, for %@ more time"
                       + " (theirs, on a GPU; their count includes the whole network, its weights and the framework's workspace).",
                       paper.model, paper.naiveGB, paper.sharedGB, paper.extraTime))
        try run.writeFigure(svg: DenseNetPictures.memory(depths: depths, naive: results.keptBytesNaive, shared: results.keptBytesShared,
                                                         heapNaive: results.heapBytesNaive, heapShared: results.heapBytesShared),
                            name: "memory.svg", caption: "bytes kept from forward to backward against the layers of a dense block")

        // 4. Training a small DenseNet-BC.
        run.step("A small DenseNet-BC on digits, beside the ResNet lesson's res-20")
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 3)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 200
        let blockLayers = options.integer("layers")
        (results.epochs, results.seeds, results.trainExamples) = (epochs, seeds.map { Int($0) }, trainCount)
        let (training, validation, _, _) = try LabeledImages.smallDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"),
                                                                         trainCount: trainCount, validationCount: quick ? 200 : 1_000,
                                                                         side: 16, seed: options.seed)
        var settings = TrainingSettings(epochs: epochs, batchSize: 64,
                                        schedule: epochs > 1 ? .step(initial: 0.1, milestones: [epochs - 1], factor: 0.1) : .constant(0.1))
        settings.weightDecay = 1e-4
        let denseLabel = "DenseNet-BC, 3 blocks of \(blockLayers), k = \(k)", resLabel = "res-20 (8/16/32)"
        var histories: [String: [TrainingHistory]] = [:]
        for seed in seeds {
            for label in [denseLabel, resLabel] {
                let net: Layer = label == denseLabel ? DenseNets.digits(layers: blockLayers, growthRate: k, seed: seed)
                                                     : DenseNets.residualDigits(depth: 20, seed: seed)
                if label == denseLabel { results.digitsParametersDensenet = net.parameterCount } else { results.digitsParametersResnet = net.parameterCount }
                var trainer = Trainer(settings)
                trainer.label = "\(label), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
                histories[label, default: []].append(history)
                run.note("\(label), seed \(seed): held-out error \(percent(1 - (history.last!.validationAccuracy ?? 0))), \(String(format: "%.1f s", history.seconds))")
                if label == denseLabel && seed == seeds[0] {
                    try net.save(to: run.directory.appendingPathComponent("densenet-digits.safetensors"),
                                 metadata: ["lesson": "densenet", "seed": String(seed), "input": "1x16x16 digits, normalised"])
                    run.recordFile("densenet-digits.safetensors", description: "the trained \(denseLabel) of seed \(seed)")
                }
            }
        }
        func errors(_ label: String) -> [Double] { histories[label]!.map { 1 - ($0.last?.validationAccuracy ?? 0) } }
        results.valErrorsDensenet = errors(denseLabel)
        results.valErrorsResnet = errors(resLabel)
        results.valErrorDensenet = mean(results.valErrorsDensenet)
        results.valErrorResnet = mean(results.valErrorsResnet)
        results.secondsDensenet = histories[denseLabel]!.reduce(0) { $0 + $1.seconds }
        results.secondsResnet = histories[resLabel]!.reduce(0) { $0 + $1.seconds }
        run.say("Both nets on \(ModelSummary.grouped(training.count)) digits at 16x16 (held out: \(ModelSummary.grouped(validation.count))), \(epochs) epoch\(epochs == 1 ? "" : "s")"
                + " of SGD (lr 0.1\(epochs > 1 ? ", divided by 10 for the last epoch" : ""), momentum 0.9, weight decay 1e-4, batch 64), the same seeds and mini-batches. The DenseNet-BC is the"
                + " paper's CIFAR layout (a 3x3 convolution to 2k channels, three dense blocks with transitions) built from the core's"
                + " DenseBlock and Transition.")
        run.show(ReportTable(headers: ["net", "parameters"] + seeds.map { "held-out err, seed \($0)" } + ["mean", "spread", "training time"],
                             rows: [(denseLabel, results.digitsParametersDensenet, results.valErrorsDensenet, results.secondsDensenet),
                                    (resLabel, results.digitsParametersResnet, results.valErrorsResnet, results.secondsResnet)].map { row in
                                 [row.0, ModelSummary.grouped(row.1)] + row.2.map(percent)
                                     + [percent(mean(row.2)), percent((row.2.max() ?? 0) - (row.2.min() ?? 0)), String(format: "%.1f s", row.3)]
                             }))
        let spread = max((results.valErrorsDensenet.max() ?? 0) - (results.valErrorsDensenet.min() ?? 0),
                         (results.valErrorsResnet.max() ?? 0) - (results.valErrorsResnet.min() ?? 0))
        let gap = results.valErrorResnet - results.valErrorDensenet
        run.say(seeds.count < 2 ? "One seed: no spread measured, so no difference is claimed either way."
                : abs(gap) > spread ? "The difference of the means (\(percent(abs(gap)))) is beyond the seed-to-seed spread (\(percent(spread))): the "
                    + (gap > 0 ? "DenseNet-BC" : "res-20") + " did better at this budget."
                : "No difference shown: the means differ by \(percent(abs(gap))), within the seed-to-seed spread (\(percent(spread))).")

        let headline = String(format: "DenseNet-121 %@ parameters; a %d-layer block keeps %@ naively, %@ with a shared buffer (%.1fx less, %.2fx the CPU time)",
                              ModelSummary.grouped(results.densenet121Parameters), depths[last], megabytes(results.keptBytesNaive[last]),
                              megabytes(results.keptBytesShared[last]), results.memoryRatio, results.timeRatio)
        try run.finish(headline: headline, results: results)
        return results
    }

    /// One training step of a fresh dense block of `depth` layers on `x`: the bytes it
    /// keeps after forward (counted and from malloc), its outputs and gradients, and the
    /// median wall and CPU time of a forward and backward pass.
    static func measureBlock(depth: Int, k: Int, x: Tensor, shared: Bool, quick: Bool, seed: UInt64)
        throws -> (kept: Int, heap: Int?, seconds: Double, cpuSeconds: Double, outputs: [[Float]]) {
        let c0 = x.shape[1]
        let block = DenseBlock(layers: depth, inChannels: c0, growthRate: k)
        block.initialize(seed: seed)
        block.memoryEfficient = shared
        var g = SeededGenerator(seed: seed &+ 1)
        let dy = Tensor.randomNormal([x.shape[0], block.outChannels, x.shape[2], x.shape[3]], using: &g)
        let before = HeapBytes.inUse()
        let y = block(x)
        let after = HeapBytes.inUse()
        let kept = block.keptActivationBytes
        let dx = block.backward(dy)
        let outputs = [y.data, dx.data] + block.parameters.map(\.gradient.data)
        // Timed on ONE thread, each sample's wall time and the CPU time of that thread: on a shared machine the wall clock
        // also counts the time other programs held the core, the thread's CPU time only its work (and with more threads
        // the pool's threads spin between jobs, which their CPU time would count).
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        defer { Parallelism.threadCount = threads }
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<(quick ? 1 : 3) {
            let (w0, c0) = (Stopwatch.now(), threadCPUSeconds())
            block.zeroGradients()
            _ = block(x)
            _ = block.backward(dy)
            wall.append(Stopwatch.now() - w0)
            cpu.append(threadCPUSeconds() - c0)
        }
        return (kept, before.flatMap { b in after.map { $0 - b } }, wall.sorted()[wall.count / 2], cpu.sorted()[cpu.count / 2], outputs)
    }
}

/// Seconds of CPU time used so far by the calling thread.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
/// "12.3 MB" (10^6 bytes).
func megabytes(_ bytes: Int) -> String { String(format: bytes < 10_000_000 ? "%.2f MB" : "%.1f MB", Double(bytes) / 1e6) }
