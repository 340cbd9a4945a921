import ConvNetCore

// The LeNet lesson's exercises: write these three functions, then run
//
//     swift test --filter LeNetExercises
//
// `lesson exercise lenet --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise lenet --reset` puts them back. The graders
// (Tests/LeNetLessonTests/LeNetExercises.swift) check each against the naive kernel, the
// PyTorch fixtures and finite differences, on several shapes, odd ones included.
// Arrays are NCHW, row-major: x[n, c, i, j] is x[((n * n_C + c) * n_H + i) * n_W + j].

/// Exercise 1: the valid convolution, forward (stride 1, no padding: C1, C3, C5).
/// `x` is `[m, n_C, n_H, n_W]`, `weight` `[n_C', n_C, f, f]`, `bias` `[n_C']`; the result
/// `[m, n_C', n_H - f + 1, n_W - f + 1]` (`shape.output`).
/// Hint: y[n, o, i, j] = b[o] + sum over c < n_C, u < f, v < f of w[o, c, u, v] * x[n, c, i + u, j + v].
/// PyTorch's conv2d is a cross-correlation: do not flip the filter.
public func convolutionForward(_ x: [Double], weight: [Double], bias: [Double], shape: ValidConvolutionShape) -> [Double] {
    // EXERCISE convolutionForward BEGIN (stub: return [])
    let (nC, nH, nW, f) = (shape.input.channels, shape.input.height, shape.input.width, shape.kernel)
    let (nC2, nH2, nW2) = (shape.filters, shape.outHeight, shape.outWidth)
    var y = [Double](repeating: 0, count: shape.output.count)
    for n in 0..<shape.input.batch {
        for o in 0..<nC2 {
            for i in 0..<nH2 {
                for j in 0..<nW2 {
                    var z = bias[o]
                    for c in 0..<nC {
                        for u in 0..<f {
                            for v in 0..<f {
                                z += weight[((o * nC + c) * f + u) * f + v] * x[((n * nC + c) * nH + i + u) * nW + j + v]
                            }
                        }
                    }
                    y[((n * nC2 + o) * nH2 + i) * nW2 + j] = z
                }
            }
        }
    }
    return y
    // EXERCISE convolutionForward END
}

/// Exercise 2: the valid convolution's input gradient, dL/dx for L = sum(y * dy).
/// `dy` is `[m, n_C', n_H', n_W']`; the result is shaped like x, `[m, n_C, n_H, n_W]`.
/// Hint: every x[n, c, i + u, j + v] was multiplied by w[o, c, u, v] in y[n, o, i, j], so
/// dx[n, c, i + u, j + v] += w[o, c, u, v] * dy[n, o, i, j]: scatter, and ADD (an input
/// value feeds up to f * f outputs of every filter). Equivalently a full convolution of dy
/// with the filters turned by 180 degrees.
public func convolutionInputGradient(weight: [Double], outputGradient dy: [Double], shape: ValidConvolutionShape) -> [Double] {
    // EXERCISE convolutionInputGradient BEGIN (stub: return [])
    let (nC, nH, nW, f) = (shape.input.channels, shape.input.height, shape.input.width, shape.kernel)
    let (nC2, nH2, nW2) = (shape.filters, shape.outHeight, shape.outWidth)
    var dx = [Double](repeating: 0, count: shape.input.count)
    for n in 0..<shape.input.batch {
        for o in 0..<nC2 {
            for i in 0..<nH2 {
                for j in 0..<nW2 {
                    let g = dy[((n * nC2 + o) * nH2 + i) * nW2 + j]
                    for c in 0..<nC {
                        for u in 0..<f {
                            for v in 0..<f {
                                dx[((n * nC + c) * nH + i + u) * nW + j + v] += weight[((o * nC + c) * f + u) * f + v] * g
                            }
                        }
                    }
                }
            }
        }
    }
    return dx
    // EXERCISE convolutionInputGradient END
}

/// Exercise 3: 2x2 average pooling with stride 2, backward (S2, S4). `dy` is
/// `[m, n_C, n_H / 2, n_W / 2]`; the result is shaped like the pool's input `shape`.
/// Hint: y[n, c, i, j] is the mean of the four x[n, c, 2i + u, 2j + v] (u, v in 0...1), so
/// each of them gets dy[n, c, i, j] / 4. An odd last row or column is not in any window:
/// its gradient is 0.
public func averagePoolingBackward(outputGradient dy: [Double], shape: FeatureMapShape) -> [Double] {
    // EXERCISE averagePoolingBackward BEGIN (stub: return [])
    let (oh, ow) = (shape.height / 2, shape.width / 2)
    var dx = [Double](repeating: 0, count: shape.count)
    for n in 0..<shape.batch {
        for c in 0..<shape.channels {
            for i in 0..<oh {
                for j in 0..<ow {
                    let share = dy[((n * shape.channels + c) * oh + i) * ow + j] / 4
                    for u in 0..<2 {
                        for v in 0..<2 {
                            dx[((n * shape.channels + c) * shape.height + 2 * i + u) * shape.width + 2 * j + v] += share
                        }
                    }
                }
            }
        }
    }
    return dx
    // EXERCISE averagePoolingBackward END
}
