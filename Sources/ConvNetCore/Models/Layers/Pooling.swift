private func featureMap(_ x: [Int], _ layer: String) -> FeatureMapShape {
    guard ShapeCheck.require(x.count == 4, "\(layer): expected an NCHW input, got \(x)") else {
        return FeatureMapShape(batch: 1, channels: 1, height: 1, width: 1)
    }
    return FeatureMapShape(batch: x[0], channels: x[1], height: x[2], width: x[3])
}

private func pair(_ p: (height: Int, width: Int)) -> String {
    p.height == p.width ? "\(p.height)" : "\(p.height)x\(p.width)"
}

/// `nn.MaxPool2d`: the largest value of each window (padded cells never win).
public final class MaxPool2d: Layer {
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let ceilMode: Bool
    private var input: Tensor?

    public init(kernel: (height: Int, width: Int), stride: (height: Int, width: Int)? = nil,
                padding: (height: Int, width: Int) = (0, 0), ceilMode: Bool = false) {
        self.kernelSize = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
    }

    /// `MaxPool2d(kernel: 3, stride: 2, padding: 1)`; the stride defaults to the kernel, as in PyTorch.
    public convenience init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.init(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding), ceilMode: ceilMode)
    }

    public override var description: String {
        "MaxPool2d(kernel \(pair(kernelSize)), stride \(pair(stride))"
            + (padding != (0, 0) ? ", padding \(pair(padding))" : "") + (ceilMode ? ", ceil" : "") + ")"
    }

    public func geometry(for shape: [Int]) -> Pool2DGeometry {
        poolGeometry(shape, kernel: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode, layer: description)
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { geometry(for: inputShape).outputShape.dimensions }

    public override func forward(_ x: Tensor) -> Tensor {
        let g = geometry(for: x.shape)
        input = x
        let y = backend.maxPool2d(x.data, geometry: g)
        return Tensor(shape: g.outputShape.dimensions, data: y)
    }

    public override var runsBlocked: Bool { foldsForInference && CPUFeatures.hasAVX512F }

    public override func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        let g = geometry(for: x.shape)
        let y = BlockedActivations(batch: x.batch, channels: x.channels, height: g.outHeight, width: g.outWidth,
                                   border: BlockedActivations.defaultBorder)
        Fast.maxPool2dBlocked(x, geometry: g, into: y)
        return y
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        let g = geometry(for: x.shape)
        checkShape(outputGradient.shape, equals: g.outputShape.dimensions, in: "\(description) backward")
        let dx = backend.maxPool2dBackward(x.data, outputGradient: outputGradient.data, geometry: g)
        return Tensor(shape: x.shape, data: dx)
    }
}

/// `nn.AvgPool2d`: the mean of each window; `countIncludePad` decides whether padded
/// zeros count in the divisor (PyTorch's default: they do).
public final class AvgPool2d: Layer {
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let ceilMode: Bool
    public let countIncludePad: Bool
    private var inputShape: [Int]?

    public init(kernel: (height: Int, width: Int), stride: (height: Int, width: Int)? = nil,
                padding: (height: Int, width: Int) = (0, 0), ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernelSize = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public convenience init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                            countIncludePad: Bool = true) {
        self.init(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding),
                  ceilMode: ceilMode, countIncludePad: countIncludePad)
    }

    public override var description: String {
        "AvgPool2d(kernel \(pair(kernelSize)), stride \(pair(stride))"
            + (padding != (0, 0) ? ", padding \(pair(padding))" : "") + (ceilMode ? ", ceil" : "")
            + (countIncludePad || padding == (0, 0) ? "" : ", excluding padding") + ")"
    }

    public func geometry(for shape: [Int]) -> Pool2DGeometry {
        poolGeometry(shape, kernel: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode, layer: description)
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { geometry(for: inputShape).outputShape.dimensions }

    public override func forward(_ x: Tensor) -> Tensor {
        let g = geometry(for: x.shape)
        inputShape = x.shape
        let y = backend.avgPool2d(x.data, geometry: g, countIncludePad: countIncludePad)
        return Tensor(shape: g.outputShape.dimensions, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let shape = cached(inputShape, "input shape")
        let g = geometry(for: shape)
        checkShape(outputGradient.shape, equals: g.outputShape.dimensions, in: "\(description) backward")
        let dx = backend.avgPool2dBackward(outputGradient: outputGradient.data, geometry: g, countIncludePad: countIncludePad)
        return Tensor(shape: shape, data: dx)
    }
}

/// `nn.AdaptiveAvgPool2d`: averages over windows chosen so the output has a fixed size
/// (window i spans [floor(i*H/oh), ceil((i+1)*H/oh))), whatever the input size: the
/// "global average pooling" of NIN, GoogLeNet and ResNet when the size is 1x1.
public final class AdaptiveAvgPool2d: Layer {
    public let outputSize: (height: Int, width: Int)
    private var inputShape: [Int]?

    public init(outputSize: (height: Int, width: Int)) {
        precondition(outputSize.height > 0 && outputSize.width > 0, "AdaptiveAvgPool2d: output size must be positive")
        self.outputSize = outputSize
    }

    public convenience init(_ size: Int) { self.init(outputSize: (size, size)) }

    public override var description: String { "AdaptiveAvgPool2d(\(pair(outputSize)))" }

    public override func outputShape(for inputShape: [Int]) -> [Int] {
        let s = featureMap(inputShape, description)
        return [s.batch, s.channels, outputSize.height, outputSize.width]
    }

    public override func forward(_ x: Tensor) -> Tensor {
        let s = featureMap(x.shape, description)
        inputShape = x.shape
        let y = backend.adaptiveAvgPool2d(x.data, input: s, outputSize: outputSize)
        return Tensor(shape: outputShape(for: x.shape), data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let shape = cached(inputShape, "input shape")
        checkShape(outputGradient.shape, equals: outputShape(for: shape), in: "\(description) backward")
        let s = featureMap(shape, description)
        let dx = backend.adaptiveAvgPool2dBackward(outputGradient: outputGradient.data, input: s, outputSize: outputSize)
        return Tensor(shape: shape, data: dx)
    }
}

/// The geometry of a pooling layer `layer` on an input of `shape`; while an input is being
/// tried (ShapeCheck), a window that does not fit is recorded and a stand-in that fits
/// is returned instead of trapping.
func poolGeometry(_ shape: [Int], kernel: (height: Int, width: Int), stride: (height: Int, width: Int),
                  padding: (height: Int, width: Int), ceilMode: Bool, layer: String) -> Pool2DGeometry {
    let g = Pool2DGeometry(input: featureMap(shape, layer), kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    if let problem = g.problem, !ShapeCheck.require(false, "\(layer) on input \(shape): \(problem)") {
        let standIn = FeatureMapShape(batch: 1, channels: max(1, g.input.channels), height: kernel.height, width: kernel.width)
        return Pool2DGeometry(input: standIn, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    }
    return g
}
