import ConvNetCore
import Foundation

// `lesson run one-by-one`: 1x1 convolutions (Lin et al. 2013, Network in Network).
//
//   1. a 1x1 convolution is a fully connected layer at every pixel: on a real feature map
//      (two photographs through a seeded ResNet-50's first layers), the convolution and a
//      fully connected layer applied to each pixel's channel vector, forward and backward;
//   2. shrinking channels: where the 1x1 convolutions sit in the full-size networks
//      (ResNet-50 beside its published counts, the CIFAR-10 NiN), their share of the cost;
//   3. the cost problem and the bottleneck: the course's 28x28x192 -> 5x5 -> 28x28x32,
//      multiplies counted from shapes, both paths timed on the fast kernels forward and
//      backward on GoogLeNet's real input to inception 3a;
//   4. the race: ResNet-50's 256 -> 64 1x1 layer as per-pixel dot products, as a fully
//      connected layer on pixel rows, and as one GEMM with no im2col;
//   5. mlpconv on digits: a small NiN (conv + two 1x1 convs, global average pooling)
//      against a plain conv net of about the same size, same data, budget and seeds.

/// The 1x1 convolution lesson, as `lesson list` and `lesson run one-by-one` see it.
public enum OneByOneLesson: Lesson {
    public static let name = "one-by-one"
    public static let folder = "OneByOne"
    public static let summary = "1x1 convolutions (Network in Network, 2013): a fully connected layer at every pixel; the bottleneck's 120M vs 12.4M multiplies, timed"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds for the NiN / plain comparison (--quick: 1)"),
        LessonOption("train", .integer(100...4_000), default: "4000", help: "training digits (--quick: 600)"),
        LessonOption("lr", .number(1e-4...1), default: "0.02", help: "learning rate of SGD with momentum 0.9"),
        LessonOption("size", .choice(["16", "28"]), default: "16", help: "digit size the small nets train on"),
    ]

    public static let notes = """
    Defaults: 8 epochs (--epochs; --quick: 1), batch 64, on MNIST-5k digits (4,000 training, 1,000 held out), one thread.
    Writes under --out: index.html, nin-vs-plain.svg, feature-maps.png, nin-small.safetensors (seed 1's NiN).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("fc_forward_max_difference", "largest |conv - fully connected at every pixel| on the real feature map, naive loops (0: bit for bit)"),
        ResultKey("fc_backward_max_difference", "the same for dx, dW and the bias gradient"),
        ResultKey("fc_fast_relative_difference", "fast 1x1 convolution against the fast fully connected layer on pixel rows, forward and backward"),
        ResultKey("resnet50_parameters", "ResNet-50, counted (224x224)"),
        ResultKey("resnet50_macs", "ResNet-50 multiply-accumulates, counted"),
        ResultKey("resnet50_1x1_parameter_share", "fraction of ResNet-50's parameters in 1x1 convolutions"),
        ResultKey("resnet50_1x1_mac_share", "fraction of its MACs in 1x1 convolutions"),
        ResultKey("nin_cifar_parameters", "the full-size CIFAR-10 Network in Network, counted"),
        ResultKey("course_multiplies_direct", "28x28x192 -> 5x5 conv, 32: multiplies counted from shapes (one image)"),
        ResultKey("course_multiplies_bottleneck", "through the 16-channel 1x1 bottleneck"),
        ResultKey("course_multiplies_ratio", "direct / bottleneck"),
        ResultKey("course_forward_ms_direct", "measured forward time of the direct path (fast kernels, batch of the photos)"),
        ResultKey("course_forward_ms_bottleneck", "measured forward time of the bottleneck path"),
        ResultKey("course_backward_ms_direct", "measured backward time (dx and dW) of the direct path"),
        ResultKey("course_backward_ms_bottleneck", "measured backward time of the bottleneck path"),
        ResultKey("course_forward_time_ratio", "direct / bottleneck, forward"),
        ResultKey("course_backward_time_ratio", "direct / bottleneck, backward"),
        ResultKey("course_forward_time_ratio_one_thread", "direct / bottleneck, forward, on one thread"),
        ResultKey("race_kernel", "the fast kernels the router ran for the 1x1 layer"),
        ResultKey("race_naive_ms", "per-pixel dot products, forward + backward"),
        ResultKey("race_fc_ms", "fully connected layer on pixel rows (transposes included), forward + backward"),
        ResultKey("race_fast_ms", "one GEMM with no im2col, forward + backward"),
        ResultKey("race_speedup", "naive / fast"),
        ResultKey("race_max_difference", "largest relative difference from the naive results"),
        ResultKey("params_nin_small", "parameters of the small NiN"),
        ResultKey("params_plain_small", "parameters of the plain net"),
        ResultKey("val_accuracy_nin", "held-out accuracy of the small NiN after the last epoch, each seed"),
        ResultKey("val_accuracy_plain", "held-out accuracy of the plain net, each seed"),
        ResultKey("val_accuracy_nin_mean", "mean over seeds"),
        ResultKey("val_accuracy_plain_mean", "mean over seeds"),
        ResultKey("difference_shown", "the two nets differ by more than the seed-to-seed spread"),
    ] + ResultKey.trainingRun

    /// The `--json` object.
    public struct Results: Encodable {
        var fcForwardMaxDifference = 0.0, fcBackwardMaxDifference = 0.0, fcFastRelativeDifference = 0.0
        var resnet50Parameters = 0, resnet50Macs = 0, resnet50OneByOneParameterShare = 0.0, resnet50OneByOneMacShare = 0.0
        var ninCifarParameters = 0
        var courseMultipliesDirect = 0, courseMultipliesBottleneck = 0, courseMultipliesRatio = 0.0
        var courseForwardMsDirect = 0.0, courseForwardMsBottleneck = 0.0, courseBackwardMsDirect = 0.0, courseBackwardMsBottleneck = 0.0
        var courseForwardTimeRatio = 0.0, courseBackwardTimeRatio = 0.0, courseForwardTimeRatioOneThread = 0.0
        var raceKernel = "", raceNaiveMs = 0.0, raceFcMs = 0.0, raceFastMs = 0.0, raceSpeedup = 0.0, raceMaxDifference = 0.0
        var paramsNinSmall = 0, paramsPlainSmall = 0
        var valAccuracyNin: [Double] = [], valAccuracyPlain: [Double] = []
        var valAccuracyNinMean = 0.0, valAccuracyPlainMean = 0.0, differenceShown = false
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, trainSeconds = 0.0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case fcForwardMaxDifference = "fc_forward_max_difference", fcBackwardMaxDifference = "fc_backward_max_difference"
            case fcFastRelativeDifference = "fc_fast_relative_difference"
            case resnet50Parameters = "resnet50_parameters", resnet50Macs = "resnet50_macs"
            case resnet50OneByOneParameterShare = "resnet50_1x1_parameter_share", resnet50OneByOneMacShare = "resnet50_1x1_mac_share"
            case ninCifarParameters = "nin_cifar_parameters"
            case courseMultipliesDirect = "course_multiplies_direct", courseMultipliesBottleneck = "course_multiplies_bottleneck"
            case courseMultipliesRatio = "course_multiplies_ratio"
            case courseForwardMsDirect = "course_forward_ms_direct", courseForwardMsBottleneck = "course_forward_ms_bottleneck"
            case courseBackwardMsDirect = "course_backward_ms_direct", courseBackwardMsBottleneck = "course_backward_ms_bottleneck"
            case courseForwardTimeRatio = "course_forward_time_ratio", courseBackwardTimeRatio = "course_backward_time_ratio"
            case courseForwardTimeRatioOneThread = "course_forward_time_ratio_one_thread"
            case raceKernel = "race_kernel", raceNaiveMs = "race_naive_ms", raceFcMs = "race_fc_ms", raceFastMs = "race_fast_ms"
            case raceSpeedup = "race_speedup", raceMaxDifference = "race_max_difference"
            case paramsNinSmall = "params_nin_small", paramsPlainSmall = "params_plain_small"
            case valAccuracyNin = "val_accuracy_nin", valAccuracyPlain = "val_accuracy_plain"
            case valAccuracyNinMean = "val_accuracy_nin_mean", valAccuracyPlainMean = "val_accuracy_plain_mean"
            case differenceShown = "difference_shown"
            case epochs, seeds, trainExamples = "train_examples", trainSeconds = "train_seconds", quick, outputDirectory = "output_directory"
        }
    }

    /// One small net trained on every seed.
    struct Arm {
        var kind: SmallNet
        var histories: [TrainingHistory] = []
        var accuracies: [Double] { histories.map { $0.last?.validationAccuracy ?? 0 } }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 8)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 600
        let size = Int(options.choice("size"))!
        let run = try LessonRun(lesson: name, title: "1x1 convolutions: a fully connected layer at every pixel", options: options, console: console)
        var results = Results()
        results.epochs = epochs
        results.seeds = seeds.map { Int($0) }
        results.quick = quick
        results.outputDirectory = run.directory.path

        // 1. The equivalence, on a real feature map.
        run.step("A 1x1 convolution is a fully connected layer at every pixel")
        let photos = try Photographs.centreCrops(fixtures: options.fixtures, names: OneByOneProbes.photos)
        let layer = OneByOneProbes.resnet50Layer(photos, seed: options.seed)
        let s = layer.x.featureMapShape(for: layer.name)
        let w = layer.conv.weight.value.data
        let o = layer.conv.outChannels
        run.say("With one input channel a 1x1 filter only multiplies the image by a constant. With n_C channels, each output"
                + " number is the inner product of the n_C numbers at one pixel (the input's channel slice) with the filter:"
                + " y[o, i, j] = sum_c W[o, c] x[c, i, j]. That is a fully connected layer y = W a applied to the vector a of every"
                + " pixel, with the same W everywhere, so n_H and n_W stay and n_C becomes the number of filters.")
        // The equivalence on the first photograph's map (the naive loops are slow; --quick:
        // its top-left 16x16 window).
        let side = quick ? 16 : s.height
        let one = FeatureMapShape(batch: 1, channels: s.channels, height: side, width: side)
        let x1 = OneByOneProbes.window(layer.x, size: side)
        let g1 = Conv2DGeometry(input: one, outChannels: o, kernel: 1)
        var generator = SeededGenerator(seed: options.seed + 7)
        let dy1 = Tensor.randomNormal(g1.outputShape.dimensions, using: &generator).data
        let yConv = Naive.conv2d(x1, weight: w, bias: nil, geometry: g1)
        let yFC = pixelwiseFullyConnected(x1, weight: w, bias: nil, shape: one, outChannels: o)
        let dConv = Naive.conv2dBackward(x1, weight: w, outputGradient: dy1, geometry: g1)
        let dFC = pixelwiseFullyConnectedBackward(x1, weight: w, outputGradient: dy1, shape: one, outChannels: o)
        func maxAbs(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0 }
        results.fcForwardMaxDifference = maxAbs(yConv, yFC)
        results.fcBackwardMaxDifference = max(maxAbs(dConv.input, dFC.input), maxAbs(dConv.weight, dFC.weight), maxAbs(dConv.bias, dFC.bias))
        let fastConv = Fast.conv2d(x1, weight: w, bias: nil, geometry: g1)
        let fastFC = fastPixelwiseFullyConnected(x1, weight: w, bias: nil, shape: one, outChannels: o)
        let fastConvBack = Fast.conv2dBackward(x1, weight: w, outputGradient: dy1, geometry: g1)
        let fastFCBack = fastPixelwiseFullyConnectedBackward(x1, weight: w, outputGradient: dy1, shape: one, outChannels: o)
        results.fcFastRelativeDifference = max(relativeError(fastConv, fastFC), relativeError(fastConvBack.input, fastFCBack.input),
                                               relativeError(fastConvBack.weight, fastFCBack.weight))
        run.say("The feature map: the centre 224x224 crops of Fixtures/photos/\(OneByOneProbes.photos.joined(separator: ".ppm and ")).ppm"
                + " through conv1, max pool and block layer1.0 of a ResNet-50 He-initialised with seed \(options.seed) (inference mode):"
                + " \(s) going into \(layer.name), a 1x1 convolution with \(s.channels) -> \(o) filters. Below, the first photograph's map"
                + (quick ? " (--quick: its top-left 16x16 window)." : "."))
        run.show(ReportTable(headers: ["", "as a 1x1 convolution", "as a fully connected layer at every pixel"], rows: [
            ["input", "x: \(one)", "\(ModelSummary.grouped(one.batch * one.spatial)) rows (pixels) of \(s.channels) numbers"],
            ["weights", "W: [\(o), \(s.channels), 1, 1]", "W: [\(o), \(s.channels)] (the same \(ModelSummary.grouped(w.count)) numbers)"],
            ["output", "y: \(g1.outputShape)", "\(ModelSummary.grouped(one.batch * one.spatial)) rows of \(o) numbers"],
            ["kernels", "Naive.conv2d, Naive.conv2dBackward", "Naive.linear, Naive.linearBackward on pixel rows"],
        ]))
        run.say("Largest |difference| between the two, naive loops in Float: forward \(sci(results.fcForwardMaxDifference)),"
                + " backward (dx, dW, bias gradient) \(sci(results.fcBackwardMaxDifference))"
                + (results.fcForwardMaxDifference == 0 && results.fcBackwardMaxDifference == 0
                   ? " — bit for bit the same: the loops add the same products in the same order." : ".")
                + " The fast convolution against the fast fully connected layer (different summation orders): largest relative"
                + " difference \(sci(results.fcFastRelativeDifference)).")
        try drawFeatureMaps(run, x: Tensor(shape: one.dimensions, data: x1), y: Tensor(shape: g1.outputShape.dimensions, data: yConv))

        // 2. Where the 1x1 convolutions are in the full-size networks.
        run.step("Shrinking channels: the 1x1 convolutions of the full-size networks")
        let resnet = OneByOneProbes.oneByOneShare(ResNet.resnet50(), inputShape: [1, 3, 224, 224])
        let nin = OneByOneProbes.oneByOneShare(NetworkInNetwork(), inputShape: [1, 3, 32, 32])
        let published = PublishedCounts.lookup("resnet50", fixtures: options.fixtures)
        results.resnet50Parameters = resnet.total.parameters
        results.resnet50Macs = resnet.total.macs
        results.resnet50OneByOneParameterShare = Double(resnet.parameters) / Double(resnet.total.parameters)
        results.resnet50OneByOneMacShare = Double(resnet.macs) / Double(resnet.total.macs)
        results.ninCifarParameters = nin.total.parameters
        func share(_ part: Int, _ whole: Int) -> String { ModelSummary.grouped(part) + " (" + percent(Double(part) / Double(whole)) + ")" }
        run.show(ReportTable(headers: ["network", "parameters", "MACs", "in 1x1 convolutions: parameters", "MACs", "published (Fixtures/torchvision-counts.json)"], rows: [
            ["ResNet-50, 224x224", ModelSummary.grouped(resnet.total.parameters), ModelSummary.grouped(resnet.total.macs),
             share(resnet.parameters, resnet.total.parameters), share(resnet.macs, resnet.total.macs),
             published.map { $0.comparison(parameters: resnet.total.parameters, macs: resnet.total.macs) } ?? "not in the file"],
            ["Network in Network, CIFAR-10, 32x32", ModelSummary.grouped(nin.total.parameters), ModelSummary.grouped(nin.total.macs),
             share(nin.parameters, nin.total.parameters), share(nin.macs, nin.total.macs), "not in the file"],
        ]))
        run.say("Each ResNet-50 bottleneck block is 1x1 (shrink n_C, e.g. 256 -> 64), 3x3 on the few channels, 1x1 (grow back to"
                + " 256): the 1x1 layers hold the share of the parameters and MACs above. NiN's mlpconv layers are a spatial"
                + " convolution followed by two 1x1 convolutions, a small multilayer perceptron sliding over the image; the net"
                + " ends with global average pooling of one map per class instead of fully connected layers.")
        run.say("The paper's test errors for NIN (Lin et al. 2013; not reproduced here, they need the full data sets and long training):")
        run.show(ReportTable(headers: ["the paper's setting", "the paper's test error (%)"],
                             rows: OneByOnePaper.testErrors.map { [$0.dataset, String(format: "%.2f", $0.error)] }))

        // 3. The cost problem and the bottleneck.
        run.step("The cost problem and the bottleneck: 120M against 12.4M multiplies, timed")
        let googlenetInput = OneByOneProbes.inception3aInput(photos, seed: options.seed)
        let geometries = courseGeometries()
        results.courseMultipliesDirect = geometries.direct.macs
        results.courseMultipliesBottleneck = geometries.reduce.macs + geometries.wide.macs
        results.courseMultipliesRatio = Double(results.courseMultipliesDirect) / Double(results.courseMultipliesBottleneck)
        run.say("The course's example: 28x28x192 -> 5x5 \"same\" convolution with 32 filters -> 28x28x32. Each output number is a"
                + " 5x5x192 dot product, so it costs 28*28*32 * 5*5*192 multiplies; a 1x1 convolution to 16 channels first (the"
                + " \"bottleneck layer\") makes the 5x5 filters 5x5x16. Counted from the shapes (Conv2DGeometry.macs), one image:")
        run.show(ReportTable(headers: ["path", "layer", "output", "multiplies (counted)", "the course's"], rows: [
            ["direct", "5x5 conv, 32, on 28x28x192", "28x28x32", ModelSummary.grouped(geometries.direct.macs), "28*28*32*5*5*192 = 120M"],
            ["bottleneck", "1x1 conv, 16, on 28x28x192", "28x28x16", ModelSummary.grouped(geometries.reduce.macs), "28*28*16*192 = 2.4M"],
            ["", "5x5 conv, 32, on 28x28x16", "28x28x32", ModelSummary.grouped(geometries.wide.macs), "28*28*32*5*5*16 = 10.0M"],
            ["", "total", "", ModelSummary.grouped(results.courseMultipliesBottleneck), "12.4M"],
        ]))
        let timing = OneByOneProbes.timeCourseExample(googlenetInput, seed: options.seed, quick: quick)
        results.courseForwardMsDirect = timing.direct.forwardSeconds * 1e3
        results.courseForwardMsBottleneck = timing.bottleneck.forwardSeconds * 1e3
        results.courseBackwardMsDirect = timing.direct.backwardSeconds * 1e3
        results.courseBackwardMsBottleneck = timing.bottleneck.backwardSeconds * 1e3
        results.courseForwardTimeRatio = timing.direct.forwardSeconds / timing.bottleneck.forwardSeconds
        results.courseBackwardTimeRatio = timing.direct.backwardSeconds / timing.bottleneck.backwardSeconds
        results.courseForwardTimeRatioOneThread = timing.direct.forwardSecondsOneThread / timing.bottleneck.forwardSecondsOneThread
        let batch = googlenetInput.shape[0]
        run.say("Timed on the fast kernels (\(Parallelism.threadCount) threads), on a real input: the \(batch) photographs through conv1,"
                + " conv2, conv3 and the max pools of a GoogLeNet He-initialised with seed \(options.seed), which is exactly"
                + " \(googlenetInput.featureMapShape()), the input of GoogLeNet's inception 3a, whose 5x5 branch is this example."
                + " Weights He-initialised, upstream gradient seeded random numbers; medians of repeated calls.")
        var timingRows: [[String]] = []
        for path in [timing.direct, timing.bottleneck] {
            for (k, l) in path.layers.enumerated() {
                let layerMACs = l.geometry.macs
                timingRows.append([k == 0 ? path.label : "", "\(l.geometry.kernelHeight)x\(l.geometry.kernelWidth), \(l.geometry.inChannels) -> \(l.geometry.outChannels)",
                                   l.forward, ModelSummary.grouped(layerMACs), ms(path.layerForwardSeconds[k]),
                                   String(format: "%.1f", 2 * Double(layerMACs) / path.layerForwardSeconds[k] / 1e9)])
            }
        }
        run.show(ReportTable(headers: ["path", "layer", "forward kernel", "MACs (batch)", "forward alone", "GFLOP/s"], rows: timingRows))
        run.show(ReportTable(headers: ["path", "MACs (batch)", "forward", "GFLOP/s", "forward, 1 thread", "backward (dx, dW)", "GFLOP/s", "backward kernels"],
                             rows: [timing.direct, timing.bottleneck].map { p in
                                 [p.label, ModelSummary.grouped(p.macs), ms(p.forwardSeconds), String(format: "%.1f", p.forwardGFLOPs),
                                  ms(p.forwardSecondsOneThread), ms(p.backwardSeconds), String(format: "%.1f", p.backwardGFLOPs),
                                  p.layers.map(\.backward).joined(separator: " | ")]
                             }))
        run.show([("multiplies, direct / bottleneck", String(format: "%.2fx", results.courseMultipliesRatio)),
                  ("forward time, direct / bottleneck", String(format: "%.2fx", results.courseForwardTimeRatio)),
                  ("forward time on 1 thread, direct / bottleneck", String(format: "%.2fx", timing.direct.forwardSecondsOneThread / timing.bottleneck.forwardSecondsOneThread)),
                  ("backward time, direct / bottleneck", String(format: "%.2fx", results.courseBackwardTimeRatio))])
        run.say(costVerdict(timing, multipliesRatio: results.courseMultipliesRatio))

        // 4. The race.
        run.step("The kernel pair: ResNet-50's 256 -> 64 1x1 layer")
        // --quick races step 1's window only (the naive loops are slow).
        let raceInput = quick ? Tensor(shape: one.dimensions, data: x1) : layer.x
        let race = OneByOneProbes.race(layer.conv, on: raceInput, seed: options.seed + 11, quick: quick)
        run.say("\(layer.name) of the seeded ResNet-50 on its real input \(raceInput.featureMapShape())\(quick ? " (--quick: step 1's window)" : " (both photographs)"), forward and backward (dx, dW;"
                + " upstream gradient seeded random numbers), \(ModelSummary.grouped(race.geometry.macs)) MACs each way."
                + " The naive loops are the convolution's definition: with kh = kw = 1 they are one dot product over the \(s.channels)"
                + " channels per output pixel. The fully connected layer on pixel rows is step 1's equivalence, run fast: it pays"
                + " two transposes. The fast convolution reads the NCHW maps in place: W [\(o) x \(s.channels)] times x"
                + " [\(s.channels) x \(raceInput.featureMapShape().spatial)] per image is already a GEMM, with nothing to unfold (no im2col).")
        run.show(race.result.table)
        results.raceKernel = race.kernel
        results.raceNaiveMs = race.result.rows[0].totalSeconds * 1e3
        results.raceFcMs = race.result.rows[1].totalSeconds * 1e3
        results.raceFastMs = race.result.rows[2].totalSeconds * 1e3
        results.raceSpeedup = race.result.speedup(of: 2)
        results.raceMaxDifference = race.result.maxRelativeDifference
        let versusRows = race.result.rows[1].totalSeconds / race.result.rows[2].totalSeconds
        run.say(String(format: "On one thread (all three alike: on this shared machine, waking a second thread swamps calls this size),"
                       + " the fast 1x1 convolution is %.0fx faster than the per-pixel dot products and %@ than the fully connected"
                       + " layer on pixel rows, which pays the two transposes; same numbers (largest relative difference %.1e). What ran: %@.",
                       results.raceSpeedup, versusRows >= 1 ? String(format: "%.2fx faster", versusRows) : String(format: "%.2fx slower", 1 / versusRows),
                       results.raceMaxDifference, race.kernel))

        // 5. mlpconv on digits.
        run.step("Network in Network's mlpconv, small, on digits")
        let (training, validation, _, _) = try LabeledImages.smallDigits(
            directory: options.fixtures.appendingPathComponent("mnist-5k"), trainCount: trainCount,
            validationCount: quick ? 200 : 1_000, side: size, seed: options.seed)
        results.trainExamples = training.count
        let settings = TrainingSettings(epochs: epochs, batchSize: 64, schedule: .constant(options.number("lr")))
        results.paramsNinSmall = SmallNet.nin.build(size: size, seed: 0).parameterCount
        results.paramsPlainSmall = SmallNet.plain.build(size: size, seed: 0).parameterCount
        let ninShape = SmallNet.nin.build(size: size, seed: 0).summary(inputShape: [1, 1, size, size])
        let plainShape = SmallNet.plain.build(size: size, seed: 0).summary(inputShape: [1, 1, size, size])
        run.say("Fixtures/mnist-5k split with seed \(options.seed): \(ModelSummary.grouped(training.count)) training digits and"
                + " \(validation.count) held out" + (size == 28 ? "" : ", averaged down to \(size)x\(size)") + ", normalised."
                + " NiN-small: three mlpconv layers (5x5 conv, 16 + two 1x1; 5x5 conv, 32 + two 1x1; 3x3 conv, 32 + 1x1, 32 + 1x1, 10),"
                + " 2x2 max pools between, global average pooling of the ten class maps. plain-small: the same three spatial"
                + " convolutions and pools, no 1x1 layers, a fully connected layer on the flattened maps.")
        run.show(ReportTable(headers: ["net", "parameters", "MACs per digit", "fully connected parameters"], rows: [
            [SmallNet.nin.label, ModelSummary.grouped(ninShape.parameters), ModelSummary.grouped(ninShape.macs), "0"],
            [SmallNet.plain.label, ModelSummary.grouped(plainShape.parameters), ModelSummary.grouped(plainShape.macs),
             ModelSummary.grouped(plainShape.rows.filter { $0.name == "fc" }.reduce(0) { $0 + $1.parameters })],
        ]))
        run.say("Both train with the same budget: \(epochs) epoch\(epochs == 1 ? "" : "s") of SGD (lr \(options.number("lr")), momentum 0.9, batch 64), on the"
                + " paired seeds \(seeds.map(String.init).joined(separator: ", ")): each seed gives both nets the same mini-batches"
                + " and the same initialisation stream. They train on one thread: layers this small spend more time waking a"
                + " second thread than computing.")
        // One thread: layers this small spend more time waking a second thread than computing
        // (measured on a shared 2-core machine: about 5,000 digits/s on one thread, 600 on two).
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        defer { Parallelism.threadCount = threads }
        var trainSeconds = 0.0
        var arms: [Arm] = []
        var keep: Sequential?
        for kind in SmallNet.allCases {
            var arm = Arm(kind: kind)
            for seed in seeds {
                let net = kind.build(size: size, seed: seed)
                var trainer = Trainer(settings)
                trainer.label = "\(kind.label), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
                trainSeconds += history.seconds
                arm.histories.append(history)
                run.note("\(kind.label), seed \(seed): held-out accuracy \(percent(history.last?.validationAccuracy ?? 0)),"
                         + " \(String(format: "%.1f s", history.seconds))")
                if kind == .nin && seed == seeds[0] { keep = net }
            }
            arms.append(arm)
        }
        results.trainSeconds = trainSeconds
        let (ninArm, plainArm) = (arms[0], arms[1])
        results.valAccuracyNin = ninArm.accuracies
        results.valAccuracyPlain = plainArm.accuracies
        results.valAccuracyNinMean = mean(ninArm.accuracies)
        results.valAccuracyPlainMean = mean(plainArm.accuracies)
        run.show(ReportTable(headers: ["net", "parameters"] + seeds.map { "held-out acc, seed \($0)" } + ["mean", "spread (max - min)"],
                             rows: arms.map { arm in
                                 let a = arm.accuracies
                                 return [arm.kind.label, ModelSummary.grouped(arm.kind == .nin ? results.paramsNinSmall : results.paramsPlainSmall)]
                                     + a.map(percent) + [percent(mean(a)), percent((a.max() ?? 0) - (a.min() ?? 0))]
                             }))
        let differences = zip(ninArm.accuracies, plainArm.accuracies).map { $0 - $1 }
        let spread = max(spreadOf(ninArm.accuracies), spreadOf(plainArm.accuracies))
        let gap = results.valAccuracyNinMean - results.valAccuracyPlainMean
        results.differenceShown = seeds.count >= 2 && abs(gap) > spread
            && (differences.allSatisfy { $0 > 0 } || differences.allSatisfy { $0 < 0 })
        run.say(mlpconvVerdict(gap: gap, spread: spread, differences: differences, shown: results.differenceShown, seeds: seeds.count)
                + stalledNote(arms, seeds: seeds))
        if epochs >= 2 {
            func firstEpoch(_ arm: Arm) -> Double { mean(arm.histories.map { $0.epochs.first?.validationAccuracy ?? 0 }) }
            run.say("After the first epoch (mean over seeds): NiN-small \(percent(firstEpoch(ninArm))), plain-small"
                    + " \(percent(firstEpoch(plainArm))); after the last: \(percent(results.valAccuracyNinMean)) and"
                    + " \(percent(results.valAccuracyPlainMean)). The deeper stack of plain ReLU convolutions (nine, no batch norm)"
                    + " with nothing but an average at its end is slower to start than three convolutions and a fully connected layer.")
        }
        try run.writeFigure(svg: accuracyCurves(arms), name: "nin-vs-plain.svg",
                            caption: "held-out accuracy per epoch, mean over the seeds: NiN-small against plain-small")
        if let keep {
            try keep.save(to: run.directory.appendingPathComponent("nin-small.safetensors"),
                          metadata: ["lesson": name, "seed": String(seeds[0]), "input": "1x\(size)x\(size) digits, normalised"])
            run.recordFile("nin-small.safetensors", description: "the trained NiN-small of seed \(seeds[0])")
        }

        let headline = String(format: "1x1 conv = fully connected at every pixel (difference %@); bottleneck: %.1fx fewer multiplies, forward time / %.1f on one thread (/ %.1f on %d); NiN-small %@ vs plain %@",
                              sci(results.fcForwardMaxDifference), results.courseMultipliesRatio, results.courseForwardTimeRatioOneThread,
                              results.courseForwardTimeRatio, Parallelism.threadCount,
                              percent(results.valAccuracyNinMean), percent(results.valAccuracyPlainMean))
        try run.finish(headline: headline, results: results)
        return results
    }

    /// Why the ratio of times differs from the ratio of multiplies, from what was measured.
    static func costVerdict(_ t: (direct: OneByOneProbes.PathTiming, bottleneck: OneByOneProbes.PathTiming), multipliesRatio: Double) -> String {
        let forwardRatio = t.direct.forwardSeconds / t.bottleneck.forwardSeconds
        let backwardRatio = t.direct.backwardSeconds / t.bottleneck.backwardSeconds
        let oneThreadRatio = t.direct.forwardSecondsOneThread / t.bottleneck.forwardSecondsOneThread
        func faster(_ r: Double) -> String { r >= 1 ? String(format: "%.1fx faster", r) : String(format: "%.1fx slower", 1 / r) }
        let reduce = t.bottleneck.layerForwardSeconds[0], wide = t.bottleneck.layerForwardSeconds[1]
        let reduceGFLOPs = 2 * Double(t.bottleneck.layers[0].geometry.macs) / reduce / 1e9
        return "The bottleneck path does " + String(format: "%.1fx", multipliesRatio) + " fewer multiplies; measured, it runs "
            + faster(forwardRatio) + " forward (" + faster(oneThreadRatio) + " on one thread) and " + faster(backwardRatio) + " backward."
            + " Time is not proportional to multiplies because the kernels do not run at the same speed: forward, the direct 5x5 on"
            + String(format: " 192 channels ran at %.1f GFLOP/s, the 1x1 192 -> 16 at %.1f and the 5x5 16 -> 32 at %.1f; backward, %.1f"
                     + " against %.1f. ", t.direct.forwardGFLOPs, reduceGFLOPs, 2 * Double(t.bottleneck.layers[1].geometry.macs) / wide / 1e9,
                     t.direct.backwardGFLOPs, t.bottleneck.backwardGFLOPs)
            + "A big convolution reuses every load for many multiply-adds (a 5x5x192 filter against each input patch); the small"
            + " ones have little work per call (a 1x1 to 16 channels reads 192 numbers per pixel to write 16), so what each call"
            + " pays whatever its size (splitting the work over threads and waiting for them, packing the weights, one more pass"
            + " over memory for the 28x28x16 map in between) is a large part of their time, and more so backward, where each"
            + " layer makes two gradients. These are medians of repeated calls on a machine shared with other jobs: the times"
            + " move from run to run, the multiplies do not."
    }

    static func mlpconvVerdict(gap: Double, spread: Double, differences: [Double], shown: Bool, seeds: Int) -> String {
        let gapText = String(format: "%+.1f points", 100 * gap)
        if seeds < 2 {
            return "NiN-small minus plain-small, held-out accuracy: \(gapText) on one seed: no spread measured, so no claim (the default run uses 3 seeds)."
        }
        if shown {
            return "NiN-small minus plain-small, held-out accuracy: \(gapText) (mean over \(seeds) seeds), beyond the seed-to-seed"
                + " spread (\(percent(spread))) and of the same sign on every seed: with about the same number of parameters, the"
                + " mlpconv net with global average pooling " + (gap > 0 ? "generalises better" : "does worse") + " in this budget."
        }
        let lower = differences.filter { $0 < 0 }.count, higher = differences.filter { $0 > 0 }.count
        let signs = lower == seeds ? " NiN-small was lower on every seed, but by less than the seed-to-seed spread."
            : higher == seeds ? " NiN-small was higher on every seed, but by less than the seed-to-seed spread."
            : " NiN-small was higher on \(higher) seed\(higher == 1 ? "" : "s") and lower on \(lower)."
        return "NiN-small minus plain-small, held-out accuracy: \(gapText) (mean over \(seeds) seeds), against a seed-to-seed spread of"
            + " \(percent(spread)), per seed " + differences.map { String(format: "%+.1f", 100 * $0) }.joined(separator: ", ")
            + ": by the lesson's rule (a gap beyond the spread, the same sign on every seed), no difference shown." + signs
            + " What this budget does not show is NiN's advantage: on 16x16 digits with a few epochs and no dropout, the plain net"
            + " with its fully connected layer does at least as well for the same parameters; the paper's gains were measured on"
            + " CIFAR-10/100 and SVHN with dropout and much longer training."
    }

    /// Says which nets stayed near chance (1 in 10) on which seeds, if any: a net that did not
    /// start to learn in the budget, not a net that learned worse.
    static func stalledNote(_ arms: [Arm], seeds: [UInt64]) -> String {
        var notes: [String] = []
        for arm in arms {
            let stalled = zip(seeds, arm.accuracies).filter { $0.1 < 0.2 }
            if !stalled.isEmpty {
                notes.append("\(arm.kind.label) stayed near chance (10%) on seed " + stalled.map { "\($0.0) (\(percent($0.1)))" }.joined(separator: ", "))
            }
        }
        guard !notes.isEmpty else { return "" }
        return " " + notes.joined(separator: "; ") + ": it did not start to learn in this budget, which says more about training a"
            + " stack of plain ReLU convolutions without batch norm from this initialisation than about mlpconv; the other seeds"
            + " show what it learns when it starts."
    }

    static func accuracyCurves(_ arms: [Arm]) -> String {
        var chart = LineChart(title: "Held-out accuracy per epoch (mean over seeds)", xLabel: "epoch", yLabel: "held-out accuracy (%)")
        for arm in arms {
            let epochs = arm.histories.map(\.epochs.count).min() ?? 0
            let points = (0..<epochs).map { e in (Double(e + 1), 100 * mean(arm.histories.map { $0.epochs[e].validationAccuracy ?? 0 })) }
            chart.series.append(.init(name: arm.kind.label, points: points, color: arm.kind == .nin ? "#045a8d" : "#c0392b",
                                      dashed: arm.kind == .plain))
        }
        return chart.svg
    }

    /// The first photograph's 256-channel map (16 channels) and the 1x1 layer's 64 (16), as grey tiles.
    static func drawFeatureMaps(_ run: LessonRun, x: Tensor, y: Tensor) throws {
        var grid = ImageGrid(columns: 8, scale: x.shape[2] < 40 ? 3 : 2, gap: 3)
        let s = x.featureMapShape(), t = y.featureMapShape()
        for c in 0..<16 { grid.append(width: s.width, height: s.height, values: Array(x.data[(c * s.spatial)..<((c + 1) * s.spatial)])) }
        for c in 0..<16 { grid.append(width: t.width, height: t.height, values: Array(y.data[(c * t.spatial)..<((c + 1) * t.spatial)])) }
        try run.writeFigure(png: grid.image, name: "feature-maps.png",
                            caption: "top two rows: 16 of the 256 input channels of layer1.1.conv1 (the cat); bottom two rows: 16 of its 64 outputs, each a weighted sum of the 256 channels at the same pixel")
    }
}

