// Wide residual networks (Zagoruyko and Komodakis 2016) on CIFAR: WRN-d-k.
//
//     conv1    3x3, 16                       32x32
//     group1   n blocks, 16k filters         32x32
//     group2   n blocks, 32k filters, /2     16x16
//     group3   n blocks, 64k filters, /2      8x8
//     bn, relu, avgpool, fc 64k -> 10        n = (d - 4) / 6
//
// Each block is the pre-activation CIFAR block (BN-ReLU-conv3x3-BN-ReLU-conv3x3, a 1x1
// projection where the width or size changes): the core's CifarBlock. Unlike CifarResNet,
// whose first convolution already has the first stage's width, the first convolution keeps
// 16 filters, so the first block of group 1 widens 16 -> 16k through a projection; the
// depth d counts the convolutions of the main path, 6n + 1 (+ 1 for the classifier), plus
// the projections' layers as the paper counts them (d = 6n + 4).

/// WRN-d-k for CIFAR: `CifarWideResNet(depth: 28, k: 10)` has 36,479,194 parameters (the
/// paper's 36.5M). Tensor names follow CifarResNet's (`layer1.0.conv1.weight`).
public final class CifarWideResNet: Sequential {
    public let depth: Int
    public let k: Int

    public init(depth: Int, k: Int, classes: Int = 10, inputChannels: Int = 3) {
        precondition(depth >= 10 && (depth - 4) % 6 == 0, "CifarWideResNet: depth must be 6n+4 (10, 16, 22, 28, 40, ...), got \(depth)")
        precondition(k >= 1, "CifarWideResNet: widening factor must be at least 1, got \(k)")
        self.depth = depth
        self.k = k
        let n = (depth - 4) / 6
        var layers: [(String, Layer)] = [("conv1", Conv2d(inputChannels, 16, kernel: 3, padding: 1, bias: false))]
        var channels = 16
        for (i, width) in [16 * k, 32 * k, 64 * k].enumerated() {
            let blocks: [Layer] = (0..<n).map { j in
                defer { channels = width }
                return CifarBlock(channels, width, stride: j == 0 && i > 0 ? 2 : 1, preActivation: true)
            }
            layers.append(("layer\(i + 1)", Sequential(blocks)))
        }
        layers += [("bn_final", BatchNorm2d(channels)), ("relu", ReLU()),
                   ("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(channels, classes))]
        super.init(named: layers)
    }

    public override var description: String { "CifarWideResNet(WRN-\(depth)-\(k))" }
}
