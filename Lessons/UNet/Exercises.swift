import ConvNetCore
import Foundation

// The U-Net lesson's exercises: write these three functions, then run
//
//     swift test --filter UNetExercises
//
// `lesson exercise unet --start` blanks their bodies (the reference solutions between the
// EXERCISE markers); `lesson exercise unet --reset` puts them back. The graders
// (Tests/UNetLessonTests/UNetExercises.swift) check them against the core's UNet (its
// layers' shapes), the naive transposed convolution and PyTorch's fixtures, the naive
// per-pixel loss and finite differences. Arrays are NCHW.

/// Exercise 1: the sizes through a U-Net of VALID 3x3 convolutions (the paper's), for a
/// square input tile of side `inputSize` and `depth` levels: the side of the segmentation
/// map, and how many pixels are cropped from EACH side of each level's skip map before the
/// concatenation (level 0, the top, first). Nil when the tile does not fit: a size that
/// shrinks to nothing, or a 2x2 max pool applied to an odd size.
/// Hint: a valid 3x3 convolution takes 2 pixels off the side (one per border), and every
/// level has two of them; a pool halves, an up-convolution doubles. Walk down keeping each
/// level's size after its two convolutions, then up: crop_i = (skip_i - up_i) / 2.
/// The paper: 572 -> 388, crops [88, 40, 16, 4].
public func unetSizes(inputSize: Int, depth: Int) -> (outputSize: Int, cropOffsets: [Int])? {
    // EXERCISE unetSizes BEGIN (stub: return nil)
    var size = inputSize
    var skips: [Int] = []
    for _ in 0..<depth {
        size -= 4                                   // two valid 3x3 convolutions
        guard size > 0, size % 2 == 0 else { return nil }
        skips.append(size)
        size /= 2                                   // 2x2 max pool
    }
    size -= 4                                       // the bottom's two convolutions
    guard size > 0 else { return nil }
    var crops = [Int](repeating: 0, count: depth)
    for level in (0..<depth).reversed() {
        size *= 2                                   // 2x2 up-convolution, stride 2
        crops[level] = (skips[level] - size) / 2
        size -= 4
        guard size > 0 else { return nil }
    }
    return (size, crops)
    // EXERCISE unetSizes END
}

/// Exercise 2: the transposed convolution in its scatter form (groups 1): every input
/// pixel adds a weighted copy of the kernel into the output.
///     z[n, o, i*sh + u - ph, j*sw + v - pw] += x[n, c, i, j] * w[c, o, u, v]
/// on top of z[n, o, :, :] = bias[o]; targets outside the output are dropped. `x` is
/// `[N, C, H, W]`, `weight` `[C, O, kh, kw]` (input channels FIRST), the result
/// `[N, O, outH, outW]` with the sizes of `geometry` (`geometry.outHeight`, `.outWidth`:
/// `(H - 1) sh - 2 ph + kh + output padding`).
/// Hint: loop over the INPUT (n, c, i, j), then over o, u, v, and compute where each
/// product lands; do not try to compute one output pixel at a time.
public func transposedConvolution(_ x: [Double], weight: [Double], bias: [Double]?, geometry g: ConvTranspose2DGeometry) -> [Double] {
    // EXERCISE transposedConvolution BEGIN (stub: return [])
    let (outH, outW) = (g.outHeight, g.outWidth)
    var z = [Double](repeating: 0, count: g.batch * g.outChannels * outH * outW)
    for n in 0..<g.batch {
        for o in 0..<g.outChannels {
            for p in 0..<(outH * outW) { z[(n * g.outChannels + o) * outH * outW + p] = bias?[o] ?? 0 }
        }
        for c in 0..<g.inChannels {
            for i in 0..<g.inHeight {
                for j in 0..<g.inWidth {
                    let value = x[((n * g.inChannels + c) * g.inHeight + i) * g.inWidth + j]
                    for o in 0..<g.outChannels {
                        for u in 0..<g.kernelHeight {
                            for v in 0..<g.kernelWidth {
                                let h = i * g.strideHeight + u - g.paddingHeight
                                let w = j * g.strideWidth + v - g.paddingWidth
                                guard h >= 0, h < outH, w >= 0, w < outW else { continue }
                                z[((n * g.outChannels + o) * outH + h) * outW + w] +=
                                    value * weight[((c * g.outChannels + o) * g.kernelHeight + u) * g.kernelWidth + v]
                            }
                        }
                    }
                }
            }
        }
    }
    return z
    // EXERCISE transposedConvolution END
}

/// Exercise 3: the per-pixel weighted softmax cross-entropy of a segmentation network and
/// its gradient. `logits` `[N, K, H, W]` (`spatial` = H * W), `labels` `[N, H, W]` in
/// `0..<K`, `classWeights` `[K]`. Each pixel x weighs w(x) = classWeights[l(x)], and
///     E = sum_x w(x) (-log p_l(x)(x)) / sum_x w(x),   p_k(x) = e^z_k(x) / sum_j e^z_j(x)
///     dE/dz_k(x) = w(x) (p_k(x) - [k == l(x)]) / sum_x w(x)
/// Hint: the K scores of one pixel are `spatial` apart: z_k(x) of image n is
/// logits[(n * K + k) * spatial + x]. Subtract the pixel's largest score before `exp`.
/// Divide by the sum of the WEIGHTS (as PyTorch's cross_entropy with `weight=` does), not
/// by the number of pixels.
public func weightedPixelLoss(logits: [Double], labels: [Int], classes: Int, spatial: Int,
                              classWeights: [Double]) -> (loss: Double, gradient: [Double]) {
    // EXERCISE weightedPixelLoss BEGIN (stub: return (0, []))
    let batch = labels.count / spatial
    var gradient = [Double](repeating: 0, count: logits.count)
    var total = 0.0, weightSum = 0.0
    for n in 0..<batch {
        for x in 0..<spatial {
            let label = labels[n * spatial + x]
            let w = classWeights[label]
            let z = (0..<classes).map { logits[(n * classes + $0) * spatial + x] }
            let m = z.max()!
            let logSum = m + log(z.reduce(0) { $0 + exp($1 - m) })
            total += w * (logSum - z[label])
            weightSum += w
            for k in 0..<classes {
                gradient[(n * classes + k) * spatial + x] = w * (exp(z[k] - logSum) - (k == label ? 1 : 0))
            }
        }
    }
    return (total / weightSum, gradient.map { $0 / weightSum })
    // EXERCISE weightedPixelLoss END
}
