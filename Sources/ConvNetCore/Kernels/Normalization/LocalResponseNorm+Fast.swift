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
//  - No `pow`: D^-beta for beta == 0.75 (AlexNet, and PyTorch's default) is
//    1 / (sqrt(D) * sqrt(sqrt(D))) with vector square roots; beta == 0.5 is 1 / sqrt(D),
//    beta == 1 is 1 / D; other betas use exp(-beta * log(D)) per lane.
//  - Threads: the work units are (image, block of 16 positions); `Parallelism.forEachChunk`
//    hands each thread a contiguous run. The last block of a plane (H*W not a multiple of
//    16) is gathered into a zero-padded scratch, computed the same way, and scattered back.
// Backward: one walk computes D_c^-beta and t_c = dy_c * a_c * D_c^(-beta-1) into
// per-thread scratch, a second walk keeps the running sum of t over the transposed window
// [j - (size-1)/2, j + size/2] and forms dx_j = dy_j D_j^-beta - (2 alpha beta / size) a_j T_j.

fileprivate typealias V16 = SIMD16<Float>

@inline(__always) fileprivate func load16(_ p: UnsafePointer<Float>) -> V16 {
    UnsafeRawPointer(p).loadUnaligned(as: V16.self)
}

@inline(__always) fileprivate func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
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
            let r = d.squareRoot()
            return 1 / (r * r.squareRoot())
        case .half:
            return 1 / d.squareRoot()
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

extension Fast {
    /// Local response normalisation, twin of ``Naive/localResponseNorm(_:shape:size:alpha:beta:k:)``
    /// (PyTorch convention: alpha is divided by `size`): running sum of squares across
    /// channels, SIMD16 across positions.
    public static func localResponseNorm(_ x: [Float], shape s: FeatureMapShape, size: Int,
                                         alpha: Float, beta: Float, k: Float) -> [Float] {
        Naive.checkLRN(size: size, shape: s, in: "local_response_norm")
        checkCount(x.count, equals: s.count, "x", in: "local_response_norm")
        let p = LRNParameters(channels: s.channels, before: size / 2, after: (size - 1) / 2,
                              alphaOverSize: alpha / Float(size), k: k, power: NegativePower(beta))
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                forEachBlock(shape: s, inputs: [xb.baseAddress!], output: yb.baseAddress!, scratchPerThread: 0) {
                    inputs, out, stride, _ in
                    lrnForward16(inputs[0], out, stride: stride, p)
                }
            }
        }
        return y
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
