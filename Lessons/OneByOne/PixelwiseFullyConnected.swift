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
    /// of pixel `p` of image `n` (each image's `C x HW` matrix transposed).
    public static func rows<T: BinaryFloatingPoint>(_ x: [T], _ s: FeatureMapShape) -> [T] {
        precondition(x.count == s.count, "PixelRows.rows: \(x.count) values for \(s)")
        return transposeEach(x, matrices: s.batch, rows: s.channels, columns: s.spatial)
    }

    /// The inverse of ``rows(_:_:)``: `[N * H * W, C]` back to `[N, C, H, W]`.
    public static func maps<T: BinaryFloatingPoint>(_ r: [T], _ s: FeatureMapShape) -> [T] {
        precondition(r.count == s.count, "PixelRows.maps: \(r.count) values for \(s)")
        return transposeEach(r, matrices: s.batch, rows: s.spatial, columns: s.channels)
    }

    /// `matrices` row-major `rows x columns` matrices laid end to end, each transposed.
    static func transposeEach<T: BinaryFloatingPoint>(_ a: [T], matrices: Int, rows: Int, columns: Int) -> [T] {
        var t = [T](repeating: 0, count: a.count)
        for m in 0..<matrices {
            let base = m * rows * columns
            for i in 0..<rows {
                for j in 0..<columns { t[base + j * rows + i] = a[base + i * columns + j] }
            }
        }
        return t
    }
}

/// The 1x1 convolution of `x` (shape `s`) by `weight` `[O, C, 1, 1]` computed as a fully
/// connected layer at every pixel: rows, `Naive.linear`, maps.
public func pixelwiseFullyConnected<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, shape s: FeatureMapShape,
                                                           outChannels: Int) -> [T] {
    onPixelRows(x, shape: s, outChannels: outChannels) {
        Naive.linear($0, weight: weight, bias: bias, batch: $1, inFeatures: s.channels, outFeatures: outChannels)
    }
}

/// The gradients of ``pixelwiseFullyConnected(_:weight:bias:shape:outChannels:)``:
/// `Naive.linearBackward` on the pixel rows; dx back as maps.
public func pixelwiseFullyConnectedBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T],
                                                                   shape s: FeatureMapShape, outChannels: Int)
    -> (input: [T], weight: [T], bias: [T]) {
    backwardOnPixelRows(x, dy, shape: s, outChannels: outChannels) {
        Naive.linearBackward($0, weight: weight, outputGradient: $1, batch: $2, inFeatures: s.channels, outFeatures: outChannels)
    }
}

/// The same with the fast fully connected layer (`Fast.linear`: one blocked GEMM), the
/// transposes to and from pixel rows included.
public func fastPixelwiseFullyConnected(_ x: [Float], weight: [Float], bias: [Float]?, shape s: FeatureMapShape,
                                        outChannels: Int) -> [Float] {
    onPixelRows(x, shape: s, outChannels: outChannels) {
        Fast.linear($0, weight: weight, bias: bias, batch: $1, inFeatures: s.channels, outFeatures: outChannels)
    }
}

/// The gradients by `Fast.linearBackward` on pixel rows.
public func fastPixelwiseFullyConnectedBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float],
                                                shape s: FeatureMapShape, outChannels: Int)
    -> (input: [Float], weight: [Float], bias: [Float]) {
    backwardOnPixelRows(x, dy, shape: s, outChannels: outChannels) {
        Fast.linearBackward($0, weight: weight, outputGradient: $1, batch: $2, inFeatures: s.channels, outFeatures: outChannels)
    }
}

/// `x` as pixel rows, through `linear(rows, pixels)`, back to maps of `outChannels`.
func onPixelRows<T: BinaryFloatingPoint>(_ x: [T], shape s: FeatureMapShape, outChannels: Int,
                                         _ linear: ([T], Int) -> [T]) -> [T] {
    let y = linear(PixelRows.rows(x, s), s.batch * s.spatial)
    return PixelRows.maps(y, FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width))
}

/// `x` and `dy` as pixel rows, through `backward(rows, dyRows, pixels)`; dx back as maps.
func backwardOnPixelRows<T: BinaryFloatingPoint>(_ x: [T], _ dy: [T], shape s: FeatureMapShape, outChannels: Int,
                                                 _ backward: ([T], [T], Int) -> (input: [T], weight: [T], bias: [T]))
    -> (input: [T], weight: [T], bias: [T]) {
    let out = FeatureMapShape(batch: s.batch, channels: outChannels, height: s.height, width: s.width)
    let g = backward(PixelRows.rows(x, s), PixelRows.rows(dy, out), s.batch * s.spatial)
    return (PixelRows.maps(g.input, s), g.weight, g.bias)
}
