import ConvNetCore
import Foundation

// The lesson's networks are the core's CIFAR ResNets (Sources/ConvNetCore/Models/
// Architectures/CifarResNet.swift, He et al. 2015, section 4.2): 6n+2 layers, three stages
// of n blocks of two 3x3 convolutions, global average pooling, one linear layer. Each
// block computes the course's
//
//     a[l+2] = g(z[l+2] + a[l])        g = ReLU, z[l+2] = BN(W[l+2] g(BN(W[l+1] a[l])))
//
// and the "plain" net is the same stack without "+ a[l]". Here they are sized for
// MNIST-5k at 16x16 (widths 8/16/32, one input channel), the setting in which the
// degradation problem shows in a few epochs on a CPU (../shared/GUIDE.md).

/// The kinds of net the lesson trains.
public enum NetKind: String, Sendable, CaseIterable {
    /// No shortcuts: the paper's plain net.
    case plain
    /// Post-activation blocks with identity shortcuts (projection where the shape changes).
    case residual
    /// The shortcut multiplied by 0.5 in every block (He et al. 2016, Table 1).
    case scaled
    /// Pre-activation blocks: BN and ReLU before each convolution (He et al. 2016).
    case preActivation = "preact"

    /// "plain-56", "res-56", "scaled-56", "preact-56".
    public func label(depth: Int) -> String {
        (self == .residual ? "res" : rawValue) + "-\(depth)"
    }
}

extension CifarResNet {
    /// The lesson's net of `kind` and `depth` (6n+2) for 1-channel 16x16 digits, widths
    /// 8/16/32 (as the degradation bench cases), He-initialised from `seed`.
    public static func lessonNet(_ kind: NetKind, depth: Int, seed: UInt64, widths: [Int] = [8, 16, 32]) -> CifarResNet {
        let net = CifarResNet(depth: depth, preActivation: kind == .preActivation, residual: kind != .plain,
                              widths: widths, classes: 10, inputChannels: 1, shortcutScale: kind == .scaled ? 0.5 : 1)
        net.initialize(seed: seed)
        return net
    }

    /// The blocks in order, with their names (`layer2.0`).
    public var blocks: [(name: String, block: CifarBlock)] {
        namedLayers().compactMap { entry in (entry.layer as? CifarBlock).map { (entry.name, $0) } }
    }
}

/// What the papers report, printed beside our runs and labelled as theirs.
public enum ResNetPaper {
    /// He et al. 2015, Table 6: CIFAR-10 test error (%) of the residual nets, and their
    /// parameters (the paper's rounding). The plain nets appear only in its Figure 6:
    /// plain-56 has a higher training error than plain-20 throughout training.
    public static let table6: [(depth: Int, parameters: String, testError: Double)] = [
        (20, "0.27M", 8.75), (32, "0.46M", 7.51), (44, "0.66M", 7.17), (56, "0.85M", 6.97),
        (110, "1.7M", 6.43), (1202, "19.4M", 7.93),
    ]

    /// He et al. 2016 ("Identity mappings"), Table 1: ResNet-110 on CIFAR-10, test error
    /// (%) with each kind of shortcut ("fail": the error stayed above 20%).
    public static let table1: [(shortcut: String, testError: String)] = [
        ("original (identity)", "6.61"),
        ("constant scaling 0.5 (shortcut only)", "fail"),
        ("constant scaling 0.5 (shortcut and F)", "12.35"),
        ("exclusive gating, bias -6", "8.70"),
        ("shortcut-only gating, bias 0", "12.86"),
        ("shortcut-only gating, bias -6", "6.91"),
        ("1x1 conv shortcut", "12.22"),
        ("dropout shortcut 0.5", "fail"),
    ]

    /// He et al. 2016, Table 2: post-activation (the original) against full
    /// pre-activation, CIFAR-10 test error (%).
    public static let preActivation: [(depth: Int, original: Double, preActivation: Double)] = [
        (110, 6.61, 6.37), (164, 5.93, 5.46),
    ]
}
