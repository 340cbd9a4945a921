// Deep residual networks (He, Zhang, Ren, Sun 2015), exactly as torchvision builds them:
// `torchvision.models.resnet.ResNet`, with its tensor names, so its weights load here.
//
// The idea: a block learns a residual F(x) and outputs relu(F(x) + x). If the best the
// block can do is nothing, F = 0 is easy to learn, so adding blocks cannot make the net
// worse, and gradients flow back through the "+ x" shortcut undiminished.
//     a[l+2] = g(z[l+2] + a[l])

/// The 1x1 convolution + batch norm that carries the shortcut across a change of shape
/// (stride 2 or more channels): torchvision's `downsample` (option B of the paper).
func projectionShortcut(_ inChannels: Int, _ outChannels: Int, stride: Int) -> Sequential {
    Sequential(Conv2d(inChannels, outChannels, kernel: 1, stride: stride, bias: false),
               BatchNorm2d(outChannels))
}

/// ResNet-18/34's block: two 3x3 convolutions and a shortcut.
///
///     x ── conv1 3x3 (stride s) ─ bn1 ─ relu ─ conv2 3x3 ─ bn2 ──(+)── relu ── y
///     └──────────────── identity, or downsample (1x1 conv + bn) ─┘
public final class BasicBlock: Layer {
    public static let expansion = 1
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1 = ReLU()
    public let conv2: Conv2d, bn2: BatchNorm2d
    public let downsample: Sequential?
    public let relu2 = ReLU()

    /// `inChannels` to `planes` channels, the first convolution striding by `stride`.
    public init(_ inChannels: Int, _ planes: Int, stride: Int = 1) {
        conv1 = Conv2d(inChannels, planes, kernel: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(planes)
        conv2 = Conv2d(planes, planes, kernel: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(planes)
        downsample = stride != 1 || inChannels != planes ? projectionShortcut(inChannels, planes, stride: stride) : nil
        super.init()
        register("conv1", conv1); register("bn1", bn1); register("relu", relu1)
        register("conv2", conv2); register("bn2", bn2)
        if let downsample { register("downsample", downsample) }
        register("relu", relu2)
    }

    public override var description: String { "BasicBlock(\(conv1.inChannels), \(conv2.outChannels), stride \(conv1.stride.height))" }

    // Each batch norm runs with the ReLU after it (and bn2 with the shortcut sum) as one
    // kernel: `bn.forward(_:residual:relu:)`.
    public override func forward(_ x: Tensor) -> Tensor {
        let out = conv2(bn1.forward(conv1(x), residual: nil, relu: true))
        return bn2.forward(out, residual: downsample?(x) ?? x, relu: true)
    }

    public override func infer(_ x: Tensor) -> Tensor {
        guard foldsForInference else { return forward(x) }
        let out = conv1.inferFused(x, batchNorm: bn1, relu: true)
        let shortcut = downsample?.infer(x) ?? x
        return conv2.inferFused(out, batchNorm: bn2, residual: shortcut, relu: true)
    }

    public override var runsBlocked: Bool {
        conv1.runsBlockedConvolution && conv2.runsBlockedConvolution && (downsample?.runsBlocked ?? true)
    }

    public override func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        let out = conv1.inferBlocked(x, batchNorm: bn1, relu: true)
        let shortcut = downsample?.inferBlocked(x) ?? x
        return conv2.inferBlocked(out, batchNorm: bn2, residual: shortcut, relu: true)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let (dOut, dSum) = bn2.backwardFused(outputGradient)     // dSum: dL/d(out + shortcut)
        var main = conv1.backward(bn1.backwardFused(conv2.backward(dOut)).input)
        let sum = dSum!
        add(into: &main, downsample?.backward(sum) ?? sum)       // x fed both paths
        return main
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        var out = input
        for layer in [conv1, bn1, relu1, conv2, bn2] as [Layer] { out = trace(layer, out, &t) }
        let shortcut = downsample.map { trace($0, input, &t) } ?? input
        _ = ShapeCheck.require(out == shortcut, "\(description): residual \(out) and shortcut \(shortcut) differ")
        return trace(relu2, out, &t)
    }
}

/// ResNet-50/101/152's block: 1x1 (reduce) - 3x3 - 1x1 (expand by 4), so the 3x3
/// convolution runs on a quarter of the channels. With `groups` > 1 the 3x3 is a
/// grouped convolution (ResNeXt's cardinality); `baseWidth` widens it (Wide ResNet).
/// The stride sits on the 3x3 convolution, as torchvision (ResNet v1.5) has it.
///
///     x ── conv1 1x1 ─ bn1 ─ relu ─ conv2 3x3 (stride s, groups) ─ bn2 ─ relu ─ conv3 1x1 ─ bn3 ──(+)── relu ── y
///     └──────────────────────────── identity, or downsample (1x1 conv + bn) ───────────────────────┘
public final class Bottleneck: Layer {
    public static let expansion = 4
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1 = ReLU()
    public let conv2: Conv2d, bn2: BatchNorm2d, relu2 = ReLU()
    public let conv3: Conv2d, bn3: BatchNorm2d
    public let downsample: Sequential?
    public let relu3 = ReLU()

    /// `inChannels` to `4 * planes` channels; the inner width is
    /// `Int(planes * baseWidth / 64) * groups` (torchvision's formula).
    public init(_ inChannels: Int, _ planes: Int, stride: Int = 1, groups: Int = 1, baseWidth: Int = 64) {
        let width = Int(Double(planes) * (Double(baseWidth) / 64)) * groups
        let outChannels = planes * Self.expansion
        conv1 = Conv2d(inChannels, width, kernel: 1, bias: false)
        bn1 = BatchNorm2d(width)
        conv2 = Conv2d(width, width, kernel: 3, stride: stride, padding: 1, groups: groups, bias: false)
        bn2 = BatchNorm2d(width)
        conv3 = Conv2d(width, outChannels, kernel: 1, bias: false)
        bn3 = BatchNorm2d(outChannels)
        downsample = stride != 1 || inChannels != outChannels ? projectionShortcut(inChannels, outChannels, stride: stride) : nil
        super.init()
        register("conv1", conv1); register("bn1", bn1); register("relu", relu1)
        register("conv2", conv2); register("bn2", bn2); register("relu", relu2)
        register("conv3", conv3); register("bn3", bn3)
        if let downsample { register("downsample", downsample) }
        register("relu", relu3)
    }

    public override var description: String {
        "Bottleneck(\(conv1.inChannels), width \(conv2.outChannels), \(conv3.outChannels), stride \(conv2.stride.height)"
            + (conv2.groups != 1 ? ", groups \(conv2.groups)" : "") + ")"
    }

    public override func forward(_ x: Tensor) -> Tensor {
        var out = bn1.forward(conv1(x), residual: nil, relu: true)
        out = bn2.forward(conv2(out), residual: nil, relu: true)
        return bn3.forward(conv3(out), residual: downsample?(x) ?? x, relu: true)
    }

    public override func infer(_ x: Tensor) -> Tensor {
        guard foldsForInference else { return forward(x) }
        var out = conv1.inferFused(x, batchNorm: bn1, relu: true)
        out = conv2.inferFused(out, batchNorm: bn2, relu: true)
        let shortcut = downsample?.infer(x) ?? x
        return conv3.inferFused(out, batchNorm: bn3, residual: shortcut, relu: true)
    }

    public override var runsBlocked: Bool {
        conv1.runsBlockedConvolution && conv2.runsBlockedConvolution && conv3.runsBlockedConvolution
            && (downsample?.runsBlocked ?? true)
    }

    public override func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        var out = conv1.inferBlocked(x, batchNorm: bn1, relu: true)
        out = conv2.inferBlocked(out, batchNorm: bn2, relu: true)
        let shortcut = downsample?.inferBlocked(x) ?? x
        return conv3.inferBlocked(out, batchNorm: bn3, residual: shortcut, relu: true)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let (dOut, dSum) = bn3.backwardFused(outputGradient)
        let sum = dSum!
        var main = conv3.backward(dOut)
        main = conv2.backward(bn2.backwardFused(main).input)
        main = conv1.backward(bn1.backwardFused(main).input)
        add(into: &main, downsample?.backward(sum) ?? sum)
        return main
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        var out = input
        for layer in [conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3] as [Layer] { out = trace(layer, out, &t) }
        let shortcut = downsample.map { trace($0, input, &t) } ?? input
        _ = ShapeCheck.require(out == shortcut, "\(description): residual \(out) and shortcut \(shortcut) differ")
        return trace(relu3, out, &t)
    }
}

/// torchvision's ResNet for 224x224 ImageNet images, read as the paper's Table 1:
///
///     conv1    7x7, 64, stride 2                          112x112
///     maxpool  3x3, stride 2                               56x56
///     layer1   blocks x layers[0], 64 planes               56x56
///     layer2   blocks x layers[1], 128 planes, stride 2    28x28
///     layer3   blocks x layers[2], 256 planes, stride 2    14x14
///     layer4   blocks x layers[3], 512 planes, stride 2     7x7
///     avgpool, fc (512 or 2048 -> classes)
///
/// `ResNet(block: .basic, layers: [2, 2, 2, 2])` is ResNet-18;
/// `ResNet(block: .bottleneck, layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4)` is
/// ResNeXt-50 32x4d; `widthPerGroup: 128` is Wide ResNet-50-2.
public final class ResNet: Sequential {
    public enum Block: String, Sendable {
        case basic, bottleneck
        /// Output channels of a block per "plane": 1 for basic, 4 for bottleneck.
        public var expansion: Int { self == .basic ? BasicBlock.expansion : Bottleneck.expansion }
    }

    public let block: Block
    public let stageDepths: [Int]
    public let groups: Int
    public let widthPerGroup: Int

    public init(block: Block, layers: [Int], classes: Int = 1000, groups: Int = 1, widthPerGroup: Int = 64,
                inputChannels: Int = 3) {
        precondition(layers.count == 4 && layers.allSatisfy { $0 > 0 }, "ResNet: layers must be 4 positive block counts, got \(layers)")
        precondition(block == .bottleneck || (groups == 1 && widthPerGroup == 64),
                     "ResNet: BasicBlock only supports groups 1 and width per group 64")
        self.block = block
        self.stageDepths = layers
        self.groups = groups
        self.widthPerGroup = widthPerGroup
        var channels = 64
        /// `count` blocks of `planes`, the first one striding by `stride`.
        func stage(_ planes: Int, _ count: Int, stride: Int) -> Sequential {
            let blocks: [Layer] = (0..<count).map { i in
                let s = i == 0 ? stride : 1
                defer { channels = planes * block.expansion }
                switch block {
                case .basic: return BasicBlock(channels, planes, stride: s)
                case .bottleneck: return Bottleneck(channels, planes, stride: s, groups: groups, baseWidth: widthPerGroup)
                }
            }
            return Sequential(blocks)
        }
        let layer1 = stage(64, layers[0], stride: 1)
        let layer2 = stage(128, layers[1], stride: 2)
        let layer3 = stage(256, layers[2], stride: 2)
        let layer4 = stage(512, layers[3], stride: 2)
        super.init(named: [
            ("conv1", Conv2d(inputChannels, 64, kernel: 7, stride: 2, padding: 3, bias: false)),
            ("bn1", BatchNorm2d(64)),
            ("relu", ReLU()),
            ("maxpool", MaxPool2d(kernel: 3, stride: 2, padding: 1)),
            ("layer1", layer1),
            ("layer2", layer2),
            ("layer3", layer3),
            ("layer4", layer4),
            ("avgpool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("fc", Linear(512 * block.expansion, classes)),
        ])
    }

    public override var description: String {
        "ResNet(\(block.rawValue), \(stageDepths)" + (groups != 1 ? ", groups \(groups)" : "")
            + (widthPerGroup != 64 ? ", width per group \(widthPerGroup)" : "") + ")"
    }

    public static func resnet18(classes: Int = 1000) -> ResNet { ResNet(block: .basic, layers: [2, 2, 2, 2], classes: classes) }
    public static func resnet34(classes: Int = 1000) -> ResNet { ResNet(block: .basic, layers: [3, 4, 6, 3], classes: classes) }
    public static func resnet50(classes: Int = 1000) -> ResNet { ResNet(block: .bottleneck, layers: [3, 4, 6, 3], classes: classes) }
    public static func resnet101(classes: Int = 1000) -> ResNet { ResNet(block: .bottleneck, layers: [3, 4, 23, 3], classes: classes) }
    public static func resnet152(classes: Int = 1000) -> ResNet { ResNet(block: .bottleneck, layers: [3, 8, 36, 3], classes: classes) }
    /// ResNeXt-50 (32x4d): cardinality 32, 4 channels per group in the first stage.
    public static func resnext50_32x4d(classes: Int = 1000) -> ResNet {
        ResNet(block: .bottleneck, layers: [3, 4, 6, 3], classes: classes, groups: 32, widthPerGroup: 4)
    }
    /// ResNeXt-101 (32x8d).
    public static func resnext101_32x8d(classes: Int = 1000) -> ResNet {
        ResNet(block: .bottleneck, layers: [3, 4, 23, 3], classes: classes, groups: 32, widthPerGroup: 8)
    }
    /// Wide ResNet-50-2: the bottleneck's inner width doubled.
    public static func wideResnet50_2(classes: Int = 1000) -> ResNet {
        ResNet(block: .bottleneck, layers: [3, 4, 6, 3], classes: classes, widthPerGroup: 128)
    }
}
