import ConvNetCore
import Foundation

// The networks of the lesson.
//
// GoogLeNet is the core's `GoogLeNet` (Sources/ConvNetCore/Models/Architectures/
// GoogLeNet.swift), torchvision's build with its tensor names: its `InceptionModule` is four
// branches concatenated along the channels (the core's `Concatenate` container,
// Models/Layers/Containers.swift), its auxiliary classifiers are `InceptionAux` heads on a
// `NetworkWithAuxiliaryHeads`. torchvision's branch 3 is a 3x3 convolution where the paper
// has a 5x5 (a known slip kept for its weights); `InceptionModule(..., fiveByFive: true)` is
// the paper's module, which the lesson uses wherever it compares with the paper's Table 1.
//
// What the lesson trains is a small Inception network for 16x16 digits, built here from the
// same core pieces (InceptionModule with the paper's 5x5 branch, NetworkWithAuxiliaryHeads,
// BasicConv2d), with two small auxiliary classifiers:
//
//     stem       3x3 conv, 16 (BasicConv2d: conv, batch norm, ReLU)       16x16x16
//     inc1       inception  16:  8 | 8 -> 16 | 4 -> 8 | pool -> 8         16x16x40
//     pool1      max pool 2x2                                              8x8x40
//     inc2       inception  40: 16 | 16 -> 24 | 4 -> 8 | pool -> 8          8x8x56   -> aux1
//     inc3       inception  56: 16 | 16 -> 24 | 4 -> 8 | pool -> 8          8x8x56   -> aux2
//     pool2      max pool 2x2                                              4x4x56
//     inc4       inception  56: 24 | 16 -> 32 | 4 -> 8 | pool -> 8          4x4x72
//     global average pool, fc 72 -> 10
//
//     aux head   average pool to 2x2, 1x1 conv 16 (BasicConv2d), fc 64 -> 32, ReLU, fc 32 -> 10
//
// The same net trains with the auxiliary losses weighted 0.3 (the paper's discount weight)
// and weighted 0 (the heads run but send no gradient): one architecture, one initialisation.

/// The lesson's small Inception network for 1-channel 16x16 digits, He-initialised from `seed`.
public func smallInceptionNet(seed: UInt64, classes: Int = 10) -> NetworkWithAuxiliaryHeads {
    func aux(_ channels: Int) -> Layer {
        Sequential(named: [
            ("pool", AdaptiveAvgPool2d(2)),
            ("conv", BasicConv2d(channels, 16, kernel: 1)),
            ("flatten", Flatten()),
            ("fc1", Linear(64, 32)),
            ("relu", ReLU()),
            ("fc2", Linear(32, classes)),
        ])
    }
    let net = NetworkWithAuxiliaryHeads(trunk: [
        ("stem", BasicConv2d(1, 16, kernel: 3, padding: 1)),
        ("inc1", InceptionModule(16, 8, 8, 16, 4, 8, 8, fiveByFive: true)),
        ("pool1", MaxPool2d(kernel: 2, stride: 2)),
        ("inc2", InceptionModule(40, 16, 16, 24, 4, 8, 8, fiveByFive: true)),
        ("inc3", InceptionModule(56, 16, 16, 24, 4, 8, 8, fiveByFive: true)),
        ("pool2", MaxPool2d(kernel: 2, stride: 2)),
        ("inc4", InceptionModule(56, 24, 16, 32, 4, 8, 8, fiveByFive: true)),
        ("gap", AdaptiveAvgPool2d(1)),
        ("flatten", Flatten()),
        ("fc", Linear(72, classes)),
    ], heads: [("aux1", "inc2", aux(56)), ("aux2", "inc3", aux(56))])
    net.initialize(seed: seed)
    return net
}

/// GoogLeNet's modules: name, input channels and the six widths of the paper's Table 1
/// (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), the order the core builds them in.
public let googLeNetModules: [(name: String, inChannels: Int, widths: [Int], size: Int)] = [
    ("inception3a", 192, [64, 96, 128, 16, 32, 32], 28),
    ("inception3b", 256, [128, 128, 192, 32, 96, 64], 28),
    ("inception4a", 480, [192, 96, 208, 16, 48, 64], 14),
    ("inception4b", 512, [160, 112, 224, 24, 64, 64], 14),
    ("inception4c", 512, [128, 128, 256, 24, 64, 64], 14),
    ("inception4d", 512, [112, 144, 288, 32, 64, 64], 14),
    ("inception4e", 528, [256, 160, 320, 32, 128, 128], 14),
    ("inception5a", 832, [256, 160, 320, 32, 128, 128], 7),
    ("inception5b", 832, [384, 192, 384, 48, 128, 128], 7),
]

/// What the paper reports (Szegedy et al. 2014, "Going deeper with convolutions"), printed
/// beside our counts and labelled as the paper's.
public enum InceptionPaper {
    /// Table 1: each module's parameters and operations (multiply-adds), as the paper rounds them.
    public static let table1: [String: (parameters: String, ops: String)] = [
        "inception3a": ("159K", "128M"), "inception3b": ("380K", "304M"),
        "inception4a": ("364K", "73M"), "inception4b": ("437K", "88M"), "inception4c": ("463K", "100M"),
        "inception4d": ("580K", "119M"), "inception4e": ("840K", "170M"),
        "inception5a": ("1072K", "54M"), "inception5b": ("1388K", "71M"),
    ]
    /// Table 1's whole column of parameters (thousands) and operations (millions), every row:
    /// conv1, conv2 (3x3 reduce + 3x3), the nine modules, the linear layer.
    public static let table1ParametersK: [Double] = [2.7, 112, 159, 380, 364, 437, 463, 580, 840, 1072, 1388, 1000]
    public static let table1OpsM: [Double] = [34, 360, 128, 304, 73, 88, 100, 119, 170, 54, 71, 1]
    /// Section 5: the budget "1.5 billion multiply-adds at inference time"; the auxiliary
    /// losses are "added to the total loss with a discount weight (0.3)"; ILSVRC 2014
    /// classification, top-5 error 6.67% (7 models, 144 crops).
    public static let multiplyAddBudget = "1.5 billion"
    public static let auxiliaryWeight: Float = 0.3
    public static let top5Error = 6.67
}

/// One branch of an Inception module, costed with and without its 1x1 reduction.
public struct BranchCost {
    public var branch: String
    public var layers: String
    public var outChannels: Int
    public var macs: Int
    public var parameters: Int
    /// The same branch without the 1x1 reduction (its big filter straight on the input;
    /// for the pool branch: the pooled input passed on, no projection).
    public var layersWithout: String
    public var outChannelsWithout: Int
    public var macsWithout: Int
    public var parametersWithout: Int
}

/// The cost of each branch of a module of `inChannels` at `size` x `size`, widths as in
/// Table 1 (5x5 as the paper has it), with and without the 1x1 reductions (weights only,
/// no batch norm: the paper's count).
public func branchCosts(inChannels c: Int, widths w: [Int], size: Int) -> [BranchCost] {
    func conv(_ input: Int, _ output: Int, _ k: Int) -> (macs: Int, parameters: Int) {
        let g = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: input, height: size, width: size), outChannels: output,
                               kernel: k, padding: k / 2)
        return (g.macs, g.weightCount)
    }
    let b1 = conv(c, w[0], 1)
    let r3 = conv(c, w[1], 1), c3 = conv(w[1], w[2], 3), d3 = conv(c, w[2], 3)
    let r5 = conv(c, w[3], 1), c5 = conv(w[3], w[4], 5), d5 = conv(c, w[4], 5)
    let p = conv(c, w[5], 1)
    return [
        BranchCost(branch: "1x1", layers: "1x1, \(w[0])", outChannels: w[0], macs: b1.macs, parameters: b1.parameters,
                   layersWithout: "1x1, \(w[0])", outChannelsWithout: w[0], macsWithout: b1.macs, parametersWithout: b1.parameters),
        BranchCost(branch: "3x3", layers: "1x1, \(w[1]) -> 3x3, \(w[2])", outChannels: w[2], macs: r3.macs + c3.macs,
                   parameters: r3.parameters + c3.parameters,
                   layersWithout: "3x3, \(w[2]) on \(c)", outChannelsWithout: w[2], macsWithout: d3.macs, parametersWithout: d3.parameters),
        BranchCost(branch: "5x5", layers: "1x1, \(w[3]) -> 5x5, \(w[4])", outChannels: w[4], macs: r5.macs + c5.macs,
                   parameters: r5.parameters + c5.parameters,
                   layersWithout: "5x5, \(w[4]) on \(c)", outChannelsWithout: w[4], macsWithout: d5.macs, parametersWithout: d5.parameters),
        BranchCost(branch: "pool", layers: "3x3 max pool -> 1x1, \(w[5])", outChannels: w[5], macs: p.macs, parameters: p.parameters,
                   layersWithout: "3x3 max pool (all \(c) channels)", outChannelsWithout: c, macsWithout: 0, parametersWithout: 0),
    ]
}
