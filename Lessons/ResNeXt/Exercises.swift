import ConvNetCore

// The ResNeXt lesson's exercises: write these two functions, then run
//
//     swift test --filter ResNeXtExercises
//
// `lesson exercise resnext --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise resnext --reset` puts them back. The graders
// (Tests/ResNeXtLessonTests/ResNeXtExercises.swift) check them against the naive grouped
// convolution, PyTorch's numbers and finite differences. Arrays are NCHW.

/// Exercise 1: a grouped convolution, forward, stride 1 with zero padding `padding`: `x`
/// `[N, C, H, W]`, `weight` `[C', C / groups, k, k]`, no bias; the result
/// `[N, C', H + 2p - k + 1, W + 2p - k + 1]`. The C input channels are split into `groups`
/// groups of C / groups, the C' filters likewise, and filter o sees only its own group's
/// input channels (form (c) of the ResNeXt block; `groups` = C is a depthwise convolution).
/// Hint: filter o belongs to group g = o / (C' / groups) and reads input channels
/// g * (C / groups) + c for c in 0..<C / groups, while its weights are w[o, c, u, v] with
/// that SAME local c: y[n, o, i, j] = sum over c, u, v of w[o, c, u, v] * x[n, g * C/groups + c, i + u - p, j + v - p].
public func groupedConvolution(_ x: [Double], weight: [Double], shape: FeatureMapShape, outChannels: Int,
                               groups: Int, kernel: Int, padding: Int) -> [Double] {
    // EXERCISE groupedConvolution BEGIN (stub: return [])
    let (nH, nW) = (shape.height, shape.width)
    let (outH, outW) = (nH + 2 * padding - kernel + 1, nW + 2 * padding - kernel + 1)
    let (inPerGroup, outPerGroup) = (shape.channels / groups, outChannels / groups)
    var y = [Double](repeating: 0, count: shape.batch * outChannels * outH * outW)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            let firstInput = (o / outPerGroup) * inPerGroup
            for i in 0..<outH {
                for j in 0..<outW {
                    var z = 0.0
                    for c in 0..<inPerGroup {
                        for u in 0..<kernel {
                            for v in 0..<kernel {
                                let (row, column) = (i + u - padding, j + v - padding)
                                guard row >= 0, row < nH, column >= 0, column < nW else { continue }
                                z += weight[((o * inPerGroup + c) * kernel + u) * kernel + v]
                                    * x[((n * shape.channels + firstInput + c) * nH + row) * nW + column]
                            }
                        }
                    }
                    y[((n * outChannels + o) * outH + i) * outW + j] = z
                }
            }
        }
    }
    return y
    // EXERCISE groupedConvolution END
}

/// Exercise 2: the same convolution's input gradient: given dL/dy
/// `[N, C', H + 2p - k + 1, W + 2p - k + 1]`, return dL/dx `[N, C, H, W]`.
/// Hint: run the forward loops again and, where the forward added w * x, add w * dy to dx
/// at the same input position (scatter and add); positions in the padding get nothing.
/// Input channel g * (C / groups) + c receives gradient only from its own group's filters.
public func groupedConvolutionInputGradient(_ dy: [Double], weight: [Double], shape: FeatureMapShape, outChannels: Int,
                                            groups: Int, kernel: Int, padding: Int) -> [Double] {
    // EXERCISE groupedConvolutionInputGradient BEGIN (stub: return [])
    let (nH, nW) = (shape.height, shape.width)
    let (outH, outW) = (nH + 2 * padding - kernel + 1, nW + 2 * padding - kernel + 1)
    let (inPerGroup, outPerGroup) = (shape.channels / groups, outChannels / groups)
    var dx = [Double](repeating: 0, count: shape.count)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            let firstInput = (o / outPerGroup) * inPerGroup
            for i in 0..<outH {
                for j in 0..<outW {
                    let g = dy[((n * outChannels + o) * outH + i) * outW + j]
                    for c in 0..<inPerGroup {
                        for u in 0..<kernel {
                            for v in 0..<kernel {
                                let (row, column) = (i + u - padding, j + v - padding)
                                guard row >= 0, row < nH, column >= 0, column < nW else { continue }
                                dx[((n * shape.channels + firstInput + c) * nH + row) * nW + column]
                                    += weight[((o * inPerGroup + c) * kernel + u) * kernel + v] * g
                            }
                        }
                    }
                }
            }
        }
    }
    return dx
    // EXERCISE groupedConvolutionInputGradient END
}
