// Fast fully connected layer.
//
// Trick: all three products are one matrix multiply each, handed to the blocked,
// multithreaded `Fast.gemm`, whose transpose flags read W^T and dy^T in place (no
// transposed copy is made): y = x W^T (bias pre-loaded into y, then accumulated),
// dx = dy W, dW = dy^T x. The bias gradient adds whole rows of dy, sixteen columns per
// SIMD instruction. The naive twin walks the same sums one multiply-add at a time.

extension Fast {
    /// `y = x W^T + b`: x `[N, I]`, weight `[O, I]`, bias `[O]` or nil, y `[N, O]`.
    public static func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        checkLinear(x: x.count, weight: weight.count, bias: bias?.count, batch: batch,
                    inFeatures: inFeatures, outFeatures: outFeatures)
        var y = [Float](repeating: 0, count: batch * outFeatures)
        if batch == 0 || outFeatures == 0 { return y }
        if let bias {
            y.withUnsafeMutableBufferPointer { y in
                bias.withUnsafeBufferPointer { b in
                    for n in 0..<batch {
                        (y.baseAddress! + n * outFeatures).update(from: b.baseAddress!, count: outFeatures)
                    }
                }
            }
        }
        if inFeatures == 0 { return y }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    // [N, O] (+)= [N, I] * [O, I]^T
                    gemm(m: batch, n: outFeatures, k: inFeatures,
                         a: x.baseAddress!, lda: inFeatures,
                         b: w.baseAddress!, ldb: inFeatures, transposeB: true,
                         c: y.baseAddress!, ldc: outFeatures, accumulate: bias != nil)
                }
            }
        }
        return y
    }

    /// Gradients of `L = sum(y * dy)`: `dx = dy W`, `dW = dy^T x`, `db = sum_n dy[n, :]`.
    public static func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) {
        checkLinear(x: x.count, weight: weight.count, bias: nil, batch: batch,
                    inFeatures: inFeatures, outFeatures: outFeatures)
        checkCount(dy.count, equals: batch * outFeatures, "dy", in: "linearBackward")
        var dx = [Float](repeating: 0, count: batch * inFeatures)
        var dw = [Float](repeating: 0, count: outFeatures * inFeatures)
        var db = [Float](repeating: 0, count: outFeatures)
        if batch == 0 || inFeatures == 0 || outFeatures == 0 {
            if inFeatures == 0 && batch > 0 { db = columnSums(dy, rows: batch, columns: outFeatures) }
            return (dx, dw, db)
        }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { g in
                    dx.withUnsafeMutableBufferPointer { dx in
                        // [N, I] = [N, O] * [O, I]
                        gemm(m: batch, n: inFeatures, k: outFeatures,
                             a: g.baseAddress!, lda: outFeatures,
                             b: w.baseAddress!, ldb: inFeatures,
                             c: dx.baseAddress!, ldc: inFeatures)
                    }
                    dw.withUnsafeMutableBufferPointer { dw in
                        // [O, I] = [N, O]^T * [N, I]
                        gemm(m: outFeatures, n: inFeatures, k: batch,
                             a: g.baseAddress!, lda: outFeatures, transposeA: true,
                             b: x.baseAddress!, ldb: inFeatures,
                             c: dw.baseAddress!, ldc: inFeatures)
                    }
                }
            }
        }
        db = columnSums(dy, rows: batch, columns: outFeatures)
        return (dx, dw, db)
    }

    /// `s[j] = sum_r m[r, j]` of a row-major `[rows, columns]` matrix, sixteen columns
    /// per vector add.
    static func columnSums(_ m: [Float], rows: Int, columns: Int) -> [Float] {
        var s = [Float](repeating: 0, count: columns)
        if rows == 0 || columns == 0 { return s }
        m.withUnsafeBufferPointer { m in
            s.withUnsafeMutableBufferPointer { s in
                let pm = m.baseAddress!, ps = s.baseAddress!
                var j = 0
                while j + 16 <= columns {
                    var acc = SIMD16<Float>(repeating: 0)
                    for r in 0..<rows {
                        acc += load16(pm + r * columns + j)
                    }
                    store16(acc, ps + j)
                    j += 16
                }
                while j < columns {
                    var acc: Float = 0
                    for r in 0..<rows { acc += pm[r * columns + j] }
                    ps[j] = acc
                    j += 1
                }
            }
        }
        return s
    }
}
