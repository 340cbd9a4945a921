import ConvNetCore
import Foundation

// `lesson run regularizers`: three ideas the lectures mention beyond ResNet.
//
//   1. stochastic depth (Huang et al. 2016): the linear decay rule's survival probabilities,
//      the expected depth (3L - 1)/4 checked against the blocks actually run, the training
//      time saved, and held-out error beside the same net trained without it (paired seeds);
//   2. wide against deep (Zagoruyko and Komodakis 2016): the paper's nets counted beside its
//      Table 5; a wide shallow and a thin deep residual net of about the same parameters,
//      same budget and seeds: held-out error and wall-clock time each;
//   3. highway networks (Srivastava et al. 2015): y = H(x) T(x) + x (1 - T(x)); thin plain,
//      highway and residual nets of growing depth trained the same way on MNIST-5k: the final
//      training loss against depth, one plot;
//   4. the race: the highway combination's naive and fast kernels on a real layer.

/// The regularizers lesson, as `lesson list` and `lesson run regularizers` see it.
public enum RegularizersLesson: Lesson {
    public static let name = "regularizers"
    public static let folder = "Regularizers"
    public static let summary = "Stochastic depth, wide residual networks and highway networks (2015-2016): what depth costs and what replaces it"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds of every comparison (--quick: 1)"),
        LessonOption("train", .integer(100...4_000), default: "2000", help: "training digits (--quick: 200)"),
        LessonOption("depth", .integer(8...110), default: "32", help: "depth 6n+2 of the thin residual net, with and without stochastic depth (--quick: 14)"),
        LessonOption("survival", .number(0.05...1), default: "0.5", help: "p_L, the last block's survival probability"),
        LessonOption("wide-depth", .integer(8...56), default: "8", help: "depth 6n+2 of the wide shallow net"),
        LessonOption("max-depth", .choice(["20", "50", "100"]), default: "100", help: "deepest thin net of the highway experiment: 10, 20, then 50 and 100 (--quick: 20)"),
        LessonOption("gate-bias", .choice(["depth", "-1", "-2", "-3", "-5", "-10"]), default: "depth",
                     help: "initial gate bias b_T: depth = -d/10 for a net of d layers (the paper's guideline: -1, -2, -3 at depths 10, 20, 30), or one value for every depth"),
        LessonOption("highway-lr", .number(1e-4...1), default: "0.01", help: "learning rate of the thin nets (SGD, momentum 0.9)"),
    ]

    public static let notes = """
    Residual nets: 3 epochs (--epochs; the last at lr/10), batch 64, SGD 0.1, momentum 0.9, weight decay 1e-4, on 16x16 digits
    (--quick: 1 epoch). Thin nets: 28x28 digits flattened, 3 epochs at a constant rate (--quick: 1), batch 64; highway gate bias
    b_T = -d/10 for a net of d layers (-1, -2, -5, -10 at 10, 20, 50, 100; --gate-bias -2: -2 at every depth).
    Writes under --out: index.html, survival.svg, highway-depth.svg, highway-gates.svg.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("sd_blocks", "L: residual blocks of the thin net"),
        ResultKey("sd_survival", "p_l of each block, first to last (linear decay rule)"),
        ResultKey("sd_expected_depth", "E(L~) = sum_l p_l, blocks a training mini-batch runs on average ((3L-1)/4 for p_L = 0.5)"),
        ResultKey("sd_blocks_run", "blocks the training mini-batches actually ran, per mini-batch, all seeds"),
        ResultKey("sd_time_saved", "1 - training time with stochastic depth / without, all seeds"),
        ResultKey("val_errors_baseline", "held-out error of the thin net without stochastic depth, each seed"),
        ResultKey("val_errors_sd", "held-out error with stochastic depth (test pass scaled by p_l), each seed"),
        ResultKey("val_error_baseline", "mean over seeds"),
        ResultKey("val_error_sd", "mean over seeds"),
        ResultKey("train_error_baseline", "training error of the last epoch, measured while training (mean over seeds)"),
        ResultKey("train_error_sd", "the same with stochastic depth (the sampled shorter nets)"),
        ResultKey("seconds_baseline", "training time without stochastic depth, all seeds"),
        ResultKey("seconds_sd", "training time with stochastic depth, all seeds"),
        ResultKey("thin_parameters", "parameters of the thin deep net"),
        ResultKey("wide_parameters", "parameters of the wide shallow net"),
        ResultKey("wide_widths", "stage widths of the wide shallow net"),
        ResultKey("val_errors_wide", "held-out error of the wide shallow net, each seed"),
        ResultKey("val_error_wide", "mean over seeds"),
        ResultKey("seconds_wide", "training time of the wide shallow net, all seeds"),
        ResultKey("wrn_40_4_parameters", "WRN-40-4 counted from its shapes (the paper: 8.9M)"),
        ResultKey("wrn_16_8_parameters", "WRN-16-8 (the paper: 11.0M)"),
        ResultKey("wrn_28_10_parameters", "WRN-28-10 (the paper: 36.5M)"),
        ResultKey("resnet110_parameters", "CIFAR ResNet-110 (the paper: 1.7M)"),
        ResultKey("resnet1202_parameters", "CIFAR ResNet-1202 (the WRN paper: 10.2M; He et al.: 19.4M)"),
        ResultKey("highway_depths", "depths of the thin nets"),
        ResultKey("final_loss_plain", "training-set loss after the last epoch, plain nets, per depth (mean over seeds; \"nan\": diverged)"),
        ResultKey("final_loss_highway", "the same, highway nets"),
        ResultKey("final_loss_residual", "the same, residual nets (no normalisation)"),
        ResultKey("gate_bias", "initial b_T of the highway gates, per depth (default: -depth/10)"),
        ResultKey("highway_epochs", "epochs per thin net"),
        ResultKey("race_naive_ms", "Naive.highway forward + backward on a real layer, ms"),
        ResultKey("race_fast_ms", "Fast.highway forward + backward, ms"),
        ResultKey("race_speedup", "naive time / fast time"),
        ResultKey("race_max_difference", "largest relative difference, fast against naive"),
    ] + ResultKey.trainingRun

    public struct Results: Encodable {
        var sdBlocks = 0, sdSurvival: [Double] = [], sdExpectedDepth = 0.0, sdBlocksRun = 0.0, sdTimeSaved = 0.0
        var valErrorsBaseline: [Double] = [], valErrorsSd: [Double] = [], valErrorBaseline = 0.0, valErrorSd = 0.0
        var trainErrorBaseline = 0.0, trainErrorSd = 0.0, secondsBaseline = 0.0, secondsSd = 0.0
        var thinParameters = 0, wideParameters = 0, wideWidths: [Int] = [], valErrorsWide: [Double] = [], valErrorWide = 0.0
        var secondsWide = 0.0
        var wrn404Parameters = 0, wrn168Parameters = 0, wrn2810Parameters = 0, resnet110Parameters = 0, resnet1202Parameters = 0
        var highwayDepths: [Int] = [], finalLossPlain: [Double] = [], finalLossHighway: [Double] = [], finalLossResidual: [Double] = []
        var gateBias: [Double] = [], highwayEpochs = 0
        var raceNaiveMs = 0.0, raceFastMs = 0.0, raceSpeedup = 0.0, raceMaxDifference = 0.0
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, trainSeconds = 0.0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case sdBlocks = "sd_blocks", sdSurvival = "sd_survival", sdExpectedDepth = "sd_expected_depth"
            case sdBlocksRun = "sd_blocks_run", sdTimeSaved = "sd_time_saved"
            case valErrorsBaseline = "val_errors_baseline", valErrorsSd = "val_errors_sd"
            case valErrorBaseline = "val_error_baseline", valErrorSd = "val_error_sd"
            case trainErrorBaseline = "train_error_baseline", trainErrorSd = "train_error_sd"
            case secondsBaseline = "seconds_baseline", secondsSd = "seconds_sd"
            case thinParameters = "thin_parameters", wideParameters = "wide_parameters", wideWidths = "wide_widths"
            case valErrorsWide = "val_errors_wide", valErrorWide = "val_error_wide", secondsWide = "seconds_wide"
            case wrn404Parameters = "wrn_40_4_parameters", wrn168Parameters = "wrn_16_8_parameters"
            case wrn2810Parameters = "wrn_28_10_parameters", resnet110Parameters = "resnet110_parameters"
            case resnet1202Parameters = "resnet1202_parameters"
            case highwayDepths = "highway_depths", finalLossPlain = "final_loss_plain", finalLossHighway = "final_loss_highway"
            case finalLossResidual = "final_loss_residual", gateBias = "gate_bias", highwayEpochs = "highway_epochs"
            case raceNaiveMs = "race_naive_ms", raceFastMs = "race_fast_ms", raceSpeedup = "race_speedup"
            case raceMaxDifference = "race_max_difference"
            case epochs, seeds, trainExamples = "train_examples", trainSeconds = "train_seconds", quick
            case outputDirectory = "output_directory"
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 3)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 200
        let depth = options.isGiven("depth") || !quick ? options.integer("depth") : 14
        let wideDepth = options.integer("wide-depth")
        for d in [depth, wideDepth] where (d - 2) % 6 != 0 {
            throw LessonError("residual depths must be 6n+2 (8, 14, 20, 26, 32, 44, 56, 110), got \(d)")
        }
        guard wideDepth < depth else { throw LessonError("--wide-depth (\(wideDepth)) must be less than --depth (\(depth))") }
        let lastSurvival = options.number("survival")
        let maxDepth = options.isGiven("max-depth") || !quick ? Int(options.choice("max-depth"))! : 20
        let highwayDepths = [10, 20, 50, 100].filter { $0 <= maxDepth }
        let fixedGateBias = Double(options.choice("gate-bias"))          // nil: the depth rule
        func gateBias(_ d: Int) -> Float { initialGateBias(depth: d, fixed: fixedGateBias) }
        let run = try LessonRun(lesson: name, title: "Stochastic depth, wide residual networks and highway networks", options: options, console: console)
        var results = Results()
        results.epochs = epochs
        results.seeds = seeds.map { Int($0) }
        results.quick = quick
        results.outputDirectory = run.directory.path
        let thinWidths = [8, 16, 32]

        let (training, validation, _, _) = try LabeledImages.smallDigits(
            directory: options.fixtures.appendingPathComponent("mnist-5k"), trainCount: trainCount,
            validationCount: quick ? 200 : 1_000, side: 16, seed: options.seed)
        results.trainExamples = training.count
        var settings = TrainingSettings(epochs: epochs, batchSize: 64,
                                        schedule: epochs > 1 ? .step(initial: 0.1, milestones: [epochs - 1], factor: 0.1) : .constant(0.1))
        settings.weightDecay = 1e-4
        let budget = "\(epochs) epoch\(epochs == 1 ? "" : "s") of SGD on \(ModelSummary.grouped(training.count)) digits at 16x16"
            + " (lr 0.1\(epochs > 1 ? ", divided by 10 for the last epoch" : ""), momentum 0.9, weight decay 1e-4, batch 64),"
            + " held-out error on \(ModelSummary.grouped(validation.count)) digits, seeds \(seeds.map(String.init).joined(separator: ", "))"
        var trainSeconds = 0.0

        /// Trains `make(seed)` on every seed: held-out errors, training errors, seconds.
        func trainArm(_ label: String, _ make: (UInt64) -> Layer, after: ((Layer) -> Void)? = nil) throws
            -> (valErrors: [Double], trainErrors: [Double], seconds: Double) {
            var val: [Double] = [], train: [Double] = [], seconds = 0.0
            for seed in seeds {
                let net = make(seed)
                var trainer = Trainer(settings)
                trainer.label = "\(label), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
                val.append(1 - (history.last?.validationAccuracy ?? 0))
                train.append(1 - (history.last?.trainAccuracy ?? 0))
                seconds += history.seconds
                after?(net)
                run.note("\(label), seed \(seed): held-out error \(percent(val.last!)), training error \(percent(train.last!)),"
                         + String(format: " %.1f s", history.seconds))
            }
            trainSeconds += seconds
            return (val, train, seconds)
        }

        // 1. Stochastic depth.
        run.step("Stochastic depth: train a shorter net, test the whole one")
        let blocks = 3 * (depth - 2) / 6
        let survival = StochasticDepth.survivalProbabilities(blocks: blocks, last: lastSurvival)
        results.sdBlocks = blocks
        results.sdSurvival = survival
        results.sdExpectedDepth = StochasticDepth.expectedDepth(blocks: blocks, last: lastSurvival)
        run.say("Huang et al. (2016) drop whole residual blocks while training: block l computes H_l = ReLU(b_l f_l(H_{l-1}) + H_{l-1})"
                + " with b_l = 1 (it survives) with probability p_l and 0 otherwise, when it is only its shortcut and costs nothing."
                + " The survival probability decays linearly from the input, p_l = 1 - (l/L)(1 - p_L), with p_L = 0.5. At test time"
                + " every block runs, its residual branch scaled by p_l: H_l = ReLU(p_l f_l(H_{l-1}) + H_{l-1}), as dropout scales.")
        run.show(ReportTable(headers: ["block l"] + (1...blocks).map(String.init),
                             rows: [["p_l"] + survival.map { String(format: "%.3f", $0) }]))
        let paperBlocks = 54
        run.say(String(format: "The expected number of blocks a mini-batch runs is E(L~) = sum p_l = %.3f for this res-%d (L = %d)", results.sdExpectedDepth, depth, blocks)
                + (lastSurvival == 0.5 ? String(format: "; (3L - 1)/4 = %.3f.", Double(3 * blocks - 1) / 4) : ".")
                + String(format: " The paper's 110-layer net has L = %d blocks: E(L~) = %.2f, \"about 40\", so about a quarter of"
                         + " the forward and backward work is skipped.", paperBlocks, StochasticDepth.expectedDepth(blocks: paperBlocks, last: lastSurvival)))
        try run.writeFigure(svg: RegularizersPictures.survival(survival, depth: depth),
                            name: "survival.svg", caption: "survival probability p_l of each block (linear decay rule)")

        run.say("Both nets below are the ResNet lesson's res-\(depth) (post-activation, widths \(thinWidths.map(String.init).joined(separator: "/")),"
                + " \(ModelSummary.grouped(RegularizersNets.parameters(depth: depth, widths: thinWidths))) parameters) with the same"
                + " initial weights on each seed; one trains with stochastic depth. Budget: \(budget).")
        let baseline = try trainArm("res-\(depth)") { RegularizersNets.residual(depth: depth, widths: thinWidths, seed: $0) }
        var runsPerPass: [Double] = []
        let stochastic = try trainArm("res-\(depth), stochastic depth", { RegularizersNets.stochastic(depth: depth, widths: thinWidths, lastSurvival: lastSurvival, seed: $0) },
                                      after: { net in runsPerPass.append((net as! StochasticDepthResNet).blocksRunPerPass) })
        results.valErrorsBaseline = baseline.valErrors
        results.valErrorsSd = stochastic.valErrors
        results.valErrorBaseline = mean(baseline.valErrors)
        results.valErrorSd = mean(stochastic.valErrors)
        results.trainErrorBaseline = mean(baseline.trainErrors)
        results.trainErrorSd = mean(stochastic.trainErrors)
        results.secondsBaseline = baseline.seconds
        results.secondsSd = stochastic.seconds
        results.sdBlocksRun = mean(runsPerPass)
        results.sdTimeSaved = 1 - stochastic.seconds / baseline.seconds
        run.show(armTable(["res-\(depth)", "res-\(depth), stochastic depth"], [baseline, stochastic], seeds: seeds))
        run.say(String(format: "Blocks run: %.2f per training mini-batch on average (counted over every mini-batch of every seed),"
                       + " against the expected %.3f of %d. Training time: %.1f s with stochastic depth against %.1f s without,"
                       + " %.1f%% saved (the paper: about 25%%; here the 1x1 projections of the two stage-changing blocks and the"
                       + " batch's loss and optimizer step run whatever is dropped, and the machine is shared).",
                       results.sdBlocksRun, results.sdExpectedDepth, blocks, stochastic.seconds, baseline.seconds, 100 * results.sdTimeSaved))
        run.say(compare("stochastic depth", stochastic.valErrors, "without", baseline.valErrors)
                + " Huang et al. train for 500 epochs on 45,000 images; on ImageNet, at 90 epochs, their net with stochastic depth was"
                + " still slightly worse than without (23.38% against 23.06%) and caught up only with more epochs. Stochastic depth is"
                + " a regulariser: each update trains a random shorter net, which costs accuracy until training is long enough for"
                + " the ensemble to settle; \(epochs) epoch\(epochs == 1 ? "" : "s") here is far from that.")
        run.show(ReportTable(headers: ["the paper's (Huang et al. 2016)", "test error, constant depth", "with stochastic depth",
                                       "training time, constant", "stochastic"],
                             rows: RegularizersPaper.stochasticDepth.map { [$0.data, $0.constant + "%", $0.stochastic + "%", $0.constantTime, $0.stochasticTime] }))

        // 2. Wide against deep.
        run.step("Wide residual networks: width instead of depth")
        run.say("Zagoruyko and Komodakis (2016) widen every 3x3 convolution of a CIFAR ResNet by a factor k (16k, 32k, 64k filters)"
                + " and cut the depth: WRN-d-k. Their argument: the power is in the residual blocks, not in extreme depth, and wide"
                + " layers use the hardware better. Their nets, counted here from their shapes (pre-activation blocks, 1x1 projections"
                + " where the width changes), beside their Table 5 (CIFAR test error %, theirs, not measured here):")
        var countRows: [[String]] = []
        for row in RegularizersPaper.table5 {
            var counted = "not built here"
            if row.model == "WRN", let dk = row.depthK {
                let parts = dk.split(separator: "-").map { Int($0)! }
                let p = RegularizersNets.wideResNet(depth: parts[0], k: parts[1]).parameterCount
                counted = ModelSummary.grouped(p)
                switch dk { case "40-4": results.wrn404Parameters = p; case "16-8": results.wrn168Parameters = p; default: results.wrn2810Parameters = p }
            } else if row.model == "original-ResNet", let d = row.depthK.flatMap({ Int($0) }) {
                let p = CifarResNet(depth: d).parameterCount
                counted = ModelSummary.grouped(p)
                if d == 110 { results.resnet110Parameters = p } else { results.resnet1202Parameters = p }
            } else if row.depthK == nil {
                counted = "-"
            }
            countRows.append([row.model, row.depthK ?? "", row.parameters ?? "", counted, row.cifar10, row.cifar100])
        }
        run.show(ReportTable(headers: ["the paper's model", "depth-k", "its #params", "counted here", "CIFAR-10", "CIFAR-100"], rows: countRows))
        run.say("Our counts round to the paper's for WRN-40-4, 16-8 and 28-10 and for ResNet-110. Not for ResNet-1202: counted, it has"
                + " \(ModelSummary.grouped(results.resnet1202Parameters)) parameters, as He et al. (2015, Table 6: 19.4M) report; the 10.2M"
                + " Table 5 prints beside it is pre-act-ResNet-1001's (a bottleneck net, not built here). The pre-activation"
                + " bottleneck ResNets (164, 1001 layers) are not built here either; their numbers are the paper's.")

        let thinParameters = RegularizersNets.parameters(depth: depth, widths: thinWidths)
        let wideWidths = RegularizersNets.wideWidths(depth: wideDepth, matching: thinParameters)
        results.thinParameters = thinParameters
        results.wideWidths = wideWidths
        results.wideParameters = RegularizersNets.parameters(depth: wideDepth, widths: wideWidths)
        let wideLabel = "res-\(wideDepth) wide (\(wideWidths.map(String.init).joined(separator: "/")))"
        run.say("Here: the thin deep res-\(depth) of step 1 (widths 8/16/32, \(ModelSummary.grouped(thinParameters)) parameters; its runs"
                + " above are reused) against a wide shallow \(wideLabel), k = \(String(format: "%.2g", Double(wideWidths[0]) / 8)),"
                + " \(ModelSummary.grouped(results.wideParameters)) parameters: the nearest to the thin net's count. Same data, budget and seeds.")
        let wide = try trainArm(wideLabel) { RegularizersNets.residual(depth: wideDepth, widths: wideWidths, seed: $0) }
        results.valErrorsWide = wide.valErrors
        results.valErrorWide = mean(wide.valErrors)
        results.secondsWide = wide.seconds
        run.show(armTable(["res-\(depth) thin (8/16/32)", wideLabel], [baseline, wide], seeds: seeds,
                          parameters: [thinParameters, results.wideParameters]))
        run.say(compare("the wide shallow net", wide.valErrors, "the thin deep one", baseline.valErrors)
                + String(format: " Wall-clock training time: %.1f s wide against %.1f s thin (%.2fx): the wide net runs %d blocks of wide"
                         + " convolutions where the thin one runs %d of narrow ones%@",
                         wide.seconds, baseline.seconds, wide.seconds / baseline.seconds, 3 * (wideDepth - 2) / 6, blocks,
                         wide.seconds < baseline.seconds
                            ? ", and fewer, larger operations keep the cores busier."
                            : "; here, on a 2-core CPU and not the paper's GPU, that did not make the wide net faster."))

        // 3. Highway networks.
        run.step("Highway networks: a gate between transforming and carrying")
        run.say("A highway layer computes y = H(x) T(x) + x (1 - T(x)), where H(x) = ReLU(W_H x + b_H) is an ordinary layer and the"
                + " transform gate T(x) = sigmoid(W_T x + b_T) decides, unit by unit, how much of H to take and how much of the input"
                + " to carry unchanged. With T = 0 the layer is the identity. Srivastava et al. (2015) start the gate's bias b_T"
                + " negative (\"-1, -3 etc.\"), so every layer starts close to carrying its input. A residual layer"
                + " y = x + W_2 ReLU(W_1 x + b_1) + b_2 is the same idea with both gates fixed open; started with W_2 = 0 it is"
                + " exactly the identity at first.")
        let thin = try LabeledImages.mnist5k(fixtures: options.fixtures, trainCount: trainCount, validationCount: 0, seed: options.seed).train
        var digits = thin
        let statistics = digits.pixelStatistics
        digits.normalize(mean: statistics.mean, std: statistics.std)
        let highwayEpochs = options.epochs ?? (quick ? 1 : 3)
        var thinSettings = TrainingSettings(epochs: highwayEpochs, batchSize: 64, schedule: .constant(options.number("highway-lr")))
        thinSettings.momentum = 0.9
        results.highwayDepths = highwayDepths
        results.gateBias = highwayDepths.map { Double(gateBias($0)) }
        results.highwayEpochs = highwayEpochs
        run.say("As in the paper's optimisation experiment: thin fully connected nets on the digits (28x28, flattened to 784, normalised),"
                + " a first plain layer, then depth - 1 plain layers of 71 units, or highway layers of 50 units, or residual layers of 50"
                + " units (about 5,000 parameters per layer each), then the 10-way softmax layer. Every weight from N(0, 2/fan_in)"
                + " (the paper's normalised initialisation for ReLU), every bias 0 but the gates' b_T, and each residual layer's W_2 = 0."
                + String(format: " %@: %@. Each net: %d epoch%@ of SGD",
                         fixedGateBias == nil
                            ? "The gate bias follows the paper's guideline (\"-1, -2 and -3 for ... depth approximately 10, 20 and 30\")"
                              + " as one rule, fixed before any run with it: b_T = -d/10 for a net of d layers"
                            : "The gate bias is the same at every depth (--gate-bias; the default is the rule b_T = -d/10)",
                         highwayDepths.map { String(format: "b_T = %g at %d layers", Double(gateBias($0)), $0) }.joined(separator: ", "),
                         highwayEpochs, highwayEpochs == 1 ? "" : "s")
                + " (lr \(options.number("highway-lr")), momentum 0.9, batch 64) on \(ModelSummary.grouped(digits.count)) digits, seeds"
                + " \(seeds.map(String.init).joined(separator: ", ")); the number is the mean cross-entropy on the whole training set after"
                + " the last epoch (what Figure 1 of the paper plots).")
        var losses: [ThinNet.Kind: [[Double]]] = [:]            // per depth, per seed
        var trainedHighway: ThinNet?
        for kind in ThinNet.Kind.allCases {
            for d in highwayDepths {
                var perSeed: [Double] = []
                for seed in seeds {
                    let net = ThinNet(kind: kind, depth: d).initialize(seed: seed, gateBias: gateBias(d))
                    var trainer = Trainer(thinSettings)
                    trainer.label = "\(kind.rawValue)-\(d), seed \(seed)"
                    trainer.printsEpochs = false
                    trainer.measuresTrainingSet = true
                    do {
                        let history = try trainer.train(net, on: digits, seed: seed, console: console)
                        trainSeconds += history.seconds
                        let loss = history.last?.trainingSetLoss ?? .nan
                        perSeed.append(loss.isFinite ? loss : .nan)
                        run.note("\(kind.rawValue)-\(d), seed \(seed): " + (loss.isFinite ? "training-set loss " + String(format: "%.4f", loss) : "diverged (training-set loss NaN after the last epoch)")
                                 + String(format: ", %.1f s", history.seconds))
                    } catch let error as LessonError where error.description.contains("diverged") {
                        perSeed.append(.nan)
                        run.note("\(kind.rawValue)-\(d), seed \(seed): diverged (\(error.description))")
                    }
                    if kind == .highway && d == highwayDepths.last && seed == seeds[0] { trainedHighway = net }
                }
                losses[kind, default: []].append(perSeed)
            }
        }
        func means(_ kind: ThinNet.Kind) -> [Double] { (losses[kind] ?? []).map { $0.contains { $0.isNaN } ? .nan : mean($0) } }
        results.finalLossPlain = means(.plain)
        results.finalLossHighway = means(.highway)
        results.finalLossResidual = means(.residual)
        func lossText(_ x: Double) -> String { x.isNaN ? "diverged" : String(format: x < 0.001 ? "%.2e" : "%.4f", x) }
        run.show(ReportTable(headers: ["depth", "parameters: plain / highway / residual"] + ThinNet.Kind.allCases.map { "\($0.rawValue): loss (mean)" }
                                + ThinNet.Kind.allCases.map { "\($0.rawValue): per seed" },
                             rows: highwayDepths.enumerated().map { i, d in
                                 [String(d), ThinNet.Kind.allCases.map { ModelSummary.grouped(ThinNet(kind: $0, depth: d).parameterCount) }.joined(separator: " / ")]
                                     + ThinNet.Kind.allCases.map { lossText(means($0)[i]) }
                                     + ThinNet.Kind.allCases.map { k in (losses[k]?[i] ?? []).map(lossText).joined(separator: " / ") }
                             }))
        run.say(highwayVerdict(depths: highwayDepths, plain: results.finalLossPlain, highway: results.finalLossHighway,
                               residual: results.finalLossResidual))
        run.say("The paper's finding: " + RegularizersPaper.highwayFinding + ". Here the budget is a few epochs on a few thousand digits"
                + " with one learning rate for every net, so no loss comes near 1e-4; what can show is the ordering across depth.")
        try run.writeFigure(svg: RegularizersPictures.highwayLosses(depths: highwayDepths, plain: results.finalLossPlain,
                                                                    highway: results.finalLossHighway, residual: results.finalLossResidual),
                            name: "highway-depth.svg", caption: "training-set loss after training against depth: plain, highway and residual thin nets (log scale)")
        if let net = trainedHighway {
            let probe = gatherRows(digits.images, Array(0..<min(500, digits.count)))
            net.eval()
            _ = net(probe)
            let gates = net.highwayLayers.map { layer in Double(layer.lastGate!.reduce(0, +)) / Double(layer.lastGate!.count) }
            net.train()
            run.say(String(format: "In the trained highway-%d (seed %d) the mean transform gate T over 500 training digits runs from %.3f"
                           + " in its first highway layer to %.3f in its last (sigmoid(b_T) = %.2g at the start): ",
                           highwayDepths.last!, seeds[0], gates.first!, gates.last!, 1 / (1 + exp(-Double(gateBias(highwayDepths.last!)))))
                    + (gates.max()! < 0.05
                       ? "every layer still carries nearly all of its input, so the trained net computes close to what its first plain"
                         + " layer and the softmax layer alone would. What the negative gate bias buys here is that 100 layers do not"
                         + " stop the training (the plain net of that depth stays near chance); it does not show the depth being used."
                       : (losses[.highway]?.last?.first ?? .nan) > 2.2
                         ? "the gates stayed near their start and the net did not learn (its loss is near chance, ln 10 = 2.30)."
                         : "each layer still carries most of its input, and the net uses only as much depth as it needs."))
            try run.writeFigure(svg: RegularizersPictures.gates(gates, depth: highwayDepths.last!, initial: 1 / (1 + exp(-Double(gateBias(highwayDepths.last!))))),
                                name: "highway-gates.svg", caption: "mean transform gate T(x) of each highway layer after training, 500 training digits")

            // 4. The race.
            run.step("The race: the highway combination, naive and fast")
            let layer = net.highwayLayers[net.highwayLayers.count / 2]
            let x = gatherRows(digits.images, Array(0..<min(quick ? 256 : 1_000, digits.count)))
            var activations = x
            for l in net.layers {
                if l === layer { break }
                activations = l(activations)
            }
            let h = layer.relu(layer.transform(activations)).data, g = layer.gate(activations).data, a = activations.data
            var generator = SeededGenerator(seed: options.seed)
            let dy = Tensor.randomNormal(activations.shape, using: &generator).data
            let race = KernelRace.run([
                RaceEntrant(name: "naive: one element at a time, exp in Double", kernel: "Naive.highway", isSlow: true,
                            forward: { [Naive.highway(a, transform: h, gate: g)] },
                            backward: { let d = Naive.highwayBackward(a, transform: h, gate: g, outputGradient: dy); return [d.input, d.transform, d.gate] }),
                RaceEntrant(name: "fast: fused SIMD16 pass, polynomial sigmoid", kernel: "Fast.highway",
                            forward: { [Fast.highway(a, transform: h, gate: g)] },
                            backward: { let d = Fast.highwayBackward(a, transform: h, gate: g, outputGradient: dy); return [d.input, d.transform, d.gate] }),
            ], quick: quick)
            run.say("Layer \(net.highwayLayers.count / 2 + 1) of the trained highway-\(highwayDepths.last!), on the real activations of"
                    + " \(activations.shape[0]) digits (\(shapeText(activations.shape))): its real H(x) and gate pre-activations, a random upstream"
                    + " gradient; forward y = x + T (H - x), backward the three gradients.")
            run.show(race.captionedTable)
            results.raceNaiveMs = race.rows[0].totalSeconds * 1e3
            results.raceFastMs = race.rows[1].totalSeconds * 1e3
            results.raceSpeedup = race.speedup
            results.raceMaxDifference = race.maxRelativeDifference
            run.say(String(format: "The fast kernel is %.1fx the naive one, same numbers to %.1e (its polynomial sigmoid against"
                           + " Foundation's exp): small next to the two %dx%d matrix products around it, which is why the layer"
                           + " runs the fused kernel and not four separate passes.", race.speedup, race.maxRelativeDifference, layer.features, layer.features))
        }
        results.trainSeconds = trainSeconds

        let headline = String(format: "stochastic depth ran %.2f of %d blocks (expected %.2f), %.0f%% time saved; wide %@ vs thin %@ held out; highway-%d loss %@ vs plain %@",
                              results.sdBlocksRun, blocks, results.sdExpectedDepth, 100 * results.sdTimeSaved,
                              percent(results.valErrorWide), percent(results.valErrorBaseline), highwayDepths.last!,
                              lossText(results.finalLossHighway.last!), lossText(results.finalLossPlain.last!))
        try run.finish(headline: headline, results: results)
        return results
    }

    /// The initial gate bias b_T of a highway net of `depth` layers: the paper's guideline (-1, -2,
    /// -3 at depths about 10, 20, 30) as one rule, b_T = -depth / 10, the same for every seed; or
    /// `fixed` at every depth when given.
    public static func initialGateBias(depth: Int, fixed: Double? = nil) -> Float {
        Float(fixed ?? -Double(depth) / 10)
    }

    /// Each arm's held-out error on every seed, the mean and spread, training error and time.
    static func armTable(_ labels: [String], _ arms: [(valErrors: [Double], trainErrors: [Double], seconds: Double)],
                         seeds: [UInt64], parameters: [Int]? = nil) -> ReportTable {
        ReportTable(headers: ["net"] + (parameters == nil ? [] : ["parameters"]) + seeds.map { "held-out err, seed \($0)" }
                        + ["mean", "spread", "train err (mean)", "training time"],
                    rows: zip(labels, arms).enumerated().map { i, pair in
                        let (label, arm) = pair
                        return [label] + (parameters.map { [ModelSummary.grouped($0[i])] } ?? []) + arm.valErrors.map(percent)
                            + [percent(mean(arm.valErrors)), percent(spreadOf(arm.valErrors)), percent(mean(arm.trainErrors)),
                               String(format: "%.1f s", arm.seconds)]
                    })
    }

    /// "A: x% against B: y% (...)": beyond the seed-to-seed spread or not.
    static func compare(_ a: String, _ errorsA: [Double], _ b: String, _ errorsB: [Double]) -> String {
        let gap = mean(errorsA) - mean(errorsB), spread = max(spreadOf(errorsA), spreadOf(errorsB))
        let head = "Held-out error, mean over seeds: \(a) \(percent(mean(errorsA))) against \(b) \(percent(mean(errorsB)))"
        if errorsA.count < 2 { return head + " (one seed: no spread measured, so no difference is claimed)." }
        let everySeed = zip(errorsA, errorsB).allSatisfy { gap > 0 ? $0 > $1 : $0 < $1 }
        if abs(gap) > spread && everySeed {
            return head + String(format: ": %@ is %@ on every seed, by more than the seed-to-seed spread (%@).", a, gap > 0 ? "WORSE" : "better", percent(spread))
        }
        return head + ": no difference shown (within the seed-to-seed spread of \(percent(spread)), or not on every seed)."
    }

    static func highwayVerdict(depths: [Int], plain: [Double], highway: [Double], residual: [Double]) -> String {
        guard let last = depths.indices.last else { return "" }
        func text(_ x: Double) -> String { x.isNaN ? "diverged" : String(format: "%.3g", x) }
        var sentence = "Training-set loss from \(depths.first!) to \(depths.last!) layers: plain \(text(plain[0])) to \(text(plain[last])),"
            + " highway \(text(highway[0])) to \(text(highway[last])), residual \(text(residual[0])) to \(text(residual[last]))."
        let highwayHolds = !highway[last].isNaN && (plain[last].isNaN || highway[last] < plain[last] / 3)
        sentence += highwayHolds
            ? " The paper's effect shows: the deepest highway net trains to a loss well below the plain net of its depth."
            : " The paper's effect did not show clearly at this budget: the deepest highway net did not end well below the plain one."
        let shallowWorse = depths.indices.filter { !highway[$0].isNaN && !plain[$0].isNaN && highway[$0] > plain[$0] }
        if !shallowWorse.isEmpty {
            sentence += " At " + shallowWorse.map { "\(depths[$0])" }.joined(separator: " and ") + " layers the highway net ended ABOVE"
                + " the plain one: the gates' advantage is in depth, not at every depth."
        }
        if residual.contains(where: \.isNaN) || (residual[last] > 2 * max(residual[0], 1e-9)) {
            sentence += " The residual nets, with no normalisation, degrade or diverge with depth at this learning rate: every layer"
                + " ADDS its branch to the signal, whose scale can grow layer by layer once the branches move away from zero,"
                + " where the highway gate keeps each layer's output a weighted average of its input and H."
        }
        return sentence
    }
}
