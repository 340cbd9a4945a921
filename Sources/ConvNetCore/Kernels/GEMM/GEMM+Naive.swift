extension Naive {
    /// Matrix product `C = A B` of row-major matrices: A is `[m, k]`, B is `[k, n]`,
    /// C is `[m, n]`, and `C[i][j] = sum_p A[i][p] * B[p][j]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func gemm<T: BinaryFloatingPoint>(m: Int, n: Int, k: Int, a: [T], b: [T]) -> [T] {
        checkCount(a.count, equals: m * k, "A", in: "gemm")
        checkCount(b.count, equals: k * n, "B", in: "gemm")
        var c = [T](repeating: 0, count: m * n)
        for i in 0..<m {                  // row of C
            for j in 0..<n {              // column of C
                var sum: T = 0
                for p in 0..<k {          // the shared dimension
                    sum += a[i * k + p] * b[p * n + j]
                }
                c[i * n + j] = sum
            }
        }
        return c
    }
}
