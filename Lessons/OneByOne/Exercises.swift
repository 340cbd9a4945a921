import ConvNetCore

// The 1x1 convolutions lesson's exercises: write these three functions, then run
//
//     swift test --filter OneByOneExercises
//
// `lesson exercise one-by-one --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise one-by-one --reset` puts them back. The graders
// (Tests/OneByOneLessonTests/OneByOneExercises.swift) check them against the naive
// convolution, PyTorch's numbers, finite differences and the core's counts. Arrays are NCHW.

/// Exercise 1: a 1x1 convolution, forward: `x` `[N, C, H, W]`, `weight` `[C', C]` (the
/// filters `[C', C, 1, 1]` with their 1x1 dropped), `bias` `[C']` or empty for none; the
/// result `[N, C', H, W]`: n_H and n_W stay, n_C becomes the number of filters.
/// Hint: y[n, o, i, j] = b[o] + sum over c of W[o, c] * x[n, c, i, j]: the fully connected
/// layer y = W a + b applied to the channel vector a of every pixel, the same W everywhere.
public func pointwiseConvolution(_ x: [Double], weight: [Double], bias: [Double], shape: FeatureMapShape, outChannels: Int) -> [Double] {
    // EXERCISE pointwiseConvolution BEGIN (stub: return [])
    let (nC, pixels) = (shape.channels, shape.height * shape.width)
    var y = [Double](repeating: 0, count: shape.batch * outChannels * pixels)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            for p in 0..<pixels {
                var z = bias.isEmpty ? 0 : bias[o]
                for c in 0..<nC {
                    z += weight[o * nC + c] * x[(n * nC + c) * pixels + p]
                }
                y[(n * outChannels + o) * pixels + p] = z
            }
        }
    }
    return y
    // EXERCISE pointwiseConvolution END
}

/// Exercise 2: the gradient of the loss with respect to the 1x1 filters, given the input
/// `x` `[N, C, H, W]` and dL/dy `[N, C', H, W]`; the result `[C', C]`.
/// Hint: dW[o, c] = sum over n, i, j of dy[n, o, i, j] * x[n, c, i, j]: a fully connected
/// layer's dW = dZ a^T, summed over every pixel of every image, because the same W is used
/// at all of them (the same sum a fully connected layer makes over its minibatch).
public func pointwiseWeightGradient(_ x: [Double], outputGradient dy: [Double], shape: FeatureMapShape, outChannels: Int) -> [Double] {
    // EXERCISE pointwiseWeightGradient BEGIN (stub: return [])
    let (nC, pixels) = (shape.channels, shape.height * shape.width)
    var dW = [Double](repeating: 0, count: outChannels * nC)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            for c in 0..<nC {
                var sum = 0.0
                for p in 0..<pixels {
                    sum += dy[(n * outChannels + o) * pixels + p] * x[(n * nC + c) * pixels + p]
                }
                dW[o * nC + c] += sum
            }
        }
    }
    return dW
    // EXERCISE pointwiseWeightGradient END
}

/// Exercise 3: the course's cost problem. A "same" `kernel` x `kernel` convolution from
/// `inChannels` to `outChannels` on a `height` x `width` map, counted in multiplies, done
/// directly and with a 1x1 bottleneck layer to `bottleneck` channels first.
/// Hint: every output number of a k x k convolution over n_C channels costs k * k * n_C
/// multiplies, and there are n_H * n_W * n_C' of them; the bottleneck path is two
/// convolutions, and both cost. The course: 28x28x192 -> 5x5, 32 is 120,422,400 directly,
/// 12,443,648 through 16 channels.
public func bottleneckMultiplies(height: Int, width: Int, inChannels: Int, bottleneck: Int, outChannels: Int,
                                 kernel: Int) -> (direct: Int, withBottleneck: Int) {
    // EXERCISE bottleneckMultiplies BEGIN (stub: return (0, 0))
    let pixels = height * width
    let direct = pixels * outChannels * kernel * kernel * inChannels
    let reduce = pixels * bottleneck * inChannels
    let spatial = pixels * outChannels * kernel * kernel * bottleneck
    return (direct, reduce + spatial)
    // EXERCISE bottleneckMultiplies END
}
