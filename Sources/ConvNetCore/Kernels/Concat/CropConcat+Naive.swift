// U-Net's "copy and crop": the encoder's feature map is cropped to the centre, to the
// size of the decoder's upsampled map, and the two are concatenated along the channels
// (Ronneberger et al. 2015, Figure 1: "cropping is necessary due to the loss of border
// pixels in every convolution"). Loops in the order of the definition, generic over the
// scalar type. The fast twin is CropConcat+Fast.swift.

/// The sizes of one crop-and-concatenate: a skip map `[N, Cs, Hs, Ws]` cropped to the
/// upsampled map's `Hu x Wu` at offset (`top`, `left`) = ((Hs - Hu) / 2, (Ws - Wu) / 2),
/// rounded down, then `[skip, up]` along the channels: `[N, Cs + Cu, Hu, Wu]`.
public struct CropConcatGeometry: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var skipChannels: Int
    public var skipHeight: Int
    public var skipWidth: Int
    public var upChannels: Int
    public var height: Int
    public var width: Int

    public init(batch: Int, skipChannels: Int, skipHeight: Int, skipWidth: Int, upChannels: Int, height: Int, width: Int) {
        precondition(batch > 0 && skipChannels > 0 && upChannels > 0 && height > 0 && width > 0,
                     "CropConcat: batch, channels and sizes must be positive")
        precondition(skipHeight >= height && skipWidth >= width,
                     "CropConcat: the skip map \(skipHeight)x\(skipWidth) is smaller than the upsampled map \(height)x\(width): nothing to crop it to")
        (self.batch, self.skipChannels, self.skipHeight, self.skipWidth) = (batch, skipChannels, skipHeight, skipWidth)
        (self.upChannels, self.height, self.width) = (upChannels, height, width)
    }

    /// The geometry of `skip` and `up` shapes (both NCHW).
    public init(skip: [Int], up: [Int]) {
        precondition(skip.count == 4 && up.count == 4 && skip[0] == up[0],
                     "CropConcat: skip \(skip) and upsampled \(up) must be NCHW with the same batch")
        self.init(batch: skip[0], skipChannels: skip[1], skipHeight: skip[2], skipWidth: skip[3],
                  upChannels: up[1], height: up[2], width: up[3])
    }

    /// Rows and columns cut from the top and the left of the skip map.
    public var top: Int { (skipHeight - height) / 2 }
    public var left: Int { (skipWidth - width) / 2 }
    public var outChannels: Int { skipChannels + upChannels }
    public var skipShape: [Int] { [batch, skipChannels, skipHeight, skipWidth] }
    public var upShape: [Int] { [batch, upChannels, height, width] }
    public var outputShape: [Int] { [batch, outChannels, height, width] }
    public var description: String {
        "crop [\(batch), \(skipChannels), \(skipHeight), \(skipWidth)] at (\(top), \(left)) to \(height)x\(width), concat \(upChannels) channels"
    }
}

extension Naive {
    /// `y = cat([crop(skip), up], dim=1)`:
    ///
    ///     y[n, c, i, j]      = skip[n, c, top + i, left + j]     c < Cs
    ///     y[n, Cs + c, i, j] = up[n, c, i, j]                    c < Cu
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func cropConcat<T: BinaryFloatingPoint>(skip: [T], up: [T], geometry s: CropConcatGeometry) -> [T] {
        checkCount(skip.count, equals: s.skipShape.reduce(1, *), "skip \(s.skipShape)", in: "cropConcat")
        checkCount(up.count, equals: s.upShape.reduce(1, *), "up \(s.upShape)", in: "cropConcat")
        let (h, w, c) = (s.height, s.width, s.outChannels)
        var y = [T](repeating: 0, count: s.outputShape.reduce(1, *))
        for n in 0..<s.batch {                                      // n: image
            for ch in 0..<s.skipChannels {                          // the cropped skip channels first
                for i in 0..<h {
                    for j in 0..<w {
                        y[((n * c + ch) * h + i) * w + j] =
                            skip[((n * s.skipChannels + ch) * s.skipHeight + s.top + i) * s.skipWidth + s.left + j]
                    }
                }
            }
            for ch in 0..<s.upChannels {                            // then the upsampled channels
                for i in 0..<h {
                    for j in 0..<w {
                        y[((n * c + s.skipChannels + ch) * h + i) * w + j] = up[((n * s.upChannels + ch) * h + i) * w + j]
                    }
                }
            }
        }
        return y
    }

    /// The gradients of ``cropConcat(skip:up:geometry:)``: `dy` split along the channels;
    /// the skip's part put back at its place in the uncropped map, zero on the border the
    /// crop cut off (those pixels did not reach y).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func cropConcatBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], geometry s: CropConcatGeometry) -> (skip: [T], up: [T]) {
        checkCount(dy.count, equals: s.outputShape.reduce(1, *), "output gradient \(s.outputShape)", in: "cropConcat backward")
        let (h, w, c) = (s.height, s.width, s.outChannels)
        var dSkip = [T](repeating: 0, count: s.skipShape.reduce(1, *))
        var dUp = [T](repeating: 0, count: s.upShape.reduce(1, *))
        for n in 0..<s.batch {
            for ch in 0..<s.skipChannels {
                for i in 0..<h {
                    for j in 0..<w {
                        dSkip[((n * s.skipChannels + ch) * s.skipHeight + s.top + i) * s.skipWidth + s.left + j] =
                            dy[((n * c + ch) * h + i) * w + j]
                    }
                }
            }
            for ch in 0..<s.upChannels {
                for i in 0..<h {
                    for j in 0..<w {
                        dUp[((n * s.upChannels + ch) * h + i) * w + j] = dy[((n * c + s.skipChannels + ch) * h + i) * w + j]
                    }
                }
            }
        }
        return (dSkip, dUp)
    }
}
