import ConvNetCore
import Foundation

// The lesson's networks, all from the core:
// - the ResNet lesson's CIFAR ResNets sized for 16x16 digits (CifarResNet: 6n+2 layers,
//   post-activation, widths 8/16/32, one input channel), trained with and without
//   stochastic depth (StochasticDepthResNet: the same layout, tensor names and weights);
// - a wide shallow CIFAR ResNet (6n+2 layers with few blocks and wide stages) of about the
//   thin deep one's parameters;
// - the paper's Wide ResNets WRN-d-k (the core's CifarWideResNet: pre-activation blocks
//   of 16k/32k/64k filters after a 16-filter first convolution), counted, never trained;
// - thin fully connected plain, highway and residual nets (ThinNet) for the highway
//   experiment on 28x28 digits.

enum RegularizersNets {
    /// The ResNet lesson's residual net of `depth` (6n+2) for 1-channel digits, He-initialised.
    static func residual(depth: Int, widths: [Int], seed: UInt64) -> CifarResNet {
        CifarResNet(depth: depth, widths: widths, classes: 10, inputChannels: 1).initialize(seed: seed)
    }

    /// The same net, trained with stochastic depth (same seed: same weights; `seed` also
    /// seeds the dice of the dropped blocks).
    static func stochastic(depth: Int, widths: [Int], lastSurvival: Double, seed: UInt64) -> StochasticDepthResNet {
        StochasticDepthResNet(depth: depth, widths: widths, classes: 10, inputChannels: 1, lastSurvival: lastSurvival,
                              seed: seed ^ 0xD1CE).initialize(seed: seed)
    }

    static func parameters(depth: Int, widths: [Int]) -> Int {
        CifarResNet(depth: depth, widths: widths, classes: 10, inputChannels: 1).parameterCount
    }

    /// Stage widths w, 2w, 4w of a `depth`-layer net whose parameters are nearest `target`.
    static func wideWidths(depth: Int, matching target: Int) -> [Int] {
        (4...96).map { [$0, 2 * $0, 4 * $0] }.min { abs(parameters(depth: depth, widths: $0) - target) < abs(parameters(depth: depth, widths: $1) - target) }!
    }

    /// WRN-d-k on CIFAR (3 channels, 10 classes; the core's CifarWideResNet), built from
    /// shapes only (no weights).
    static func wideResNet(depth: Int, k: Int) -> CifarWideResNet { CifarWideResNet(depth: depth, k: k) }
}

/// What the papers report, printed beside our runs and labelled as theirs.
enum RegularizersPaper {
    /// Zagoruyko and Komodakis 2016 (arXiv 1605.07146v4), Table 5: CIFAR-10 and CIFAR-100
    /// test error (%), flip/translation augmentation, mean/std normalisation, no dropout;
    /// "depth-k" and "#params" as printed there (nil: not given). WRN rows are the median
    /// of 5 runs. The 4.64 in brackets for pre-act-ResNet-1001 is at batch 64.
    static let table5: [(model: String, depthK: String?, parameters: String?, cifar10: String, cifar100: String)] = [
        ("NIN", nil, nil, "8.81", "35.67"),
        ("DSN", nil, nil, "8.22", "34.57"),
        ("FitNet", nil, nil, "8.39", "35.04"),
        ("Highway", nil, nil, "7.72", "32.39"),
        ("ELU", nil, nil, "6.55", "24.28"),
        ("original-ResNet", "110", "1.7M", "6.43", "25.16"),
        ("original-ResNet", "1202", "10.2M", "7.93", "27.82"),
        ("stoc-depth", "110", "1.7M", "5.23", "24.58"),
        ("stoc-depth", "1202", "10.2M", "4.91", "-"),
        ("pre-act-ResNet", "110", "1.7M", "6.37", "-"),
        ("pre-act-ResNet", "164", "1.7M", "5.46", "24.33"),
        ("pre-act-ResNet", "1001", "10.2M", "4.92 (4.64)", "22.71"),
        ("WRN", "40-4", "8.9M", "4.53", "21.18"),
        ("WRN", "16-8", "11.0M", "4.27", "20.43"),
        ("WRN", "28-10", "36.5M", "4.00", "19.25"),
    ]

    /// Huang et al. 2016, Table 1 (test error %, 110-layer ResNet, "+": standard augmentation;
    /// SVHN: a 152-layer net) and Table 2 (training clock time).
    static let stochasticDepth: [(data: String, constant: String, stochastic: String, constantTime: String, stochasticTime: String)] = [
        ("CIFAR-10+", "6.41", "5.25", "20h 42m", "15h 7m"),
        ("SVHN", "1.80", "1.75", "33h 43m", "25h 33m"),
    ]

    /// Srivastava et al. 2015, section 3.1 (Figure 1), in words: 10- and 20-layer plain nets
    /// reach a mean training loss below 1e-4, which degrades as depth grows; 50- and 100-layer
    /// highway nets perform like 10- and 20-layer ones; the 100-layer highway net did more
    /// than two orders of magnitude better than the plain one of about the same size.
    static let highwayFinding = "10- and 20-layer plain nets reach a mean training loss below 1e-4, which degrades as depth grows;"
        + " 50- and 100-layer highway nets perform similar to 10- and 20-layer ones; the 100-layer highway net did more than two"
        + " orders of magnitude better than a similarly sized plain net (Srivastava et al. 2015, section 3.1 and Figure 1;"
        + " MNIST, 60,000 digits, each net's hyperparameters from a random search of 100 runs)"
}
