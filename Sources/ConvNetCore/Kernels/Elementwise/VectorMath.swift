// Vectorised exp, sigmoid and tanh, sixteen floats at once, and the array loops built
// on them (used by the fast activations and losses).
//
// Trick: instead of one scalar C-library call per element (a function call with its
// own branches), every lane runs the same branch-free arithmetic, so one vector
// instruction serves sixteen elements:
//   exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2].
//   n is found by adding and subtracting 1.5 * 2^23 (round-to-nearest in the adder),
//   r by a two-part (Cody-Waite) ln 2 so the subtraction stays exact, e^r by a
//   degree-7 polynomial (Cephes' expf coefficients, Horner with fused multiply-adds),
//   and 2^n by writing n + 127 straight into the exponent bits of a float.
// sigmoid and tanh only ever call exp on -|x| (never overflows) and pick the branch
// for the sign with a lane mask instead of an `if`. Measured against Double (see
// ActivationTests): worst relative error 8.1e-8 for exp over [-87, 88] (under 1 ulp),
// 1.7e-7 for sigmoid over [-80, 80], 1.5e-7 for tanh; a scalar libm call is 0.5-1 ulp.
// Clamping uses compare-and-replace: `clamped(lowerBound:upperBound:)` and
// `pointwiseMin/Max` compile to one scalar comparison per lane.
// The array loops live in this file so the vector code inlines into them (see
// ElementwiseLoops.swift); other files call them once per chunk or row.

enum VectorMath {
    /// `e^x` per lane, relative error ~1 ulp; arguments are clamped to [-87.33, 88]
    /// (results from 1.2e-38, the smallest normal float, up to 1.65e38: no infinities,
    /// no denormals).
    @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        var clamped = x.replacing(with: -87.336_54, where: x .< -87.336_54)
        clamped.replace(with: 88, where: clamped .> 88)
        // n = round(x / ln 2): adding 1.5 * 2^23 pushes the fraction bits out of the
        // float, so the hardware's round-to-nearest does the rounding.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let t = (clamped * 1.442_695_04) + magic
        let n = t - magic
        // r = x - n ln 2 with ln 2 = 0.693359375 - 2.12194440e-4 (the first part has 9
        // significant bits, so n * part1 is exact).
        var r = clamped.addingProduct(n, SIMD16(repeating: -0.693_359_375))
        r = r.addingProduct(n, SIMD16(repeating: 2.121_944_40e-4))
        // e^r = 1 + r + r^2 p(r)
        var p = SIMD16<Float>(repeating: 1.987_569_150_0e-4)
        p = SIMD16(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = SIMD16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = SIMD16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = SIMD16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = SIMD16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let er = r.addingProduct(p, r * r) + 1   // one rounding of the sum, at the end
        // 2^n: the low bits of t hold n (offset by the magic constant, whose low 22
        // bits are zero); n + 127 shifted into bits 23-30 is the float 2^n.
        let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self)
        let scale = unsafeBitCast((bits &+ 127) &<< 23, to: SIMD16<Float>.self)
        return er * scale
    }

    /// `|x|` per lane (the sign bit cleared).
    @inline(__always)
    static func magnitude(_ x: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    }

    /// `1 / (1 + e^-x)` per lane: with z = e^-|x| (at most 1), 1 / (1 + z) for x >= 0
    /// and z / (1 + z) for x < 0, so neither side overflows or cancels.
    @inline(__always)
    static func sigmoid(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let z = exp(-magnitude(x))
        let numerator = SIMD16<Float>(repeating: 1).replacing(with: z, where: x .< 0)
        return numerator / (1 + z)
    }

    /// `tanh x` per lane. For |x| < 0.625 an odd polynomial x + x^3 q(x^2) (Cephes'
    /// tanhf), where (1 - e^-2|x|) would lose digits to cancellation; above it
    /// (1 - z) / (1 + z) with z = e^-2|x|, carrying the sign of x.
    @inline(__always)
    static func tanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let a = magnitude(x)
        let z = exp(-2 * a)
        var large = (1 - z) / (1 + z)
        large.replace(with: -large, where: x .< 0)
        let s = x * x
        var q = SIMD16<Float>(repeating: -5.704_988_727_45e-3)
        q = SIMD16(repeating: 2.063_908_879_54e-2).addingProduct(q, s)
        q = SIMD16(repeating: -5.373_971_555_31e-2).addingProduct(q, s)
        q = SIMD16(repeating: 1.333_144_220_36e-1).addingProduct(q, s)
        q = SIMD16(repeating: -3.333_328_194_22e-1).addingProduct(q, s)
        let small = x.addingProduct(q * s, x)
        return large.replacing(with: small, where: a .< 0.625)
    }
}

// MARK: - Array loops
//
// Each loop runs over whole vectors only, with a single call site of the vector
// function, and the last partial vector goes through the same loop from a zero-padded
// copy on the stack. (A second, partial-vector path in the same loop makes the
// compiler merge both paths through 128-bit registers, a 4x loss, or stop inlining
// the large `@inline(__always)` body.)

/// A function of two vectors (the second ignored by one-argument functions).
private protocol VectorFunction {
    static func apply(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float>
}

private enum TanhFunction: VectorFunction {
    @inline(__always)
    static func apply(_ x: SIMD16<Float>, _: SIMD16<Float>) -> SIMD16<Float> { VectorMath.tanh(x) }
}

private enum TanhBackwardFunction: VectorFunction {
    @inline(__always)
    static func apply(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
        let t = VectorMath.tanh(x)
        return dy * (1 - t * t)
    }
}

private enum SigmoidFunction: VectorFunction {
    @inline(__always)
    static func apply(_ x: SIMD16<Float>, _: SIMD16<Float>) -> SIMD16<Float> { VectorMath.sigmoid(x) }
}

private enum SigmoidBackwardFunction: VectorFunction {
    @inline(__always)
    static func apply(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
        let s = VectorMath.sigmoid(x)
        return dy * s * (1 - s)
    }
}

/// `out[i] = F(a[i], b[i])` for `i < vectors * 16`.
@inline(never)
private func wholeVectors<F: VectorFunction>(_: F.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                             _ out: UnsafeMutablePointer<Float>, vectors: Int) {
    for v in 0..<vectors {
        store16(F.apply(load16(a + 16 * v), load16(b + 16 * v)), out + 16 * v)
    }
}

/// `out[i] = F(a[i], b[i])` for `i < count`.
private func apply<F: VectorFunction>(_ f: F.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                      _ out: UnsafeMutablePointer<Float>, count: Int) {
    let whole = count / 16 * 16
    wholeVectors(f, a, b, out, vectors: count / 16)
    let rest = count - whole
    if rest == 0 { return }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { t in
        let ta = t.baseAddress!, tb = ta + 16, tout = ta + 32
        t.initialize(repeating: 0)
        ta.update(from: a + whole, count: rest)
        tb.update(from: b + whole, count: rest)
        wholeVectors(f, ta, tb, tout, vectors: 1)
        (out + whole).update(from: tout, count: rest)
    }
}

extension VectorMath {
    /// `y[i] = tanh(x[i])` for `i < count`.
    static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        apply(TanhFunction.self, x, x, y, count: count)
    }

    /// `dx[i] = dy[i] * (1 - tanh(x[i])^2)` for `i < count`.
    static func tanhBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        apply(TanhBackwardFunction.self, x, dy, dx, count: count)
    }

    /// `y[i] = sigmoid(x[i])` for `i < count`.
    static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        apply(SigmoidFunction.self, x, x, y, count: count)
    }

    /// `dx[i] = dy[i] * s (1 - s)`, `s = sigmoid(x[i])`, for `i < count`.
    static func sigmoidBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        apply(SigmoidBackwardFunction.self, x, dy, dx, count: count)
    }

    /// `max_i z[i]` of `count` (> 0) floats.
    static func maximum(_ z: UnsafePointer<Float>, count: Int) -> Float {
        var m = SIMD16<Float>(repeating: -.infinity)
        var c = 0
        while c + 16 <= count {
            let v = load16(z + c)
            m.replace(with: v, where: v .> m)
            c += 16
        }
        var result = m.max()
        while c < count { result = max(result, z[c]); c += 1 }
        return result
    }

    /// Writes `e[i] = exp(z[i] * scale - shift)` to `out` and returns `sum_i e[i]`
    /// (the softmax numerators and denominator of a row, with `shift` its scaled max).
    static func exponentials(_ z: UnsafePointer<Float>, count: Int, scale: Float, shift: Float,
                             into out: UnsafeMutablePointer<Float>) -> Float {
        let whole = count / 16 * 16
        var sum = exponentialVectors(z, vectors: count / 16, scale: scale, shift: shift, into: out)
        let rest = count - whole
        if rest > 0 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { t in
                let tz = t.baseAddress!, tout = tz + 16
                t.initialize(repeating: 0)
                tz.update(from: z + whole, count: rest)
                _ = exponentialVectors(tz, vectors: 1, scale: scale, shift: shift, into: tout)
                (out + whole).update(from: tout, count: rest)
                for i in 0..<rest { sum += tout[i] }   // only the real lanes
            }
        }
        return sum
    }

    @inline(never)
    private static func exponentialVectors(_ z: UnsafePointer<Float>, vectors: Int, scale: Float, shift: Float,
                                           into out: UnsafeMutablePointer<Float>) -> Float {
        var sum = SIMD16<Float>(repeating: 0)
        let s = SIMD16<Float>(repeating: scale), b = SIMD16<Float>(repeating: -shift)
        for v in 0..<vectors {
            let e = exp(b.addingProduct(load16(z + 16 * v), s))
            store16(e, out + 16 * v)
            sum += e
        }
        return sum.sum()
    }
}
