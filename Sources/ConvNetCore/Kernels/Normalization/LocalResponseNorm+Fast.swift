import Foundation

// Fast local response normalisation: a running sum of squares across channels, SIMD
// across positions, threads across (image, position block) pairs.
//
// The trick. The naive kernel re-sums the `size` squares of each channel's window: O(size)
// per output. Neighbouring channels' windows overlap in all but two channels, so walking
// the channels in order we keep the window's sum S and update it in O(1): add the square
// of the channel entering the window, subtract the one leaving it. (S is clamped at 0, so
// the rounding of the subtraction cannot make it negative.)
//  - SIMD16 across positions: a channel is a contiguous plane of H*W floats, so 16
//    adjacent positions of one channel are one vector load, and the whole channel walk
//    keeps S in registers. Each x value is loaded when it enters the window, when it is
//    normalised and when it leaves; the last two hit L1.
//  - No `pow`, no square root instruction: D^-beta for beta == 0.75 (AlexNet, and
//    PyTorch's default) is r^2 / sqrt(r) with r = 1/sqrt(D), and each reciprocal square
//    root is a bit-pattern estimate refined by three Newton steps (multiplies and adds
//    only: Swift's SIMD16 squareRoot() compiles to 16 scalar sqrtss, eight times slower);
//    beta == 0.5 is 1/sqrt(D), beta == 1 is 1 / D; other betas use exp(-beta log D) per lane.
//  - Forward walks tiles of up to 1024 positions of one image: the channel loop outside,
//    the positions inside, the window sums of the tile in a 4 KB L1 buffer. Each channel
//    step then reads one new input row in order (the hardware prefetcher streams it) and
//    finds the leaving and centre rows in L1. (Walking 16 positions through all channels
//    instead touches a new 4 KB page per channel: at batch 8, four times slower.)
//  - Threads: forward's work units are (image, tile), backward's (image, block of 16
//    positions); `Parallelism.forEachChunk` hands each thread a contiguous run. The last block of a plane (H*W not a multiple of
//    16) is gathered into a zero-padded scratch, computed the same way, and scattered back.
// Backward: one walk computes D_c^-beta and t_c = dy_c * a_c * D_c^(-beta-1) into
// per-thread scratch, a second walk keeps the running sum of t over the transposed window
// [j - (size-1)/2, j + size/2] and forms dx_j = dy_j D_j^-beta - (2 alpha beta / size) a_j T_j.

fileprivate typealias V16 = SIMD16<Float>

/// 1/sqrt(d) on 16 lanes with multiplies and adds only: the bit-pattern estimate
/// (`0x5f375a86 - bits/2`, within 3.5%) and three Newton steps y <- y (1.5 - d/2 y^2),
/// each squaring the relative error (3.5e-2, 1.8e-3, 4.7e-6, then Float rounding).
/// `SIMD16.squareRoot()` compiles to 16 scalar `sqrtss` here, and the vector divide and
/// square root units are slow; this is about eight times cheaper. Valid for positive,
/// finite, normal d (the LRN denominator is at least k > 0).
@inline(__always) fileprivate func reciprocalSquareRoot(_ d: V16) -> V16 {
    let bits = unsafeBitCast(d, to: SIMD16<UInt32>.self)
    var y = unsafeBitCast(SIMD16<UInt32>(repeating: 0x5f37_5a86) &- (bits &>> 1), to: V16.self)
    let half = 0.5 * d
    for _ in 0..<3 { y = y * (1.5 - half * y * y) }
    return y
}

/// d^(-3/4) = r^2 * (1/sqrt(r)) with r = 1/sqrt(d) (= d^(-1) * d^(1/4)).
@inline(__always) fileprivate func negativeThreeQuarters(_ d: V16) -> V16 {
    let r = reciprocalSquareRoot(d)
    return r * r * reciprocalSquareRoot(r)
}

/// How `D^-beta` is evaluated, chosen once per call.
fileprivate enum NegativePower {
    case threeQuarters, half, one, general(Float)

    init(_ beta: Float) {
        switch beta {
        case 0.75: self = .threeQuarters
        case 0.5: self = .half
        case 1: self = .one
        default: self = .general(beta)
        }
    }

    @inline(__always) func callAsFunction(_ d: V16) -> V16 {
        switch self {
        case .threeQuarters:
            return negativeThreeQuarters(d)
        case .half:
            return reciprocalSquareRoot(d)
        case .one:
            return 1 / d
        case .general(let beta):
            var result = V16()
            for i in 0..<16 { result[i] = Foundation.exp(-beta * Foundation.log(d[i])) }
            return result
        }
    }
}

/// The shared constants of one call.
fileprivate struct LRNParameters {
    var channels: Int
    var before: Int          // size / 2: channels of the window below c
    var after: Int           // (size - 1) / 2: channels of the window above c
    var alphaOverSize: Float
    var k: Float
    var power: NegativePower
}

/// D_c = k + alpha/size * S for the running sum of squares S (clamped at 0).
@inline(__always) fileprivate func denominator(_ s: V16, _ p: LRNParameters) -> V16 {
    p.k + p.alphaOverSize * s.replacing(with: 0, where: s .< 0)
}

/// Forward for 16 positions: channel c of the input at `x + c * stride`, output likewise.
@inline(__always)
fileprivate func lrnForward16(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, stride: Int,
                              _ p: LRNParameters) {
    var s = V16()
    for c in 0..<min(p.after, p.channels) {               // the window of channel 0, less its top
        let v = load16(x + c * stride); s += v * v
    }
    for c in 0..<p.channels {
        let entering = c + p.after, leaving = c - p.before - 1
        if entering < p.channels { let v = load16(x + entering * stride); s += v * v }
        if leaving >= 0 { let v = load16(x + leaving * stride); s -= v * v }
        store16(load16(x + c * stride) * p.power(denominator(s, p)), y + c * stride)
    }
}

/// Backward for 16 positions; `scratch` holds 2 * channels vectors.
@inline(__always)
fileprivate func lrnBackward16(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                               stride: Int, _ p: LRNParameters, scratch: UnsafeMutablePointer<Float>) {
    let powers = scratch, t = scratch + 16 * p.channels
    var s = V16()
    for c in 0..<min(p.after, p.channels) { let v = load16(x + c * stride); s += v * v }
    for c in 0..<p.channels {                              // walk 1: D_c^-beta and t_c
        let entering = c + p.after, leaving = c - p.before - 1
        if entering < p.channels { let v = load16(x + entering * stride); s += v * v }
        if leaving >= 0 { let v = load16(x + leaving * stride); s -= v * v }
        let d = denominator(s, p)
        let power = p.power(d)
        store16(power, powers + 16 * c)
        store16(load16(dy + c * stride) * load16(x + c * stride) * power / d, t + 16 * c)
    }
    let coefficient = 2 * p.alphaOverSize * p.power.beta
    var sum = V16()                                        // walk 2: running sum of t over [j - after, j + before]
    for c in 0..<min(p.before, p.channels) { sum += load16(t + 16 * c) }
    for j in 0..<p.channels {
        let entering = j + p.before, leaving = j - p.after - 1
        if entering < p.channels { sum += load16(t + 16 * entering) }
        if leaving >= 0 { sum -= load16(t + 16 * leaving) }
        let a = load16(x + j * stride)
        store16(load16(dy + j * stride) * load16(powers + 16 * j) - coefficient * a * sum, dx + j * stride)
    }
}

extension NegativePower {
    var beta: Float {
        switch self {
        case .threeQuarters: return 0.75
        case .half: return 0.5
        case .one: return 1
        case .general(let beta): return beta
        }
    }
}

/// Runs `body(xPointer, stride, outPointer)` over every (image, 16-position block),
/// `inputs` arrays are read at the block, the output written there. Tail blocks are
/// gathered into zero-padded scratch with stride 16 and scattered back.
fileprivate func forEachBlock(shape s: FeatureMapShape, inputs: [UnsafePointer<Float>], output: UnsafeMutablePointer<Float>,
                              scratchPerThread: Int,
                              _ body: (_ inputs: [UnsafePointer<Float>], _ output: UnsafeMutablePointer<Float>, _ stride: Int,
                                       _ scratch: UnsafeMutablePointer<Float>) -> Void) {
    let (channels, hw) = (s.channels, s.spatial)
    let blocks = (hw + 15) / 16
    Parallelism.forEachChunk(s.batch * blocks) { _, range in
        let tailLength = 16 * channels
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchPerThread + tailLength * (inputs.count + 1))
        scratch.initialize(repeating: 0, count: scratchPerThread + tailLength * (inputs.count + 1))
        defer { scratch.deallocate() }
        let tails = scratch + scratchPerThread
        var shifted = inputs
        for unit in range {
            let n = unit / blocks, position = (unit % blocks) * 16
            let offset = n * channels * hw + position
            let count = min(16, hw - position)
            if count == 16 {
                for i in inputs.indices { shifted[i] = inputs[i] + offset }
                body(shifted, output + offset, hw, scratch)
            } else {
                for i in inputs.indices {
                    let tail = tails + i * tailLength
                    for c in 0..<channels {
                        for lane in 0..<16 { tail[16 * c + lane] = lane < count ? inputs[i][offset + c * hw + lane] : 0 }
                    }
                    shifted[i] = UnsafePointer(tail)
                }
                let out = tails + inputs.count * tailLength
                body(shifted, out, 16, scratch)
                for c in 0..<channels {
                    for lane in 0..<count { output[offset + c * hw + lane] = out[16 * c + lane] }
                }
            }
        }
    }
}

/// Positions per forward tile: 4 KB of window sums, so the sums, the `size` + 1 live input
/// rows and the output row of a tile all stay in L1 while the channel walk streams.
fileprivate let forwardTile = 1024

/// `v^-beta` for one float (the tail of a tile), the same formulas as the vector path.
@inline(__always) fileprivate func negativePower(_ d: Float, _ power: NegativePower) -> Float {
    switch power {
    case .threeQuarters: let r = d.squareRoot(); return 1 / (r * r.squareRoot())
    case .half: return 1 / d.squareRoot()
    case .one: return 1 / d
    case .general(let beta): return Foundation.exp(-beta * Foundation.log(d))
    }
}

/// Forward over one tile of `count` positions of one image: `x`, `y` point at channel 0
/// of the tile, channel planes `stride` apart; `sums` holds `count` floats of scratch.
/// The channel walk is the outer loop, the positions the inner, contiguous one: each
/// step reads the entering row (from memory, in order: the prefetcher streams it), the
/// leaving and the centre rows (both in L1) and writes one output row.
@inline(__always)
fileprivate func lrnForwardTile<P: PowerEvaluation>(_: P.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                                    count: Int, stride: Int, sums: UnsafeMutablePointer<Float>,
                                                    _ p: LRNParameters) {
    let vectorEnd = count & ~15
    sums.initialize(repeating: 0, count: count)
    for c in 0..<min(p.after, p.channels) {               // the window of channel 0, less its top
        let row = x + c * stride
        for i in 0..<count { sums[i] += row[i] * row[i] }
    }
    let (scale, k) = (p.alphaOverSize, p.k)
    for c in 0..<p.channels {
        let entering = c + p.after, leaving = c - p.before - 1
        let centre = x + c * stride, out = y + c * stride
        let enter: UnsafePointer<Float>? = entering < p.channels ? x + entering * stride : nil
        let leave: UnsafePointer<Float>? = leaving >= 0 ? x + leaving * stride : nil
        var i = 0
        while i < vectorEnd {
            var s = load16(sums + i)
            if let enter { let v = load16(enter + i); s = s.addingProduct(v, v) }
            if let leave { let v = load16(leave + i); s = s.addingProduct(-v, v) }
            store16(s, sums + i)
            let d = k + scale * s.replacing(with: 0, where: s .< 0)
            store16(load16(centre + i) * P.evaluate(d), out + i)
            i += 16
        }
        while i < count {
            var s = sums[i]
            if let enter { s += enter[i] * enter[i] }
            if let leave { s -= leave[i] * leave[i] }
            sums[i] = s
            out[i] = centre[i] * negativePower(k + scale * max(s, 0), p.power)
            i += 1
        }
    }
}

/// `d^-beta` on 16 lanes, one type per special beta so the walk has no switch inside.
fileprivate protocol PowerEvaluation { static func evaluate(_ d: V16) -> V16 }
fileprivate enum ThreeQuarters: PowerEvaluation {
    @inline(__always) static func evaluate(_ d: V16) -> V16 { negativeThreeQuarters(d) }
}
fileprivate enum Half: PowerEvaluation {
    @inline(__always) static func evaluate(_ d: V16) -> V16 { reciprocalSquareRoot(d) }
}
fileprivate enum One: PowerEvaluation {
    @inline(__always) static func evaluate(_ d: V16) -> V16 { 1 / d }
}

/// Runs the forward tiles of every (image, tile) over the threads.
fileprivate func lrnForwardAll<P: PowerEvaluation>(_: P.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                                   shape s: FeatureMapShape, _ p: LRNParameters) {
    let hw = s.spatial
    let tiles = (hw + forwardTile - 1) / forwardTile
    let tile = (hw + tiles - 1) / tiles
    Parallelism.forEachChunk(s.batch * tiles) { _, range in
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: tile)
        defer { sums.deallocate() }
        for unit in range {
            let n = unit / tiles, start = (unit % tiles) * tile
            let offset = n * s.channels * hw + start
            lrnForwardTile(P.self, x + offset, y + offset, count: min(tile, hw - start), stride: hw, sums: sums, p)
        }
    }
}

extension Fast {
    /// Local response normalisation, twin of ``Naive/localResponseNorm(_:shape:size:alpha:beta:k:)``
    /// (PyTorch convention: alpha is divided by `size`): running sum of squares across
    /// channels over tiles of up to 1024 positions (SIMD16 across positions), parallel
    /// over (image, tile).
    public static func localResponseNorm(_ x: [Float], shape s: FeatureMapShape, size: Int,
                                         alpha: Float, beta: Float, k: Float) -> [Float] {
        Naive.checkLRN(size: size, shape: s, in: "local_response_norm")
        checkCount(x.count, equals: s.count, "x", in: "local_response_norm")
        let p = LRNParameters(channels: s.channels, before: size / 2, after: (size - 1) / 2,
                              alphaOverSize: alpha / Float(size), k: k, power: NegativePower(beta))
        return [Float](unsafeUninitializedCapacity: x.count) { yb, initialized in
            x.withUnsafeBufferPointer { xb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                switch p.power {
                case .threeQuarters: lrnForwardAll(ThreeQuarters.self, xp, yp, shape: s, p)
                case .half: lrnForwardAll(Half.self, xp, yp, shape: s, p)
                case .one: lrnForwardAll(One.self, xp, yp, shape: s, p)
                case .general:
                    forEachBlock(shape: s, inputs: [xp], output: yp, scratchPerThread: 0) { inputs, out, stride, _ in
                        lrnForward16(inputs[0], out, stride: stride, p)
                    }
                }
            }
            initialized = x.count
        }
    }

    /// The gradient of local response normalisation, twin of
    /// ``Naive/localResponseNormBackward(_:outputGradient:shape:size:alpha:beta:k:)``.
    public static func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape s: FeatureMapShape,
                                                 size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
        Naive.checkLRN(size: size, shape: s, in: "local_response_norm backward")
        checkCount(x.count, equals: s.count, "x", in: "local_response_norm backward")
        checkCount(dy.count, equals: s.count, "dy", in: "local_response_norm backward")
        let p = LRNParameters(channels: s.channels, before: size / 2, after: (size - 1) / 2,
                              alphaOverSize: alpha / Float(size), k: k, power: NegativePower(beta))
        var dx = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            dy.withUnsafeBufferPointer { dyb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    forEachBlock(shape: s, inputs: [xb.baseAddress!, dyb.baseAddress!], output: dxb.baseAddress!,
                                 scratchPerThread: 2 * 16 * s.channels) { inputs, out, stride, scratch in
                        lrnBackward16(inputs[0], inputs[1], out, stride: stride, p, scratch: scratch)
                    }
                }
            }
        }
        return dx
    }
}
