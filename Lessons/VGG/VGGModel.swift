import ConvNetCore
import Foundation

// VGG (Simonyan and Zisserman, "Very deep convolutional networks for large-scale image
// recognition", ICLR 2015), read as the paper's Table 1. The architecture is written once,
// in the core (`VGG` in Sources/ConvNetCore/Models/Architectures/Classic.swift, the models
// `lesson summary vgg11 ... vgg19` count); this file is where the lesson reads it, measures
// receptive fields, and sets the paper's numbers beside ours.
//
// VGG-16 (configuration D), on a 224 x 224 RGB image; every convolution is 3x3, stride 1,
// padding 1 ("same"), followed by a ReLU; every pool is a 2x2 max pool of stride 2:
//
//     stage   layers                  output           parameters
//     1       (CONV 64) x 2, POOL     112 x 112 x 64       38,720
//     2       (CONV 128) x 2, POOL     56 x  56 x 128     221,440
//     3       (CONV 256) x 3, POOL     28 x  28 x 256   1,475,328
//     4       (CONV 512) x 3, POOL     14 x  14 x 512   5,899,776
//     5       (CONV 512) x 3, POOL      7 x   7 x 512   7,079,424
//     FC      25088 -> 4096 -> 4096 -> 1000             123,642,856
//                                                       138,357,544
//
// n_H and n_W halve at every pool while n_C doubles (64 -> 128 -> 256 -> 512), very
// systematically: few hyperparameters, the course says, and 138M parameters, 89% of them in
// the fully connected layers. Why only 3x3: two stacked 3x3 convolutions see a 5x5 window
// of the input (three see 7x7) with 2 x 9 C^2 = 18 C^2 weights instead of 25 C^2 (27 C^2
// instead of 49 C^2), and a ReLU between them.

extension VGG {
    /// The paper's input, `[3, 224, 224]`.
    public static let paperInputShape = [3, 224, 224]

    /// The `features` stage (convolutions, ReLUs and pools), children named "0", "1", ...
    public var features: Sequential { sequentialChild("features") }

    /// The paper's names of the layers of `features` (no batch norm), by index: `conv1_1`,
    /// `relu1_1`, `conv1_2`, `relu1_2`, `pool1`, `conv2_1`, ...
    public static func layerNames(_ configuration: Configuration) -> [String] {
        var names: [String] = []
        var (stage, index) = (1, 1)
        for entry in configuration.layers {
            if entry == nil {
                names.append("pool\(stage)")
                (stage, index) = (stage + 1, 1)
            } else {
                names += ["conv\(stage)_\(index)", "relu\(stage)_\(index)"]
                index += 1
            }
        }
        return names
    }

    /// The index in `features` of the layer the paper calls `name` (no batch norm).
    public func featureIndex(_ name: String) -> Int {
        guard !batchNorm, let index = Self.layerNames(configuration).firstIndex(of: name) else {
            preconditionFailure("\(description) has no layer \(name)")
        }
        return index
    }
}

/// Receptive fields: how much of the input one output pixel sees.
public enum ReceptiveField {
    /// After each layer of a chain of (kernel, stride) layers: the side `r` of the input
    /// window one output pixel sees, from `r = 1`, jump `j = 1` (input pixels between
    /// neighbouring outputs): `r += (k - 1) * j`, then `j *= s`. Two 3x3 convolutions of
    /// stride 1 give 3, 5; three give 3, 5, 7.
    public static func computed(_ layers: [(kernel: Int, stride: Int)]) -> [Int] {
        var (r, j) = (1, 1)
        return layers.map { layer in
            r += (layer.kernel - 1) * j
            j *= layer.stride
            return r
        }
    }

    /// The (kernel, stride) of every convolution and pool of `layers` (others: (1, 1)).
    public static func geometry(of layers: [Layer]) -> [(kernel: Int, stride: Int)] {
        layers.map { layer in
            if let conv = layer as? Conv2d { return (conv.kernelSize.height, conv.stride.height) }
            if let pool = layer as? MaxPool2d { return (pool.kernelSize.height, pool.stride.height) }
            return (1, 1)
        }
    }

    /// Measured by back-propagation: a stack of `count` convolutions (kernel `kernel`,
    /// stride 1, "same" padding, `channels` channels, weights drawn from `seed` and made
    /// positive so that no sum can cancel), input `[1, channels, side, side]`; the
    /// gradient of the centre output pixel (summed over channels) with respect to the
    /// input is nonzero exactly on the pixels that pixel sees. Returns the side of the
    /// nonzero square and the gradient's magnitude, summed over channels (`[side * side]`).
    public static func measured(convolutions count: Int, kernel: Int, channels: Int = 2, side: Int = 15,
                                seed: UInt64 = 1) -> (side: Int, gradient: [Float]) {
        let stack = Sequential((0..<count).map { _ in
            Conv2d(channels, channels, kernel: kernel, padding: kernel / 2) as Layer
        })
        stack.initialize(seed: seed)
        for p in stack.parameters { p.value = Tensor(shape: p.shape, data: p.value.data.map { abs($0) + 0.01 }) }
        var g = SeededGenerator(seed: seed)
        let x = Tensor.randomNormal([1, channels, side, side], using: &g)
        let y = stack(x)
        var dy = Tensor(shape: y.shape)
        let centre = (side / 2) * side + side / 2
        for c in 0..<channels { dy.data[c * side * side + centre] = 1 }
        let dx = stack.backward(dy)
        var magnitude = [Float](repeating: 0, count: side * side)
        for c in 0..<channels {
            for p in 0..<side * side { magnitude[p] += abs(dx.data[c * side * side + p]) }
        }
        let rows = (0..<side).filter { r in (0..<side).contains { magnitude[r * side + $0] != 0 } }
        let columns = (0..<side).filter { q in (0..<side).contains { magnitude[$0 * side + q] != 0 } }
        let extent = max((rows.last ?? -1) - (rows.first ?? 0) + 1, (columns.last ?? -1) - (columns.first ?? 0) + 1)
        return (max(0, extent), magnitude)
    }
}

/// The small VGG-style networks of the comparison on 28x28 digits: the same receptive
/// field per stage, built from 3x3 stacks or from single 5x5 convolutions.
///
///     threeByThree                            fiveByFive
///     conv 3x3, 16; ReLU; conv 3x3, 16; ReLU  conv 5x5, 16; ReLU       28 x 28 x 16
///     max 2x2                                 max 2x2                  14 x 14 x 16
///     conv 3x3, 32; ReLU; conv 3x3, 32; ReLU  conv 5x5, 32; ReLU       14 x 14 x 32
///     max 2x2                                 max 2x2                   7 x  7 x 32
///     fully connected 1568 -> 10              fully connected 1568 -> 10
///
/// Each stage sees a 5x5 window of its input either way. The 3x3 pairs keep their width
/// only in the second convolution (16 -> 16, 32 -> 32), where they save 18 C^2 against
/// 25 C^2; the first of each pair changes it (1 -> 16, 16 -> 32) and costs extra: 32,058
/// parameters against 28,938 (tested).
public enum DigitVGG {
    public enum Kind: String, CaseIterable, Sendable {
        case threeByThree = "3x3 stacks", fiveByFive = "5x5"
    }

    public static func make(_ kind: Kind, seed: UInt64) -> Sequential {
        var layers: [(String, Layer)] = []
        var channels = 1
        for (stage, width) in [16, 32].enumerated() {
            switch kind {
            case .threeByThree:
                layers += [("conv\(stage + 1)_1", Conv2d(channels, width, kernel: 3, padding: 1)), ("relu\(stage + 1)_1", ReLU()),
                           ("conv\(stage + 1)_2", Conv2d(width, width, kernel: 3, padding: 1)), ("relu\(stage + 1)_2", ReLU())]
            case .fiveByFive:
                layers += [("conv\(stage + 1)", Conv2d(channels, width, kernel: 5, padding: 2)), ("relu\(stage + 1)", ReLU())]
            }
            layers.append(("pool\(stage + 1)", MaxPool2d(kernel: 2, stride: 2)))
            channels = width
        }
        layers += [("flatten", Flatten()), ("fc", Linear(32 * 7 * 7, 10))]
        let model = Sequential(named: layers)
        model.initialize(seed: seed, scheme: .he)
        model.inputGradientRequired = false
        return model
    }

    public static let inputShape = [1, 28, 28]
}

/// What the 2015 paper reports, printed beside (never as) what the run measures.
public enum VGGPaper {
    /// Table 2: parameters in millions, by configuration.
    public static let millionsOfParameters: [VGG.Configuration: Int] = [.A: 133, .B: 133, .D: 138, .E: 144]

    /// Table 3 (single test scale, training and test scale 256): top-1 and top-5
    /// validation error.
    public static let singleScaleErrors: [(configuration: String, top1: Double, top5: Double)] = [
        ("A (11 layers)", 0.296, 0.104), ("A-LRN (A with LRN)", 0.297, 0.105), ("B (13)", 0.287, 0.099),
        ("D (16)", 0.270, 0.088), ("E (19)", 0.273, 0.090),
    ]

    /// Section 4.1, on B against a shallow net with each pair of 3x3 layers replaced by
    /// one 5x5: "the top-1 error of the shallow net was measured to be 7% higher".
    public static let shallowFiveByFiveTop1Increase = 0.07

    /// Section 2.3: three 3x3 layers have 27 C^2 weights, one 7x7 layer 49 C^2, "81% more".
    public static let sevenBySevenExtra = 0.81

    /// ILSVRC-2014: 7.3% top-5 test error with an ensemble of 7 nets (2nd in classification);
    /// 6.8% after the submission with 2.
    public static let ensembleTop5 = 0.073, twoNetTop5 = 0.068
}
