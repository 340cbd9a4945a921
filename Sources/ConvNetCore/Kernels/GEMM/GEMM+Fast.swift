// PROVISIONAL: a correct but simple GEMM, so the other kernels can be written against
// the final signature. Replaced by the packed, register-blocked, multithreaded kernel.

extension Fast {
    /// `C = A B` (or `C += A B` when `accumulate`), on raw row-major storage.
    ///
    /// `op(A)` is `[m, k]`: A itself (leading dimension `lda`, element (i, p) at
    /// `a[i * lda + p]`) or, when `transposeA`, the transpose of a `[k, m]` matrix
    /// (element (i, p) at `a[p * lda + i]`). Likewise `op(B)` is `[k, n]`, from B or from
    /// the transpose of a `[n, k]` matrix. C is `[m, n]` with leading dimension `ldc`.
    /// Runs on `Parallelism.threadCount` threads.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                            b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += av * bv
                }
                c[i * ldc + j] = sum
            }
        }
    }

    /// Matrix product `C = A B` of row-major arrays: A is `[m, k]`, B is `[k, n]`.
    public static func gemm(m: Int, n: Int, k: Int, a: [Float], b: [Float]) -> [Float] {
        checkCount(a.count, equals: m * k, "A", in: "gemm")
        checkCount(b.count, equals: k * n, "B", in: "gemm")
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    gemm(m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n,
                         c: c.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }
}
