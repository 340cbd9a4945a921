import ConvNetCore
import Foundation

// `lesson run unet`: U-Net (Ronneberger, Fischer and Brox 2015) and the transposed
// convolution, segmenting digits.
//
//   1. the paper's network from its shapes: valid 3x3 convolutions, 2x2 up-convolutions
//      halving the channels, crops before each concatenation; 23 convolutional layers,
//      572x572 in, 388x388 out, its parameters counted;
//   2. the transposed convolution ("deconvolution"): every input pixel scatters a weighted
//      copy of the kernel into the output, shown on a 2x2 input;
//   3. the data: composites of MNIST-5k digits on a cluttered background, a class at every
//      pixel (background or the digit), and the class weights that balance them (the
//      paper's weight map w(x));
//   4. training: a small U-Net and the same net without its skip connections, on paired
//      seeds, beside a baseline that thresholds the intensity; pixel accuracy and mean IoU
//      on held-out composites; the PNG of input / truth / predictions;
//   5. the race: the naive scatter loops and the fast transposed convolution (the input
//      gradient of a convolution: GEMM + col2im) on the trained U-Net's last up-convolution,
//      with the real held-out composites' activations.

/// The U-Net lesson, as `lesson list` and `lesson run unet` see it.
public enum UNetLesson: Lesson {
    public static let name = "unet"
    public static let folder = "UNet"
    public static let summary = "U-Net (2015): transposed convolutions, crop and concatenate, per-pixel weighted loss; segmenting digits"

    public static let options: [LessonOption] = [
        LessonOption("train", .integer(16...8_000), default: "1600", help: "training composites (--quick: 48)"),
        LessonOption("heldout", .integer(8...2_000), default: "300", help: "held-out composites (--quick: 24)"),
        LessonOption("width", .integer(2...64), default: "16", help: "channels of the small U-Net's first level (then 2x, 4x; --quick: 4)"),
        LessonOption("seeds", .integer(1...10), default: "2", help: "paired seeds of the U-Net / no-skip comparison (--quick: 1)"),
        LessonOption("lr", .number(1e-5...1), default: "0.003", help: "Adam's initial learning rate (cosine to 0 over the steps)"),
        LessonOption("balance", .number(0...1), default: "0.5",
                     help: "class weights (1/frequency)^X in the loss: 0 unweighted, 1 fully balanced"),
        LessonOption("batch", .integer(1...256), default: "16", help: "composites per mini-batch"),
    ]

    public static let notes = """
    Defaults: 40x40 composites of 1-2 digits (22-28 px) and 3-5 clutter fragments, from the 4,000 training digits
    (held-out composites from the 1,000 held-out digits); 5 epochs (--epochs; --quick: 1), Adam, batch 16.
    Writes under --out: index.html, segmentations.png, training-loss.svg, unet-digits.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("paper_parameters", "the paper's U-Net (2 classes), counted from its shapes"),
        ResultKey("paper_macs", "its multiply-accumulates for one 572x572 tile"),
        ResultKey("paper_conv_layers", "its convolutional layers (3x3, up-convolutions, 1x1)"),
        ResultKey("paper_input_size", "its input tile's side"),
        ResultKey("paper_output_size", "its segmentation map's side, from the layers' shapes"),
        ResultKey("paper_crop_offsets", "pixels cropped from each side of each level's skip map, level 0 first"),
        ResultKey("classes", "classes of the composites: background and ten digits"),
        ResultKey("background_fraction", "share of the held-out pixels that are background"),
        ResultKey("class_weights", "the loss's weight of each class (background first)"),
        ResultKey("train_composites", "training composites"),
        ResultKey("heldout_composites", "held-out composites"),
        ResultKey("all_background_pixel_accuracy", "pixel accuracy of predicting background everywhere, held out"),
        ResultKey("all_background_mean_iou", "its mean IoU (over all 11 classes)"),
        ResultKey("baseline_threshold", "the baseline's intensity threshold, fitted on the training composites"),
        ResultKey("baseline_class", "the class the baseline gives every pixel above it (1 + digit)"),
        ResultKey("baseline_pixel_accuracy", "the baseline's pixel accuracy, held out"),
        ResultKey("baseline_mean_iou", "the baseline's mean IoU, held out"),
        ResultKey("unet_parameters", "parameters of the small U-Net"),
        ResultKey("noskip_parameters", "parameters of the same net without skip connections"),
        ResultKey("unet_pixel_accuracies", "held-out pixel accuracy of the U-Net, each seed"),
        ResultKey("unet_mean_ious", "held-out mean IoU of the U-Net, each seed"),
        ResultKey("noskip_pixel_accuracies", "the same without skip connections, each seed"),
        ResultKey("noskip_mean_ious", "the same without skip connections, each seed"),
        ResultKey("unet_mean_iou", "mean over seeds"),
        ResultKey("noskip_mean_iou", "mean over seeds"),
        ResultKey("unet_pixel_accuracy", "mean over seeds"),
        ResultKey("noskip_pixel_accuracy", "mean over seeds"),
        ResultKey("unet_digit_recall", "U-Net, first seed: the share of digit pixels given their right class"),
        ResultKey("noskip_digit_recall", "the same without skip connections"),
        ResultKey("race_layer", "the raced up-convolution and its input shape"),
        ResultKey("transposed_naive_ms", "the naive scatter loops, forward + backward, ms"),
        ResultKey("transposed_fast_ms", "the fast transposed convolution, forward + backward, ms"),
        ResultKey("transposed_speedup", "naive time / fast time"),
        ResultKey("transposed_max_difference", "largest relative difference of the outputs and gradients"),
        ResultKey("epochs", "epochs per net"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_seconds", "time spent training, all nets"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    public struct Results: Encodable {
        var paperParameters = 0, paperMacs = 0, paperConvLayers = 0, paperInputSize = 0, paperOutputSize = 0
        var paperCropOffsets: [Int] = []
        var classes = 0, backgroundFraction = 0.0, classWeights: [Double] = []
        var trainComposites = 0, heldoutComposites = 0
        var allBackgroundPixelAccuracy = 0.0, allBackgroundMeanIoU = 0.0
        var baselineThreshold = 0.0, baselineClass = 0, baselinePixelAccuracy = 0.0, baselineMeanIoU = 0.0
        var unetParameters = 0, noskipParameters = 0
        var unetPixelAccuracies: [Double] = [], unetMeanIoUs: [Double] = [], noskipPixelAccuracies: [Double] = [], noskipMeanIoUs: [Double] = []
        var unetMeanIoU = 0.0, noskipMeanIoU = 0.0, unetPixelAccuracy = 0.0, noskipPixelAccuracy = 0.0
        var unetDigitRecall = 0.0, noskipDigitRecall = 0.0
        var raceLayer = "", transposedNaiveMs = 0.0, transposedFastMs = 0.0, transposedSpeedup = 0.0, transposedMaxDifference = 0.0
        var epochs = 0, seeds: [Int] = [], trainSeconds = 0.0, quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case paperParameters = "paper_parameters", paperMacs = "paper_macs", paperConvLayers = "paper_conv_layers"
            case paperInputSize = "paper_input_size", paperOutputSize = "paper_output_size", paperCropOffsets = "paper_crop_offsets"
            case classes, backgroundFraction = "background_fraction", classWeights = "class_weights"
            case trainComposites = "train_composites", heldoutComposites = "heldout_composites"
            case allBackgroundPixelAccuracy = "all_background_pixel_accuracy", allBackgroundMeanIoU = "all_background_mean_iou"
            case baselineThreshold = "baseline_threshold", baselineClass = "baseline_class"
            case baselinePixelAccuracy = "baseline_pixel_accuracy", baselineMeanIoU = "baseline_mean_iou"
            case unetParameters = "unet_parameters", noskipParameters = "noskip_parameters"
            case unetPixelAccuracies = "unet_pixel_accuracies", unetMeanIoUs = "unet_mean_ious"
            case noskipPixelAccuracies = "noskip_pixel_accuracies", noskipMeanIoUs = "noskip_mean_ious"
            case unetMeanIoU = "unet_mean_iou", noskipMeanIoU = "noskip_mean_iou"
            case unetPixelAccuracy = "unet_pixel_accuracy", noskipPixelAccuracy = "noskip_pixel_accuracy"
            case unetDigitRecall = "unet_digit_recall", noskipDigitRecall = "noskip_digit_recall"
            case raceLayer = "race_layer", transposedNaiveMs = "transposed_naive_ms", transposedFastMs = "transposed_fast_ms"
            case transposedSpeedup = "transposed_speedup", transposedMaxDifference = "transposed_max_difference"
            case epochs, seeds, trainSeconds = "train_seconds", quick, outputDirectory = "output_directory"
        }
    }

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        let run = try LessonRun(lesson: name, title: "U-Net: transposed convolutions and segmentation", options: options, console: console)
        var results = Results()
        results.quick = quick
        results.outputDirectory = run.directory.path

        // 1. The paper's network.
        run.step("The paper's network, from its shapes")
        paperNetwork(run, &results)

        // 2. The transposed convolution.
        run.step("The transposed convolution: each input pixel scatters a copy of the kernel")
        scatterExample(run)

        // 3. The data.
        run.step("The data: digits on a cluttered background, a class at every pixel")
        let trainCount = options.isGiven("train") || !quick ? options.integer("train") : 48
        let heldoutCount = options.isGiven("heldout") || !quick ? options.integer("heldout") : 24
        let (digitsTrain, digitsHeldout) = try LabeledImages.mnist5k(fixtures: options.fixtures, seed: options.seed)
        let settings = DigitComposites.Settings()
        let training = DigitComposites.make(from: digitsTrain, count: trainCount, settings: settings, seed: options.seed)
        let heldout = DigitComposites.make(from: digitsHeldout, count: heldoutCount, settings: settings, seed: options.seed &+ 1_000_003)
        let classes = DigitComposites.classes
        let frequencies = training.classFrequencies(classes: classes)
        let power = options.number("balance")
        let weights = SegmentationTrainer.balancingWeights(frequencies: frequencies, power: power)
        (results.classes, results.trainComposites, results.heldoutComposites) = (classes, trainCount, heldoutCount)
        results.classWeights = weights.map { (Double($0) * 1e4).rounded() / 1e4 }
        results.backgroundFraction = heldout.classFrequencies(classes: classes)[0]
        run.say("Each composite is \(settings.side)x\(settings.side): faint noise, \(settings.clutterPieces.lowerBound)-\(settings.clutterPieces.upperBound)"
                + " fragments cut from other digits (\(settings.clutterSize.lowerBound)-\(settings.clutterSize.upperBound) px, as bright as ink,"
                + " labelled background), and \(settings.digitsPerImage.lowerBound)-\(settings.digitsPerImage.upperBound) digits resized to"
                + " \(settings.digitSize.lowerBound)-\(settings.digitSize.upperBound) px. A pixel is labelled 1 + its digit where that digit's own"
                + " ink is at least \(settings.inkThreshold), else background (0). \(ModelSummary.grouped(trainCount)) training composites come"
                + " from the 4,000 training digits, \(ModelSummary.grouped(heldoutCount)) held-out ones from the 1,000 held-out digits.")
        run.show(ReportTable(headers: ["class", "share of training pixels", "loss weight w_c"],
                             rows: (0..<classes).map { c in
                                 [c == 0 ? "background" : "digit \(c - 1)", String(format: "%.2f%%", 100 * frequencies[c]),
                                  String(format: "%.3f", weights[c])]
                             }))
        run.say(String(format: "Background is %.1f%% of the pixels: a net that answers 'background' everywhere is %.1f%% right"
                       + " per pixel and learns nothing. The loss weighs each pixel by w(x) = w_c of its class, w_c = (1/frequency)^%.2g"
                       + " scaled so the average pixel weighs 1 (the paper's weight map 'to compensate the different frequency of pixels"
                       + " from a certain class'; its extra term for the borders between touching cells is left out):"
                       + " E = sum_x w(x) (-log p_l(x)(x)) / sum_x w(x).", 100 * frequencies[0], 100 * frequencies[0], power))

        // 4. Training.
        run.step("Training: a U-Net and the same net without its skip connections")
        try train(run, options, training: training, heldout: heldout, weights: weights, digits: digitsHeldout, results: &results)

        let headline = String(format: "held-out mean IoU: U-Net %.3f, no skips %.3f, threshold baseline %.3f (all background %.3f); transposed conv %.0fx faster than the scatter loops",
                              results.unetMeanIoU, results.noskipMeanIoU, results.baselineMeanIoU, results.allBackgroundMeanIoU, results.transposedSpeedup)
        try run.finish(headline: headline, results: results)
        return results
    }

    // MARK: 1. The paper's network

    static func paperNetwork(_ run: LessonRun, _ results: inout Results) {
        let net = UNet.paper()
        let size = UNetPaper.inputSize
        let summary = net.summary(inputShape: [1, 1, size, size])
        let layers = UNetModels.convolutionLayers(net)
        results.paperParameters = summary.parameters
        results.paperMacs = summary.macs
        results.paperConvLayers = layers.total
        results.paperInputSize = size
        results.paperOutputSize = summary.outputShape[2]
        run.say("The contracting path repeats two unpadded 3x3 convolutions (each followed by a ReLU) and a 2x2 max pool, doubling"
                + " the channels at each level (64, 128, 256, 512, then 1024 at the bottom). The expansive path repeats a 2x2"
                + " up-convolution that doubles n_H and n_W and HALVES the channels, a concatenation with the contracting path's map of the"
                + " same level, cropped to size, and two 3x3 convolutions. A 1x1 convolution maps the 64 channels to the classes.")
        run.show(summary.table(depth: 1))
        let tile = UNetTile(inputSize: size, depth: 4, padding: 0)!
        results.paperCropOffsets = tile.cropOffsets
        let traced = summary.rows.filter { $0.layer.hasPrefix("CropConcat") }.reversed().map { $0.outputShape[2] }
        run.show(ReportTable(headers: ["level", "skip map (after 2 convs)", "up-convolution out", "cropped from each side", "concatenated", "the paper's figure"],
                             rows: (0..<4).map { i in
                                 let channels = 64 << i
                                 return ["\(i)", "\(channels) x \(tile.encoderSizes[i])^2", "\(channels) x \(tile.upSizes[i])^2",
                                         "\(tile.cropOffsets[i])", "\(2 * channels) x \(traced.count > i ? traced[i] : tile.upSizes[i])^2",
                                         "\(UNetPaper.encoderSizes[i]) -> \(UNetPaper.upSizes[i])"]
                             }))
        let matches = tile.encoderSizes == UNetPaper.encoderSizes && tile.upSizes == UNetPaper.upSizes
            && results.paperOutputSize == UNetPaper.outputSize && layers.total == UNetPaper.convolutionLayers
        run.say("Counted from the layers' shapes: \(layers.total) convolutional layers (\(layers.threeByThree) 3x3, \(layers.upConvolutions)"
                + " up-convolutions, \(layers.oneByOne) 1x1; the paper: \(UNetPaper.convolutionLayers)), \(ModelSummary.grouped(summary.parameters)) parameters"
                + " for 2 classes, \(ModelSummary.grouped(summary.macs)) multiply-accumulates per tile, and a \(size)x\(size) tile gives a"
                + " \(results.paperOutputSize)x\(results.paperOutputSize) map (the paper: \(UNetPaper.outputSize)x\(UNetPaper.outputSize))"
                + (matches ? ", every size as in the paper's Figure 1." : ". SOME SIZES DIFFER FROM THE PAPER'S FIGURE 1.")
                + " Each 3x3 convolution cuts one pixel from every side, so the skip map is larger than the upsampled map it joins: it"
                + " is cropped to the centre. The output is smaller than the input: the paper segments a large image tile by tile,"
                + " each tile's missing border supplied by mirroring the image (the overlap-tile strategy).")
        run.say("The paper's own numbers (theirs, not measured here): IoU \(UNetPaper.cellTrackingIoU.map { "\($0.iou) on \($0.dataset)" }.joined(separator: ", "))"
                + " in the ISBI cell tracking challenge 2015 (Table 2); warping error \(UNetPaper.emWarpingError) and Rand error \(UNetPaper.emRandError)"
                + " on the EM segmentation challenge (Table 1).")
    }

    // MARK: 2. The scatter

    static func scatterExample(_ run: LessonRun) {
        let x: [Double] = [1, 2, 3, 4]
        func grid(_ values: [Double], _ w: Int) -> String {
            stride(from: 0, to: values.count, by: w).map { r in
                values[r..<r + w].map { String(format: "%5.0f", $0) }.joined()
            }.joined(separator: "\n")
        }
        let unetKernel: [Double] = [1, 10, 100, 1000]
        let g2 = ConvTranspose2DGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 2, outChannels: 1, kernel: (2, 2),
                                         stride: (2, 2), padding: (0, 0), outputPadding: (0, 0), groups: 1)
        let ones = [Double](repeating: 1, count: 9)
        let g3 = ConvTranspose2DGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 2, outChannels: 1, kernel: (3, 3),
                                         stride: (2, 2), padding: (0, 0), outputPadding: (0, 0), groups: 1)
        let y2 = Naive.convTranspose2d(x, weight: unetKernel, bias: nil, geometry: g2)
        let y3 = Naive.convTranspose2d(x, weight: ones, bias: nil, geometry: g3)
        run.say("A convolution gathers: each output pixel is a weighted sum of a window of inputs. A transposed convolution"
                + " scatters: each INPUT pixel x[i, j] adds x[i, j] * w into the output window starting at (i s, j s):"
                + " z[i s + u, j s + v] += x[i, j] w[u, v]. It is the convolution's gradient with respect to its input, which is"
                + " why it upsamples: a stride-2 convolution halves n_H, its transpose doubles it.")
        run.show("x = [[1, 2], [3, 4]], U-Net's 2x2 kernel w = [[1, 10], [100, 1000]], stride 2 -> 4x4: each pixel's own copy of w\n"
                 + grid(y2, 4) + "\n\nthe same x, a 3x3 kernel of ones, stride 2 -> 5x5: neighbouring copies overlap and add\n" + grid(y3, 5))
        run.say("The naive kernel (Sources/ConvNetCore/Kernels/Convolution/ConvTranspose+Naive.swift) is exactly these scatter loops."
                + " The fast one (ConvTranspose+Fast.swift) computes the same numbers as the input gradient of the adjoint"
                + " convolution: one GEMM per image, W^T x (every input pixel times every kernel tap at once), then col2im adds the"
                + " columns into place. Step 4 races them on a real decoder layer.")
    }

    // MARK: 4. Training

    static func train(_ run: LessonRun, _ options: LessonOptions, training: SegmentationSet, heldout: SegmentationSet,
                      weights: [Float], digits: LabeledImages, results: inout Results) throws {
        let quick = options.quick
        let classes = DigitComposites.classes
        let width = options.isGiven("width") || !quick ? options.integer("width") : 4
        let seedCount = options.isGiven("seeds") || !quick ? options.integer("seeds") : 1
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let epochs = options.epochs ?? (quick ? 1 : 5)
        (results.epochs, results.seeds) = (epochs, seeds.map { Int($0) })

        // The baselines.
        let allBackground = SegmentationScores(predicted: [Int](repeating: 0, count: heldout.labels.count), truth: heldout.labels, classes: classes)
        let baseline = ThresholdBaseline(fittedOn: training, classes: classes)
        let baselineScores = SegmentationScores(predicted: baseline.predict(heldout), truth: heldout.labels, classes: classes)
        (results.allBackgroundPixelAccuracy, results.allBackgroundMeanIoU) = (allBackground.pixelAccuracy, allBackground.meanIoU)
        (results.baselineThreshold, results.baselineClass) = ((Double(baseline.threshold) * 100).rounded() / 100, baseline.guessedClass)
        (results.baselinePixelAccuracy, results.baselineMeanIoU) = (baselineScores.pixelAccuracy, baselineScores.meanIoU)

        var settings = SegmentationSettings(epochs: epochs, batchSize: options.integer("batch"), learningRate: options.number("lr"))
        settings.classWeights = weights
        settings.weightDecay = 1e-4
        run.say("Two nets of the core's UNet (Sources/ConvNetCore/Models/Architectures/UNet.swift), depth 2, \(width)-\(2 * width)-\(4 * width)"
                + " channels, 'same' 3x3 convolutions with batch norm so the output is the input's 40x40 (no crops needed here; the"
                + " paper's valid version is counted in step 1 and tested), 2x2 up-convolutions halving the channels: one WITH the"
                + " skip connections (the U-Net) and one WITHOUT (each decoder sees only the upsampled coarse map). Both: \(epochs) epoch\(epochs == 1 ? "" : "s")"
                + " of Adam (lr \(options.number("lr")), cosine to 0, weight decay 1e-4, batch \(settings.batchSize)), the weighted per-pixel"
                + " loss, the same initialisation seed and the same mini-batches (Sources/ConvNetCore/Training/SegmentationTrainer.swift).")
        let arms = [(label: "U-Net", skips: true), (label: "no skips", skips: false)]
        var scores: [String: [SegmentationScores]] = [:]
        var losses: [(name: String, losses: [Double])] = []
        var firstNets: [String: UNet] = [:]
        var trainSeconds = 0.0
        for seed in seeds {
            for arm in arms {
                let net = UNetModels.digits(width: width, skips: arm.skips, seed: seed)
                if arm.skips { results.unetParameters = net.parameterCount } else { results.noskipParameters = net.parameterCount }
                var trainer = SegmentationTrainer(settings)
                trainer.label = "\(arm.label), seed \(seed)"
                let history = try trainer.train(net, on: training, validation: heldout, classes: classes, seed: seed, console: run.console)
                trainSeconds += history.seconds
                let s = history.epochs.last!.validation!
                scores[arm.label, default: []].append(s)
                run.note(String(format: "%@, seed %llu: held-out pixel accuracy %@, mean IoU %.3f, final loss %.4f, %.1f s", arm.label, seed,
                                percent(s.pixelAccuracy), s.meanIoU, history.epochs.last!.trainLoss, history.seconds))
                if seed == seeds[0] {
                    firstNets[arm.label] = net
                    losses.append((arm.label, history.stepLosses))
                }
            }
        }
        results.trainSeconds = trainSeconds
        let unet = scores["U-Net"]!, plain = scores["no skips"]!
        results.unetPixelAccuracies = unet.map(\.pixelAccuracy)
        results.unetMeanIoUs = unet.map(\.meanIoU)
        results.noskipPixelAccuracies = plain.map(\.pixelAccuracy)
        results.noskipMeanIoUs = plain.map(\.meanIoU)
        results.unetMeanIoU = mean(results.unetMeanIoUs)
        results.noskipMeanIoU = mean(results.noskipMeanIoUs)
        results.unetPixelAccuracy = mean(results.unetPixelAccuracies)
        results.noskipPixelAccuracy = mean(results.noskipPixelAccuracies)
        func digitRecall(_ s: SegmentationScores) -> Double {
            let right = (1..<classes).reduce(0) { $0 + s.confusion[$1][$1] }
            let all = (1..<classes).reduce(0) { $0 + s.confusion[$1].reduce(0, +) }
            return Double(right) / Double(max(all, 1))
        }
        results.unetDigitRecall = digitRecall(unet[0])
        results.noskipDigitRecall = digitRecall(plain[0])

        func row(_ name: String, _ parameters: String, _ acc: [Double], _ iou: [Double]) -> [String] {
            [name, parameters] + zip(acc, iou).map { String(format: "%@ / %.3f", percent($0), $1) }
                + [String(format: "%@ / %.3f", percent(mean(acc)), mean(iou)), String(format: "%.3f", spreadOf(iou))]
        }
        let seedHeaders = seeds.map { "seed \($0): pixel acc / mIoU" }
        run.show(ReportTable(caption: "held-out composites: pixel accuracy and mean IoU over all 11 classes",
                             headers: ["model", "parameters"] + seedHeaders + ["mean", "mIoU spread"],
                             rows: [row("U-Net (skips)", ModelSummary.grouped(results.unetParameters), results.unetPixelAccuracies, results.unetMeanIoUs),
                                    row("no skips", ModelSummary.grouped(results.noskipParameters), results.noskipPixelAccuracies, results.noskipMeanIoUs),
                                    row(String(format: "threshold >= %.2f, every digit pixel '%d'", baseline.threshold, baseline.guessedClass - 1), "0",
                                        Array(repeating: baselineScores.pixelAccuracy, count: seeds.count),
                                        Array(repeating: baselineScores.meanIoU, count: seeds.count)),
                                    row("background everywhere", "0", Array(repeating: allBackground.pixelAccuracy, count: seeds.count),
                                        Array(repeating: allBackground.meanIoU, count: seeds.count))]))
        let first = unet[0], firstPlain = plain[0]
        run.show(ReportTable(caption: "per-class IoU on the held-out composites, seed \(seeds[0])",
                             headers: ["class", "U-Net", "no skips", "threshold baseline"],
                             rows: (0..<classes).map { c in
                                 [c == 0 ? "background" : "digit \(c - 1)", String(format: "%.3f", first.iou[c]),
                                  String(format: "%.3f", firstPlain.iou[c]), String(format: "%.3f", baselineScores.iou[c])]
                             }))
        // What the numbers say.
        let spread = max(spreadOf(results.unetMeanIoUs), spreadOf(results.noskipMeanIoUs))
        let gap = results.unetMeanIoU - results.noskipMeanIoU
        var verdicts: [String] = []
        if results.unetMeanIoU > results.baselineMeanIoU + 0.05 && results.unetMeanIoU > results.allBackgroundMeanIoU + 0.1 {
            verdicts.append(String(format: "The U-Net segments: held-out mean IoU %.3f against the threshold baseline's %.3f and"
                                   + " all-background's %.3f; it gives %@ of the digit pixels their right class.",
                                   results.unetMeanIoU, results.baselineMeanIoU, results.allBackgroundMeanIoU, percent(results.unetDigitRecall)))
        } else {
            verdicts.append(String(format: "The U-Net did NOT learn to segment in this budget: mean IoU %.3f against the threshold"
                                   + " baseline's %.3f and all-background's %.3f.", results.unetMeanIoU, results.baselineMeanIoU,
                                   results.allBackgroundMeanIoU))
        }
        if seeds.count < 2 {
            verdicts.append(String(format: "Skip connections: U-Net %.3f vs no skips %.3f on one seed; no spread measured, so no difference is claimed.",
                                   results.unetMeanIoU, results.noskipMeanIoU))
        } else if abs(gap) > spread {
            verdicts.append(String(format: "Skip connections: the means differ by %.3f mIoU, beyond the seed-to-seed spread (%.3f): %@ did better at this budget.",
                                   abs(gap), spread, gap > 0 ? "the U-Net WITH skips" : "the net WITHOUT skips"))
        } else {
            verdicts.append(String(format: "Skip connections: no difference shown; the means differ by %.3f mIoU, within the seed-to-seed spread (%.3f).",
                                   abs(gap), spread))
        }
        verdicts.append(String(format: "Pixel accuracy alone misleads here: background everywhere already scores %@.", percent(allBackground.pixelAccuracy)))
        for v in verdicts { run.say(v) }
        try run.writeFigure(svg: UNetPictures.losses(losses), name: "training-loss.svg",
                            caption: "the weighted per-pixel loss of each step (running mean of 10), seed \(seeds[0])")

        // The pictures.
        let shown = Array(0..<min(quick ? 4 : 8, heldout.count))
        let unetMaps = SegmentationTrainer.predict(firstNets["U-Net"]!, images: heldout.images)
        let plainMaps = SegmentationTrainer.predict(firstNets["no skips"]!, images: heldout.images)
        let legend = (0..<10).map { d -> [Float] in
            let i = digits.labels.firstIndex(of: d) ?? 0
            return Array(digits.images.data[i * 784..<(i + 1) * 784])
        }
        let picture = UNetPictures.comparison(images: heldout.images, columns: [nil, heldout.labels, unetMaps, plainMaps, baseline.predict(heldout)],
                                              rows: shown, side: heldout.labelHeight, legendDigits: legend)
        try run.writeFigure(png: picture, name: "segmentations.png",
                            caption: "held-out composites, one per row: input, truth, U-Net, no skips, threshold baseline (seed \(seeds[0]));"
                                + " background black, each digit its colour (the last row: a digit 0-9 in each colour)")
        try firstNets["U-Net"]!.save(to: run.directory.appendingPathComponent("unet-digits.safetensors"),
                                     metadata: ["lesson": "unet", "seed": String(seeds[0]), "input": "1x40x40 composites, ink in [0, 1]",
                                                "classes": "0 background, 1 + digit"])
        run.recordFile("unet-digits.safetensors", description: "the trained U-Net of seed \(seeds[0])")

        // 5. The race.
        run.step("The race: scatter loops against the fast transposed convolution, on the U-Net's last up-convolution")
        race(run, net: firstNets["U-Net"]!, images: gatherRows(heldout.images, Array(0..<min(quick ? 4 : 32, heldout.count))),
             quick: quick, results: &results)
    }

    // MARK: 5. The race

    /// The input of `ups[0]` (the last up-convolution) for `images`.
    static func lastUpInput(_ net: UNet, _ images: Tensor) -> Tensor {
        net.eval()
        defer { net.train() }
        var y = images
        var skipMaps: [Tensor] = []
        for i in 0..<net.depth {
            y = net.encoders[i](y)
            skipMaps.append(y)
            y = net.pools[i](y)
        }
        y = net.bottom(y)
        for i in stride(from: net.depth - 1, to: 0, by: -1) {
            let u = net.ups[i](y)
            let g = CropConcatGeometry(skip: skipMaps[i].shape, up: u.shape)
            y = net.decoders[i](Tensor(shape: g.outputShape, data: Fast.cropConcat(skip: skipMaps[i].data, up: u.data, geometry: g)))
        }
        return y
    }

    static func race(_ run: LessonRun, net: UNet, images: Tensor, quick: Bool, results: inout Results) {
        let up = net.ups[0]
        let x = lastUpInput(net, images)
        let g = up.geometry(for: x.shape)
        var generator = SeededGenerator(seed: 7)
        let dz = Tensor.randomNormal(g.outputShape.dimensions, using: &generator).data
        let w = up.weight.value.data, b = up.bias?.value.data
        let race = KernelRace.run([
            RaceEntrant(name: "naive: scatter loops", kernel: "Naive.convTranspose2d", isSlow: true,
                        forward: { [Naive.convTranspose2d(x.data, weight: w, bias: b, geometry: g)] },
                        backward: { let r = Naive.convTranspose2dBackward(x.data, weight: w, outputGradient: dz, geometry: g)
                                    return [r.input, r.weight, r.bias] }),
            RaceEntrant(name: "fast: GEMM + col2im", kernel: "Fast.convTranspose2d (adjoint convolution's input gradient)",
                        forward: { [Fast.convTranspose2d(x.data, weight: w, bias: b, geometry: g)] },
                        backward: { let r = Fast.convTranspose2dBackward(x.data, weight: w, outputGradient: dz, geometry: g)
                                    return [r.input, r.weight, r.bias] }),
        ], quick: quick, forwardFlops: 2 * Double(g.macs), backwardFlops: 4 * Double(g.macs))
        results.raceLayer = "up0: \(up.description) on \(shapeText(x.shape))"
        results.transposedNaiveMs = race.rows[0].totalSeconds * 1e3
        results.transposedFastMs = race.rows[1].totalSeconds * 1e3
        results.transposedSpeedup = race.speedup
        results.transposedMaxDifference = race.maxRelativeDifference
        run.say("The layer: up0 of the trained U-Net, \(up.description), on the activations of \(x.shape[0]) held-out composites"
                + " (\(shapeText(x.shape)) -> \(shapeText(g.outputShape.dimensions))); backward with a random output gradient.")
        run.show(race.captionedTable)
        run.say(String(format: "Same numbers (largest relative difference %@), %.1fx faster. The scatter loops touch the output"
                       + " one kernel tap at a time; the fast kernel does all taps of all input channels in one GEMM (%@ MACs forward).",
                       sci(race.maxRelativeDifference), race.speedup, ModelSummary.grouped(g.macs)))
    }
}
