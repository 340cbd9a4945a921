import ConvNetCore
import Foundation

// `lesson run vgg`: only 3x3 convolutions and 2x2 pools, counted, measured and raced.
//
//   1. the networks, as the paper's Table 1: VGG-11, 13, 16 and 19 (A, B, D, E) counted
//      beside Fixtures/torchvision-counts.json and the paper's Table 2; VGG-16's layer table
//      with the memory each layer's output takes per image, and VGG-16's activation memory
//      beside AlexNet's, GoogLeNet's and the ResNets';
//   2. receptive fields: one, two, three (and more) stacked 3x3 convolutions see 3x3, 5x5,
//      7x7 of the input, computed from the architecture and measured by back-propagating
//      from one output pixel (ReceptiveField in VGGModel.swift), with the weights each
//      stack needs against one large convolution; VGG-16's receptive field layer by layer;
//   3. a small VGG-style net of 3x3 stacks against the same net with single 5x5
//      convolutions (the same receptive field), trained on MNIST-5k on paired seeds:
//      parameters, MACs, time and held-out accuracy of each;
//   4. the race: VGG-16's conv5_2 (512 -> 512 channels, 14 x 14) on what conv1_1 ... conv5_1
//      made of a photograph: the naive seven loops against the core's fast kernels (what
//      Fast.conv2d runs, the same with its weights packed once, the blocked direct kernel
//      and Winograd's F(2x2, 3x3) where the CPU has AVX-512), each named, with its GFLOP/s;
//   5. the paper's numbers, labelled as the paper's; the weights and index.html.

/// The VGG lesson, as `lesson list` and `lesson run vgg` see it.
public enum VGGLesson: Lesson {
    public static let name = "vgg"
    public static let folder = "VGG"
    public static let summary = "VGG (2015): only 3x3 convs and 2x2 pools; 138,357,544 parameters; 3x3 stacks vs 5x5 on MNIST-5k; receptive fields measured"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3",
                     help: "paired seeds of the 3x3-vs-5x5 comparison (--seed, --seed + 1, ...)"),
        LessonOption("batch", .integer(1...1_024), default: "32", help: "mini-batch size of the comparison"),
        LessonOption("lr", .number(1e-6...10), default: "0.02",
                     help: "learning rate of SGD with momentum 0.9 (both nets), /10 for the last epoch"),
        LessonOption("race-channels", .integer(1...512), default: "512",
                     help: "output channels of conv5_2 in the race (fewer: a faster naive run)"),
    ]

    public static let notes = """
    Defaults: 3 paired seeds x (3x3 stacks, 5x5) x 2 epochs on 3,000 digits, 1,000 held out
    (--quick: 2 seeds x 1 epoch on 1,000 digits, 200 held out, and the race on 64 of conv5_2's
    512 output channels); --epochs N changes the epochs.
    Writes under --out: index.html, receptive-fields.png, training-curves.svg, digitvgg-3x3.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("parameters_vgg16", "parameters of VGG-16 (configuration D)"),
        ResultKey("macs_vgg16", "multiply-accumulates of one 224x224 image through VGG-16"),
        ResultKey("parameters", "parameters of VGG-11, 13, 16, 19 (A, B, D, E), by name"),
        ResultKey("counts_match_published", "every count equals Fixtures/torchvision-counts.json"),
        ResultKey("activation_bytes_vgg16", "bytes of all VGG-16 layer outputs for one image (float32)"),
        ResultKey("receptive_fields_measured", "side of the input window seen by one output pixel after 1, 2, 3, 4, 5 stacked 3x3 convolutions, measured by back-propagation"),
        ResultKey("receptive_fields_computed", "the same, computed from the architecture"),
        ResultKey("receptive_field_vgg16", "receptive field of one pool5 output of VGG-16, computed"),
        ResultKey("small_parameters", "parameters of the small nets, by name (3x3 stacks, 5x5)"),
        ResultKey("small_macs", "multiply-accumulates per digit of the small nets, by name"),
        ResultKey("seeds", "the paired seeds of the comparison"),
        ResultKey("accuracy_3x3", "per seed: held-out accuracy of the 3x3-stack net after the last epoch"),
        ResultKey("accuracy_5x5", "per seed: held-out accuracy of the 5x5 net"),
        ResultKey("mean_accuracy_3x3", "mean over the seeds"),
        ResultKey("mean_accuracy_5x5", "mean over the seeds"),
        ResultKey("seconds_3x3", "per seed: training time of the 3x3-stack net"),
        ResultKey("seconds_5x5", "per seed: training time of the 5x5 net"),
        ResultKey("epochs", "epochs of each training run"),
        ResultKey("train_examples", "training digits"),
        ResultKey("val_examples", "held-out digits"),
        ResultKey("race_layer", "the race's layer: conv5_2 with its input and output shapes"),
        ResultKey("race_out_channels", "output channels of conv5_2 raced (512: the whole layer)"),
        ResultKey("race", "each entrant: name, kernel, forward_ms, max_relative_difference (from the naive loops)"),
        ResultKey("race_naive_ms", "the naive seven loops, one forward call"),
        ResultKey("race_fast_ms", "the fastest fast kernel, one forward call"),
        ResultKey("race_speedup", "naive time / fastest fast time"),
        ResultKey("race_max_difference", "largest relative difference of any fast kernel from the naive loops"),
        ResultKey("seed", "the seed"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    /// What a run measured (the `--json` object).
    public struct Results: Encodable {
        var parametersVGG16: Int, macsVGG16: Int, parameters: [String: Int], countsMatchPublished: Bool, activationBytesVGG16: Int
        var receptiveFieldsMeasured: [Int], receptiveFieldsComputed: [Int], receptiveFieldVGG16: Int
        var smallParameters: [String: Int], smallMacs: [String: Int]
        var seeds: [Int], accuracy3x3: [Double], accuracy5x5: [Double], meanAccuracy3x3: Double, meanAccuracy5x5: Double
        var seconds3x3: [Double], seconds5x5: [Double], epochs: Int, trainExamples: Int, valExamples: Int
        var raceLayer: String, raceOutChannels: Int, race: [RaceResult.Row], raceNaiveMs: Double, raceFastMs: Double
        var raceSpeedup: Double, raceMaxDifference: Double
        var seed: Int, quick: Bool, outputDirectory: String

        enum CodingKeys: String, CodingKey {
            case parametersVGG16 = "parameters_vgg16", macsVGG16 = "macs_vgg16", parameters
            case countsMatchPublished = "counts_match_published", activationBytesVGG16 = "activation_bytes_vgg16"
            case receptiveFieldsMeasured = "receptive_fields_measured", receptiveFieldsComputed = "receptive_fields_computed"
            case receptiveFieldVGG16 = "receptive_field_vgg16", smallParameters = "small_parameters", smallMacs = "small_macs"
            case seeds, accuracy3x3 = "accuracy_3x3", accuracy5x5 = "accuracy_5x5"
            case meanAccuracy3x3 = "mean_accuracy_3x3", meanAccuracy5x5 = "mean_accuracy_5x5"
            case seconds3x3 = "seconds_3x3", seconds5x5 = "seconds_5x5", epochs
            case trainExamples = "train_examples", valExamples = "val_examples"
            case raceLayer = "race_layer", raceOutChannels = "race_out_channels", race, raceNaiveMs = "race_naive_ms"
            case raceFastMs = "race_fast_ms", raceSpeedup = "race_speedup", raceMaxDifference = "race_max_difference"
            case seed, quick, outputDirectory = "output_directory"
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let run = try LessonRun(lesson: name, title: "VGG: only 3x3 convolutions", options: options, console: console)

        // 1. The networks, as the paper's Table 1.
        run.step("The networks, as the paper's Table 1")
        let counts = countConfigurations(run, fixtures: options.fixtures)

        // 2. Receptive fields.
        run.step("Receptive fields: stacked 3x3 convolutions see as far as one large one")
        let fields = try receptiveFields(run)

        // 3. 3x3 stacks against 5x5 on real digits.
        run.step("3x3 stacks against 5x5 convolutions on MNIST-5k")
        let comparison = try compareNets(run, options: options)

        // 4. The race on VGG-16's conv5_2.
        run.step("The race on VGG-16's conv5_2 (512 channels, 14 x 14)")
        let race = try raceConv5_2(run, options: options)

        // 5. The paper's numbers.
        run.step("What the paper reports, and what this run can show")
        run.show(ReportTable(caption: "Simonyan and Zisserman (2015), Table 3: ImageNet validation error, one test scale (the paper's numbers, not ours)",
                             headers: ["configuration", "top-1 error", "top-5 error"],
                             rows: VGGPaper.singleScaleErrors.map { [$0.configuration, String(format: "%.1f%%", 100 * $0.top1), String(format: "%.1f%%", 100 * $0.top5)] }))
        run.say(String(format: "The paper: deeper is better up to 16-19 layers; LRN (A-LRN) does not improve on A, which is why VGG has"
                       + " none; B with each pair of 3x3 layers replaced by one 5x5 had a top-1 error %.0f%% higher; the ILSVRC-2014"
                       + " entry, an ensemble of 7 nets, had %.1f%% top-5 test error (%.1f%% later with 2). Those need ImageNet:"
                       + " this run shows the counts, the receptive fields and the kernels exactly, and the 3x3-vs-5x5 comparison only"
                       + " on digits, where both nets are near the ceiling.",
                       100 * VGGPaper.shallowFiveByFiveTop1Increase, 100 * VGGPaper.ensembleTop5, 100 * VGGPaper.twoNetTop5))

        let fastest = race.result.rows.dropFirst().min { $0.forwardSeconds < $1.forwardSeconds }!
        let results = Results(
            parametersVGG16: counts.vgg16.parameters, macsVGG16: counts.vgg16.macs, parameters: counts.parameters,
            countsMatchPublished: counts.allMatch, activationBytesVGG16: counts.vgg16.activationBytes,
            receptiveFieldsMeasured: fields.measured, receptiveFieldsComputed: fields.computed, receptiveFieldVGG16: fields.vgg16,
            smallParameters: comparison.parameters, smallMacs: comparison.macs, seeds: comparison.seeds.map { Int($0) },
            accuracy3x3: comparison.accuracy[.threeByThree]!, accuracy5x5: comparison.accuracy[.fiveByFive]!,
            meanAccuracy3x3: mean(comparison.accuracy[.threeByThree]!), meanAccuracy5x5: mean(comparison.accuracy[.fiveByFive]!),
            seconds3x3: comparison.seconds[.threeByThree]!, seconds5x5: comparison.seconds[.fiveByFive]!,
            epochs: comparison.epochs, trainExamples: comparison.trainCount, valExamples: comparison.validationCount,
            raceLayer: race.layer, raceOutChannels: race.outChannels, race: race.result.rows,
            raceNaiveMs: race.result.rows[0].forwardSeconds * 1e3, raceFastMs: fastest.forwardSeconds * 1e3,
            raceSpeedup: race.result.rows[0].forwardSeconds / fastest.forwardSeconds,
            raceMaxDifference: race.result.maxRelativeDifference,
            seed: Int(options.seed), quick: options.quick, outputDirectory: run.directory.path)
        try run.finish(headline: String(format: "VGG-16: %@ parameters; 3x3 stacks %.2f%% vs 5x5 %.2f%% held-out (mean of %d seeds); conv5_2 fast %.0fx naive",
                                        ModelSummary.grouped(counts.vgg16.parameters), 100 * results.meanAccuracy3x3,
                                        100 * results.meanAccuracy5x5, comparison.seeds.count, results.raceSpeedup),
                       results: results)
        return results
    }

    /// How many of `vgg`'s convolutions have as many output channels as input channels
    /// (where a 3x3 pair saves 18 C² against 25 C²).
    static func widthKeeping(_ vgg: VGG) -> Int {
        vgg.features.layers.compactMap { $0 as? Conv2d }.filter { $0.inChannels == $0.outChannels }.count
    }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }

    // MARK: 1. Counting

    /// Prints the four configurations' counts beside the published ones, VGG-16's layer
    /// table with activation memory, and VGG-16's memory beside other networks'.
    static func countConfigurations(_ run: LessonRun, fixtures: URL)
        -> (vgg16: ModelSummary, parameters: [String: Int], allMatch: Bool) {
        let published = PublishedCounts.all(fixtures: fixtures)
        var allMatch = true
        var parameters: [String: Int] = [:]
        var vgg16: ModelSummary?
        let rows = VGG.Configuration.allCases.map { configuration -> [String] in
            let zoo = "vgg\(configuration.depth)"
            let summary = VGG(configuration).summary(inputShape: [1] + VGG.paperInputShape,
                                                  title: "VGG-\(configuration.depth) (configuration \(configuration.rawValue))")
            if configuration == .D { vgg16 = summary }
            parameters[zoo] = summary.parameters
            let p = published[zoo]
            let match = p.map { $0.parameters == summary.parameters && $0.macs == summary.macs } ?? false
            allMatch = allMatch && match
            return ["\(configuration.rawValue) (VGG-\(configuration.depth))", ModelSummary.grouped(summary.parameters),
                    p.map { ModelSummary.grouped($0.parameters) } ?? "-", "\(VGGPaper.millionsOfParameters[configuration] ?? 0)M",
                    String(format: "%.2f G", Double(summary.macs) / 1e9), p.map { String(format: "%.2f G", Double($0.macs) / 1e9) } ?? "-",
                    p == nil ? "not in the file" : (match ? "yes" : "NO")]
        }
        run.show(ReportTable(caption: "Counted from the architecture (Classic.swift) beside Fixtures/torchvision-counts.json and the paper's Table 2",
                             headers: ["configuration", "parameters", "published", "the paper", "MACs", "published", "equal"], rows: rows))
        let d = vgg16!
        run.show(d.reportTable(activationMemory: true))
        let fc = d.rows.filter { $0.name.hasPrefix("classifier") }.reduce(0) { $0 + $1.parameters }
        run.say(String(format: "Every convolution is 3x3, stride 1, padding 1; every pool 2x2, stride 2: n_H, n_W halve (224, 112, 56, 28, 14, 7)"
                       + " while n_C doubles (64, 128, 256, 512). %.0f%% of the %@ parameters are in the three fully connected"
                       + " layers; %.0f%% of the %.2f G multiply-accumulates are in the convolutions.",
                       100 * Double(fc) / Double(d.parameters), ModelSummary.grouped(d.parameters),
                       100 * Double(d.macs - d.rows.filter { $0.name.hasPrefix("classifier") }.reduce(0) { $0 + $1.macs }) / Double(d.macs),
                       Double(d.macs) / 1e9))
        // Activation memory beside the other networks of the course.
        var memory: [(name: String, summary: ModelSummary)] = []
        for zoo in ["alexnet", "vgg16", "googlenet", "resnet18", "resnet50"] {
            if let s = try? ModelZoo.summary(zoo) { memory.append((zoo, s)) }
        }
        func convolutionBytes(_ s: ModelSummary) -> Int {
            s.rows.filter { $0.layer.hasPrefix("Conv2d") }.reduce(0) { $0 + ModelSummary.activationBytes($1.outputShape) }
        }
        run.show(ReportTable(caption: "One 224x224 image, float32: the outputs of every layer (ReLU and batch-norm outputs counted as tensors of their own), and of the convolutions only",
                             headers: ["network", "parameters", "MACs", "every layer's output", "convolutions' output", "weights"],
                             rows: memory.map { [$0.name, ModelSummary.grouped($0.summary.parameters), String(format: "%.2f G", Double($0.summary.macs) / 1e9),
                                                 ModelSummary.bytes($0.summary.activationBytes), ModelSummary.bytes(convolutionBytes($0.summary)),
                                                 ModelSummary.bytes(4 * $0.summary.parameters)] }))
        let most = memory.max { $0.summary.activationBytes < $1.summary.activationBytes }
        let mostConvolution = memory.max { convolutionBytes($0.summary) < convolutionBytes($1.summary) }
        let busiest = memory.max { $0.summary.macs < $1.summary.macs }
        run.say("The most convolution output per image: \(mostConvolution?.name ?? "-"); the most multiply-accumulates: \(busiest?.name ?? "-");"
                + " the most output of every layer counted: \(most?.name ?? "-") (its batch norms and ReLUs write tensors too)."
                + " VGG-16's first convolution alone writes \(ModelSummary.bytes(ModelSummary.activationBytes(d.rows[0].outputShape))) per image:"
                + " 64 channels at the full 224 x 224. The slides: VGG has the highest memory and the most operations of the networks compared.")
        return (d, parameters, allMatch)
    }

    // MARK: 2. Receptive fields

    /// Stacks of 3x3 convolutions measured by back-propagation, the weights each needs,
    /// the picture of the region growing, and VGG-16's receptive field layer by layer.
    static func receptiveFields(_ run: LessonRun) throws -> (measured: [Int], computed: [Int], vgg16: Int) {
        let depths = Array(1...5)
        let computed = ReceptiveField.computed(depths.map { _ in (3, 1) })
        var measured: [Int] = []
        var gradients: [[Float]] = []
        for count in depths {
            let m = ReceptiveField.measured(convolutions: count, kernel: 3)
            measured.append(m.side)
            gradients.append(m.gradient)
        }
        let rows = depths.map { count -> [String] in
            let side = computed[count - 1]
            let stacked = 9 * count, single = side * side
            return ["\(count) x 3x3", "\(side) x \(side)", "\(measured[count - 1]) x \(measured[count - 1])",
                    "\(stacked) C²", "\(single) C²", String(format: "%.0f%% fewer", 100 * (1 - Double(stacked) / Double(single))),
                    "\(count)"]
        }
        run.show(ReportTable(caption: "Stacks of 3x3 convolutions (stride 1, padding 1, C channels in and out) against one convolution of the same window",
                             headers: ["stack", "window (computed)", "window (measured)", "stack's weights", "one k x k conv's weights", "", "ReLUs"],
                             rows: rows))
        run.say("Measured: a stack of convolutions with positive weights (so no sum can cancel) on a 15 x 15 input, the gradient of"
                + " its centre output pixel back-propagated to the input; the nonzero pixels form exactly the computed square."
                + " Two 3x3 convolutions see 5x5 with 18 C² weights instead of 25 C² (28% fewer), three see 7x7 with 27 C² instead of"
                + " 49 C² (45% fewer; the paper: a 7x7 layer has \"81% more\"), and each extra layer adds a ReLU.")
        var grid = ImageGrid(columns: depths.count, scale: 12, gap: 6)
        for g in gradients {       // zero stays black; every nonzero pixel at least dark grey, brighter where larger
            let largest = g.max() ?? 1
            grid.append(width: 15, height: 15, values: g.map { $0 == 0 ? 0 : 0.3 + 0.7 * $0 / largest })
        }
        try run.writeFigure(png: grid.image, name: "receptive-fields.png",
                            caption: "what one output pixel sees after 1, 2, 3, 4, 5 stacked 3x3 convolutions (left to right): the"
                                + " pixels of a 15 x 15 input its gradient reaches (black: exactly zero; brighter: larger)")
        let vgg = VGG(.D)
        let names = VGG.layerNames(.D)
        let fields = ReceptiveField.computed(ReceptiveField.geometry(of: vgg.features.layers))
        let line = names.indices.filter { i in
            names[i].hasPrefix("pool") || (i + 2 < names.count && names[i].hasPrefix("conv") && names[i + 2].hasPrefix("pool"))
        }.map { "\(names[$0]) \(fields[$0])" }
        run.say("VGG-16, computed from its layers (side of the input window one output pixel sees): " + line.joined(separator: ", ")
                + ". A pool doubles the step between outputs, so every later 3x3 convolution adds twice as much.")
        return (measured, computed, fields.last!)
    }

    // MARK: 3. The small nets

    struct Comparison {
        var seeds: [UInt64]
        var parameters: [String: Int] = [:], macs: [String: Int] = [:]
        var accuracy: [DigitVGG.Kind: [Double]] = [.threeByThree: [], .fiveByFive: []]
        var seconds: [DigitVGG.Kind: [Double]] = [.threeByThree: [], .fiveByFive: []]
        var epochs = 0, trainCount = 0, validationCount = 0
    }

    /// Trains both small nets on each paired seed and prints each seed, the mean and the spread.
    static func compareNets(_ run: LessonRun, options: LessonOptions) throws -> Comparison {
        let seedCount = options.quick ? min(2, options.integer("seeds")) : options.integer("seeds")
        var result = Comparison(seeds: (0..<UInt64(seedCount)).map { options.seed + $0 })
        result.epochs = options.epochs ?? (options.quick ? 1 : 2)
        result.trainCount = options.quick ? 1_000 : 3_000
        result.validationCount = options.quick ? 200 : 1_000
        let (training, validation) = try LabeledImages.mnist5k(fixtures: options.fixtures, trainCount: result.trainCount,
                                                               validationCount: result.validationCount, seed: options.seed)
        let lr = options.number("lr")
        let settings = TrainingSettings(epochs: result.epochs, batchSize: options.integer("batch"),
                                        schedule: .step(initial: lr, milestones: [max(1, result.epochs - 1)], factor: 0.1))
        var countRows: [[String]] = []
        for kind in DigitVGG.Kind.allCases {
            let s = DigitVGG.make(kind, seed: 0).summary(inputShape: [1] + DigitVGG.inputShape)
            result.parameters[kind.rawValue] = s.parameters
            result.macs[kind.rawValue] = s.macs
            let convolutions = s.rows.filter { $0.name.hasPrefix("conv") }
            countRows.append([kind.rawValue, convolutions.map { "\($0.name) \(ModelSummary.grouped($0.parameters))" }.joined(separator: ", "),
                              ModelSummary.grouped(s.parameters), ModelSummary.grouped(s.macs)])
        }
        run.show(ReportTable(caption: "The two nets: each stage sees a 5x5 window of its input either way (two 3x3 or one 5x5), then a 2x2 pool; fc 1568 -> 10",
                             headers: ["net", "convolutions' parameters", "parameters", "MACs per digit"], rows: countRows))
        run.say("Here the 3x3 stacks have more parameters, not fewer: the saving (18 C² against 25 C²) holds where a pair keeps its"
                + " width, and only the second convolution of each pair does; the first changes it (1 -> 16: 9 x 16 against 25 x 16,"
                + " but 16 -> 32 then 32 -> 32 is 54 x 16² against 50 x 16²). In VGG-16, \(VGGLesson.widthKeeping(VGG(.D))) of its 13 convolutions keep their width.")
        run.show([("data", "\(ModelSummary.grouped(training.count)) training digits of Fixtures/mnist-5k (pixels 0-1), \(ModelSummary.grouped(validation.count)) held out (split seed \(options.seed))"),
                  ("training", "\(result.epochs) epoch\(result.epochs == 1 ? "" : "s"), batch \(settings.batchSize), SGD lr \(lr) (/10 for the last epoch), momentum 0.9, He initialisation, the same for both nets"),
                  ("seeds", result.seeds.map(String.init).joined(separator: ", ") + " (paired: each seed draws both nets' weights and the mini-batch order)")])
        var curves: [(kind: DigitVGG.Kind, seed: UInt64, records: [EpochRecord])] = []
        var saved = false
        for seed in result.seeds {
            for kind in DigitVGG.Kind.allCases {
                let model = DigitVGG.make(kind, seed: seed)
                var trainer = Trainer(settings)
                trainer.label = "\(kind.rawValue), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(model, on: training, validation: validation, seed: seed, console: run.console)
                result.accuracy[kind]!.append(history.last?.validationAccuracy ?? 0)
                result.seconds[kind]!.append(history.seconds)
                curves.append((kind, seed, history.epochs))
                if kind == .threeByThree && !saved {
                    try model.save(to: run.directory.appendingPathComponent("digitvgg-3x3.safetensors"),
                                   metadata: ["lesson": "vgg", "net": "3x3 stacks", "seed": String(seed), "input": "28x28 digits, pixel/255"])
                    run.recordFile("digitvgg-3x3.safetensors", description: "the 3x3-stack digit net of seed \(seed) (conv1_1.weight, ..., fc.bias)")
                    saved = true
                }
            }
        }
        var rows = result.seeds.indices.map { i -> [String] in
            ["\(result.seeds[i])",
             String(format: "%.2f%%", 100 * result.accuracy[.threeByThree]![i]), String(format: "%.1f s", result.seconds[.threeByThree]![i]),
             String(format: "%.2f%%", 100 * result.accuracy[.fiveByFive]![i]), String(format: "%.1f s", result.seconds[.fiveByFive]![i]),
             String(format: "%+.2f", 100 * (result.accuracy[.threeByThree]![i] - result.accuracy[.fiveByFive]![i]))]
        }
        let differences = result.seeds.indices.map { result.accuracy[.threeByThree]![$0] - result.accuracy[.fiveByFive]![$0] }
        func spread(_ v: [Double]) -> Double { (v.max() ?? 0) - (v.min() ?? 0) }
        rows.append(["mean", String(format: "%.2f%%", 100 * mean(result.accuracy[.threeByThree]!)), String(format: "%.1f s", mean(result.seconds[.threeByThree]!)),
                     String(format: "%.2f%%", 100 * mean(result.accuracy[.fiveByFive]!)), String(format: "%.1f s", mean(result.seconds[.fiveByFive]!)),
                     String(format: "%+.2f", 100 * mean(differences))])
        rows.append(["spread (max - min)", String(format: "%.2f", 100 * spread(result.accuracy[.threeByThree]!)), "",
                     String(format: "%.2f", 100 * spread(result.accuracy[.fiveByFive]!)), "", String(format: "%.2f", 100 * spread(differences))])
        run.show(ReportTable(caption: "Held-out accuracy after \(result.epochs) epoch\(result.epochs == 1 ? "" : "s") and training time, per seed",
                             headers: ["seed", "3x3 stacks", "time", "5x5", "time", "difference (points)"], rows: rows))
        let meanDifference = mean(differences)
        let verdict: String
        let seedSpread = max(spread(result.accuracy[.threeByThree]!), spread(result.accuracy[.fiveByFive]!))
        let digitsApart = meanDifference * Double(result.validationCount)
        if differences.allSatisfy({ $0 > 0 }) || differences.allSatisfy({ $0 < 0 }) {
            let leader = meanDifference > 0 ? "the 3x3 stacks were" : "the 5x5 net was"
            verdict = String(format: "On every seed %@ ahead, by %.2f points on average (%.1f of %@ held-out digits)", leader,
                             abs(100 * meanDifference), abs(digitsApart), ModelSummary.grouped(result.validationCount))
                + (abs(meanDifference) <= seedSpread
                   ? String(format: ", no more than the seed-to-seed spread of either net (%.2f points): a hint at this budget, not a result.", 100 * seedSpread)
                   : ", more than the seed-to-seed spread of either net" + String(format: " (%.2f points).", 100 * seedSpread))
                + (meanDifference < 0 ? " The paper's effect did not show here." : "")
        } else {
            verdict = String(format: "The seeds disagree (differences from %+.2f to %+.2f points): no difference beyond the seed-to-seed spread shows on these digits.",
                             100 * differences.min()!, 100 * differences.max()!)
        }
        run.say(verdict + String(format: " The 3x3 stacks cost %.1fx the multiply-accumulates and %.1fx the time. (The paper: on ImageNet, a shallow"
                                 + " B with 5x5 layers had a top-1 error %.0f%% higher than B's 3x3 pairs.)",
                                 Double(result.macs[DigitVGG.Kind.threeByThree.rawValue]!) / Double(result.macs[DigitVGG.Kind.fiveByFive.rawValue]!),
                                 mean(result.seconds[.threeByThree]!) / mean(result.seconds[.fiveByFive]!),
                                 100 * VGGPaper.shallowFiveByFiveTop1Increase))
        try run.writeFigure(svg: VGGPictures.heldOutCurves(curves), name: "training-curves.svg",
                            caption: "held-out accuracy per epoch: 3x3 stacks solid, 5x5 dashed, one colour per seed")
        return result
    }

    // MARK: 4. The race

    /// The naive and the fast 3x3 convolutions on VGG-16's conv5_2 with its real input (what
    /// conv1_1 ... conv5_1 made of the first photograph, seeded weights).
    static func raceConv5_2(_ run: LessonRun, options: LessonOptions) throws -> (layer: String, outChannels: Int, result: RaceResult) {
        let photos = try Photographs.load(options.fixtures.appendingPathComponent("photos"), side: 224)
        let photo = Tensor(shape: [1, 3, 224, 224], data: Array(photos.images.data[0..<3 * 224 * 224]))
        let vgg = VGG(.D)
        vgg.features.initialize(seed: options.seed)              // the classifier's 124M weights are not needed
        let index = vgg.featureIndex("conv5_2")
        var x = photo
        for layer in vgg.features.layers.prefix(index) { x = layer(x) }
        guard let conv = vgg.features.layers[index] as? Conv2d else { preconditionFailure("VGG-16: conv5_2 is not a convolution") }
        let outChannels = options.isGiven("race-channels") ? options.integer("race-channels") : (options.quick ? 64 : 512)
        let perFilter = conv.inChannels * 9
        let weight = Array(conv.weight.value.data[0..<outChannels * perFilter])
        let bias = Array(conv.bias!.value.data[0..<outChannels])
        let g = Conv2DGeometry(batch: 1, inChannels: conv.inChannels, inHeight: 14, inWidth: 14, outChannels: outChannels,
                               kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: 1)
        let input = x.data
        var entrants = [
            RaceEntrant(name: "naive: seven loops", kernel: "Naive.conv2d (Convolution+Naive.swift)", isSlow: true,
                        forward: { [Naive.conv2d(input, weight: weight, bias: bias, geometry: g)] }),
            RaceEntrant(name: "fast, as training runs it", kernel: "Fast.conv2d: " + Fast.conv2dKernelName(g),
                        forward: { [Fast.conv2d(input, weight: weight, bias: bias, geometry: g)] }),
        ]
        if CPUFeatures.hasAVX512F {
            let packed = PackedConvolutionWeights(weight: weight, geometry: g)
            var y = [Float](repeating: 0, count: g.outputShape.count)
            entrants.append(RaceEntrant(name: "fast, weights packed once", kernel: "Fast.conv2d(packed:): " + Fast.conv2dKernelName(g, prepacked: true),
                                        forward: {
                input.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in bias.withUnsafeBufferPointer { bb in
                    y.withUnsafeMutableBufferPointer { yb in
                        Fast.conv2d(xb, weight: wb, packed: packed, bias: bb, geometry: g, into: yb)
                    }
                } } }
                return [y]
            }))
            let blockedInput = BlockedActivations(x, border: 1)
            let blockedWeights = BlockedConvolutionWeights(weight: weight, bias: bias, geometry: g, blockedInput: true)
            entrants.append(RaceEntrant(name: "blocked direct, NCHW16c in and out", kernel: "Fast.conv2dBlocked (Convolution+FastBlocked.swift)",
                                        forward: {
                let out = BlockedActivations(batch: 1, channels: outChannels, height: 14, width: 14, border: 1)
                Fast.conv2dBlocked(blockedInput, weights: blockedWeights, geometry: g, into: out)
                return [out.tensor().data]
            }))
            let winogradWeights = WinogradConvolutionWeights(weight: weight, bias: bias, geometry: g)
            entrants.append(RaceEntrant(name: "Winograd F(2x2, 3x3), NCHW16c", kernel: "Fast.conv2dWinograd (Convolution+FastWinograd.swift)",
                                        forward: {
                let out = BlockedActivations(batch: 1, channels: outChannels, height: 14, width: 14, border: 1)
                Fast.conv2dWinograd(blockedInput, weights: winogradWeights, geometry: g, into: out)
                return [out.tensor().data]
            }))
        }
        let macs = g.outputShape.count * perFilter
        let result = KernelRace.run(entrants, quick: options.quick, forwardFlops: 2 * Double(macs))
        let layer = "conv5_2: [1, 512, 14, 14] -> [1, \(outChannels), 14, 14], 3x3, padding 1"
        run.say("\(layer) (\(ModelSummary.grouped(macs)) multiply-accumulates) on what conv1_1 ... conv5_1 made of \(photos.names[0])"
                + " (224 x 224, mean pixel subtracted; seeded He weights, not ImageNet's). Forward only, batch 1; the naive loops timed"
                + " \(options.quick ? "once" : "three times (the median)"), the fast kernels the median of \(options.quick ? 3 : 7) repeated calls."
                + (outChannels < 512 ? " Only \(outChannels) of the 512 output channels, so that the naive loops finish quickly (--race-channels 512 for the whole layer)." : ""))
        run.show(result.captionedTable)
        if !CPUFeatures.hasAVX512F {
            run.say("This CPU has no AVX-512: the blocked direct and Winograd kernels (AVX-512 only) are not in the race.")
        }
        run.say("Winograd computes a 2x2 output tile with 16 multiplies per input channel where the direct kernel does 36, so its"
                + " GFLOP/s (counted as the direct convolution's 2 x MACs) can pass the machine's peak; its outputs differ from the"
                + " naive sums by rounding (the largest difference above). The blocked entrants' times include writing their NCHW16c"
                + " output back to NCHW for the comparison.")
        return (layer, outChannels, result)
    }
}
