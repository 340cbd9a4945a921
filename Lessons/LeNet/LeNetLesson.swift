import ConvNetCore
import Foundation

// `lesson run lenet`: LeNet-5 learns handwritten digits, for real, in under a minute.
//
//   1. the network, as the paper's table: each layer's output shape, parameters and
//      MACs beside the 1998 counts, and the paper's partial C3 connection table;
//   2. the data: Fixtures/mnist-5k, shuffled with the seed into 4,000 training digits
//      and 1,000 held out, padded to 32x32 and scaled as the paper did;
//   3. training: the core's Trainer (Sources/ConvNetCore/Training/Trainer.swift), SGD with
//      momentum, each digit shifted by up to 2 pixels;
//   4. the race: the naive and the fast valid convolution on C3 with a real batch, and
//      the core's general convolution beside them (the core's KernelRace);
//   5. the pictures and the weights, under --out (LeNetPictures.swift), and index.html.
// With --weights FILE --eval it loads trained weights and measures them on the held-out
// digits instead of training.

/// The LeNet lesson, as `lesson list` and `lesson run lenet` see it.
public enum LeNet5Lesson: Lesson {
    public static let name = "lenet"
    public static let folder = "LeNet"
    public static let summary = "LeNet-5 (1998) learns MNIST digits: valid 5x5 convs, average pooling, tanh, 61,706 parameters"

    public static let options: [LessonOption] = [
        LessonOption("c3", .choice(["full", "paper"]), default: "full",
                     help: "C3 sees all six S2 maps, or the paper's Table I (60 of 96 pairs)"),
        LessonOption("batch", .integer(1...4_096), default: "32", help: "mini-batch size"),
        LessonOption("lr", .number(1e-6...10), default: "0.05",
                     help: "initial learning rate of SGD with momentum 0.9, /10 at 2/3 of the epochs"),
        LessonOption("wd", .number(0...1), default: "0.002", help: "weight decay"),
        LessonOption("shift", .integer(0...7), default: "2",
                     help: "shift each training digit by up to N pixels, at random (0: never)"),
        LessonOption("kernels", .choice(["fast", "naive"]), default: "fast",
                     help: "train on the fast kernels or the readable loops (slow, same numbers)"),
    ]

    public static let notes = """
    Defaults: 40 epochs on 4,000 digits, 1,000 held out (--quick: 10 epochs on 600, 200 held out).
    Writes under --out: index.html, training-curves.svg, c1-filters.png, feature-maps.svg,
    lenet5.safetensors. With --weights FILE --eval: measures FILE on the held-out digits
    (JSON: val_accuracy, val_loss, val_examples, parameters, c3, eval_seconds, weights).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("val_accuracy", "held-out accuracy after the last epoch (0-1)"),
        ResultKey("val_loss", "held-out cross-entropy after the last epoch"),
        ResultKey("train_accuracy", "accuracy over the last epoch's training batches"),
        ResultKey("train_loss", "loss over the last epoch's training batches"),
        ResultKey("train_seconds", "training time, evaluation excluded"),
        ResultKey("images_per_second", "training images per second"),
        ResultKey("epochs", "epochs trained"),
        ResultKey("batch_size", "mini-batch size"),
        ResultKey("learning_rate", "initial learning rate"),
        ResultKey("train_examples", "training digits"),
        ResultKey("val_examples", "held-out digits"),
        ResultKey("parameters", "trainable parameters of the network"),
        ResultKey("macs", "multiply-accumulates of one forward pass of one digit"),
        ResultKey("c3", "full or paper"),
        ResultKey("c3_parameters", "parameters of C3"),
        ResultKey("speedup", "the race: naive time / fast time, forward + backward"),
        ResultKey("naive_ms", "the race: naive valid convolution, forward + backward"),
        ResultKey("fast_ms", "the race: the lesson's fast valid convolution, forward + backward"),
        ResultKey("core_ms", "the race: the core's general convolution, forward + backward"),
        ResultKey("core_kernel", "which of the core's convolution kernels ran in the race"),
        ResultKey("race_batch", "digits in the race's batch"),
        ResultKey("race_max_difference", "largest relative difference of the race's outputs from the naive ones"),
        ResultKey("seed", "the seed"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    /// What a run measured (the `--json` object; `--eval` fills only some keys).
    public struct Results: Encodable {
        var valAccuracy: Double, valLoss: Double, valExamples: Int, parameters: Int, c3: String
        var trainAccuracy: Double?, trainLoss: Double?, trainSeconds: Double?, imagesPerSecond: Double?
        var epochs: Int?, batchSize: Int?, learningRate: Double?, trainExamples: Int?, macs: Int?, c3Parameters: Int?
        var speedup: Double?, naiveMs: Double?, fastMs: Double?, coreMs: Double?, coreKernel: String?
        var raceBatch: Int?, raceMaxDifference: Double?
        var seed: Int?, quick: Bool?, outputDirectory: String?
        var evalSeconds: Double?, weights: String?

        enum CodingKeys: String, CodingKey {
            case valAccuracy = "val_accuracy", valLoss = "val_loss", valExamples = "val_examples", parameters, c3
            case trainAccuracy = "train_accuracy", trainLoss = "train_loss", trainSeconds = "train_seconds"
            case imagesPerSecond = "images_per_second", epochs, batchSize = "batch_size", learningRate = "learning_rate"
            case trainExamples = "train_examples", macs, c3Parameters = "c3_parameters", speedup
            case naiveMs = "naive_ms", fastMs = "fast_ms", coreMs = "core_ms", coreKernel = "core_kernel"
            case raceBatch = "race_batch", raceMaxDifference = "race_max_difference"
            case seed, quick, outputDirectory = "output_directory", evalSeconds = "eval_seconds", weights
        }
    }

    /// The paper's input scaling: background (0) -> -0.1, ink (1) -> 1.175, so that the
    /// mean is about 0 and the variance about 1.
    static let pixelMean: Float = 0.1 / 1.275
    static let pixelStd: Float = 1 / 1.275

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let metadata = try options.weights.map { try Safetensors.read($0) }
        var c3: LeNet5.C3Connections = options.choice("c3") == "paper" ? .paperTable : .full
        if !options.isGiven("c3"), metadata?.metadata["c3"] == "paper" { c3 = .paperTable }
        let c3Name = c3 == .full ? "full" : "paper"
        let kernels = KernelChoice(rawValue: options.choice("kernels"))!
        let epochs = options.epochs ?? (options.quick ? 10 : 40)
        var settings = TrainingSettings(epochs: epochs, batchSize: options.integer("batch"),
                                        schedule: .step(initial: options.number("lr"), milestones: [max(1, (2 * epochs + 2) / 3)], factor: 0.1))
        settings.weightDecay = Float(options.number("wd"))
        let maxShift = options.integer("shift")
        let trainCount = options.quick ? 600 : 4_000, validationCount = options.quick ? 200 : 1_000
        let run = try LessonRun(lesson: name, title: "LeNet-5 learns handwritten digits", options: options, console: console)

        // 1. The network, as the paper's table.
        run.step("The network, as the paper's table")
        let model = LeNet5.lesson(c3: c3, seed: options.seed, kernels: kernels)
        run.show(leNetTable(model))
        let counted = model.summary(inputShape: [1] + LeNet5.inputShape)
        if let published = PublishedCounts.lookup(c3 == .full ? "lenet5_full_c3" : "lenet5_partial_c3", fixtures: options.fixtures) {
            run.say(published.comparison(parameters: counted.parameters, macs: counted.macs))
        }
        let partial = LeNet5(c3: .paperTable)
        let partialC3 = partial.children.first { $0.name == "c3" }!.layer.parameterCount
        run.say("The paper's C3 sees only some S2 maps (Table I: rows S2 maps, columns C3 maps):")
        run.show(LeNetPaper.tableI)
        run.say("With that table C3 has \(ModelSummary.grouped(partialC3)) parameters (the paper: "
                + "\(ModelSummary.grouped(LeNetPaper.layers[2].parameters))) and LeNet-5 "
                + "\(ModelSummary.grouped(partial.parameterCount)); this run uses C3 "
                + (c3 == .full ? "full (--c3 paper for the table)." : "as Table I."))

        // 2. The data: a seeded split of MNIST-5k, padded to 32x32, scaled as the paper did.
        run.step("The data")
        let digits = try LabeledImages.loadDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"), padding: 2)
        guard digits.count >= 5_000 else { throw LessonError("mnist-5k holds \(digits.count) digits, 5,000 expected") }
        let splitSeed = metadata?.metadata["split_seed"].flatMap(UInt64.init) ?? options.seed
        var (training, validation) = digits.split(trainCount: 4_000, validationCount: 1_000, seed: splitSeed)
        training = training.subset(Array(0..<trainCount))
        validation = validation.subset(Array(0..<validationCount))
        training.normalize(mean: pixelMean, std: pixelStd)
        validation.normalize(mean: pixelMean, std: pixelStd)
        run.say("Fixtures/mnist-5k split with seed \(splitSeed): \(ModelSummary.grouped(training.count)) training digits and "
                + "\(ModelSummary.grouped(validation.count)) held out, padded by 2 to 32x32 and scaled as the paper did "
                + "(background -0.1, ink 1.175).")

        // --weights FILE --eval: measure the loaded weights on the held-out digits, and stop.
        if let file = metadata, let url = options.weights {
            try load(file, into: model, from: url)
            if options.evaluateOnly {
                let start = Stopwatch.now()
                let result = Trainer.evaluate(model, on: validation)
                let seconds = Stopwatch.now() - start
                run.step("The loaded weights, measured")
                run.say("\(url.path): \(String(format: "%.2f%%", 100 * result.accuracy)) of \(validation.count) held-out digits"
                        + " right (loss \(String(format: "%.4f", result.loss)); split seed \(splitSeed))")
                let results = Results(valAccuracy: result.accuracy, valLoss: result.loss, valExamples: validation.count,
                                      parameters: model.parameterCount, c3: c3Name, evalSeconds: seconds, weights: url.path)
                try run.finish(headline: String(format: "%.2f%% held-out accuracy (loaded weights)", 100 * result.accuracy),
                               results: results)
                return results
            }
            run.say("starting from the weights of \(url.path)")
        }

        // 3. Training.
        run.step("Training")
        run.show([("epochs", "\(settings.epochs)"), ("batch", "\(settings.batchSize)"),
                  ("optimizer", "SGD, lr \(settings.initialLearningRate) (/10 from epoch \(max(1, (2 * epochs + 2) / 3) + 1)), momentum \(settings.momentum), weight decay \(settings.weightDecay)"),
                  ("augmentation", maxShift > 0 ? "each digit shifted by up to \(maxShift) pixels" : "none"),
                  ("kernels", "\(kernels.rawValue) (the lesson's pair: LeNetKernels.swift)")])
        var trainer = Trainer(settings)
        trainer.checkpoint = run.directory.appendingPathComponent("lenet5.checkpoint.safetensors")
        trainer.resumes = options.resume
        let background = (0 - pixelMean) / pixelStd
        if maxShift > 0 {
            trainer.augment = { x, generator in randomlyShifted(x, by: maxShift, fill: background, using: &generator) }
        }
        let history = try trainer.train(model, on: training, validation: validation, seed: options.seed, console: console)
        let last = history.last!
        let heldOut = last.validationAccuracy ?? 0
        run.say("Held-out accuracy \(String(format: "%.2f%%", 100 * heldOut)) after \(String(format: "%.1f", history.seconds)) s of"
                + " training. The paper's, for scale: \(String(format: "%.2f%%", 100 * (1 - LeNetPaper.testError))) on MNIST's"
                + " 10,000 test digits, trained on 60,000.")
        try run.writeFigure(svg: LeNetPictures.trainingCurves(history.epochs, title: "LeNet-5 on MNIST-5k"),
                            name: "training-curves.svg", caption: "loss and accuracy per epoch, training and held-out")

        // 4. The race, on C3 with a real batch of held-out digits.
        run.step("The race on C3")
        let raceIndices = Array(0..<min(options.quick ? 16 : 64, validation.count))
        let race = raceOnC3(model, images: gatherRows(validation.images, raceIndices),
                            labels: raceIndices.map { validation.labels[$0] }, quick: options.quick)
        run.say("C3 (\(race.shape)) on a real batch of \(raceIndices.count) held-out digits: its input is what S2 made of"
                + " them, its upstream gradient what the loss sent back through the layers above.")
        run.show(race.result.table)
        run.say(String(format: "The lesson's fast kernel is %.1fx faster than the naive loops, and %.1fx faster than the core's"
                       + " general convolution (%@) on this small layer; same numbers: largest relative difference %.1e.",
                       race.result.speedup, race.result.rows[2].totalSeconds / race.result.rows[1].totalSeconds,
                       race.result.rows[2].kernel, race.result.maxRelativeDifference))

        // 5. Pictures and weights.
        run.step("What the network learned")
        try run.writeFigure(png: LeNetPictures.firstLayerFilters(model), name: "c1-filters.png",
                            caption: "the six learned 5x5 filters of C1 (black: most negative weight, white: most positive)")
        try run.writeFigure(svg: try LeNetPictures.featureMaps(model, digit: gatherRows(validation.images, [0])).svg, name: "feature-maps.svg",
                            caption: "a \(validation.labels[0]) at every stage, top to bottom: input, C1, S2, C3, S4, C5, F6, output")
        let weights = run.directory.appendingPathComponent("lenet5.safetensors")
        try model.save(to: weights, metadata: ["lesson": "lenet", "c3": c3Name, "split_seed": String(splitSeed),
                                               "seed": String(options.seed), "input": "32x32, (pixel/255 - 0.0784) / 0.784"])
        run.recordFile("lenet5.safetensors", description: "the weights (c1.weight, c1.bias, ..., output.bias)")
        run.recordFile("lenet5.checkpoint.safetensors", description: "the last epoch's checkpoint: weights, momentum, generator, history (--resume)")
        run.say("Evaluate them: lesson run lenet --weights \(weights.path) --eval")

        let ms = { (row: Int) in race.result.rows[row].totalSeconds * 1e3 }
        let results = Results(
            valAccuracy: heldOut, valLoss: last.validationLoss ?? 0, valExamples: validation.count,
            parameters: model.parameterCount, c3: c3Name,
            trainAccuracy: last.trainAccuracy, trainLoss: last.trainLoss, trainSeconds: history.seconds,
            imagesPerSecond: Double(training.count * history.epochs.count) / history.seconds,
            epochs: history.epochs.count, batchSize: settings.batchSize, learningRate: settings.initialLearningRate,
            trainExamples: training.count, macs: counted.macs,
            c3Parameters: model.children.first { $0.name == "c3" }!.layer.parameterCount,
            speedup: race.result.speedup, naiveMs: ms(0), fastMs: ms(1), coreMs: ms(2), coreKernel: race.result.rows[2].kernel,
            raceBatch: raceIndices.count, raceMaxDifference: race.result.maxRelativeDifference,
            seed: Int(options.seed), quick: options.quick, outputDirectory: run.directory.path)
        try run.finish(headline: String(format: "%.2f%% held-out accuracy", 100 * heldOut), results: results)
        return results
    }

    /// Races the naive and the fast valid convolution, and the core's general
    /// convolution, on C3 of `model` for the batch `images` (`[N, 1, 32, 32]`) with
    /// `labels`: C3's real input and its real upstream gradient.
    static func raceOnC3(_ model: LeNet5, images: Tensor, labels: [Int], quick: Bool) -> (shape: ValidConvolutionShape, result: RaceResult) {
        let layers = model.children
        guard let c3Index = layers.firstIndex(where: { $0.name == "c3" }), let c3 = layers[c3Index].layer as? Conv2d else {
            preconditionFailure("LeNet-5 has no convolution named c3")
        }
        var inputs: [Tensor] = []
        var y = images
        for (_, layer) in layers {
            inputs.append(y)
            y = layer(y)
        }
        var gradient = Loss.crossEntropy(y, targets: labels, using: model.backend).gradient
        for (_, layer) in layers[(c3Index + 1)...].reversed() { gradient = layer.backward(gradient) }
        let x = inputs[c3Index].data, dy = gradient.data
        let weight = c3.weight.value.data, bias = c3.bias?.value.data
        let shape = LeNetKernels.validShape(c3.geometry(for: inputs[c3Index].shape))!
        let g = shape.geometry
        let result = KernelRace.run([
            RaceEntrant(name: "naive: seven loops", kernel: "Naive.validConvolution", isSlow: true,
                        forward: { [Naive.validConvolution(x, weight: weight, bias: bias, shape: shape)] },
                        backward: { let r = Naive.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape)
                                    return [r.input, r.weight, r.bias] }),
            RaceEntrant(name: "fast: direct, SIMD over columns", kernel: "Fast.validConvolution",
                        forward: { [Fast.validConvolution(x, weight: weight, bias: bias, shape: shape)] },
                        backward: { let r = Fast.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape)
                                    return [r.input, r.weight, r.bias] }),
            RaceEntrant(name: "the core's general convolution", kernel: coreKernels(g),
                        forward: { [Fast.conv2d(x, weight: weight, bias: bias, geometry: g)] },
                        backward: { let r = Fast.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: g)
                                    return [r.input, r.weight, r.bias] }),
        ], quick: quick, forwardFlops: 2 * Double(shape.macs), backwardFlops: 4 * Double(shape.macs))
        return (shape, result)
    }

    /// Which of the core's convolution kernels `Fast.conv2d` and `Fast.conv2dBackward` run
    /// for `g`, as the router decides (Convolution+Fast.swift).
    static func coreKernels(_ g: Conv2DGeometry) -> String {
        let backward = Fast.conv2dBackwardMethods(for: g)
        return "Fast.conv2d: \(Fast.conv2dMethod(for: g).rawValue); dx \(backward.input.rawValue), dW \(backward.weight.rawValue)"
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
