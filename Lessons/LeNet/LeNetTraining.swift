import ConvNetCore
import Foundation

// Training LeNet-5: mini-batch SGD with momentum on softmax cross-entropy, one epoch at a
// time, with the held-out digits measured after each epoch. Nothing here is specific to
// LeNet but the defaults; the loop is the one every later lesson repeats:
//
//     for each epoch:
//         for each mini-batch (a seeded shuffle of the training digits):
//             x = shift each digit by up to 2 pixels    (a cheap form of the paper's distortions)
//             logits = model(x)                         forward, caching what backward needs
//             loss, dlogits = crossEntropy(logits, y)   mean over the batch
//             model.zeroGradients(); model.backward(dlogits)
//             sgd.step()                                v = mu v + g;  w = w - lr v
//         measure loss and accuracy on the held-out digits

/// How LeNet-5 is trained.
public struct LeNetTrainingSettings: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// The learning rate of the first epoch; it is divided by 10 at `decayEpochs`.
    public var learningRate: Double
    public var decayEpochs: [Int]
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    /// Each training digit is shifted by a random whole number of pixels in
    /// `-maxShift...maxShift`, down and right independently, every time it is seen (0: never).
    /// The network has seen "the same digit, moved" and learns that moving does not change it.
    public var maxShift = 0
    /// The value shifted-in pixels take (the normalised background).
    public var background: Float = 0

    public init(epochs: Int, batchSize: Int, learningRate: Double, decayEpochs: [Int]) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.decayEpochs = decayEpochs
    }

    /// The learning rate of each epoch (0-based).
    public var schedule: LearningRateSchedule {
        .step(initial: learningRate, milestones: decayEpochs, factor: 0.1)
    }
}

/// What one epoch measured.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var learningRate: Double
    /// Mean loss and accuracy over the epoch's training batches (measured while training).
    public var trainLoss: Double
    public var trainAccuracy: Double
    /// On the held-out digits, after the epoch.
    public var validationLoss: Double
    public var validationAccuracy: Double
    /// Training time of the epoch (evaluation excluded).
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// Mean loss and accuracy of `model` (in inference mode) on `data`, in batches.
public func evaluate(_ model: Layer, on data: DigitDataset, batchSize: Int = 250) -> (loss: Double, accuracy: Double) {
    model.eval()
    defer { model.train() }
    var lossSum = 0.0, correct = 0.0
    var start = 0
    while start < data.count {
        let indices = Array(start..<min(start + batchSize, data.count))
        let logits = model(gatherRows(data.images, indices))
        let labels = indices.map { data.labels[$0] }
        lossSum += Double(Loss.crossEntropy(logits, targets: labels).loss) * Double(indices.count)
        correct += Metrics.accuracy(logits, labels: labels) * Double(indices.count)
        start += batchSize
    }
    return (lossSum / Double(max(data.count, 1)), correct / Double(max(data.count, 1)))
}

/// Trains `model` on `trainingSet` for `settings.epochs` epochs, measuring `validation` after
/// each, with progress on one line of `console` and one printed line per epoch. The
/// batches are drawn from `seed`, so the same seed repeats the run exactly. Throws a
/// `LessonError` when the loss stops being a number.
public func train(_ model: Layer, on trainingSet: DigitDataset, validation: DigitDataset,
                  settings: LeNetTrainingSettings, seed: UInt64, console: Console) throws -> [EpochRecord] {
    let optimizer = SGD(parameters: model.parameters, learningRate: Float(settings.learningRate),
                        momentum: settings.momentum, weightDecay: settings.weightDecay)
    var generator = SeededGenerator(seed: seed ^ 0x5EED_BA7C)
    var records: [EpochRecord] = []
    model.train()
    for epoch in 0..<settings.epochs {
        let rate = settings.schedule.rate(epoch: epoch)
        optimizer.learningRate = Float(rate)
        let batches = MiniBatches(count: trainingSet.count, batchSize: settings.batchSize, using: &generator)
        var lossSum = 0.0, correct = 0.0, seen = 0
        let start = Stopwatch.now()
        var lastProgress = -1.0                                  // progress at most ten times a second
        for (step, indices) in batches.enumerated() {
            var x = gatherRows(trainingSet.images, indices)
            if settings.maxShift > 0 { x = randomlyShifted(x, by: settings.maxShift, fill: settings.background, using: &generator) }
            let labels = indices.map { trainingSet.labels[$0] }
            let logits = model(x)
            let (loss, dLogits) = Loss.crossEntropy(logits, targets: labels)
            guard loss.isFinite else {
                throw LessonError("training diverged: the loss became \(loss.isNaN ? "NaN" : "infinite") at epoch \(epoch + 1), step \(step + 1) (try a smaller --lr)")
            }
            model.zeroGradients()
            _ = model.backward(dLogits)
            optimizer.step()

            lossSum += Double(loss) * Double(indices.count)
            correct += Metrics.accuracy(logits, labels: labels) * Double(indices.count)
            seen += indices.count
            let elapsed = Stopwatch.now() - start
            guard elapsed - lastProgress > 0.1 || step + 1 == batches.batchCount else { continue }
            lastProgress = elapsed
            console.progress("epoch \(epoch + 1)/\(settings.epochs)  step \(step + 1)/\(batches.batchCount)"
                             + "  loss " + String(format: "%.3f", lossSum / Double(seen))
                             + "  acc " + String(format: "%.1f%%", 100 * correct / Double(seen))
                             + "  " + ModelSummary.grouped(Int(Double(seen) / max(elapsed, 1e-9))) + " img/s")
        }
        let seconds = Stopwatch.now() - start
        let held = evaluate(model, on: validation)
        let record = EpochRecord(epoch: epoch + 1, learningRate: rate,
                                 trainLoss: lossSum / Double(seen), trainAccuracy: correct / Double(seen),
                                 validationLoss: held.loss, validationAccuracy: held.accuracy,
                                 seconds: seconds, imagesPerSecond: Double(seen) / seconds)
        records.append(record)
        console.print("epoch \(record.epoch)/\(settings.epochs)  lr " + String(format: "%g", rate)
                      + "  train loss " + String(format: "%.4f", record.trainLoss)
                      + "  acc " + String(format: "%.2f%%", 100 * record.trainAccuracy)
                      + "  |  held-out loss " + String(format: "%.4f", record.validationLoss)
                      + "  acc " + String(format: "%.2f%%", 100 * record.validationAccuracy)
                      + "  |  " + String(format: "%.1f s", seconds)
                      + ", " + ModelSummary.grouped(Int(record.imagesPerSecond)) + " img/s")
    }
    return records
}

/// Every image of `x` (`[N, C, H, W]`) moved by its own random (dy, dx) in
/// `-maximum...maximum`, the pixels moved in from outside set to `fill`.
public func randomlyShifted(_ x: Tensor, by maximum: Int, fill: Float, using generator: inout SeededGenerator) -> Tensor {
    let s = x.featureMapShape(for: "randomlyShifted")
    var y = Tensor(shape: x.shape, repeating: fill)
    for n in 0..<s.batch {
        let dy = Int(generator.next() % UInt64(2 * maximum + 1)) - maximum
        let dx = Int(generator.next() % UInt64(2 * maximum + 1)) - maximum
        let columns = max(0, -dx)..<min(s.width, s.width - dx)      // target columns with a source
        guard !columns.isEmpty else { continue }
        for c in 0..<s.channels {
            let plane = (n * s.channels + c) * s.spatial
            for row in max(0, -dy)..<min(s.height, s.height - dy) {
                let target = plane + row * s.width, source = plane + (row + dy) * s.width + dx
                for column in columns { y.data[target + column] = x.data[source + column] }
            }
        }
    }
    return y
}
