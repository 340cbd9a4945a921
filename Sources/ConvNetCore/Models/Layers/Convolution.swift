/// `nn.Conv2d`: a 2-D cross-correlation with optional bias, stride, zero padding and
/// groups. Weight `[out, in/groups, kh, kw]`, bias `[out]`.
///
/// An optional connection table (LeNet-5's C3) says which input channels each output
/// channel sees; the other weights are held at zero and are not counted as parameters.
public final class Conv2d: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let groups: Int
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var input: Tensor?
    /// Batch-norm-folded weights for `inferFused` (see Inference.swift).
    var foldCache: FoldCache?

    /// `Conv2d(3, 64, kernel: (7, 7), stride: (2, 2), padding: (3, 3), bias: false)`.
    /// `connections[o][c]` (only with groups 1): whether output channel `o` sees input
    /// channel `c`.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: (height: Int, width: Int),
                stride: (height: Int, width: Int) = (1, 1), padding: (height: Int, width: Int) = (0, 0),
                groups: Int = 1, bias: Bool = true, connections: [[Bool]]? = nil) {
        precondition(inChannels > 0 && outChannels > 0 && groups > 0
                     && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d: \(inChannels) input and \(outChannels) output channels must be positive and divisible by groups \(groups)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernel
        self.stride = stride
        self.padding = padding
        self.groups = groups
        super.init()
        let perGroup = inChannels / groups
        let taps = kernel.height * kernel.width
        var mask: [Bool]? = nil
        if let connections {
            precondition(groups == 1 && connections.count == outChannels && connections.allSatisfy { $0.count == inChannels },
                         "Conv2d: a connection table must be \(outChannels) rows of \(inChannels) flags (groups 1)")
            mask = connections.flatMap { row in row.flatMap { Array(repeating: $0, count: taps) } }
        }
        weight = addParameter("weight", shape: [outChannels, perGroup, kernel.height, kernel.width],
                              role: .convolutionWeight(fanIn: perGroup * taps, fanOut: outChannels * taps), mask: mask)
        if bias { self.bias = addParameter("bias", shape: [outChannels], role: .convolutionBias) }
        relabel()
    }

    /// A square kernel: `Conv2d(64, 64, kernel: 3, padding: 1, bias: false)`.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                            padding: Int = 0, groups: Int = 1, bias: Bool = true, connections: [[Bool]]? = nil) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding), groups: groups, bias: bias, connections: connections)
    }

    public override var description: String {
        func pair(_ p: (height: Int, width: Int)) -> String { p.height == p.width ? "\(p.height)" : "\(p.height)x\(p.width)" }
        var s = "Conv2d(\(inChannels), \(outChannels), kernel \(kernelSize.height)x\(kernelSize.width)"
        if stride != (1, 1) { s += ", stride \(pair(stride))" }
        if padding != (0, 0) { s += ", padding \(pair(padding))" }
        if groups != 1 { s += ", groups \(groups)" }
        if bias == nil { s += ", no bias" }
        if weight?.mask != nil { s += ", connection table" }
        return s + ")"
    }

    /// The kernel geometry for an input of `shape`; traps naming the layer and the shape
    /// when it does not fit.
    public func geometry(for shape: [Int]) -> Conv2DGeometry {
        // A stand-in that fits, for a shape that does not while an input is being tried
        // (ShapeCheck); outside that, a shape that does not fit traps.
        let standIn = Conv2DGeometry(batch: 1, inChannels: inChannels, inHeight: kernelSize.height, inWidth: kernelSize.width,
                                     outChannels: outChannels, kernel: kernelSize, stride: stride, padding: padding, groups: groups)
        guard ShapeCheck.require(shape.count == 4 && shape[1] == inChannels,
                                 "\(description): expected input [N, \(inChannels), H, W], got \(shape)") else { return standIn }
        let g = Conv2DGeometry(batch: shape[0], inChannels: inChannels, inHeight: shape[2], inWidth: shape[3],
                               outChannels: outChannels, kernel: kernelSize, stride: stride,
                               padding: padding, groups: groups)
        if let problem = g.problem, !ShapeCheck.require(false, "\(description) on input \(shape): \(problem)") { return standIn }
        return g
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { geometry(for: inputShape).outputShape.dimensions }

    public override func macs(for inputShape: [Int]) -> Int {
        let g = geometry(for: inputShape)
        return g.batch * g.outHeight * g.outWidth * weight.trainableCount
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let g = geometry(for: x.shape)
        input = x
        let w = weight.value.data, b = bias?.value.data
        let y = backend.conv2d(x.data, weight: w, bias: b, geometry: g)
        return Tensor(shape: g.outputShape.dimensions, data: y)
    }

    /// Drops the input kept for `backward`, for a caller that recomputes it (the
    /// memory-efficient DenseBlock).
    func releaseActivations() { input = nil }
    /// The activations kept for `backward` (for memory accounting).
    var keptActivations: [Tensor] { [input].compactMap { $0 } }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        let g = geometry(for: x.shape)
        checkShape(outputGradient.shape, equals: g.outputShape.dimensions, in: "\(description) backward")
        let w = weight.value.data
        let grads = backend.conv2dBackward(x.data, weight: w, outputGradient: outputGradient.data, geometry: g,
                                           inputGradient: inputGradientRequired, biasGradient: bias != nil)
        weight.accumulateGradient(grads.weight)
        if let db = grads.bias { bias?.accumulateGradient(db) }
        return grads.input.map { Tensor(shape: x.shape, data: $0) } ?? Tensor.zeros(x.shape)
    }
}

/// `nn.ConvTranspose2d`: the adjoint of a convolution (each input pixel scatters a
/// weighted copy of the kernel), used to upsample. Weight `[in, out/groups, kh, kw]`.
public final class ConvTranspose2d: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let outputPadding: (height: Int, width: Int)
    public let groups: Int
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var input: Tensor?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (height: Int, width: Int),
                stride: (height: Int, width: Int) = (1, 1), padding: (height: Int, width: Int) = (0, 0),
                outputPadding: (height: Int, width: Int) = (0, 0), groups: Int = 1, bias: Bool = true) {
        precondition(inChannels > 0 && outChannels > 0 && groups > 0
                     && inChannels % groups == 0 && outChannels % groups == 0,
                     "ConvTranspose2d: \(inChannels) input and \(outChannels) output channels must be positive and divisible by groups \(groups)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        super.init()
        let taps = kernel.height * kernel.width
        // torch.nn.init reads fans off the weight tensor: dim 1 is "in", dim 0 is "out".
        weight = addParameter("weight", shape: [inChannels, outChannels / groups, kernel.height, kernel.width],
                              role: .convolutionWeight(fanIn: outChannels / groups * taps, fanOut: inChannels * taps))
        if bias { self.bias = addParameter("bias", shape: [outChannels], role: .convolutionBias) }
        relabel()
    }

    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                            padding: Int = 0, outputPadding: Int = 0, groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding), outputPadding: (outputPadding, outputPadding),
                  groups: groups, bias: bias)
    }

    public override var description: String {
        "ConvTranspose2d(\(inChannels), \(outChannels), kernel \(kernelSize.height)x\(kernelSize.width), "
            + "stride \(stride.height)x\(stride.width), padding \(padding.height)x\(padding.width)"
            + (outputPadding != (0, 0) ? ", output padding \(outputPadding.height)x\(outputPadding.width)" : "")
            + (groups != 1 ? ", groups \(groups)" : "") + (bias == nil ? ", no bias" : "") + ")"
    }

    public func geometry(for shape: [Int]) -> ConvTranspose2DGeometry {
        precondition(shape.count == 4 && shape[1] == inChannels,
                     "\(description): expected input [N, \(inChannels), H, W], got \(shape)")
        let g = ConvTranspose2DGeometry(batch: shape[0], inChannels: inChannels, inHeight: shape[2], inWidth: shape[3],
                                        outChannels: outChannels, kernel: kernelSize, stride: stride,
                                        padding: padding, outputPadding: outputPadding, groups: groups)
        if let problem = g.problem { preconditionFailure("\(description) on input \(shape): \(problem)") }
        return g
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { geometry(for: inputShape).outputShape.dimensions }
    public override func macs(for inputShape: [Int]) -> Int { geometry(for: inputShape).macs }

    public override func forward(_ x: Tensor) -> Tensor {
        let g = geometry(for: x.shape)
        input = x
        let w = weight.value.data, b = bias?.value.data
        let y = backend.convTranspose2d(x.data, weight: w, bias: b, geometry: g)
        return Tensor(shape: g.outputShape.dimensions, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        let g = geometry(for: x.shape)
        checkShape(outputGradient.shape, equals: g.outputShape.dimensions, in: "\(description) backward")
        let w = weight.value.data
        let grads = backend.convTranspose2dBackward(x.data, weight: w, outputGradient: outputGradient.data, geometry: g)
        weight.accumulateGradient(grads.weight)
        bias?.accumulateGradient(grads.bias)
        return Tensor(shape: x.shape, data: grads.input)
    }
}
