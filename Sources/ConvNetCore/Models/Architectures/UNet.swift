import Foundation

// U-Net (Ronneberger, Fischer and Brox 2015), built from shapes like every network here.
//
//     contracting path: at level i = 0..<depth, two 3x3 convolutions (each + ReLU) to
//         c_i = base * 2^i channels, then 2x2 max pooling (stride 2) halving n_H, n_W;
//     bottom: two 3x3 convolutions to base * 2^depth channels;
//     expansive path: at level i = depth-1 down to 0, a 2x2 up-convolution (transposed
//         convolution, stride 2) doubling n_H, n_W and HALVING the channels to c_i, the
//         contracting path's level-i map cropped to the same size and concatenated
//         ("copy and crop"), then two 3x3 convolutions to c_i;
//     head: a 1x1 convolution to the classes.
//
// The paper's convolutions are unpadded ("valid"): each loses a border pixel on every
// side, which is why the skip maps must be cropped and why a 572x572 tile gives a 388x388
// segmentation map. With depth 4, base 64, 1 input channel and 2 classes that is 23
// convolutional layers (18 3x3, 4 up-convolutions, one 1x1) and 31,030,658 parameters.
// `padding: 1` gives the 'same' variant most small U-Nets use (no crop, output = input
// size); `batchNorm` inserts BN after each 3x3 convolution (which then has no bias);
// `skips: false` drops the concatenations (a plain encoder-decoder, to see what the skip
// connections add).
//
// Tensor names: `enc0.conv1.weight`, ..., `pool0`, `bottom.conv2.bias`, `up3.weight`,
// `dec3.conv1.weight`, ..., `head.weight`.

/// U-Net: a contracting path, an expansive path and the skip connections between them.
public final class UNet: Layer {
    public let inChannels: Int
    public let classes: Int
    public let depth: Int
    public let baseChannels: Int
    /// 0: the paper's valid convolutions; 1: 'same' 3x3 convolutions.
    public let padding: Int
    public let batchNorm: Bool
    /// Whether the contracting path's maps are cropped and concatenated into the expansive path.
    public let skips: Bool
    public private(set) var encoders: [Sequential] = []
    public private(set) var pools: [MaxPool2d] = []
    public private(set) var bottom: Sequential!
    /// `ups[i]` and `decoders[i]` work at level i (applied from the deepest level up).
    public private(set) var ups: [ConvTranspose2d] = []
    public private(set) var decoders: [Sequential] = []
    public private(set) var head: Conv2d!
    private var cropGeometries: [CropConcatGeometry?] = []

    public init(inChannels: Int = 1, classes: Int = 2, depth: Int = 4, baseChannels: Int = 64, padding: Int = 0,
                batchNorm: Bool = false, skips: Bool = true) {
        precondition(inChannels > 0 && classes > 0 && depth >= 1 && baseChannels > 0 && (padding == 0 || padding == 1),
                     "UNet: inChannels, classes, baseChannels positive, depth at least 1, padding 0 or 1")
        (self.inChannels, self.classes, self.depth, self.baseChannels) = (inChannels, classes, depth, baseChannels)
        (self.padding, self.batchNorm, self.skips) = (padding, batchNorm, skips)
        super.init()
        let width = { (level: Int) in baseChannels << level }
        var channels = inChannels
        for i in 0..<depth {
            encoders.append(register("enc\(i)", doubleConv(channels, width(i))))
            pools.append(register("pool\(i)", MaxPool2d(kernel: 2, stride: 2)))
            channels = width(i)
        }
        bottom = register("bottom", doubleConv(channels, width(depth)))
        var upsAndDecoders: [(ConvTranspose2d, Sequential)] = []
        for i in (0..<depth).reversed() {
            let up = register("up\(i)", ConvTranspose2d(width(i + 1), width(i), kernel: 2, stride: 2))
            let decoder = register("dec\(i)", doubleConv(skips ? 2 * width(i) : width(i), width(i)))
            upsAndDecoders.insert((up, decoder), at: 0)
        }
        ups = upsAndDecoders.map(\.0)
        decoders = upsAndDecoders.map(\.1)
        head = register("head", Conv2d(baseChannels, classes, kernel: 1))
        cropGeometries = Array(repeating: nil, count: depth)
    }

    /// The paper's network: 1 input channel, 2 classes, depth 4, 64 to 1024 channels, valid convolutions.
    public static func paper() -> UNet { UNet() }

    private func doubleConv(_ input: Int, _ output: Int) -> Sequential {
        var layers: [(String, Layer)] = [("conv1", Conv2d(input, output, kernel: 3, padding: padding, bias: !batchNorm))]
        if batchNorm { layers.append(("bn1", BatchNorm2d(output))) }
        layers += [("relu1", ReLU()), ("conv2", Conv2d(output, output, kernel: 3, padding: padding, bias: !batchNorm))]
        if batchNorm { layers.append(("bn2", BatchNorm2d(output))) }
        layers.append(("relu2", ReLU()))
        return Sequential(named: layers)
    }

    public override var description: String {
        "UNet(depth \(depth), \(baseChannels)-\(baseChannels << depth) channels, \(padding == 0 ? "valid" : "same") 3x3"
            + (batchNorm ? ", batch norm" : "") + (skips ? "" : ", no skip connections") + ")"
    }

    /// The network's input is its first convolution's.
    public override var inputGradientRequired: Bool {
        didSet { encoders.first?.inputGradientRequired = inputGradientRequired }
    }

    private var cropKernels: KernelChoice { kernels }

    public override func forward(_ x: Tensor) -> Tensor {
        var y = x
        var skipMaps: [Tensor] = []
        for i in 0..<depth {
            y = encoders[i](y)
            skipMaps.append(y)
            y = pools[i](y)
        }
        y = bottom(y)
        for i in (0..<depth).reversed() {
            let u = ups[i](y)
            if skips {
                let g = CropConcatGeometry(skip: skipMaps[i].shape, up: u.shape)
                cropGeometries[i] = g
                let joined = cropKernels == .naive ? Naive.cropConcat(skip: skipMaps[i].data, up: u.data, geometry: g)
                                                   : Fast.cropConcat(skip: skipMaps[i].data, up: u.data, geometry: g)
                y = decoders[i](Tensor(shape: g.outputShape, data: joined))
            } else {
                y = decoders[i](u)
            }
        }
        return head(y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        var d = head.backward(outputGradient)
        var skipGradients: [Tensor?] = Array(repeating: nil, count: depth)
        for i in 0..<depth {
            d = decoders[i].backward(d)
            if skips {
                let g = cached(cropGeometries[i], "crop geometry")
                let parts = cropKernels == .naive ? Naive.cropConcatBackward(outputGradient: d.data, geometry: g)
                                                  : Fast.cropConcatBackward(outputGradient: d.data, geometry: g)
                skipGradients[i] = Tensor(shape: g.skipShape, data: parts.skip)
                d = Tensor(shape: g.upShape, data: parts.up)
            }
            d = ups[i].backward(d)
        }
        d = bottom.backward(d)
        for i in (0..<depth).reversed() {
            d = pools[i].backward(d)
            if let s = skipGradients[i] { add(into: &d, s) }   // the map went both down and across
            d = encoders[i].backward(d)
        }
        return d
    }

    public override func summarize(_ input: [Int], into trace: inout SummaryTrace) -> [Int] {
        var shape = input
        var skipShapes: [[Int]] = []
        for i in 0..<depth {
            shape = self.trace(encoders[i], shape, &trace)
            skipShapes.append(shape)
            shape = self.trace(pools[i], shape, &trace)
        }
        shape = self.trace(bottom, shape, &trace)
        for i in (0..<depth).reversed() {
            shape = self.trace(ups[i], shape, &trace)
            if skips {
                let g = CropConcatGeometry(skip: skipShapes[i], up: shape)
                trace.within("crop\(i)") {
                    $0.addRow(layer: "CropConcat(\(skipShapes[i][2])x\(skipShapes[i][3]) cropped by \(g.top) to \(g.height)x\(g.width), + \(g.upChannels) channels)",
                              output: g.outputShape, parameters: 0, macs: 0)
                }
                shape = g.outputShape
            }
            shape = self.trace(decoders[i], shape, &trace)
        }
        return self.trace(head, shape, &trace)
    }
}

/// The sizes through a U-Net of square tiles, from shapes alone.
public struct UNetTile: Equatable, Sendable {
    /// n_H (= n_W) out of each contracting level's two convolutions, level 0 first.
    public var encoderSizes: [Int]
    /// n_H out of the bottom's two convolutions.
    public var bottomSize: Int
    /// n_H out of each level's up-convolution, level 0 first.
    public var upSizes: [Int]
    /// Rows cut from each side of level i's skip map before the concatenation, level 0 first.
    public var cropOffsets: [Int]
    /// n_H of the segmentation map.
    public var outputSize: Int

    /// The sizes for an input tile of `inputSize`, or nil when the tile does not fit: a
    /// map that shrinks to nothing, or a 2x2 max pool applied to an odd size (the paper:
    /// "select the input tile size such that all 2x2 max-pooling operations are applied
    /// to a layer with an even x- and y-size").
    public init?(inputSize: Int, depth: Int, padding: Int) {
        let shrink = padding == 0 ? 4 : 0                  // two 3x3 convolutions lose 2 pixels each
        var size = inputSize
        encoderSizes = []
        for _ in 0..<depth {
            size -= shrink
            guard size > 0, size % 2 == 0 else { return nil }
            encoderSizes.append(size)
            size /= 2
        }
        size -= shrink
        guard size > 0 else { return nil }
        bottomSize = size
        upSizes = Array(repeating: 0, count: depth)
        cropOffsets = Array(repeating: 0, count: depth)
        for i in (0..<depth).reversed() {
            size *= 2
            upSizes[i] = size
            cropOffsets[i] = (encoderSizes[i] - size) / 2
            size -= shrink
            guard size > 0 else { return nil }
        }
        outputSize = size
    }
}
