import Foundation

/// A training run saved to one safetensors file, so it can stop and resume exactly:
/// the model's tensors under their torchvision names, each SGD momentum buffer as
/// `optimizer.momentum.<parameter name>`, and in the metadata the finished epoch, the
/// learning rate, the data generator's state and whatever the lesson adds.
/// Written atomically (a temporary file, then a rename), so a run killed mid-write
/// leaves the previous checkpoint intact.
public struct Checkpoint {
    /// Epochs completed when it was written.
    public var epoch: Int
    /// The shuffling generator, to continue the same sequence of mini-batches.
    public var generator: SeededGenerator
    public var learningRate: Float
    /// Extra strings the caller saved (a history of losses, the run's options).
    public var metadata: [String: String]

    static let momentumPrefix = "optimizer.momentum."

    public init(epoch: Int, generator: SeededGenerator, learningRate: Float, metadata: [String: String] = [:]) {
        self.epoch = epoch
        self.generator = generator
        self.learningRate = learningRate
        self.metadata = metadata
    }

    /// Writes `model` (weights and buffers), `optimizer`'s momentum and this record.
    public func save(model: Layer, optimizer: SGD, to url: URL) throws {
        var meta = metadata
        meta["epoch"] = String(epoch)
        meta["generator_state"] = String(generator.state)
        meta["learning_rate"] = String(learningRate)
        var file = model.safetensorsFile(metadata: meta)
        let names = Self.names(of: optimizer, in: model)
        for (i, buffer) in optimizer.momentumBuffers.enumerated() {
            if let buffer { file.tensors[Self.momentumPrefix + names[i]] = Tensor(shape: optimizer.parameters[i].shape, data: buffer) }
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Safetensors.write(file, to: url)
    }

    /// Restores `model` and `optimizer` from a checkpoint written by `save` and returns the
    /// record. Throws (naming the file) for a file that is not such a checkpoint or does
    /// not fit the model; nothing is changed in that case.
    public static func load(from url: URL, model: Layer, optimizer: SGD) throws -> Checkpoint {
        let file = try Safetensors.read(url)
        guard let epoch = file.metadata["epoch"].flatMap(Int.init),
              let state = file.metadata["generator_state"].flatMap(UInt64.init),
              let rate = file.metadata["learning_rate"].flatMap(Float.init) else {
            throw FileFormatError(path: url.path, reason: "not a training checkpoint (no epoch, generator_state and learning_rate metadata)")
        }
        guard epoch >= 0, rate.isFinite, rate >= 0 else {
            throw FileFormatError(path: url.path, reason: "checkpoint metadata out of range: epoch \(epoch), learning_rate \(rate)")
        }
        var weights: [String: Tensor] = [:]
        var momentum: [String: Tensor] = [:]
        for (name, tensor) in file.tensors {
            if name.hasPrefix(momentumPrefix) {
                momentum[String(name.dropFirst(momentumPrefix.count))] = tensor
            } else {
                weights[name] = tensor
            }
        }
        for (name, t) in file.integerTensors { weights[name] = Tensor(shape: t.shape, data: t.values.map { Float($0) }) }
        let names = Self.names(of: optimizer, in: model)
        var buffers: [[Float]?] = []
        for (i, name) in names.enumerated() {
            guard let m = momentum[name] else { buffers.append(nil); continue }
            guard m.count == optimizer.parameters[i].count else {
                throw FileFormatError(path: url.path, reason: "momentum of \(name) has shape \(m.shape), the parameter \(optimizer.parameters[i].shape)")
            }
            buffers.append(m.data)
        }
        do { try model.loadStateDict(weights) } catch {
            throw FileFormatError(path: url.path, reason: "\(error)")
        }
        optimizer.momentumBuffers = buffers
        optimizer.learningRate = rate
        var meta = file.metadata
        for key in ["epoch", "generator_state", "learning_rate"] { meta[key] = nil }
        return Checkpoint(epoch: epoch, generator: SeededGenerator(seed: state), learningRate: rate, metadata: meta)
    }

    /// The state-dict name of each of the optimizer's parameters.
    static func names(of optimizer: SGD, in model: Layer) -> [String] {
        let named = model.namedParameters()
        return optimizer.parameters.map { p in
            guard let entry = named.first(where: { $0.parameter === p }) else {
                preconditionFailure("Checkpoint: the optimizer updates a parameter that is not in the model")
            }
            return entry.name
        }
    }
}
