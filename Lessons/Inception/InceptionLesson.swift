import ConvNetCore
import Foundation

// `lesson run inception`: the Inception module and GoogLeNet (Szegedy et al. 2014).
//
//   1. the module: four branches side by side on the same input, concatenated along the
//      channels; on GoogLeNet's real inception 3a input, the module's output against its
//      branches run one by one;
//   2. GoogLeNet counted (with and without its auxiliary classifiers) beside the published
//      counts, and each module beside the paper's Table 1;
//   3. the cost problem: each branch of inception 3a with and without its 1x1 reductions;
//   4. the race: the branches' ReLUs and the concatenation as copies into a new tensor, or
//      each ReLU writing into its slice of one buffer, on the real inception 3a and 4e,
//      forward and backward, with the bytes each way moves;
//   5. side branches: a small Inception net trained on digits with the auxiliary losses
//      weighted 0.3 (the paper's) and 0, paired seeds; held-out accuracy and the gradient
//      reaching the first layer.

/// The Inception lesson, as `lesson list` and `lesson run inception` see it.
public enum InceptionLesson: Lesson {
    public static let name = "inception"
    public static let folder = "Inception"
    public static let summary = "Inception / GoogLeNet (2014): branches in parallel, concatenated; 1x1 bottlenecks; auxiliary classifiers; 6,624,904 parameters"

    public static let options: [LessonOption] = [
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds for the auxiliary-classifier comparison (--quick: 1)"),
        LessonOption("train", .integer(100...4_000), default: "3000", help: "training digits (--quick: 600)"),
        LessonOption("lr", .number(1e-4...1), default: "0.05", help: "learning rate of SGD with momentum 0.9"),
    ]

    public static let notes = """
    Defaults: 3 epochs (--epochs; --quick: 1), batch 64, weight decay 1e-4, on MNIST-5k digits at 16x16 (one thread).
    Writes under --out: index.html, auxiliary.svg, small-inception.safetensors (seed 1, auxiliary losses 0.3).
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("module_max_difference", "largest |module output - its branches concatenated| on inception 3a's real input (0: exact)"),
        ResultKey("googlenet_parameters", "GoogLeNet counted, without auxiliary classifiers"),
        ResultKey("googlenet_parameters_aux", "with its two auxiliary classifiers"),
        ResultKey("googlenet_macs", "multiply-accumulates at 224x224, counted"),
        ResultKey("counts_match_published", "all three equal Fixtures/torchvision-counts.json"),
        ResultKey("inception3a_macs_with_reductions", "inception 3a (5x5 as in the paper), counted with its 1x1 reductions"),
        ResultKey("inception3a_macs_without_reductions", "the same branches without the reductions"),
        ResultKey("race_modules", "the modules raced"),
        ResultKey("race_naive_ms", "naive ReLUs + concatenation, forward + backward, per module"),
        ResultKey("race_copies_ms", "fast ReLUs + concatenation by copies, per module"),
        ResultKey("race_slices_ms", "ReLUs writing into slices of one buffer, per module"),
        ResultKey("race_max_difference", "largest relative difference from the naive results"),
        ResultKey("race_bytes_copied", "bytes the concatenation copies (forward + backward), per module; 0 with slices"),
        ResultKey("race_module_forward_ms", "the whole module's forward on the fast kernels, for scale, per module"),
        ResultKey("val_accuracy_aux", "held-out accuracy with auxiliary losses (weight 0.3), each seed"),
        ResultKey("val_accuracy_no_aux", "held-out accuracy without (weight 0), each seed"),
        ResultKey("val_accuracy_aux_mean", "mean over seeds"),
        ResultKey("val_accuracy_no_aux_mean", "mean over seeds"),
        ResultKey("stem_gradient_aux", "mean norm of the first conv's weight gradient while training, with auxiliary losses (mean over seeds)"),
        ResultKey("stem_gradient_no_aux", "the same without"),
        ResultKey("stem_gradient_init_main", "at initialisation on one real batch: from the main loss alone"),
        ResultKey("stem_gradient_init_with_aux", "from the main loss + 0.3 x the auxiliary losses"),
        ResultKey("difference_shown", "the arms' held-out accuracies differ by more than the seed-to-seed spread, same sign every seed"),
        ResultKey("params_small", "parameters of the small Inception net (heads included)"),
    ] + ResultKey.trainingRun

    /// The `--json` object.
    public struct Results: Encodable {
        var moduleMaxDifference = 0.0
        var googlenetParameters = 0, googlenetParametersAux = 0, googlenetMacs = 0, countsMatchPublished = false
        var inception3aMacsWithReductions = 0, inception3aMacsWithoutReductions = 0
        var raceModules: [String] = [], raceNaiveMs: [Double] = [], raceCopiesMs: [Double] = [], raceSlicesMs: [Double] = []
        var raceMaxDifference = 0.0, raceBytesCopied: [Int] = [], raceModuleForwardMs: [Double] = []
        var valAccuracyAux: [Double] = [], valAccuracyNoAux: [Double] = [], valAccuracyAuxMean = 0.0, valAccuracyNoAuxMean = 0.0
        var stemGradientAux = 0.0, stemGradientNoAux = 0.0, stemGradientInitMain = 0.0, stemGradientInitWithAux = 0.0
        var differenceShown = false, paramsSmall = 0
        var epochs = 0, seeds: [Int] = [], trainExamples = 0, trainSeconds = 0.0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case moduleMaxDifference = "module_max_difference"
            case googlenetParameters = "googlenet_parameters", googlenetParametersAux = "googlenet_parameters_aux"
            case googlenetMacs = "googlenet_macs", countsMatchPublished = "counts_match_published"
            case inception3aMacsWithReductions = "inception3a_macs_with_reductions"
            case inception3aMacsWithoutReductions = "inception3a_macs_without_reductions"
            case raceModules = "race_modules", raceNaiveMs = "race_naive_ms", raceCopiesMs = "race_copies_ms", raceSlicesMs = "race_slices_ms"
            case raceMaxDifference = "race_max_difference", raceBytesCopied = "race_bytes_copied", raceModuleForwardMs = "race_module_forward_ms"
            case valAccuracyAux = "val_accuracy_aux", valAccuracyNoAux = "val_accuracy_no_aux"
            case valAccuracyAuxMean = "val_accuracy_aux_mean", valAccuracyNoAuxMean = "val_accuracy_no_aux_mean"
            case stemGradientAux = "stem_gradient_aux", stemGradientNoAux = "stem_gradient_no_aux"
            case stemGradientInitMain = "stem_gradient_init_main", stemGradientInitWithAux = "stem_gradient_init_with_aux"
            case differenceShown = "difference_shown", paramsSmall = "params_small"
            case epochs, seeds, trainExamples = "train_examples", trainSeconds = "train_seconds", quick, outputDirectory = "output_directory"
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 3)
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 600
        let run = try LessonRun(lesson: name, title: "Inception: every filter size in parallel, concatenated", options: options, console: console)
        var results = Results()
        results.epochs = epochs
        results.seeds = seeds.map { Int($0) }
        results.quick = quick
        results.outputDirectory = run.directory.path

        // 1. The module.
        run.step("The Inception module: four branches, concatenated")
        let photos = try Photographs.centreCrops(fixtures: options.fixtures, names: InceptionProbes.photos)
        let modules = InceptionProbes.moduleInputs(photos, seed: options.seed, names: ["inception3a", "inception4e"])
        let (_, module3a, x3a) = modules[0]
        module3a.eval()
        let y = module3a(x3a)
        let branchOutputs = module3a.branches.map { $0(x3a) }
        let s = y.featureMapShape()
        let concatenated = Naive.concatenateChannels(branchOutputs.map(\.data), channels: branchOutputs.map { $0.shape[1] },
                                                     batch: s.batch, spatial: s.spatial)
        results.moduleMaxDifference = zip(y.data, concatenated).map { Double(abs($0 - $1)) }.max() ?? 0
        run.say("\"Instead of choosing a filter size, do them all in parallel\": a 1x1 convolution, a 3x3, a 5x5 and a 3x3 max pool"
                + " all read the same input, with SAME padding and stride 1 so that every branch keeps n_H and n_W, and their outputs"
                + " are stacked along the channels. The max pool keeps all n_C input channels, so a 1x1 convolution after it shrinks"
                + " them; 1x1 convolutions before the 3x3 and 5x5 (the bottlenecks) keep those cheap.")
        run.say("Inception 3a of a GoogLeNet He-initialised with seed \(options.seed), on its real input: the centre 224x224 crops of"
                + " Fixtures/photos/\(InceptionProbes.photos.joined(separator: ".ppm and ")).ppm through the layers before it,"
                + " \(x3a.featureMapShape()) (torchvision's build: the \"5x5\" branch is a 3x3, as in torchvision's weights).")
        var offset = 0
        var rows: [[String]] = []
        for (k, out) in branchOutputs.enumerated() {
            let c = out.shape[1]
            let layers = module3a.branches[k].namedLayers().compactMap { entry -> String? in
                if let conv = entry.layer as? Conv2d { return "\(conv.kernelSize.height)x\(conv.kernelSize.width) conv, \(conv.outChannels)" }
                if entry.layer is MaxPool2d { return "3x3 max pool" }
                return nil
            }
            rows.append(["branch\(k + 1)", layers.joined(separator: " -> "), "\(out.featureMapShape())", "\(offset) ..< \(offset + c)"])
            offset += c
        }
        rows.append(["module", "concatenation", "\(s)", "0 ..< \(s.channels)"])
        run.show(ReportTable(headers: ["branch", "layers (each conv + batch norm + ReLU)", "output", "its channels in the module's output"], rows: rows))
        run.say("The module's output and its four branches run one by one and concatenated in order (Naive.concatenateChannels)"
                + " differ by at most \(sci(results.moduleMaxDifference))"
                + (results.moduleMaxDifference == 0 ? ": the same numbers, bit for bit." : "."))

        // 2. GoogLeNet counted.
        run.step("GoogLeNet counted, beside the published numbers")
        let plain = GoogLeNet().summary(inputShape: [1, 3, 224, 224])
        let withAux = GoogLeNet(auxiliaryClassifiers: true).summary(inputShape: [1, 3, 224, 224])
        results.googlenetParameters = plain.parameters
        results.googlenetParametersAux = withAux.parameters
        results.googlenetMacs = plain.macs
        let published = PublishedCounts.lookup("googlenet", fixtures: options.fixtures)
        let publishedAux = publishedParametersWithAux(fixtures: options.fixtures)
        results.countsMatchPublished = published.map { $0.parameters == plain.parameters && $0.macs == plain.macs } == true
            && publishedAux == withAux.parameters
        run.show(ReportTable(headers: ["network", "parameters (counted)", "MACs (counted, 224x224)", "Fixtures/torchvision-counts.json"], rows: [
            ["GoogLeNet (torchvision)", ModelSummary.grouped(plain.parameters), ModelSummary.grouped(plain.macs),
             published.map { $0.comparison(parameters: plain.parameters, macs: plain.macs) } ?? "not in the file"],
            ["GoogLeNet with its two auxiliary classifiers", ModelSummary.grouped(withAux.parameters), "(training only)",
             publishedAux.map { "\(ModelSummary.grouped($0)) parameters" + ($0 == withAux.parameters ? " (match)" : " (MISMATCH)") } ?? "not in the file"],
        ]))
        let paperParameters = InceptionPaper.table1ParametersK.reduce(0, +), paperOps = InceptionPaper.table1OpsM.reduce(0, +)
        run.say(String(format: "The paper's numbers (Szegedy et al. 2014): a budget of \"%@ multiply-adds at inference time\"; its Table 1"
                       + " sums to %.1fK parameters and %.0fM operations (our sum of its column). Counted here: %@ parameters and %@ MACs"
                       + " for torchvision's build, which has batch norm, no biases, and a 3x3 where the paper's 5x5 branch is.",
                       InceptionPaper.multiplyAddBudget, paperParameters, paperOps,
                       ModelSummary.grouped(plain.parameters), ModelSummary.grouped(plain.macs)))
        var moduleRows: [[String]] = []
        for m in googLeNetModules {
            let costs = branchCosts(inChannels: m.inChannels, widths: m.widths, size: m.size)
            let torch = plain.rows.filter { $0.name.hasPrefix(m.name + ".") && !$0.trainingOnly }
            let paper = InceptionPaper.table1[m.name]
            moduleRows.append([m.name, "\(m.size)x\(m.size)x\(m.inChannels)",
                               "\(m.size)x\(m.size)x\(costs.reduce(0) { $0 + $1.outChannels })",
                               ModelSummary.grouped(costs.reduce(0) { $0 + $1.parameters }), ModelSummary.grouped(costs.reduce(0) { $0 + $1.macs }),
                               paper?.parameters ?? "", paper?.ops ?? "",
                               ModelSummary.grouped(torch.reduce(0) { $0 + $1.parameters }), ModelSummary.grouped(torch.reduce(0) { $0 + $1.macs })])
        }
        run.show(ReportTable(headers: ["module", "input", "output", "weights (5x5 as the paper)", "MACs (5x5)", "the paper's params",
                                       "the paper's ops", "torchvision's params", "torchvision's MACs"], rows: moduleRows))
        run.say("The paper's Table 1 rounds, and counts its own convolutions (with biases, no batch norm); our counts are the weights of"
                + " each module's convolutions with the paper's 5x5 branch. The auxiliary classifiers add"
                + " \(ModelSummary.grouped(withAux.parameters - plain.parameters)) parameters used only in training, mostly in their"
                + " 2048 -> 1024 fully connected layers.")

        // 3. The cost of each branch.
        run.step("The cost problem: each branch of inception 3a, with and without its 1x1 reductions")
        let costs = branchCosts(inChannels: 192, widths: googLeNetModules[0].widths, size: 28)
        results.inception3aMacsWithReductions = costs.reduce(0) { $0 + $1.macs }
        results.inception3aMacsWithoutReductions = costs.reduce(0) { $0 + $1.macsWithout }
        run.show(ReportTable(headers: ["branch", "with the 1x1 reductions", "channels out", "MACs", "weights", "without", "channels out",
                                       "MACs", "weights"],
                             rows: costs.map { [$0.branch, $0.layers, "\($0.outChannels)", ModelSummary.grouped($0.macs), ModelSummary.grouped($0.parameters),
                                               $0.layersWithout, "\($0.outChannelsWithout)", ModelSummary.grouped($0.macsWithout),
                                               ModelSummary.grouped($0.parametersWithout)] }
                                + [["module", "", "\(costs.reduce(0) { $0 + $1.outChannels })", ModelSummary.grouped(results.inception3aMacsWithReductions),
                                    ModelSummary.grouped(costs.reduce(0) { $0 + $1.parameters }), "",
                                    "\(costs.reduce(0) { $0 + $1.outChannelsWithout })", ModelSummary.grouped(results.inception3aMacsWithoutReductions),
                                    ModelSummary.grouped(costs.reduce(0) { $0 + $1.parametersWithout })]]))
        run.say(String(format: "Without its reductions inception 3a costs %.1fx the multiplies (%@ against %@), and its output would grow"
                       + " to %d channels (the pool branch passes all 192 on), making the next module dearer still. The 5x5 branch alone is"
                       + " the course's example: 120,422,400 against 12,443,648 (see `lesson run one-by-one`).",
                       Double(results.inception3aMacsWithoutReductions) / Double(results.inception3aMacsWithReductions),
                       ModelSummary.grouped(results.inception3aMacsWithoutReductions), ModelSummary.grouped(results.inception3aMacsWithReductions),
                       costs.reduce(0) { $0 + $1.outChannelsWithout }))

        // 4. The race.
        run.step("The kernel pair: concatenation as copies, or branches writing into slices of one buffer")
        run.say("The module's last step on its real pre-activations (each branch's batch norm output) for both photographs, timed on"
                + " one thread (these passes only move memory; on a shared machine waking a second thread costs more than they do): every"
                + " branch's ReLU, then the concatenation; backward from a seeded random upstream gradient to each branch. Three ways:"
                + " the naive loops; the fast ReLU into each branch's own array, then Fast.concatenateChannels copying every block"
                + " into a new tensor (and Fast.concatenateChannelsBackward copying the gradient's slices out); each ReLU writing"
                + " straight into its slices of one buffer (Lessons/Inception/ConcatIntoSlices.swift), reading the gradient's"
                + " slices in place.")
        var raceMax = 0.0
        for (name, module, x) in modules {
            let race = InceptionProbes.raceConcatenation(name, module, x, seed: options.seed + 5, quick: quick)
            run.say("\(name): branches of \(race.channels.map(String.init).joined(separator: " + ")) channels -> \(race.outputShape).")
            run.show(race.result.table)
            let copies = race.result.rows[1].totalSeconds, slices = race.result.rows[2].totalSeconds
            let saved = race.result.rows[1].forwardSeconds - race.result.rows[2].forwardSeconds
            run.say(String(format: "Copies: the concatenation moves %@ bytes (forward + backward), %@ in all with the ReLUs; slices: no"
                           + " copy, %@ bytes in all. Measured: slices %@ against copies %@ (%@). The whole module's forward takes %@"
                           + " on the fast kernels (%d threads), so writing into slices saves %@ of one forward pass here.",
                           ModelSummary.grouped(race.bytesCopied), ModelSummary.grouped(race.bytesCopiesWay), ModelSummary.grouped(race.bytesSlicesWay),
                           ms(slices), ms(copies), copies >= slices ? String(format: "%.2fx faster", copies / slices) : String(format: "%.2fx slower", slices / copies),
                           ms(race.moduleForwardSeconds), Parallelism.threadCount, String(format: "%.2f%%", 100 * max(0, saved) / race.moduleForwardSeconds)))
            results.raceModules.append(name)
            results.raceNaiveMs.append(race.result.rows[0].totalSeconds * 1e3)
            results.raceCopiesMs.append(copies * 1e3)
            results.raceSlicesMs.append(slices * 1e3)
            results.raceBytesCopied.append(race.bytesCopied)
            results.raceModuleForwardMs.append(race.moduleForwardSeconds * 1e3)
            raceMax = max(raceMax, race.result.maxRelativeDifference)
        }
        results.raceMaxDifference = raceMax

        // 5. Side branches.
        run.step("Side branches: auxiliary classifiers on a small Inception net")
        let (training, validation, _, _) = try LabeledImages.smallDigits(
            directory: options.fixtures.appendingPathComponent("mnist-5k"), trainCount: trainCount,
            validationCount: quick ? 200 : 1_000, side: 16, seed: options.seed)
        results.trainExamples = training.count
        let small = smallInceptionNet(seed: 0)
        results.paramsSmall = small.parameterCount
        let smallSummary = small.summary(inputShape: [1, 1, 16, 16])
        run.say("\"Side branches take a hidden layer and feed it to a softmax output\", to make sure the intermediate features are not"
                + " too bad for prediction: a kind of regularisation. GoogLeNet adds their losses with weight 0.3 in training and drops"
                + " them at inference. The small net: a 3x3 stem, four Inception modules (5x5 branches as in the paper), two 2x2 max"
                + " pools, global average pooling and one fully connected layer; two auxiliary heads after its second and third modules."
                + " \(ModelSummary.grouped(results.paramsSmall)) parameters (heads included), \(ModelSummary.grouped(smallSummary.macs))"
                + " MACs per 16x16 digit.")
        let batch = gatherRows(training.images, Array(0..<64)), labels = Array(training.labels[0..<64])
        let initial = InceptionProbes.stemGradientAtInitialisation(seed: options.seed, batch, labels)
        results.stemGradientInitMain = initial.main
        results.stemGradientInitWithAux = initial.withAux
        run.say(String(format: "At initialisation (seed %llu, the first 64 training digits): the stem's weight gradient has norm %@ from the"
                       + " main loss alone and %@ with 0.3 x the auxiliary losses added (%.2fx).", options.seed,
                       sci(initial.main), sci(initial.withAux), initial.withAux / max(initial.main, 1e-30)))
        var settings = TrainingSettings(epochs: epochs, batchSize: 64, schedule: .constant(options.number("lr")))
        settings.weightDecay = 1e-4
        run.say("The same net trains with the auxiliary losses weighted 0.3 and weighted 0 (the heads run, but send no gradient):"
                + " \(epochs) epoch\(epochs == 1 ? "" : "s") of SGD (lr \(options.number("lr")), momentum 0.9, weight decay 1e-4, batch 64) on"
                + " \(ModelSummary.grouped(training.count)) digits at 16x16, \(validation.count) held out, seeds"
                + " \(seeds.map(String.init).joined(separator: ", ")): each seed the same initialisation and mini-batches for both."
                + " Trained on one thread: its layers are so small that waking a second thread for each costs more than it saves.")
        // One thread: this net's layers are so small that waking a second thread for each of
        // them costs more than it saves (measured on a shared 2-core machine: about 500
        // digits/s on one thread, under 50 on two).
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        defer { Parallelism.threadCount = threads }
        var runs: [[InceptionProbes.AuxRun]] = [[], []]
        var trainSeconds = 0.0
        var keep: NetworkWithAuxiliaryHeads?
        for (arm, weight) in [InceptionPaper.auxiliaryWeight, 0].enumerated() {
            for seed in seeds {
                let net = smallInceptionNet(seed: seed)
                let label = (weight == 0 ? "no auxiliary losses" : "auxiliary losses 0.3") + ", seed \(seed)"
                let r = try InceptionProbes.train(net, auxWeight: weight, on: training, validation: validation, settings: settings,
                                                  seed: seed, label: label, console: console)
                trainSeconds += r.seconds
                runs[arm].append(r)
                run.note("\(label): held-out accuracy \(percent(r.finalAccuracy)), \(String(format: "%.1f s", r.seconds))")
                if arm == 0 && seed == seeds[0] { keep = net }
            }
        }
        results.trainSeconds = trainSeconds
        func accuracies(_ arm: [InceptionProbes.AuxRun]) -> [Double] { arm.map(\.finalAccuracy) }
        func stem(_ arm: [InceptionProbes.AuxRun]) -> Double { mean(arm.map(\.meanStemGradientNorm)) }
        results.valAccuracyAux = accuracies(runs[0])
        results.valAccuracyNoAux = accuracies(runs[1])
        results.valAccuracyAuxMean = mean(results.valAccuracyAux)
        results.valAccuracyNoAuxMean = mean(results.valAccuracyNoAux)
        results.stemGradientAux = stem(runs[0])
        results.stemGradientNoAux = stem(runs[1])
        let arms: [(label: String, accuracies: [Double], stem: Double)] = [
            ("0.3 (the paper's)", results.valAccuracyAux, results.stemGradientAux),
            ("0 (heads silent)", results.valAccuracyNoAux, results.stemGradientNoAux),
        ]
        run.show(ReportTable(headers: ["auxiliary loss weight"] + seeds.map { "held-out acc, seed \($0)" } + ["mean", "spread", "stem gradient norm (mean while training)"],
                             rows: arms.map { arm -> [String] in
                                 [arm.label] + arm.accuracies.map(percent) + [percent(mean(arm.accuracies)), percent(spreadOf(arm.accuracies)), sci(arm.stem)]
                             }))
        let differences = zip(results.valAccuracyAux, results.valAccuracyNoAux).map { $0 - $1 }
        let spread = max(spreadOf(results.valAccuracyAux), spreadOf(results.valAccuracyNoAux))
        let gap = results.valAccuracyAuxMean - results.valAccuracyNoAuxMean
        results.differenceShown = seeds.count >= 2 && abs(gap) > spread
            && (differences.allSatisfy { $0 > 0 } || differences.allSatisfy { $0 < 0 })
        run.say(auxVerdict(gap: gap, spread: spread, differences: differences, shown: results.differenceShown, seeds: seeds.count,
                           stemAux: results.stemGradientAux, stemNoAux: results.stemGradientNoAux))
        try run.writeFigure(svg: curves(runs), name: "auxiliary.svg",
                            caption: "held-out accuracy per epoch, mean over seeds: auxiliary losses weighted 0.3 against 0")
        if let keep {
            try keep.save(to: run.directory.appendingPathComponent("small-inception.safetensors"),
                          metadata: ["lesson": name, "seed": String(seeds[0]), "input": "1x16x16 digits, normalised", "aux_weight": "0.3"])
            run.recordFile("small-inception.safetensors", description: "the small Inception net of seed \(seeds[0]), trained with auxiliary losses 0.3")
        }

        let headline = "module = its 4 branches concatenated (difference \(sci(results.moduleMaxDifference))); GoogLeNet "
            + "\(ModelSummary.grouped(results.googlenetParameters)) parameters (\(ModelSummary.grouped(results.googlenetParametersAux)) with aux);"
            + " auxiliary losses: \(percent(results.valAccuracyAuxMean)) vs \(percent(results.valAccuracyNoAuxMean)) held out"
        try run.finish(headline: headline, results: results)
        return results
    }

    /// `parameters_with_aux` of googlenet in Fixtures/torchvision-counts.json, if there.
    static func publishedParametersWithAux(fixtures: URL) -> Int? {
        guard let data = FileManager.default.contents(atPath: fixtures.appendingPathComponent("torchvision-counts.json").path),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let models = root["models"] as? [String: Any], let entry = models["googlenet"] as? [String: Any] else { return nil }
        return (entry["parameters_with_aux"] as? NSNumber)?.intValue
    }

    static func auxVerdict(gap: Double, spread: Double, differences: [Double], shown: Bool, seeds: Int, stemAux: Double, stemNoAux: Double) -> String {
        let gapText = String(format: "%+.1f points", 100 * gap)
        let gradient = String(format: " While training, the stem's gradient norm averaged %@ with the auxiliary losses and %@ without (%.2fx).",
                              sci(stemAux), sci(stemNoAux), stemAux / max(stemNoAux, 1e-30))
        if seeds < 2 {
            return "Held-out accuracy with minus without auxiliary losses: \(gapText) on one seed: no spread measured, so no claim"
                + " (the default run uses 3 seeds)." + gradient
        }
        if shown {
            return "Held-out accuracy with minus without auxiliary losses: \(gapText) (mean over \(seeds) seeds), beyond the spread"
                + " (\(percent(spread))) and of the same sign on every seed." + gradient
        }
        return "Held-out accuracy with minus without auxiliary losses: \(gapText) (mean over \(seeds) seeds), against a seed-to-seed"
            + " spread of \(percent(spread)); per seed " + differences.map { String(format: "%+.1f", 100 * $0) }.joined(separator: ", ")
            + ": no difference shown. With batch norm in every unit and 9 convolutions on its longest path, this net gets gradient to its"
            + " first layer without help; GoogLeNet (22 layers, no batch norm) is where the paper used them, and later work (Inception v3)"
            + " found them to act mainly as a regulariser late in training." + gradient
    }

    static func curves(_ runs: [[InceptionProbes.AuxRun]]) -> String {
        var chart = LineChart(title: "Held-out accuracy per epoch (mean over seeds)", xLabel: "epoch", yLabel: "held-out accuracy (%)")
        for (arm, label) in ["auxiliary losses 0.3", "auxiliary losses 0"].enumerated() {
            let epochs = runs[arm].map(\.epochs.count).min() ?? 0
            let points = (0..<epochs).map { e in (Double(e + 1), 100 * mean(runs[arm].map { $0.epochs[e].validationAccuracy })) }
            chart.series.append(.init(name: label, points: points, color: arm == 0 ? "#045a8d" : "#c0392b", dashed: arm == 1))
        }
        return chart.svg
    }
}

