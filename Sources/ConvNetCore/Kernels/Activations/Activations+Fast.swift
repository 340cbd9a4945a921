// Fast activations: relu, tanh, sigmoid and their gradients.
//
// Trick: sixteen elements per step in SIMD16<Float> registers; relu picks lanes with a
// mask (compare + blend) instead of a branch per element, and tanh/sigmoid use the
// vectorised polynomial exp of VectorMath.swift instead of one scalar C-library call
// per element. Output arrays are written uninitialised (no zero-fill pass), and large
// arrays are split into chunks across threads. The naive twins branch per element and
// call Foundation's tanh/exp in Double.

extension Fast {
    /// `max(x, 0)` elementwise.
    public static func relu(_ x: [Float]) -> [Float] {
        unary(x) { x, y, count in
            var i = 0
            while i + 16 <= count {
                let v = load16(x + i)
                store16(v.replacing(with: 0, where: v .< 0), y + i)
                i += 16
            }
            for j in i..<count { y[j] = x[j] > 0 ? x[j] : 0 }
        }
    }

    /// `dy` where `x > 0`, else 0 (PyTorch's gradient at 0 is 0).
    public static func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        checkCount(dy.count, equals: x.count, "dy", in: "reluBackward")
        return binary(x, dy) { x, dy, dx, count in
            var i = 0
            while i + 16 <= count {
                let v = load16(x + i)
                store16(SIMD16<Float>(repeating: 0).replacing(with: load16(dy + i), where: v .> 0), dx + i)
                i += 16
            }
            for j in i..<count { dx[j] = x[j] > 0 ? dy[j] : 0 }
        }
    }

    /// `tanh x` elementwise.
    public static func tanh(_ x: [Float]) -> [Float] {
        unary(x) { VectorMath.tanh($0, $1, count: $2) }
    }

    /// `dy * (1 - tanh(x)^2)`.
    public static func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        checkCount(dy.count, equals: x.count, "dy", in: "tanhBackward")
        return binary(x, dy) { VectorMath.tanhBackward($0, $1, $2, count: $3) }
    }

    /// `1 / (1 + e^-x)` elementwise.
    public static func sigmoid(_ x: [Float]) -> [Float] {
        unary(x) { VectorMath.sigmoid($0, $1, count: $2) }
    }

    /// `dy * s (1 - s)` with `s = sigmoid(x)`.
    public static func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        checkCount(dy.count, equals: x.count, "dy", in: "sigmoidBackward")
        return binary(x, dy) { VectorMath.sigmoidBackward($0, $1, $2, count: $3) }
    }

    /// A new array `y` of `x.count` floats, filled by `body(x + start, y + start, n)`
    /// on chunks of the array (in parallel for large arrays).
    private static func unary(_ x: [Float],
                              _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        let n = x.count
        if n == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            x.withUnsafeBufferPointer { x in
                let px = x.baseAddress!, py = out.baseAddress!
                ElementwiseLoops.chunks(n) { start, end in body(px + start, py + start, end - start) }
            }
            initialized = n
        }
    }

    /// Like `unary`, with a second input of the same count.
    private static func binary(_ a: [Float], _ b: [Float],
                               _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        let n = a.count
        if n == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    let pa = a.baseAddress!, pb = b.baseAddress!, py = out.baseAddress!
                    ElementwiseLoops.chunks(n) { start, end in body(pa + start, pb + start, py + start, end - start) }
                }
            }
            initialized = n
        }
    }
}

