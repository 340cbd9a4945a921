import Testing
@testable import ConvNetCore

@Suite("Linear")
struct LinearTests {
    /// (batch, in, out): batch 1, odd sizes, sizes around the 16-lane SIMD width.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (1, 7, 3), (5, 13, 17), (3, 33, 2), (8, 64, 10), (2, 5, 40), (4, 16, 16)]

    @Test("fast linear equals the naive one, forward and backward, with and without bias")
    func fastEqualsNaive() {
        for (index, (n, i, o)) in Self.shapes.enumerated() {
            let seed = UInt64(index * 10)
            let x: [Float] = randomArray(n * i, seed: seed + 1)
            let w: [Float] = randomArray(o * i, seed: seed + 2)
            let b: [Float] = randomArray(o, seed: seed + 3)
            let dy: [Float] = randomArray(n * o, seed: seed + 4)
            for bias in [b, nil] {
                let fast = Fast.linear(x, weight: w, bias: bias, batch: n, inFeatures: i, outFeatures: o)
                let naive = Naive.linear(x, weight: w, bias: bias, batch: n, inFeatures: i, outFeatures: o)
                #expect(relativeError(fast, naive) < 1e-5, "forward \(n)x\(i)->\(o) bias \(bias != nil)")
            }
            let fast = Fast.linearBackward(x, weight: w, outputGradient: dy, batch: n, inFeatures: i, outFeatures: o)
            let naive = Naive.linearBackward(x, weight: w, outputGradient: dy, batch: n, inFeatures: i, outFeatures: o)
            #expect(relativeError(fast.input, naive.input) < 1e-5, "dx \(n)x\(i)->\(o)")
            #expect(relativeError(fast.weight, naive.weight) < 1e-5, "dW \(n)x\(i)->\(o)")
            #expect(relativeError(fast.bias, naive.bias) < 1e-5, "db \(n)x\(i)->\(o)")
        }
    }

    @Test("y = x W^T + b, worked by hand")
    func handExample() {
        // x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], b = [0.5, -1, 0]
        let x: [Float] = [1, 2], w: [Float] = [1, 0, 0, 1, 1, 1], b: [Float] = [0.5, -1, 0]
        #expect(Naive.linear(x, weight: w, bias: b, batch: 1, inFeatures: 2, outFeatures: 3) == [1.5, 1, 3])
        #expect(Fast.linear(x, weight: w, bias: b, batch: 1, inFeatures: 2, outFeatures: 3) == [1.5, 1, 3])
    }

    @Test("the linear gradients for x, W and b match finite differences")
    func gradientsMatchFiniteDifferences() {
        for (index, (n, i, o)) in [(1, 3, 2), (3, 4, 5), (2, 7, 3)].enumerated() {
            let seed = UInt64(100 + index * 10)
            let x: [Double] = randomArray(n * i, seed: seed + 1)
            let w: [Double] = randomArray(o * i, seed: seed + 2)
            let b: [Double] = randomArray(o, seed: seed + 3)
            let dy: [Double] = randomArray(n * o, seed: seed + 4)
            let analytic = Naive.linearBackward(x, weight: w, outputGradient: dy, batch: n, inFeatures: i, outFeatures: o)
            let dx = numericalGradient(of: { dot(Naive.linear($0, weight: w, bias: b, batch: n, inFeatures: i, outFeatures: o), dy) }, at: x)
            let dw = numericalGradient(of: { dot(Naive.linear(x, weight: $0, bias: b, batch: n, inFeatures: i, outFeatures: o), dy) }, at: w)
            let db = numericalGradient(of: { dot(Naive.linear(x, weight: w, bias: $0, batch: n, inFeatures: i, outFeatures: o), dy) }, at: b)
            #expect(relativeError(analytic.input, dx) < 1e-6)
            #expect(relativeError(analytic.weight, dw) < 1e-6)
            #expect(relativeError(analytic.bias, db) < 1e-6)
        }
    }
}
