import ConvNetCore
import Foundation

// AlexNet (Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep
// convolutional neural networks", NIPS 2012), read as the paper's Figure 2. The
// architecture is written once, in the core (`AlexNet` in Sources/ConvNetCore/Models/
// Architectures/Classic.swift, the models `lesson summary alexnet_paper_two_towers`,
// `alexnet_paper_one_tower` and `alexnet` count); this file is where the lesson reads it,
// splits a two-tower layer into its towers, and sets the paper's numbers beside ours.
//
//     layer   what it does (two towers: 48 + 48 maps, ...)     output         parameters
//     input   an RGB photograph, 227 x 227                       227 x 227 x 3
//     conv1   96 filters 11x11x3, stride 4, ReLU, LRN             55 x 55 x 96        34,944
//     pool1   max 3x3, stride 2 (overlapping)                     27 x 27 x 96
//     conv2   256 filters 5x5x48 (groups 2), pad 2, ReLU, LRN     27 x 27 x 256      307,456
//     pool2   max 3x3, stride 2                                   13 x 13 x 256
//     conv3   384 filters 3x3x256 (sees both towers), ReLU        13 x 13 x 384      885,120
//     conv4   384 filters 3x3x192 (groups 2), ReLU                13 x 13 x 384      663,936
//     conv5   256 filters 3x3x192 (groups 2), ReLU                13 x 13 x 256      442,624
//     pool5   max 3x3, stride 2                                    6 x 6 x 256
//     fc6     dropout 0.5, 9216 -> 4096, ReLU                     4096            37,752,832
//     fc7     dropout 0.5, 4096 -> 4096, ReLU                     4096            16,781,312
//     fc8     4096 -> 1000, softmax                               1000             4,097,000
//                                                                                 60,965,224
//
// The same pattern as LeNet-5 (conv-pool, conv-pool, conv..., then fully connected
// layers and a softmax), with about a thousand times the parameters, and the paper's new
// pieces: ReLU instead of tanh, two GPUs (the "towers": conv2, conv4 and conv5 see only
// the maps of their own GPU, which is a grouped convolution with groups = 2), local
// response normalisation after conv1 and conv2, max pools whose 3x3 windows overlap
// (stride 2), and dropout in the first two fully connected layers.

extension AlexNet {
    /// The paper's input, `[3, 227, 227]` (its Figure 2 says 224, but only 227 fits an
    /// 11x11 convolution of stride 4 with no padding: (227 - 11) / 4 + 1 = 55).
    public static let paperInputShape = [3, 227, 227]

    /// The `features` stage (convolutions, LRNs and pools), whose children are named
    /// "0", "1", ... as torchvision names them.
    public var features: Sequential { sequentialChild("features") }

    /// The paper's names of the layers of `features` (two-tower or one-tower paper net),
    /// by index: `conv1`, `relu1`, `lrn1`, `pool1`, `conv2`, ...
    public static let paperFeatureNames = ["conv1", "relu1", "lrn1", "pool1", "conv2", "relu2", "lrn2", "pool2",
                                           "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5"]

    /// The layer of `features` the paper calls `name` (paper variants only).
    public func paperLayer(_ name: String) -> Layer {
        guard case .paper = variant, let index = Self.paperFeatureNames.firstIndex(of: name) else {
            preconditionFailure("\(description) has no layer \(name)")
        }
        return features.layers[index]
    }

    /// The outputs of the first `count` layers of `features` for `x`, in order (the
    /// input of layer `i` is `outputs[i - 1]`, or `x` for the first).
    public func featureOutputs(_ x: Tensor, count: Int) -> [Tensor] {
        var outputs: [Tensor] = []
        var y = x
        for layer in features.layers.prefix(count) {
            y = layer(y)
            outputs.append(y)
        }
        return outputs
    }
}

/// The two towers of a grouped convolution, as the paper ran them: one half-width
/// convolution per GPU, each seeing only its own half of the input maps, their outputs
/// laid side by side.
public enum Towers {
    /// `conv` (groups G) computed as G separate convolutions: tower g has
    /// `conv.inChannels / G` input and `conv.outChannels / G` output channels and the
    /// weights `W[g * O/G ..< (g+1) * O/G]` (the same numbers, shared), runs on input
    /// channels `g * C/G ..< (g+1) * C/G` of `x` (`[N, C, H, W]`), and its output fills
    /// output channels `g * O/G ..< (g+1) * O/G`. Equal to `conv(x)` (tested).
    public static func sideBySide(_ conv: Conv2d, _ x: Tensor) -> Tensor {
        let groups = conv.groups
        let s = x.featureMapShape(for: "Towers.sideBySide")
        let (inPer, outPer) = (conv.inChannels / groups, conv.outChannels / groups)
        let weightsPer = conv.weight.value.count / groups
        var outputs: [Tensor] = []
        for g in 0..<groups {
            let tower = Conv2d(inPer, outPer, kernel: conv.kernelSize, stride: conv.stride, padding: conv.padding,
                               bias: conv.bias != nil)
            tower.kernels = conv.kernels
            tower.weight.value = Tensor(shape: tower.weight.shape,
                                        data: Array(conv.weight.value.data[g * weightsPer..<(g + 1) * weightsPer]))
            if let bias = conv.bias, let towerBias = tower.bias {
                towerBias.value = Tensor(shape: [outPer], data: Array(bias.value.data[g * outPer..<(g + 1) * outPer]))
            }
            outputs.append(tower(channels(x, s, from: g * inPer, count: inPer)))
        }
        return concatenateChannels(outputs)
    }

    /// Channels `from ..< from + count` of every image of `x`.
    static func channels(_ x: Tensor, _ s: FeatureMapShape, from: Int, count: Int) -> Tensor {
        var data: [Float] = []
        data.reserveCapacity(s.batch * count * s.spatial)
        for n in 0..<s.batch {
            let start = (n * s.channels + from) * s.spatial
            data.append(contentsOf: x.data[start..<start + count * s.spatial])
        }
        return Tensor(shape: [s.batch, count, s.height, s.width], data: data)
    }

    /// `[N, C_i, H, W]` tensors side by side along the channels.
    static func concatenateChannels(_ parts: [Tensor]) -> Tensor {
        let first = parts[0].featureMapShape(for: "Towers.concatenate")
        let channels = parts.reduce(0) { $0 + $1.shape[1] }
        var data: [Float] = []
        data.reserveCapacity(first.batch * channels * first.spatial)
        for n in 0..<first.batch {
            for part in parts {
                let per = part.shape[1] * first.spatial
                data.append(contentsOf: part.data[n * per..<(n + 1) * per])
            }
        }
        return Tensor(shape: [first.batch, channels, first.height, first.width], data: data)
    }
}

/// The small AlexNet-style network of the ReLU-versus-tanh comparison (the paper's
/// Figure 1 used "a four-layer convolutional neural network" on CIFAR-10), for 28x28
/// digits:
///
///     conv 5x5, 16 maps, pad 2   28 x 28 x 16   f     (f: ReLU or tanh)
///     max 3x3, stride 2          13 x 13 x 16
///     conv 5x5, 32 maps, pad 2   13 x 13 x 32   f
///     max 3x3, stride 2           6 x  6 x 32
///     fully connected 1152 -> 128               f
///     fully connected 128 -> 10                 (softmax)
///
/// 162,122 parameters. The two arms are the same network with the same initial weights
/// (He's scheme for both, from the same seed): only f differs.
public enum DigitNet {
    public enum Activation: String, CaseIterable, Sendable { case relu, tanh }

    public static func make(_ activation: Activation, seed: UInt64) -> Sequential {
        func f() -> Layer { activation == .relu ? ReLU() : Tanh() }
        let model = Sequential(named: [
            ("conv1", Conv2d(1, 16, kernel: 5, padding: 2)), ("act1", f()), ("pool1", MaxPool2d(kernel: 3, stride: 2)),
            ("conv2", Conv2d(16, 32, kernel: 5, padding: 2)), ("act2", f()), ("pool2", MaxPool2d(kernel: 3, stride: 2)),
            ("flatten", Flatten()), ("fc1", Linear(32 * 6 * 6, 128)), ("act3", f()), ("fc2", Linear(128, 10)),
        ])
        model.initialize(seed: seed, scheme: .he)
        model.inputGradientRequired = false
        return model
    }

    public static let inputShape = [1, 28, 28]
}

/// What the 2012 paper reports, printed beside (never as) what the run measures.
public enum AlexNetPaper {
    /// Section 3: "60 million parameters and 650,000 neurons".
    public static let parametersInWords = "60 million"
    /// Table 1: ILSVRC-2010 test set, top-1 and top-5 error of the single CNN.
    public static let top1Error = 0.375, top5Error = 0.170
    /// Figure 1: ReLUs reach 25% training error on CIFAR-10 six times faster than tanh.
    public static let reluSpeedup = 6.0, reluThreshold = 0.25

    /// The effects the paper reports that need ImageNet to measure, each with why this
    /// run cannot show it.
    public static let effects: [(effect: String, paper: String, whyNotHere: String)] = [
        ("ReLU instead of tanh (Figure 1)", "25% training error on CIFAR-10 6x sooner",
         "measured here on MNIST-5k instead, with a small net: see the comparison step"),
        ("local response normalisation (3.3)", "top-1 error -1.4%, top-5 -1.2%",
         "a difference of about 1% of ImageNet's 50,000 validation images; MNIST-5k's 1,000 held-out digits cannot resolve it"),
        ("overlapping pooling, 3x3 stride 2 (3.4)", "top-1 -0.4%, top-5 -0.3% against 2x2 stride 2",
         "a fraction of a percent on ImageNet, well inside this run's seed-to-seed spread"),
        ("PCA colour augmentation (4.1)", "top-1 error -over 1%",
         "needs ImageNet's colour statistics and 90 epochs of training"),
        ("dropout 0.5 in fc6 and fc7 (4.2)", "without it, substantial overfitting; with it, about twice the iterations",
         "needs the 60M-parameter network trained for days"),
        ("two GPUs (3.2)", "top-1 -1.7%, top-5 -1.2% against half the kernels on one GPU",
         "a comparison of trained ImageNet networks; here: the parameter count and the equivalence of the towers"),
    ]
}
