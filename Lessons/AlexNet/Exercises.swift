import ConvNetCore
import Foundation

// The AlexNet lesson's exercises: write these two functions, then run
//
//     swift test --filter AlexNetExercises
//
// `lesson exercise alexnet --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise alexnet --reset` puts them back. The graders
// (Tests/AlexNetLessonTests/AlexNetExercises.swift) check them against the naive kernels
// and PyTorch's numbers. Arrays are NCHW: x[n, c, i, j] is x[((n * C + c) * H + i) * W + j].

/// Exercise 1: local response normalisation across channels, forward (AlexNet section 3.3,
/// PyTorch's `local_response_norm`). `x` and the result are `[N, C, H, W]`.
/// Hint: at every position, b_c = a_c / (k + alpha / size * sum of a_{c'}^2)^beta, the sum
/// over c' from c - size/2 to c + (size - 1)/2 (integer division, so an even size leans
/// one channel down), clipped to 0..<C. PyTorch divides alpha by size; the paper does not.
public func localResponseNorm(_ x: [Double], shape: FeatureMapShape, size: Int, alpha: Double, beta: Double, k: Double) -> [Double] {
    // EXERCISE localResponseNorm BEGIN (stub: return [])
    let (channels, positions) = (shape.channels, shape.height * shape.width)
    var y = [Double](repeating: 0, count: x.count)
    for n in 0..<shape.batch {
        for c in 0..<channels {
            let window = max(0, c - size / 2)...min(channels - 1, c + (size - 1) / 2)
            for p in 0..<positions {
                var sum = 0.0
                for c2 in window { sum += x[(n * channels + c2) * positions + p] * x[(n * channels + c2) * positions + p] }
                y[(n * channels + c) * positions + p] = x[(n * channels + c) * positions + p] / pow(k + alpha / Double(size) * sum, beta)
            }
        }
    }
    return y
    // EXERCISE localResponseNorm END
}

/// Exercise 2: overlapping max pooling, forward (AlexNet's 3x3 windows with stride 2, no
/// padding): `x` is `[N, C, H, W]`, the result `[N, C, (H - kernel) / stride + 1, (W - kernel) / stride + 1]`.
/// Hint: y[n, c, i, j] is the largest x[n, c, stride * i + u, stride * j + v] for u, v in
/// 0..<kernel. With kernel 3 and stride 2 neighbouring windows share a row or column:
/// that is the "overlap".
public func maxPool(_ x: [Double], shape: FeatureMapShape, kernel: Int, stride: Int) -> [Double] {
    // EXERCISE maxPool BEGIN (stub: return [])
    let outHeight = (shape.height - kernel) / stride + 1, outWidth = (shape.width - kernel) / stride + 1
    var y = [Double](repeating: 0, count: shape.batch * shape.channels * outHeight * outWidth)
    for plane in 0..<(shape.batch * shape.channels) {
        for i in 0..<outHeight {
            for j in 0..<outWidth {
                var best = -Double.infinity
                for u in 0..<kernel {
                    for v in 0..<kernel {
                        best = max(best, x[(plane * shape.height + stride * i + u) * shape.width + stride * j + v])
                    }
                }
                y[(plane * outHeight + i) * outWidth + j] = best
            }
        }
    }
    return y
    // EXERCISE maxPool END
}
