/// `nn.Sequential`: layers applied one after another, y = f_n(...f_2(f_1(x))).
///
/// Children are named "0", "1", … (as torchvision's `features.0.weight`) or by the names
/// given (`Sequential(named: [("conv0", …), ("norm0", …)])`, as DenseNet's `features`).
/// Most networks of the course are a Sequential of named stages.
open class Sequential: Layer {
    /// The layers in order.
    public private(set) var layers: [Layer] = []

    /// Layers named by their index.
    public init(_ layers: [Layer]) {
        super.init()
        for layer in layers { append(layer) }
    }

    public convenience init(_ layers: Layer...) { self.init(layers) }

    /// Layers with the names their tensors are saved under.
    public init(named layers: [(String, Layer)]) {
        super.init()
        for (name, layer) in layers { append(layer, named: name) }
    }

    /// Adds a layer at the end, named by its index unless a name is given.
    public func append(_ layer: Layer, named name: String? = nil) {
        register(name ?? String(layers.count), layer)
        if layers.isEmpty { layer.inputGradientRequired = inputGradientRequired }
        layers.append(layer)
    }

    /// The sequence's input is its first layer's.
    open override var inputGradientRequired: Bool {
        didSet { layers.first?.inputGradientRequired = inputGradientRequired }
    }

    /// "2 x BasicBlock" when the layers are all of one kind, else "Sequential(5 layers)".
    open override var description: String {
        let kinds = Set(layers.map { String(describing: type(of: $0)) })
        if kinds.count == 1, let kind = kinds.first { return "\(layers.count) x \(kind)" }
        return "Sequential(\(layers.count) layers)"
    }

    /// Indices i of the last forward pass where `BatchNorm2d` i and `ReLU` i+1 ran as one kernel.
    private var fusedPairs: Set<Int> = []

    /// Each child's `forward` in turn, with every `BatchNorm2d` → `ReLU` pair run as one
    /// kernel (``BatchNorm2d/forward(_:residual:relu:)``): one pass less over the
    /// activations each way, and no separate copy for the ReLU.
    open override func forward(_ x: Tensor) -> Tensor {
        fusedPairs = []
        var y = x, i = 0
        while i < layers.count {
            if let bn = layers[i] as? BatchNorm2d, i + 1 < layers.count, layers[i + 1] is ReLU {
                y = bn.forward(y, residual: nil, relu: true)
                fusedPairs.insert(i)
                i += 2
            } else {
                y = layers[i].forward(y)
                i += 1
            }
        }
        return y
    }

    open override func backward(_ outputGradient: Tensor) -> Tensor {
        var d = outputGradient, i = layers.count - 1
        while i >= 0 {
            if i >= 1 && fusedPairs.contains(i - 1), let bn = layers[i - 1] as? BatchNorm2d {
                d = bn.backwardFused(d).input
                i -= 2
            } else {
                d = layers[i].backward(d)
                i -= 1
            }
        }
        return d
    }

    /// Inference: each child's `infer`, with every `Conv2d` → `BatchNorm2d` (→ `ReLU`) run
    /// as one folded, fused convolution; stretches of two or more steps that have a blocked
    /// path run on channel-blocked activations (BlockedInference.swift), converted once
    /// on the way in and once on the way out.
    open override func infer(_ x: Tensor) -> Tensor {
        guard foldsForInference else { return forward(x) }
        let steps = InferenceStep.steps(of: layers)
        let runsBlocked = steps.map(\.runsBlocked)
        var y = x, i = 0
        while i < steps.count {
            if i + 1 < steps.count && runsBlocked[i] && runsBlocked[i + 1] {
                var blocked = steps[i].inferEnteringBlocked(y)
                i += 1
                while i < steps.count && runsBlocked[i] {
                    blocked = steps[i].inferBlocked(blocked)
                    i += 1
                }
                y = blocked.tensor()
            } else {
                y = steps[i].infer(y)
                i += 1
            }
        }
        return y
    }

    open override var runsBlocked: Bool {
        foldsForInference && !layers.isEmpty && InferenceStep.steps(of: layers).allSatisfy(\.runsBlocked)
    }

    open override func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        InferenceStep.steps(of: layers).reduce(x) { $1.inferBlocked($0) }
    }

    open override func summarize(_ input: [Int], into trace: inout SummaryTrace) -> [Int] {
        layers.reduce(input) { shape, layer in self.trace(layer, shape, &trace) }
    }
}

/// Parallel branches that all read the same input, their outputs concatenated along the
/// channels: the Inception module's idea ("let the network choose the filter size").
///
/// Backward splits dL/dy into each branch's channels, runs each branch backward, and sums
/// the branches' input gradients (the input fanned out to all of them).
open class Concatenate: Layer {
    public private(set) var branches: [Layer] = []

    /// Branches named as their tensors are saved (an empty name puts a branch's own
    /// children directly in this layer's namespace, as Inception-v3 names them).
    public init(branches: [(String, Layer)]) {
        super.init()
        for (name, branch) in branches { addBranch(branch, named: name) }
    }

    public func addBranch(_ branch: Layer, named name: String) {
        register(name, branch)
        branches.append(branch)
    }

    open override var description: String { "Concatenate" }

    private var branchChannels: [Int] = []

    /// The concatenated shape of branch outputs, checking they agree but for channels.
    private func concatenatedShape(_ shapes: [[Int]]) -> [Int] {
        precondition(!shapes.isEmpty, "\(description): no branches")
        let first = shapes[0]
        for s in shapes {
            guard ShapeCheck.require(s.count == 4 && first.count == 4 && s[0] == first[0] && s[2] == first[2] && s[3] == first[3],
                                     "\(description): branch outputs \(shapes) differ in more than their channels") else {
                return [1, shapes.reduce(0) { $0 + ($1.count > 1 ? $1[1] : 1) }, 1, 1]     // a stand-in (ShapeCheck)
            }
        }
        return [first[0], shapes.reduce(0) { $0 + $1[1] }, first[2], first[3]]
    }

    open override func forward(_ x: Tensor) -> Tensor {
        let outputs = branches.map { $0.forward(x) }
        let shape = concatenatedShape(outputs.map(\.shape))
        branchChannels = outputs.map { $0.shape[1] }
        let parts = outputs.map(\.data), spatial = shape[2] * shape[3]
        let y = backend.concatenateChannels(parts, channels: branchChannels, batch: shape[0], spatial: spatial)
        return Tensor(shape: shape, data: y)
    }

    open override func backward(_ outputGradient: Tensor) -> Tensor {
        precondition(!branchChannels.isEmpty, "\(description): backward called without a forward")
        let s = outputGradient.shape
        let spatial = s[2] * s[3]
        let parts = backend.concatenateChannelsBackward(outputGradient: outputGradient.data, channels: branchChannels, batch: s[0], spatial: spatial)
        var inputGradient: Tensor?
        for (branch, (part, channels)) in zip(branches, zip(parts, branchChannels)) {
            let dx = branch.backward(Tensor(shape: [s[0], channels, s[2], s[3]], data: part))
            inputGradient = inputGradient.map { add($0, dx) } ?? dx
        }
        return inputGradient!
    }

    open override func summarize(_ input: [Int], into trace: inout SummaryTrace) -> [Int] {
        concatenatedShape(branches.map { self.trace($0, input, &trace) })
    }
}

extension Layer {
    /// The child named `name`, which must be a `Sequential` (a network's `features` or
    /// `classifier` stage); traps naming this layer when there is none.
    public func sequentialChild(_ name: String) -> Sequential {
        guard let stage = children.first(where: { $0.name == name })?.layer as? Sequential else {
            preconditionFailure("\(description) has no Sequential child named \(name)")
        }
        return stage
    }
}
