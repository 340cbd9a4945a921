import ConvNetCore
import Foundation
import LeNetLesson

// `lesson run transfer`: transfer learning with lesson 1's LeNet-5, for real.
//
//   1. the source task: LeNet-5 pretrained on the MNIST-5k digits 0-4 (or any LeNet-5
//      checkpoint given with --weights, whose output layer is replaced);
//   2. the target task: digits 5-9 learned from 5, 20 and 100 labels per class, on paired
//      seeds, five ways: from scratch; C1-F6 frozen + a new softmax (features recomputed
//      every epoch); the same on features cached to disk once (FeatureCache, Frozen.swift);
//      the last layers fine-tuned (C1-S4 frozen); everything fine-tuned;
//   3. the cache: its size on disk, reading it against recomputing the features (the
//      race), and that the cached run gives the same numbers as the recomputing one;
//   4. which layers transfer: frozen up to each layer (Yosinski et al. 2014, small), the
//      layers above fine-tuned or re-initialised;
//   5. one table and one plot of held-out accuracy against labels per class, index.html.

/// The transfer-learning lesson, as `lesson list` and `lesson run transfer` see it.
public enum TransferLesson: Lesson {
    public static let name = "transfer"
    public static let folder = "Transfer"
    public static let summary = "Transfer learning: LeNet-5 pretrained on digits 0-4 learns 5-9 from few labels; freeze, cache the features, fine-tune"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds of every arm (--quick: 1)"),
        LessonOption("steps", .integer(1...100_000), default: "250", help: "SGD steps of every target-task training (--quick: 20)"),
        LessonOption("pretrain-epochs", .integer(1...200), default: "12", help: "epochs of pretraining on digits 0-4, as --epochs (--quick: 2, on 400 digits)"),
        LessonOption("batch", .integer(1...1_024), default: "32", help: "mini-batch size (at most the training digits)"),
        LessonOption("lr", .number(1e-6...10), default: "0.05", help: "learning rate of SGD with momentum 0.9, /10 at 2/3 of the training"),
        LessonOption("wd", .number(0...1), default: "0.002", help: "weight decay"),
        LessonOption("yosinski-labels", .integer(1...300), default: "20", help: "labels per class of the frozen-up-to-each-layer table"),
    ]

    public static let notes = """
    Defaults: pretraining on the digits 0-4 of Fixtures/mnist-5k's 4,000 training digits (12 epochs, shifts of up to 2 pixels);
    target task digits 5-9 from 5, 20 and 100 labels per class (--quick: 5 and 20, drawn from the first 1,000 training digits),
    held out: the digits 5-9 of the 1,000 held-out digits (--quick: of 200). --weights FILE starts from any LeNet-5 checkpoint (c1.weight ... output.bias, output
    of any number of classes, replaced) instead of pretraining. No augmentation on the target task (cached features cannot be shifted).
    Writes under --out: index.html, accuracy-vs-labels.svg, lenet5-digits0-4.safetensors (pretrained here), features-f6-train.safetensors
    and features-f6-heldout.safetensors (the cache).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("source", "where the pretrained LeNet-5 came from: 'pretrained here' or the --weights file"),
        ResultKey("source_classes", "classes of the pretrained output layer (replaced)"),
        ResultKey("source_accuracy", "the pretrained net on the held-out digits 0-4 (argmax over its outputs)"),
        ResultKey("pretrain_examples", "digits 0-4 it was pretrained on here (0 with --weights)"),
        ResultKey("pretrain_seconds", "pretraining time"),
        ResultKey("labels_per_class", "the label counts of the target task"),
        ResultKey("target_val_examples", "held-out digits 5-9"),
        ResultKey("target_pool", "training digits 5-9 the labelled subsets are drawn from"),
        ResultKey("accuracy_scratch", "held-out accuracy from scratch, [label count][seed]"),
        ResultKey("accuracy_frozen", "C1-F6 frozen + new softmax, features recomputed every epoch, [label count][seed]"),
        ResultKey("accuracy_cached", "the same on features cached to disk once, [label count][seed]"),
        ResultKey("accuracy_finetune_last", "C1-S4 frozen, C5, F6 and the new output fine-tuned, [label count][seed]"),
        ResultKey("accuracy_finetune_all", "every layer fine-tuned from the pretrained weights, [label count][seed]"),
        ResultKey("mean_scratch", "mean over seeds, per label count"),
        ResultKey("mean_frozen", "mean over seeds, per label count"),
        ResultKey("mean_cached", "mean over seeds, per label count"),
        ResultKey("mean_finetune_last", "mean over seeds, per label count"),
        ResultKey("mean_finetune_all", "mean over seeds, per label count"),
        ResultKey("cached_equals_recomputed", "the cached arm gave the recomputing arm's accuracies and final weights, bit for bit"),
        ResultKey("cache_bytes", "size of the training features' cache file (F6, 84 floats a digit)"),
        ResultKey("cache_examples", "digits in it"),
        ResultKey("cache_write_ms", "computing the features once and writing the file"),
        ResultKey("race_recompute_ms", "the race: running C1-F6 over those digits"),
        ResultKey("race_read_ms", "the race: reading the cache file"),
        ResultKey("race_max_difference", "largest relative difference of the read features from the recomputed ones (0: bit for bit)"),
        ResultKey("seconds_frozen", "training time of the recomputing arm, all label counts and seeds"),
        ResultKey("seconds_cached", "training time of the cached arm (reading the cache included)"),
        ResultKey("yosinski_cuts", "the layers the table freezes up to"),
        ResultKey("yosinski_labels", "labels per class of that table"),
        ResultKey("yosinski_finetuned", "frozen up to each cut, the layers above from the pretrained weights, trained: [cut][seed]"),
        ResultKey("yosinski_reinitialized", "frozen up to each cut, the layers above re-initialised and trained (AnB): [cut][seed]"),
        ResultKey("steps", "SGD steps per target-task training"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_seconds", "time spent training, all nets"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    public struct Results: Encodable {
        var source = "", sourceClasses = 0, sourceAccuracy = 0.0, pretrainExamples = 0, pretrainSeconds = 0.0
        var labelsPerClass: [Int] = [], targetValExamples = 0, targetPool = 0
        var accuracyScratch: [[Double]] = [], accuracyFrozen: [[Double]] = [], accuracyCached: [[Double]] = []
        var accuracyFinetuneLast: [[Double]] = [], accuracyFinetuneAll: [[Double]] = []
        var meanScratch: [Double] = [], meanFrozen: [Double] = [], meanCached: [Double] = []
        var meanFinetuneLast: [Double] = [], meanFinetuneAll: [Double] = []
        var cachedEqualsRecomputed = false, cacheBytes = 0, cacheExamples = 0, cacheWriteMs = 0.0
        var raceRecomputeMs = 0.0, raceReadMs = 0.0, raceMaxDifference = 0.0, secondsFrozen = 0.0, secondsCached = 0.0
        var yosinskiCuts: [String] = [], yosinskiLabels = 0, yosinskiFinetuned: [[Double]] = [], yosinskiReinitialized: [[Double]] = []
        var steps = 0, seeds: [Int] = [], trainSeconds = 0.0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case source, sourceClasses = "source_classes", sourceAccuracy = "source_accuracy"
            case pretrainExamples = "pretrain_examples", pretrainSeconds = "pretrain_seconds"
            case labelsPerClass = "labels_per_class", targetValExamples = "target_val_examples", targetPool = "target_pool"
            case accuracyScratch = "accuracy_scratch", accuracyFrozen = "accuracy_frozen", accuracyCached = "accuracy_cached"
            case accuracyFinetuneLast = "accuracy_finetune_last", accuracyFinetuneAll = "accuracy_finetune_all"
            case meanScratch = "mean_scratch", meanFrozen = "mean_frozen", meanCached = "mean_cached"
            case meanFinetuneLast = "mean_finetune_last", meanFinetuneAll = "mean_finetune_all"
            case cachedEqualsRecomputed = "cached_equals_recomputed", cacheBytes = "cache_bytes", cacheExamples = "cache_examples"
            case cacheWriteMs = "cache_write_ms", raceRecomputeMs = "race_recompute_ms", raceReadMs = "race_read_ms"
            case raceMaxDifference = "race_max_difference", secondsFrozen = "seconds_frozen", secondsCached = "seconds_cached"
            case yosinskiCuts = "yosinski_cuts", yosinskiLabels = "yosinski_labels"
            case yosinskiFinetuned = "yosinski_finetuned", yosinskiReinitialized = "yosinski_reinitialized"
            case steps, seeds, trainSeconds = "train_seconds", quick, outputDirectory = "output_directory"
        }
    }

    /// The LeNet lesson's input scaling (LeNetLesson.swift): background 0 -> -0.1, ink 1 -> 1.175.
    static let pixelMean: Float = 0.1 / 1.275
    static let pixelStd: Float = 1 / 1.275

    /// The five ways of learning the target task, in the order of the table.
    enum Arm: Int, CaseIterable {
        case scratch, frozen, cached, finetuneLast, finetuneAll
        var title: String {
            switch self {
            case .scratch: "from scratch (random weights)"
            case .frozen: "C1-F6 frozen + new softmax (recomputed)"
            case .cached: "C1-F6 frozen + new softmax (cached to disk)"
            case .finetuneLast: "C1-S4 frozen, C5-F6 + new softmax fine-tuned"
            case .finetuneAll: "everything fine-tuned + new softmax"
            }
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        if options.evaluateOnly { throw LessonError("lesson run transfer: --eval is not supported (--weights FILE alone starts from FILE)") }
        let quick = options.quick
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let steps = options.isGiven("steps") || !quick ? options.integer("steps") : 20
        let labelCounts = quick ? [5, 20] : [5, 20, 100]
        let yosinskiLabels = options.integer("yosinski-labels")
        let checkpoint = try options.weights.map { try LeNetCheckpoint.read($0) }
        let run = try LessonRun(lesson: name, title: "Transfer learning: LeNet-5 from digits 0-4 to digits 5-9", options: options, console: console)
        var results = Results()
        results.quick = quick
        results.outputDirectory = run.directory.path
        results.seeds = seeds.map { Int($0) }
        results.steps = steps
        results.labelsPerClass = labelCounts
        results.yosinskiLabels = yosinskiLabels

        // The data: the LeNet lesson's split of MNIST-5k, digits 0-4 for the source task,
        // 5-9 (relabelled 0-4) for the target task.
        let splitSeed = checkpoint?.metadata["split_seed"].flatMap(UInt64.init) ?? options.seed
        var (training, validation) = try LabeledImages.mnist5k(fixtures: options.fixtures, trainCount: quick ? 1_000 : 4_000,
                                                               validationCount: quick ? 200 : 1_000, seed: splitSeed, padding: 2)
        training.normalize(mean: pixelMean, std: pixelStd)
        validation.normalize(mean: pixelMean, std: pixelStd)
        let source = digits(training, 0...4), sourceValidation = digits(validation, 0...4)
        let pool = digits(training, 5...9), targetValidation = digits(validation, 5...9)
        let largest = max(labelCounts.max()!, yosinskiLabels)
        let perClass = (0..<5).map { c in pool.labels.filter { $0 == c }.count }.min()!
        guard perClass >= largest else {
            throw LessonError("the training digits hold only \(perClass) of some digit 5-9, \(largest) labels per class asked")
        }
        results.targetPool = pool.count
        results.targetValExamples = targetValidation.count

        // 1. The source task.
        run.step("The source task: LeNet-5 on digits 0-4")
        run.say("Transfer learning, in the course's words: take a network someone trained on a large data set, throw away its"
                + " softmax, put in your own, freeze the rest and train only the new layer; with more data of your own, freeze fewer"
                + " layers and fine-tune more. Here the 'large' task is LeNet-5 (lesson 1) on the digits 0-4 of MNIST-5k, the new"
                + " task the digits 5-9 it has never seen, learned from a handful of labels.")
        let sourceURL: URL
        if let checkpoint, let url = options.weights {
            sourceURL = url
            results.source = url.path
            run.say("Starting from \(url.path): a LeNet-5 checkpoint with a \(checkpoint.classes)-class output (replaced), C3 "
                    + (checkpoint.c3 == .full ? "full" : "as the paper's table") + "; the digits split with seed \(splitSeed)"
                    + (checkpoint.metadata["split_seed"] != nil ? " (the checkpoint's), so the held-out digits are ones it never saw." : "."))
            if checkpoint.metadata["lesson"] == "lenet" {
                run.say("Note: `lesson run lenet` trains on all ten digits, so this checkpoint has already seen training digits 5-9:"
                        + " starting from it is not transfer to new classes (its features were learned on them); the lesson's own"
                        + " pretraining on 0-4 is.")
            }
        } else {
            let epochs = options.epochs ?? (quick && !options.isGiven("pretrain-epochs") ? 2 : options.integer("pretrain-epochs"))
            let pretrainSet = quick ? source.subset(Array(0..<min(400, source.count))) : source
            let model = LeNet5.transfer(classes: 5, seed: options.seed)
            var trainer = Trainer(settings(epochs: epochs, batch: options.integer("batch"), options: options))
            trainer.label = "pretraining on 0-4"
            let background = (0 - pixelMean) / pixelStd
            trainer.augment = { x, g in randomlyShifted(x, by: 2, fill: background, using: &g) }
            let history = try trainer.train(model, on: pretrainSet, validation: sourceValidation, seed: options.seed, console: console)
            results.pretrainExamples = pretrainSet.count
            results.pretrainSeconds = history.seconds
            results.trainSeconds += history.seconds
            sourceURL = run.directory.appendingPathComponent("lenet5-digits0-4.safetensors")
            try model.save(to: sourceURL, metadata: ["lesson": "transfer", "digits": "0-4", "c3": "full", "split_seed": String(splitSeed),
                                                     "seed": String(options.seed), "input": "32x32, (pixel/255 - 0.0784) / 0.784"])
            run.recordFile("lenet5-digits0-4.safetensors", description: "LeNet-5 pretrained on digits 0-4 (a --weights FILE for this lesson)")
            results.source = "pretrained here"
            run.say("Pretrained on \(ModelSummary.grouped(pretrainSet.count)) training digits 0-4, \(epochs) epochs, each digit shifted by up"
                    + " to 2 pixels (the LeNet lesson's recipe), in \(String(format: "%.1f", history.seconds)) s.")
        }
        let pretrained = try LeNetCheckpoint.read(sourceURL)
        results.sourceClasses = pretrained.classes
        let loaded = LeNet5(c3: pretrained.c3, classes: pretrained.classes)
        loaded.customKernels = LeNetKernels(.fast)
        try loaded.loadStateDict(pretrained.tensors)
        results.sourceAccuracy = Trainer.evaluate(loaded, on: sourceValidation).accuracy
        run.say("The pretrained net on the \(sourceValidation.count) held-out digits 0-4: \(percent(results.sourceAccuracy)) right"
                + " (read back from \(sourceURL.lastPathComponent)).")

        // 2. The target task, five ways.
        run.step("The target task: digits 5-9 from few labels, five ways")
        run.say("Each arm learns digits 5-9 (as classes 0-4) from k labelled training digits per class, the same k x 5 digits and the"
                + " same new output layer for every arm of a seed (paired seeds \(seeds.map(String.init).joined(separator: ", "))), \(steps)"
                + " SGD steps each (batch \(options.integer("batch")) or all k x 5 digits, lr \(options.number("lr")) /10 at 2/3, momentum 0.9,"
                + " weight decay \(options.number("wd"))), no augmentation; measured on the \(targetValidation.count) held-out digits 5-9.")

        // The cache: the frozen C1-F6 features of every training and held-out digit 5-9, computed
        // once (C1-F6 are the pretrained weights, the same for every seed and every k) and
        // written to disk; the cached arm reads them back and trains the output layer alone.
        let frozenF6 = TransferSplit.frozenPart(LeNet5.transfer(classes: 5, seed: 0, from: pretrained), through: .f6)
        let cacheURL = run.directory.appendingPathComponent("features-f6-train.safetensors")
        let heldOutURL = run.directory.appendingPathComponent("features-f6-heldout.safetensors")
        let writeStart = Stopwatch.now()
        let cacheBytes = try FeatureCache.write(LabeledImages(images: FeatureCache.rows(frozenF6.features(of: pool.images)), labels: pool.labels),
                                                to: cacheURL, metadata: ["cut": "f6", "source": results.source])
        results.cacheWriteMs = (Stopwatch.now() - writeStart) * 1e3
        try FeatureCache.write(LabeledImages(images: FeatureCache.rows(frozenF6.features(of: targetValidation.images)), labels: targetValidation.labels),
                               to: heldOutURL, metadata: ["cut": "f6", "source": results.source])
        run.recordFile(cacheURL.lastPathComponent, description: "the frozen C1-F6 features of the \(pool.count) training digits 5-9 (the cache)")
        run.recordFile(heldOutURL.lastPathComponent, description: "the same for the \(targetValidation.count) held-out digits 5-9")
        results.cacheBytes = cacheBytes
        results.cacheExamples = pool.count

        // Every net trained here is "frozen up to a cut (or nothing), the layers above from the
        // pretrained weights or re-initialised", on k digits per class with one seed. Nets that
        // are the same run are trained once (`trained`): S2 and S4 have no parameters, so frozen
        // up to S2 trains what frozen up to C1 trains (S4: C3); with F6 frozen, re-initialising
        // the layers above changes nothing (only the new output is there, new either way).
        var memo: [String: (accuracy: Double, seconds: Double, weights: [String: Tensor])] = [:]
        func trained(_ cut: TransferCut?, reinitialized: Bool, k: Int, seed: UInt64, label: String) throws -> (accuracy: Double, seconds: Double, weights: [String: Tensor]) {
            let cut: TransferCut? = cut == .s2 ? .c1 : cut == .s4 ? .c3 : cut
            let reinitialized = reinitialized && cut != .f6
            let key = "\(cut?.rawValue ?? "none") \(reinitialized) \(k) \(seed)"
            if let done = memo[key] { return done }
            let labelled = labelledSubset(pool, perClass: k, seed: seed)
            let model: LeNet5
            if reinitialized {
                model = cut.map { LeNet5.transfer(classes: 5, seed: seed, from: pretrained, through: $0) } ?? LeNet5.transfer(classes: 5, seed: seed)
            } else {
                model = LeNet5.transfer(classes: 5, seed: seed, from: pretrained)
            }
            let net: Layer = cut.map { TransferSplit.frozen(model, through: $0) } ?? model
            var trainer = Trainer(settings(steps: steps, examples: labelled.images.count, options: options))
            trainer.label = "\(label), k = \(k), seed \(seed)"
            trainer.printsEpochs = false
            let seconds = try trainer.train(net, on: labelled.images, seed: seed, console: console).seconds
            results.trainSeconds += seconds
            let done = (Trainer.evaluate(net, on: targetValidation).accuracy, seconds, model.stateDict())
            memo[key] = done
            return done
        }

        var accuracy = Array(repeating: Array(repeating: [Double](), count: labelCounts.count), count: Arm.allCases.count)
        var equal = true
        for (ki, k) in labelCounts.enumerated() {
            for seed in seeds {
                let scratch = try trained(nil, reinitialized: true, k: k, seed: seed, label: Arm.scratch.title)
                accuracy[Arm.scratch.rawValue][ki].append(scratch.accuracy)
                // Frozen C1-F6, features recomputed inside the model on every step.
                let frozen = try trained(.f6, reinitialized: false, k: k, seed: seed, label: Arm.frozen.title)
                accuracy[Arm.frozen.rawValue][ki].append(frozen.accuracy)
                results.secondsFrozen += frozen.seconds
                // The same on the cache, read from disk: the layers above F6 alone, on the features.
                let start = Stopwatch.now()
                let cachedModel = LeNet5.transfer(classes: 5, seed: seed, from: pretrained)
                let head = TransferSplit.head(cachedModel, above: .f6)
                let cache = try FeatureCache.read(cacheURL)
                let heldOut = try FeatureCache.read(heldOutURL)
                let cachedSet = cache.subset(labelledSubset(pool, perClass: k, seed: seed).indices)
                var trainer = Trainer(settings(steps: steps, examples: cachedSet.count, options: options))
                trainer.label = "\(Arm.cached.title), k = \(k), seed \(seed)"
                trainer.printsEpochs = false
                let history = try trainer.train(head, on: cachedSet, seed: seed, console: console)
                results.trainSeconds += history.seconds
                let cachedAccuracy = Trainer.evaluate(head, on: heldOut).accuracy
                results.secondsCached += Stopwatch.now() - start
                accuracy[Arm.cached.rawValue][ki].append(cachedAccuracy)
                equal = equal && cachedAccuracy == frozen.accuracy && cachedModel.stateDict() == frozen.weights
                // Fine-tuning the last layers (C1-S4 frozen), and everything.
                accuracy[Arm.finetuneLast.rawValue][ki].append(try trained(.s4, reinitialized: false, k: k, seed: seed, label: Arm.finetuneLast.title).accuracy)
                accuracy[Arm.finetuneAll.rawValue][ki].append(try trained(nil, reinitialized: false, k: k, seed: seed, label: Arm.finetuneAll.title).accuracy)
            }
        }
        console.clearProgress()
        (results.accuracyScratch, results.accuracyFrozen, results.accuracyCached, results.accuracyFinetuneLast, results.accuracyFinetuneAll)
            = (accuracy[0], accuracy[1], accuracy[2], accuracy[3], accuracy[4])
        let means = accuracy.map { $0.map(mean) }
        (results.meanScratch, results.meanFrozen, results.meanCached, results.meanFinetuneLast, results.meanFinetuneAll)
            = (means[0], means[1], means[2], means[3], means[4])
        results.cachedEqualsRecomputed = equal
        run.show(ReportTable(caption: "held-out accuracy on digits 5-9: mean over the seeds (each seed in brackets)",
                             headers: ["arm"] + labelCounts.map { "\($0) labels/class" },
                             rows: Arm.allCases.map { arm in [arm.title] + accuracy[arm.rawValue].map(cell) }))
        run.say(verdict(means: means, spreads: accuracy.map { $0.map(spreadOf) }, labelCounts: labelCounts))
        try run.writeFigure(svg: TransferPictures.accuracyChart(labelCounts: labelCounts, means: means, titles: Arm.allCases.map(\.title)),
                            name: "accuracy-vs-labels.svg", caption: "held-out accuracy on digits 5-9 against labels per class, mean over the seeds")

        // 3. The cache.
        run.step("The cache: computing the frozen features once")
        run.say("The cached arm gave the recomputing arm's accuracies and final weights " + (equal ? "bit for bit, for every k and seed:"
                + " the features are computed by the same frozen layers from the same digits either way (and a digit's features do not"
                + " depend on the mini-batch it is in, for mini-batches of 4 digits or more), so caching them changes the time, never the"
                + " numbers." : "NOT bit for bit: a mini-batch of 1-3 digits runs the GEMM's thin kernel, whose rounding differs (about 1e-7)."))
        let race = KernelRace.run([
            RaceEntrant(name: "recompute: C1-F6 over the \(pool.count) digits", kernel: "Frozen.features (LeNetKernels, fast)",
                        forward: { [frozenF6.features(of: pool.images).data] }),
            RaceEntrant(name: "read the cache file", kernel: "FeatureCache.read (safetensors)",
                        forward: { [((try? FeatureCache.read(cacheURL))?.images.data) ?? []] }),
        ], quick: quick)
        run.show(race.table)
        results.raceRecomputeMs = race.rows[0].forwardSeconds * 1e3
        results.raceReadMs = race.rows[1].forwardSeconds * 1e3
        results.raceMaxDifference = race.maxRelativeDifference
        let imageBytes = pool.count * 32 * 32 * 4
        run.say("The cache file holds \(pool.count) digits x 84 features: \(ModelSummary.grouped(cacheBytes)) bytes"
                + " (the \(pool.count) 32x32 input digits as floats are \(ModelSummary.grouped(imageBytes))); reading it took"
                + " \(ms(race.rows[1].forwardSeconds)) against \(ms(race.rows[0].forwardSeconds)) to recompute (\(String(format: "%.1fx", race.speedup))"
                + " faster), largest difference \(sci(race.maxRelativeDifference)). Computing and writing it once took \(String(format: "%.1f ms", results.cacheWriteMs)).")
        run.say("Training the new softmax: \(String(format: "%.2f s", results.secondsFrozen)) recomputing C1-F6 on every step against"
                + " \(String(format: "%.2f s", results.secondsCached)) on the cache (reading it included), over all k and seeds."
                + " The price of the cache is that the frozen features are fixed: no random shifts or crops of the digits while the head trains.")

        // 4. Which layers transfer.
        run.step("Which layers transfer: frozen up to each layer (Yosinski et al. 2014, small)")
        var finetuned: [[Double]] = [], reinitialized: [[Double]] = []
        for cut in TransferCut.allCases {
            finetuned.append(try seeds.map { try trained(cut, reinitialized: false, k: yosinskiLabels, seed: $0, label: "frozen to \(cut.rawValue)").accuracy })
            reinitialized.append(try seeds.map { try trained(cut, reinitialized: true, k: yosinskiLabels, seed: $0, label: "frozen to \(cut.rawValue), above re-initialised").accuracy })
        }
        console.clearProgress()
        results.yosinskiCuts = TransferCut.allCases.map(\.rawValue)
        results.yosinskiFinetuned = finetuned
        results.yosinskiReinitialized = reinitialized
        let yk = labelCounts.firstIndex(of: yosinskiLabels)
        var rows: [[String]] = []
        if let yk {
            rows.append(["nothing (from scratch)", "0", cell(accuracy[Arm.scratch.rawValue][yk]), "", "4,096"])
            rows.append(["nothing (fine-tune all)", "0", "", cell(accuracy[Arm.finetuneAll.rawValue][yk]), "4,096"])
        }
        let model = LeNet5.transfer(classes: 5, seed: 0)
        for (i, cut) in TransferCut.allCases.enumerated() {
            let frozenParameters = TransferSplit.frozenPart(model, through: cut).layers.reduce(0) { $0 + $1.parameterCount }
            let same = cut == .s2 ? " (= c1: S2 has no parameters)" : cut == .s4 ? " (= c1-c3: S4 has no parameters)" : ""
            rows.append([cut.frozenLayers + same, ModelSummary.grouped(frozenParameters), cell(reinitialized[i]), cell(finetuned[i]),
                         ModelSummary.grouped(4 * cut.featureShape.reduce(1, *))])
        }
        run.show(ReportTable(caption: "held-out accuracy on digits 5-9 from \(yosinskiLabels) labels per class, frozen up to each layer",
                             headers: ["frozen", "frozen parameters", "above: re-initialised (AnB)", "above: pretrained, fine-tuned",
                                       "cache bytes per digit"],
                             rows: rows))
        run.say(yosinskiVerdict(finetuned: finetuned.map(mean), reinitialized: reinitialized.map(mean)))
        run.say("The paper's, for scale (ImageNet split into two halves A and B of 500 classes each, an 8-layer AlexNet; read off its"
                + " Figure 2, approximate): the net trained on B alone \(percent(YosinskiPaper.baseB)) top-1; n layers copied from A and"
                + " frozen, the rest re-trained (AnB): " + YosinskiPaper.frozenAnB.map { "n = \($0.layers): \(percent($0.accuracy))" }
                    .joined(separator: ", ") + "; copied and fine-tuned (AnB+): about \(percent(YosinskiPaper.fineTunedAnBPlus)) at every n."
                + " Its lesson: the first layers are general (freezing them costs nothing), the last are specific to the first task"
                + " (freezing them hurts), and fine-tuning copied layers helps even with a large target set.")

        try run.finish(headline: String(format: "digits 5-9 from %d labels/class: scratch %@, frozen + softmax %@, fine-tuned %@",
                                        labelCounts.last!, percent(means[0].last!), percent(means[1].last!), percent(means[4].last!)),
                       results: results)
        return results
    }

    // MARK: The steps' parts

    /// The digits whose labels are in `classes`, relabelled from 0 (digits 5-9 -> 0-4).
    static func digits(_ data: LabeledImages, _ classes: ClosedRange<Int>) -> LabeledImages {
        let indices = data.labels.indices.filter { classes.contains(data.labels[$0]) }
        let subset = data.subset(indices)
        return LabeledImages(images: subset.images, labels: subset.labels.map { $0 - classes.lowerBound })
    }

    /// `perClass` digits of each class of `pool`, drawn with `seed` (the same seed gives
    /// nested subsets: the 5 per class are among the 20), and their indices in `pool`.
    static func labelledSubset(_ pool: LabeledImages, perClass: Int, seed: UInt64) -> (images: LabeledImages, indices: [Int]) {
        var generator = SeededGenerator(seed: seed &* 0x9E37_79B9 ^ 0x7A5F)
        var indices: [Int] = []
        for c in 0..<5 {
            var members = pool.labels.indices.filter { pool.labels[$0] == c }
            members.shuffle(using: &generator)
            indices += members.prefix(perClass)
        }
        return (pool.subset(indices), indices)
    }

    /// SGD with momentum, the learning rate /10 at 2/3 of the epochs.
    static func settings(epochs: Int, batch: Int, options: LessonOptions) -> TrainingSettings {
        var s = TrainingSettings(epochs: epochs, batchSize: batch,
                                 schedule: .step(initial: options.number("lr"), milestones: [max(1, (2 * epochs + 2) / 3)], factor: 0.1))
        s.weightDecay = Float(options.number("wd"))
        return s
    }

    /// About `steps` SGD steps on `examples` digits: batches of `--batch` (or all of them),
    /// as many whole epochs as that takes.
    static func settings(steps: Int, examples: Int, options: LessonOptions) -> TrainingSettings {
        let batch = min(options.integer("batch"), examples)
        let perEpoch = (examples + batch - 1) / batch
        return settings(epochs: max(1, (steps + perEpoch - 1) / perEpoch), batch: batch, options: options)
    }

    /// "88.1% (86.0, 89.2, 89.0)"
    static func cell(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "" }
        return percent(mean(values)) + (values.count > 1 ? " (" + values.map { String(format: "%.1f", 100 * $0) }.joined(separator: ", ") + ")" : "")
    }

    /// What the five-way table shows, measured: does freezing beat scratch, at which k.
    static func verdict(means: [[Double]], spreads: [[Double]], labelCounts: [Int]) -> String {
        var parts: [String] = []
        for (ki, k) in labelCounts.enumerated() {
            let best = Arm.allCases.max { means[$0.rawValue][ki] < means[$1.rawValue][ki] }!
            let spread = spreads.map { $0[ki] }.max() ?? 0
            let frozenVsScratch = means[Arm.frozen.rawValue][ki] - means[Arm.scratch.rawValue][ki]
            let tuneVsScratch = means[Arm.finetuneAll.rawValue][ki] - means[Arm.scratch.rawValue][ki]
            parts.append("k = \(k): best \(best.title) (\(percent(means[best.rawValue][ki]))); frozen + softmax "
                         + String(format: "%+.1f", 100 * frozenVsScratch) + " points against scratch, everything fine-tuned "
                         + String(format: "%+.1f", 100 * tuneVsScratch) + String(format: " (largest seed-to-seed spread %.1f points)", 100 * spread))
        }
        return "Measured: " + parts.joined(separator: "; ") + ". A difference smaller than the spread is not shown by this run."
    }

    static func yosinskiVerdict(finetuned: [Double], reinitialized: [Double]) -> String {
        let cuts = TransferCut.allCases
        let bestFrozen = cuts.indices.max { reinitialized[$0] < reinitialized[$1] }!
        let bestTuned = cuts.indices.max { finetuned[$0] < finetuned[$1] }!
        return "S2 and S4 have no parameters, so freezing up to S2 trains exactly the layers, from the same weights, that freezing up to"
            + " C1 trains (S4: C3): those rows are the same runs, not trained twice. Measured here: with the layers above re-initialised, freezing up to \(cuts[bestFrozen].frozenLayers)"
            + " did best (\(percent(reinitialized[bestFrozen]))), up to F6 gave \(percent(reinitialized.last!)); with them fine-tuned from"
            + " the pretrained weights, up to \(cuts[bestTuned].frozenLayers) did best (\(percent(finetuned[bestTuned]))). With F6 frozen the two"
            + " columns are the same net (only the new output is above it)."
    }
}

extension LeNet5 {
    /// A LeNet-5 for `classes` classes whose layers up to `cut` come from `pretrained` and
    /// whose layers above it are random (drawn from `seed`): Yosinski's AnB.
    public static func transfer(classes: Int, seed: UInt64, from pretrained: LeNetCheckpoint, through cut: TransferCut) -> LeNet5 {
        let model = transfer(classes: classes, seed: seed, from: pretrained)
        let random = LeNet5(c3: pretrained.c3, classes: classes).initialize(seed: seed, scheme: .xavier)
        let fresh = Dictionary(uniqueKeysWithValues: random.namedParameters().map { ($0.name, $0.parameter.value) })
        let copied: [String] = switch cut {
        case .c1, .s2: ["c1"]
        case .c3, .s4: ["c1", "c3"]
        case .c5: ["c1", "c3", "c5"]
        case .f6: ["c1", "c3", "c5", "f6"]
        }
        for (name, p) in model.namedParameters() where !copied.contains(String(name.split(separator: ".")[0])) {
            p.value = fresh[name]!
        }
        return model
    }
}
