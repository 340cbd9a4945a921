import Foundation
import Testing
@testable import ConvNetCore

@Suite("Activations")
struct ActivationTests {
    /// Counts below, at and above the 16-lane width, and one large enough for threads.
    static let counts = [1, 15, 16, 17, 100, 1001, 70_001]

    /// Random inputs in (-scale, scale).
    static func inputs(_ count: Int, seed: UInt64, scale: Float = 6) -> [Float] {
        (randomArray(count, seed: seed) as [Float]).map { $0 * scale }
    }

    /// Random Double inputs with |x| in [0.1, 1.1): away from relu's kink at 0.
    static func awayFromZero(_ count: Int, seed: UInt64) -> [Double] {
        (randomArray(count, seed: seed) as [Double]).map { $0 + ($0 < 0 ? -0.1 : 0.1) }
    }

    @Test("fast relu, tanh and sigmoid equal the naive ones, forward and backward")
    func fastEqualsNaive() {
        for (index, count) in Self.counts.enumerated() {
            let x = Self.inputs(count, seed: UInt64(index + 1))
            let dy: [Float] = randomArray(count, seed: UInt64(index + 50))
            #expect(Fast.relu(x) == Naive.relu(x), "relu \(count)")
            #expect(Fast.reluBackward(x, outputGradient: dy) == Naive.reluBackward(x, outputGradient: dy), "relu' \(count)")
            #expect(relativeError(Fast.tanh(x), Naive.tanh(x)) < 1e-6, "tanh \(count)")
            #expect(relativeError(Fast.tanhBackward(x, outputGradient: dy), Naive.tanhBackward(x, outputGradient: dy)) < 1e-6, "tanh' \(count)")
            #expect(relativeError(Fast.sigmoid(x), Naive.sigmoid(x)) < 1e-6, "sigmoid \(count)")
            #expect(relativeError(Fast.sigmoidBackward(x, outputGradient: dy), Naive.sigmoidBackward(x, outputGradient: dy)) < 1e-6, "sigmoid' \(count)")
        }
        #expect(Fast.relu([]).isEmpty && Fast.tanh([]).isEmpty)
    }

    /// The largest elementwise relative error of a vectorised function against Double,
    /// on a dense grid of `[low, high]` (sixteen points per call).
    static func worstRelativeError(low: Double, high: Double, points: Int = 200_000,
                                   _ fast: (SIMD16<Float>) -> SIMD16<Float>,
                                   _ exact: (Double) -> Double) -> Double {
        var worst = 0.0
        var i = 0
        while i < points {
            var v = SIMD16<Float>()
            for lane in 0..<16 { v[lane] = Float(low + (high - low) * Double(i + lane) / Double(points)) }
            let y = fast(v)
            for lane in 0..<16 {
                let e = exact(Double(v[lane]))
                worst = max(worst, abs(Double(y[lane]) - e) / abs(e))
            }
            i += 16
        }
        return worst
    }

    @Test("the vectorised exp is within 1 ulp (1.2e-7), sigmoid and tanh within 2e-7 of the exact values")
    func vectorMathAccuracy() {
        let exp = Self.worstRelativeError(low: -87, high: 88, VectorMath.exp, Foundation.exp)
        let expNearZero = Self.worstRelativeError(low: -1, high: 1, VectorMath.exp, Foundation.exp)
        let sigmoid = Self.worstRelativeError(low: -80, high: 80, VectorMath.sigmoid) { 1 / (1 + Foundation.exp(-$0)) }
        let tanh = Self.worstRelativeError(low: -10, high: 10, VectorMath.tanh, Foundation.tanh)
        let tanhSmall = Self.worstRelativeError(low: -1e-3, high: 1e-3, VectorMath.tanh, Foundation.tanh)
        #expect(exp < 1.2e-7, "exp \(exp)")
        #expect(expNearZero < 1.2e-7, "exp near 0 \(expNearZero)")
        #expect(sigmoid < 2e-7, "sigmoid \(sigmoid)")
        #expect(tanh < 2e-7, "tanh \(tanh)")
        #expect(tanhSmall < 2e-7, "tanh near 0 \(tanhSmall)")
        print("VectorMath worst relative error: exp \(exp), sigmoid \(sigmoid), tanh \(tanh) / \(tanhSmall)")
    }

    @Test("fast tanh and sigmoid saturate cleanly at large |x| (no NaN, no infinity)")
    func saturation() {
        let x: [Float] = [-1e30, -1000, -90, -20, 20, 90, 1000, 1e30, .infinity, -.infinity]
        #expect(Fast.tanh(x) == [-1, -1, -1, -1, 1, 1, 1, 1, 1, -1])
        let s = Fast.sigmoid(x)
        #expect(s.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(Array(s[4...7]) == [1, 1, 1, 1] && s[0] < 1e-37 && s[8] == 1 && s[9] < 1e-37)
        #expect(Fast.tanhBackward(x, outputGradient: x.map { _ in 1 }).allSatisfy { $0 == 0 })
    }

    @Test("relu's gradient at exactly 0 is 0, as in PyTorch")
    func reluGradientAtZero() {
        let x: [Float] = [-1, 0, 2], dy: [Float] = [5, 6, 7]
        #expect(Naive.reluBackward(x, outputGradient: dy) == [0, 0, 7])
        #expect(Fast.reluBackward(x, outputGradient: dy) == [0, 0, 7])
        #expect(Fast.relu(x) == [0, 0, 2])
    }

    @Test("relu, tanh and sigmoid gradients match finite differences")
    func gradientsMatchFiniteDifferences() {
        let count = 37
        let x = Self.awayFromZero(count, seed: 7).map { $0 * 2 }
        let dy: [Double] = randomArray(count, seed: 8)
        let relu = numericalGradient(of: { dot(Naive.relu($0), dy) }, at: x)
        let tanh = numericalGradient(of: { dot(Naive.tanh($0), dy) }, at: x)
        let sigmoid = numericalGradient(of: { dot(Naive.sigmoid($0), dy) }, at: x)
        #expect(relativeError(Naive.reluBackward(x, outputGradient: dy), relu) < 1e-6)
        #expect(relativeError(Naive.tanhBackward(x, outputGradient: dy), tanh) < 1e-6)
        #expect(relativeError(Naive.sigmoidBackward(x, outputGradient: dy), sigmoid) < 1e-6)
    }
}
