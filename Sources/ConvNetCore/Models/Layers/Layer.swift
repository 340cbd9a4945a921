/// One layer of a network, or a block of layers, or a whole network: the unit a model is
/// composed of, as `torch.nn.Module` is in PyTorch.
///
/// A layer
/// - computes `forward(x)` and remembers what its `backward` will need (its input, its
///   batch statistics, its dropout mask);
/// - computes `backward(dy)`: given dLoss/dy of its last forward, returns dLoss/dx and
///   adds dLoss/dparameter into each parameter's `gradient`;
/// - owns named ``Parameter``s and ``Buffer``s and named child layers, so every tensor
///   of a model has a hierarchical name, exactly torchvision's `state_dict` key
///   (`layer1.0.conv1.weight`, `layer1.0.bn1.running_mean`);
/// - is in training or inference mode (`isTraining`: batch norm uses batch statistics,
///   dropout drops) and runs the fast or the naive kernels (`kernels`); setting either on
///   a model sets it on every layer inside;
/// - knows its output shape for an input shape, without computing anything, so a summary
///   of a whole network (shapes, parameters, multiply-accumulates) is built from shapes.
///
/// It is a class: a model is a tree of layer objects, and an optimiser updates their
/// parameters in place. Subclasses override `forward`, `backward` and, for a leaf,
/// `outputShape(for:)` (and `macs(for:)` for a convolution or a linear layer); a block
/// whose children are not simply chained overrides `summarize(_:into:)` to route shapes
/// through them the way its `forward` routes tensors.
open class Layer: CustomStringConvertible {
    /// The child layers in registration order, with their names ("" for a child whose
    /// own children are named directly in this layer's namespace).
    public private(set) var children: [(name: String, layer: Layer)] = []
    /// The parameters this layer owns itself (not its children's).
    public private(set) var ownParameters: [(name: String, parameter: Parameter)] = []
    /// The buffers this layer owns itself.
    public private(set) var ownBuffers: [(name: String, buffer: Buffer)] = []

    /// Training mode (true, PyTorch's default) or inference mode; propagates to every child.
    public var isTraining: Bool = true {
        didSet { for child in children { child.layer.isTraining = isTraining } }
    }

    /// The kernels this layer and every child run.
    public var kernels: KernelChoice = .fast {
        didSet { for child in children { child.layer.kernels = kernels } }
    }

    /// A lesson's kernels (a ``KernelOverlay``) in place of those `kernels` chooses, in
    /// this layer and every child: how a lesson runs a model on its own kernel pair
    /// (LeNet's direct 5x5 convolution), everything it does not override going to the
    /// overlay's base. Nil (the default): `kernels` decides.
    public var customKernels: (any KernelBackend)? {
        didSet { for child in children { child.layer.customKernels = customKernels } }
    }

    /// Whether `backward` must compute dLoss/dx (true by default). Set it to false on a
    /// model whose input is data, as PyTorch skips the gradient of an input that does not
    /// require one: a `Sequential` passes it to its first layer, and a first `Conv2d` then
    /// skips its input gradient (a whole convolution's worth of work) and returns zeros.
    /// Layers that do not use it compute dLoss/dx anyway.
    open var inputGradientRequired = true

    public init() {}

    /// The kernels every path of this layer calls (forward, backward, `infer`, and the
    /// shared trainer's loss): `customKernels` when set, else the core's set `kernels`
    /// names. `backend.conv2d(…)` runs ``Fast/conv2d(_:weight:bias:geometry:)``, its naive
    /// twin, or a lesson's override.
    public var backend: any KernelBackend {
        customKernels ?? kernels.backend
    }

    /// Whether `backend` is the core's fast set with no overlay: the only case in which a
    /// layer may take the core's fused shortcuts that call ``Fast`` directly (batch norm
    /// folded into convolutions in `infer`, blocked activations, batch norm fused with
    /// ReLU and the residual sum), since those would skip a lesson's kernels.
    public var runsCoreFastKernels: Bool { customKernels == nil && kernels == .fast }

    /// A one-line description of the layer and its configuration, e.g.
    /// `Conv2d(3, 64, kernel 7x7, stride 2, padding 3, bias false)`.
    open var description: String { String(describing: type(of: self)) }

    // MARK: Computing

    /// y = layer(x). Remembers what `backward` needs.
    open func forward(_ x: Tensor) -> Tensor {
        preconditionFailure("\(description): forward is not implemented")
    }

    /// Given dLoss/dy for the output of the last `forward`, returns dLoss/dx and adds the
    /// parameters' gradients into their `gradient`.
    open func backward(_ outputGradient: Tensor) -> Tensor {
        preconditionFailure("\(description): backward is not implemented")
    }

    /// y = layer(x) for inference only: in inference mode on the fast kernels, blocks fold
    /// batch norm into their convolutions and fuse the residual sum and ReLU (see
    /// Inference.swift); nothing is kept for `backward`. Otherwise, and for layers with
    /// nothing to fold, it is `forward`.
    open func infer(_ x: Tensor) -> Tensor { forward(x) }

    /// Whether `inferBlocked` runs this layer on channel-blocked activations now
    /// (BlockedInference.swift): in inference mode on the fast kernels, on AVX-512, for
    /// the layers that have such a path. A `Sequential` runs its longest stretches of
    /// such layers blocked, converting once on the way in and once on the way out.
    open var runsBlocked: Bool { false }

    /// `infer` on channel-blocked activations (only where `runsBlocked`).
    open func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        preconditionFailure("\(description): has no blocked inference")
    }

    /// `layer(x)` reads like the paper: `relu(bn1(conv1(x)))`.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    // MARK: Shapes and cost

    /// The shape `forward` returns for an input of `inputShape` (traps, naming the layer
    /// and the shape, when the input does not fit).
    open func outputShape(for inputShape: [Int]) -> [Int] {
        var trace = SummaryTrace()
        return summarize(inputShape, into: &trace)
    }

    /// Multiply-accumulates of one forward pass on `inputShape` (whole batch), counting
    /// convolutions and linear layers only, as torchvision's published figures do.
    open func macs(for inputShape: [Int]) -> Int { 0 }

    /// Appends this layer's summary rows for an input of `input` and returns its output
    /// shape. A leaf adds one row; a composite traces its children in the order and
    /// wiring of its `forward` (`Sequential` chains them; blocks override this).
    open func summarize(_ input: [Int], into trace: inout SummaryTrace) -> [Int] {
        precondition(children.isEmpty,
                     "\(description) has children: it must override summarize(_:into:) to route shapes through them")
        let output = outputShape(for: input)
        trace.addRow(layer: description, output: output,
                     parameters: ownParameters.reduce(0) { $0 + $1.parameter.trainableCount },
                     macs: macs(for: input))
        return output
    }

    /// Traces `child` (a registered child of this layer) on `input`, under its name.
    public func trace(_ child: Layer, _ input: [Int], _ trace: inout SummaryTrace) -> [Int] {
        guard let entry = children.first(where: { $0.layer === child }) else {
            preconditionFailure("\(description): \(child.description) is not a registered child")
        }
        return trace.within(entry.name) { t in
            let output = child.summarize(input, into: &t)
            if !child.children.isEmpty && !entry.name.isEmpty { t.recordBlock(layer: child.description, output: output) }
            return output
        }
    }

    // MARK: Building

    /// Registers `layer` as a child named `name` (its tensors become `name.…`; an empty
    /// name puts them directly in this layer's namespace) and returns it.
    @discardableResult
    public func register<L: Layer>(_ name: String, _ layer: L) -> L {
        // A name may repeat only for layers without tensors (torchvision applies one
        // `relu` module twice in a block; here each application is its own layer).
        precondition(name.isEmpty || !children.contains(where: { $0.name == name })
                     || (layer.namedParameters().isEmpty && layer.namedBuffers().isEmpty),
                     "\(description): a child named \(name) is already registered")
        layer.isTraining = isTraining
        layer.kernels = kernels
        layer.customKernels = customKernels
        children.append((name, layer))
        return layer
    }

    /// Declares a parameter of this layer (shape only; values come with initialisation
    /// or loading).
    public func addParameter(_ name: String, shape: [Int], role: Parameter.Role, mask: [Bool]? = nil) -> Parameter {
        let parameter = Parameter(shape: shape, role: role, mask: mask, label: "\(description) \(name)")
        ownParameters.append((name, parameter))
        return parameter
    }

    /// Declares a buffer of this layer.
    public func addBuffer(_ name: String, shape: [Int], initialValue: Float, isInteger: Bool = false) -> Buffer {
        let buffer = Buffer(shape: shape, initialValue: initialValue, isInteger: isInteger, label: "\(description) \(name)")
        ownBuffers.append((name, buffer))
        return buffer
    }

    /// Re-derives the labels of this layer's own parameters and buffers from its
    /// finished `description` (call at the end of an initialiser that adds them).
    public func relabel() {
        for (name, p) in ownParameters { p.label = "\(description) \(name)" }
        for (name, b) in ownBuffers { b.label = "\(description) \(name)" }
    }

    // MARK: Walking the tree

    /// Every parameter of the model with its full torchvision name, in registration order.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        walk(prefix: "") { prefix, layer in
            for (name, p) in layer.ownParameters { result.append((Self.join(prefix, name), p)) }
        }
        return result
    }

    /// Every buffer of the model with its full name.
    public func namedBuffers() -> [(name: String, buffer: Buffer)] {
        var result: [(String, Buffer)] = []
        walk(prefix: "") { prefix, layer in
            for (name, b) in layer.ownBuffers { result.append((Self.join(prefix, name), b)) }
        }
        return result
    }

    /// Every layer of the tree (this one first), with its path.
    public func namedLayers() -> [(name: String, layer: Layer)] {
        var result: [(String, Layer)] = []
        walk(prefix: "") { prefix, layer in result.append((prefix, layer)) }
        return result
    }

    /// The parameters alone, for an optimiser.
    public var parameters: [Parameter] { namedParameters().map(\.parameter) }

    /// Trainable parameters of the whole model (masked-out entries excluded): the number
    /// papers and torchvision publish.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.trainableCount } }

    /// Forgets every accumulated gradient.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// Inference mode for the whole model (`isTraining = false`).
    public func eval() { isTraining = false }
    /// Training mode for the whole model.
    public func train() { isTraining = true }

    private func walk(prefix: String, _ visit: (String, Layer) -> Void) {
        visit(prefix, self)
        for (name, child) in children { child.walk(prefix: Self.join(prefix, name), visit) }
    }

    static func join(_ prefix: String, _ name: String) -> String {
        if prefix.isEmpty { return name }
        if name.isEmpty { return prefix }
        return prefix + "." + name
    }

    // MARK: Helpers for subclasses

    /// a + b elementwise with the chosen kernels (a residual sum, or gradients meeting
    /// at a branch point).
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        checkShape(b.shape, equals: a.shape, in: "\(description) add")
        let sum = backend.add(a.data, b.data)
        return Tensor(shape: a.shape, data: sum)
    }

    /// a + b, written over `a` (which the caller no longer needs: a gradient just
    /// computed, meeting another at a branch point). Cheaper than ``add(_:_:)``: no new
    /// array to fill.
    public func add(into a: inout Tensor, _ b: Tensor) {
        checkShape(b.shape, equals: a.shape, in: "\(description) add")
        backend.addInPlace(&a.data, b.data)
    }

    /// The cached value, or a trap saying backward came before forward.
    public func cached<T>(_ value: T?, _ what: String = "input") -> T {
        guard let value else {
            preconditionFailure("\(description): backward called without a forward (no cached \(what))")
        }
        return value
    }
}

/// The rows of a summary being traced through a model, and the path of names leading to
/// the layer being traced.
public struct SummaryTrace {
    public private(set) var rows: [ModelSummary.Row] = []
    public private(set) var path: [String] = []
    /// Composite layers by path: their description and output shape.
    public private(set) var blocks: [String: (layer: String, output: [Int])] = [:]
    /// Set while tracing auxiliary heads, which run only in training: their rows are
    /// shown but their multiply-accumulates are not part of an inference pass.
    public var trainingOnly = false

    public init() {}

    /// Runs `body` with `name` appended to the path (an empty name adds nothing).
    public mutating func within<R>(_ name: String, _ body: (inout SummaryTrace) -> R) -> R {
        if !name.isEmpty { path.append(name) }
        defer { if !name.isEmpty { path.removeLast() } }
        return body(&self)
    }

    /// Records the composite layer at the current path (for tables merged by depth).
    public mutating func recordBlock(layer: String, output: [Int]) {
        blocks[path.joined(separator: ".")] = (layer, output)
    }

    /// Adds a row for the layer at the current path.
    public mutating func addRow(layer: String, output: [Int], parameters: Int, macs: Int) {
        rows.append(ModelSummary.Row(name: path.joined(separator: "."), layer: layer, outputShape: output,
                                     parameters: parameters, macs: macs, depth: path.count,
                                     trainingOnly: trainingOnly))
    }
}
