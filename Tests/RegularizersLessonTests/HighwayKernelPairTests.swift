import ConvNetCore
import Foundation
import Testing
import TestSupport

/// The highway combination's kernel pair (Sources/ConvNetCore/Kernels/Highway/):
/// y = h T + x (1 - T), T = sigmoid(gate), forward and backward.
@Suite("Highway kernel pair")
struct HighwayKernelPairTests {
    /// Odd counts, one vector, one past it, and one large enough to run on several threads.
    static let counts = [1, 7, 15, 16, 17, 250, 1001, 70_001]

    static func inputs(_ count: Int, seed: UInt64) -> (x: [Float], h: [Float], g: [Float], dy: [Float]) {
        let g: [Float] = (randomArray(count, seed: seed + 2) as [Float]).map { $0 * 8 }      // gates from sigmoid(-8) to sigmoid(8)
        return (randomArray(count, seed: seed), randomArray(count, seed: seed + 1), g, randomArray(count, seed: seed + 3))
    }

    @Test("fast highway equals the naive one, forward and backward, on many sizes")
    func fastEqualsNaive() {
        for (index, count) in Self.counts.enumerated() {
            let (x, h, g, dy) = Self.inputs(count, seed: UInt64(10 * index + 1))
            #expect(relativeError(Fast.highway(x, transform: h, gate: g), Naive.highway(x, transform: h, gate: g)) < 1e-6, "\(count)")
            let fast = Fast.highwayBackward(x, transform: h, gate: g, outputGradient: dy)
            let naive = Naive.highwayBackward(x, transform: h, gate: g, outputGradient: dy)
            #expect(relativeError(fast.input, naive.input) < 1e-6, "\(count) dx")
            #expect(relativeError(fast.transform, naive.transform) < 1e-6, "\(count) dh")
            #expect(relativeError(fast.gate, naive.gate) < 1e-6, "\(count) dgate")
        }
    }

    @Test("the naive backward equals central finite differences in Double, for x, h and the gate")
    func backwardMatchesFiniteDifferences() {
        let count = 29
        let x: [Double] = randomArray(count, seed: 41), h: [Double] = randomArray(count, seed: 42)
        let g: [Double] = (randomArray(count, seed: 43) as [Double]).map { $0 * 3 }, dy: [Double] = randomArray(count, seed: 44)
        let d = Naive.highwayBackward(x, transform: h, gate: g, outputGradient: dy)
        let dx = numericalGradient(of: { dot(Naive.highway($0, transform: h, gate: g), dy) }, at: x)
        let dh = numericalGradient(of: { dot(Naive.highway(x, transform: $0, gate: g), dy) }, at: h)
        let dg = numericalGradient(of: { dot(Naive.highway(x, transform: h, gate: $0), dy) }, at: g)
        #expect(relativeError(d.input, dx) < 1e-6)
        #expect(relativeError(d.transform, dh) < 1e-6)
        #expect(relativeError(d.gate, dg) < 1e-6)
    }

    @Test("with T = 0 (gate -infinity) both kernels return the input exactly; with T = 1 the transform exactly")
    func gateLimits() {
        let (x, h, _, dy) = Self.inputs(37, seed: 50)
        let closed = [Float](repeating: -.infinity, count: 37), open = [Float](repeating: .infinity, count: 37)
        #expect(Naive.highway(x, transform: h, gate: closed) == x)
        #expect(Fast.highway(x, transform: h, gate: closed) == x)
        #expect(Naive.highway(x, transform: h, gate: open) == h)
        #expect(Fast.highway(x, transform: h, gate: open) == h)
        // T = 0: the gradient goes to x unchanged, none to the transform or the gate (the naive
        // kernel exactly; the fast one's polynomial sigmoid bottoms out at a denormal, so < 1e-30).
        let n = Naive.highwayBackward(x, transform: h, gate: closed, outputGradient: dy)
        #expect(n.input == dy && n.transform.allSatisfy { $0 == 0 } && n.gate.allSatisfy { $0 == 0 })
        let d = Fast.highwayBackward(x, transform: h, gate: closed, outputGradient: dy)
        #expect(d.input == dy && d.transform.allSatisfy { abs($0) < 1e-30 } && d.gate.allSatisfy { abs($0) < 1e-30 })
    }

    @Test("a wrong gradient (the gate's sigmoid' left out) is caught by the finite-difference check")
    func brokenGradientIsCaught() {
        let count = 11
        let x: [Double] = randomArray(count, seed: 61), h: [Double] = randomArray(count, seed: 62)
        let g: [Double] = randomArray(count, seed: 63), dy: [Double] = randomArray(count, seed: 64)
        let wrong = zip(zip(dy, h), x).map { $0.0 * ($0.1 - $1) }                        // dy (h - x), no T (1 - T)
        let numeric = numericalGradient(of: { dot(Naive.highway(x, transform: h, gate: $0), dy) }, at: g)
        #expect(relativeError(wrong, numeric) > 1e-2)
    }
}
