import Foundation

// The fast per-pixel (weighted) softmax cross-entropy of a segmentation network.
//
// Trick: in NCHW the K scores of one pixel are `H * W` floats apart, so the naive loops
// jump between class planes for every pixel. Here the sweep goes the other way: sixteen
// neighbouring pixels at a time (contiguous in every class plane, one SIMD16 load per
// class), a running maximum over the K planes, then the vectorised polynomial exp of
// VectorMath.swift written straight into the gradient and summed in a register, then
// one rescale by w(x) / sum. Only one scalar `log` per pixel, no per-pixel arrays, and the
// images are shared among threads. The naive twin is PixelLoss+Naive.swift.

extension Fast {
    /// ``Naive/pixelCrossEntropy(logits:labels:classes:spatial:classWeights:pixelWeights:)``
    /// for `Float`: the same shapes, loss and gradient.
    public static func pixelCrossEntropy(logits: [Float], labels: [Int], classes: Int, spatial: Int,
                                         classWeights: [Float]? = nil, pixelWeights: [Float]? = nil)
        -> (loss: Float, logitsGradient: [Float]) {
        let batch = checkPixelLoss(logits.count, labels: labels, classes: classes, spatial: spatial,
                                   classWeights: classWeights?.count, pixelWeights: pixelWeights?.count)
        var gradient = [Float](repeating: 0, count: logits.count)
        var lossParts = [Double](repeating: 0, count: batch), weightParts = [Double](repeating: 0, count: batch)
        logits.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                lossParts.withUnsafeMutableBufferPointer { lossParts in
                    weightParts.withUnsafeMutableBufferPointer { weightParts in
                        let pz = z.baseAddress!, pg = g.baseAddress!, pl = lossParts.baseAddress!, pw = weightParts.baseAddress!
                        Parallelism.forEach(batch) { n in
                            let image = n * classes * spatial
                            let (loss, weight) = pixelLossImage(pz + image, pg + image, labels: labels, labelOffset: n * spatial,
                                                                classes: classes, spatial: spatial,
                                                                classWeights: classWeights, pixelWeights: pixelWeights)
                            pl[n] = loss
                            pw[n] = weight
                        }
                    }
                }
            }
        }
        let weightSum = weightParts.reduce(0, +)
        precondition(weightSum > 0, "pixelCrossEntropy: the pixels' weights sum to \(weightSum); at least one must be positive")
        let inverse = Float(1 / weightSum)
        gradient.withUnsafeMutableBufferPointer { g in
            let pg = g.baseAddress!
            Parallelism.forEachChunk(g.count) { _, range in
                for i in range { pg[i] *= inverse }
            }
        }
        return (Float(lossParts.reduce(0, +) / weightSum), gradient)
    }

    /// The class of largest score at every pixel, `[N, K, H, W]` -> `[N, H, W]`, the planes
    /// swept in order (each contiguous) with a running best per pixel.
    public static func pixelArgmax(_ logits: [Float], classes: Int, spatial: Int) -> [Int] {
        precondition(classes > 0 && spatial > 0 && logits.count % (classes * spatial) == 0,
                     "pixelArgmax: \(logits.count) scores are not whole images of \(classes) x \(spatial)")
        let batch = logits.count / (classes * spatial)
        var result = [Int](repeating: 0, count: batch * spatial)
        var best = [Float](repeating: 0, count: spatial)
        for n in 0..<batch {
            let image = n * classes * spatial, out = n * spatial
            for x in 0..<spatial { best[x] = logits[image + x] }
            for k in 1..<max(classes, 1) {
                let plane = image + k * spatial
                for x in 0..<spatial where logits[plane + x] > best[x] {
                    best[x] = logits[plane + x]
                    result[out + x] = k
                }
            }
        }
        return result
    }

    /// One image: writes w(x) (p_k(x) - [k == l(x)]) into `g` (not yet divided by the
    /// weights' sum) and returns (sum_x w(x) (-log p_l(x)), sum_x w(x)).
    private static func pixelLossImage(_ z: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, labels: [Int], labelOffset: Int,
                                       classes: Int, spatial: Int, classWeights: [Float]?, pixelWeights: [Float]?)
        -> (loss: Double, weight: Double) {
        var loss = 0.0, weightSum = 0.0
        func weight(_ x: Int) -> Float {
            let label = labels[labelOffset + x]
            return (classWeights?[label] ?? 1) * (pixelWeights?[labelOffset + x] ?? 1)
        }
        /// The pixel-wise part after the exponentials: e_k(x) in g, their sum `sum`, max `m`.
        func finish(_ x: Int, m: Float, sum: Float) {
            let label = labels[labelOffset + x]
            let w = weight(x)
            loss += Double(w) * (Double(m) + Foundation.log(Double(sum)) - Double(z[label * spatial + x]))
            weightSum += Double(w)
            let factor = w / sum
            for k in 0..<classes { g[k * spatial + x] *= factor }     // w p_k
            g[label * spatial + x] -= w                                 // - w onehot
        }
        var x = 0
        while x + 16 <= spatial {                                     // sixteen pixels at a time
            var m = UnsafeRawPointer(z + x).loadUnaligned(as: SIMD16<Float>.self)
            for k in 1..<max(classes, 1) {
                m = pointwiseMax(m, UnsafeRawPointer(z + k * spatial + x).loadUnaligned(as: SIMD16<Float>.self))
            }
            var sum = SIMD16<Float>(repeating: 0)
            for k in 0..<classes {
                let e = VectorMath.exp(UnsafeRawPointer(z + k * spatial + x).loadUnaligned(as: SIMD16<Float>.self) - m)
                UnsafeMutableRawPointer(g + k * spatial + x).storeBytes(of: e, as: SIMD16<Float>.self)
                sum += e
            }
            for lane in 0..<16 { finish(x + lane, m: m[lane], sum: sum[lane]) }
            x += 16
        }
        while x < spatial {                                           // the last pixels one by one
            var m = z[x]
            for k in 1..<max(classes, 1) { m = max(m, z[k * spatial + x]) }
            var sum: Float = 0
            for k in 0..<classes {
                let e = Foundation.exp(z[k * spatial + x] - m)
                g[k * spatial + x] = e
                sum += e
            }
            finish(x, m: m, sum: sum)
            x += 1
        }
        return (loss, weightSum)
    }
}
