/// A trainable tensor of a layer (a convolution's weight, a batch norm's scale), with the
/// gradient that `backward` accumulates into it.
///
/// A parameter knows its shape from the moment its layer is built, but its values are
/// allocated only when the model is initialised (`model.initialize(seed:)`) or loaded
/// (`model.loadStateDict(_:)`). So a ResNet-152 or a VGG-16 can be built and counted
/// (`ModelZoo.summary`) without allocating half a gigabyte of weights.
public final class Parameter {
    /// What the tensor is for, which decides how an initialisation scheme fills it.
    public enum Role: Sendable, Equatable {
        /// A convolution weight `[out, in/groups, kh, kw]`; `fanIn = in/groups * kh * kw`,
        /// `fanOut = out * kh * kw`, as `torch.nn.init` computes them.
        case convolutionWeight(fanIn: Int, fanOut: Int)
        /// A convolution bias.
        case convolutionBias
        /// A linear weight `[out, in]`: `fanIn = in`, `fanOut = out`.
        case linearWeight(fanIn: Int, fanOut: Int)
        /// A linear bias of a layer with `fanIn` inputs.
        case linearBias(fanIn: Int)
        /// A batch norm scale (gamma): starts at 1.
        case scale
        /// A batch norm shift (beta): starts at 0.
        case shift
    }

    /// The tensor's shape, in PyTorch's layout.
    public let shape: [Int]
    public let role: Role
    /// Which entries are trainable (LeNet-5's partial C3 connection table); nil: all of
    /// them. Entries outside the mask stay zero: they are initialised to zero and their
    /// gradient is zero.
    public let mask: [Bool]?
    /// What a message about this parameter calls it, e.g. "Conv2d(3, 64) weight".
    public var label: String

    private var storage: Tensor?
    private var gradientStorage: Tensor?
    /// Counts changes of the values (assignment, `update`, `release`): caches derived from
    /// them (the batch-norm-folded weights of an inference pass) compare it to know they
    /// are stale.
    public private(set) var version = 0

    public init(shape: [Int], role: Role, mask: [Bool]? = nil, label: String = "parameter") {
        if let mask {
            precondition(mask.count == shape.reduce(1, *), "\(label): mask of \(mask.count) flags for shape \(shape)")
        }
        self.shape = shape
        self.role = role
        self.mask = mask
        self.label = label
    }

    /// Elements of the tensor.
    public var count: Int { shape.reduce(1, *) }
    /// Elements that are trained (all of them unless a mask says otherwise): the number
    /// a parameter count adds up.
    public var trainableCount: Int { mask.map { $0.lazy.filter { $0 }.count } ?? count }
    /// Whether values have been allocated (by initialisation or loading).
    public var isMaterialized: Bool { storage != nil }

    /// The values. Reading them before the model is initialised or loaded traps with a
    /// message saying so; assigning checks the shape.
    public var value: Tensor {
        get {
            guard let storage else {
                preconditionFailure("\(label) \(shape) has no values yet: call model.initialize(seed:) or model.loadStateDict(_:) first")
            }
            return storage
        }
        set {
            checkShape(newValue.shape, equals: shape, in: label)
            storage = newValue
            version += 1
            if let mask { applyMask(mask, to: &storage!.data) }
        }
    }

    /// Changes the values in place (no copy), e.g. an optimiser's step; masked entries
    /// stay zero.
    public func update(_ body: (inout [Float]) -> Void) {
        guard storage != nil else { _ = value; return }
        version += 1
        body(&storage!.data)
        checkCount(storage!.data.count, equals: count, "values", in: label)
        if let mask { applyMask(mask, to: &storage!.data) }
    }

    /// dLoss/dvalue, summed over every `backward` since the last `zeroGradient()`.
    public var gradient: Tensor {
        get { gradientStorage ?? Tensor.zeros(shape) }
        set {
            checkShape(newValue.shape, equals: shape, in: "\(label) gradient")
            gradientStorage = newValue
        }
    }

    /// Adds `g` (same element count) into the gradient, masked entries excluded.
    public func accumulateGradient(_ g: [Float]) {
        checkCount(g.count, equals: count, "gradient", in: label)
        if gradientStorage == nil {
            gradientStorage = Tensor(shape: shape, data: g)
        } else {
            g.withUnsafeBufferPointer { src in
                gradientStorage!.data.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<dst.count { dst[i] += src[i] }
                }
            }
        }
        if let mask { applyMask(mask, to: &gradientStorage!.data) }
    }

    /// Forgets the accumulated gradient (it reads as zeros again).
    public func zeroGradient() { gradientStorage = nil }

    /// Drops the values (and gradient), back to a shape-only description.
    public func release() { storage = nil; gradientStorage = nil; version += 1 }

    private func applyMask(_ mask: [Bool], to data: inout [Float]) {
        for i in data.indices where !mask[i] { data[i] = 0 }
    }
}

/// A tensor a layer keeps but does not train: batch norm's running mean and variance
/// and its `num_batches_tracked` counter. It starts at a constant (allocated on first
/// use) and is saved and loaded with the parameters, under torchvision's names.
public final class Buffer {
    public let shape: [Int]
    /// The value it starts at (0 for a running mean, 1 for a running variance).
    public let initialValue: Float
    /// True for counters PyTorch stores as int64 (`num_batches_tracked`): saved as I64,
    /// and optional when loading (the fixtures' readers ignore them).
    public let isInteger: Bool
    public var label: String
    private var storage: Tensor?
    /// Counts assignments and resets (see ``Parameter/version``).
    public private(set) var version = 0

    public init(shape: [Int], initialValue: Float, isInteger: Bool = false, label: String = "buffer") {
        self.shape = shape
        self.initialValue = initialValue
        self.isInteger = isInteger
        self.label = label
    }

    public var value: Tensor {
        get { storage ?? Tensor(shape: shape, repeating: initialValue) }
        set {
            checkShape(newValue.shape, equals: shape, in: label)
            storage = newValue
            version += 1
        }
    }

    /// Back to the initial value.
    public func reset() { storage = nil; version += 1 }
}
