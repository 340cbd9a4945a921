import Testing
@testable import ConvNetCore

@Suite("GEMM")
struct GEMMTests {
    @Test("fast GEMM equals the naive triple loop")
    func fastEqualsNaive() {
        let (m, n, k) = (7, 5, 3)
        let a: [Float] = randomArray(m * k, seed: 1)
        let b: [Float] = randomArray(k * n, seed: 2)
        #expect(relativeError(Fast.gemm(m: m, n: n, k: k, a: a, b: b), Naive.gemm(m: m, n: n, k: k, a: a, b: b)) < 1e-6)
    }
}
