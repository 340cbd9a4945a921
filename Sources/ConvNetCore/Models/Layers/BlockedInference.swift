// Inference on channel-blocked activations: how `model.infer(x)` runs a ResNet on AVX-512.
//
// Layer by layer (Inference.swift), every convolution reads NCHW, copies it into phase
// planes, and transposes its sums back into NCHW for the next one: on ResNet-18 at batch
// 1 the copies and transposes are a tenth of the time. ONNX Runtime instead converts the
// image once to its blocked layout (NCHWc), runs every convolution, pooling and residual
// sum in that layout, and converts back once before the classifier. So does this path:
//
//     image (NCHW) ── conv1 (reads the image, writes blocked) ── maxpool ── layer1 … layer4
//                                                               (all blocked) ── to NCHW ── avgpool ── fc
//
// A `Sequential` in inference mode finds its stretches of layers that have a blocked path
// (`runsBlocked`: convolutions with groups 1 and their folded batch norm and ReLU, max
// pooling, ReLU, ResNet's blocks, and Sequentials made of these), runs each stretch of two
// or more steps blocked, and converts only at its ends. Each blocked activation has a
// border of one zero pixel, the padding of a 3 x 3 convolution; a convolution with more
// padding gets a re-bordered copy of its input.

/// One step of a Sequential's inference: a convolution with the batch norm and ReLU that
/// follow it (folded and fused), or any other layer.
enum InferenceStep {
    case convolution(Conv2d, batchNorm: BatchNorm2d?, relu: Bool)
    case layer(Layer)

    /// The steps of `layers`: each Conv2d takes a BatchNorm2d and a ReLU right after it.
    static func steps(of layers: [Layer]) -> [InferenceStep] {
        var steps: [InferenceStep] = [], i = 0
        while i < layers.count {
            if let conv = layers[i] as? Conv2d {
                let bn = i + 1 < layers.count ? layers[i + 1] as? BatchNorm2d : nil
                let j = i + (bn == nil ? 1 : 2)
                let relu = j < layers.count && layers[j] is ReLU
                steps.append(.convolution(conv, batchNorm: bn, relu: relu))
                i = j + (relu ? 1 : 0)
            } else {
                steps.append(.layer(layers[i]))
                i += 1
            }
        }
        return steps
    }

    var runsBlocked: Bool {
        switch self {
        case .convolution(let conv, _, _): return conv.runsBlockedConvolution
        case .layer(let layer): return layer.runsBlocked
        }
    }

    func infer(_ x: Tensor) -> Tensor {
        switch self {
        case .convolution(let conv, let bn, let relu): return conv.inferFused(x, batchNorm: bn, relu: relu)
        case .layer(let layer): return layer.infer(x)
        }
    }

    func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        switch self {
        case .convolution(let conv, let bn, let relu): return conv.inferBlocked(x, batchNorm: bn, relu: relu)
        case .layer(let layer): return layer.inferBlocked(x)
        }
    }

    /// Runs the step on an NCHW input and returns blocked output: the entry of a blocked
    /// stretch (a convolution reads the image directly).
    func inferEnteringBlocked(_ x: Tensor) -> BlockedActivations {
        switch self {
        case .convolution(let conv, let bn, let relu): return conv.inferBlocked(image: x, batchNorm: bn, relu: relu)
        case .layer(let layer): return layer.inferBlocked(BlockedActivations(x, border: BlockedActivations.defaultBorder))
        }
    }
}

extension BlockedActivations {
    /// The border every blocked layer gives its output: the padding of a 3 x 3 convolution.
    public static let defaultBorder = 1

    /// These activations with at least `border` zero pixels around each plane (self when
    /// it already has them).
    public func withBorder(atLeast border: Int) -> BlockedActivations {
        if self.border >= border { return self }
        let y = BlockedActivations(batch: batch, channels: channels, height: height, width: width, border: border)
        for n in 0..<batch {
            for cb in 0..<channelBlocks {
                for i in 0..<height { y.pixel(n, cb, i, 0).update(from: pixel(n, cb, i, 0), count: width * 16) }
            }
        }
        return y
    }
}

extension Conv2d {
    /// Whether this convolution runs on blocked activations now: inference mode on the fast
    /// kernels, AVX-512, groups 1.
    public var runsBlockedConvolution: Bool {
        foldsForInference && groups == 1 && CPUFeatures.hasAVX512F
    }

    /// relu?(bn(conv(x)) + residual?) from blocked `x` to blocked output, batch norm folded.
    public func inferBlocked(_ x: BlockedActivations, batchNorm bn: BatchNorm2d?, residual: BlockedActivations? = nil,
                             relu: Bool) -> BlockedActivations {
        precondition(runsBlockedConvolution, "\(description): has no blocked inference now")
        let g = geometry(for: x.shape)
        let x = x.withBorder(atLeast: max(g.paddingHeight, g.paddingWidth))
        let y = outputActivations(g)
        // The router's choice (Convolution+Fast.swift): Winograd or the blocked direct kernel.
        if Fast.conv2dBlockedMethod(for: g) == .winograd {
            Fast.conv2dWinograd(x, weights: winogradWeights(g, batchNorm: bn), geometry: g, residual: residual,
                                relu: relu, into: y)
        } else {
            Fast.conv2dBlocked(x, weights: blockedWeights(g, batchNorm: bn, blockedInput: true), geometry: g,
                               residual: residual, relu: relu, into: y)
        }
        return y
    }

    /// The same from an NCHW image (a network's first convolution).
    public func inferBlocked(image x: Tensor, batchNorm bn: BatchNorm2d?, relu: Bool) -> BlockedActivations {
        precondition(runsBlockedConvolution, "\(description): has no blocked inference now")
        let g = geometry(for: x.shape)
        let y = outputActivations(g)
        x.data.withUnsafeBufferPointer { xb in
            Fast.conv2dBlocked(image: xb, weights: blockedWeights(g, batchNorm: bn, blockedInput: false), geometry: g,
                               relu: relu, into: y)
        }
        return y
    }

    private func outputActivations(_ g: Conv2DGeometry) -> BlockedActivations {
        BlockedActivations(batch: g.batch, channels: g.outChannels, height: g.outHeight, width: g.outWidth,
                           border: BlockedActivations.defaultBorder)
    }

    /// The folded weights packed for the blocked kernel (cached beside the folded weights).
    private func blockedWeights(_ g: Conv2DGeometry, batchNorm bn: BatchNorm2d?, blockedInput: Bool) -> BlockedConvolutionWeights {
        let (w, b) = foldedParameters(with: bn)
        if let cached = foldCache?.blocked, cached.fits(g, blockedInput: blockedInput) { return cached }
        let packed = BlockedConvolutionWeights(weight: w, bias: b, geometry: g, blockedInput: blockedInput)
        foldCache?.blocked = packed
        return packed
    }

    /// The folded weights transformed for Winograd's F(2 x 2, 3 x 3) (cached beside the folded weights).
    private func winogradWeights(_ g: Conv2DGeometry, batchNorm bn: BatchNorm2d?) -> WinogradConvolutionWeights {
        let (w, b) = foldedParameters(with: bn)
        if let cached = foldCache?.winograd, cached.fits(g) { return cached }
        let transformed = WinogradConvolutionWeights(weight: w, bias: b, geometry: g)
        foldCache?.winograd = transformed
        return transformed
    }
}
