import ConvNetCore
import Foundation

// `lesson run lenet`: LeNet-5 learns handwritten digits, for real, in a couple of minutes.
//
//   1. the network, as the paper's table: each layer's output shape, parameters and
//      MACs beside the 1998 counts, and the paper's partial C3 connection table;
//   2. the data: Fixtures/mnist-5k, shuffled with the seed into 4,000 training digits
//      and 1,000 held out, padded to 32x32 and scaled as the paper did;
//   3. training: SGD with momentum, progress on one line, one line per epoch
//      (LeNetTraining.swift);
//   4. the race: the naive and the fast convolution on C3 with a real batch
//      (KernelRace.swift);
//   5. the pictures and the weights, under --out (LeNetPictures.swift).
// With --weights FILE --eval it loads trained weights and measures them on the held-out
// digits instead of training.

/// The LeNet lesson, as `lesson list` and `lesson run lenet` see it.
public enum LeNet5Lesson: Lesson {
    public static let name = "lenet"
    public static let summary = "LeNet-5 (1998) learns MNIST digits: valid 5x5 convs, average pooling, tanh, 61,706 parameters"
    public static let help = """
    LESSON OPTIONS:
      --c3 full|paper   C3 sees all six S2 maps (default) or the paper's Table I (60 of 96 pairs)
      --batch N         mini-batch size (default 32)
      --lr X            initial learning rate of SGD with momentum 0.9 (default 0.05, /10 at 2/3 of the epochs)
      --wd X            weight decay (default 0.002)
      --shift N         shift each training digit by up to N pixels, at random (default 2; 0: never)
      --kernels fast|naive   train on the fast kernels (default) or the readable loops (slow, same numbers)

    Defaults: 40 epochs on 4,000 digits, 1,000 held out (--quick: 10 epochs on 600, 200 held out).
    Writes under --out: training-curves.svg, c1-filters.png, feature-maps.png, lenet5.safetensors.

    JSON KEYS (--json): val_accuracy, val_loss, train_accuracy, train_loss, train_seconds,
      images_per_second, epochs, batch_size, learning_rate, train_examples, val_examples,
      parameters, macs, c3, c3_parameters, speedup, naive_ms, fast_ms, im2col_ms,
      race_batch, race_max_difference, seed, quick, output_directory
      (with --eval: val_accuracy, val_loss, val_examples, parameters, c3, eval_seconds, weights)
    """

    /// The paper's input scaling: background (0) -> -0.1, ink (1) -> 1.175, so that the
    /// mean is about 0 and the variance about 1.
    static let pixelMean: Float = 0.1 / 1.275
    static let pixelStd: Float = 1 / 1.275

    /// What `lesson run lenet` does with its options.
    struct Plan {
        var c3: LeNet5.C3Connections = .full
        var kernels: KernelChoice = .fast
        var settings: LeNetTrainingSettings
        var trainCount: Int
        var validationCount: Int
        var raceBatch: Int

        init(_ options: LessonOptions) throws {
            let epochs = options.epochs ?? (options.quick ? 10 : 40)
            settings = LeNetTrainingSettings(epochs: epochs, batchSize: 32, learningRate: 0.05,
                                             decayEpochs: [max(1, (2 * epochs + 2) / 3)])
            settings.weightDecay = 0.002
            settings.maxShift = 2
            settings.background = (0 - LeNet5Lesson.pixelMean) / LeNet5Lesson.pixelStd
            trainCount = options.quick ? 600 : 4_000
            validationCount = options.quick ? 200 : 1_000
            raceBatch = options.quick ? 16 : 64
            for (key, value) in options.extra {
                switch key {
                case "c3":
                    switch value {
                    case "full": c3 = .full
                    case "paper": c3 = .paperTable
                    default: throw LessonError("--c3 expects full or paper, got '\(value)'")
                    }
                case "batch":
                    guard let b = Int(value), b > 0 else { throw LessonError("--batch expects a positive integer, got '\(value)'") }
                    settings.batchSize = b
                case "lr":
                    guard let r = Double(value), r > 0, r.isFinite else { throw LessonError("--lr expects a positive number, got '\(value)'") }
                    settings.learningRate = r
                case "shift":
                    guard let d = Int(value), d >= 0, d < 8 else { throw LessonError("--shift expects 0 to 7 pixels, got '\(value)'") }
                    settings.maxShift = d
                case "wd":
                    guard let d = Float(value), d >= 0, d.isFinite else { throw LessonError("--wd expects a non-negative number, got '\(value)'") }
                    settings.weightDecay = d
                case "kernels":
                    guard let k = KernelChoice(rawValue: value) else { throw LessonError("--kernels expects fast or naive, got '\(value)'") }
                    kernels = k
                default:
                    throw LessonError("unknown option --\(key) (lesson run lenet --help lists the options)")
                }
            }
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> [String: Any] {
        var plan = try Plan(options)
        let metadata = try options.weights.map { try Safetensors.read($0) }
        if options.extra["c3"] == nil, metadata?.metadata["c3"] == "paper" { plan.c3 = .paperTable }

        // 1. The network, as the paper's table.
        let model = LeNet5.lesson(c3: plan.c3, seed: options.seed, kernels: plan.kernels)
        console.print(leNetTable(model))
        if let counted = publishedCounts(options.fixtures, name: plan.c3 == .full ? "lenet5_full_c3" : "lenet5_partial_c3") {
            let summary = model.summary(inputShape: [1] + LeNet5.inputShape)
            let same = counted.parameters == summary.parameters && counted.macs == summary.macs
            console.print("Fixtures/torchvision-counts.json: \(ModelSummary.grouped(counted.parameters)) parameters,"
                          + " \(ModelSummary.grouped(counted.macs)) MACs" + (same ? " (both match)" : " (MISMATCH)"))
        }
        let partial = LeNet5(c3: .paperTable)
        let partialC3 = partial.children.first { $0.name == "c3" }!.layer.parameterCount
        console.print("""

        The paper's C3 sees only some S2 maps (Table I: rows S2 maps, columns C3 maps):
        \(LeNetPaper.tableI)
        With that table C3 has \(ModelSummary.grouped(partialC3)) parameters (the paper: \
        \(ModelSummary.grouped(LeNetPaper.layers[2].parameters))) and LeNet-5 \
        \(ModelSummary.grouped(partial.parameterCount)); this run uses C3 \
        \(plan.c3 == .full ? "full (--c3 paper for the table)" : "as Table I").

        """)

        // 2. The data: a seeded split of MNIST-5k, padded to 32x32, scaled as the paper did.
        let digits = try DigitDataset.load(directory: options.fixtures.appendingPathComponent("mnist-5k"), padding: 2)
        guard digits.count >= 5_000 else { throw LessonError("mnist-5k holds \(digits.count) digits, 5,000 expected") }
        let splitSeed = metadata?.metadata["split_seed"].flatMap(UInt64.init) ?? options.seed
        var (training, validation) = digits.split(trainCount: 4_000, validationCount: 1_000, seed: splitSeed)
        training = training.subset(Array(0..<plan.trainCount))
        validation = validation.subset(Array(0..<plan.validationCount))
        training.normalize(mean: pixelMean, std: pixelStd)
        validation.normalize(mean: pixelMean, std: pixelStd)

        // --weights FILE --eval: measure the loaded weights on the held-out digits, and stop.
        if let file = metadata, let url = options.weights {
            try load(file, into: model, from: url)
            if options.evaluateOnly {
                let start = Stopwatch.now()
                let result = evaluate(model, on: validation)
                let seconds = Stopwatch.now() - start
                console.print("\(url.path): \(String(format: "%.2f%%", 100 * result.accuracy)) of \(validation.count) held-out digits"
                              + " right (loss \(String(format: "%.4f", result.loss)); split seed \(splitSeed))")
                return ["val_accuracy": result.accuracy, "val_loss": result.loss, "val_examples": validation.count,
                        "parameters": model.parameterCount, "c3": plan.c3 == .full ? "full" : "paper",
                        "eval_seconds": seconds, "weights": url.path]
            }
            console.print("starting from the weights of \(url.path)")
        }

        // 3. Training (the output directory first: a run should not fail after its work).
        let out = options.outputDirectory
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw LessonError("cannot create the output directory \(out.path): \(error.localizedDescription)")
        }
        let p = plan.settings
        console.print("training on \(ModelSummary.grouped(training.count)) digits, \(ModelSummary.grouped(validation.count))"
                      + " held out: \(p.epochs) epochs,"
                      + " batch \(p.batchSize), SGD lr \(p.learningRate) (/10 from epoch \(p.decayEpochs[0] + 1)),"
                      + " momentum \(p.momentum), weight decay \(p.weightDecay), shifts up to \(p.maxShift) pixels,"
                      + " \(plan.kernels.rawValue) kernels")
        let records = try train(model, on: training, validation: validation, settings: plan.settings,
                                seed: options.seed, console: console)
        let last = records.last!
        let trainSeconds = records.reduce(0) { $0 + $1.seconds }
        console.print("held-out accuracy \(String(format: "%.2f%%", 100 * last.validationAccuracy)) after"
                      + " \(String(format: "%.1f", trainSeconds)) s of training (the paper: "
                      + String(format: "%.2f%%", 100 * (1 - LeNetPaper.testError))
                      + " on MNIST's 10,000 test digits, trained on 60,000)\n")

        // 4. The race, on C3 with a real batch of held-out digits.
        let raceIndices = Array(0..<min(plan.raceBatch, validation.count))
        let race = raceOnC3(model, images: gatherRows(validation.images, raceIndices),
                            labels: raceIndices.map { validation.labels[$0] }, quick: options.quick)
        console.print("The race on C3, \(race.shape), a real batch of \(raceIndices.count) held-out digits:")
        console.print(race.table + "\n")

        // 5. Pictures and weights.
        let curves = out.appendingPathComponent("training-curves.svg")
        let filters = out.appendingPathComponent("c1-filters.png")
        let maps = out.appendingPathComponent("feature-maps.png")
        let weights = out.appendingPathComponent("lenet5.safetensors")
        try LeNetPictures.write(LeNetPictures.trainingCurves(records, title: "LeNet-5 on MNIST-5k"), to: curves)
        try PNG.write(LeNetPictures.firstLayerFilters(model), to: filters)
        try PNG.write(LeNetPictures.featureMaps(model, digit: gatherRows(validation.images, [0])), to: maps)
        try model.save(to: weights, metadata: ["lesson": "lenet", "c3": plan.c3 == .full ? "full" : "paper",
                                               "split_seed": String(splitSeed), "seed": String(options.seed),
                                               "input": "32x32, (pixel/255 - 0.0784) / 0.784"])
        console.print("""
        wrote in \(out.path)/:
          training-curves.svg   loss and accuracy per epoch, training and held-out
          c1-filters.png        the six learned 5x5 filters of C1
          feature-maps.png      a \(validation.labels[0]) at every stage: input, C1, S2, C3, S4, C5, F6, output
          lenet5.safetensors    the weights (c1.weight, c1.bias, ..., output.bias)
        evaluate them: lesson run lenet --weights \(weights.path) --eval
        """)

        return [
            "val_accuracy": last.validationAccuracy, "val_loss": last.validationLoss,
            "train_accuracy": last.trainAccuracy, "train_loss": last.trainLoss,
            "train_seconds": trainSeconds, "images_per_second": Double(training.count * records.count) / trainSeconds,
            "epochs": records.count, "batch_size": plan.settings.batchSize, "learning_rate": plan.settings.learningRate,
            "train_examples": training.count, "val_examples": validation.count,
            "parameters": model.parameterCount, "macs": model.summary(inputShape: [1] + LeNet5.inputShape).macs,
            "c3": plan.c3 == .full ? "full" : "paper", "c3_parameters": model.children.first { $0.name == "c3" }!.layer.parameterCount,
            "speedup": race.speedup, "naive_ms": race.naiveTotal * 1e3, "fast_ms": race.fastTotal * 1e3,
            "im2col_ms": race.im2colTotal * 1e3, "race_batch": raceIndices.count,
            "race_max_difference": race.maxRelativeDifference,
            "seed": Int(options.seed), "quick": options.quick, "output_directory": out.path,
        ]
    }

    /// The parameters and MACs `Fixtures/torchvision-counts.json` lists for `name`, if it does.
    static func publishedCounts(_ fixtures: URL, name: String) -> (parameters: Int, macs: Int)? {
        guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("torchvision-counts.json")),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let entry = (root["models"] as? [String: Any])?[name] as? [String: Any],
              let parameters = (entry["parameters"] as? NSNumber)?.intValue,
              let macs = (entry["macs"] as? NSNumber)?.intValue else { return nil }
        return (parameters, macs)
    }

    /// Loads a safetensors file into `model`, with a one-line error when it does not fit.
    static func load(_ file: SafetensorsFile, into model: LeNet5, from url: URL) throws {
        do {
            try model.loadStateDict(file.tensors)
        } catch let error as StateDictError {
            throw LessonError("\(url.path) does not hold LeNet-5 weights (C3 \(model.c3 == .full ? "full" : "as the paper's table")): \(error)")
        }
    }
}
