import Testing
@testable import ConvNetCore

/// One product `C (+)= op(A) op(B)` checked against the naive triple loop (in Double):
/// A and B are stored transposed or not, with leading dimensions larger than needed
/// (the unused slots hold NaN, so reading one spoils the result), and the padding of C
/// must come back untouched.
private func checkAgainstNaive(m: Int, n: Int, k: Int, seed: UInt64, threads: [Int] = [1, 2],
                               columnBlock: Int? = nil, rowBlock: Int? = nil, depthBlock: Int? = nil,
                               narrowKernel: Bool = false) -> Double {
    let opA: [Float] = randomArray(m * k, seed: seed)            // [m, k]
    let opB: [Float] = randomArray(k * n, seed: seed &+ 1)       // [k, n]
    let c0: [Float] = randomArray(m * n, seed: seed &+ 2)
    let product = Naive.gemm(m: m, n: n, k: k, a: opA.map(Double.init), b: opB.map(Double.init))
    var worst = 0.0
    for transposeA in [false, true] {
        for transposeB in [false, true] {
            // Stored A is [m, k] or [k, m]; stored B is [k, n] or [n, k]; pad every row.
            let (aRows, aCols) = transposeA ? (k, m) : (m, k)
            let (bRows, bCols) = transposeB ? (n, k) : (k, n)
            let lda = aCols + 3, ldb = bCols + 5, ldc = n + 2
            var a = [Float](repeating: .nan, count: aRows * lda)
            var b = [Float](repeating: .nan, count: bRows * ldb)
            for i in 0..<m {
                for p in 0..<k { a[transposeA ? p * lda + i : i * lda + p] = opA[i * k + p] }
            }
            for p in 0..<k {
                for j in 0..<n { b[transposeB ? j * ldb + p : p * ldb + j] = opB[p * n + j] }
            }
            for accumulate in [false, true] {
                for t in threads {
                    let sentinel: Float = 12345
                    var c = [Float](repeating: sentinel, count: m * ldc)
                    for i in 0..<m { for j in 0..<n { c[i * ldc + j] = accumulate ? c0[i * n + j] : .nan } }
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            c.withUnsafeMutableBufferPointer { c in
                                Fast.gemm(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, transposeA: transposeA,
                                          b: b.baseAddress!, ldb: ldb, transposeB: transposeB,
                                          c: c.baseAddress!, ldc: ldc, accumulate: accumulate,
                                          threads: t, parallelThreshold: 0, columnBlock: columnBlock,
                                          rowBlock: rowBlock, depthBlock: depthBlock, narrowKernel: narrowKernel)
                            }
                        }
                    }
                    var got = [Double](), want = [Double]()
                    for i in 0..<m {
                        for j in 0..<n {
                            got.append(Double(c[i * ldc + j]))
                            want.append(product[i * n + j] + (accumulate ? Double(c0[i * n + j]) : 0))
                        }
                        for j in n..<ldc where c[i * ldc + j] != sentinel { return .infinity }
                    }
                    worst = max(worst, relativeError(got, want))
                }
            }
        }
    }
    return worst
}

@Suite("GEMM")
struct GEMMTests {
    @Test("fast GEMM equals the naive triple loop")
    func fastEqualsNaive() {
        let (m, n, k) = (37, 45, 29)
        let a: [Float] = randomArray(m * k, seed: 1)
        let b: [Float] = randomArray(k * n, seed: 2)
        #expect(relativeError(Fast.gemm(m: m, n: n, k: k, a: a, b: b), Naive.gemm(m: m, n: n, k: k, a: a, b: b)) < 1e-6)
    }

    @Test("thin, tiny and edge shapes agree with the naive loop for every transpose, stride and thread count",
          arguments: [(1, 1, 1), (1, 70, 33), (2, 5, 67), (3, 17, 1), (3, 1, 40), (4, 1, 1), (5, 31, 7),
                      (7, 33, 2), (8, 32, 16), (9, 2, 61), (13, 47, 3), (16, 64, 31), (17, 1, 19),
                      (31, 29, 37), (41, 43, 1), (53, 5, 59), (67, 71, 13), (70, 3, 70)])
    func fixedShapes(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(checkAgainstNaive(m: m, n: n, k: k, seed: UInt64(m * 10_000 + n * 100 + k)) < 1e-5)
    }

    @Test("random shapes from 1 to 70 agree with the naive loop for every transpose, stride and thread count")
    func randomShapes() {
        var g = SeededGenerator(seed: 2024)
        for trial in 0..<24 {
            let m = 1 + Int(g.next() % 70), n = 1 + Int(g.next() % 70), k = 1 + Int(g.next() % 70)
            let error = checkAgainstNaive(m: m, n: n, k: k, seed: UInt64(trial))
            #expect(error < 1e-5, "m=\(m) n=\(n) k=\(k)")
        }
    }

    @Test("a larger product (129 x 257 x 65) agrees with the naive loop on 1 and 2 threads")
    func largerShape() {
        #expect(checkAgainstNaive(m: 129, n: 257, k: 65, seed: 7) < 1e-5)
    }

    @Test("several depth blocks (k > 256) and several column blocks agree with the naive loop")
    func manyBlocks() {
        #expect(checkAgainstNaive(m: 11, n: 150, k: 300, seed: 8, columnBlock: 64) < 1e-5)
        #expect(checkAgainstNaive(m: 2, n: 40, k: 530, seed: 9) < 1e-5)
    }

    @Test("several row, column and depth blocks at once, with ragged last blocks, agree with the naive loop")
    func rowColumnAndDepthBlocks() {
        // 45 rows in blocks of 16 (the last of 13 rows ends in a partial panel, packed on first
        // use and reused by the later column blocks); 167 columns in blocks of 64 (5 full
        // 32-column panels and 7 columns over); depth 70 in 3 blocks.
        #expect(checkAgainstNaive(m: 45, n: 167, k: 70, seed: 11, columnBlock: 64, rowBlock: 16, depthBlock: 32) < 1e-5)
        #expect(checkAgainstNaive(m: 45, n: 167, k: 70, seed: 12, columnBlock: 48, rowBlock: 12, depthBlock: 32,
                                  narrowKernel: true) < 1e-5)
        // One column block of 9 full panels (packed 4 panels at a time: 4 + 4 + 1) and a rest.
        #expect(checkAgainstNaive(m: 19, n: 300, k: 21, seed: 13) < 1e-5)
    }

    @Test("the 6 x 16 micro-kernel of CPUs without AVX-512 agrees with the naive loop too")
    func narrowKernel() {
        for (m, n, k) in [(4, 1, 1), (6, 16, 16), (7, 17, 33), (13, 47, 3), (41, 43, 29), (129, 70, 65)] {
            let error = checkAgainstNaive(m: m, n: n, k: k, seed: UInt64(m + n + k), narrowKernel: true)
            #expect(error < 1e-5, "m=\(m) n=\(n) k=\(k)")
        }
        #expect(checkAgainstNaive(m: 11, n: 150, k: 300, seed: 3, columnBlock: 32, narrowKernel: true) < 1e-5)
    }

    @Test("k = 0 gives zeros, or leaves C unchanged when accumulating")
    func emptyDepth() {
        let a: [Float] = [0], b: [Float] = [0]
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        Fast.gemm(m: 2, n: 3, k: 0, a: a, lda: 0, b: b, ldb: 3, c: &c, ldc: 3, accumulate: true)
        #expect(c == [1, 2, 3, 4, 5, 6])
        Fast.gemm(m: 2, n: 3, k: 0, a: a, lda: 0, b: b, ldb: 3, c: &c, ldc: 3)
        #expect(c == [0, 0, 0, 0, 0, 0])
        #expect(Fast.gemm(m: 2, n: 3, k: 0, a: [], b: []) == [0, 0, 0, 0, 0, 0])
    }
}
