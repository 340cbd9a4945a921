// Densely connected networks (Huang, Liu, van der Maaten, Weinberger 2017), exactly as
// `torchvision.models.densenet.DenseNet` builds them (DenseNet-BC: bottleneck layers and
// compression 0.5), with its tensor names.
//
// Inside a dense block every layer receives the concatenation of all earlier feature
// maps and adds `growthRate` new ones: x_l = H_l([x_0, x_1, ..., x_{l-1}]).

/// One layer of a dense block (BN-ReLU-Conv 1x1 to `bnSize * growthRate` channels, then
/// BN-ReLU-Conv 3x3 to `growthRate`): it outputs only the new feature maps.
public final class DenseLayer: Sequential {
    public let growthRate: Int

    public init(_ inChannels: Int, growthRate: Int, bnSize: Int = 4, dropRate: Float = 0) {
        self.growthRate = growthRate
        var layers: [(String, Layer)] = [
            ("norm1", BatchNorm2d(inChannels)),
            ("relu1", ReLU()),
            ("conv1", Conv2d(inChannels, bnSize * growthRate, kernel: 1, bias: false)),
            ("norm2", BatchNorm2d(bnSize * growthRate)),
            ("relu2", ReLU()),
            ("conv2", Conv2d(bnSize * growthRate, growthRate, kernel: 3, padding: 1, bias: false)),
        ]
        if dropRate > 0 { layers.append(("dropout", Dropout(probability: dropRate))) }
        super.init(named: layers)
    }

    public override var description: String { "DenseLayer(growth \(growthRate))" }
}

/// A dense block: `layers` dense layers, each reading everything before it.
///
///     features = x
///     for each layer: features = concat(features, layer(features))
///
/// Its output has `inChannels + layers * growthRate` channels. Backward runs the
/// recurrence in reverse: the gradient of `features` splits into the part that came
/// from the old features and the part for the layer's new maps; the layer's input
/// gradient is added back onto the old features' part.
public final class DenseBlock: Layer {
    public private(set) var layers: [DenseLayer] = []
    public let inChannels: Int
    public let growthRate: Int
    private var inputChannels: [Int] = []
    /// Train with one pre-allocated buffer for the block's features and recompute each
    /// layer's concatenation, first batch norm and 1x1 convolution in backward (Pleiss et
    /// al. 2017; torchvision's `memory_efficient`): memory linear in the layers instead of
    /// quadratic, the same numbers. See DenseNet+SharedBuffer.swift.
    public var memoryEfficient = false
    /// The shared buffer of the last memory-efficient forward pass (its output).
    var sharedFeatures: Tensor?

    public init(layers count: Int, inChannels: Int, growthRate: Int, bnSize: Int = 4, dropRate: Float = 0) {
        self.inChannels = inChannels
        self.growthRate = growthRate
        super.init()
        for i in 0..<count {
            let layer = DenseLayer(inChannels + i * growthRate, growthRate: growthRate, bnSize: bnSize, dropRate: dropRate)
            register("denselayer\(i + 1)", layer)
            layers.append(layer)
        }
    }

    public var outChannels: Int { inChannels + layers.count * growthRate }

    public override var description: String { "DenseBlock(\(layers.count) layers, \(inChannels) -> \(outChannels))" }

    private func concatenate(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (n, spatial) = (a.shape[0], a.shape[2] * a.shape[3])
        let channels = [a.shape[1], b.shape[1]]
        let y = backend.concatenateChannels([a.data, b.data], channels: channels, batch: n, spatial: spatial)
        return Tensor(shape: [n, channels[0] + channels[1], a.shape[2], a.shape[3]], data: y)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "\(description): expected input [N, \(inChannels), H, W], got \(x.shape)")
        sharedFeatures = nil
        if memoryEfficient && isTraining && layers.allSatisfy({ $0.layers.count == 6 }) { return forwardSharedBuffer(x) }
        var features = x
        inputChannels = []
        for layer in layers {
            inputChannels.append(features.shape[1])
            features = concatenate(features, layer(features))
        }
        return features
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        if let shared = sharedFeatures { return backwardSharedBuffer(outputGradient, features: shared) }
        precondition(inputChannels.count == layers.count, "\(description): backward called without a forward")
        var g = outputGradient
        let (n, h, w) = (g.shape[0], g.shape[2], g.shape[3])
        for (layer, channels) in zip(layers, inputChannels).reversed() {
            let split = [channels, growthRate]
            let parts = backend.concatenateChannelsBackward(outputGradient: g.data, channels: split, batch: n, spatial: h * w)
            let old = Tensor(shape: [n, channels, h, w], data: parts[0])
            let new = Tensor(shape: [n, growthRate, h, w], data: parts[1])
            g = add(old, layer.backward(new))
        }
        return g
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        var shape = input
        if !ShapeCheck.require(input.count == 4 && input[1] == inChannels, "\(description): expected input [N, \(inChannels), H, W], got \(input)") {
            shape = [1, inChannels, 1, 1]     // a stand-in (ShapeCheck)
        }
        for layer in layers {
            let new = trace(layer, shape, &t)
            shape[1] += new[1]
        }
        return shape
    }
}

/// Between dense blocks: BN-ReLU-Conv 1x1 (compressing the channels) and a 2x2 average pool.
public final class Transition: Sequential {
    public init(_ inChannels: Int, _ outChannels: Int) {
        super.init(named: [
            ("norm", BatchNorm2d(inChannels)),
            ("relu", ReLU()),
            ("conv", Conv2d(inChannels, outChannels, kernel: 1, bias: false)),
            ("pool", AvgPool2d(kernel: 2, stride: 2)),
        ])
    }

    public override var description: String { "Transition" }
}

/// torchvision's DenseNet (for 224x224 images):
///
///     features.conv0 7x7, stride 2; norm0; relu0; pool0 3x3 max, stride 2
///     features.denseblock1 .. denseblock4 (block_config layers each), with
///     features.transition1 .. transition3 between them (channels halved, size halved)
///     features.norm5; relu; global average pool; classifier
///
/// `DenseNet(growthRate: 32, blockConfig: [6, 12, 24, 16], initialFeatures: 64)` is DenseNet-121.
public final class DenseNet: Sequential {
    public let growthRate: Int
    public let blockConfig: [Int]

    public init(growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16], initialFeatures: Int = 64,
                bnSize: Int = 4, dropRate: Float = 0, classes: Int = 1000, inputChannels: Int = 3) {
        self.growthRate = growthRate
        self.blockConfig = blockConfig
        var features: [(String, Layer)] = [
            ("conv0", Conv2d(inputChannels, initialFeatures, kernel: 7, stride: 2, padding: 3, bias: false)),
            ("norm0", BatchNorm2d(initialFeatures)),
            ("relu0", ReLU()),
            ("pool0", MaxPool2d(kernel: 3, stride: 2, padding: 1)),
        ]
        var channels = initialFeatures
        for (i, count) in blockConfig.enumerated() {
            let block = DenseBlock(layers: count, inChannels: channels, growthRate: growthRate, bnSize: bnSize, dropRate: dropRate)
            features.append(("denseblock\(i + 1)", block))
            channels = block.outChannels
            if i != blockConfig.count - 1 {
                features.append(("transition\(i + 1)", Transition(channels, channels / 2)))
                channels /= 2
            }
        }
        features.append(("norm5", BatchNorm2d(channels)))
        super.init(named: [
            ("features", Sequential(named: features)),
            ("relu", ReLU()),
            ("avgpool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("classifier", Linear(channels, classes)),
        ])
    }

    public override var description: String { "DenseNet(growth \(growthRate), blocks \(blockConfig))" }

    public static func densenet121(classes: Int = 1000) -> DenseNet { DenseNet(growthRate: 32, blockConfig: [6, 12, 24, 16], initialFeatures: 64, classes: classes) }
    public static func densenet169(classes: Int = 1000) -> DenseNet { DenseNet(growthRate: 32, blockConfig: [6, 12, 32, 32], initialFeatures: 64, classes: classes) }
    public static func densenet201(classes: Int = 1000) -> DenseNet { DenseNet(growthRate: 32, blockConfig: [6, 12, 48, 32], initialFeatures: 64, classes: classes) }
    public static func densenet161(classes: Int = 1000) -> DenseNet { DenseNet(growthRate: 48, blockConfig: [6, 12, 36, 24], initialFeatures: 96, classes: classes) }
}
