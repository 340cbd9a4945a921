import ConvNetCore

// The VGG lesson's exercises: write these two functions, then run
//
//     swift test --filter VGGExercises
//
// `lesson exercise vgg --start` blanks their bodies (the reference solutions between the
// EXERCISE markers); `lesson exercise vgg --reset` puts them back. The graders
// (Tests/VGGLessonTests/VGGExercises.swift) check them against the naive kernels,
// PyTorch's numbers and finite differences. Arrays are NCHW.

/// Exercise 1: VGG's only convolution, 3x3 with stride 1 and "same" padding 1, forward
/// (the course's conv_forward with pad = 1): `x` `[N, C, H, W]`, `weight` `[C', C, 3, 3]`,
/// `bias` `[C']`; the result `[N, C', H, W]`, as large as the input.
/// Hint: y[n, o, i, j] = b[o] + sum over c, u, v in 0..<3 of w[o, c, u, v] * x[n, c, i + u - 1, j + v - 1],
/// where x outside the image counts as 0 (the zero padding): skip those terms, do not clamp.
public func sameConvolution3x3(_ x: [Double], weight: [Double], bias: [Double], shape: FeatureMapShape, outChannels: Int) -> [Double] {
    // EXERCISE sameConvolution3x3 BEGIN (stub: return [])
    let (nC, nH, nW) = (shape.channels, shape.height, shape.width)
    var y = [Double](repeating: 0, count: shape.batch * outChannels * nH * nW)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            for i in 0..<nH {
                for j in 0..<nW {
                    var z = bias[o]
                    for c in 0..<nC {
                        for u in 0..<3 {
                            for v in 0..<3 {
                                let (row, column) = (i + u - 1, j + v - 1)
                                guard row >= 0, row < nH, column >= 0, column < nW else { continue }
                                z += weight[((o * nC + c) * 3 + u) * 3 + v] * x[((n * nC + c) * nH + row) * nW + column]
                            }
                        }
                    }
                    y[((n * outChannels + o) * nH + i) * nW + j] = z
                }
            }
        }
    }
    return y
    // EXERCISE sameConvolution3x3 END
}

/// Exercise 2: 2x2 max pooling with stride 2, backward (the course's pool_backward with a
/// mask): given the pool's input `x` `[N, C, H, W]` and dL/dy `[N, C, H/2, W/2]`, return
/// dL/dx, shaped like x.
/// Hint: only the largest value of each window reached y, so dy[n, c, i, j] goes to that one
/// x (the first of equal ones, in row order, as PyTorch picks) and every other x of the
/// window gets 0. An odd last row or column is in no window: 0.
public func maxPoolBackward(_ x: [Double], outputGradient dy: [Double], shape: FeatureMapShape) -> [Double] {
    // EXERCISE maxPoolBackward BEGIN (stub: return [])
    let (outHeight, outWidth) = (shape.height / 2, shape.width / 2)
    var dx = [Double](repeating: 0, count: x.count)
    for plane in 0..<(shape.batch * shape.channels) {
        for i in 0..<outHeight {
            for j in 0..<outWidth {
                var best = (plane * shape.height + 2 * i) * shape.width + 2 * j
                for u in 0..<2 {
                    for v in 0..<2 {
                        let index = (plane * shape.height + 2 * i + u) * shape.width + 2 * j + v
                        if x[index] > x[best] { best = index }
                    }
                }
                dx[best] += dy[(plane * outHeight + i) * outWidth + j]
            }
        }
    }
    return dx
    // EXERCISE maxPoolBackward END
}
