// The networks before ResNet: LeNet-5, AlexNet, VGG and Network-in-Network.

/// LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998) on 32x32 grey images:
///
///     C1  conv 5x5, 6 maps     28x28x6   tanh
///     S2  avg pool 2x2         14x14x6
///     C3  conv 5x5, 16 maps    10x10x16  tanh   (full connectivity, or the paper's table)
///     S4  avg pool 2x2          5x5x16
///     C5  conv 5x5, 120         1x1x120  tanh   (or a linear layer 400 -> 120)
///     F6  linear 120 -> 84               tanh
///     output linear 84 -> 10
///
/// The modern reading of the paper: plain average pooling (the paper's S2/S4 have a
/// trainable coefficient and bias per map), tanh (the paper's 1.7159 tanh(2a/3)), and a
/// linear output (the paper's is a layer of Euclidean RBF units). With full C3 it has
/// 61,706 parameters and 416,520 MACs; with the paper's C3 connection table (Table I:
/// 6 maps see 3 S2 maps, 9 see 4, 1 sees all 6: 60 of 96 pairs) 60,806 parameters and
/// 326,520 MACs (C3 alone: 1,516 parameters, 151,600 connections, as the paper says).
public final class LeNet5: Sequential {
    public enum C3Connections: String, Sendable { case full, paperTable }
    public enum C5Layer: String, Sendable { case convolution, linear }

    /// Table I of the paper: `table[c3Map]` lists the S2 maps that C3 map sees.
    public static let c3ConnectionTable: [[Int]] = [
        [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
        [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
        [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
        [0, 1, 2, 3, 4, 5],
    ]

    public let c3: C3Connections
    public let c5: C5Layer

    public init(c3: C3Connections = .full, c5: C5Layer = .convolution, classes: Int = 10) {
        self.c3 = c3
        self.c5 = c5
        let connections = c3 == .full ? nil
            : Self.c3ConnectionTable.map { seen in (0..<6).map { seen.contains($0) } }
        var layers: [(String, Layer)] = [
            ("c1", Conv2d(1, 6, kernel: 5)), ("tanh1", Tanh()),
            ("s2", AvgPool2d(kernel: 2, stride: 2)),
            ("c3", Conv2d(6, 16, kernel: 5, connections: connections)), ("tanh3", Tanh()),
            ("s4", AvgPool2d(kernel: 2, stride: 2)),
        ]
        switch c5 {
        case .convolution: layers += [("c5", Conv2d(16, 120, kernel: 5)), ("tanh5", Tanh()), ("flatten", Flatten())]
        case .linear: layers += [("flatten", Flatten()), ("c5", Linear(16 * 5 * 5, 120)), ("tanh5", Tanh())]
        }
        layers += [("f6", Linear(120, 84)), ("tanh6", Tanh()), ("output", Linear(84, classes))]
        super.init(named: layers)
    }

    public override var description: String {
        "LeNet5(C3 " + (c3 == .full ? "full" : "paper table") + ", C5 \(c5.rawValue))"
    }
}

/// AlexNet (Krizhevsky, Sutskever, Hinton 2012), as in the paper or as torchvision has it.
///
/// The paper (227x227 input; Figure 2 says 224 but only 227 fits an 11x11/4 convolution):
///
///     conv1 11x11/4, 96      55x55   ReLU, LRN, maxpool 3x3/2 (overlapping)  27x27
///     conv2 5x5, 256         27x27   ReLU, LRN, maxpool                       13x13
///     conv3 3x3, 384         13x13   ReLU
///     conv4 3x3, 384         13x13   ReLU
///     conv5 3x3, 256         13x13   ReLU, maxpool                            6x6
///     fc6 9216 -> 4096, fc7 4096 -> 4096 (ReLU, dropout 0.5 before each), fc8 -> 1000
///
/// Two towers: the net was split across two GPUs, and conv2, conv4 and conv5 only see
/// the maps on their own GPU: groups = 2 (60,965,224 parameters; one tower, 62,378,344).
/// LRN: k = 2, n = 5, alpha = 1e-4, beta = 0.75 (paper), i.e. PyTorch alpha = 5e-4.
///
/// torchvision's variant (224x224): 64-192-384-256-256 filters, padding 2 on conv1, no
/// LRN, an adaptive 6x6 average pool; 61,100,840 parameters.
public final class AlexNet: Sequential {
    public enum Variant: Equatable, Sendable {
        /// The 2012 paper, with 1 or 2 towers.
        case paper(towers: Int)
        /// `torchvision.models.alexnet`.
        case torchvision
    }

    public let variant: Variant

    public init(_ variant: Variant = .torchvision, classes: Int = 1000, dropout: Float = 0.5) {
        self.variant = variant
        let features: Sequential
        switch variant {
        case .paper(let towers):
            precondition(towers == 1 || towers == 2, "AlexNet: 1 or 2 towers, got \(towers)")
            let lrn = { LocalResponseNorm(size: 5, alpha: 5e-4, beta: 0.75, k: 2) }
            features = Sequential(
                Conv2d(3, 96, kernel: 11, stride: 4), ReLU(), lrn(), MaxPool2d(kernel: 3, stride: 2),
                Conv2d(96, 256, kernel: 5, padding: 2, groups: towers), ReLU(), lrn(), MaxPool2d(kernel: 3, stride: 2),
                Conv2d(256, 384, kernel: 3, padding: 1), ReLU(),
                Conv2d(384, 384, kernel: 3, padding: 1, groups: towers), ReLU(),
                Conv2d(384, 256, kernel: 3, padding: 1, groups: towers), ReLU(), MaxPool2d(kernel: 3, stride: 2))
        case .torchvision:
            features = Sequential(
                Conv2d(3, 64, kernel: 11, stride: 4, padding: 2), ReLU(), MaxPool2d(kernel: 3, stride: 2),
                Conv2d(64, 192, kernel: 5, padding: 2), ReLU(), MaxPool2d(kernel: 3, stride: 2),
                Conv2d(192, 384, kernel: 3, padding: 1), ReLU(),
                Conv2d(384, 256, kernel: 3, padding: 1), ReLU(),
                Conv2d(256, 256, kernel: 3, padding: 1), ReLU(), MaxPool2d(kernel: 3, stride: 2))
        }
        let classifier = Sequential(
            Dropout(probability: dropout), Linear(256 * 6 * 6, 4096), ReLU(),
            Dropout(probability: dropout), Linear(4096, 4096), ReLU(),
            Linear(4096, classes))
        var layers: [(String, Layer)] = [("features", features)]
        if variant == .torchvision { layers.append(("avgpool", AdaptiveAvgPool2d(6))) }
        layers += [("flatten", Flatten()), ("classifier", classifier)]
        super.init(named: layers)
    }

    public override var description: String {
        switch variant {
        case .paper(let towers): return "AlexNet(paper, \(towers) tower\(towers == 1 ? "" : "s"))"
        case .torchvision: return "AlexNet(torchvision)"
        }
    }
}

/// VGG (Simonyan and Zisserman 2014): only 3x3 convolutions (stride 1, padding 1) and
/// 2x2 max pools, in the configurations of the paper's Table 1, as torchvision builds them
/// (`features`, a 7x7 adaptive average pool, `classifier`).
public final class VGG: Sequential {
    /// The columns of Table 1: A (VGG-11), B (13), D (16), E (19).
    public enum Configuration: String, CaseIterable, Sendable {
        case A, B, D, E
        /// Output channels of each 3x3 convolution, nil for a 2x2 max pool.
        public var layers: [Int?] {
            switch self {
            case .A: return [64, nil, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
            case .B: return [64, 64, nil, 128, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
            case .D: return [64, 64, nil, 128, 128, nil, 256, 256, 256, nil, 512, 512, 512, nil, 512, 512, 512, nil]
            case .E: return [64, 64, nil, 128, 128, nil, 256, 256, 256, 256, nil, 512, 512, 512, 512, nil, 512, 512, 512, 512, nil]
            }
        }
        /// Weight layers: convolutions plus the three fully connected ones.
        public var depth: Int { layers.compactMap { $0 }.count + 3 }
    }

    public let configuration: Configuration
    public let batchNorm: Bool

    /// `VGG(.D)` is VGG-16; `batchNorm: true` puts a batch norm after each convolution.
    public init(_ configuration: Configuration, batchNorm: Bool = false, classes: Int = 1000, dropout: Float = 0.5) {
        self.configuration = configuration
        self.batchNorm = batchNorm
        var features: [Layer] = []
        var channels = 3
        for entry in configuration.layers {
            guard let width = entry else { features.append(MaxPool2d(kernel: 2, stride: 2)); continue }
            features.append(Conv2d(channels, width, kernel: 3, padding: 1))
            if batchNorm { features.append(BatchNorm2d(width)) }
            features.append(ReLU())
            channels = width
        }
        super.init(named: [
            ("features", Sequential(features)),
            ("avgpool", AdaptiveAvgPool2d(7)),
            ("flatten", Flatten()),
            ("classifier", Sequential(
                Linear(512 * 7 * 7, 4096), ReLU(), Dropout(probability: dropout),
                Linear(4096, 4096), ReLU(), Dropout(probability: dropout),
                Linear(4096, classes))),
        ])
    }

    public override var description: String { "VGG-\(configuration.depth)" + (batchNorm ? " with batch norm" : "") }
}

/// Network in Network (Lin, Chen, Yan 2013) for CIFAR-10, the configuration of the
/// authors' Caffe model: three "mlpconv" layers, each a spatial convolution followed by
/// two 1x1 convolutions (a small multilayer perceptron sliding over the image), and global
/// average pooling of ten class maps instead of fully connected layers.
///
///     conv1 5x5, 192; cccp1 1x1, 160; cccp2 1x1, 96; maxpool 3x3/2; dropout 0.5   16x16
///     conv2 5x5, 192; cccp3 1x1, 192; cccp4 1x1, 192; avgpool 3x3/2; dropout 0.5   8x8
///     conv3 3x3, 192; cccp5 1x1, 192; cccp6 1x1, 10; global average pool           1x1
///
/// Every convolution is followed by a ReLU; pools round up (Caffe). 966,986 parameters.
public final class NetworkInNetwork: Sequential {
    public init(classes: Int = 10, inputChannels: Int = 3, dropout: Float = 0.5) {
        func mlpconv(_ names: [String], _ inChannels: Int, _ widths: [Int], kernel: Int) -> [(String, Layer)] {
            var layers: [(String, Layer)] = []
            var channels = inChannels
            for (i, (name, width)) in zip(names, widths).enumerated() {
                let k = i == 0 ? kernel : 1
                layers += [(name, Conv2d(channels, width, kernel: k, padding: k / 2)), ("relu_" + name, ReLU())]
                channels = width
            }
            return layers
        }
        super.init(named:
            mlpconv(["conv1", "cccp1", "cccp2"], inputChannels, [192, 160, 96], kernel: 5)
            + [("pool1", MaxPool2d(kernel: 3, stride: 2, ceilMode: true)), ("drop1", Dropout(probability: dropout))]
            + mlpconv(["conv2", "cccp3", "cccp4"], 96, [192, 192, 192], kernel: 5)
            + [("pool2", AvgPool2d(kernel: 3, stride: 2, ceilMode: true)), ("drop2", Dropout(probability: dropout))]
            + mlpconv(["conv3", "cccp5", "cccp6"], 192, [192, 192, classes], kernel: 3)
            + [("pool3", AdaptiveAvgPool2d(1)), ("flatten", Flatten())])
    }

    public override var description: String { "NetworkInNetwork" }
}
