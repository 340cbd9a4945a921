import Foundation

/// Why a state dict does not fit a model: names the tensor and both shapes.
public enum StateDictError: Error, CustomStringConvertible, Equatable {
    /// The model has a tensor the dict lacks.
    case missing(name: String, expectedShape: [Int])
    /// The dict's tensor has another shape than the model's.
    case wrongShape(name: String, expected: [Int], got: [Int])
    /// The dict has tensors the model does not (strict loading only).
    case unexpected(names: [String])

    public var description: String {
        switch self {
        case let .missing(name, shape):
            return "state dict: missing \(name) (the model expects shape \(shape))"
        case let .wrongShape(name, expected, got):
            return "state dict: \(name) has shape \(got), the model expects \(expected)"
        case let .unexpected(names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "state dict: unexpected \(names.count == 1 ? "tensor" : "tensors") \(shown)"
                + (names.count > 5 ? " and \(names.count - 5) more" : "")
        }
    }
}

extension Layer {
    /// Every parameter and buffer under its torchvision `state_dict` name
    /// (`num_batches_tracked` as a scalar). The model must be initialised or loaded.
    public func stateDict() -> [String: Tensor] {
        var dict: [String: Tensor] = [:]
        for (name, p) in namedParameters() { dict[name] = p.value }
        for (name, b) in namedBuffers() { dict[name] = b.value }
        return dict
    }

    /// Sets every parameter and buffer from `dict` (torchvision names and shapes).
    ///
    /// Everything is checked before anything is assigned, so a failed load leaves the
    /// model as it was. Throws ``StateDictError`` naming the first tensor that is
    /// missing or has the wrong shape (both shapes), or, when `strict`, the names the
    /// model does not have. `num_batches_tracked` counters may be absent.
    public func loadStateDict(_ dict: [String: Tensor], strict: Bool = true) throws {
        let parameters = namedParameters(), buffers = namedBuffers()
        var known = Set<String>()
        func check(_ name: String, _ shape: [Int], optional: Bool) throws {
            known.insert(name)
            guard let tensor = dict[name] else {
                if optional { return }
                throw StateDictError.missing(name: name, expectedShape: shape)
            }
            let fits = tensor.shape == shape || (shape.isEmpty && tensor.shape == [1])
            if !fits { throw StateDictError.wrongShape(name: name, expected: shape, got: tensor.shape) }
        }
        for (name, p) in parameters { try check(name, p.shape, optional: false) }
        for (name, b) in buffers { try check(name, b.shape, optional: b.isInteger) }
        if strict {
            let extra = dict.keys.filter { !known.contains($0) }.sorted()
            if !extra.isEmpty { throw StateDictError.unexpected(names: extra) }
        }
        for (name, p) in parameters { p.value = dict[name]! }
        for (name, b) in buffers {
            if let t = dict[name] { b.value = t.reshaped(b.shape) }
        }
    }

    /// The model's tensors as a safetensors file: parameters and running statistics as
    /// F32, `num_batches_tracked` as I64, as torchvision saves them.
    public func safetensorsFile(metadata: [String: String] = [:]) -> SafetensorsFile {
        var file = SafetensorsFile(metadata: metadata)
        for (name, p) in namedParameters() { file.tensors[name] = p.value }
        for (name, b) in namedBuffers() {
            if b.isInteger {
                file.integerTensors[name] = (b.shape, b.value.data.map { Int64($0) })
            } else {
                file.tensors[name] = b.value
            }
        }
        return file
    }

    /// Writes the weights as safetensors (atomically).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Safetensors.write(safetensorsFile(metadata: metadata), to: url)
    }

    /// Loads weights saved by PyTorch (`safetensors.torch.save_file(model.state_dict())`)
    /// or by `save(to:)`.
    public func load(from url: URL, strict: Bool = true) throws {
        let file = try Safetensors.read(url)
        var dict = file.tensors
        for (name, t) in file.integerTensors { dict[name] = Tensor(shape: t.shape, data: t.values.map { Float($0) }) }
        try loadStateDict(dict, strict: strict)
    }
}
