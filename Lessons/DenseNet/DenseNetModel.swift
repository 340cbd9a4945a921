import ConvNetCore
import Foundation

// The lesson's networks are the core's (Sources/ConvNetCore/Models/Architectures/
// DenseNet.swift, torchvision's DenseNet-BC with its tensor names): inside a dense block
//
//     x_l = H_l([x_0, x_1, ..., x_{l-1}])        H_l = BN-ReLU-Conv1x1(4k) - BN-ReLU-Conv3x3(k)
//
// so layer l sees c_0 + l k channels and adds k (the growth rate); a block of L layers
// ends with c_0 + L k. Between blocks a transition (BN-ReLU-Conv1x1, 2x2 average pool)
// compresses the channels by theta = 0.5 and halves n_H and n_W. Its memory-efficient
// path (DenseNet+SharedBuffer.swift: one shared feature buffer, recomputation in
// backward) is the second half of the lesson.

/// The ImageNet DenseNets of torchvision, by name.
public enum DenseNets {
    public static let all: [(name: String, key: String, make: () -> DenseNet)] = [
        ("DenseNet-121 (k = 32)", "densenet121", { DenseNet.densenet121() }),
        ("DenseNet-169 (k = 32)", "densenet169", { DenseNet.densenet169() }),
        ("DenseNet-201 (k = 32)", "densenet201", { DenseNet.densenet201() }),
        ("DenseNet-161 (k = 48)", "densenet161", { DenseNet.densenet161() }),
    ]

    /// Each dense block's and transition's output shape in `net` for one 224x224 image:
    /// `[("denseblock1", [1, 256, 56, 56]), ("transition1", [1, 128, 28, 28]), ...]`.
    public static func stageShapes(_ net: DenseNet) -> [(name: String, shape: [Int])] {
        guard let features = net.children.first(where: { $0.name == "features" })?.layer else { return [] }
        var shape = [1, 3, 224, 224], shapes: [(name: String, shape: [Int])] = []
        for (name, layer) in features.children {
            shape = layer.outputShape(for: shape)
            if name.hasPrefix("denseblock") || name.hasPrefix("transition") { shapes.append((name, shape)) }
        }
        return shapes
    }
}

extension DenseNets {
    /// A small DenseNet-BC for 1-channel digits, the paper's CIFAR layout (Huang et al. 2017,
    /// section 3) made of the core's blocks: a 3x3 convolution to 2k channels, three dense
    /// blocks of `layers` bottleneck layers with transitions (theta = 0.5) between them,
    /// then BN, ReLU, global average pooling and a linear classifier. He-initialised from `seed`.
    public static func digits(layers: Int, growthRate k: Int, seed: UInt64) -> Sequential {
        var stages: [(String, Layer)] = [("conv0", Conv2d(1, 2 * k, kernel: 3, padding: 1, bias: false))]
        var channels = 2 * k
        for i in 1...3 {
            let block = DenseBlock(layers: layers, inChannels: channels, growthRate: k)
            stages.append(("denseblock\(i)", block))
            channels = block.outChannels
            if i < 3 {
                stages.append(("transition\(i)", Transition(channels, channels / 2)))
                channels /= 2
            }
        }
        stages.append(("norm5", BatchNorm2d(channels)))
        let net = Sequential(named: [("features", Sequential(named: stages)), ("relu", ReLU()), ("avgpool", AdaptiveAvgPool2d(1)),
                                     ("flatten", Flatten()), ("classifier", Linear(channels, 10))])
        net.initialize(seed: seed)
        return net
    }

    /// The ResNet lesson's residual net of `depth` (6n+2, widths 8/16/32) for the same digits.
    public static func residualDigits(depth: Int, seed: UInt64) -> CifarResNet {
        let net = CifarResNet(depth: depth, widths: [8, 16, 32], classes: 10, inputChannels: 1)
        net.initialize(seed: seed)
        return net
    }
}

/// What the papers report, printed beside our runs and labelled as theirs.
public enum DenseNetPaper {
    /// Huang et al. 2017, Table 3: ImageNet top-1 error (%), single 224x224 crop.
    public static let table3: [(model: String, top1: Double)] = [
        ("DenseNet-121", 25.02), ("DenseNet-169", 23.80), ("DenseNet-201", 22.58), ("DenseNet-264", 22.15),
    ]

    /// Pleiss et al. 2017: DenseNet-BC-100 (k = 12) on CIFAR, batch 64, on a GPU: the
    /// memory of the naive implementation and of the shared-buffer one, and the time
    /// the recomputation costs.
    public static let memory = (model: "DenseNet-BC-100 (k = 12), batch 64, GPU", naiveGB: 2.86, sharedGB: 1.61,
                                extraTime: "15-20%")
}
