// The CIFAR-10 networks of He et al. 2015, section 4.2: 6n+2 layers on 32x32 images,
// three stages of n blocks of two 3x3 convolutions with 16, 32 and 64 filters, then
// global average pooling and a 10-way fully connected layer. The "plain" nets are the
// same stacks without shortcuts: the experiment that shows the degradation problem.
// Pre-activation blocks (He et al. 2016, "Identity mappings") move batch norm and ReLU
// before each convolution, so the shortcut path is a pure identity from end to end.
//
// Names and the projection shortcuts (option B: a 1x1 convolution where the shape
// changes) follow Fixtures/reference_models.py, which produced the fixtures.

/// One block of a CIFAR ResNet: two 3x3 convolutions, post- or pre-activation, with or
/// without a shortcut.
///
///     post-activation:  y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
///     pre-activation:   a = relu(bn1(x));  y = conv2(relu(bn2(conv1(a)))) + shortcut
///                       (shortcut = downsample(a) where the shape changes, else x)
///     plain:            the same without "+ shortcut"
///
/// `shortcutScale` multiplies the shortcut by a constant lambda (1: the identity), the
/// "constant scaling" of He et al. 2016's Table 1: over many blocks the signal from an
/// early layer reaches a late one multiplied by lambda^blocks, which is why it fails.
public final class CifarBlock: Layer {
    public let preActivation: Bool
    public let residual: Bool
    public let shortcutScale: Float
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1 = ReLU()
    public let conv2: Conv2d, bn2: BatchNorm2d, relu2 = ReLU()
    /// The projection where the shape changes (1x1 conv, plus batch norm when post-activation).
    public let downsample: Sequential?

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, preActivation: Bool, residual: Bool = true,
                shortcutScale: Float = 1) {
        self.preActivation = preActivation
        self.residual = residual
        self.shortcutScale = shortcutScale
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(preActivation ? inChannels : outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(outChannels)
        if residual && (stride != 1 || inChannels != outChannels) {
            let projection = Conv2d(inChannels, outChannels, kernel: 1, stride: stride, bias: false)
            downsample = preActivation ? Sequential(projection) : Sequential(projection, BatchNorm2d(outChannels))
        } else {
            downsample = nil
        }
        super.init()
        if preActivation {
            register("bn1", bn1); register("relu", relu1); register("conv1", conv1)
            register("bn2", bn2); register("relu", relu2); register("conv2", conv2)
        } else {
            register("conv1", conv1); register("bn1", bn1); register("relu", relu1)
            register("conv2", conv2); register("bn2", bn2)
        }
        if let downsample { register("downsample", downsample) }
        if !preActivation { register("relu", relu2) }
    }

    public override var description: String {
        "CifarBlock(\(conv1.inChannels), \(conv1.outChannels), stride \(conv1.stride.height), "
            + (preActivation ? "pre-activation" : "post-activation") + (residual ? "" : ", plain")
            + (shortcutScale == 1 ? "" : ", shortcut x \(shortcutScale)") + ")"
    }

    /// `t` times `shortcutScale` (t itself when the scale is 1).
    private func scaled(_ t: Tensor) -> Tensor {
        guard shortcutScale != 1 else { return t }
        let lambda = shortcutScale
        return Tensor(shape: t.shape, data: t.data.map { $0 * lambda })
    }

    // Each batch norm runs with the ReLU after it (and, closing a post-activation block,
    // the shortcut sum between them) as one kernel: `bn.forward(_:residual:relu:)`.
    public override func forward(_ x: Tensor) -> Tensor {
        if preActivation {
            let a = bn1.forward(x, residual: nil, relu: true)
            let out = conv2(bn2.forward(conv1(a), residual: nil, relu: true))
            guard residual else { return out }
            return add(out, scaled(downsample?.forward(a) ?? x))
        }
        let out = conv2(bn1.forward(conv1(x), residual: nil, relu: true))
        return bn2.forward(out, residual: residual ? scaled(downsample?.forward(x) ?? x) : nil, relu: true)
    }

    public override func infer(_ x: Tensor) -> Tensor {
        guard foldsForInference && !preActivation else { return forward(x) }
        let out = conv1.inferFused(x, batchNorm: bn1, relu: true)
        let shortcut = residual ? scaled(downsample?.infer(x) ?? x) : nil
        return conv2.inferFused(out, batchNorm: bn2, residual: shortcut, relu: true)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        if preActivation {
            let dy = outputGradient
            var da = conv1.backward(bn2.backwardFused(conv2.backward(dy)).input)
            if residual, let downsample { add(into: &da, downsample.backward(scaled(dy))) }  // a fed the projection
            var dx = bn1.backwardFused(da).input
            if residual && downsample == nil { add(into: &dx, scaled(dy)) }                  // x fed the identity
            return dx
        }
        let (dOut, dSum) = bn2.backwardFused(outputGradient)             // dSum: the shortcut's (masked) gradient
        var main = conv1.backward(bn1.backwardFused(conv2.backward(dOut)).input)
        guard let dSum else { return main }
        let dShortcut = scaled(dSum)
        add(into: &main, downsample?.backward(dShortcut) ?? dShortcut)
        return main
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        if preActivation {
            let a = trace(relu1, trace(bn1, input, &t), &t)
            var out = trace(conv1, a, &t)
            out = trace(conv2, trace(relu2, trace(bn2, out, &t), &t), &t)
            if residual {
                let shortcut = downsample.map { trace($0, a, &t) } ?? input
                _ = ShapeCheck.require(out == shortcut, "\(description): residual \(out) and shortcut \(shortcut) differ")
            }
            return out
        }
        var out = trace(relu1, trace(bn1, trace(conv1, input, &t), &t), &t)
        out = trace(bn2, trace(conv2, out, &t), &t)
        if residual {
            let shortcut = downsample.map { trace($0, input, &t) } ?? input
            _ = ShapeCheck.require(out == shortcut, "\(description): residual \(out) and shortcut \(shortcut) differ")
        }
        return trace(relu2, out, &t)
    }
}

/// A CIFAR ResNet of `depth` = 6n+2 layers (20, 32, 44, 56, 110, 1202), read as the
/// paper's table:
///
///     conv1    3x3, 16                      32x32   (+ bn1, relu unless pre-activation)
///     layer1   n blocks, 16 filters         32x32
///     layer2   n blocks, 32 filters, /2     16x16
///     layer3   n blocks, 64 filters, /2      8x8
///     (bn_final, relu when pre-activation)
///     avgpool, fc 64 -> 10
///
/// `residual: false` builds the plain net of the same depth.
public final class CifarResNet: Sequential {
    public let depth: Int
    public let preActivation: Bool
    public let residual: Bool
    public let shortcutScale: Float

    public init(depth: Int, preActivation: Bool = false, residual: Bool = true, widths: [Int] = [16, 32, 64],
                classes: Int = 10, inputChannels: Int = 3, shortcutScale: Float = 1) {
        precondition(depth >= 8 && (depth - 2) % 6 == 0, "CifarResNet: depth must be 6n+2 (8, 20, 32, 44, 56, 110, ...), got \(depth)")
        precondition(widths.count == 3, "CifarResNet: three stage widths expected, got \(widths)")
        self.depth = depth
        self.preActivation = preActivation
        self.residual = residual
        self.shortcutScale = shortcutScale
        let n = (depth - 2) / 6
        var layers: [(String, Layer)] = [("conv1", Conv2d(inputChannels, widths[0], kernel: 3, padding: 1, bias: false))]
        if !preActivation { layers += [("bn1", BatchNorm2d(widths[0])), ("relu", ReLU())] }
        var channels = widths[0]
        for (i, width) in widths.enumerated() {
            let blocks: [Layer] = (0..<n).map { j in
                defer { channels = width }
                return CifarBlock(channels, width, stride: j == 0 && i > 0 ? 2 : 1,
                                  preActivation: preActivation, residual: residual, shortcutScale: shortcutScale)
            }
            layers.append(("layer\(i + 1)", Sequential(blocks)))
        }
        if preActivation { layers += [("bn_final", BatchNorm2d(channels)), ("relu", ReLU())] }
        layers += [("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(channels, classes))]
        super.init(named: layers)
    }

    public override var description: String {
        "CifarResNet(depth \(depth)" + (preActivation ? ", pre-activation" : "") + (residual ? "" : ", plain")
            + (shortcutScale == 1 ? "" : ", shortcut x \(shortcutScale)") + ")"
    }
}
