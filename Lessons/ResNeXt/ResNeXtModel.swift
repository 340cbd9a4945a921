import ConvNetCore
import Foundation

// The lesson's networks are the core's (Sources/ConvNetCore/Models/Architectures/):
// - ResNet.swift: `Bottleneck` with `groups: C` is the ResNeXt block, and
//   `ResNet.resnext50_32x4d()` is ResNeXt-50 (32x4d) beside `ResNet.resnet50()`;
// - CifarResNeXt.swift: the paper's CIFAR template (ResNeXt-29), made of the same
//   Bottleneck, which with cardinality 1 is a bottleneck ResNet.
//
// A ResNeXt block aggregates C transformations of the same shape (cardinality C):
//
//     F(x) = sum_{i=1..C} T_i(x)            y = relu(x + F(x))
//
// each T_i a 1x1 (256 -> d), a 3x3 (d -> d) and a 1x1 (d -> 256). Written as one grouped
// convolution (Figure 3(c)), its weights are C*(256*d + 9*d*d + d*256): 70,144 for
// C = 32, d = 4, against 69,632 for ResNet's bottleneck with d = 64 (256*64 + 9*64*64 + 64*256).
// Same cost, but 128 channels wide in the middle instead of 64.

/// The lesson's nets for 16x16 digits: the CIFAR template with one input channel.
public enum ResNeXtNets {
    /// A CIFAR ResNeXt of `depth` (9n+2) with `cardinality` x `width`d, stem and stage widths
    /// as given, He-initialised from `seed`.
    public static func digits(depth: Int, cardinality: Int, width: Int, stem: Int, widths: [Int], seed: UInt64) -> CifarResNeXt {
        let net = CifarResNeXt(depth: depth, cardinality: cardinality, bottleneckWidth: width, stem: stem,
                               widths: widths, classes: 10, inputChannels: 1)
        net.initialize(seed: seed)
        return net
    }

    /// The bottleneck width d' of the ResNet (cardinality 1) of the same template whose
    /// parameters are nearest to the `cardinality` x `width`d ResNeXt's (the paper's
    /// comparison at equal complexity, Table 2: ResNet-50 1x64d against ResNeXt-50 32x4d).
    public static func matchingResNetWidth(depth: Int, cardinality: Int, width: Int, stem: Int, widths: [Int]) -> Int {
        func count(_ c: Int, _ d: Int) -> Int {
            CifarResNeXt(depth: depth, cardinality: c, bottleneckWidth: d, stem: stem, widths: widths,
                         classes: 10, inputChannels: 1).parameterCount
        }
        let target = count(cardinality, width)
        return (1...(cardinality * width)).min { abs(count(1, $0) - target) < abs(count(1, $1) - target) }!
    }

    /// The weights of the block's three convolutions (no batch norm): `in` -> C*d -> `out`.
    public static func blockWeights(_ block: Bottleneck) -> Int {
        [block.conv1, block.conv2, block.conv3].reduce(0) { $0 + $1.weight.trainableCount }
    }
}

/// What Xie et al. 2017 report, printed beside our runs and labelled as theirs.
public enum ResNeXtPaper {
    /// Table 3: ImageNet-1K top-1 error (%), 224x224 single crop, at the complexity of
    /// ResNet-50 (about 4.1 GFLOPs), by cardinality x bottleneck width.
    public static let table3: [(model: String, setting: String, top1: Double)] = [
        ("ResNet-50", "1 x 64d", 23.9), ("ResNeXt-50", "2 x 40d", 23.0), ("ResNeXt-50", "4 x 24d", 22.6),
        ("ResNeXt-50", "8 x 14d", 22.3), ("ResNeXt-50", "32 x 4d", 22.2),
        ("ResNet-101", "1 x 64d", 22.0), ("ResNeXt-101", "32 x 4d", 21.2),
    ]

    /// Table 1 / 2: the parameters and FLOPs (multiply-adds) the paper gives for the two nets.
    public static let complexity: [(model: String, parameters: String, flops: String)] = [
        ("ResNet-50", "25.5 x 10^6", "4.1 x 10^9"), ("ResNeXt-50 (32x4d)", "25.0 x 10^6", "4.2 x 10^9"),
    ]

    /// Table 7: CIFAR-10 test error (%) of ResNeXt-29, with the paper's parameter counts.
    public static let table7: [(model: String, cardinality: Int, width: Int, parameters: String, testError: Double)] = [
        ("ResNeXt-29, 8x64d", 8, 64, "34.4M", 3.65), ("ResNeXt-29, 16x64d", 16, 64, "68.1M", 3.58),
    ]
}
