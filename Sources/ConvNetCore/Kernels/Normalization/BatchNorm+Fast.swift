// Fast batch normalisation: per channel, a few streaming SIMD passes over its N planes,
// channels spread across threads.
//
// The trick. A channel's M = N*H*W values lie in N contiguous planes of H*W floats, so
// every statistic is a streaming SIMD reduction, and every output an affine map of x
// (and dy) with per-channel coefficients folded once:
//  - Statistics, two-pass for accuracy: pass 1 sums x (mean), pass 2 sums (x - mean)^2.
//    The one-pass sum-of-squares formula var = E[x^2] - mean^2 cancels catastrophically
//    in Float when |mean| >> std; centring first does not. Within a plane the sums run in
//    four SIMD16<Float> accumulators (64 independent lanes: no dependency stall, and each
//    lane adds only 1/64 of the plane, which keeps Float rounding small); plane totals are
//    added in Double.
//  - Normalise in one FMA per element: y = (x - mean) * (weight / sd) + bias.
//  - Backward folds the whole chain rule into dx = a*dy + b*(x - mean) + g with
//    a = weight/sd, b = -a * dweight / (M sd), g = -a * dbias / M, after one extra pass
//    that gathers sum (x - mean)^2, sum dy and sum dy (x - mean) together.
//  - Threads: channels are independent; `Parallelism.forEach` spreads them.

fileprivate typealias V16 = SIMD16<Float>

@inline(__always) fileprivate func load16(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}

@inline(__always) fileprivate func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
}

/// `sum_i f(x[i])` over one plane of `n` floats, with four SIMD accumulators.
@inline(__always)
fileprivate func planeSum(_ n: Int, _ vector: (Int) -> V16, _ scalar: (Int) -> Float) -> Float {
    var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16()
    var i = 0
    while i + 64 <= n {
        a0 += vector(i); a1 += vector(i + 16); a2 += vector(i + 32); a3 += vector(i + 48)
        i += 64
    }
    while i + 16 <= n { a0 += vector(i); i += 16 }
    var sum = ((a0 + a1) + (a2 + a3)).sum()
    while i < n { sum += scalar(i); i += 1 }
    return sum
}

/// `out[i] = f(i)` over one plane, 16 at a time.
@inline(__always)
fileprivate func planeMap(_ n: Int, _ out: UnsafeMutablePointer<Float>, _ vector: (Int) -> V16, _ scalar: (Int) -> Float) {
    var i = 0
    while i + 16 <= n { store16(vector(i), out + i); i += 16 }
    while i < n { out[i] = scalar(i); i += 1 }
}

/// The mean and biased variance of channel `c` (two passes).
@inline(__always)
fileprivate func channelStatistics(_ x: UnsafePointer<Float>, channel c: Int, shape s: FeatureMapShape) -> (mean: Double, variance: Double) {
    let hw = s.spatial
    var total = 0.0
    for n in 0..<s.batch {
        let p = x + (n * s.channels + c) * hw
        total += Double(planeSum(hw, { load16(p + $0) }, { p[$0] }))
    }
    let mean = total / Double(s.batch * hw)
    let m = Float(mean)
    var squares = 0.0
    for n in 0..<s.batch {
        let p = x + (n * s.channels + c) * hw
        squares += Double(planeSum(hw, { let d = load16(p + $0) - m; return d * d }, { let d = p[$0] - m; return d * d }))
    }
    return (mean, squares / Double(s.batch * hw))
}

extension Fast {
    /// Batch normalisation in training mode, twin of ``Naive/batchNormTraining(_:weight:bias:shape:epsilon:)``.
    public static func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape s: FeatureMapShape,
                                         epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) {
        Naive.checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count), ("bias", bias.count)],
                             in: "batch_norm")
        let (channels, hw) = (s.channels, s.spatial)
        var y = [Float](repeating: 0, count: x.count)
        var means = [Float](repeating: 0, count: channels), variances = [Float](repeating: 0, count: channels)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                means.withUnsafeMutableBufferPointer { mb in
                    variances.withUnsafeMutableBufferPointer { vb in
                        let (xp, yp, mp, vp) = (xb.baseAddress!, yb.baseAddress!, mb.baseAddress!, vb.baseAddress!)
                        Parallelism.forEach(channels) { c in
                            let (mean, variance) = channelStatistics(xp, channel: c, shape: s)
                            mp[c] = Float(mean)
                            vp[c] = Float(variance)
                            let scale = Float(Double(weight[c]) / (variance + Double(epsilon)).squareRoot())
                            let m = Float(mean), shift = bias[c]
                            for n in 0..<s.batch {
                                let offset = (n * channels + c) * hw
                                let p = xp + offset
                                planeMap(hw, yp + offset, { (load16(p + $0) - m) * scale + shift },
                                         { (p[$0] - m) * scale + shift })
                            }
                        }
                    }
                }
            }
        }
        return (y, means, variances)
    }

    /// The gradients of batch normalisation in training mode, twin of
    /// ``Naive/batchNormTrainingBackward(_:weight:outputGradient:shape:epsilon:)``.
    public static func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float],
                                                 shape s: FeatureMapShape, epsilon: Float)
        -> (input: [Float], weight: [Float], bias: [Float]) {
        Naive.checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count)], in: "batch_norm backward")
        checkCount(dy.count, equals: s.count, "dy", in: "batch_norm backward")
        let (channels, hw) = (s.channels, s.spatial)
        let count = Double(s.batch * hw)
        var dx = [Float](repeating: 0, count: x.count)
        var dWeight = [Float](repeating: 0, count: channels), dBias = [Float](repeating: 0, count: channels)
        x.withUnsafeBufferPointer { xb in
            dy.withUnsafeBufferPointer { dyb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    dWeight.withUnsafeMutableBufferPointer { dwb in
                        dBias.withUnsafeMutableBufferPointer { dbb in
                            let (xp, dyp, dxp) = (xb.baseAddress!, dyb.baseAddress!, dxb.baseAddress!)
                            let (dwp, dbp) = (dwb.baseAddress!, dbb.baseAddress!)
                            Parallelism.forEach(channels) { c in
                                let (mean, variance) = channelStatistics(xp, channel: c, shape: s)
                                let m = Float(mean)
                                var sumDy = 0.0, sumDyCentred = 0.0
                                for n in 0..<s.batch {
                                    let offset = (n * channels + c) * hw
                                    let (p, g) = (xp + offset, dyp + offset)
                                    sumDy += Double(planeSum(hw, { load16(g + $0) }, { g[$0] }))
                                    sumDyCentred += Double(planeSum(hw, { load16(g + $0) * (load16(p + $0) - m) },
                                                                    { g[$0] * (p[$0] - m) }))
                                }
                                let sd = (variance + Double(epsilon)).squareRoot()
                                let dw = sumDyCentred / sd
                                dwp[c] = Float(dw)
                                dbp[c] = Float(sumDy)
                                let a = Double(weight[c]) / sd
                                let (af, bf, gf) = (Float(a), Float(-a * dw / (count * sd)), Float(-a * sumDy / count))
                                for n in 0..<s.batch {
                                    let offset = (n * channels + c) * hw
                                    let (p, g) = (xp + offset, dyp + offset)
                                    planeMap(hw, dxp + offset, { af * load16(g + $0) + bf * (load16(p + $0) - m) + gf },
                                             { af * g[$0] + bf * (p[$0] - m) + gf })
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dWeight, dBias)
    }

    /// Batch normalisation in inference mode, twin of
    /// ``Naive/batchNormInference(_:weight:bias:runningMean:runningVariance:shape:epsilon:)``:
    /// one SIMD FMA per element, `(x - mean) * scale + bias`.
    public static func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float],
                                          runningVariance: [Float], shape s: FeatureMapShape, epsilon: Float) -> [Float] {
        Naive.checkBatchNorm(shape: s, x: x.count,
                             perChannel: [("weight", weight.count), ("bias", bias.count), ("running mean", runningMean.count),
                                          ("running variance", runningVariance.count)], in: "batch_norm (inference)")
        let (channels, hw) = (s.channels, s.spatial)
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                Parallelism.forEach(channels) { c in
                    let scale = weight[c] / (runningVariance[c] + epsilon).squareRoot()
                    let (m, shift) = (runningMean[c], bias[c])
                    for n in 0..<s.batch {
                        let offset = (n * channels + c) * hw
                        let p = xp + offset
                        planeMap(hw, yp + offset, { (load16(p + $0) - m) * scale + shift }, { (p[$0] - m) * scale + shift })
                    }
                }
            }
        }
        return y
    }

    /// The gradients of batch normalisation in inference mode, twin of
    /// ``Naive/batchNormInferenceBackward(_:weight:runningMean:runningVariance:outputGradient:shape:epsilon:)``.
    public static func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float],
                                                  runningVariance: [Float], outputGradient dy: [Float],
                                                  shape s: FeatureMapShape, epsilon: Float)
        -> (input: [Float], weight: [Float], bias: [Float]) {
        Naive.checkBatchNorm(shape: s, x: x.count,
                             perChannel: [("weight", weight.count), ("running mean", runningMean.count),
                                          ("running variance", runningVariance.count)], in: "batch_norm (inference) backward")
        checkCount(dy.count, equals: s.count, "dy", in: "batch_norm (inference) backward")
        let (channels, hw) = (s.channels, s.spatial)
        var dx = [Float](repeating: 0, count: x.count)
        var dWeight = [Float](repeating: 0, count: channels), dBias = [Float](repeating: 0, count: channels)
        x.withUnsafeBufferPointer { xb in
            dy.withUnsafeBufferPointer { dyb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    dWeight.withUnsafeMutableBufferPointer { dwb in
                        dBias.withUnsafeMutableBufferPointer { dbb in
                            let (xp, dyp, dxp) = (xb.baseAddress!, dyb.baseAddress!, dxb.baseAddress!)
                            let (dwp, dbp) = (dwb.baseAddress!, dbb.baseAddress!)
                            Parallelism.forEach(channels) { c in
                                let inverseSD = 1 / (runningVariance[c] + epsilon).squareRoot()
                                let scale = weight[c] * inverseSD, m = runningMean[c]
                                var sumDy = 0.0, sumDyCentred = 0.0
                                for n in 0..<s.batch {
                                    let offset = (n * channels + c) * hw
                                    let (p, g) = (xp + offset, dyp + offset)
                                    sumDy += Double(planeSum(hw, { load16(g + $0) }, { g[$0] }))
                                    sumDyCentred += Double(planeSum(hw, { load16(g + $0) * (load16(p + $0) - m) },
                                                                    { g[$0] * (p[$0] - m) }))
                                    planeMap(hw, dxp + offset, { load16(g + $0) * scale }, { g[$0] * scale })
                                }
                                dwp[c] = Float(sumDyCentred) * inverseSD
                                dbp[c] = Float(sumDy)
                            }
                        }
                    }
                }
            }
        }
        return (dx, dWeight, dBias)
    }
}
