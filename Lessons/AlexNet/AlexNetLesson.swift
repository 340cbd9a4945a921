import ConvNetCore
import Foundation

// `lesson run alexnet`: the network of 2012, read from its table, its two towers and its
// LRN run on real photographs, and its ReLU put against tanh on real digits.
//
//   1. the network, as the paper drew it: the two-tower net's layer table (input
//      227x227), and the parameters and MACs of the three AlexNets (two towers, one tower,
//      torchvision's) beside Fixtures/torchvision-counts.json;
//   2. the two towers: conv2 (groups 2) on what conv1, LRN and the pool made of the three
//      photographs of Fixtures/photos, against two half-width convolutions side by side
//      with the same weights (Towers.sideBySide in AlexNetModel.swift);
//   3. LRN on conv1's real output (96 x 55 x 55 per photograph): the core's naive and fast
//      kernels raced forward and backward (the upstream gradient is the real one, from
//      the loss through the whole network), and what LRN does, pictured (AlexNetPictures);
//   4. ReLU against tanh, the paper's Figure 1 on MNIST-5k: the same small net, the same
//      initial weights and the same mini-batches for both, on paired seeds; the steps each
//      needs to reach a training-error threshold, and the ratio;
//   5. what the paper reports that this run cannot measure, labelled as the paper's; the
//      weights of the ReLU net, and index.html.

/// The AlexNet lesson, as `lesson list` and `lesson run alexnet` see it.
public enum AlexNetLesson: Lesson {
    public static let name = "alexnet"
    public static let folder = "AlexNet"
    public static let summary = "AlexNet (2012): two towers, LRN raced on real photographs, ReLU vs tanh on MNIST-5k; 60,965,224 parameters"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3",
                     help: "paired seeds of the ReLU-vs-tanh comparison (--seed, --seed + 1, ...)"),
        LessonOption("threshold", .number(0.001...0.9), default: "0.05",
                     help: "the training error both arms race to (moving average of --window steps)"),
        LessonOption("window", .integer(1...1_000), default: "25", help: "steps in the moving average of the training error"),
        LessonOption("batch", .integer(1...1_024), default: "32", help: "mini-batch size of the comparison"),
        LessonOption("lr", .number(1e-6...10), default: "0.05",
                     help: "learning rate of SGD with momentum 0.9, the same for both arms"),
    ]

    public static let notes = """
    Defaults: 3 paired seeds x (ReLU, tanh) x 2 epochs on 4,000 digits, 1,000 held out
    (--quick: 2 seeds x 1 epoch on 1,000 digits, 200 held out); --epochs N changes the epochs.
    Writes under --out: index.html, relu-vs-tanh.svg, lrn-on-conv1.png, digitnet-relu.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("parameters_two_towers", "parameters of the paper's network on two GPUs (groups 2)"),
        ResultKey("parameters_one_tower", "parameters of the paper's network on one GPU"),
        ResultKey("parameters_torchvision", "parameters of torchvision's AlexNet"),
        ResultKey("macs_two_towers", "multiply-accumulates of one 227x227 image through the two-tower net"),
        ResultKey("counts_match_published", "all three counts equal Fixtures/torchvision-counts.json"),
        ResultKey("towers_max_difference", "conv2 with groups 2 vs two half-width convolutions: largest relative difference"),
        ResultKey("lrn_shape", "the LRN race's input [N, C, H, W]: conv1's output on the photographs"),
        ResultKey("lrn_naive_ms", "the race: naive LRN, forward + backward"),
        ResultKey("lrn_fast_ms", "the race: fast LRN (running sum), forward + backward"),
        ResultKey("lrn_speedup", "the race: naive time / fast time"),
        ResultKey("lrn_kernel", "the fast kernel that ran"),
        ResultKey("lrn_max_difference", "the race: largest relative difference of the fast outputs from the naive ones"),
        ResultKey("lrn_factor_min", "smallest normalising factor D^-beta on the photographs"),
        ResultKey("lrn_factor_max", "largest normalising factor D^-beta on the photographs"),
        ResultKey("seeds", "the paired seeds of the comparison"),
        ResultKey("threshold", "the training error both arms race to"),
        ResultKey("relu_steps", "per seed: steps ReLU needed to reach the threshold (null: not reached)"),
        ResultKey("tanh_steps", "per seed: steps tanh needed (null: not reached)"),
        ResultKey("step_ratios", "per seed: tanh steps / ReLU steps (null where either did not reach it)"),
        ResultKey("mean_step_ratio", "mean of step_ratios over the seeds where both reached the threshold"),
        ResultKey("step_ratio_spread", "max - min of step_ratios"),
        ResultKey("relu_val_accuracy", "per seed: ReLU held-out accuracy after the last epoch"),
        ResultKey("tanh_val_accuracy", "per seed: tanh held-out accuracy after the last epoch"),
        ResultKey("steps_per_run", "mini-batch steps of each training run"),
        ResultKey("train_examples", "training digits"),
        ResultKey("val_examples", "held-out digits"),
        ResultKey("train_seconds", "training time of all runs of the comparison"),
        ResultKey("seed", "the seed"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    /// What a run measured (the `--json` object).
    public struct Results: Encodable {
        var parametersTwoTowers: Int, parametersOneTower: Int, parametersTorchvision: Int, macsTwoTowers: Int
        var countsMatchPublished: Bool
        var towersMaxDifference: Double
        var lrnShape: [Int], lrnNaiveMs: Double, lrnFastMs: Double, lrnSpeedup: Double, lrnKernel: String
        var lrnMaxDifference: Double, lrnFactorMin: Double, lrnFactorMax: Double
        var seeds: [Int], threshold: Double, reluSteps: [Int?], tanhSteps: [Int?], stepRatios: [Double?]
        var meanStepRatio: Double?, stepRatioSpread: Double?
        var reluValAccuracy: [Double], tanhValAccuracy: [Double]
        var stepsPerRun: Int, trainExamples: Int, valExamples: Int, trainSeconds: Double
        var seed: Int, quick: Bool, outputDirectory: String

        enum CodingKeys: String, CodingKey {
            case parametersTwoTowers = "parameters_two_towers", parametersOneTower = "parameters_one_tower"
            case parametersTorchvision = "parameters_torchvision", macsTwoTowers = "macs_two_towers"
            case countsMatchPublished = "counts_match_published", towersMaxDifference = "towers_max_difference"
            case lrnShape = "lrn_shape", lrnNaiveMs = "lrn_naive_ms", lrnFastMs = "lrn_fast_ms", lrnSpeedup = "lrn_speedup"
            case lrnKernel = "lrn_kernel", lrnMaxDifference = "lrn_max_difference"
            case lrnFactorMin = "lrn_factor_min", lrnFactorMax = "lrn_factor_max"
            case seeds, threshold, reluSteps = "relu_steps", tanhSteps = "tanh_steps", stepRatios = "step_ratios"
            case meanStepRatio = "mean_step_ratio", stepRatioSpread = "step_ratio_spread"
            case reluValAccuracy = "relu_val_accuracy", tanhValAccuracy = "tanh_val_accuracy"
            case stepsPerRun = "steps_per_run", trainExamples = "train_examples", valExamples = "val_examples"
            case trainSeconds = "train_seconds", seed, quick, outputDirectory = "output_directory"
        }

        // Optionals are written as null (not left out), so every key is always there.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(parametersTwoTowers, forKey: .parametersTwoTowers)
            try c.encode(parametersOneTower, forKey: .parametersOneTower)
            try c.encode(parametersTorchvision, forKey: .parametersTorchvision)
            try c.encode(macsTwoTowers, forKey: .macsTwoTowers)
            try c.encode(countsMatchPublished, forKey: .countsMatchPublished)
            try c.encode(towersMaxDifference, forKey: .towersMaxDifference)
            try c.encode(lrnShape, forKey: .lrnShape)
            try c.encode(lrnNaiveMs, forKey: .lrnNaiveMs)
            try c.encode(lrnFastMs, forKey: .lrnFastMs)
            try c.encode(lrnSpeedup, forKey: .lrnSpeedup)
            try c.encode(lrnKernel, forKey: .lrnKernel)
            try c.encode(lrnMaxDifference, forKey: .lrnMaxDifference)
            try c.encode(lrnFactorMin, forKey: .lrnFactorMin)
            try c.encode(lrnFactorMax, forKey: .lrnFactorMax)
            try c.encode(seeds, forKey: .seeds)
            try c.encode(threshold, forKey: .threshold)
            try c.encode(reluSteps, forKey: .reluSteps)
            try c.encode(tanhSteps, forKey: .tanhSteps)
            try c.encode(stepRatios, forKey: .stepRatios)
            try c.encode(meanStepRatio, forKey: .meanStepRatio)
            try c.encode(stepRatioSpread, forKey: .stepRatioSpread)
            try c.encode(reluValAccuracy, forKey: .reluValAccuracy)
            try c.encode(tanhValAccuracy, forKey: .tanhValAccuracy)
            try c.encode(stepsPerRun, forKey: .stepsPerRun)
            try c.encode(trainExamples, forKey: .trainExamples)
            try c.encode(valExamples, forKey: .valExamples)
            try c.encode(trainSeconds, forKey: .trainSeconds)
            try c.encode(seed, forKey: .seed)
            try c.encode(quick, forKey: .quick)
            try c.encode(outputDirectory, forKey: .outputDirectory)
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let run = try LessonRun(lesson: name, title: "AlexNet: two towers, LRN, and ReLU against tanh", options: options, console: console)

        // 1. The network, as the paper drew it.
        run.step("The network, as the paper drew it")
        let counts = try countVariants(run, fixtures: options.fixtures)

        // 2. The two towers, on real photographs.
        run.step("Two towers: a grouped convolution is two convolutions side by side")
        let photos = try Photographs.load(options.fixtures.appendingPathComponent("photos"), side: 227)
        let net = AlexNet(.paper(towers: 2)).initialize(seed: options.seed)
        run.say("The photographs of Fixtures/photos (\(photos.names.joined(separator: ", "))): shorter side scaled to 256, the centre"
                + " 227 x 227 cut out, the mean ImageNet pixel (123.68, 116.78, 103.94) subtracted, as the paper's input was"
                + " (its weights are not here: this network's are seeded He-initialised ones, seed \(options.seed)).")
        let towersDifference = compareTowers(run, net: net, photos: photos.images)

        // 3. LRN on conv1's real output.
        run.step("Local response normalisation on conv1's real output")
        let lrn = try lrnStep(run, net: net, photos: photos.images, quick: options.quick)

        // 4. ReLU against tanh.
        run.step("ReLU against tanh (the paper's Figure 1, on MNIST-5k)")
        let comparison = try compareActivations(run, options: options)

        // 5. What the paper reports that this run cannot measure.
        run.step("What the paper reports, and what this run can show")
        run.show(ReportTable(caption: "Krizhevsky, Sutskever and Hinton (2012), as the paper reports them (the paper's numbers, not ours)",
                             headers: ["idea", "the paper's effect", "why this run cannot measure it"],
                             rows: AlexNetPaper.effects.map { [$0.effect, $0.paper, $0.whyNotHere] }))
        run.say(String(format: "The paper's single network: %.1f%% top-1 and %.1f%% top-5 error on the ILSVRC-2010 test set,"
                       + " trained for about 90 epochs of 1.2 million images on two GTX 580 GPUs (five to six days).",
                       100 * AlexNetPaper.top1Error, 100 * AlexNetPaper.top5Error))

        let results = Results(
            parametersTwoTowers: counts.twoTowers.parameters, parametersOneTower: counts.oneTower.parameters,
            parametersTorchvision: counts.torchvision.parameters, macsTwoTowers: counts.twoTowers.macs,
            countsMatchPublished: counts.allMatch, towersMaxDifference: towersDifference,
            lrnShape: lrn.shape, lrnNaiveMs: lrn.race.rows[0].totalSeconds * 1e3, lrnFastMs: lrn.race.rows[1].totalSeconds * 1e3,
            lrnSpeedup: lrn.race.speedup, lrnKernel: lrn.race.rows[1].kernel, lrnMaxDifference: lrn.race.maxRelativeDifference,
            lrnFactorMin: lrn.factorRange.lowerBound, lrnFactorMax: lrn.factorRange.upperBound,
            seeds: comparison.seeds.map { Int($0) }, threshold: comparison.threshold,
            reluSteps: comparison.reluSteps, tanhSteps: comparison.tanhSteps, stepRatios: comparison.ratios,
            meanStepRatio: comparison.meanRatio, stepRatioSpread: comparison.spread,
            reluValAccuracy: comparison.reluAccuracy, tanhValAccuracy: comparison.tanhAccuracy,
            stepsPerRun: comparison.stepsPerRun, trainExamples: comparison.trainCount, valExamples: comparison.validationCount,
            trainSeconds: comparison.seconds, seed: Int(options.seed), quick: options.quick, outputDirectory: run.directory.path)
        let reluFirst = zip(comparison.reluSteps, comparison.tanhSteps).filter { r, t in r != nil && (t == nil || r! < t!) }.count
        try run.finish(headline: "ReLU reached \(String(format: "%g", 100 * comparison.threshold))% training error before tanh on \(reluFirst) of"
                       + " \(comparison.seeds.count) paired seeds" + (comparison.meanRatio.map { String(format: " (tanh/ReLU steps %.2fx)", $0) } ?? "")
                       + String(format: "; two towers = two convolutions (difference %.0e); LRN fast %.0fx naive", towersDifference, lrn.race.speedup),
                       results: results)
        return results
    }

    // MARK: 1. Counting

    struct Counted {
        var parameters: Int, macs: Int
    }

    /// Prints the two-tower net's layer table and the three variants' totals beside the
    /// published ones.
    static func countVariants(_ run: LessonRun, fixtures: URL)
        throws -> (twoTowers: Counted, oneTower: Counted, torchvision: Counted, allMatch: Bool) {
        let twoTowers = AlexNet(.paper(towers: 2)).summary(inputShape: [1] + AlexNet.paperInputShape,
                                                           title: "AlexNet as the paper drew it, two towers")
        run.show(twoTowers.reportTable())
        let variants: [(name: String, zoo: String, summary: ModelSummary)] = [
            ("the paper, two towers (groups 2)", "alexnet_paper_two_towers", twoTowers),
            ("the paper, one tower", "alexnet_paper_one_tower",
             AlexNet(.paper(towers: 1)).summary(inputShape: [1] + AlexNet.paperInputShape)),
            ("torchvision (224x224, 64-192-384-256-256, no LRN)", "alexnet",
             AlexNet(.torchvision).summary(inputShape: [1, 3, 224, 224])),
        ]
        let published = PublishedCounts.all(fixtures: fixtures)
        var allMatch = true
        let rows = variants.map { v -> [String] in
            let p = published[v.zoo]
            let match = p.map { $0.parameters == v.summary.parameters && $0.macs == v.summary.macs }
            allMatch = allMatch && (match ?? false)
            return [v.name, ModelSummary.grouped(v.summary.parameters), p.map { ModelSummary.grouped($0.parameters) } ?? "-",
                    ModelSummary.grouped(v.summary.macs), p.map { ModelSummary.grouped($0.macs) } ?? "-",
                    match.map { $0 ? "yes" : "NO" } ?? "not in the file"]
        }
        run.show(ReportTable(caption: "Counted from the architecture (Classic.swift) beside Fixtures/torchvision-counts.json",
                             headers: ["AlexNet", "parameters", "published", "MACs", "published", "equal"], rows: rows))
        let saved = variants[1].summary.parameters - variants[0].summary.parameters
        let fullyConnected = twoTowers.rows.filter { $0.name.hasPrefix("classifier") }.reduce(0) { $0 + $1.parameters }
        run.say("The towers save \(ModelSummary.grouped(saved)) weights: conv2, conv4 and conv5 see only the maps of their own GPU, so each"
                + " of their filters has half the input channels (conv2: 5 x 5 x 48 instead of 5 x 5 x 96). The paper says"
                + " \"\(AlexNetPaper.parametersInWords) parameters\"; " + String(format: "%.0f%%", 100 * Double(fullyConnected) / Double(twoTowers.parameters))
                + " of them are in fc6, fc7 and fc8.")
        func counted(_ s: ModelSummary) -> Counted { Counted(parameters: s.parameters, macs: s.macs) }
        return (counted(variants[0].summary), counted(variants[1].summary), counted(variants[2].summary), allMatch)
    }

    // MARK: 2. The towers

    /// conv2 of `net` on the photographs' pool1 output, grouped and as two towers side by
    /// side; returns the largest relative difference.
    static func compareTowers(_ run: LessonRun, net: AlexNet, photos: Tensor) -> Double {
        guard let conv2 = net.paperLayer("conv2") as? Conv2d else { preconditionFailure("AlexNet: conv2 is not a convolution") }
        let pool1 = net.featureOutputs(photos, count: 4)[3]
        let grouped = conv2(pool1)
        let towers = Towers.sideBySide(conv2, pool1)
        let difference = relativeError(towers.data, grouped.data)
        run.show(ReportTable(headers: ["", "input", "weights", "output"], rows: [
            ["conv2, groups 2", "[\(pool1.shape.map(String.init).joined(separator: ", "))]",
             "[256, 48, 5, 5]", "[\(grouped.shape.map(String.init).joined(separator: ", "))]"],
            ["tower 1: Conv2d(48, 128)", "channels 0..<48", "filters 0..<128 of conv2's", "channels 0..<128"],
            ["tower 2: Conv2d(48, 128)", "channels 48..<96", "filters 128..<256 of conv2's", "channels 128..<256"],
        ]))
        run.say(String(format: "On the photographs' pool1 output, conv2 with groups 2 and the two towers side by side give the same"
                       + " %@ numbers: largest relative difference %.1e (0 means bit for bit). The grouped layer ran %@; each"
                       + " tower, a dense convolution, ran %@.",
                       ModelSummary.grouped(grouped.count), difference, Fast.conv2dKernelName(conv2.geometry(for: pool1.shape)),
                       Fast.conv2dKernelName(Conv2DGeometry(batch: pool1.shape[0], inChannels: 48, inHeight: 27, inWidth: 27,
                                                            outChannels: 128, kernel: (5, 5), stride: (1, 1), padding: (2, 2), groups: 1))))
        return difference
    }

    // MARK: 3. LRN

    /// Races the core's naive and fast LRN on conv1's output (after ReLU) for the
    /// photographs, with the real upstream gradient, and pictures what LRN does.
    static func lrnStep(_ run: LessonRun, net: AlexNet, photos: Tensor, quick: Bool)
        throws -> (shape: [Int], race: RaceResult, factorRange: ClosedRange<Double>) {
        guard let lrn = net.paperLayer("lrn1") as? LocalResponseNorm else { preconditionFailure("AlexNet: lrn1 is not LRN") }
        let index = AlexNet.paperFeatureNames.firstIndex(of: "lrn1")!
        // The real upstream gradient: the whole network's loss, back to lrn1's output.
        let logits = net(photos)
        var gradient = Loss.crossEntropy(logits, targets: Array(0..<photos.shape[0]), using: net.backend).gradient
        for (name, child) in net.children.reversed() where name != "features" { gradient = child.backward(gradient) }
        for layer in net.features.layers[(index + 1)...].reversed() { gradient = layer.backward(gradient) }
        let a = net.featureOutputs(photos, count: index)[index - 1]       // conv1 -> ReLU
        let s = a.featureMapShape(for: "lrn1")
        let (x, dy) = (a.data, gradient.data)
        let (size, alpha, beta, k) = (lrn.size, lrn.alpha, lrn.beta, lrn.k)
        let race = KernelRace.run([
            RaceEntrant(name: "naive: each window re-summed", kernel: "Naive.localResponseNorm", isSlow: true,
                        forward: { [Naive.localResponseNorm(x, shape: s, size: size, alpha: alpha, beta: beta, k: k)] },
                        backward: { [Naive.localResponseNormBackward(x, outputGradient: dy, shape: s, size: size, alpha: alpha, beta: beta, k: k)] }),
            RaceEntrant(name: "fast: running sum of squares, SIMD16", kernel: "Fast.localResponseNorm (beta 0.75: r^2 / sqrt(r), r = 1/sqrt(D))",
                        forward: { [Fast.localResponseNorm(x, shape: s, size: size, alpha: alpha, beta: beta, k: k)] },
                        backward: { [Fast.localResponseNormBackward(x, outputGradient: dy, shape: s, size: size, alpha: alpha, beta: beta, k: k)] }),
        ], quick: quick, forwardFlops: nil)
        run.say("lrn1 (size \(size), alpha \(alpha) in PyTorch's convention = the paper's 1e-4 per square, beta \(beta), k \(k)) on"
                + " conv1's output after ReLU for the \(s.batch) photographs, \(s): forward, and backward with the gradient the"
                + " loss of the whole network sends back to it.")
        run.show(race.captionedTable)
        let b = Tensor(shape: a.shape, data: Fast.localResponseNorm(x, shape: s, size: size, alpha: alpha, beta: beta, k: k))
        let factor = AlexNetPictures.normalisingFactor(a, lrn)
        let low = Double(factor.data.min() ?? 0), high = Double(factor.data.max() ?? 0)
        // The eight channels with the strongest responses on the first photograph.
        let energy = (0..<s.channels).map { c in a.data[c * s.spatial..<(c + 1) * s.spatial].reduce(0) { $0 + $1 * $1 } }
        let shown = Array((0..<s.channels).sorted { energy[$0] > energy[$1] }.prefix(8)).sorted()
        run.say(String(format: "b_c = a_c / (k + alpha/n sum a^2)^beta: where the neighbouring maps are quiet the factor is"
                       + " k^-beta = %.3f; on these photographs it ranges from %.4f to %.3f, so strong responses are"
                       + " damped up to %.1f times more than weak ones: the \"lateral inhibition\" the paper borrowed from real neurons.",
                       Foundation.pow(Double(k), -Double(beta)), low, high, high / low))
        try run.writeFigure(png: AlexNetPictures.lrnEffect(before: a, after: b, factor: factor, image: 0, channels: shown),
                            name: "lrn-on-conv1.png",
                            caption: "conv1 channels \(shown.map(String.init).joined(separator: ", ")) on the first photograph (the"
                                + " strongest eight): top, after ReLU; middle, after LRN (each tile on its own grey scale); bottom, the"
                                + String(format: " factor D^-beta (black %.3f, white %.3f on this band)", low, high))
        return (a.shape, race, low...high)
    }

    // MARK: 4. ReLU against tanh

    struct Comparison {
        var seeds: [UInt64], threshold: Double
        var reluSteps: [Int?] = [], tanhSteps: [Int?] = [], ratios: [Double?] = []
        var reluAccuracy: [Double] = [], tanhAccuracy: [Double] = []
        var meanRatio: Double?, spread: Double?
        var stepsPerRun = 0, trainCount = 0, validationCount = 0, seconds = 0.0
    }

    /// Trains ``DigitNet`` with ReLU and with tanh on each paired seed, and reports the
    /// steps each needs to bring its moving-average training error under the threshold.
    static func compareActivations(_ run: LessonRun, options: LessonOptions) throws -> Comparison {
        let seedCount = options.quick ? min(2, options.integer("seeds")) : options.integer("seeds")
        let seeds = (0..<UInt64(seedCount)).map { options.seed + $0 }
        var result = Comparison(seeds: seeds, threshold: options.number("threshold"))
        let window = options.integer("window")
        let epochs = options.epochs ?? (options.quick ? 1 : 2)
        result.trainCount = options.quick ? 1_000 : 4_000
        result.validationCount = options.quick ? 200 : 1_000
        let (training, validation) = try LabeledImages.mnist5k(fixtures: options.fixtures, trainCount: result.trainCount,
                                                               validationCount: result.validationCount, seed: options.seed)
        let settings = TrainingSettings(epochs: epochs, batchSize: options.integer("batch"), schedule: .constant(options.number("lr")))
        let probe = DigitNet.make(.relu, seed: 0).summary(inputShape: [1] + DigitNet.inputShape)
        run.say("The same small AlexNet-style net for both arms (conv 5x5 16, max 3x3/2, conv 5x5 32, max 3x3/2, fc 128, fc 10;"
                + " \(ModelSummary.grouped(probe.parameters)) parameters), only its nonlinearity f differs. For each seed both arms"
                + " start from the same weights (He's scheme) and see the same mini-batches in the same order.")
        run.show([("data", "\(ModelSummary.grouped(training.count)) training digits of Fixtures/mnist-5k (pixels 0-1), \(ModelSummary.grouped(validation.count)) held out (split seed \(options.seed))"),
                  ("training", "\(epochs) epoch\(epochs == 1 ? "" : "s"), batch \(settings.batchSize), SGD lr \(settings.initialLearningRate) (both arms), momentum \(settings.momentum), no weight decay"),
                  ("the race", "the first step at which the mean mini-batch training error of the last \(window) steps is at most \(String(format: "%g", 100 * result.threshold))%"),
                  ("seeds", seeds.map(String.init).joined(separator: ", ") + " (paired: one per ReLU/tanh pair)")])
        var curves: [(activation: DigitNet.Activation, seed: UInt64, errors: [Double])] = []
        var reluModel: Sequential?
        for seed in seeds {
            for activation in DigitNet.Activation.allCases {
                let model = DigitNet.make(activation, seed: seed)
                var trainer = Trainer(settings)
                trainer.label = "\(activation.rawValue), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(model, on: training, validation: validation, seed: seed, console: run.console)
                result.seconds += history.seconds
                result.stepsPerRun = history.steps.count
                let errors = history.steps.map { 1 - $0.accuracy }
                curves.append((activation, seed, errors))
                let reached = stepsToReach(result.threshold, errors: errors, window: window)
                let accuracy = history.last?.validationAccuracy ?? 0
                if activation == .relu {
                    result.reluSteps.append(reached); result.reluAccuracy.append(accuracy)
                    if reluModel == nil { reluModel = model }
                } else {
                    result.tanhSteps.append(reached); result.tanhAccuracy.append(accuracy)
                }
            }
        }
        result.ratios = zip(result.reluSteps, result.tanhSteps).map { r, t in
            guard let r, let t else { return nil }
            return Double(t) / Double(r)
        }
        let measured = result.ratios.compactMap { $0 }
        if !measured.isEmpty {
            result.meanRatio = measured.reduce(0, +) / Double(measured.count)
            result.spread = measured.max()! - measured.min()!
        }
        func steps(_ s: Int?) -> String { s.map { ModelSummary.grouped($0) } ?? "not reached in \(result.stepsPerRun)" }
        var rows = seeds.indices.map { i -> [String] in
            ["\(seeds[i])", steps(result.reluSteps[i]), steps(result.tanhSteps[i]),
             result.ratios[i].map { String(format: "%.2fx", $0) } ?? "-",
             String(format: "%.2f%%", 100 * result.reluAccuracy[i]), String(format: "%.2f%%", 100 * result.tanhAccuracy[i])]
        }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
        rows.append(["mean", "", "", result.meanRatio.map { String(format: "%.2fx", $0) } ?? "-",
                     String(format: "%.2f%%", 100 * mean(result.reluAccuracy)), String(format: "%.2f%%", 100 * mean(result.tanhAccuracy))])
        rows.append(["spread (max - min)", "", "", result.spread.map { String(format: "%.2f", $0) } ?? "-",
                     String(format: "%.2f", 100 * (result.reluAccuracy.max()! - result.reluAccuracy.min()!)),
                     String(format: "%.2f", 100 * (result.tanhAccuracy.max()! - result.tanhAccuracy.min()!))])
        run.show(ReportTable(caption: "Steps to \(String(format: "%g", 100 * result.threshold))% training error, and held-out accuracy after \(epochs) epoch\(epochs == 1 ? "" : "s")",
                             headers: ["seed", "ReLU steps", "tanh steps", "tanh / ReLU", "ReLU held-out", "tanh held-out"], rows: rows))
        run.say(conclusion(result))
        run.show(thresholdTable(curves, seeds: seeds, window: window))
        try run.writeFigure(svg: AlexNetPictures.trainingError(curves, window: window, threshold: result.threshold),
                            name: "relu-vs-tanh.svg",
                            caption: "training error per step (moving average of \(window) mini-batches), ReLU solid, tanh dashed, one colour per seed")
        if let reluModel {
            try reluModel.save(to: run.directory.appendingPathComponent("digitnet-relu.safetensors"),
                               metadata: ["lesson": "alexnet", "activation": "relu", "seed": String(seeds[0]),
                                          "input": "28x28 digits, pixel/255"])
            run.recordFile("digitnet-relu.safetensors", description: "the ReLU digit net of seed \(seeds[0]) (conv1.weight, ..., fc2.bias)")
        }
        return result
    }

    /// What the comparison shows, in one paragraph, honestly: which arm reached the
    /// threshold first on each seed (a run that never reached it loses to one that did),
    /// and the ratio only over the seeds where both reached it.
    static func conclusion(_ r: Comparison) -> String {
        let paper = String(format: "(The paper's Figure 1: %g%% training error on CIFAR-10 %gx sooner with ReLU, with a four-layer net"
                           + " and each net's learning rate tuned for it.)", 100 * AlexNetPaper.reluThreshold, AlexNetPaper.reluSpeedup)
        let pairs = Array(zip(r.reluSteps, r.tanhSteps))
        let reluFirst = pairs.filter { relu, tanh in relu != nil && (tanh == nil || relu! < tanh!) }.count
        let tanhFirst = pairs.filter { relu, tanh in tanh != nil && (relu == nil || tanh! < relu!) }.count
        let threshold = String(format: "%g%%", 100 * r.threshold)
        let ratioText = r.meanRatio.map { String(format: " (mean tanh/ReLU step ratio %.2fx over the %d seeds where both reached it, spread %.2f)",
                                                 $0, r.ratios.compactMap { $0 }.count, r.spread ?? 0) } ?? ""
        var text = "ReLU reached \(threshold) training error first on \(reluFirst) of \(r.seeds.count) seeds, tanh on \(tanhFirst)" + ratioText + ". "
        if reluFirst + tanhFirst == 0 {
            text += "Neither arm reached it within \(r.stepsPerRun) steps on any seed, so this run measured no ratio: train longer"
                + " (--epochs) or race to a higher error (--threshold); the table below has every threshold. "
        } else if reluFirst == r.seeds.count {
            text += "The paper's effect shows here: on every seed the ReLU net trained faster. "
        } else if tanhFirst == r.seeds.count {
            text += "The paper's effect did not show here: on every seed the tanh net trained faster. On these easy digits, with"
                + " a net this small and He's initialisation (which keeps tanh's inputs out of its flat tails), tanh does not saturate"
                + " enough to slow down; the table below shows the same at every threshold. "
        } else if reluFirst > 0 && tanhFirst > 0 {
            text += "The seeds disagree: no difference beyond the seed-to-seed spread shows at this setting. "
        } else {
            text += "On the other seeds neither arm reached it: too few seeds decided to claim a difference. "
        }
        return text + paper
    }

    /// The whole race, not one threshold: for 50%, 25% (the paper's), 10%, 5% and 2%
    /// training error, the mean steps of each arm over the seeds where both reached it, the
    /// ratio of the means, and on how many seeds ReLU got there first.
    static func thresholdTable(_ curves: [(activation: DigitNet.Activation, seed: UInt64, errors: [Double])],
                               seeds: [UInt64], window: Int) -> ReportTable {
        let rows = [0.5, 0.25, 0.1, 0.05, 0.02].map { threshold -> [String] in
            var pairs: [(relu: Int, tanh: Int)] = []
            for seed in seeds {
                func steps(_ a: DigitNet.Activation) -> Int? {
                    curves.first { $0.activation == a && $0.seed == seed }.flatMap { stepsToReach(threshold, errors: $0.errors, window: window) }
                }
                if let r = steps(.relu), let t = steps(.tanh) { pairs.append((r, t)) }
            }
            guard !pairs.isEmpty else { return [String(format: "%g%%", 100 * threshold), "-", "-", "-", "not reached by both on any seed"] }
            let relu = Double(pairs.reduce(0) { $0 + $1.relu }) / Double(pairs.count)
            let tanh = Double(pairs.reduce(0) { $0 + $1.tanh }) / Double(pairs.count)
            return [String(format: "%g%%", 100 * threshold), String(format: "%.1f", relu), String(format: "%.1f", tanh),
                    String(format: "%.2fx", tanh / relu),
                    "\(pairs.filter { $0.relu < $0.tanh }.count) of \(pairs.count) (tanh first: \(pairs.filter { $0.tanh < $0.relu }.count))"]
        }
        return ReportTable(caption: "Every threshold, from the same runs: mean steps over the seeds where both arms reached it",
                           headers: ["training error", "ReLU steps", "tanh steps", "tanh / ReLU", "seeds where ReLU got there first"], rows: rows)
    }

    /// The first step (1-based) at which the mean of the last `window` mini-batch errors is
    /// at most `threshold` (nil if none); steps before a full window do not count.
    static func stepsToReach(_ threshold: Double, errors: [Double], window: Int) -> Int? {
        let averaged = AlexNetPictures.movingAverage(errors, window: window)
        return averaged.indices.first { $0 + 1 >= window && averaged[$0] <= threshold }.map { $0 + 1 }
    }
}
