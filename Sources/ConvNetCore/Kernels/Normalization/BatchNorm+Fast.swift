// Fast batch normalisation: streaming SIMD passes over x in memory order, with the ReLU
// and the residual sum of a ResNet block fused in, and the batch statistics kept from the
// forward pass for the backward one.
//
// The trick. Every statistic is a sum per channel, and every output an affine map of x
// (and dy) with per-channel coefficients folded once. The tensors of a CIFAR ResNet at
// batch 128 are 2-8 MB, larger than L2, so the cost is the number of passes over memory:
//  - Training forward, two passes: the batch mean and variance in ONE pass (the sums of
//    d = x - K and d^2, K a value of the channel: unlike E[x^2] - E[x]^2 this does not
//    cancel when |mean| >> std), then y = relu(x * scale + shift + residual) in one FMA
//    (and a max) per element. Batch norm, the residual add and the ReLU as three kernels
//    would read x three times, write two temporaries and read them back.
//  - Training backward, two passes: sum g and sum g (x - mean), with g = dy masked by the
//    ReLU's output (y > 0 exactly where the ReLU's input was), writing g when the block's
//    shortcut needs it; then dx = a*g + b*(x - mean) + k, with a = weight/sd,
//    b = -a * dweight / (M sd), k = -a * dbias / M. The mean and variance come from the
//    forward pass instead of two more passes over x.
//  - Passes run plane by plane (an image's H*W values of one channel) in memory order, so
//    every read streams; threads take contiguous runs of planes, each with its own
//    per-channel sums. Within a plane the sums run in SIMD16<Float> lanes, added into
//    Double every 4096 values of a channel (no Float sum holds more than a few hundred
//    terms, and the horizontal sums cost little even on 8 x 8 planes).
//  - Inference: one FMA per element, channels spread across threads.

fileprivate typealias V16 = SIMD16<Float>

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

// MARK: - Training mode: streaming passes in memory order, fused ReLU and residual

/// Per-channel sums of one thread's share of the planes: sixteen Float lanes per channel
/// and quantity, added into Double every `flushEvery` values of the channel (so no Float
/// sum ever holds more than a few hundred terms, and the horizontal sums cost little
/// even on 8 x 8 planes).
///
/// Each thread's sums live in one block of whole cache lines of their own: with the
/// three arrays allocated apart, two threads' small `pending` and `totals` shared cache
/// lines, and every plane's update moved a line between the cores (batch norm's backward
/// ran slower on two threads than on one).
fileprivate struct ChannelSums {
    let channels: Int
    let lanes: UnsafeMutablePointer<V16>          // [2][channels]
    let pending: UnsafeMutablePointer<Int>        // values added to the lanes since the last flush
    let totals: UnsafeMutablePointer<Double>      // [2][channels]
    private let block: UnsafeMutableRawPointer
    static let flushEvery = 4096

    init(channels: Int) {
        self.channels = channels
        let laneBytes = 2 * channels * 64, pendingBytes = (channels * 8 + 63) & ~63
        block = .allocate(byteCount: laneBytes + pendingBytes + ((2 * channels * 8 + 63) & ~63), alignment: 64)
        lanes = block.bindMemory(to: V16.self, capacity: 2 * channels)
        lanes.initialize(repeating: V16(), count: 2 * channels)
        pending = (block + laneBytes).bindMemory(to: Int.self, capacity: channels)
        pending.initialize(repeating: 0, count: channels)
        totals = (block + laneBytes + pendingBytes).bindMemory(to: Double.self, capacity: 2 * channels)
        totals.initialize(repeating: 0, count: 2 * channels)
    }

    func deallocate() { block.deallocate() }

    /// Adds one plane's partial sums (and its scalar tails) to channel `c`.
    @inline(__always)
    func add(_ c: Int, _ a: V16, _ b: V16, tailA: Float, tailB: Float, count: Int) {
        lanes[c] += a
        lanes[channels + c] += b
        totals[c] += Double(tailA)
        totals[channels + c] += Double(tailB)
        pending[c] += count
        if pending[c] >= Self.flushEvery { flush(c) }
    }

    @inline(__always)
    func flush(_ c: Int) {
        totals[c] += Double(lanes[c].sum())
        totals[channels + c] += Double(lanes[channels + c].sum())
        lanes[c] = V16()
        lanes[channels + c] = V16()
        pending[c] = 0
    }

    /// Flushes every channel; `totals[q * channels + c]` then holds the sum of quantity q.
    func finish() { for c in 0..<channels { flush(c) } }
}

/// Runs `body(planes, sums)` over contiguous runs of the `N*C` planes, one run and one
/// ``ChannelSums`` per thread, and returns the two per-channel totals summed over the
/// threads (in thread order: the result does not depend on timing).
fileprivate func sumOverPlanes(_ s: FeatureMapShape, _ body: (Range<Int>, ChannelSums) -> Void) -> ([Double], [Double]) {
    let planes = s.batch * s.channels
    let threads = max(1, min(Parallelism.threadCount, planes * s.spatial >= 1 << 15 ? planes : 1))
    let parts = (0..<threads).map { _ in ChannelSums(channels: s.channels) }
    defer { for p in parts { p.deallocate() } }
    if threads == 1 {
        body(0..<planes, parts[0])
    } else {
        parts.withUnsafeBufferPointer { parts in
            Parallelism.forEachChunk(planes) { t, range in body(range, parts[t]) }
        }
    }
    var a = [Double](repeating: 0, count: s.channels), b = a
    for p in parts {
        p.finish()
        for c in 0..<s.channels { a[c] += p.totals[c]; b[c] += p.totals[s.channels + c] }
    }
    return (a, b)
}

/// Calls `body` with a pointer to the elements of `array`, or with nil.
fileprivate func withOptionalMutablePointer<R>(_ array: inout [Float]?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard array != nil else { return body(nil) }
    return array!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Runs `body(plane)` for every plane `n*C + c`, spread over the threads for large tensors.
@inline(__always)
fileprivate func forEachPlane(_ s: FeatureMapShape, _ body: (Int) -> Void) {
    let planes = s.batch * s.channels
    if planes * s.spatial < 1 << 15 || Parallelism.threadCount == 1 {
        for p in 0..<planes { body(p) }
        return
    }
    Parallelism.forEachChunk(planes) { _, range in for p in range { body(p) } }
}

/// Batch mean and biased variance per channel in ONE pass over x, in memory order: the
/// sums of d = x - K and d^2, with K a value of the channel itself (its first), so that
/// var = E[d^2] - E[d]^2 does not cancel the way E[x^2] - E[x]^2 does when |mean| >> std
/// (E[d] is then of the order of the standard deviation, not of the mean).
fileprivate func batchStatistics(_ x: UnsafePointer<Float>, _ s: FeatureMapShape) -> (mean: [Double], variance: [Double]) {
    let (channels, hw) = (s.channels, s.spatial)
    let shifts = (0..<channels).map { x[$0 * hw] }
    let (s1, s2) = shifts.withUnsafeBufferPointer { shifts in
        sumOverPlanes(s) { planes, sums in
            for plane in planes {
                let c = plane % channels
                let p = x + plane * hw, k = shifts[c]
                var a0 = V16(), a1 = V16(), b0 = V16(), b1 = V16()
                var i = 0
                while i + 32 <= hw {
                    let d0 = load16(p + i) - k, d1 = load16(p + i + 16) - k
                    a0 += d0; b0.addProduct(d0, d0)
                    a1 += d1; b1.addProduct(d1, d1)
                    i += 32
                }
                if i + 16 <= hw {
                    let d0 = load16(p + i) - k
                    a0 += d0; b0.addProduct(d0, d0)
                    i += 16
                }
                var ta: Float = 0, tb: Float = 0
                while i < hw { let d = p[i] - k; ta += d; tb += d * d; i += 1 }
                sums.add(c, a0 + a1, b0 + b1, tailA: ta, tailB: tb, count: hw)
            }
        }
    }
    let m = Double(s.batch * hw)
    var mean = [Double](repeating: 0, count: channels), variance = mean
    for c in 0..<channels {
        let d = s1[c] / m
        mean[c] = Double(shifts[c]) + d
        variance[c] = max(s2[c] / m - d * d, 0)
    }
    return (mean, variance)
}

/// `y = relu?(x * scale + shift (+ r))` over one plane.
@inline(__always)
fileprivate func affinePlane(_ hw: Int, _ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                             scale: Float, shift: Float, relu: Bool) {
    let zero = V16()
    switch (r, relu) {
    case (nil, false):
        planeMap(hw, y, { load16(x + $0) * scale + shift }, { x[$0] * scale + shift })
    case (nil, true):
        planeMap(hw, y, { pointwiseMax(load16(x + $0) * scale + shift, zero) }, { max(x[$0] * scale + shift, 0) })
    case (let r?, false):
        planeMap(hw, y, { load16(x + $0) * scale + shift + load16(r + $0) }, { x[$0] * scale + shift + r[$0] })
    case (let r?, true):
        planeMap(hw, y, { pointwiseMax(load16(x + $0) * scale + shift + load16(r + $0), zero) },
                 { max(x[$0] * scale + shift + r[$0], 0) })
    }
}

extension Fast {
    /// Batch normalisation in training mode, twin of ``Naive/batchNormTraining(_:weight:bias:shape:epsilon:)``.
    public static func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape s: FeatureMapShape,
                                         epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) {
        batchNormTraining(x, weight: weight, bias: bias, shape: s, epsilon: epsilon, residual: nil, relu: false)
    }

    /// `y = relu(batchNorm(x) + residual)` in training mode, the residual and the ReLU each
    /// optional: the tail of a ResNet block (`bn2`, `+ shortcut`, `relu`) or a plain
    /// `bn`, `relu`, in two passes over x (statistics, then output) instead of four
    /// kernels and seven. Equals ``Naive/batchNormTraining(_:weight:bias:shape:epsilon:)``
    /// followed by ``Naive/add(_:_:)`` and ``Naive/relu(_:)``; returns the batch mean and
    /// biased variance like it. Keep `output` for the backward pass: its positive entries
    /// are the ReLU's mask.
    public static func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape s: FeatureMapShape,
                                         epsilon: Float, residual: [Float]?, relu: Bool)
        -> (output: [Float], mean: [Float], variance: [Float]) {
        Naive.checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count), ("bias", bias.count)],
                             in: "batch_norm")
        if let residual { checkCount(residual.count, equals: s.count, "residual", in: "batch_norm") }
        let (channels, hw) = (s.channels, s.spatial)
        var means = [Float](repeating: 0, count: channels), variances = means
        var scales = means, shifts = means
        let y = [Float](unsafeUninitializedCapacity: x.count) { yb, initialized in
            x.withUnsafeBufferPointer { xb in
                IM2ColConvolution.withOptionalPointer(residual) { rp in
                    let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                    let (mean, variance) = batchStatistics(xp, s)
                    for c in 0..<channels {
                        let scale = Double(weight[c]) / (variance[c] + Double(epsilon)).squareRoot()
                        means[c] = Float(mean[c])
                        variances[c] = Float(variance[c])
                        scales[c] = Float(scale)
                        shifts[c] = Float(Double(bias[c]) - mean[c] * scale)
                    }
                    scales.withUnsafeBufferPointer { sc in
                        shifts.withUnsafeBufferPointer { sh in
                            forEachPlane(s) { plane in
                                let c = plane % channels, offset = plane * hw
                                affinePlane(hw, xp + offset, rp.map { $0 + offset }, yp + offset,
                                            scale: sc[c], shift: sh[c], relu: relu)
                            }
                        }
                    }
                }
            }
            initialized = x.count
        }
        return (y, means, variances)
    }

    /// The gradients of batch normalisation in training mode, twin of
    /// ``Naive/batchNormTrainingBackward(_:weight:outputGradient:shape:epsilon:)`` (the
    /// batch statistics are recomputed from x; a layer that kept them from its forward
    /// pass calls ``batchNormTrainingBackward(_:weight:mean:variance:output:outputGradient:shape:epsilon:residualGradient:)``).
    public static func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float],
                                                 shape s: FeatureMapShape, epsilon: Float)
        -> (input: [Float], weight: [Float], bias: [Float]) {
        Naive.checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count)], in: "batch_norm backward")
        let (mean, variance) = x.withUnsafeBufferPointer { batchStatistics($0.baseAddress!, s) }
        let g = batchNormTrainingBackward(x, weight: weight, mean: mean.map { Float($0) }, variance: variance.map { Float($0) },
                                          output: nil, outputGradient: dy, shape: s, epsilon: epsilon, residualGradient: false)
        return (g.input, g.weight, g.bias)
    }

    /// The gradients of ``batchNormTraining(_:weight:bias:shape:epsilon:residual:relu:)``,
    /// from the mean and variance its forward pass returned. `output` is that pass's
    /// output when it applied the ReLU (dy is kept where it is positive), nil when not.
    /// With g = dy (masked), in two passes over x and g:
    ///
    ///     dbias = sum g        dweight = sum g * xhat
    ///     dx = weight/sd * (g - dbias/M - xhat * dweight/M)
    ///
    /// and, when `residualGradient`, the gradient of the residual input: g itself (written
    /// during the first pass; dy unchanged when there is no ReLU).
    public static func batchNormTrainingBackward(_ x: [Float], weight: [Float], mean: [Float], variance: [Float],
                                                 output: [Float]?, outputGradient dy: [Float], shape s: FeatureMapShape,
                                                 epsilon: Float, residualGradient: Bool)
        -> (input: [Float], weight: [Float], bias: [Float], residual: [Float]?) {
        Naive.checkBatchNorm(shape: s, x: x.count,
                             perChannel: [("weight", weight.count), ("mean", mean.count), ("variance", variance.count)],
                             in: "batch_norm backward")
        checkCount(dy.count, equals: s.count, "dy", in: "batch_norm backward")
        if let output { checkCount(output.count, equals: s.count, "output", in: "batch_norm backward") }
        let (channels, hw) = (s.channels, s.spatial)
        let m = Double(s.batch * hw)
        let writesMasked = residualGradient && output != nil
        var masked: [Float]? = writesMasked ? [Float](unsafeUninitializedCapacity: s.count) { $1 = s.count } : nil
        var dWeight = [Float](repeating: 0, count: channels), dBias = dWeight
        var a = dWeight, b = dWeight, k = dWeight
        let dx = [Float](unsafeUninitializedCapacity: x.count) { dxb, initialized in
            x.withUnsafeBufferPointer { xb in
                dy.withUnsafeBufferPointer { dyb in
                    IM2ColConvolution.withOptionalPointer(output) { yp in
                        mean.withUnsafeBufferPointer { meanb in
                            let (xp, dyp, dxp, mp) = (xb.baseAddress!, dyb.baseAddress!, dxb.baseAddress!, meanb.baseAddress!)
                            withOptionalMutablePointer(&masked) { gp in
                            // Pass 1: sum g and sum g * (x - mean), writing g when asked.
                            let (sumG, sumGCentred) = sumOverPlanes(s) { planes, sums in
                                for plane in planes {
                                    let c = plane % channels, offset = plane * hw
                                    let (p, d, mc) = (xp + offset, dyp + offset, mp[c])
                                    var a0 = V16(), b0 = V16(), ta: Float = 0, tb: Float = 0
                                    var i = 0
                                    if let yp {
                                        let y = yp + offset, zero = V16()
                                        let out = gp.map { $0 + offset }
                                        while i + 16 <= hw {
                                            let g = zero.replacing(with: load16(d + i), where: load16(y + i) .> zero)
                                            if let out { store16(g, out + i) }
                                            a0 += g; b0.addProduct(g, load16(p + i) - mc)
                                            i += 16
                                        }
                                        while i < hw {
                                            let g = y[i] > 0 ? d[i] : 0
                                            out?[i] = g
                                            ta += g; tb += g * (p[i] - mc)
                                            i += 1
                                        }
                                    } else {
                                        while i + 16 <= hw {
                                            let g = load16(d + i)
                                            a0 += g; b0.addProduct(g, load16(p + i) - mc)
                                            i += 16
                                        }
                                        while i < hw { ta += d[i]; tb += d[i] * (p[i] - mc); i += 1 }
                                    }
                                    sums.add(c, a0, b0, tailA: ta, tailB: tb, count: hw)
                                }
                            }
                            for c in 0..<channels {
                                let sd = (Double(variance[c]) + Double(epsilon)).squareRoot()
                                let dw = sumGCentred[c] / sd
                                let ac = Double(weight[c]) / sd
                                dWeight[c] = Float(dw)
                                dBias[c] = Float(sumG[c])
                                a[c] = Float(ac)
                                b[c] = Float(-ac * dw / (m * sd))
                                k[c] = Float(-ac * sumG[c] / m)
                            }
                            // Pass 2: dx = a*g + b*(x - mean) + k.
                            forEachPlane(s) { plane in
                                let c = plane % channels, offset = plane * hw
                                let (p, d, o, mc) = (xp + offset, dyp + offset, dxp + offset, mp[c])
                                let (ac, bc, kc) = (a[c], b[c], k[c])
                                if let gp {
                                    let g = gp + offset
                                    planeMap(hw, o, { ac * load16(g + $0) + bc * (load16(p + $0) - mc) + kc },
                                             { ac * g[$0] + bc * (p[$0] - mc) + kc })
                                } else if let yp {
                                    let y = yp + offset, zero = V16()
                                    planeMap(hw, o, {
                                        let g = zero.replacing(with: load16(d + $0), where: load16(y + $0) .> zero)
                                        return ac * g + bc * (load16(p + $0) - mc) + kc
                                    }, { ac * (y[$0] > 0 ? d[$0] : 0) + bc * (p[$0] - mc) + kc })
                                } else {
                                    planeMap(hw, o, { ac * load16(d + $0) + bc * (load16(p + $0) - mc) + kc },
                                             { ac * d[$0] + bc * (p[$0] - mc) + kc })
                                }
                            }
                            }
                        }
                    }
                }
            }
            initialized = x.count
        }
        let residual: [Float]? = residualGradient ? (masked ?? dy) : nil
        return (dx, dWeight, dBias, residual)
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
