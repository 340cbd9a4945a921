import Foundation

// The training loop every lesson runs: mini-batch SGD with momentum on softmax
// cross-entropy, one epoch at a time, with held-out images measured after each epoch.
//
//     for each epoch:
//         lr = schedule(epoch)
//         for each mini-batch (a seeded shuffle of the training images):
//             x = augment(x)                            the lesson's hook (LeNet: random shifts)
//             logits = model(x)                         forward, caching what backward needs
//             loss, dlogits = crossEntropy(logits, y)   mean over the batch, on model.backend
//                                                       (or the lesson's lossFunction: distillation)
//             stop if the loss is not a number
//             model.zeroGradients(); model.backward(dlogits)
//             sgd.step()                                v = mu v + g;  w = w - lr v
//         measure loss and accuracy on the held-out images (and on the training set, if asked)
//
// Every kernel it calls, the loss included, goes through `model.backend`, so a lesson's
// overlay (KernelOverlay.swift) runs in every path.

/// How a network is trained: the settings of ``Trainer``.
public struct TrainingSettings: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// The learning rate of each epoch (0-based).
    public var schedule: LearningRateSchedule
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    /// Leave out the last, smaller mini-batch of each epoch (as `drop_last=True`).
    public var dropLast = false

    public init(epochs: Int, batchSize: Int, schedule: LearningRateSchedule) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.schedule = schedule
    }

    /// The learning rate of the first epoch.
    public var initialLearningRate: Double { schedule.rate(epoch: 0) }
}

/// What one epoch measured.
public struct EpochRecord: Sendable, Codable {
    /// 1-based.
    public var epoch: Int
    public var learningRate: Double
    /// Mean loss and accuracy over the epoch's training batches, measured while training
    /// (in training mode, on augmented images, with the weights changing along the way).
    public var trainLoss: Double
    public var trainAccuracy: Double
    /// On the held-out images after the epoch (nil without them).
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// On the whole training set after the epoch, in inference mode (with
    /// ``Trainer/measuresTrainingSet``; else nil).
    public var trainingSetLoss: Double?
    public var trainingSetAccuracy: Double?
    /// Training time of the epoch (evaluation excluded).
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// What one step measured (for curves finer than an epoch).
public struct StepRecord: Sendable, Codable {
    /// 1-based, counted over the whole run.
    public var step: Int
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double
}

/// Everything a training run measured.
public struct TrainingHistory: Sendable {
    public var epochs: [EpochRecord] = []
    public var steps: [StepRecord] = []

    public init() {}

    /// The history as checkpoint metadata (JSON strings).
    func metadata() throws -> [String: String] {
        let encoder = JSONEncoder()
        return ["history_epochs": String(decoding: try encoder.encode(epochs), as: UTF8.self),
                "history_steps": String(decoding: try encoder.encode(steps), as: UTF8.self)]
    }

    /// The history a checkpoint saved.
    init(metadata: [String: String], path: String) throws {
        let decoder = JSONDecoder()
        guard let e = metadata["history_epochs"], let s = metadata["history_steps"],
              let epochs = try? decoder.decode([EpochRecord].self, from: Data(e.utf8)),
              let steps = try? decoder.decode([StepRecord].self, from: Data(s.utf8)) else {
            throw FileFormatError(path: path, reason: "not a checkpoint of the shared trainer (no readable history)")
        }
        self.epochs = epochs
        self.steps = steps
    }
    /// Training time, evaluation excluded.
    public var seconds: Double { epochs.reduce(0) { $0 + $1.seconds } }
    public var last: EpochRecord? { epochs.last }
}

/// The shared training loop: trains a model on labelled images with SGD, printing
/// progress on one updating line and one line per epoch, recording per-epoch and
/// per-step history, and stopping with a ``LessonError`` when the loss stops being a
/// number. The same seed repeats a run exactly (on the same thread count).
public struct Trainer {
    public var settings: TrainingSettings
    /// Changes each training mini-batch before it is used (the lesson's augmentation),
    /// drawing any randomness from the trainer's seeded generator.
    public var augment: ((Tensor, inout SeededGenerator) -> Tensor)?
    /// The loss of a mini-batch in place of cross-entropy on the labels (distillation's
    /// soft targets): given the logits, the labels and the batch's indices into the
    /// training set, the loss and dL/dlogits. Nil: `Loss.crossEntropy` on `model.backend`.
    public var lossFunction: ((_ logits: Tensor, _ labels: [Int], _ indices: [Int]) -> (loss: Float, gradient: Tensor))?
    /// Printed before the progress and epoch lines ("plain-56, seed 2").
    public var label = ""
    /// One printed line per epoch (false: the progress line only).
    public var printsEpochs = true
    /// Also measure the whole training set in inference mode after each epoch.
    public var measuresTrainingSet = false
    /// Called after each epoch with the model and what the epoch measured (pictures). A
    /// thrown error stops training.
    public var afterEpoch: ((Layer, EpochRecord) throws -> Void)?
    /// Where to save a checkpoint after every epoch (model, momentum, the generator's
    /// state, the history so far; written atomically, so a run stopped at any moment
    /// leaves the last complete one). Nil: none.
    public var checkpoint: URL?
    /// Continue from `checkpoint` if it exists (`--resume`): the run then ends with the
    /// same weights, bit for bit, as one never stopped (on the same thread count).
    public var resumes = false

    public init(_ settings: TrainingSettings) { self.settings = settings }

    /// Trains `model` on `trainingSet`, measuring `validation` after each epoch.
    public func train(_ model: Layer, on trainingSet: LabeledImages, validation: LabeledImages? = nil,
                      seed: UInt64, console: Console) throws -> TrainingHistory {
        precondition(trainingSet.count > 0 && settings.batchSize > 0 && settings.epochs >= 0,
                     "Trainer: \(trainingSet.count) images, batch \(settings.batchSize), \(settings.epochs) epochs")
        let optimizer = SGD(parameters: model.parameters, learningRate: Float(settings.initialLearningRate),
                            momentum: settings.momentum, weightDecay: settings.weightDecay)
        var generator = SeededGenerator(seed: seed ^ 0x5EED_BA7C)
        var history = TrainingHistory()
        let prefix = label.isEmpty ? "" : label + "  "
        var lastFiniteLoss: Double?
        var firstEpoch = 0
        if resumes, let url = checkpoint, FileManager.default.fileExists(atPath: url.path) {
            let saved = try Checkpoint.load(from: url, model: model, optimizer: optimizer)
            generator = saved.generator
            firstEpoch = min(saved.epoch, settings.epochs)
            history = try TrainingHistory(metadata: saved.metadata, path: url.path)
            console.print(prefix + "resuming from \(url.lastPathComponent): \(saved.epoch) of \(settings.epochs) epochs done")
        }
        model.train()
        for epoch in firstEpoch..<settings.epochs {
            let rate = settings.schedule.rate(epoch: epoch)
            optimizer.learningRate = Float(rate)
            let batches = MiniBatches(count: trainingSet.count, batchSize: settings.batchSize,
                                      dropLast: settings.dropLast, using: &generator)
            var lossSum = 0.0, correct = 0.0, seen = 0
            let start = Stopwatch.now()
            var lastProgress = -1.0                                  // progress at most ten times a second
            for (step, indices) in batches.enumerated() {
                var x = gatherRows(trainingSet.images, indices)
                if let augment { x = augment(x, &generator) }
                let labels = indices.map { trainingSet.labels[$0] }
                let logits = model(x)
                let (loss, dLogits) = lossFunction?(logits, labels, indices)
                    ?? Loss.crossEntropy(logits, targets: labels, using: model.backend)
                guard loss.isFinite else {
                    let last = lastFiniteLoss.map { String(format: "%.4g", $0) } ?? "none"
                    throw LessonError("\(prefix)training diverged: the loss became \(loss.isNaN ? "NaN" : "infinite") at epoch"
                                      + " \(epoch + 1), step \(step + 1) (last finite loss \(last), learning rate \(rate));"
                                      + " try a smaller --lr")
                }
                lastFiniteLoss = Double(loss)
                model.zeroGradients()
                _ = model.backward(dLogits)
                optimizer.step()
                if Interruption.isRequested {
                    let kept = checkpoint.map { epoch > 0 || firstEpoch > 0
                        ? "; the checkpoint of epoch \(epoch) is kept in \($0.path): continue with --resume" : "; no epoch finished, no checkpoint" }
                    throw LessonError("\(prefix)interrupted at epoch \(epoch + 1), step \(step + 1)" + (kept ?? ""))
                }

                let accuracy = Metrics.accuracy(logits, labels: labels)
                lossSum += Double(loss) * Double(indices.count)
                correct += accuracy * Double(indices.count)
                seen += indices.count
                history.steps.append(StepRecord(step: history.steps.count + 1, epoch: epoch + 1,
                                                loss: Double(loss), accuracy: accuracy))
                let elapsed = Stopwatch.now() - start
                guard elapsed - lastProgress > 0.1 || step + 1 == batches.batchCount else { continue }
                lastProgress = elapsed
                console.progress(prefix + "epoch \(epoch + 1)/\(settings.epochs)  step \(step + 1)/\(batches.batchCount)"
                                 + "  loss " + String(format: "%.3f", lossSum / Double(seen))
                                 + "  acc " + String(format: "%.1f%%", 100 * correct / Double(seen))
                                 + "  " + ModelSummary.grouped(Int(Double(seen) / max(elapsed, 1e-9))) + " img/s")
            }
            let seconds = Stopwatch.now() - start
            var record = EpochRecord(epoch: epoch + 1, learningRate: rate,
                                     trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: correct / Double(max(seen, 1)),
                                     seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
            if let validation {
                let held = Self.evaluate(model, on: validation)
                (record.validationLoss, record.validationAccuracy) = (held.loss, held.accuracy)
            }
            if measuresTrainingSet {
                let whole = Self.evaluate(model, on: trainingSet)
                (record.trainingSetLoss, record.trainingSetAccuracy) = (whole.loss, whole.accuracy)
            }
            history.epochs.append(record)
            if printsEpochs { console.print(prefix + Self.line(record, of: settings.epochs)) }
            if let url = checkpoint {
                do {
                    try Checkpoint(epoch: epoch + 1, generator: generator, learningRate: Float(rate), metadata: try history.metadata())
                        .save(model: model, optimizer: optimizer, to: url)
                } catch {
                    throw LessonError("cannot write the checkpoint \(url.path): \(error)")
                }
            }
            try afterEpoch?(model, record)
        }
        return history
    }

    /// `epoch 3/40  lr 0.05  train loss 0.1234  acc 96.10%  |  held-out loss ...  |  1.2 s, 3,300 img/s`
    public static func line(_ r: EpochRecord, of epochs: Int) -> String {
        var text = "epoch \(r.epoch)/\(epochs)  lr " + String(format: "%g", r.learningRate)
            + "  train loss " + String(format: "%.4f", r.trainLoss) + "  acc " + String(format: "%.2f%%", 100 * r.trainAccuracy)
        if let loss = r.trainingSetLoss, let accuracy = r.trainingSetAccuracy {
            text += "  |  training set loss " + String(format: "%.4f", loss) + "  acc " + String(format: "%.2f%%", 100 * accuracy)
        }
        if let loss = r.validationLoss, let accuracy = r.validationAccuracy {
            text += "  |  held-out loss " + String(format: "%.4f", loss) + "  acc " + String(format: "%.2f%%", 100 * accuracy)
        }
        return text + "  |  " + String(format: "%.1f s", r.seconds) + ", " + ModelSummary.grouped(Int(r.imagesPerSecond)) + " img/s"
    }

    /// Mean loss and accuracy of `model` in inference mode on `data`, in batches of
    /// `batchSize` (the model is back in training mode afterwards).
    public static func evaluate(_ model: Layer, on data: LabeledImages, batchSize: Int = 250) -> (loss: Double, accuracy: Double) {
        model.eval()
        defer { model.train() }
        var lossSum = 0.0, correct = 0.0
        var start = 0
        while start < data.count {
            let indices = Array(start..<min(start + batchSize, data.count))
            let logits = model(gatherRows(data.images, indices))
            let labels = indices.map { data.labels[$0] }
            lossSum += Double(Loss.crossEntropy(logits, targets: labels, using: model.backend).loss) * Double(indices.count)
            correct += Metrics.accuracy(logits, labels: labels) * Double(indices.count)
            start += batchSize
        }
        return (lossSum / Double(max(data.count, 1)), correct / Double(max(data.count, 1)))
    }
}

/// Every image of `x` (`[N, C, H, W]`) moved by its own random (dy, dx) in
/// `-maximum...maximum`, the pixels moved in from outside set to `fill`: the cheapest
/// augmentation, which teaches a network that moving a digit does not change it.
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

/// A request to stop, from SIGINT (Ctrl-C) or SIGTERM: the trainer finishes its step and
/// stops with a one-line error naming the checkpoint it keeps.
public enum Interruption {
    nonisolated(unsafe) private static var requested: sig_atomic_t = 0

    /// Whether a stop was requested.
    public static var isRequested: Bool { requested != 0 }

    /// Sends SIGINT and SIGTERM here (the `lesson` tool does this before a run).
    public static func install() {
        var blocked = sigset_t()                         // a parent may have left them blocked
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &blocked, nil)
        signal(SIGINT) { _ in Interruption.requested = 1 }
        signal(SIGTERM) { _ in Interruption.requested = 1 }
    }
}
