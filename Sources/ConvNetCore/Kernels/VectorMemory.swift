// Vector loads and stores at any float address, for every fast kernel, the core's and the
// lessons': one SIMD16, SIMD8 or SIMD4 of consecutive floats (unaligned: `vmovups` on
// x86-64). Public and inlinable, so a lesson's kernel compiles them to the same single
// instructions as the core's do.

@inlinable @inline(__always)
public func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inlinable @inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inlinable @inline(__always)
public func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inlinable @inline(__always)
public func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inlinable @inline(__always)
public func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inlinable @inline(__always)
public func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

/// Interleaves two vectors: `(x0, y0, x1, y1, ..., x7, y7)` and `(x8, y8, ..., x15, y15)`,
/// the step of every in-register transpose and of the stride-phase interleaves. (LLVM turns
/// each half into one two-source permute, `vpermt2ps` on AVX-512.)
@inlinable @inline(__always)
public func interleaveLanes(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    (SIMD16(x[0], y[0], x[1], y[1], x[2], y[2], x[3], y[3], x[4], y[4], x[5], y[5], x[6], y[6], x[7], y[7]),
     SIMD16(x[8], y[8], x[9], y[9], x[10], y[10], x[11], y[11], x[12], y[12], x[13], y[13], x[14], y[14], x[15], y[15]))
}

/// The even lanes of the 32 floats `x ++ y`: `(x0, x2, ..., x14, y0, y2, ..., y14)`, the
/// stride-2 read of a row (LLVM makes it one two-source permute, `vpermt2ps`; the same
/// lanes taken from a `SIMD32<Float>` load with `evenHalf` compiled, in one place, to
/// sixteen scalar loads and inserts).
@inlinable @inline(__always)
public func evenLanes(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16(x[0], x[2], x[4], x[6], x[8], x[10], x[12], x[14], y[0], y[2], y[4], y[6], y[8], y[10], y[12], y[14])
}

/// The odd lanes of the 32 floats `x ++ y`: `(x1, x3, ..., x15, y1, y3, ..., y15)`, the
/// other half of ``evenLanes(_:_:)``.
@inlinable @inline(__always)
public func oddLanes(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16(x[1], x[3], x[5], x[7], x[9], x[11], x[13], x[15], y[1], y[3], y[5], y[7], y[9], y[11], y[13], y[15])
}

/// Stores the first `count` lanes of `v` (all sixteen when `count >= 16`): the ragged
/// end of a row.
@inlinable @inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 16 {
        store16(v, p)
    } else {
        for lane in 0..<count { p[lane] = v[lane] }
    }
}

/// Copies `count` floats, `count` small (a row of a small map, a piece of a panel row):
/// overlapping vector moves instead of a call to memmove (the first and last 16, 8 or 4
/// floats cover the run), which costs more than the copy itself below a few hundred bytes.
@inlinable @inline(__always)
public func copyFloats(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 16 {
        var i = 0
        while i + 16 <= count { store16(load16(src + i), dst + i); i += 16 }
        if i < count { store16(load16(src + (count - 16)), dst + (count - 16)) }
    } else if count >= 8 {
        let a = load8(src), b = load8(src + (count - 8))
        store8(a, dst); store8(b, dst + (count - 8))
    } else if count >= 4 {
        let a = load4(src), b = load4(src + (count - 4))
        store4(a, dst); store4(b, dst + (count - 4))
    } else {
        for i in 0..<count { dst[i] = src[i] }
    }
}

/// Sets `count` floats to zero, `count` small (the border of a padded row), with vector
/// stores as ``copyFloats(from:to:count:)`` copies.
@inlinable @inline(__always)
public func zeroFloats(_ dst: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 16 {
        var i = 0
        while i + 16 <= count { store16(SIMD16<Float>(), dst + i); i += 16 }
        if i < count { store16(SIMD16<Float>(), dst + (count - 16)) }
    } else if count >= 8 {
        store8(SIMD8<Float>(), dst); store8(SIMD8<Float>(), dst + (count - 8))
    } else if count >= 4 {
        store4(SIMD4<Float>(), dst); store4(SIMD4<Float>(), dst + (count - 4))
    } else {
        for i in 0..<count { dst[i] = 0 }
    }
}

/// `16 * ceil(n / 16)`: a length padded to whole vectors.
@inlinable @inline(__always)
public func roundUp16(_ n: Int) -> Int { (n + 15) & ~15 }

/// Calls `body` with a pointer to the elements of `array`, or with nil (an optional bias
/// or residual handed to a kernel).
@inlinable @inline(__always)
public func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
