// GoogLeNet / Inception v1 (Szegedy et al. 2014), exactly as
// `torchvision.models.googlenet.GoogLeNet` builds it, with its tensor names.
//
// An Inception module runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pool side by
// side on the same input and concatenates their outputs along the channels; 1x1
// convolutions first shrink the channels ("bottleneck layers") so the big filters stay
// cheap. Two auxiliary classifiers on intermediate layers add gradient signal in
// training (loss = main + 0.3 * (aux1 + aux2)) and are dropped at inference.

/// torchvision's `BasicConv2d`: convolution (no bias) + batch norm (eps 0.001) + ReLU,
/// the unit GoogLeNet and Inception-v3 are built from.
public final class BasicConv2d: Sequential {
    public init(_ inChannels: Int, _ outChannels: Int, kernel: (height: Int, width: Int),
                stride: (height: Int, width: Int) = (1, 1), padding: (height: Int, width: Int) = (0, 0)) {
        super.init(named: [
            ("conv", Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: false)),
            ("bn", BatchNorm2d(outChannels, epsilon: 0.001)),
            ("relu", ReLU()),
        ])
    }

    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding))
    }

    public override var description: String { "BasicConv2d" }
}

/// The Inception module, four branches concatenated (the columns of the paper's Table 1):
///
///     branch1: 1x1 conv, ch1x1
///     branch2: 1x1 conv, ch3x3red -> 3x3 conv, ch3x3
///     branch3: 1x1 conv, ch5x5red -> 5x5 conv, ch5x5   (torchvision: a 3x3 conv, a known
///                                                       slip kept for its weights; set
///                                                       `fiveByFive: true` for the paper's)
///     branch4: 3x3 max pool, stride 1 -> 1x1 conv, poolProj
public final class InceptionModule: Concatenate {
    public init(_ inChannels: Int, _ ch1x1: Int, _ ch3x3red: Int, _ ch3x3: Int, _ ch5x5red: Int, _ ch5x5: Int,
                _ poolProj: Int, fiveByFive: Bool = false) {
        let wide = fiveByFive ? 5 : 3
        super.init(branches: [
            ("branch1", BasicConv2d(inChannels, ch1x1, kernel: 1)),
            ("branch2", Sequential(BasicConv2d(inChannels, ch3x3red, kernel: 1),
                                   BasicConv2d(ch3x3red, ch3x3, kernel: 3, padding: 1))),
            ("branch3", Sequential(BasicConv2d(inChannels, ch5x5red, kernel: 1),
                                   BasicConv2d(ch5x5red, ch5x5, kernel: wide, padding: wide / 2))),
            ("branch4", Sequential(MaxPool2d(kernel: 3, stride: 1, padding: 1, ceilMode: true),
                                   BasicConv2d(inChannels, poolProj, kernel: 1))),
        ])
    }

    public override var description: String { "Inception" }
}

/// GoogLeNet's auxiliary classifier: 4x4 average pool, 1x1 conv to 128, fc 2048 -> 1024,
/// ReLU, dropout 0.7, fc -> classes.
public final class InceptionAux: Sequential {
    public init(_ inChannels: Int, classes: Int) {
        super.init(named: [
            ("pool", AdaptiveAvgPool2d(4)),
            ("conv", BasicConv2d(inChannels, 128, kernel: 1)),
            ("flatten", Flatten()),
            ("fc1", Linear(2048, 1024)),
            ("relu", ReLU()),
            ("dropout", Dropout(probability: 0.7)),
            ("fc2", Linear(1024, classes)),
        ])
    }

    public override var description: String { "InceptionAux" }
}

/// A chain of layers with auxiliary classifier heads tapping the output of some of
/// them (GoogLeNet, Inception-v3). In training, `forward` also runs the heads and keeps
/// their logits in `auxiliaryLogits`; `backward(_:auxiliaryGradients:)` adds the heads'
/// gradients back into the trunk where they branched off. In inference the heads do not run.
open class NetworkWithAuxiliaryHeads: Layer {
    public private(set) var trunk: [Layer] = []
    /// Each head with the index of the trunk layer whose output it reads.
    public private(set) var heads: [(after: Int, head: Layer)] = []
    /// The heads' logits of the last training-mode forward, in trunk order.
    public private(set) var auxiliaryLogits: [Tensor] = []
    private var activeHeads: [Int] = []

    /// `trunk` in forward order; each head is registered under its name right after the
    /// trunk layer named `after`.
    public init(trunk layers: [(String, Layer)], heads named: [(name: String, after: String, head: Layer)]) {
        super.init()
        for (name, layer) in layers {
            register(name, layer)
            trunk.append(layer)
            for h in named where h.after == name {
                register(h.name, h.head)
                heads.append((trunk.count - 1, h.head))
            }
        }
        precondition(heads.count == named.count, "NetworkWithAuxiliaryHeads: a head taps an unknown layer")
    }

    open override func forward(_ x: Tensor) -> Tensor {
        auxiliaryLogits = []
        activeHeads = []
        var x = x
        for (i, layer) in trunk.enumerated() {
            x = layer(x)
            guard isTraining else { continue }
            for (k, h) in heads.enumerated() where h.after == i {
                auxiliaryLogits.append(h.head(x))
                activeHeads.append(k)
            }
        }
        return x
    }

    /// Backward of the main output only (the heads receive no gradient).
    open override func backward(_ outputGradient: Tensor) -> Tensor {
        backward(outputGradient, auxiliaryGradients: [])
    }

    /// Backward of main and auxiliary outputs: `auxiliaryGradients[k]` is dL/d`auxiliaryLogits[k]`.
    public func backward(_ outputGradient: Tensor, auxiliaryGradients: [Tensor]) -> Tensor {
        precondition(auxiliaryGradients.isEmpty || auxiliaryGradients.count == activeHeads.count,
                     "\(description): \(auxiliaryGradients.count) auxiliary gradients for \(activeHeads.count) auxiliary outputs")
        var g = outputGradient
        for i in trunk.indices.reversed() {
            if !auxiliaryGradients.isEmpty {
                for (k, headIndex) in activeHeads.enumerated().reversed() where heads[headIndex].after == i {
                    g = add(g, heads[headIndex].head.backward(auxiliaryGradients[k]))
                }
            }
            g = trunk[i].backward(g)
        }
        return g
    }

    open override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        var shape = input
        for (i, layer) in trunk.enumerated() {
            shape = trace(layer, shape, &t)
            for h in heads where h.after == i {
                let saved = t.trainingOnly
                t.trainingOnly = true
                _ = trace(h.head, shape, &t)
                t.trainingOnly = saved
            }
        }
        return shape
    }
}

/// torchvision's GoogLeNet, read as the paper's Table 1 (224x224 input):
///
///     conv1 7x7/2, 64; maxpool 3x3/2          56x56x64
///     conv2 1x1, 64; conv3 3x3, 192; maxpool  28x28x192
///     inception 3a, 3b; maxpool               14x14x480
///     inception 4a (aux1) 4b 4c 4d (aux2) 4e; maxpool   7x7x832
///     inception 5a, 5b                         7x7x1024
///     avgpool, dropout 0.2, fc 1024 -> classes
///
/// Max pools round up (ceil mode), as in Caffe. With `auxiliaryClassifiers` (torchvision's
/// `aux_logits`) the model has 13,004,888 parameters, else 6,624,904.
public final class GoogLeNet: NetworkWithAuxiliaryHeads {
    public let hasAuxiliaryClassifiers: Bool

    public init(classes: Int = 1000, auxiliaryClassifiers: Bool = false, dropout: Float = 0.2) {
        hasAuxiliaryClassifiers = auxiliaryClassifiers
        let pool = { MaxPool2d(kernel: 3, stride: 2, ceilMode: true) }
        let trunk: [(String, Layer)] = [
            ("conv1", BasicConv2d(3, 64, kernel: 7, stride: 2, padding: 3)),
            ("maxpool1", pool()),
            ("conv2", BasicConv2d(64, 64, kernel: 1)),
            ("conv3", BasicConv2d(64, 192, kernel: 3, padding: 1)),
            ("maxpool2", pool()),
            //                                in   1x1  3x3red 3x3 5x5red 5x5 pool
            ("inception3a", InceptionModule(192,  64,  96, 128, 16,  32,  32)),
            ("inception3b", InceptionModule(256, 128, 128, 192, 32,  96,  64)),
            ("maxpool3", pool()),
            ("inception4a", InceptionModule(480, 192,  96, 208, 16,  48,  64)),
            ("inception4b", InceptionModule(512, 160, 112, 224, 24,  64,  64)),
            ("inception4c", InceptionModule(512, 128, 128, 256, 24,  64,  64)),
            ("inception4d", InceptionModule(512, 112, 144, 288, 32,  64,  64)),
            ("inception4e", InceptionModule(528, 256, 160, 320, 32, 128, 128)),
            ("maxpool4", MaxPool2d(kernel: 2, stride: 2, ceilMode: true)),
            ("inception5a", InceptionModule(832, 256, 160, 320, 32, 128, 128)),
            ("inception5b", InceptionModule(832, 384, 192, 384, 48, 128, 128)),
            ("avgpool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("dropout", Dropout(probability: dropout)),
            ("fc", Linear(1024, classes)),
        ]
        let heads: [(name: String, after: String, head: Layer)] = auxiliaryClassifiers
            ? [("aux1", "inception4a", InceptionAux(512, classes: classes)),
               ("aux2", "inception4d", InceptionAux(528, classes: classes))]
            : []
        super.init(trunk: trunk, heads: heads)
    }

    public override var description: String { "GoogLeNet" + (hasAuxiliaryClassifiers ? "(auxiliary classifiers)" : "") }
}
