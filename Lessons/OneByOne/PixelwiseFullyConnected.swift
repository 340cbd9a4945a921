import ConvNetCore
import Foundation

// A 1x1 convolution is a fully connected layer applied at every pixel.
//
// With a 1x1 kernel the convolution's seven loops lose their two kernel loops, and what
// is left, for each image n and pixel (i, j), is
//
//     y[n, o, i, j] = b[o] + sum_c W[o, c] * x[n, c, i, j]
//
// the fully connected layer y = W a + b applied to the vector a of the n_C channels at
// that pixel (the course: "each output number is the inner product of the input's channel
// slice and the filter"). So lay the feature map out as one row per pixel, a matrix of
// N * n_H * n_W rows and n_C columns, and one fully connected layer (`Naive.linear`,
// `Fast.linear`, weight [O, C]: the 1x1 kernel's [O, C, 1, 1] is the same array) computes
// the whole convolution; its backward pass gives the convolution's gradients. The
// functions below do exactly that, so the tests and the run can compare them with the
// convolution kernels (Sources/ConvNetCore/Kernels/Convolution/): forward and backward,
// bit for bit in the naive loops, which add the same products in the same order.

/// NCHW feature maps as one row per pixel, and back.
public enum PixelRows {
    /// `x` `[N, C, H, W]` as `[N * H * W, C]`: row `n * H * W + p` holds the `C` channels
    /// of pixel `p` of image `n`.
    public static func rows<T: BinaryFloatingPoint>(_ x: [T], _ s: FeatureMapShape) -> [T] {
        precondition(x.count == s.count, "PixelRows.rows: \(x.count) values for \(s)")
        var r = [T](repeating: 0, count: x.count)
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                for p in 0..<s.spatial {
                    r[(n * s.spatial + p) * s.channels + c] = x[(n * s.channels + c) * s.spatial + p]
                }
            }
        }
        return r
    }

    /// The inverse of ``rows(_:_:)``: `[N * H * W, C]` back to `[N, C, H, W]`.
    public static func maps<T: BinaryFloatingPoint>(_ r: [T], _ s: FeatureMapShape) -> [T] {
        precondition(r.count == s.count, "PixelRows.maps: \(r.count) values for \(s)")
        var x = [T](repeating: 0, count: r.count)
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                for p in 0..<s.spatial {
                    x[(n * s.channels + c) * s.spatial + p] = r[(n * s.spatial + p) * s.channels + c]
                }
            }
        }
        return x
    }
}

/// The 1x1 convolution of `x` (shape `s`) by `weight` `[O, C, 1, 1]` computed as a fully
/// connected layer at every pixel: rows, `Naive.linear`, maps.
public func pixelwiseFullyConnected<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, shape s: FeatureMapShape,
                                                           outChannels: Int) -> [T] {
    let y = Naive.linear(PixelRows.rows(x, s), weight: weight, bias: bias, batch: s.batch * s.spatial,
                         inFeatures: s.channels, outFeatures: outChannels)
    return PixelRows.maps(y, FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width))
}

/// The gradients of ``pixelwiseFullyConnected(_:weight:bias:shape:outChannels:)``:
/// `Naive.linearBackward` on the pixel rows; dx back as maps.
public func pixelwiseFullyConnectedBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T],
                                                                   shape s: FeatureMapShape, outChannels: Int)
    -> (input: [T], weight: [T], bias: [T]) {
    let out = FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width)
    let g = Naive.linearBackward(PixelRows.rows(x, s), weight: weight, outputGradient: PixelRows.rows(dy, out),
                                 batch: s.batch * s.spatial, inFeatures: s.channels, outFeatures: outChannels)
    return (PixelRows.maps(g.input, s), g.weight, g.bias)
}

/// The same with the fast fully connected layer (`Fast.linear`: one blocked GEMM), the
/// transposes to and from pixel rows included.
public func fastPixelwiseFullyConnected(_ x: [Float], weight: [Float], bias: [Float]?, shape s: FeatureMapShape,
                                        outChannels: Int) -> [Float] {
    let y = Fast.linear(PixelRows.rows(x, s), weight: weight, bias: bias, batch: s.batch * s.spatial,
                        inFeatures: s.channels, outFeatures: outChannels)
    return PixelRows.maps(y, FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width))
}

/// The gradients by `Fast.linearBackward` on pixel rows.
public func fastPixelwiseFullyConnectedBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float],
                                                shape s: FeatureMapShape, outChannels: Int)
    -> (input: [Float], weight: [Float], bias: [Float]) {
    let out = FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width)
    let g = Fast.linearBackward(PixelRows.rows(x, s), weight: weight, outputGradient: PixelRows.rows(dy, out),
                                batch: s.batch * s.spatial, inFeatures: s.channels, outFeatures: outChannels)
    return (PixelRows.maps(g.input, s), g.weight, g.bias)
}
