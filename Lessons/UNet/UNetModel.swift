import ConvNetCore
import Foundation

// The lesson's networks are the core's UNet (Sources/ConvNetCore/Models/Architectures/
// UNet.swift): the paper's, counted from its shapes, and a small one that trains on digits
// in a minute:
//
//     the paper's: depth 4, 64-128-256-512-1024 channels, valid 3x3 convolutions, 572 -> 388
//     the digits': depth 2, 16-32-64 channels, 'same' 3x3 convolutions with batch norm, 40 -> 40,
//                  with its skip connections (a U-Net) or without them (an encoder-decoder)

/// The lesson's networks.
public enum UNetModels {
    /// The small U-Net of the digit composites: `classes` outputs, widths `width`, 2`width`,
    /// 4`width`, with or without the skip connections, He-initialised from `seed`.
    public static func digits(width: Int, skips: Bool, classes: Int = DigitComposites.classes, seed: UInt64) -> UNet {
        let net = UNet(inChannels: 1, classes: classes, depth: 2, baseChannels: width, padding: 1, batchNorm: true, skips: skips)
        net.initialize(seed: seed)
        net.inputGradientRequired = false
        return net
    }

    /// Convolutional layers (3x3, 1x1 and up-convolutions) of a network.
    public static func convolutionLayers(_ net: Layer) -> (total: Int, threeByThree: Int, upConvolutions: Int, oneByOne: Int) {
        let convs = net.namedLayers().compactMap { $0.layer as? Conv2d }
        let ups = net.namedLayers().filter { $0.layer is ConvTranspose2d }.count
        let three = convs.filter { $0.kernelSize == (3, 3) }.count
        let one = convs.filter { $0.kernelSize == (1, 1) }.count
        return (convs.count + ups, three, ups, one)
    }
}

/// What the paper reports, printed beside our runs and labelled as theirs.
public enum UNetPaper {
    /// Ronneberger et al. 2015, Figure 1 and section 2.
    public static let convolutionLayers = 23
    public static let inputSize = 572
    public static let outputSize = 388
    /// The paper's Figure 1: the sizes of the contracting path's maps (after their two
    /// convolutions) and of the expansive path's up-convolutions, level 0 first.
    public static let encoderSizes = [568, 280, 136, 64]
    public static let bottomSize = 28
    public static let upSizes = [392, 200, 104, 56]
    /// Table 2 (ISBI cell tracking challenge 2015): intersection over union of U-Net.
    public static let cellTrackingIoU: [(dataset: String, iou: Double)] = [("PhC-U373", 0.9203), ("DIC-HeLa", 0.7756)]
    /// Table 1 (EM segmentation challenge): U-Net's warping and Rand errors.
    public static let emWarpingError = 0.000353
    public static let emRandError = 0.0382
}
