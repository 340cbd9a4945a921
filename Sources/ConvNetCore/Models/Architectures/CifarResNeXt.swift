// ResNeXt for small images (Xie, Girshick, Dollár, Tu, He 2017, section 5.2): the CIFAR
// template of the paper's ResNeXt-29, three stages of bottleneck blocks whose 3x3
// convolution is grouped into C paths ("cardinality"), each d channels wide ("bottleneck
// width") in the first stage and twice as wide in each stage after. The block is the
// core's `Bottleneck` (ResNet.swift) with `groups: C`; with C = 1 the same template is a
// bottleneck ResNet, the paper's baseline of the same complexity.

/// A CIFAR-style ResNeXt, read as the paper's template (ResNeXt-29, 8x64d):
///
///     conv1    3x3, stem (64)                                   32x32  (+ bn1, relu)
///     layer1   n bottlenecks: 1x1, C*d | 3x3, C*d, C groups | 1x1, widths[0] (256)   32x32
///     layer2   n bottlenecks, width C*2d, out widths[1] (512), /2                  16x16
///     layer3   n bottlenecks, width C*4d, out widths[2] (1024), /2                  8x8
///     avgpool, fc widths[2] -> classes
///
/// `depth` is 9n + 2 (three layers per block, conv1 and fc). The first block of each
/// stage has a projection shortcut (1x1 conv + bn, option B).
public final class CifarResNeXt: Sequential {
    public let depth: Int
    public let cardinality: Int
    public let bottleneckWidth: Int

    /// `cardinality` C, `bottleneckWidth` d (channels per path in the first stage),
    /// `widths` the output channels of the three stages (multiples of 4, each twice the last).
    public init(depth: Int = 29, cardinality: Int = 8, bottleneckWidth: Int = 64, stem: Int = 64,
                widths: [Int] = [256, 512, 1024], classes: Int = 10, inputChannels: Int = 3) {
        precondition(depth >= 11 && (depth - 2) % 9 == 0, "CifarResNeXt: depth must be 9n+2 (11, 20, 29, ...), got \(depth)")
        precondition(widths.count == 3 && widths[0] % 4 == 0 && widths[1] == 2 * widths[0] && widths[2] == 2 * widths[1],
                     "CifarResNeXt: three stage widths, multiples of 4, each twice the last, expected; got \(widths)")
        precondition(cardinality >= 1 && bottleneckWidth >= 1, "CifarResNeXt: cardinality and bottleneck width must be positive")
        // torchvision's Bottleneck has width Int(planes * baseWidth / 64) * groups with
        // planes = out / 4; planes doubles with each stage, so one baseWidth gives d, 2d, 4d.
        let planes0 = widths[0] / 4
        precondition((bottleneckWidth * 64) % planes0 == 0,
                     "CifarResNeXt: bottleneck width \(bottleneckWidth) is not reachable with \(widths[0]) output channels")
        let baseWidth = bottleneckWidth * 64 / planes0
        self.depth = depth
        self.cardinality = cardinality
        self.bottleneckWidth = bottleneckWidth
        let n = (depth - 2) / 9
        var layers: [(String, Layer)] = [
            ("conv1", Conv2d(inputChannels, stem, kernel: 3, padding: 1, bias: false)),
            ("bn1", BatchNorm2d(stem)),
            ("relu", ReLU()),
        ]
        var channels = stem
        for (i, width) in widths.enumerated() {
            let blocks: [Layer] = (0..<n).map { j in
                defer { channels = width }
                return Bottleneck(channels, width / 4, stride: j == 0 && i > 0 ? 2 : 1, groups: cardinality, baseWidth: baseWidth)
            }
            layers.append(("layer\(i + 1)", Sequential(blocks)))
        }
        layers += [("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(channels, classes))]
        super.init(named: layers)
    }

    public override var description: String { "CifarResNeXt(depth \(depth), \(cardinality)x\(bottleneckWidth)d)" }
}
