import ConvNetCore
import Foundation
import LeNetLesson

// `lesson run augmentation`: data augmentation, for real.
//
//   1. the distortions on the photographs: mirroring, random crops, rotation, shearing,
//      elastic warping, colour shifting and AlexNet's PCA colour augmentation, several
//      draws of each on the three photographs of Fixtures/photos, as one PNG contact sheet;
//   2. naive against fast: each distortion's per-pixel form raced against its per-row form
//      on the photographs (same numbers first, then the times);
//   3. PCA colour: each photograph's principal colour axes (the covariance rebuilt from
//      them, their orthonormality) and how the shift moves its mean colour, beside a plain
//      colour shift of the same size;
//   4. a CPU thread streams distorted mini-batches to training through a bounded queue:
//      LeNet-5's training throughput with the augmentation inline and streamed, and the
//      same weights both ways;
//   5. accuracy with and without each distortion, LeNet-5 trained on a small subset of
//      MNIST-5k, paired seeds: which help digits and which (mirroring) hurt them.

/// The augmentation lesson, as `lesson list` and `lesson run augmentation` see it.
public enum AugmentationLesson: Lesson {
    public static let name = "augmentation"
    public static let folder = "Augmentation"
    public static let summary = "Data augmentation: mirroring, crops, rotation, shear, elastic warps, colour and PCA colour shifts; a thread streaming batches; accuracy with vs without"

    public static let options: [LessonOption] = [
        LessonOption("train", .integer(100...4_000), default: "500", help: "training digits (--quick: 160)"),
        LessonOption("held-out", .integer(100...1_000), default: "1000", help: "held-out digits (--quick: 200)"),
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds per arm (--quick: 1)"),
        LessonOption("side", .integer(32...512), default: "160", help: "side of the photographs on the contact sheet and in the race (--quick: 32)"),
        LessonOption("draws", .integer(1...8), default: "4", help: "draws of each distortion per photograph on the contact sheet (--quick: 2)"),
        LessonOption("capacity", .integer(1...64), default: "4", help: "batches the streaming queue holds"),
        LessonOption("lr", .number(1e-4...1), default: "0.05", help: "SGD learning rate (divided by 10 for the last third)"),
    ]

    public static let notes = """
    Training: LeNet-5 (tanh, Xavier) on MNIST-5k digits padded to 32x32, batch 32, SGD momentum 0.9, weight decay 5e-4,
    20 epochs (--epochs; --quick: 3), arms: none, mirror, crop, rotation, shear, elastic, combined (crop + rotation + shear + elastic).
    Throughput: 2 epochs over 2,000 digits (--quick: 1 over 128) with the combined augmentation, inline and streamed.
    Writes under --out: index.html, contact-sheet.png, contact-sheet.svg, training-loss.svg, lenet5-augmented.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("lenet5_parameters", "LeNet-5 (full C3), counted"),
        ResultKey("photographs", "the photographs distorted"),
        ResultKey("distortions", "the distortions, in the order of the other per-distortion keys"),
        ResultKey("max_difference", "largest relative difference, fast against naive, per distortion"),
        ResultKey("naive_ms", "naive form on the three photographs, ms per call, per distortion"),
        ResultKey("fast_ms", "fast form, ms per call, per distortion"),
        ResultKey("speedup", "naive / fast time, per distortion"),
        ResultKey("pca_eigenvalues", "each photograph's colour covariance eigenvalues, largest first ([0, 1] pixels)"),
        ResultKey("pca_reconstruction_error", "largest |C - P diag(lambda) P^T| over the photographs"),
        ResultKey("pca_orthonormality_error", "largest |P^T P - I| over the photographs"),
        ResultKey("pca_first_axis_cosine", "per photograph: |cos| between p_1 and the mean colour"),
        ResultKey("pca_mean_colour_degrees", "per photograph: mean angle (degrees) the PCA shift turns the mean colour, over 200 draws"),
        ResultKey("colour_mean_colour_degrees", "the same for a per-channel shift of the same length in a random direction"),
        ResultKey("plain_images_per_second", "training images/s with no augmentation"),
        ResultKey("inline_images_per_second", "images/s with the augmentation made between steps"),
        ResultKey("streamed_images_per_second", "images/s with the augmentation made by the producer thread"),
        ResultKey("streamed_over_inline", "throughput streamed / inline"),
        ResultKey("inline_one_thread_images_per_second", "inline, with the kernels on one thread (0 on a 1-core run)"),
        ResultKey("streamed_one_thread_images_per_second", "streamed, with the kernels on one thread: the producer has the other core"),
        ResultKey("streamed_over_inline_one_thread", "their ratio"),
        ResultKey("augment_seconds", "the producer's time making the batches"),
        ResultKey("consumer_wait_seconds", "time training waited for a batch, streamed"),
        ResultKey("same_weights", "the streamed and inline runs ended with the same weights, bit for bit"),
        ResultKey("arms", "the training arms"),
        ResultKey("accuracies", "held-out accuracy per arm, per seed"),
        ResultKey("mean_accuracies", "mean per arm"),
        ResultKey("paired_differences", "accuracy minus the unaugmented arm's, per arm, per seed"),
        ResultKey("verdicts", "per arm: helps (every seed better), hurts (every seed worse) or no difference shown"),
        ResultKey("epochs", "epochs per net"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_examples", "training digits"),
        ResultKey("held_out_examples", "held-out digits"),
        ResultKey("train_seconds", "time spent training (and measuring the held-out digits), all nets"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    public struct Results: Encodable {
        var lenet5Parameters = 0, photographs: [String] = [], distortions: [String] = []
        var maxDifference: [Double] = [], naiveMs: [Double] = [], fastMs: [Double] = [], speedup: [Double] = []
        var pcaEigenvalues: [[Double]] = [], pcaReconstructionError = 0.0, pcaOrthonormalityError = 0.0
        var pcaFirstAxisCosine: [Double] = [], pcaMeanColourDegrees: [Double] = [], colourMeanColourDegrees: [Double] = []
        var throughputPlain = 0.0, throughputInline = 0.0, throughputStreamed = 0.0, streamedOverInline = 0.0
        var inlineOneThread = 0.0, streamedOneThread = 0.0, streamedOverInlineOneThread = 0.0
        var augmentSeconds = 0.0, consumerWaitSeconds = 0.0, sameWeights = false
        var arms: [String] = [], accuracies: [[Double]] = [], meanAccuracies: [Double] = [], pairedDifferences: [[Double]] = []
        var verdicts: [String] = []
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, heldOutExamples = 0, trainSeconds = 0.0
        var quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case lenet5Parameters = "lenet5_parameters", photographs, distortions
            case maxDifference = "max_difference", naiveMs = "naive_ms", fastMs = "fast_ms", speedup
            case pcaEigenvalues = "pca_eigenvalues", pcaReconstructionError = "pca_reconstruction_error"
            case pcaOrthonormalityError = "pca_orthonormality_error", pcaFirstAxisCosine = "pca_first_axis_cosine"
            case pcaMeanColourDegrees = "pca_mean_colour_degrees", colourMeanColourDegrees = "colour_mean_colour_degrees"
            case throughputPlain = "plain_images_per_second", throughputInline = "inline_images_per_second", throughputStreamed = "streamed_images_per_second"
            case streamedOverInline = "streamed_over_inline", augmentSeconds = "augment_seconds"
            case inlineOneThread = "inline_one_thread_images_per_second", streamedOneThread = "streamed_one_thread_images_per_second"
            case streamedOverInlineOneThread = "streamed_over_inline_one_thread"
            case consumerWaitSeconds = "consumer_wait_seconds", sameWeights = "same_weights"
            case arms, accuracies, meanAccuracies = "mean_accuracies", pairedDifferences = "paired_differences", verdicts
            case epochs, seeds, trainExamples = "train_examples", heldOutExamples = "held_out_examples", trainSeconds = "train_seconds"
            case quick, outputDirectory = "output_directory"
        }
    }

    /// The training arms: a name and the distortions it applies (each with probability 1,
    /// mirroring with 1/2).
    static let arms: [(name: String, distortions: [Distortion])] = [
        ("none", []), ("mirror", [.mirror]), ("crop", [.crop]), ("rotation", [.rotation]), ("shear", [.shear]),
        ("elastic", [.elastic]), ("combined", [.crop, .rotation, .shear, .elastic]),
    ]

    /// LeNet-5 with full C3, Xavier-initialised from `seed`, on the LeNet lesson's own kernel
    /// pair (its direct valid convolution and 2x2 average pooling: several times the core's
    /// general convolution on these small layers).
    public static func network(seed: UInt64) -> LeNet5 {
        LeNet5.lesson(c3: .full, seed: seed)
    }

    static func augmenter(_ distortions: [Distortion], fill: Float) -> Augmenter {
        Augmenter(distortions, probability: distortions == [.mirror] ? 0.5 : 1, strength: .digits(), fill: fill)
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        func value(_ name: String, quick q: Int) -> Int { options.isGiven(name) || !quick ? options.integer(name) : q }
        let side = value("side", quick: 32), draws = value("draws", quick: 2)
        let run = try LessonRun(lesson: name, title: "Data augmentation: distortions, a streaming thread, and what they do for digits",
                                options: options, console: console)
        var results = Results()
        results.quick = quick
        results.outputDirectory = run.directory.path

        // 1. The distortions on the photographs.
        run.step("The distortions, on the photographs")
        let photos = try AugmentationPictures.photographs(options.fixtures.appendingPathComponent("photos"), side: side)
        results.photographs = photos.map(\.name)
        results.distortions = Distortion.allCases.map(\.rawValue)
        run.say("Each distortion is a function of the image and a few random numbers drawn per image (Distortions.swift has the"
                + " formulas). The geometric ones move pixels: out[c, i, j] = bilinear(x[c], y_src(i, j), x_src(i, j)); the colour"
                + " ones add one RGB offset to every pixel. Below: the \(photos.count) photographs (\(side)x\(side)), then \(draws) draws"
                + " of each distortion per photograph.")
        let strength = DistortionStrength.photographs(side: side)
        var g = SeededGenerator(seed: options.seed ^ 0xC0FFEE)
        var rows: [[[Float]]] = [photos.flatMap { photo in Array(repeating: photo.rgb, count: draws) }]
        var labels = ["original"]
        var strongPCA = strength
        strongPCA.pcaStd = 1
        let sheetRows: [(Distortion, DistortionStrength, String)] = Distortion.allCases.map { ($0, strength, $0.title) }
            + [(.pca, strongPCA, "PCA, alpha x10")]
        for (distortion, s, label) in sheetRows {
            rows.append(photos.flatMap { photo in
                (0..<draws).map { _ in
                    let draw = DistortionDraw.draw(distortion, height: side, width: side, channels: 3, strength: s, using: &g)
                    return FastDistortions.apply(draw, to: photo.rgb, channels: 3, height: side, width: side, fill: 0, weighting: s.pcaWeighting)
                }
            })
            labels.append(label)
        }
        let sheet = AugmentationPictures.sheet(rows: rows, side: side, groupSize: draws)
        try run.writeFigure(png: sheet.image, name: "contact-sheet.png",
                            caption: "rows: the photographs, then " + sheetRows.map(\.2).joined(separator: ", ")
                                + "; \(draws) draws per photograph")
        var labelled = LabeledImage(image: sheet.image, labels: zip(labels, sheet.rowTops).map { ($0, $1, side) })
        labelled.labelWidth = 150
        try run.write(Data(try labelled.svg.utf8), to: "contact-sheet.svg", description: "the contact sheet with each row's name")
        run.say(String(format: "Strengths on the photographs: crops of 60-100%% of the side resized back; rotation up to +-%.0f degrees;"
                       + " shear factor up to +-%.1f; elastic fields of sigma %.1f and alpha %.1f pixels (Simard et al.'s 4 and 34 on"
                       + " 28-pixel digits, scaled); colour shifts up to +-%.2f per channel; PCA alpha ~ N(0, 0.1) times sqrt(lambda)"
                       + " (the last row: alpha ~ N(0, 1), to make the axes visible). Pixels from outside the picture are black.",
                       strength.maxDegrees, strength.maxShear, strength.elasticSigma, strength.elasticAlpha, strength.maxColourShift))

        // 2. Naive against fast.
        run.step("Per pixel against per row: the two forms of each distortion")
        run.say("The naive form works out, for every channel and every output pixel, where it comes from, the four neighbours, their"
                + " weights and whether each is inside the image. The fast form does that once per output ROW for all channels"
                + " (for the affine maps the source coordinate is a running sum along the row), folds the outside taps into one"
                + " fill weight, then resamples each channel with the row's taps; mirroring is a reversed copy of each row, colour shifts a SIMD16 loop.")
        let all = photos.flatMap(\.rgb)
        var raceRows: [[String]] = []
        let per = 3 * side * side
        for distortion in Distortion.allCases {
            var rg = SeededGenerator(seed: options.seed &+ 77)
            let drawsForRace = photos.indices.map { _ in
                DistortionDraw.draw(distortion, height: side, width: side, channels: 3, strength: strength, using: &rg)
            }
            let race = KernelRace.run([
                RaceEntrant(name: "naive: per pixel", kernel: "NaiveDistortions.\(distortion.rawValue)", isSlow: true, forward: {
                    [photos.indices.flatMap { n in
                        NaiveDistortions.apply(drawsForRace[n], to: Array(all[n * per..<(n + 1) * per]), channels: 3, height: side, width: side,
                                               fill: Float(0), weighting: strength.pcaWeighting)
                    }]
                }),
                RaceEntrant(name: "fast: per row", kernel: "FastDistortions.\(distortion.rawValue)", forward: {
                    [photos.indices.flatMap { n in
                        FastDistortions.apply(drawsForRace[n], to: Array(all[n * per..<(n + 1) * per]), channels: 3, height: side, width: side,
                                              fill: 0, weighting: strength.pcaWeighting)
                    }]
                }),
            ], quick: quick)
            results.maxDifference.append(race.maxRelativeDifference)
            results.naiveMs.append(race.rows[0].forwardSeconds * 1e3)
            results.fastMs.append(race.rows[1].forwardSeconds * 1e3)
            results.speedup.append(race.speedup)
            raceRows.append([distortion.title, ms(race.rows[0].forwardSeconds), ms(race.rows[1].forwardSeconds),
                             String(format: "%.1fx", race.speedup), sci(race.maxRelativeDifference)])
        }
        run.show(ReportTable(headers: ["distortion", "naive (per pixel)", "fast (per row)", "fast / naive speed", "largest relative difference"],
                             rows: raceRows))
        run.say("On the \(photos.count) photographs at \(side)x\(side) (one call distorts all three; median of several calls, one thread)."
                + " The copies through Array in both forms are timed too.")

        // 3. PCA colour augmentation.
        run.step("PCA colour augmentation: the principal colour axes of each photograph")
        run.say("AlexNet (section 4.1) adds to every pixel [p_1, p_2, p_3][alpha_1 lambda_1, alpha_2 lambda_2, alpha_3 lambda_3]^T:"
                + " p_k and lambda_k the eigenvectors and eigenvalues of the 3x3 covariance of RGB pixel values, alpha_k ~ N(0, 0.1)"
                + " drawn once per image. The course: it shifts the colours while it '~keeps the overall colour the same'.")
        var pcaRows: [[String]] = []
        var ag = SeededGenerator(seed: options.seed &+ 99)
        for photo in photos {
            let pca = ColourPCA(rgb: photo.rgb.map(Double.init), pixels: side * side)
            let check = pcaChecks(pca)
            results.pcaEigenvalues.append(pca.eigenvalues)
            results.pcaReconstructionError = max(results.pcaReconstructionError, check.reconstruction)
            results.pcaOrthonormalityError = max(results.pcaOrthonormalityError, check.orthonormality)
            let cosine = abs(cosineOf(pca.eigenvectors[0], pca.mean))
            results.pcaFirstAxisCosine.append(cosine)
            let turns = meanColourTurns(pca, draws: 200, strength: strength, using: &ag)
            results.pcaMeanColourDegrees.append(turns.pca)
            results.colourMeanColourDegrees.append(turns.random)
            pcaRows.append([photo.name, pca.mean.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                            pca.eigenvalues.map { String(format: "%.2e", $0) }.joined(separator: ", "),
                            pca.eigenvectors[0].map { String(format: "%+.2f", $0) }.joined(separator: ", "),
                            String(format: "%.3f", cosine), String(format: "%.3f / %.3f", turns.pca, turns.random)])
        }
        run.show(ReportTable(headers: ["photograph", "mean RGB", "lambda_1, 2, 3", "p_1", "|cos(p_1, mean)|",
                                       "mean colour turned (deg): PCA / random direction"], rows: pcaRows))
        run.say(String(format: "The decomposition checks: P diag(lambda) P^T rebuilds each covariance to %@ (largest entry difference),"
                       + " and P^T P = I to %@. The first axis is close to the mean colour's own direction (|cos| %@), so most of"
                       + " the shift brightens or darkens the picture's own colour; over 200 draws of alpha ~ N(0, 0.1) x sqrt(lambda)"
                       + " the mean colour turned by %@ degrees on average, against %@ for a shift of the same length in a random"
                       + " RGB direction.",
                       sci(results.pcaReconstructionError), sci(results.pcaOrthonormalityError),
                       results.pcaFirstAxisCosine.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                       results.pcaMeanColourDegrees.map { String(format: "%.2f", $0) }.joined(separator: ", "),
                       results.colourMeanColourDegrees.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        let largest = results.pcaEigenvalues.map { $0[0] }
        run.say(String(format: "The scale matters: lambda is a variance, in the square of the pixels' unit. With the paper's alpha_k lambda_k"
                       + " on [0, 1] pixels, a typical offset along p_1 (alpha = 0.1) is 0.1 lambda_1 = %@ grey levels of 255 on these"
                       + " photographs; on 0-255 pixels lambda_1 is 255^2 times larger and the same formula would move pixels by %@ levels."
                       + " Many reimplementations multiply by sqrt(lambda_k) instead, the standard deviation along p_k, which does not"
                       + " depend on the scale (%@ levels here); so does the contact sheet. The exercise and its grader keep the paper's lambda.",
                       largest.map { String(format: "%.1f", 0.1 * $0 * 255) }.joined(separator: ", "),
                       largest.map { ModelSummary.grouped(Int(0.1 * $0 * 255 * 255)) }.joined(separator: ", "),
                       largest.map { String(format: "%.1f", 0.1 * $0.squareRoot() * 255) }.joined(separator: ", ")))

        // 4. The streaming thread.
        run.step("A CPU thread streams distorted mini-batches to training")
        let digits = try LabeledImages.loadDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"), padding: 2)
        let (fullTrain, fullHeld) = digits.split(trainCount: 4_000, validationCount: 1_000, seed: options.seed)
        var streamSet = fullTrain.subset(Array(0..<(quick ? 128 : 2_000)))
        let (pixelMean, pixelStd) = streamSet.pixelStatistics
        streamSet.normalize(mean: pixelMean, std: pixelStd)
        let background = (0 - pixelMean) / pixelStd
        let combined = augmenter([.crop, .rotation, .shear, .elastic], fill: background)
        let streamEpochs = quick ? 1 : 2
        func fresh() -> (LeNet5, SGD) {
            let net = network(seed: options.seed)
            return (net, SGD(parameters: net.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4))
        }
        let plainPlan = BatchPlan(data: streamSet, batchSize: 32, epochs: streamEpochs, seed: options.seed, augment: nil)
        let (plainNet, plainSGD) = fresh()
        let plain = try trainSteps(plainNet, optimizer: plainSGD, source: plainPlan.next)
        let inlinePlan = BatchPlan(data: streamSet, batchSize: 32, epochs: streamEpochs, seed: options.seed, augment: { combined($0, &$1) })
        let (inlineNet, inlineSGD) = fresh()
        var augmentSeconds = 0.0
        let inline = try trainSteps(inlineNet, optimizer: inlineSGD) {
            let start = Stopwatch.now()
            defer { augmentSeconds += Stopwatch.now() - start }
            return inlinePlan.next()
        }
        let stream = BatchStream(BatchPlan(data: streamSet, batchSize: 32, epochs: streamEpochs, seed: options.seed, augment: { combined($0, &$1) }),
                                 capacity: options.integer("capacity"))
        let (streamNet, streamSGD) = fresh()
        let streamed = try trainSteps(streamNet, optimizer: streamSGD, source: stream.next)
        stream.cancel()
        // The same two ways with the kernels on ONE thread, which leaves the second core to the producer.
        var oneThread: (inline: Double, streamed: Double)?
        let threads = Parallelism.threadCount
        if threads > 1 {
            Parallelism.threadCount = 1
            defer { Parallelism.threadCount = threads }
            let inlinePlan1 = BatchPlan(data: streamSet, batchSize: 32, epochs: streamEpochs, seed: options.seed, augment: { combined($0, &$1) })
            let (net1, sgd1) = fresh()
            let inline1 = try trainSteps(net1, optimizer: sgd1, source: inlinePlan1.next)
            let stream1 = BatchStream(BatchPlan(data: streamSet, batchSize: 32, epochs: streamEpochs, seed: options.seed, augment: { combined($0, &$1) }),
                                      capacity: options.integer("capacity"))
            let (net2, sgd2) = fresh()
            let streamed1 = try trainSteps(net2, optimizer: sgd2, source: stream1.next)
            stream1.cancel()
            oneThread = (Double(inline1.images) / inline1.seconds, Double(streamed1.images) / streamed1.seconds)
        }
        results.inlineOneThread = oneThread?.inline ?? 0
        results.streamedOneThread = oneThread?.streamed ?? 0
        results.streamedOverInlineOneThread = oneThread.map { $0.streamed / $0.inline } ?? 0
        results.throughputPlain = Double(plain.images) / plain.seconds
        results.throughputInline = Double(inline.images) / inline.seconds
        results.throughputStreamed = Double(streamed.images) / streamed.seconds
        results.streamedOverInline = results.throughputStreamed / results.throughputInline
        results.augmentSeconds = stream.producerWorkSeconds
        results.consumerWaitSeconds = stream.consumerWaitSeconds
        results.sameWeights = zip(inlineNet.parameters, streamNet.parameters).allSatisfy { $0.value.data == $1.value.data }
        let trainOnly = inline.seconds - augmentSeconds
        run.say("LeNet-5 trained \(streamEpochs) epoch\(streamEpochs == 1 ? "" : "s") over \(ModelSummary.grouped(streamSet.count)) digits,"
                + " batch 32, with the combined augmentation (crop, rotation, shear and elastic warp of every digit), three ways from"
                + " the same initialisation: no augmentation; augmentation inline (each batch distorted on the training thread"
                + " between steps); streamed (BatchStream: a producer thread distorts batches into a queue of"
                + " \(options.integer("capacity")) while training consumes them). Threads: \(Parallelism.threadCount) for the kernels.")
        run.show(ReportTable(headers: ["how", "images/s", "seconds", "where the time went"], rows: [
            ["no augmentation", ModelSummary.grouped(Int(results.throughputPlain)), String(format: "%.2f", plain.seconds), "training steps only"],
            ["augmentation inline", ModelSummary.grouped(Int(results.throughputInline)), String(format: "%.2f", inline.seconds),
             String(format: "%.2f s making batches + %.2f s training", augmentSeconds, trainOnly)],
            ["augmentation streamed", ModelSummary.grouped(Int(results.throughputStreamed)), String(format: "%.2f", streamed.seconds),
             String(format: "producer %.2f s making batches; training waited %.2f s for them", stream.producerWorkSeconds, stream.consumerWaitSeconds)],
        ] + (oneThread.map { one in [
            ["inline, kernels on 1 thread", ModelSummary.grouped(Int(one.inline)), String(format: "%.2f", Double(inline.images) / one.inline), "augmentation and training in turn on one core"],
            ["streamed, kernels on 1 thread", ModelSummary.grouped(Int(one.streamed)), String(format: "%.2f", Double(streamed.images) / one.streamed),
             String(format: "a core each for training and the producer: %.2fx the inline one-thread run", one.streamed / one.inline)],
        ] } ?? [])))
        run.say(String(format: "Streamed / inline: %.2fx. Inline, every step waits for its batch to be distorted; streamed, the"
                       + " distortion of the next batches overlaps the current step, so the step only pays for it when the producer"
                       + " falls behind (here training waited %.2f s of %.2f s). The gain is bounded by (augment + train) / max(augment,"
                       + " train) = %.2fx, and needs a core for the producer: the kernels use %d threads, so the producer competes with"
                       + " them for the same %d cores. The streamed and inline runs %@.",
                       results.streamedOverInline, stream.consumerWaitSeconds, streamed.seconds,
                       inline.seconds / max(augmentSeconds, trainOnly, 1e-9), Parallelism.threadCount, ProcessInfo.processInfo.activeProcessorCount,
                       results.sameWeights ? "ended with the same weights, bit for bit: the thread changes where the augmentation runs, not what it computes"
                                           : "did NOT end with the same weights"))
        if let one = oneThread {
            run.say(String(format: "With the kernels on one thread, so that the producer has a core of its own: inline %@ images/s, streamed %@:"
                           + " %.2fx. (On a machine shared with other programs neither core is really free, and the ratios vary from run to run.)",
                           ModelSummary.grouped(Int(one.inline)), ModelSummary.grouped(Int(one.streamed)), one.streamed / one.inline))
        }

        // 5. Accuracy with and without.
        run.step("What each distortion does for digits: LeNet-5 on a small subset, paired seeds")
        let seedCount = value("seeds", quick: 1)
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 3 : 20)
        let trainCount = value("train", quick: 160), heldCount = value("held-out", quick: 200)
        var training = fullTrain.subset(Array(0..<trainCount))
        var heldOut = fullHeld.subset(Array(0..<heldCount))
        let (mean0, std0) = training.pixelStatistics
        training.normalize(mean: mean0, std: std0)
        heldOut.normalize(mean: mean0, std: std0)
        let fill = (0 - mean0) / std0
        (results.epochs, results.seeds, results.trainExamples, results.heldOutExamples) = (epochs, seeds.map { Int($0) }, trainCount, heldCount)
        let lr = options.number("lr")
        var settings = TrainingSettings(epochs: epochs, batchSize: 32,
                                        schedule: epochs > 2 ? .step(initial: lr, milestones: [(2 * epochs + 2) / 3], factor: 0.1) : .constant(lr))
        settings.weightDecay = 5e-4
        run.show([("network", "LeNet-5 (full C3, tanh, Xavier initialisation), digits padded to 32x32"),
                  ("data", "\(ModelSummary.grouped(trainCount)) training digits of MNIST-5k's seed-\(options.seed) split, \(ModelSummary.grouped(heldCount)) held out"),
                  ("training", "\(epochs) epochs, batch 32, SGD lr \(lr)\(epochs > 2 ? " (/10 for the last third)" : ""), momentum 0.9, weight decay 5e-4"),
                  ("distortions", "mirror (p = 1/2); crop: shifts of up to 3 pixels; rotation +-15 degrees; shear +-0.3; elastic sigma 4, alpha 34 (Simard et al.); combined: crop, rotation, shear and elastic in turn"),
                  ("seeds", seeds.map(String.init).joined(separator: ", ") + ": each seed the same initialisation and mini-batches for every arm")])
        var curves: [(name: String, perEpoch: [Double])] = []
        let trainStart = Stopwatch.now()
        for arm in arms {
            var accuracies: [Double] = []
            var perEpoch = [Double](repeating: 0, count: epochs)
            for seed in seeds {
                let net = network(seed: seed)
                var trainer = Trainer(settings)
                trainer.label = "\(arm.name), seed \(seed)"
                trainer.printsEpochs = false
                if !arm.distortions.isEmpty {
                    let augment = augmenter(arm.distortions, fill: fill)
                    trainer.augment = { augment($0, &$1) }
                }
                let history = try trainer.train(net, on: training, seed: seed, console: console)
                let accuracy = Trainer.evaluate(net, on: heldOut).accuracy
                accuracies.append(accuracy)
                for (e, record) in history.epochs.enumerated() { perEpoch[e] += record.trainLoss / Double(seeds.count) }
                run.note("\(arm.name), seed \(seed): held-out accuracy \(percent(accuracy)) (\(String(format: "%.1f s", history.seconds)))")
                if arm.name == "combined" && seed == seeds[0] {
                    try net.save(to: run.directory.appendingPathComponent("lenet5-augmented.safetensors"),
                                 metadata: ["lesson": "augmentation", "seed": String(seed), "augmentation": "combined",
                                            "input": "1x32x32 digits, normalised"])
                    run.recordFile("lenet5-augmented.safetensors", description: "LeNet-5 trained with the combined augmentation, seed \(seed)")
                }
            }
            results.arms.append(arm.name)
            results.accuracies.append(accuracies)
            results.meanAccuracies.append(mean(accuracies))
            curves.append((arm.name, perEpoch))
        }
        results.trainSeconds = Stopwatch.now() - trainStart
        let baseline = results.accuracies[0]
        var accuracyRows: [[String]] = []
        for (a, arm) in results.arms.enumerated() {
            let differences = zip(results.accuracies[a], baseline).map { $0 - $1 }
            results.pairedDifferences.append(differences)
            let verdict = a == 0 ? "baseline" : seeds.count < 2 ? "one seed: no claim"
                : differences.allSatisfy({ $0 > 0 }) ? "helps" : differences.allSatisfy({ $0 < 0 }) ? "hurts" : "no difference shown"
            results.verdicts.append(verdict)
            accuracyRows.append([arm] + results.accuracies[a].map(percent) + [percent(results.meanAccuracies[a]), percent(spreadOf(results.accuracies[a])),
                                 a == 0 ? "-" : differences.map { String(format: "%+.1f", 100 * $0) }.joined(separator: ", "), verdict])
        }
        run.show(ReportTable(headers: ["arm"] + seeds.map { "seed \($0)" } + ["mean", "spread", "minus none, per seed (points)", "verdict"],
                             rows: accuracyRows))
        run.say("'helps' means better than no augmentation on every paired seed, 'hurts' worse on every one; anything else is no"
                + " difference shown at this budget (with 3 seeds a sign agreement on all of them, not a significance test)."
                + " Mirroring a digit makes a different symbol (a mirrored 2, 3, 7 or 9 is no digit, and b/d-like pairs swap),"
                + " so it teaches the net an invariance the task does not have; a shift, a small rotation, a slant or a wobble of"
                + " the stroke is how handwriting really varies.")
        try run.writeFigure(svg: AugmentationPictures.lossCurves(curves), name: "training-loss.svg",
                            caption: "training loss (on the distorted digits) per epoch, mean over the seeds, one line per arm")
        results.lenet5Parameters = LeNet5().parameterCount
        if let published = PublishedCounts.lookup("lenet5_full_c3", fixtures: options.fixtures) {
            run.say(published.comparison(parameters: results.lenet5Parameters, macs: LeNet5().summary(inputShape: [1, 1, 32, 32]).macs))
        }

        let best = results.arms.indices.dropFirst().max { results.meanAccuracies[$0] < results.meanAccuracies[$1] } ?? 0
        let headline = String(format: "held-out %@ without augmentation, %@ with %@ (best); mirroring %@; streaming %.2fx the inline throughput",
                              percent(results.meanAccuracies[0]), percent(results.meanAccuracies[best]), results.arms[best],
                              percent(results.meanAccuracies[1]), results.streamedOverInline)
        try run.finish(headline: headline, results: results)
        return results
    }

    /// The largest entry of |C - P diag(lambda) P^T| and of |P^T P - I|.
    static func pcaChecks(_ pca: ColourPCA) -> (reconstruction: Double, orthonormality: Double) {
        var reconstruction = 0.0, orthonormality = 0.0
        for a in 0..<3 {
            for b in 0..<3 {
                let rebuilt = (0..<3).reduce(0.0) { $0 + pca.eigenvectors[$1][a] * pca.eigenvalues[$1] * pca.eigenvectors[$1][b] }
                reconstruction = max(reconstruction, abs(rebuilt - pca.covariance[a][b]))
                let dot = (0..<3).reduce(0.0) { $0 + pca.eigenvectors[a][$1] * pca.eigenvectors[b][$1] }
                orthonormality = max(orthonormality, abs(dot - (a == b ? 1 : 0)))
            }
        }
        return (reconstruction, orthonormality)
    }

    static func cosineOf(_ a: [Double], _ b: [Double]) -> Double {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return dot / max(na * nb, .leastNormalMagnitude)
    }

    /// The mean angle (degrees) between an image's mean colour before and after a PCA shift
    /// (alpha ~ N(0, pcaStd), weighted as `strength` says), and after a shift of the same
    /// length in a uniformly random RGB direction, over `draws` draws.
    static func meanColourTurns(_ pca: ColourPCA, draws: Int, strength: DistortionStrength, using g: inout SeededGenerator) -> (pca: Double, random: Double) {
        var pcaSum = 0.0, randomSum = 0.0
        func angle(_ offset: [Double]) -> Double {
            let moved = zip(pca.mean, offset).map { $0 + $1 }
            return acos(min(1, max(-1, cosineOf(pca.mean, moved)))) * 180 / .pi
        }
        for _ in 0..<draws {
            let alphas = (0..<3).map { _ in Double(g.nextNormal()) * strength.pcaStd }
            let offset = pca.offset(alphas: alphas, weighting: strength.pcaWeighting)
            let length = offset.reduce(0) { $0 + $1 * $1 }.squareRoot()
            var direction = (0..<3).map { _ in Double(g.nextNormal()) }
            let norm = max(direction.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            direction = direction.map { $0 / norm * length }
            pcaSum += angle(offset)
            randomSum += angle(direction)
        }
        return (pcaSum / Double(draws), randomSum / Double(draws))
    }
}
