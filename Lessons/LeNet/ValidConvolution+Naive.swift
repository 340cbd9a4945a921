import ConvNetCore

// LeNet's convolution, as the course defines it: a "valid" convolution (no padding,
// stride 1) of an n_H x n_W x n_C volume with n_C' filters of f x f x n_C, giving
//
//     n_H' = n_H - f + 1,   n_W' = n_W - f + 1,   n_C' = number of filters.
//
// LeNet-5 uses it three times with f = 5: C1 32x32x1 -> 28x28x6, C3 14x14x6 -> 10x10x16
// and C5 5x5x16 -> 1x1x120. This file is the definition, written to be read: seven
// nested loops in the order of the formula, generic over the scalar type so that the
// tests can check the backward pass against finite differences in Double. Its fast twin
// is ValidConvolution+Fast.swift; both must agree with the core's general
// `Naive.conv2d` (padding 0, stride 1, groups 1) and with PyTorch.

/// The sizes of a valid convolution, in the course's notation.
///
/// Input `x` is `[m, n_C, n_H, n_W]` (NCHW: a batch of `m` images), the filters are
/// `[n_C', n_C, f, f]` (PyTorch's weight layout), the biases `[n_C']`, and the output is
/// `[m, n_C', n_H - f + 1, n_W - f + 1]`.
public struct ValidConvolutionShape: Hashable, Sendable, CustomStringConvertible {
    /// The input volume: batch `m`, channels `n_C`, height `n_H`, width `n_W`.
    public var input: FeatureMapShape
    /// `n_C'`: how many filters, hence output channels.
    public var filters: Int
    /// `f`: each filter is `f x f x n_C`.
    public var kernel: Int

    public init(input: FeatureMapShape, filters: Int, kernel: Int) {
        precondition(input.batch > 0 && input.channels > 0 && filters > 0 && kernel > 0,
                     "valid convolution: sizes must be positive: input \(input), \(filters) filters of \(kernel)x\(kernel)")
        precondition(kernel <= input.height && kernel <= input.width,
                     "valid convolution: a \(kernel)x\(kernel) filter does not fit the \(input.height)x\(input.width) input \(input)")
        self.input = input
        self.filters = filters
        self.kernel = kernel
    }

    /// `n_H' = n_H - f + 1`.
    public var outHeight: Int { input.height - kernel + 1 }
    /// `n_W' = n_W - f + 1`.
    public var outWidth: Int { input.width - kernel + 1 }
    /// `[m, n_C', n_H', n_W']`.
    public var output: FeatureMapShape {
        FeatureMapShape(batch: input.batch, channels: filters, height: outHeight, width: outWidth)
    }
    /// `[n_C', n_C, f, f]`.
    public var weightShape: [Int] { [filters, input.channels, kernel, kernel] }
    public var weightCount: Int { filters * input.channels * kernel * kernel }
    /// Multiply-accumulates of one forward pass over the batch: every output value is a
    /// dot product of length `f * f * n_C`.
    public var macs: Int { output.count * input.channels * kernel * kernel }

    /// The same convolution as the core's general kernels describe it (padding 0,
    /// stride 1, groups 1), for `Naive.conv2d` / `Fast.conv2d`.
    public var geometry: Conv2DGeometry {
        Conv2DGeometry(input: input, outChannels: filters, kernel: kernel)
    }

    public var description: String {
        "valid \(kernel)x\(kernel) convolution \(input) -> \(output)"
    }
}

extension Naive {
    /// A valid convolution (stride 1, no padding), as PyTorch's `conv2d` computes it (a
    /// cross-correlation: the filter is not flipped).
    ///
    /// `x` is `[m, n_C, n_H, n_W]`, `weight` `[n_C', n_C, f, f]`, `bias` `[n_C']` (or nil),
    /// and the result `[m, n_C', n_H', n_W']`:
    ///
    ///     y[n, o, i, j] = b[o] + sum_{c < n_C} sum_{u < f} sum_{v < f} w[o, c, u, v] * x[n, c, i + u, j + v]
    ///
    /// No bounds tests are needed: with `i < n_H - f + 1` and `u < f`, `i + u < n_H`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func validConvolution<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?,
                                                                shape s: ValidConvolutionShape) -> [T] {
        checkCount(x.count, equals: s.input.count, "x \(s.input)", in: "valid convolution")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "valid convolution")
        if let bias { checkCount(bias.count, equals: s.filters, "bias [\(s.filters)]", in: "valid convolution") }
        let (nC, nH, nW, f) = (s.input.channels, s.input.height, s.input.width, s.kernel)
        let (nC2, nH2, nW2) = (s.filters, s.outHeight, s.outWidth)
        var y = [T](repeating: 0, count: s.output.count)
        for n in 0..<s.input.batch {                            // n: image of the batch
            for o in 0..<nC2 {                                  // o: filter = output channel
                for i in 0..<nH2 {                              // i: output row
                    for j in 0..<nW2 {                          // j: output column
                        var z: T = bias?[o] ?? 0                // b[o] +
                        for c in 0..<nC {                       // sum over c: input channel
                            for u in 0..<f {                    //          u: filter row
                                for v in 0..<f {                //          v: filter column
                                    let xValue = x[((n * nC + c) * nH + i + u) * nW + j + v]  // x[n, c, i+u, j+v]
                                    let wValue = weight[((o * nC + c) * f + u) * f + v]       // w[o, c, u, v]
                                    z += wValue * xValue
                                }
                            }
                        }
                        y[((n * nC2 + o) * nH2 + i) * nW2 + j] = z
                    }
                }
            }
        }
        return y
    }

    /// The gradients of `L = sum(y * dy)` for `y = validConvolution(x, weight, bias)`:
    /// with respect to `x`, `weight` and `bias`, shaped like them.
    ///
    /// The same seven loops, with the chain rule applied to the one line
    /// `z += w[o, c, u, v] * x[n, c, i + u, j + v]` (upstream `dz = dy[n, o, i, j]`):
    ///
    ///     dx[n, c, i + u, j + v] += w[o, c, u, v] * dz
    ///     dw[o, c, u, v]         += x[n, c, i + u, j + v] * dz
    ///     db[o]                  += dz                        (from z = b[o] + ...)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func validConvolutionBackward<T: BinaryFloatingPoint>(
        _ x: [T], weight: [T], outputGradient dy: [T], shape s: ValidConvolutionShape
    ) -> (input: [T], weight: [T], bias: [T]) {
        checkCount(x.count, equals: s.input.count, "x \(s.input)", in: "valid convolution backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "valid convolution backward")
        checkCount(dy.count, equals: s.output.count, "output gradient \(s.output)", in: "valid convolution backward")
        let (nC, nH, nW, f) = (s.input.channels, s.input.height, s.input.width, s.kernel)
        let (nC2, nH2, nW2) = (s.filters, s.outHeight, s.outWidth)
        var dx = [T](repeating: 0, count: x.count)
        var dw = [T](repeating: 0, count: weight.count)
        var db = [T](repeating: 0, count: nC2)
        for n in 0..<s.input.batch {                            // n: image of the batch
            for o in 0..<nC2 {                                  // o: filter = output channel
                for i in 0..<nH2 {                              // i: output row
                    for j in 0..<nW2 {                          // j: output column
                        let dz = dy[((n * nC2 + o) * nH2 + i) * nW2 + j]
                        db[o] += dz                             // dz/db[o] = 1
                        for c in 0..<nC {                       // c: input channel
                            for u in 0..<f {                    // u: filter row
                                for v in 0..<f {                // v: filter column
                                    let xIndex = ((n * nC + c) * nH + i + u) * nW + j + v
                                    let wIndex = ((o * nC + c) * f + u) * f + v
                                    dx[xIndex] += weight[wIndex] * dz
                                    dw[wIndex] += x[xIndex] * dz
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }
}
