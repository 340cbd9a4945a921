import ConvNetCore
import Foundation

// `lesson run resnet`: the degradation problem, fixed by shortcuts, and identity mappings.
//
//   1. the networks: CIFAR ResNets (6n+2 layers) counted beside the published counts, and
//      the lesson's small ones (widths 8/16/32, 16x16 digits);
//   2. the data: Fixtures/mnist-5k resized to 16x16 by area averaging, normalised;
//   3. the degradation problem: plain and residual nets of two depths trained with the
//      same budget on the same seeds; the training error of each (the course: "training
//      error goes up when having deeper NN"), one plot;
//   4. why: the gradient norm of every convolution at initialisation, plain and residual,
//      on a real batch (log-scale plot);
//   5. the identity is easy to learn: a block whose last batch norm is zeroed computes its
//      input exactly, so a trained deep net with zeroed blocks IS a shallower net;
//   6. identity mappings (He et al. 2016): identity vs constant scaling 0.5 vs
//      pre-activation shortcuts, same budget and seeds, beside the paper's Tables 1 and 2;
//   7. the race: batch norm, residual add and ReLU fused in one kernel vs separate passes,
//      on a real block, forward and backward, with the bytes each moves.

/// The ResNet lesson, as `lesson list` and `lesson run resnet` see it.
public enum ResNetLesson: Lesson {
    public static let name = "resnet"
    public static let folder = "ResNet"
    public static let summary = "ResNet (2015): a deeper plain net trains worse, shortcuts fix it; identity mappings and pre-activation"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "2", help: "paired seeds for every comparison (--quick: 1)"),
        LessonOption("deep", .integer(8...110), default: "56", help: "depth 6n+2 of the deep nets"),
        LessonOption("shallow", .integer(8...110), default: "20", help: "depth 6n+2 of the shallow nets"),
        LessonOption("lr", .number(1e-4...1), default: "0.1", help: "learning rate of SGD with momentum 0.9"),
        LessonOption("train", .integer(100...4_500), default: "4000", help: "training digits (--quick: 600)"),
    ]

    public static let notes = """
    Defaults: 6 epochs (--epochs), batch 64, weight decay 1e-4, on 16x16 digits (--quick: 2 epochs).
    Writes under --out: index.html, degradation.svg, gradient-norms.svg, identity-mappings.svg,
    res-<deep>.safetensors (the residual net of the first seed).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("train_error_plain_20", "plain-20: training error of the last epoch, measured while training (mean over seeds)"),
        ResultKey("train_error_plain_56", "plain-56 (keys follow --shallow and --deep; these are the defaults)"),
        ResultKey("train_error_res_20", "res-20: residual, post-activation, identity shortcuts"),
        ResultKey("train_error_res_56", "res-56"),
        ResultKey("train_error_scaled_56", "every shortcut scaled by 0.5"),
        ResultKey("train_error_preact_56", "pre-activation blocks"),
        ResultKey("val_error_plain_20", "held-out error of each net (mean over seeds)"),
        ResultKey("val_error_plain_56", "held-out error"),
        ResultKey("val_error_res_20", "held-out error"),
        ResultKey("val_error_res_56", "held-out error"),
        ResultKey("val_error_scaled_56", "held-out error"),
        ResultKey("val_error_preact_56", "held-out error"),
        ResultKey("degradation_shown", "plain deep ends above plain shallow in every seed, and res deep below plain deep in every seed"),
        ResultKey("gradient_depth", "depth of the nets whose gradient norms were measured"),
        ResultKey("gradient_ratio_plain", "first conv's gradient norm / last conv's, plain net at initialisation"),
        ResultKey("gradient_ratio_res", "the same for the residual net"),
        ResultKey("zeroed_blocks", "blocks whose last batch norm was zeroed in the trained residual net"),
        ResultKey("zeroed_max_difference", "largest |difference| between the zeroed net's logits and the shallower net's (0: exact)"),
        ResultKey("val_error_zeroed", "held-out error of the trained residual net with those blocks zeroed"),
        ResultKey("scaled_product", "0.5 to the power of the blocks: how much of an early block's signal reaches the output"),
        ResultKey("race_speedup", "separate fast passes time / fused kernel time, forward + backward"),
        ResultKey("race_naive_ms", "naive batch norm, add, ReLU forward + backward"),
        ResultKey("race_separate_ms", "fast kernels, one pass each"),
        ResultKey("race_fused_ms", "the fused kernel"),
        ResultKey("race_max_difference", "largest relative difference from the naive results"),
        ResultKey("race_bytes_separate", "bytes the separate passes move (forward + backward)"),
        ResultKey("race_bytes_fused", "bytes the fused kernel moves"),
    ] + ResultKey.trainingRun

    /// The `--json` object: fixed keys, plus one key per net trained (`train_error_plain_56`).
    public struct Results: Encodable {
        var errors: [String: Double] = [:]
        var degradationShown = false
        var gradientDepth = 0, gradientRatioPlain = 0.0, gradientRatioRes = 0.0
        var zeroedBlocks = 0, zeroedMaxDifference = 0.0, valErrorZeroed = 0.0
        var scaledProduct = 0.0
        var raceSpeedup = 0.0, raceNaiveMs = 0.0, raceSeparateMs = 0.0, raceFusedMs = 0.0, raceMaxDifference = 0.0
        var raceBytesSeparate = 0, raceBytesFused = 0
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, trainSeconds = 0.0, quick = false, outputDirectory = ""

        struct Key: CodingKey {
            var stringValue: String
            init(_ s: String) { stringValue = s }
            init?(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            for (key, value) in errors { try c.encode(value, forKey: Key(key)) }
            try c.encode(degradationShown, forKey: Key("degradation_shown"))
            try c.encode(gradientDepth, forKey: Key("gradient_depth"))
            try c.encode(gradientRatioPlain, forKey: Key("gradient_ratio_plain"))
            try c.encode(gradientRatioRes, forKey: Key("gradient_ratio_res"))
            try c.encode(zeroedBlocks, forKey: Key("zeroed_blocks"))
            try c.encode(zeroedMaxDifference, forKey: Key("zeroed_max_difference"))
            try c.encode(valErrorZeroed, forKey: Key("val_error_zeroed"))
            try c.encode(scaledProduct, forKey: Key("scaled_product"))
            try c.encode(raceSpeedup, forKey: Key("race_speedup"))
            try c.encode(raceNaiveMs, forKey: Key("race_naive_ms"))
            try c.encode(raceSeparateMs, forKey: Key("race_separate_ms"))
            try c.encode(raceFusedMs, forKey: Key("race_fused_ms"))
            try c.encode(raceMaxDifference, forKey: Key("race_max_difference"))
            try c.encode(raceBytesSeparate, forKey: Key("race_bytes_separate"))
            try c.encode(raceBytesFused, forKey: Key("race_bytes_fused"))
            try c.encode(epochs, forKey: Key("epochs"))
            try c.encode(seeds, forKey: Key("seeds"))
            try c.encode(trainExamples, forKey: Key("train_examples"))
            try c.encode(trainSeconds, forKey: Key("train_seconds"))
            try c.encode(quick, forKey: Key("quick"))
            try c.encode(outputDirectory, forKey: Key("output_directory"))
        }
    }

    /// One trained net: what it measured on each seed.
    struct Arm {
        var kind: NetKind
        var depth: Int
        var histories: [TrainingHistory] = []
        var label: String { kind.label(depth: depth) }
        /// Training error of the last epoch (measured while training), per seed.
        var trainErrors: [Double] { histories.map { 1 - ($0.last?.trainAccuracy ?? 0) } }
        var validationErrors: [Double] { histories.map { 1 - ($0.last?.validationAccuracy ?? 0) } }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let deep = options.integer("deep"), shallow = options.integer("shallow")
        for depth in [deep, shallow] where (depth - 2) % 6 != 0 {
            throw LessonError("depths must be 6n+2 (8, 14, 20, 26, 32, 44, 56, 110), got \(depth)")
        }
        guard shallow < deep else { throw LessonError("--shallow (\(shallow)) must be less than --deep (\(deep))") }
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 2 : 6)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 600
        let gradientDepth = 110
        var settings = TrainingSettings(epochs: epochs, batchSize: 64, schedule: .constant(options.number("lr")))
        settings.weightDecay = 1e-4
        let run = try LessonRun(lesson: name, title: "ResNet: the degradation problem, fixed by shortcuts", options: options, console: console)
        var results = Results()
        results.epochs = epochs
        results.seeds = seeds.map { Int($0) }
        results.quick = quick
        results.outputDirectory = run.directory.path

        // 1. The networks.
        run.step("The networks")
        run.say("A residual block computes a[l+2] = g(z[l+2] + a[l]): the block's input a[l] skips two layers and is added"
                + " before the ReLU g. A plain block is the same without + a[l]. He et al. 2015 stack 3n such blocks for CIFAR-10:"
                + " 6n+2 layers.")
        let published = PublishedCounts.all(fixtures: options.fixtures)
        var rows: [[String]] = []
        for depth in [20, 56, 110] {
            let net = CifarResNet(depth: depth)
            let s = net.summary(inputShape: [1, 3, 32, 32])
            let p = published["cifar_resnet\(depth)"]
            let paper = ResNetPaper.table6.first { $0.depth == depth }
            rows.append(["ResNet-\(depth), CIFAR-10 (16/32/64)", ModelSummary.grouped(s.parameters), ModelSummary.grouped(s.macs),
                         p.map { $0.parameters == s.parameters && $0.macs == s.macs ? "match" : "MISMATCH" } ?? "-",
                         paper?.parameters ?? ""])
        }
        for depth in [shallow, deep] {
            for kind in [NetKind.plain, .residual] {
                let s = CifarResNet.lessonNet(kind, depth: depth, seed: 0).summary(inputShape: [1, 1, 16, 16])
                rows.append(["\(kind.label(depth: depth)), this lesson (8/16/32, 16x16)", ModelSummary.grouped(s.parameters),
                             ModelSummary.grouped(s.macs), "", ""])
            }
        }
        run.show(ReportTable(headers: ["network", "parameters", "MACs", "torchvision-counts.json", "the paper's (Table 6)"], rows: rows))
        run.say("A plain net has no projection shortcuts, so it has slightly fewer parameters than the residual net of its depth.")

        // 2. The data.
        run.step("The data")
        let (training, validation, pixelMean, pixelStd) = try LabeledImages.smallDigits(
            directory: options.fixtures.appendingPathComponent("mnist-5k"), trainCount: trainCount,
            validationCount: quick ? 200 : 1_000, side: 16, seed: options.seed)
        results.trainExamples = training.count
        run.say("Fixtures/mnist-5k split with seed \(options.seed): \(ModelSummary.grouped(training.count)) training digits and"
                + " \(validation.count) held out, each 28x28 digit averaged down to 16x16 and normalised with the training set's"
                + String(format: " mean %.3f and deviation %.3f.", pixelMean, pixelStd))

        // 3. The degradation problem.
        run.step("The degradation problem")
        run.say("Every net below trains with the same budget: \(epochs) epochs of SGD (lr \(settings.initialLearningRate), momentum 0.9,"
                + " weight decay 1e-4, batch 64), on the same seeds \(seeds.map(String.init).joined(separator: ", ")), each seed"
                + " giving every net the same initialisation stream and the same mini-batches.")
        var trainSeconds = 0.0
        let checkpoints = run.directory.appendingPathComponent("checkpoints")
        try? FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        func train(_ kind: NetKind, depth: Int, keep: ((CifarResNet) -> Void)? = nil) throws -> Arm {
            var arm = Arm(kind: kind, depth: depth)
            for seed in seeds {
                let net = CifarResNet.lessonNet(kind, depth: depth, seed: seed)
                var trainer = Trainer(settings)
                trainer.label = "\(arm.label), seed \(seed)"
                trainer.checkpoint = checkpoints.appendingPathComponent("\(arm.label)-seed\(seed).safetensors")
                trainer.resumes = options.resume
                trainer.printsEpochs = false
                let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
                trainSeconds += history.seconds
                arm.histories.append(history)
                run.note("\(arm.label), seed \(seed): training error \(percent(1 - history.last!.trainAccuracy)),"
                         + " held-out error \(percent(1 - (history.last!.validationAccuracy ?? 0))), \(String(format: "%.1f s", history.seconds))")
                if seed == seeds[0] { keep?(net) }
            }
            return arm
        }
        var trainedResidual: CifarResNet?
        var arms = [try train(.plain, depth: shallow), try train(.plain, depth: deep),
                    try train(.residual, depth: shallow), try train(.residual, depth: deep) { trainedResidual = $0 }]
        run.show(armTable(arms, seeds: seeds))
        let plainShallow = arms[0], plainDeep = arms[1], resDeep = arms[3]
        let degradation = zip(plainDeep.trainErrors, plainShallow.trainErrors).allSatisfy { $0 > $1 }
            && zip(resDeep.trainErrors, plainDeep.trainErrors).allSatisfy { $0 < $1 }
        results.degradationShown = degradation
        let (plainDeepError, plainShallowError, resDeepError) = (percent(mean(plainDeep.trainErrors)),
                                                                 percent(mean(plainShallow.trainErrors)), percent(mean(resDeep.trainErrors)))
        if degradation {
            // Against the shallow plain net the gap is often a fraction of a point: seed by
            // seed (paired: the same mini-batches), not by the means.
            let belowShallow = zip(resDeep.trainErrors, plainShallow.trainErrors).filter { $0 < $1 }.count
            let versusShallow = belowShallow == seeds.count ? ", and below the shallow plain net on every seed too."
                : belowShallow == 0 ? ", though above the shallow plain net on every seed (\(plainShallowError))."
                : ", level with the shallow plain net (\(plainShallowError)): below it on \(belowShallow) of \(seeds.count) seeds."
            run.say("The degradation problem, reproduced: on every seed the \(deep)-layer plain net ends with a HIGHER training"
                    + " error than the \(shallow)-layer one (\(plainDeepError) against \(plainShallowError), means), though it could"
                    + " copy the shallow net and set its extra layers to the identity; the \(deep)-layer residual net, whose extra"
                    + " blocks start near the identity, ends below the plain one on every seed (\(resDeepError))\(versusShallow)")
        } else {
            run.say("In this run the degradation problem did not show on every seed (see the table): the deeper plain net did not"
                    + " end above the shallower one, or the residual net did not end below it. Try more epochs or the default depths.")
        }
        run.say("The paper's CIFAR-10 test errors of the residual nets (He et al. 2015, Table 6; 164 epochs on 50,000 images;"
                + " its plain nets appear only in Figure 6, where plain-56 trains worse than plain-20 throughout):")
        run.show(ReportTable(headers: ["the paper's net", "parameters", "CIFAR-10 test error"],
                             rows: ResNetPaper.table6.map { ["ResNet-\($0.depth)", $0.parameters, String(format: "%.2f%%", $0.testError)] }))
        try run.writeFigure(svg: ResNetPictures.errorCurves(arms, title: "Training error, plain and residual (mean over seeds)"),
                            name: "degradation.svg", caption: "training error per epoch of every net (mean over the seeds)")

        // 4. Why: gradient norms at initialisation.
        run.step("Why: the gradients at initialisation")
        let batch = gatherRows(training.images, Array(0..<64)), labels = Array(training.labels[0..<64])
        let plainNorms = ResNetProbes.gradientNorms(CifarResNet.lessonNet(.plain, depth: gradientDepth, seed: options.seed), batch, labels)
        let resNorms = ResNetProbes.gradientNorms(CifarResNet.lessonNet(.residual, depth: gradientDepth, seed: options.seed), batch, labels)
        results.gradientDepth = gradientDepth
        results.gradientRatioPlain = plainNorms.first! / plainNorms.last!
        results.gradientRatioRes = resNorms.first! / resNorms.last!
        run.say("One forward and backward pass of 64 real digits through a \(gradientDepth)-layer plain and residual net, freshly"
                + " initialised (He), in training mode: the norm of each convolution's weight gradient, from the first layer to the last.")
        run.show(ReportTable(headers: ["net", "first conv", "middle conv", "last conv", "first / last"], rows: [
            ["plain-\(gradientDepth)", sci(plainNorms.first!), sci(plainNorms[plainNorms.count / 2]), sci(plainNorms.last!), sci(results.gradientRatioPlain)],
            ["res-\(gradientDepth)", sci(resNorms.first!), sci(resNorms[resNorms.count / 2]), sci(resNorms.last!), sci(results.gradientRatioRes)],
        ]))
        run.say(gradientVerdict(plain: results.gradientRatioPlain, residual: results.gradientRatioRes, depth: gradientDepth))
        try run.writeFigure(svg: ResNetPictures.gradientNorms(plain: plainNorms, residual: resNorms, depth: gradientDepth),
                            name: "gradient-norms.svg", caption: "gradient norm of each convolution's weights at initialisation, log scale")

        // 5. The identity is easy to learn.
        run.step("The identity is easy to learn")
        let trained = trainedResidual!
        let zeroed = ResNetProbes.blocksToZero(trained)
        let full = Trainer.evaluate(trained, on: validation)
        for (_, block) in zeroed { ResNetProbes.zeroLastBatchNorm(block) }
        let x = gatherRows(validation.images, Array(0..<min(100, validation.count)))
        trained.eval()
        let zeroedLogits = trained(x)
        let shallowerLogits = ResNetProbes.forward(trained, x, skipping: Set(zeroed.map { ObjectIdentifier($0.block) }))
        trained.train()
        results.zeroedBlocks = zeroed.count
        results.zeroedMaxDifference = zip(zeroedLogits.data, shallowerLogits.data).map { Double(abs($0 - $1)) }.max() ?? 0
        results.valErrorZeroed = 1 - Trainer.evaluate(trained, on: validation).accuracy
        run.say("In a post-activation block a[l+2] = g(BN(z) + a[l]). Set the last batch norm's gamma and beta to 0 and BN(z) = 0,"
                + " so a[l+2] = g(a[l]) = a[l], since a[l] came out of a ReLU: the block is exactly the identity. So a deep residual"
                + " net can always be a shallower one, and weight decay only has to pull gamma towards 0 to get there.")
        run.say("On the trained res-\(deep) (seed \(seeds[0])) we zeroed the last batch norm of \(zeroed.count) blocks"
                + " (\(zeroed.map(\.name).joined(separator: ", "))): its logits on \(x.shape[0]) held-out digits and those of the net with"
                + " these blocks removed differ by at most \(sci(results.zeroedMaxDifference))"
                + (results.zeroedMaxDifference == 0 ? " (bit for bit the same)." : ".")
                + " Held-out error: \(percent(1 - full.accuracy)) with every block, \(percent(results.valErrorZeroed)) as the"
                + " \(deep - 2 * zeroed.count)-layer net that remains: "
                + (results.valErrorZeroed - (1 - full.accuracy) > 0.05
                   ? "the trained blocks carried much of what the net computes, so the exact shallower net is a different, worse one."
                   : "the trained blocks changed little of what the net computes."))

        // 6. Identity mappings.
        run.step("Identity mappings (He et al. 2016)")
        let scaled = try train(.scaled, depth: deep), preact = try train(.preActivation, depth: deep)
        arms += [scaled, preact]
        run.show(armTable([resDeep, scaled, preact], seeds: seeds))
        let blocksCount = 3 * (deep - 2) / 6
        results.scaledProduct = pow(0.5, Double(blocksCount))
        run.say("With every shortcut scaled by 0.5, the input of the first of \(blocksCount) blocks reaches the output multiplied by"
                + " 0.5^\(blocksCount) = \(sci(results.scaledProduct)) along the shortcuts, and the gradient comes back the same way:"
                + " the direct path the identity gives is gone.")
        run.say(identityVerdict(res: resDeep, scaled: scaled, preact: preact))
        run.say("The paper's ResNet-110 on CIFAR-10 (He et al. 2016, Table 1: shortcuts; Table 2: pre-activation):")
        run.show(ReportTable(headers: ["the paper's shortcut (ResNet-110)", "CIFAR-10 test error (%)"],
                             rows: ResNetPaper.table1.map { [$0.shortcut, $0.testError] }
                                + ResNetPaper.preActivation.map { ["post- vs full pre-activation, ResNet-\($0.depth)",
                                                                   String(format: "%.2f vs %.2f", $0.original, $0.preActivation)] }))
        run.say("The gated shortcuts and the 1x1-convolution shortcut of Table 1 are not built here.")
        try run.writeFigure(svg: ResNetPictures.errorCurves([resDeep, scaled, preact], title: "Training error by shortcut (mean over seeds)"),
                            name: "identity-mappings.svg", caption: "training error per epoch: identity, scaled 0.5, pre-activation")
        for arm in arms {
            results.errors["train_error_\(arm.kind.rawValue == "residual" ? "res" : arm.kind.rawValue)_\(arm.depth)"] = mean(arm.trainErrors)
            results.errors["val_error_\(arm.kind.rawValue == "residual" ? "res" : arm.kind.rawValue)_\(arm.depth)"] = mean(arm.validationErrors)
        }
        results.trainSeconds = trainSeconds

        // 7. The race: the block's tail fused or in separate passes.
        run.step("The race: batch norm, + a[l] and ReLU in one pass or three")
        let race = ResNetProbes.raceBlockTail(CifarResNet.lessonNet(.residual, depth: shallow, seed: options.seed), batch, labels, quick: quick)
        run.say("The tail of block \(race.blockName) of a res-\(shallow), on the real pre-batch-norm activations of 64 digits"
                + " (\(race.shape)) and the real upstream gradient: y = ReLU(BN(z) + a[l]), forward and backward (each backward"
                + " entrant recomputes its forward pass, whose results it needs).")
        run.show(race.result.table)
        results.raceNaiveMs = race.result.rows[0].totalSeconds * 1e3
        results.raceSeparateMs = race.result.rows[1].totalSeconds * 1e3
        results.raceFusedMs = race.result.rows[2].totalSeconds * 1e3
        results.raceSpeedup = race.result.rows[1].totalSeconds / race.result.rows[2].totalSeconds
        results.raceMaxDifference = race.result.maxRelativeDifference
        results.raceBytesSeparate = race.bytesSeparate
        results.raceBytesFused = race.bytesFused
        run.say(String(format: "Fused, the tail moves %@ bytes instead of %@ (%.1fx fewer) and runs %.2fx as fast as the separate"
                       + " fast passes; same numbers (largest relative difference from the naive loops %.1e).",
                       ModelSummary.grouped(race.bytesFused), ModelSummary.grouped(race.bytesSeparate),
                       Double(race.bytesSeparate) / Double(race.bytesFused), results.raceSpeedup, results.raceMaxDifference))

        try trained.save(to: run.directory.appendingPathComponent("res-\(deep).safetensors"),
                         metadata: ["lesson": "resnet", "seed": String(seeds[0]), "input": "1x16x16 digits, normalised"])
        run.recordFile("checkpoints/", description: "each net's last checkpoint (--resume continues a stopped run from them)")
        run.recordFile("res-\(deep).safetensors", description: "the trained res-\(deep) of seed \(seeds[0]) (its zeroed blocks included)")
        let headline = degradation ? "training error: plain-\(deep) \(plainDeepError), plain-\(shallow) \(plainShallowError), res-\(deep) \(resDeepError)"
                                   : "degradation not shown in this run"
        try run.finish(headline: headline, results: results)
        return results
    }

    /// Every net's training and held-out error of the last epoch, each seed, mean and spread.
    static func armTable(_ arms: [Arm], seeds: [UInt64]) -> ReportTable {
        ReportTable(headers: ["net", "parameters"] + seeds.map { "train err, seed \($0)" } + ["train err (mean)", "spread", "held-out err (mean)"],
                    rows: arms.map { arm in
                        let parameters = CifarResNet.lessonNet(arm.kind, depth: arm.depth, seed: 0).parameterCount
                        let errors = arm.trainErrors
                        return [arm.label, ModelSummary.grouped(parameters)] + errors.map(percent)
                            + [percent(mean(errors)), percent((errors.max() ?? 0) - (errors.min() ?? 0)), percent(mean(arm.validationErrors))]
                    })
    }

    static func gradientVerdict(plain: Double, residual: Double, depth: Int) -> String {
        func describe(_ ratio: Double) -> String {
            ratio > 10 ? "the first layers get \(sci(ratio)) times the last layer's gradient (they explode towards the input)"
                : ratio < 0.1 ? "the first layers get \(sci(ratio)) of the last layer's gradient (it vanishes towards the input)"
                : "the gradient stays within a factor of 10 from the last layer to the first (\(sci(ratio)))"
        }
        return "Plain-\(depth): \(describe(plain)). Res-\(depth): \(describe(residual)). With batch norm after every convolution,"
            + " the lecture's \"vanishing gradients\" is not what a plain net shows here: each batch norm rescales its layer,"
            + " and what the plot shows for the plain net is the measured ratio above."
    }

    static func identityVerdict(res: Arm, scaled: Arm, preact: Arm) -> String {
        func spread(_ a: Arm) -> Double { (a.trainErrors.max() ?? 0) - (a.trainErrors.min() ?? 0) }
        func compare(_ a: Arm, _ b: Arm) -> String {
            let d = mean(b.trainErrors) - mean(a.trainErrors)
            let noise = max(spread(a), spread(b))
            let within = abs(d) <= noise || a.histories.count < 2
            return "\(b.label) \(percent(mean(b.trainErrors))) against \(a.label) \(percent(mean(a.trainErrors)))"
                + (within ? " (within the seed-to-seed spread\(a.histories.count < 2 ? " — one seed, no spread measured" : ""): no difference shown)"
                          : (d > 0 ? " (worse, beyond the spread)" : " (better, beyond the spread)"))
        }
        return "Training error, mean over seeds: " + compare(res, scaled) + "; " + compare(res, preact) + "."
    }
}

