import ConvNetCore
import Foundation

// `lesson run resnext`: aggregated transformations, cardinality and the grouped convolution.
//
//   1. the networks: ResNeXt-50 (32x4d) beside ResNet-50, parameters and MACs counted from
//      shapes beside Fixtures/torchvision-counts.json, the paper's top-1 errors printed as
//      the paper's; one block of each (70,144 vs 69,632 weights); ResNeXt-29 beside the
//      paper's CIFAR counts;
//   2. the real activations: three photographs through ResNeXt-50's stem and its first
//      block (He-initialised), the input of block layer1.1;
//   3. three forms of one block (Figure 3): C paths summed, early concatenation, one
//      grouped convolution, built from the same weights: outputs and gradients compared,
//      each form timed forward and backward;
//   4. the race: the block's 32-group 3x3 convolution as the naive loops, as the core's
//      fast grouped kernel, and as 32 separate small convolutions;
//   5. the data: Fixtures/mnist-5k at 16x16, as the ResNet lesson;
//   6. ResNeXt against ResNet: a small ResNeXt and the bottleneck ResNet of the same
//      template with the nearest parameter count, same budget, paired seeds.

/// The ResNeXt lesson, as `lesson list` and `lesson run resnext` see it.
public enum ResNeXtLesson: Lesson {
    public static let name = "resnext"
    public static let folder = "ResNeXt"
    public static let summary = "ResNeXt (2017): cardinality, the three equivalent forms of the block, the grouped convolution"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds of the ResNeXt-vs-ResNet comparison (--quick: 1)"),
        LessonOption("cardinality", .integer(1...64), default: "8", help: "C of the small ResNeXt trained on digits"),
        LessonOption("width", .integer(1...64), default: "4", help: "bottleneck width d of the small ResNeXt (channels per path, first stage)"),
        LessonOption("depth", .integer(11...38), default: "11", help: "depth 9n+2 of the small nets"),
        LessonOption("train", .integer(100...4_000), default: "2000", help: "training digits (--quick: 300)"),
        LessonOption("lr", .number(1e-4...1), default: "0.1", help: "learning rate of SGD with momentum 0.9"),
        LessonOption("batch", .integer(1...8), default: "3", help: "images in the race (the 3 photographs, repeated beyond 3; --quick: 1)"),
    ]

    public static let notes = """
    Defaults: 3 epochs (--epochs; the last at lr/10), batch 64, weight decay 5e-4, on 16x16 digits (--quick: 1 epoch, 300 digits).
    The small nets: stem 16, stage widths 64/128/256, the ResNet's bottleneck width chosen for the nearest parameter count.
    Writes under --out: index.html, training.svg, resnext-<C>x<d>d.safetensors (the ResNeXt of the first seed).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("resnext50_parameters", "ResNeXt-50 32x4d, counted from its shapes"),
        ResultKey("resnet50_parameters", "ResNet-50"),
        ResultKey("resnext50_macs", "multiply-accumulates at 224x224, batch 1"),
        ResultKey("resnet50_macs", "ResNet-50's"),
        ResultKey("counts_match", "all four equal Fixtures/torchvision-counts.json"),
        ResultKey("block_weights_resnet", "conv weights of ResNet-50's block layer1.1 (1x1, 3x3, 1x1; 64 wide)"),
        ResultKey("block_weights_resnext", "conv weights of ResNeXt-50's block layer1.1 (32 paths of 4)"),
        ResultKey("resnext29_parameters", "ResNeXt-29 8x64d (CIFAR), counted"),
        ResultKey("race_batch", "images in the race (the forms run on the first photograph)"),
        ResultKey("forms_max_difference", "largest relative difference of any output or gradient of forms (b) and (c) from form (a)"),
        ResultKey("forms_ms_a", "form (a), 32 paths summed: forward + backward, ms"),
        ResultKey("forms_ms_b", "form (b), early concatenation"),
        ResultKey("forms_ms_c", "form (c), the grouped convolution"),
        ResultKey("race_naive_ms", "the 32-group 3x3 of layer1.1, naive loops, forward + backward, ms"),
        ResultKey("race_fast_ms", "the core's fast kernel (the router's choice)"),
        ResultKey("race_separate_ms", "32 separate convolutions of 4 channels (fast kernels), plus slicing and concatenation"),
        ResultKey("race_speedup", "naive time / fast time"),
        ResultKey("race_separate_over_fast", "separate convolutions' time / the grouped kernel's"),
        ResultKey("race_max_difference", "largest relative difference of the fast entrants from the naive loops"),
        ResultKey("race_kernel", "the kernel the router ran for the grouped convolution"),
        ResultKey("resnext_setting", "the small ResNeXt trained on digits (CxDd)"),
        ResultKey("resnet_setting", "the ResNet of the same template and nearest parameters (1xDd)"),
        ResultKey("resnext_parameters", "parameters of the small ResNeXt"),
        ResultKey("resnet_parameters", "parameters of the small ResNet"),
        ResultKey("val_error_resnext", "held-out error of the last epoch, mean over seeds"),
        ResultKey("val_error_resnet", "held-out error, mean over seeds"),
        ResultKey("val_errors_resnext", "held-out error of each seed"),
        ResultKey("val_errors_resnet", "held-out error of each seed"),
        ResultKey("train_error_resnext", "training error of the last epoch (measured while training), mean over seeds"),
        ResultKey("train_error_resnet", "training error, mean over seeds"),
        ResultKey("seconds_resnext", "training time of the ResNeXt, all seeds"),
        ResultKey("seconds_resnet", "training time of the ResNet, all seeds"),
        ResultKey("difference_shown", "the held-out errors differ by more than the seed-to-seed spread, in the same direction on every seed"),
        ResultKey("epochs", "epochs per net"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_examples", "training digits"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    /// The `--json` object.
    public struct Results: Encodable {
        var resnext50Parameters = 0, resnet50Parameters = 0, resnext50Macs = 0, resnet50Macs = 0
        var countsMatch = false
        var blockWeightsResnet = 0, blockWeightsResnext = 0, resnext29Parameters = 0
        var raceBatch = 0, formsMaxDifference = 0.0, formsMsA = 0.0, formsMsB = 0.0, formsMsC = 0.0
        var raceNaiveMs = 0.0, raceFastMs = 0.0, raceSeparateMs = 0.0, raceSpeedup = 0.0, raceSeparateOverFast = 0.0
        var raceMaxDifference = 0.0, raceKernel = ""
        var resnextSetting = "", resnetSetting = "", resnextParameters = 0, resnetParameters = 0
        var valErrorResnext = 0.0, valErrorResnet = 0.0, valErrorsResnext: [Double] = [], valErrorsResnet: [Double] = []
        var trainErrorResnext = 0.0, trainErrorResnet = 0.0, secondsResnext = 0.0, secondsResnet = 0.0
        var differenceShown = false
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case resnext50Parameters = "resnext50_parameters", resnet50Parameters = "resnet50_parameters"
            case resnext50Macs = "resnext50_macs", resnet50Macs = "resnet50_macs", countsMatch = "counts_match"
            case blockWeightsResnet = "block_weights_resnet", blockWeightsResnext = "block_weights_resnext"
            case resnext29Parameters = "resnext29_parameters"
            case raceBatch = "race_batch", formsMaxDifference = "forms_max_difference"
            case formsMsA = "forms_ms_a", formsMsB = "forms_ms_b", formsMsC = "forms_ms_c"
            case raceNaiveMs = "race_naive_ms", raceFastMs = "race_fast_ms", raceSeparateMs = "race_separate_ms"
            case raceSpeedup = "race_speedup", raceSeparateOverFast = "race_separate_over_fast"
            case raceMaxDifference = "race_max_difference", raceKernel = "race_kernel"
            case resnextSetting = "resnext_setting", resnetSetting = "resnet_setting"
            case resnextParameters = "resnext_parameters", resnetParameters = "resnet_parameters"
            case valErrorResnext = "val_error_resnext", valErrorResnet = "val_error_resnet"
            case valErrorsResnext = "val_errors_resnext", valErrorsResnet = "val_errors_resnet"
            case trainErrorResnext = "train_error_resnext", trainErrorResnet = "train_error_resnet"
            case secondsResnext = "seconds_resnext", secondsResnet = "seconds_resnet"
            case differenceShown = "difference_shown"
            case epochs, seeds, trainExamples = "train_examples", quick, outputDirectory = "output_directory"
        }
    }

    /// One net trained on every seed.
    struct Arm {
        var label: String
        var parameters: Int
        var histories: [TrainingHistory] = []
        var validationErrors: [Double] { histories.map { 1 - ($0.last?.validationAccuracy ?? 0) } }
        var trainErrors: [Double] { histories.map { 1 - ($0.last?.trainAccuracy ?? 0) } }
        var seconds: Double { histories.reduce(0) { $0 + $1.seconds } }
    }

    /// The small nets' template (stem and stage widths).
    static let stem = 16, widths = [64, 128, 256]

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let depth = options.integer("depth")
        guard (depth - 2) % 9 == 0 else { throw LessonError("--depth must be 9n+2 (11, 20, 29, 38), got \(depth)") }
        let cardinality = options.integer("cardinality"), width = options.integer("width")
        guard cardinality > 1 else { throw LessonError("--cardinality must be at least 2 (1 is the ResNet it is compared with)") }
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 3)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 300
        let batch = options.isGiven("batch") || !quick ? options.integer("batch") : 1
        let run = try LessonRun(lesson: name, title: "ResNeXt: cardinality and the grouped convolution", options: options, console: console)
        var results = Results()
        results.epochs = epochs
        results.seeds = seeds.map { Int($0) }
        results.quick = quick
        results.trainExamples = trainCount
        results.raceBatch = batch
        results.outputDirectory = run.directory.path

        // 1. The networks.
        run.step("The networks: ResNeXt-50 (32x4d) beside ResNet-50")
        run.say("A ResNeXt block aggregates C transformations of the same topology: F(x) = sum_{i=1..C} T_i(x), y = relu(x + F(x)),"
                + " each T_i a 1x1 convolution to d channels, a 3x3 on those d channels and a 1x1 back. C is the cardinality,"
                + " d the bottleneck width. ResNeXt-50 (32x4d) is ResNet-50 with every bottleneck's 3x3 convolution split into"
                + " 32 groups of 4 channels, twice as wide (128 channels in the first stage instead of 64) for about the same cost.")
        let published = PublishedCounts.all(fixtures: options.fixtures)
        let resnext50 = ResNet.resnext50_32x4d(), resnet50 = ResNet.resnet50()
        let sx = resnext50.summary(inputShape: [1, 3, 224, 224]), sr = resnet50.summary(inputShape: [1, 3, 224, 224])
        (results.resnext50Parameters, results.resnext50Macs) = (sx.parameters, sx.macs)
        (results.resnet50Parameters, results.resnet50Macs) = (sr.parameters, sr.macs)
        func check(_ key: String, _ s: ModelSummary) -> Bool { published[key].map { $0.parameters == s.parameters && $0.macs == s.macs } ?? false }
        results.countsMatch = check("resnext50_32x4d", sx) && check("resnet50", sr)
        let paperComplexity = ResNeXtPaper.complexity
        run.show(ReportTable(headers: ["network", "parameters", "MACs (224x224)", "torchvision-counts.json", "the paper's (params, FLOPs)",
                                       "the paper's top-1 error"], rows: [
            ["ResNet-50 (1x64d)", ModelSummary.grouped(sr.parameters), ModelSummary.grouped(sr.macs),
             check("resnet50", sr) ? "match" : "MISMATCH", "\(paperComplexity[0].parameters), \(paperComplexity[0].flops)", "23.9%"],
            ["ResNeXt-50 (32x4d)", ModelSummary.grouped(sx.parameters), ModelSummary.grouped(sx.macs),
             check("resnext50_32x4d", sx) ? "match" : "MISMATCH", "\(paperComplexity[1].parameters), \(paperComplexity[1].flops)", "22.2%"],
        ]))
        let blockX = try block("layer1.1", of: resnext50), blockR = try block("layer1.1", of: resnet50)
        results.blockWeightsResnext = ResNeXtNets.blockWeights(blockX)
        results.blockWeightsResnet = ResNeXtNets.blockWeights(blockR)
        run.say("One block (layer1.1, 256 channels in and out): ResNet-50's is 256 -> 64 -> 64 -> 256,"
                + " \(ModelSummary.grouped(results.blockWeightsResnet)) convolution weights (256*64 + 9*64*64 + 64*256);"
                + " ResNeXt-50's is 256 -> 128 -> 128 (32 groups) -> 256, \(ModelSummary.grouped(results.blockWeightsResnext))"
                + " (C*(256*d + 9*d*d + d*256) with C = 32, d = 4): the grouped 3x3 has 128*4*9 weights, not 128*128*9, so the"
                + " block can be twice as wide for the same weights. The whole net: \(ModelSummary.grouped(sx.parameters)) against"
                + " \(ModelSummary.grouped(sr.parameters)) parameters, \(String(format: "%.2f", Double(sx.macs) / 1e9)) against"
                + " \(String(format: "%.2f", Double(sr.macs) / 1e9)) GMACs.")
        run.say("The paper's ImageNet-1K top-1 errors (Xie et al. 2017, Table 3, 224x224 single crop; not measured here: that needs"
                + " ImageNet and its training):")
        run.show(ReportTable(headers: ["the paper's net", "cardinality x width", "top-1 error (the paper's)"],
                             rows: ResNeXtPaper.table3.map { [$0.model, $0.setting, String(format: "%.1f%%", $0.top1)] }))
        var cifarRows: [[String]] = []
        for entry in ResNeXtPaper.table7 {
            let count = CifarResNeXt(depth: 29, cardinality: entry.cardinality, bottleneckWidth: entry.width).parameterCount
            if entry.cardinality == 8 { results.resnext29Parameters = count }
            cifarRows.append([entry.model, ModelSummary.grouped(count), entry.parameters, String(format: "%.2f%%", entry.testError)])
        }
        run.show(ReportTable(headers: ["CIFAR template (CifarResNeXt)", "parameters, counted",
                                       "the paper's (Table 7)", "the paper's CIFAR-10 test error"], rows: cifarRows))

        // 2. Real activations.
        run.step("Real activations: three photographs through ResNeXt-50's first block")
        let stemAndFirst = try stemAndFirstBlock(of: resnext50)
        stemAndFirst.initialize(seed: options.seed)
        blockX.initialize(seed: options.seed &+ 1)
        let side = quick ? 112 : 224                                  // --quick: maps of 28x28 instead of 56x56
        let photos = try photographs(options.fixtures, count: batch, side: side)
        stemAndFirst.train()
        let x = stemAndFirst(photos.images)
        run.say("\(photos.names.joined(separator: ", ")): each photograph's centre square resampled to \(side)x\(side) (area averaging"
                + (quick ? "; 224x224 without --quick" : "") + "),"
                + " normalised with ImageNet's channel means and deviations, through conv1, bn1, relu, maxpool and block layer1.0"
                + " of a He-initialised ResNeXt-50 (seed \(options.seed)): activations \(shapeText(x.shape)), the input"
                + " of block layer1.1. (Initialised, not trained: there are no ImageNet weights here; the activations are those"
                + " of real images through the real layers.)")

        // 3. Three forms of one block.
        run.step("Three forms of one block (Figure 3)")
        let forms = ResNeXtForms(blockX)
        let x1 = Tensor(shape: [1] + x.shape.dropFirst(), data: Array(x.data[0..<(x.count / batch)]))     // the first photograph
        var g = SeededGenerator(seed: options.seed &+ 2)
        let dy = Tensor.randomNormal(x1.shape, using: &g)
        let (mapH, mapW) = (x.shape[2], x.shape[3])
        let groupedGeometry = blockX.conv2.geometry(for: [1, 128, mapH, mapW])
        let pathGeometry = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 4, height: mapH, width: mapW), outChannels: 4,
                                          kernel: 3, padding: 1)
        let pathKernel = Fast.conv2dMethod(for: pathGeometry).title
        let timing = KernelRace.run(BlockForm.allCases.map { form in
            let layer = forms.layer(form)
            return RaceEntrant(name: form.title,
                               kernel: form == .grouped ? "3 convolutions; the 3x3: " + Fast.conv2dMethod(for: groupedGeometry).title
                                   : "\(form == .summedPaths ? 3 * 32 : 2 * 32 + 1) convolutions; each 3x3: " + pathKernel,
                               isSlow: form != .grouped,
                               forward: { layer.zeroGradients(); return [layer(x1).data] },
                               backward: { [layer.backward(dy).data] + forms.gradients(form).map(\.values) })
        }, quick: quick)
        let reference = forms.run(.summedPaths, x1, dy)
        var differences = reference.map { [$0.name] }                 // one row per output or gradient, one column per form
        for form in [BlockForm.concatenated, .grouped] {
            let other = forms.run(form, x1, dy)
            for (i, (a, b)) in zip(reference, other).enumerated() {
                let error = relativeError(b.values, a.values)
                results.formsMaxDifference = max(results.formsMaxDifference, error)
                differences[i].append(sci(error))
            }
        }
        run.say("Forms (a) and (b) are built from the weights of form (c), ResNeXt-50's block layer1.1 (the core's Bottleneck with"
                + " groups 32): path i's first 1x1 is rows 4i..4i+3 of conv1, its 3x3 is group i of conv2, its batch norms are"
                + " channels 4i..4i+3 of bn1 and bn2, and in form (a) its last 1x1 is columns 4i..4i+3 of conv3. Each form runs"
                + " forward on the activations of the first photograph (\(shapeText(x1.shape))) and backward with the same random upstream"
                + " gradient, in training mode.")
        run.show(ReportTable(headers: ["output or gradient", "(b) against (a)", "(c) against (a)"], rows: differences))
        run.say("The three forms compute the same function: every output, input gradient and parameter gradient agrees to rounding"
                + " (largest relative difference \(sci(results.formsMaxDifference)); float sums in a different order)."
                + " What differs is the time:")
        run.show(timing.table)
        results.formsMsA = timing.rows[0].totalSeconds * 1e3
        results.formsMsB = timing.rows[1].totalSeconds * 1e3
        results.formsMsC = timing.rows[2].totalSeconds * 1e3
        run.say(String(format: "Form (c) took %.2fx the time of form (a) and %.2fx that of form (b). (c) makes one kernel call per layer"
                       + " where (a) makes 32 (and adds up 32 partial sums of %@ floats each) and (b) 32 for each of its first two"
                       + " layers. ", results.formsMsC / results.formsMsA, results.formsMsC / results.formsMsB, ModelSummary.grouped(x1.count))
                + (results.formsMsC < results.formsMsB && results.formsMsC < results.formsMsA
                   ? "The grouped form is the fastest here, as the paper says of it (\"more succinct and faster\"), which is why ResNeXt is implemented as form (c)."
                   : "In this run the grouped form was NOT the fastest of the three; the paper found it \"more succinct and faster\"."))

        // 4. The race.
        run.step("The race: the 32-group 3x3 convolution")
        let h = blockX.bn1.forward(blockX.conv1(x), residual: nil, relu: true)
        let race = raceGroupedConvolution(blockX.conv2, input: h, quick: quick, seed: options.seed)
        run.say("ResNeXt-50's layer1.1.conv2: 128 -> 128 channels, 3x3, 32 groups of 4 (\(mapH)x\(mapW) maps\(quick ? " with --quick; 56x56 without" : "")), on the real activations of the block"
                + " (\(shapeText(h.shape))) and a random upstream gradient; forward, then the input and weight gradients.")
        run.show(race.table)
        results.raceNaiveMs = race.rows[0].totalSeconds * 1e3
        results.raceFastMs = race.rows[1].totalSeconds * 1e3
        results.raceSeparateMs = race.rows[2].totalSeconds * 1e3
        results.raceSpeedup = race.speedup
        results.raceSeparateOverFast = race.rows[2].totalSeconds / race.rows[1].totalSeconds
        results.raceMaxDifference = race.maxRelativeDifference
        results.raceKernel = Fast.conv2dMethod(for: groupedGeometry).title
        let separateVerdict: String
        if results.raceSeparateOverFast > 1.2 {
            separateVerdict = String(format: "the same layer done as 32 separate 4-channel convolutions (each group copied out of the input,"
                                     + " convolved by the router's kernel for a 4-channel layer, and copied back into its slice) took %.1fx"
                                     + " the grouped kernel's time: one small convolution per group pays each call's set-up and copies"
                                     + " 32 times, where the grouped kernel runs every group in one pass.", results.raceSeparateOverFast)
        } else if results.raceSeparateOverFast < 1 / 1.2 {
            separateVerdict = String(format: "the same layer done as 32 separate 4-channel convolutions was FASTER in this run (%.2fx the"
                                     + " grouped kernel's time): at this size each group's maps are large enough for the dense kernel"
                                     + " the router picks for a 4-channel layer to run well, copies included.", results.raceSeparateOverFast)
        } else {
            separateVerdict = String(format: "the same layer done as 32 separate 4-channel convolutions took about as long (%.2fx the grouped"
                                     + " kernel's time): at this size each group's maps are large enough for 32 separate calls to cost"
                                     + " little more than one grouped pass.", results.raceSeparateOverFast)
        }
        let (grouped, separate) = (race.rows[1], race.rows[2])
        run.say(String(format: "The fast grouped kernel ran %.0fx as fast as the naive loops; ", results.raceSpeedup) + separateVerdict
                + String(format: " (Forward %.2f ms grouped against %.2f ms separate, backward %.2f against %.2f.)",
                         grouped.forwardSeconds * 1e3, separate.forwardSeconds * 1e3,
                         (grouped.backwardSeconds ?? 0) * 1e3, (separate.backwardSeconds ?? 0) * 1e3)
                + " Same numbers: largest relative difference " + sci(results.raceMaxDifference) + " from the naive loops.")

        // 5. The data.
        run.step("The data")
        let (training, validation, _, _) = try LabeledImages.smallDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"),
                                                                         trainCount: trainCount, validationCount: quick ? 200 : 1_000,
                                                                         side: 16, seed: options.seed)
        run.say("Fixtures/mnist-5k split with seed \(options.seed): \(ModelSummary.grouped(training.count)) training digits and"
                + " \(ModelSummary.grouped(validation.count)) held out, 28x28 averaged down to 16x16 and normalised, as in the ResNet lesson.")

        // 6. ResNeXt against ResNet.
        run.step("ResNeXt against ResNet of the same size")
        let resnetWidth = ResNeXtNets.matchingResNetWidth(depth: depth, cardinality: cardinality, width: width, stem: stem, widths: widths)
        results.resnextSetting = "\(cardinality)x\(width)d"
        results.resnetSetting = "1x\(resnetWidth)d"
        // The last epoch at a tenth of the rate (He et al.'s divide-by-10), so the held-out error is not that of a net still
        // jumping about at lr 0.1.
        let lr = options.number("lr")
        var settings = TrainingSettings(epochs: epochs, batchSize: 64,
                                        schedule: epochs > 1 ? .step(initial: lr, milestones: [epochs - 1], factor: 0.1) : .constant(lr))
        settings.weightDecay = 5e-4
        func train(cardinality c: Int, width d: Int) throws -> Arm {
            let label = c == 1 ? "ResNet-\(depth) 1x\(d)d" : "ResNeXt-\(depth) \(c)x\(d)d"
            var arm = Arm(label: label, parameters: 0)
            for seed in seeds {
                let net = ResNeXtNets.digits(depth: depth, cardinality: c, width: d, stem: stem, widths: widths, seed: seed)
                arm.parameters = net.parameterCount
                var trainer = Trainer(settings)
                trainer.label = "\(label), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
                arm.histories.append(history)
                run.note("\(label), seed \(seed): training error \(percent(1 - history.last!.trainAccuracy)), held-out error"
                         + " \(percent(1 - (history.last!.validationAccuracy ?? 0))), \(String(format: "%.1f s", history.seconds))")
                if seed == seeds[0] && c > 1 {
                    try net.save(to: run.directory.appendingPathComponent("resnext-\(c)x\(d)d.safetensors"),
                                 metadata: ["lesson": "resnext", "seed": String(seed), "input": "1x16x16 digits, normalised"])
                    run.recordFile("resnext-\(c)x\(d)d.safetensors", description: "the trained \(label) of seed \(seed)")
                }
            }
            return arm
        }
        run.say("The CIFAR template of the paper (CifarResNeXt: conv 3x3 \(stem), three stages of \((depth - 2) / 9) bottleneck block(s)"
                + " with outputs \(widths.map(String.init).joined(separator: "/")), stride 2 at stages 2 and 3) at two settings of equal"
                + " size, as the paper compares ResNet-50 1x64d with ResNeXt-50 32x4d: cardinality \(cardinality) with d = \(width), and"
                + " cardinality 1 (a bottleneck ResNet) with the bottleneck width d = \(resnetWidth) whose parameter count is nearest."
                + " Same budget: \(epochs) epoch\(epochs == 1 ? "" : "s") of SGD (lr \(lr)\(epochs > 1 ? ", divided by 10 for the last epoch" : ""), momentum 0.9, weight decay 5e-4, batch 64),"
                + " same seeds \(seeds.map(String.init).joined(separator: ", ")) (each seed: the same mini-batches for both nets).")
        let resnext = try train(cardinality: cardinality, width: width)
        let resnet = try train(cardinality: 1, width: resnetWidth)
        (results.resnextParameters, results.resnetParameters) = (resnext.parameters, resnet.parameters)
        results.valErrorsResnext = resnext.validationErrors
        results.valErrorsResnet = resnet.validationErrors
        results.valErrorResnext = mean(resnext.validationErrors)
        results.valErrorResnet = mean(resnet.validationErrors)
        results.trainErrorResnext = mean(resnext.trainErrors)
        results.trainErrorResnet = mean(resnet.trainErrors)
        results.secondsResnext = resnext.seconds
        results.secondsResnet = resnet.seconds
        run.show(armTable([resnext, resnet], seeds: seeds))
        let verdict = compare(resnext, resnet)
        results.differenceShown = verdict.shown
        run.say(verdict.text)
        run.say("The paper's claim is about ImageNet (22.2% against 23.9% top-1 at equal complexity, Table 3) and CIFAR-10 (Table 7,"
                + " 300 epochs). Digits at 16x16 with a few epochs are far easier: both nets may well reach the same error, and what"
                + " this run can show is only whether a difference appears at this budget, on these seeds.")
        try run.writeFigure(svg: ResNeXtPictures.heldOutCurves([resnext, resnet]), name: "training.svg",
                            caption: "held-out error per epoch of each net, mean over the seeds")

        let headline = String(format: "three forms agree (%@); grouped kernel %.0fx naive, %.1fx the 32 separate convolutions;"
                              + " held-out error %@ (ResNeXt %@) vs %@ (ResNet %@)", sci(results.formsMaxDifference),
                              results.raceSpeedup, results.raceSeparateOverFast, percent(results.valErrorResnext),
                              results.resnextSetting, percent(results.valErrorResnet), results.resnetSetting)
        try run.finish(headline: headline, results: results)
        return results
    }
}
