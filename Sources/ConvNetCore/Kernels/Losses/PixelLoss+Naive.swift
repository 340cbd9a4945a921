import Foundation

// The loss of a segmentation network: softmax cross-entropy at every pixel, each pixel
// weighted (U-Net's energy function, Ronneberger et al. 2015, eq. 1, with its weight map
// w(x)). Loops in the order of the formula, generic over the scalar type. The fast twin
// is PixelLoss+Fast.swift.

extension Naive {
    /// Weighted per-pixel softmax cross-entropy of a segmentation network's scores.
    ///
    /// Shapes: `logits` is `[N, K, H, W]` (K class scores at each pixel, NCHW), `labels`
    /// is `[N, H, W]` with values in `0..<K` (`spatial` = H * W), `classWeights` is `[K]`
    /// (nil: all 1) and `pixelWeights` is `[N, H, W]` (nil: all 1). The weight of pixel x
    /// is `w(x) = classWeights[l(x)] * pixelWeights[x]`, and with
    /// `p_k(x) = e^(z_k(x)) / sum_j e^(z_j(x))` the loss is the weighted mean
    ///
    ///     E = sum_x w(x) (-log p_{l(x)}(x)) / sum_x w(x)
    ///
    /// (PyTorch's `F.cross_entropy(logits, labels, weight=classWeights)`, whose mean also
    /// divides by the summed weights; with no weights, the plain mean over N*H*W pixels).
    /// The gradient is `dz_k(x) = w(x) (p_k(x) - [k == l(x)]) / sum_x w(x)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func pixelCrossEntropy<T: BinaryFloatingPoint>(logits: [T], labels: [Int], classes: Int, spatial: Int,
                                                                  classWeights: [T]? = nil, pixelWeights: [T]? = nil)
        -> (loss: T, logitsGradient: [T]) {
        let batch = checkPixelLoss(logits.count, labels: labels, classes: classes, spatial: spatial,
                                   classWeights: classWeights?.count, pixelWeights: pixelWeights?.count)
        var gradient = [T](repeating: 0, count: logits.count)
        var weightSum = 0.0, total = 0.0
        for n in 0..<batch {                                     // n: image
            for x in 0..<spatial {                               // x: pixel
                let label = labels[n * spatial + x]
                let w = Double(classWeights?[label] ?? 1) * Double(pixelWeights?[n * spatial + x] ?? 1)   // w(x)
                func z(_ k: Int) -> Double { Double(logits[(n * classes + k) * spatial + x]) }
                var m = z(0)                                     // m = max_k z_k(x), for stability
                for k in 0..<classes { m = max(m, z(k)) }
                var sum = 0.0                                    // sum_k e^(z_k(x) - m)
                for k in 0..<classes { sum += Foundation.exp(z(k) - m) }
                let logSum = m + Foundation.log(sum)             // log sum_k e^(z_k(x))
                total += w * (logSum - z(label))                 // w(x) (-log p_l(x))
                weightSum += w
                for k in 0..<classes {                           // w(x) (p_k(x) - onehot), divided below
                    let p = Foundation.exp(z(k) - logSum)
                    gradient[(n * classes + k) * spatial + x] = T(w * (p - (k == label ? 1 : 0)))
                }
            }
        }
        precondition(weightSum > 0, "pixelCrossEntropy: the pixels' weights sum to \(weightSum); at least one must be positive")
        for i in gradient.indices { gradient[i] = T(Double(gradient[i]) / weightSum) }
        return (T(total / weightSum), gradient)
    }

    /// The class of largest score at every pixel: `logits` `[N, K, H, W]` -> `[N, H, W]`.
    @_specialize(where T == Float)
    public static func pixelArgmax<T: BinaryFloatingPoint>(_ logits: [T], classes: Int, spatial: Int) -> [Int] {
        precondition(classes > 0 && spatial > 0 && logits.count % (classes * spatial) == 0,
                     "pixelArgmax: \(logits.count) scores are not whole images of \(classes) x \(spatial)")
        let batch = logits.count / (classes * spatial)
        var result = [Int](repeating: 0, count: batch * spatial)
        for n in 0..<batch {
            for x in 0..<spatial {
                var best = 0
                for k in 1..<max(classes, 1) where logits[(n * classes + k) * spatial + x] > logits[(n * classes + best) * spatial + x] { best = k }
                result[n * spatial + x] = best
            }
        }
        return result
    }
}

/// Checks the arguments of a per-pixel loss; returns the batch size.
func checkPixelLoss(_ count: Int, labels: [Int], classes: Int, spatial: Int, classWeights: Int?, pixelWeights: Int?) -> Int {
    precondition(classes > 0 && spatial > 0, "pixelCrossEntropy: classes \(classes) and spatial \(spatial) must be positive")
    precondition(count > 0 && count % (classes * spatial) == 0,
                 "pixelCrossEntropy: \(count) logits are not whole images of \(classes) classes x \(spatial) pixels")
    let batch = count / (classes * spatial)
    checkCount(labels.count, equals: batch * spatial, "labels [\(batch), \(spatial)]", in: "pixelCrossEntropy")
    if let c = classWeights { checkCount(c, equals: classes, "class weights [\(classes)]", in: "pixelCrossEntropy") }
    if let p = pixelWeights { checkCount(p, equals: batch * spatial, "pixel weights [\(batch), \(spatial)]", in: "pixelCrossEntropy") }
    if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
        preconditionFailure("pixelCrossEntropy: label \(bad) outside 0..<\(classes)")
    }
    return batch
}
