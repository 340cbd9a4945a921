import ConvNetCore
import Foundation
import LeNetLesson

// `lesson run multicrop`: the course's test-time tricks, measured on digits.
//
//   1. the data: Fixtures/mnist-5k split with the seed (3,000 training digits, 2,000 held
//      out); the crops cut from the 28x28 digits or from the digits padded to 32x32;
//   2. training: K LeNet-5s (lesson 1's network, LeNetLesson) on paired seeds, each on
//      random S x S crops, each crop padded back to LeNet-5's 32x32 input;
//   3. evaluation: every net on the held-out digits with 1 centre crop, 5 crops (4 corners
//      + centre), 10 crops (the 5 and their mirrors, AlexNet's), 9 and 25 crops (3x3 and
//      5x5 grids); the ensemble of the K nets averages their probabilities; one table of
//      errors and cost (forward passes, time) beside GoogLeNet's Table 3, the paper's;
//   4. the race: the 10 crops of one digit as ten forward passes of one image, and as one
//      forward pass of a batch of ten (MultiCrop+Naive.swift, MultiCrop+Fast.swift).

/// The multi-crop and ensemble lesson, as `lesson list` and `lesson run multicrop` see it.
public enum MultiCropLesson: Lesson {
    public static let name = "multicrop"
    public static let folder = "MultiCrop"
    public static let summary = "Multi-crop testing (1, 5, 10, 25 crops) and ensembles of LeNet-5s on digits, beside GoogLeNet's Table 3"

    public static let options: [LessonOption] = [
        LessonOption("nets", .integer(2...9), default: "5", help: "independently trained nets in the ensemble, seeds seed ... seed+K-1 (--quick: 3)"),
        LessonOption("crop", .choice(["16", "20", "24", "28"]), default: "24", help: "side S of the crops the nets train and test on"),
        LessonOption("canvas", .choice(["28", "32"]), default: "28",
                     help: "crop from the 28x28 digits (up to +-2 px from the centre crop at S = 24) or the digits padded to 32x32 (+-4 px)"),
        LessonOption("shift", .integer(0...6), default: "0",
                     help: "move each held-out digit by up to N px at random (seeded) before cropping: digits off centre, like objects in photographs (0: centred, as MNIST stores them)"),
        LessonOption("train", .integer(100...4_000), default: "3000", help: "training digits (--quick: 400)"),
        LessonOption("batch", .integer(1...1_024), default: "32", help: "mini-batch size"),
        LessonOption("lr", .number(1e-6...10), default: "0.05", help: "initial learning rate of SGD with momentum 0.9, /10 at 2/3 of the epochs"),
    ]

    public static let notes = """
    Defaults: 5 LeNet-5s, 10 epochs each on 3,000 digits, 2,000 held out (--quick: 3 nets, 2 epochs on 400, 200 held out).
    Each training digit is a random S x S crop (top, left uniform), padded back to 32x32; mirrors are never used in training.
    Writes under --out: index.html, crops.png, errors-vs-cost.svg, multicrop-net1.safetensors (the first net).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("canvas", "side of the images the crops are cut from (28 or 32)"),
        ResultKey("crop_size", "side S of the crops"),
        ResultKey("nets", "nets in the ensemble"),
        ResultKey("schemes", "the crop sets, in the order of the arrays below: centre, five, ten (mirrored), grid3, grid5"),
        ResultKey("crops_per_scheme", "crops (forward passes per digit per net) of each crop set"),
        ResultKey("net_errors", "held-out errors of each single net (rows) with each crop set (columns)"),
        ResultKey("mean_net_errors", "the mean over the nets, per crop set"),
        ResultKey("ensemble_errors", "held-out errors of the ensemble (probabilities averaged over nets and crops), per crop set"),
        ResultKey("ensemble_logit_errors", "the ensemble with 1 centre crop when the nets' LOGITS are averaged instead of their probabilities"),
        ResultKey("single_eval_ms_per_digit", "time of one net's forward passes per held-out digit, per crop set (mean over nets), ms"),
        ResultKey("ensemble_eval_ms_per_digit", "time of all nets' forward passes per held-out digit, per crop set, ms"),
        ResultKey("ten_passes_ms", "the race, on one thread: 10 crops of one digit as ten forward passes of one image"),
        ResultKey("one_batch_ms", "the race, on one thread: the same 10 crops as one forward pass of a batch of ten"),
        ResultKey("batch_speedup", "the race, on one thread: ten passes / one batch"),
        ResultKey("ten_passes_all_threads_ms", "the race on all the process's threads: ten passes"),
        ResultKey("one_batch_all_threads_ms", "the race on all the process's threads: one batch of ten"),
        ResultKey("race_max_difference", "the race: largest relative difference of the two ways' probabilities"),
        ResultKey("val_examples", "held-out digits"),
        ResultKey("test_shift", "each held-out digit moved by up to this many pixels before cropping (0: centred)"),
    ] + ResultKey.trainingRun

    public struct Results: Encodable {
        var canvas = 0, cropSize = 0, nets = 0
        var schemes: [String] = [], cropsPerScheme: [Int] = []
        var netErrors: [[Int]] = [], meanNetErrors: [Double] = [], ensembleErrors: [Int] = [], ensembleLogitErrors = 0
        var singleEvalMsPerDigit: [Double] = [], ensembleEvalMsPerDigit: [Double] = []
        var tenPassesMs = 0.0, oneBatchMs = 0.0, tenPassesAllThreadsMs = 0.0, oneBatchAllThreadsMs = 0.0, batchSpeedup = 0.0, raceMaxDifference = 0.0
        var valExamples = 0, testShift = 0, epochs = 0, seeds: [Int] = [], trainExamples = 0, trainSeconds = 0.0
        var quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case canvas, cropSize = "crop_size", nets, schemes, cropsPerScheme = "crops_per_scheme"
            case netErrors = "net_errors", meanNetErrors = "mean_net_errors", ensembleErrors = "ensemble_errors"
            case ensembleLogitErrors = "ensemble_logit_errors"
            case singleEvalMsPerDigit = "single_eval_ms_per_digit", ensembleEvalMsPerDigit = "ensemble_eval_ms_per_digit"
            case tenPassesMs = "ten_passes_ms", oneBatchMs = "one_batch_ms", batchSpeedup = "batch_speedup"
            case tenPassesAllThreadsMs = "ten_passes_all_threads_ms", oneBatchAllThreadsMs = "one_batch_all_threads_ms"
            case raceMaxDifference = "race_max_difference", valExamples = "val_examples", testShift = "test_shift"
            case epochs, seeds, trainExamples = "train_examples", trainSeconds = "train_seconds", quick, outputDirectory = "output_directory"
        }
    }

    /// LeNet's input scaling: background 0 -> -0.1, ink 1 -> 1.175.
    static let pixelMean: Float = 0.1 / 1.275
    static let pixelStd: Float = 1 / 1.275

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let netCount = options.isGiven("nets") || !quick ? options.integer("nets") : 3
        let size = Int(options.choice("crop"))!, canvas = Int(options.choice("canvas"))!
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 400
        let validationCount = quick ? 200 : 2_000
        let epochs = options.epochs ?? (quick ? 2 : 10)
        let seeds = (0..<netCount).map { options.seed + UInt64($0) }
        let crops = CropInput(canvas: canvas, size: size, fill: (0 - pixelMean) / pixelStd)
        let run = try LessonRun(lesson: name, title: "Multi-crop testing and ensembles", options: options, console: console)
        var results = Results()
        (results.canvas, results.cropSize, results.nets, results.quick) = (canvas, size, netCount, quick)
        (results.epochs, results.seeds, results.trainExamples, results.valExamples) = (epochs, seeds.map { Int($0) }, trainCount, validationCount)
        results.outputDirectory = run.directory.path

        // 1. The data.
        run.step("The data and the crops")
        let digits = try LabeledImages.loadDigits(directory: options.fixtures.appendingPathComponent("mnist-5k"), padding: (canvas - 28) / 2)
        guard digits.count >= 5_000 else { throw LessonError("mnist-5k holds \(digits.count) digits, 5,000 expected") }
        var (training, validation) = digits.split(trainCount: 3_000, validationCount: 2_000, seed: options.seed)
        if trainCount > 3_000 {
            // More than 3,000 training digits: take them from the end of the held-out part.
            (training, validation) = digits.split(trainCount: trainCount, validationCount: 5_000 - trainCount, seed: options.seed)
        }
        training = training.subset(Array(0..<trainCount))
        validation = validation.subset(Array(0..<min(validationCount, validation.count)))
        results.valExamples = validation.count
        training.normalize(mean: pixelMean, std: pixelStd)
        validation.normalize(mean: pixelMean, std: pixelStd)
        let testShift = options.integer("shift")
        results.testShift = testShift
        if testShift > 0 {
            var g = SeededGenerator(seed: options.seed ^ 0x5817_F7ED)
            validation.images = randomlyShifted(validation.images, by: testShift, fill: crops.fill, using: &g)
        }
        let schemes = CropScheme.allCases
        results.schemes = schemes.map(\.rawValue)
        results.cropsPerScheme = schemes.map { crops.views($0).count }
        run.say("Fixtures/mnist-5k split with seed \(options.seed): \(ModelSummary.grouped(training.count)) training digits and"
                + " \(ModelSummary.grouped(validation.count)) held out, \(canvas == 28 ? "28x28 as stored" : "padded by 2 to 32x32"),"
                + " scaled as LeNet-5's paper did. Every crop is \(size)x\(size), cut at (top, left) in 0...\(crops.room), then padded"
                + " back to LeNet-5's 32x32 input with the background: a crop is the digit moved by up to \(crops.room / 2) pixels"
                + " from the centre crop's place, with what falls outside the \(size)x\(size) window blanked."
                + (testShift > 0 ? " The held-out digits were each moved by up to \(testShift) pixels at random (seeded) before cropping:"
                   + " off centre, as objects are in photographs, so that the centre crop may miss part of the digit." : ""))
        run.show(ReportTable(headers: ["crop set", "crops", "(top, left) of each crop"],
                             rows: schemes.map { s in [s.label, "\(crops.views(s).count)", crops.views(s).map(\.description).joined(separator: " ")] }))
        run.say("Mirrors: AlexNet's 10 crops add the left-right mirror image of each of the 5 crops. A photograph of a dog mirrored is"
                + " still a dog; a digit mirrored is not the same digit (a mirrored 2 or 3 or 7 is no digit at all, a mirrored 5 looks"
                + " like a 2). So the nets here are never trained on mirrors; the 10-crop row below is measured as the recipe says, to"
                + " show what it does to digits, and the recommended sets for digits are the unmirrored ones (5, 9, 25 crops).")
        var grid = ImageGrid(columns: 10, scale: 4, gap: 2, normalizeEachTile: false)
        let example = gatherRows(validation.images, [0])
        for view in crops.views(.ten) { grid.appendChannels(of: crops.input(example, view: view)) }
        try run.writeFigure(png: grid.image, name: "crops.png",
                            caption: "the 10 crops of a held-out \(validation.labels[0]) as the network sees them (padded to 32x32): centre, 4 corners, then their mirrors")

        // 2. Training.
        run.step("Training \(netCount) LeNet-5s on random crops")
        var settings = TrainingSettings(epochs: epochs, batchSize: options.integer("batch"),
                                        schedule: .step(initial: options.number("lr"), milestones: [max(1, (2 * epochs + 2) / 3)], factor: 0.1))
        settings.weightDecay = 0.002
        run.show([("nets", "\(netCount), seeds \(seeds.map(String.init).joined(separator: ", ")) (all of them: none picked)"),
                  ("network", "LeNet-5 (C3 full), 61,706 parameters, from LeNetLesson"),
                  ("epochs", "\(epochs), batch \(settings.batchSize)"),
                  ("optimizer", "SGD, lr \(settings.initialLearningRate) (/10 from epoch \(max(1, (2 * epochs + 2) / 3) + 1)), momentum 0.9, weight decay 0.002"),
                  ("augmentation", "a random \(size)x\(size) crop of the \(canvas)x\(canvas) digit, every step")])
        var nets: [LeNet5] = []
        for seed in seeds {
            let model = LeNet5.lesson(seed: seed)
            var trainer = Trainer(settings)
            trainer.label = "net \(nets.count + 1) (seed \(seed))"
            trainer.printsEpochs = false
            trainer.augment = { x, generator in crops.randomCrops(x, using: &generator) }
            let history = try trainer.train(model, on: training, seed: seed, console: console)
            results.trainSeconds += history.seconds
            run.note("net \(nets.count + 1) (seed \(seed)): trained in \(String(format: "%.1f s", history.seconds)), last epoch's training accuracy \(percent(history.last?.trainAccuracy ?? 0))")
            model.eval()
            nets.append(model)
        }
        try nets[0].save(to: run.directory.appendingPathComponent("multicrop-net1.safetensors"),
                         metadata: ["lesson": "multicrop", "seed": String(seeds[0]), "canvas": String(canvas), "crop": String(size),
                                    "input": "a \(size)x\(size) crop padded to 32x32, (pixel/255 - 0.0784) / 0.784"])
        run.recordFile("multicrop-net1.safetensors", description: "the first net's weights (LeNet-5 names: c1.weight ... output.bias)")

        // 3. Evaluation: every net on every view once; the crop sets and the ensemble average those.
        run.step("Multi-crop testing and the ensemble")
        var allViews: [CropView] = []
        for s in schemes { for v in crops.views(s) where !allViews.contains(v) { allViews.append(v) } }
        var logits: [[CropView: Tensor]] = [], seconds: [[CropView: Double]] = []
        for (k, net) in nets.enumerated() {
            var l: [CropView: Tensor] = [:], t: [CropView: Double] = [:]
            for (i, view) in allViews.enumerated() {
                console.progress("net \(k + 1)/\(netCount): crop \(i + 1)/\(allViews.count)")
                let input = crops.input(validation.images, view: view)
                let start = Stopwatch.now()
                var out: [Float] = []
                var first = 0
                while first < validation.count {
                    let indices = Array(first..<min(first + 250, validation.count))
                    out += net(gatherRows(input, indices)).data
                    first += 250
                }
                t[view] = Stopwatch.now() - start
                l[view] = Tensor(shape: [validation.count, 10], data: out)
            }
            logits.append(l)
            seconds.append(t)
        }
        console.clearProgress()
        let labels = validation.labels
        func probabilities(net k: Int, _ scheme: CropScheme) -> Tensor {
            MultiCrop.averageProbabilities(crops.views(scheme).map { MultiCrop.softmax(logits[k][$0]!) })
        }
        let perDigit = 1e3 / Double(validation.count)
        results.netErrors = (0..<netCount).map { k in schemes.map { MultiCrop.errors(probabilities(net: k, $0), labels: labels) } }
        results.meanNetErrors = schemes.indices.map { j in mean(results.netErrors.map { Double($0[j]) }) }
        results.ensembleErrors = schemes.map { s in
            MultiCrop.errors(MultiCrop.averageProbabilities((0..<netCount).map { probabilities(net: $0, s) }), labels: labels)
        }
        let centre = crops.views(.centre)[0]
        results.ensembleLogitErrors = MultiCrop.errors(MultiCrop.averageProbabilities((0..<netCount).map { logits[$0][centre]! }), labels: labels)
        results.ensembleEvalMsPerDigit = schemes.map { s in
            (0..<netCount).reduce(0.0) { sum, k in sum + crops.views(s).reduce(0.0) { $0 + seconds[k][$1]! } } * perDigit
        }
        results.singleEvalMsPerDigit = results.ensembleEvalMsPerDigit.map { $0 / Double(netCount) }

        let base = results.meanNetErrors[0]
        let n = Double(validation.count)
        func errorText(_ e: Double) -> String { String(format: e == e.rounded() ? "%.0f" : "%.1f", e) + " (" + String(format: "%.2f%%", 100 * e / n) + ")" }
        func change(_ e: Double) -> String { e == base ? "base" : String(format: "%+.1f", e - base) }
        var rows: [[String]] = []
        for (j, s) in schemes.enumerated() {
            let each = results.netErrors.map { $0[j] }
            rows.append(["1", s.label, "\(results.cropsPerScheme[j])", errorText(results.meanNetErrors[j]),
                         "\(each.min()!)-\(each.max()!)", change(results.meanNetErrors[j]),
                         String(format: "%.3f ms", results.singleEvalMsPerDigit[j])])
        }
        for (j, s) in schemes.enumerated() {
            rows.append(["\(netCount)", s.label, "\(netCount * results.cropsPerScheme[j])", errorText(Double(results.ensembleErrors[j])),
                         "", change(Double(results.ensembleErrors[j])), String(format: "%.3f ms", results.ensembleEvalMsPerDigit[j])])
        }
        run.show(ReportTable(caption: "held-out errors of \(validation.count) digits; a single net's row is the mean over the \(netCount) nets (with their range)",
                             headers: ["nets", "crops", "forward passes per digit", "errors", "range over nets", "vs 1 net, 1 crop", "time per digit"],
                             rows: rows))
        run.say("GoogLeNet's Table 3, the paper's numbers (ILSVRC 2014 validation, top-5 error; cost in forward passes per image), for the shape of the idea; nothing of it is measured here:")
        run.show(ReportTable(headers: ["models", "crops", "cost", "top-5 error", "vs base"],
                             rows: GoogLeNetPaper.table3.map { ["\($0.models)", "\($0.crops)", "\($0.cost)", String(format: "%.2f%%", $0.top5Error),
                                                                $0.models == 1 && $0.crops == 1 ? "base" : String(format: "%+.2f%%", $0.top5Error - 10.07)] }))

        // What the table says, claimed only as far as it was measured.
        let idx = { (s: CropScheme) in schemes.firstIndex(of: s)! }
        let oneCrop = results.netErrors.map { Double($0[idx(.centre)]) }
        for s in [CropScheme.five, .grid5] {
            let other = results.netErrors.map { Double($0[idx(s)]) }
            let gains = zip(oneCrop, other).map { $0 - $1 }
            let fewer = gains.filter { $0 > 0 }.count, more = gains.filter { $0 < 0 }.count
            let verdict = fewer == netCount ? "helped on every net"
                : more == netCount ? "hurt on every net"
                : "did not show a consistent effect (fewer errors on \(fewer) of the \(netCount) nets, more on \(more), the same on \(netCount - fewer - more))"
            run.say(String(format: "Single nets, %@ crops against 1: %.1f errors against %.1f on average; the multi-crop average %@.",
                           s == .five ? "5" : "25", mean(other), mean(oneCrop), verdict))
        }
        let mirrored = results.netErrors.map { Double($0[idx(.ten)]) }, five = results.netErrors.map { Double($0[idx(.five)]) }
        run.say(String(format: "Mirrors: 10 crops (the 5 and their mirrors) gave %.1f errors on average, the 5 unmirrored crops %.1f: for"
                       + " digits the mirrors %@, as expected of images whose class changes in a mirror.",
                       mean(mirrored), mean(five), mean(mirrored) > mean(five) ? "HURT" : "did not hurt"))
        let best = results.netErrors.map { $0[0] }.min()!
        let ensembleOne = results.ensembleErrors[0]
        run.say("The ensemble of \(netCount) nets, 1 centre crop: \(ensembleOne) errors, against \(String(format: "%.1f", base)) for the"
                + " average net and \(best) for the best one (which could not be known in advance: picking it would be picking seeds)."
                + (ensembleOne < best ? " The ensemble beat every member." : ensembleOne < Int(base.rounded(.up)) ? " It beat the average member but not the best."
                   : " It did not beat the average member."))
        let bestEnsemble = zip(schemes, results.ensembleErrors).filter { $0.0 != .ten }.min { $0.1 < $1.1 }!
        run.say("Ensemble and crops combined: the fewest errors without mirrors, \(bestEnsemble.1), with \(bestEnsemble.0.label) crops"
                + " per net, \(netCount * crops.views(bestEnsemble.0).count) forward passes per digit.")
        run.say("Averaging probabilities, not logits: with 1 crop the ensemble made \(ensembleOne) errors averaging the nets'"
                + " softmax probabilities and \(results.ensembleLogitErrors) averaging their logits"
                + (results.ensembleLogitErrors == ensembleOne ? " (the same count)." : results.ensembleLogitErrors < ensembleOne
                   ? " (here the logits did better; one run, not a rule)." : " (here the probabilities did better; one run, not a rule).")
                + " The lesson averages probabilities, the course's recipe: each net's vote is a distribution summing to 1, so a net whose"
                + " logits grew large does not outvote the others.")
        var chart = LineChart(title: "held-out errors against forward passes per digit", xLabel: "forward passes per digit (log scale: log2)",
                              yLabel: "errors of \(validation.count) digits")
        let unmirrored = schemes.enumerated().filter { $0.element != .ten }
        chart.series = [
            .init(name: "1 net (mean over nets)", points: unmirrored.map { (log2(Double(results.cropsPerScheme[$0.offset])), results.meanNetErrors[$0.offset]) }),
            .init(name: "ensemble of \(netCount)", points: unmirrored.map { (log2(Double(netCount * results.cropsPerScheme[$0.offset])), Double(results.ensembleErrors[$0.offset])) }),
            .init(name: "10 crops with mirrors: 1 net, ensemble", points: [(log2(10), results.meanNetErrors[idx(.ten)]),
                                                                          (log2(Double(10 * netCount)), Double(results.ensembleErrors[idx(.ten)]))], dashed: true),
        ]
        try run.writeFigure(svg: chart.svg, name: "errors-vs-cost.svg",
                            caption: "errors against forward passes per digit: 1, 5, 9, 25 crops for one net and for the ensemble; dashed: the mirrored 10 crops")

        // 4. The race.
        run.step("The race: ten forward passes, or one batch of ten")
        let image = gatherRows(validation.images, [0]), ten = crops.views(.ten)
        func runRace() -> RaceResult {
            KernelRace.run([
                RaceEntrant(name: "naive: ten passes of one crop", kernel: "Naive.multiCropProbabilities",
                            forward: { [Naive.multiCropProbabilities(nets[0], image: image, views: ten, crops: crops)] }),
                RaceEntrant(name: "fast: one pass of a batch of ten", kernel: "Fast.multiCropProbabilities",
                            forward: { [Fast.multiCropProbabilities(nets[0], image: image, views: ten, crops: crops)] }),
            ], quick: quick, forwardFlops: 2 * 10 * Double(nets[0].summary(inputShape: [1, 1, 32, 32]).macs))
        }
        // First on all the process's threads, then on one: on a shared machine the hand-offs between threads measure
        // the other programs as much as the kernels (the DenseNet lesson times on one thread too).
        let threads = Parallelism.threadCount
        let allThreads = runRace()
        Parallelism.threadCount = 1
        let race = runRace()
        Parallelism.threadCount = threads
        results.tenPassesAllThreadsMs = allThreads.rows[0].forwardSeconds * 1e3
        results.oneBatchAllThreadsMs = allThreads.rows[1].forwardSeconds * 1e3
        var shown = allThreads.table
        shown.caption = "on \(threads) thread\(threads == 1 ? "" : "s") (the process's)"
        run.show(shown)
        shown = race.table
        shown.caption = "on one thread"
        run.show(shown)
        results.tenPassesMs = race.rows[0].forwardSeconds * 1e3
        results.oneBatchMs = race.rows[1].forwardSeconds * 1e3
        results.batchSpeedup = race.speedup
        results.raceMaxDifference = max(race.maxRelativeDifference, allThreads.maxRelativeDifference)
        run.say(String(format: "The 10 crops of one held-out digit through net 1, on one thread: ten passes of a batch of 1 took %@, one pass of a batch of"
                       + " ten %@ (%.2fx), with the same probabilities (largest relative difference %@). Same multiplies either way;"
                       + " the batch reads every weight once for ten crops, hands the kernels matrices ten times taller and pays the"
                       + " per-layer overhead (allocations, dispatch) once instead of ten times. ",
                       ms(race.rows[0].forwardSeconds), ms(race.rows[1].forwardSeconds), race.speedup, sci(race.maxRelativeDifference))
                + String(format: "On %d threads: %@ against %@ (%.2fx)%@. ", threads, ms(allThreads.rows[0].forwardSeconds),
                         ms(allThreads.rows[1].forwardSeconds), allThreads.speedup,
                         threads > 1 && allThreads.speedup < race.speedup / 1.2
                             ? ": the batch gained less with the threads than without (a batch this small is split over threads whose hand-offs cost more than they save on busy cores)" : "")
                + (race.speedup > 1.1 ? "On one thread the batch was faster: a 10-crop test costs 10 forward passes of work, but not 10 times the wall time."
                   : race.speedup < 0.9 ? "On one thread the batch was SLOWER: on this machine, at this moment, batching did not pay."
                   : "On one thread the two took about the same time: batching did not pay for a net this small on this machine, at this moment."))

        let headline = String(format: "1 net, 1 crop: %.1f errors of %d; 5 crops: %.1f; %d-net ensemble: %d, with 25 crops: %d; ten passes / one batch of ten: %.2fx (one thread)",
                              base, validation.count, results.meanNetErrors[idx(.five)], netCount, ensembleOne,
                              results.ensembleErrors[idx(.grid5)], race.speedup)
        try run.finish(headline: headline, results: results)
        return results
    }
}

/// GoogLeNet (Szegedy et al., "Going deeper with convolutions", CVPR 2015), Table 3: the
/// cost and top-5 error of ensembles and crops on the ILSVRC 2014 validation set, the
/// paper's numbers.
public enum GoogLeNetPaper {
    public struct Row: Sendable {
        public var models: Int, crops: Int, cost: Int, top5Error: Double
    }

    public static let table3: [Row] = [
        Row(models: 1, crops: 1, cost: 1, top5Error: 10.07),
        Row(models: 1, crops: 10, cost: 10, top5Error: 9.15),
        Row(models: 1, crops: 144, cost: 144, top5Error: 7.89),
        Row(models: 7, crops: 1, cost: 7, top5Error: 8.09),
        Row(models: 7, crops: 10, cost: 70, top5Error: 7.62),
        Row(models: 7, crops: 144, cost: 1008, top5Error: 6.67),
    ]
}
