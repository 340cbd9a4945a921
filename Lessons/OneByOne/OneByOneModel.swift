import ConvNetCore
import Foundation

// The networks of the lesson.
//
// The full-size Network in Network (Lin, Chen, Yan 2013) is the core's
// `NetworkInNetwork` (Sources/ConvNetCore/Models/Architectures/Classic.swift): three
// mlpconv layers, each a spatial convolution followed by two 1x1 convolutions, then global
// average pooling of ten class maps. ResNet-50, whose 256 -> 64 1x1 layer the lesson races,
// is the core's `ResNet.resnet50()` (ResNet.swift), and GoogLeNet, whose inception 3a holds
// the course's 28x28x192 -> 5x5 -> 28x28x32 example, the core's `GoogLeNet` (GoogLeNet.swift).
//
// What the lesson trains is the same idea at the size of 16x16 digits, built here from the
// core's layers (Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear), against a plain
// convolutional net of about the same number of parameters:
//
//     NiN-small                                   plain-small
//     conv 5x5, 16  + 1x1, 16 + 1x1, 16  16x16    conv 5x5, 16            16x16
//     max pool 2x2                         8x8    max pool 2x2             8x8
//     conv 5x5, 32  + 1x1, 32 + 1x1, 32    8x8    conv 5x5, 32             8x8
//     max pool 2x2                         4x4    max pool 2x2             4x4
//     conv 3x3, 32  + 1x1, 32 + 1x1, 10    4x4    conv 3x3, 32             4x4
//     global average pool: 10 class maps   1x1    flatten 512, fc -> 10
//
// Every convolution is followed by a ReLU except the last 1x1 (its ten maps are averaged
// into the logits). The plain net has the same spatial convolutions and no 1x1 layers, and
// ends with the fully connected layer that NiN's global average pooling replaces.

/// The two nets the lesson trains.
public enum SmallNet: String, Sendable, CaseIterable {
    /// mlpconv layers (a conv followed by two 1x1 convs) and global average pooling.
    case nin
    /// The same spatial convolutions, no 1x1 layers, a fully connected classifier.
    case plain

    /// "NiN-small", "plain-small".
    public var label: String { self == .nin ? "NiN-small" : "plain-small" }

    /// The net for 1-channel `size` x `size` digits (size divisible by 4), He-initialised
    /// from `seed`.
    public func build(size: Int = 16, classes: Int = 10, seed: UInt64) -> Sequential {
        precondition(size % 4 == 0 && size >= 4, "SmallNet: the input size must be a multiple of 4, got \(size)")
        var layers: [(String, Layer)] = []
        /// A spatial convolution and, for NiN, the two 1x1 convolutions of its micro-network.
        func block(_ index: Int, _ inChannels: Int, _ width: Int, kernel: Int, last: Int? = nil) {
            layers.append(("conv\(index)", Conv2d(inChannels, width, kernel: kernel, padding: kernel / 2)))
            layers.append(("relu\(index)", ReLU()))
            guard self == .nin else { return }
            let outs = [width, last ?? width]
            for (k, out) in outs.enumerated() {
                let name = "cccp\(2 * index - 1 + k)"
                layers.append((name, Conv2d(width, out, kernel: 1)))
                if k == 0 || last == nil { layers.append(("relu_" + name, ReLU())) }
            }
        }
        block(1, 1, 16, kernel: 5)
        layers.append(("pool1", MaxPool2d(kernel: 2, stride: 2)))
        block(2, 16, 32, kernel: 5)
        layers.append(("pool2", MaxPool2d(kernel: 2, stride: 2)))
        block(3, 32, 32, kernel: 3, last: self == .nin ? classes : nil)
        if self == .nin {
            layers += [("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten())]
        } else {
            layers += [("flatten", Flatten()), ("fc", Linear(32 * (size / 4) * (size / 4), classes))]
        }
        let net = Sequential(named: layers)
        net.initialize(seed: seed)
        return net
    }
}

/// What the paper and the course report, printed beside our runs and labelled as theirs.
public enum OneByOnePaper {
    /// Lin, Chen, Yan 2013 ("Network In Network"), test error (%) of NIN as published
    /// (Tables 1-4): CIFAR-10 with dropout, and with data augmentation; CIFAR-100; SVHN; MNIST.
    public static let testErrors: [(dataset: String, error: Double)] = [
        ("CIFAR-10, NIN + dropout", 10.41),
        ("CIFAR-10, NIN + dropout + data augmentation", 8.81),
        ("CIFAR-100, NIN + dropout", 35.68),
        ("SVHN, NIN + dropout", 2.35),
        ("MNIST, NIN + dropout", 0.47),
    ]

    /// The course's example (the Inception lecture): 28x28x192 -> 5x5 "same" conv, 32 filters
    /// -> 28x28x32, directly and through a 16-channel 1x1 bottleneck; the multiplies it
    /// states ("120M" and "12.4M").
    public static let course = (height: 28, width: 28, inChannels: 192, bottleneck: 16, outChannels: 32, kernel: 5)
    public static let courseMultipliesDirect = 120_422_400
    public static let courseMultipliesBottleneck = (first: 2_408_448, second: 10_035_200, total: 12_443_648)
}

/// The geometries of the course's example at batch `batch`: the 5x5 convolution straight on
/// the 192 channels, and the bottleneck's 1x1 (192 -> 16) then 5x5 (16 -> 32).
public func courseGeometries(batch: Int = 1) -> (direct: Conv2DGeometry, reduce: Conv2DGeometry, wide: Conv2DGeometry) {
    let c = OneByOnePaper.course
    let input = FeatureMapShape(batch: batch, channels: c.inChannels, height: c.height, width: c.width)
    let reduced = FeatureMapShape(batch: batch, channels: c.bottleneck, height: c.height, width: c.width)
    return (Conv2DGeometry(input: input, outChannels: c.outChannels, kernel: c.kernel, padding: c.kernel / 2),
            Conv2DGeometry(input: input, outChannels: c.bottleneck, kernel: 1),
            Conv2DGeometry(input: reduced, outChannels: c.outChannels, kernel: c.kernel, padding: c.kernel / 2))
}
