import Foundation

// Training a segmentation network: a label for every pixel instead of one per image.
// The loop is the shared Trainer's (seeded mini-batches, progress on one line, a one-line
// error when the loss stops being a number); what differs is the loss (softmax
// cross-entropy at every pixel, weighted per class: PixelLoss+Naive.swift), the optimiser
// (Adam or SGD with momentum, the rate following a cosine from its initial value to zero
// over all the steps) and the scores (pixel accuracy and mean intersection over union).

/// Images and a class at every pixel of the network's output.
public struct SegmentationSet {
    /// `[N, C, H, W]`.
    public var images: Tensor
    /// `[N, h, w]` flattened: the class of each pixel of the segmentation map, in
    /// `0..<classes` (h x w is the network's output size: the input's with 'same'
    /// convolutions, its centre with valid ones).
    public var labels: [Int]
    public var labelHeight: Int
    public var labelWidth: Int

    public init(images: Tensor, labels: [Int], labelHeight: Int, labelWidth: Int) {
        precondition(images.rank == 4 && labels.count == images.shape[0] * labelHeight * labelWidth,
                     "SegmentationSet: \(labels.count) labels for \(images.shape[0]) images of \(labelHeight)x\(labelWidth) labels")
        (self.images, self.labels, self.labelHeight, self.labelWidth) = (images, labels, labelHeight, labelWidth)
    }

    public var count: Int { images.shape[0] }
    public var labelPixels: Int { labelHeight * labelWidth }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> SegmentationSet {
        let perImage = images.count / max(count, 1), perLabel = labelPixels
        var data = [Float](), maps = [Int]()
        data.reserveCapacity(indices.count * perImage)
        maps.reserveCapacity(indices.count * perLabel)
        for i in indices {
            data.append(contentsOf: images.data[i * perImage..<(i + 1) * perImage])
            maps.append(contentsOf: labels[i * perLabel..<(i + 1) * perLabel])
        }
        var shape = images.shape
        shape[0] = indices.count
        return SegmentationSet(images: Tensor(shape: shape, data: data), labels: maps, labelHeight: labelHeight, labelWidth: labelWidth)
    }

    /// The fraction of all labelled pixels in each class.
    public func classFrequencies(classes: Int) -> [Double] {
        var counts = [Double](repeating: 0, count: classes)
        for l in labels { counts[l] += 1 }
        return counts.map { $0 / Double(max(labels.count, 1)) }
    }
}

/// Pixel accuracy and intersection over union from a confusion matrix.
public struct SegmentationScores: Sendable, Encodable {
    /// `confusion[truth][predicted]`: pixel counts.
    public var confusion: [[Int]]
    public init(predicted: [Int], truth: [Int], classes: Int) {
        checkCount(predicted.count, equals: truth.count, "predictions", in: "SegmentationScores")
        confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for (p, t) in zip(predicted, truth) { confusion[t][p] += 1 }
    }

    /// Pixels whose predicted class is their true class, as a fraction of all pixels.
    public var pixelAccuracy: Double {
        let total = confusion.reduce(0) { $0 + $1.reduce(0, +) }
        return Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(max(total, 1))
    }

    /// Intersection over union of each class, TP / (TP + FP + FN) (0 for a class neither
    /// in the truth nor predicted).
    public var iou: [Double] {
        confusion.indices.map { c in
            let tp = confusion[c][c]
            let fn = confusion[c].reduce(0, +) - tp
            let fp = confusion.reduce(0) { $0 + $1[c] } - tp
            return tp + fp + fn == 0 ? 0 : Double(tp) / Double(tp + fp + fn)
        }
    }

    /// The mean of ``iou`` over every class, background included: predicting background
    /// everywhere scores (background's share of the pixels) / classes.
    public var meanIoU: Double { iou.reduce(0, +) / Double(max(confusion.count, 1)) }

    /// Per class: the fraction of its true pixels predicted as it (recall).
    public var classAccuracy: [Double] {
        confusion.indices.map { c in
            let total = confusion[c].reduce(0, +)
            return total == 0 ? 0 : Double(confusion[c][c]) / Double(total)
        }
    }
}

/// How a segmentation network is trained.
public struct SegmentationSettings: Sendable {
    public enum Optimizer: Sendable { case adam, sgd(momentum: Float) }
    public var epochs: Int
    public var batchSize: Int
    /// The initial rate; it follows a cosine to zero over all the steps when `cosine`.
    public var learningRate: Double
    public var cosine = true
    public var optimizer: Optimizer = .adam
    public var weightDecay: Float = 0
    /// The loss's weight of each class (nil: all 1), w(x) = classWeights[l(x)].
    public var classWeights: [Float]?

    public init(epochs: Int, batchSize: Int, learningRate: Double) {
        (self.epochs, self.batchSize, self.learningRate) = (epochs, batchSize, learningRate)
    }

    /// The rate at step `step` of `total`.
    public func rate(step: Int, of total: Int) -> Double {
        guard cosine, total > 1 else { return learningRate }
        return learningRate * 0.5 * (1 + Foundation.cos(Double.pi * Double(step) / Double(total)))
    }
}

/// What a segmentation run measured, epoch by epoch.
public struct SegmentationHistory: Sendable {
    public struct Epoch: Sendable {
        public var epoch: Int
        public var trainLoss: Double
        public var validation: SegmentationScores?
        public var seconds: Double
    }
    public var epochs: [Epoch] = []
    /// The loss of every step.
    public var stepLosses: [Double] = []
    public var seconds: Double { epochs.reduce(0) { $0 + $1.seconds } }
    public init() {}
}

/// The training loop of a segmentation network.
public struct SegmentationTrainer {
    public var settings: SegmentationSettings
    /// Shown on the progress line ("U-Net, seed 1").
    public var label = ""
    /// Scores the validation set after each epoch (else only after the last).
    public var validatesEveryEpoch = false
    /// Changes the input images of each mini-batch (data augmentation), seeded.
    public var augment: ((SegmentationSet, inout SeededGenerator) -> SegmentationSet)?

    public init(_ settings: SegmentationSettings) { self.settings = settings }

    /// Trains `model` (its output `[N, classes, h, w]` must match the labels' h x w) on
    /// `trainingSet`, the mini-batches shuffled from `seed`. Throws a `LessonError` naming
    /// the step when the loss stops being a number.
    public func train(_ model: Layer, on trainingSet: SegmentationSet, validation: SegmentationSet? = nil, classes: Int,
                      seed: UInt64, console: Console) throws -> SegmentationHistory {
        var history = SegmentationHistory()
        var generator = SeededGenerator(seed: seed)
        let batches = MiniBatches(count: trainingSet.count, batchSize: settings.batchSize, using: &generator)
        let total = settings.epochs * batches.batchCount
        let sgd: SGD?, adam: Adam?
        switch settings.optimizer {
        case .adam:
            adam = Adam(parameters: model.parameters, learningRate: Float(settings.learningRate), weightDecay: settings.weightDecay)
            sgd = nil
        case .sgd(let momentum):
            sgd = SGD(parameters: model.parameters, learningRate: Float(settings.learningRate), momentum: momentum,
                      weightDecay: settings.weightDecay)
            adam = nil
        }
        var step = 0, lastFinite = Double.nan
        for epoch in 0..<settings.epochs {
            model.train()
            let start = Stopwatch.now()
            var lossSum = 0.0, seen = 0
            var order = SeededGenerator(seed: seed &+ 0x51_7CC1 &* UInt64(epoch + 1))
            var augmentGenerator = SeededGenerator(seed: seed &+ 0xA5A5 &* UInt64(epoch + 1))
            for indices in MiniBatches(count: trainingSet.count, batchSize: settings.batchSize, using: &order) {
                var batch = trainingSet.subset(indices)
                if let augment { batch = augment(batch, &augmentGenerator) }
                let rate = Float(settings.rate(step: step, of: total))
                sgd?.learningRate = rate
                adam?.learningRate = rate
                let logits = model(batch.images)
                try Self.checkOutput(logits, batch, classes: classes, model: model)
                let (loss, gradient) = Fast.pixelCrossEntropy(logits: logits.data, labels: batch.labels, classes: classes,
                                                              spatial: batch.labelPixels, classWeights: settings.classWeights)
                guard loss.isFinite else {
                    throw LessonError("\(label.isEmpty ? "training" : label): the loss became \(loss) at step \(step + 1) (epoch \(epoch + 1));"
                                      + " the last finite loss was \(String(format: "%.4f", lastFinite)). Try a smaller learning rate.")
                }
                lastFinite = Double(loss)
                model.zeroGradients()
                _ = model.backward(Tensor(shape: logits.shape, data: gradient))
                sgd?.step()
                adam?.step()
                step += 1
                lossSum += Double(loss) * Double(indices.count)
                seen += indices.count
                history.stepLosses.append(Double(loss))
                let elapsed = Stopwatch.now() - start
                console.progress(String(format: "%@epoch %d/%d  step %d/%d  loss %.4f  lr %.2g  %.0f img/s",
                                        label.isEmpty ? "" : label + "  ", epoch + 1, settings.epochs, step, total,
                                        loss, rate, Double(seen) / max(elapsed, 1e-9)))
            }
            var record = SegmentationHistory.Epoch(epoch: epoch + 1, trainLoss: lossSum / Double(max(seen, 1)), validation: nil,
                                                   seconds: Stopwatch.now() - start)
            if let validation, validatesEveryEpoch || epoch == settings.epochs - 1 {
                record.validation = Self.score(model, on: validation, classes: classes)
            }
            history.epochs.append(record)
        }
        console.clearProgress()
        model.train()
        return history
    }

    /// Every pixel's predicted class, `[N, h, w]`, in inference mode.
    public static func predict(_ model: Layer, images: Tensor, batchSize: Int = 50) -> [Int] {
        let wasTraining = model.isTraining
        model.eval()
        defer { if wasTraining { model.train() } }
        var result: [Int] = []
        let n = images.shape[0]
        var start = 0
        while start < n {
            let end = min(n, start + batchSize)
            let batch = gatherRows(images, Array(start..<end))
            let logits = model(batch)
            result += Fast.pixelArgmax(logits.data, classes: logits.shape[1], spatial: logits.shape[2] * logits.shape[3])
            start = end
        }
        return result
    }

    /// Pixel accuracy and IoU of `model` on `data`.
    public static func score(_ model: Layer, on data: SegmentationSet, classes: Int) -> SegmentationScores {
        SegmentationScores(predicted: predict(model, images: data.images), truth: data.labels, classes: classes)
    }

    /// Class weights that balance the classes' frequencies (the paper's w_c): each class
    /// weighted by `(1 / frequency)^power`, scaled so that the average pixel's weight is 1;
    /// `power` 1 balances fully (every class the same total weight), 0.5 halfway (on a log
    /// scale). A class with no pixels gets the largest weight of the others.
    public static func balancingWeights(frequencies: [Double], power: Double) -> [Float] {
        let raw = frequencies.map { $0 > 0 ? Foundation.pow(1 / $0, power) : 0 }
        let largest = raw.max() ?? 1
        let filled = raw.map { $0 > 0 ? $0 : largest }
        let average = zip(filled, frequencies).reduce(0) { $0 + $1.0 * $1.1 }
        return filled.map { Float($0 / max(average, 1e-12)) }
    }

    static func checkOutput(_ logits: Tensor, _ batch: SegmentationSet, classes: Int, model: Layer) throws {
        guard logits.rank == 4, logits.shape[1] == classes, logits.shape[2] == batch.labelHeight, logits.shape[3] == batch.labelWidth else {
            throw LessonError("\(model.description) outputs \(logits.shape) for labels of \(classes) classes at \(batch.labelHeight)x\(batch.labelWidth)")
        }
    }
}
