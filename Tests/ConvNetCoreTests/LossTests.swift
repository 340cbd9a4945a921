import Foundation
import Testing
@testable import ConvNetCore

@Suite("Losses")
struct LossTests {
    /// (batch, classes): batch 1, one class, odd counts, counts around the SIMD width,
    /// and one batch large enough to be split across threads.
    static let shapes: [(Int, Int)] = [(1, 1), (1, 10), (7, 3), (5, 17), (3, 16), (2, 100), (64, 10), (700, 101)]

    static func targets(_ batch: Int, classes: Int, seed: UInt64) -> [Int] {
        var g = SeededGenerator(seed: seed)
        return (0..<batch).map { _ in Int(g.next() % UInt64(classes)) }
    }

    /// Logits spread over (-scale, scale).
    static func logits<T: BinaryFloatingPoint>(_ count: Int, seed: UInt64, scale: T = 5) -> [T] {
        (randomArray(count, seed: seed) as [T]).map { $0 * scale }
    }

    @Test("fast softmax cross-entropy equals the naive one, loss and gradient")
    func crossEntropyFastEqualsNaive() {
        for (index, (n, c)) in Self.shapes.enumerated() {
            let z: [Float] = Self.logits(n * c, seed: UInt64(index + 1))
            let t = Self.targets(n, classes: c, seed: UInt64(index + 20))
            let fast = Fast.softmaxCrossEntropy(logits: z, targets: t, classes: c)
            let naive = Naive.softmaxCrossEntropy(logits: z, targets: t, classes: c)
            #expect(relativeError([fast.loss], [naive.loss]) < 1e-5, "loss \(n)x\(c)")
            #expect(relativeError(fast.logitsGradient, naive.logitsGradient) < 1e-5, "gradient \(n)x\(c)")
        }
    }

    @Test("fast distillation KL equals the naive one at several temperatures")
    func distillationFastEqualsNaive() {
        for (index, (n, c)) in Self.shapes.enumerated() {
            let s: [Float] = Self.logits(n * c, seed: UInt64(index + 40))
            let t: [Float] = Self.logits(n * c, seed: UInt64(index + 60))
            for temperature: Float in [1, 2.5, 4, 20] {
                let fast = Fast.distillationKL(student: s, teacher: t, classes: c, temperature: temperature)
                let naive = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: temperature)
                // At T = 20 the per-row KL is ~1/100 of the O(1) terms p_t (log p_t - log p_s)
                // it sums, so their Float rounding (~1e-7) shows at ~1e-5 of the loss.
                let tolerance = temperature <= 4 ? 1e-5 : 3e-5
                #expect(relativeError([fast.loss], [naive.loss]) < tolerance,
                        "loss \(n)x\(c) T=\(temperature): \(fast.loss) vs \(naive.loss)")
                #expect(relativeError(fast.studentGradient, naive.studentGradient) < 1e-5, "gradient \(n)x\(c) T=\(temperature)")
            }
        }
    }

    @Test("the cross-entropy gradient is the finite difference of the loss")
    func crossEntropyGradient() {
        for (index, (n, c)) in [(1, 4), (3, 5), (4, 7)].enumerated() {
            let z: [Double] = Self.logits(n * c, seed: UInt64(index + 80), scale: 3)
            let t = Self.targets(n, classes: c, seed: UInt64(index + 90))
            let numeric = numericalGradient(of: { Naive.softmaxCrossEntropy(logits: $0, targets: t, classes: c).loss }, at: z)
            #expect(relativeError(Naive.softmaxCrossEntropy(logits: z, targets: t, classes: c).logitsGradient, numeric) < 1e-6)
        }
    }

    @Test("the distillation gradient is the finite difference of the loss, for the student")
    func distillationGradient() {
        for (index, (n, c)) in [(1, 4), (3, 5), (2, 9)].enumerated() {
            let s: [Double] = Self.logits(n * c, seed: UInt64(index + 100), scale: 3)
            let t: [Double] = Self.logits(n * c, seed: UInt64(index + 110), scale: 3)
            for temperature in [1.0, 3.0] {
                let numeric = numericalGradient(of: { Naive.distillationKL(student: $0, teacher: t, classes: c, temperature: temperature).loss }, at: s)
                let analytic = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: temperature).studentGradient
                #expect(relativeError(analytic, numeric) < 1e-6, "\(n)x\(c) T=\(temperature)")
            }
        }
    }

    @Test("cross-entropy of uniform logits is log C, with gradient (1/C - onehot)/N")
    func uniformLogits() {
        let (n, c) = (3, 10)
        let t = [0, 9, 4]
        let z = [Float](repeating: 0.7, count: n * c)
        for result in [Fast.softmaxCrossEntropy(logits: z, targets: t, classes: c),
                       Naive.softmaxCrossEntropy(logits: z, targets: t, classes: c)] {
            #expect(abs(result.loss - Float(Foundation.log(10.0))) < 1e-6)
            let expected = (0..<n * c).map { i in (0.1 - (i % c == t[i / c] ? 1 : 0)) / Float(n) }
            #expect(relativeError(result.logitsGradient, expected) < 1e-6)
        }
    }

    @Test("cross-entropy stays finite for huge logits (the row max is subtracted)")
    func stableForHugeLogits() {
        let z: [Float] = [1000, 0, -1000, 500, 1000, 999]
        let t = [1, 2]
        let fast = Fast.softmaxCrossEntropy(logits: z, targets: t, classes: 3)
        let naive = Naive.softmaxCrossEntropy(logits: z, targets: t, classes: 3)
        // row 0: -log softmax = 1000; row 1: log(1 + e + e^-500) - (999 - 1000) ... = log(1 + e) + 1 - 1
        let expected = (1000 + (Foundation.log(1 + M_E) + 1 - 1 + 0)) / 2
        #expect(fast.loss.isFinite && fast.logitsGradient.allSatisfy(\.isFinite))
        #expect(abs(Double(fast.loss) - expected) < 1e-3 && abs(Double(naive.loss) - expected) < 1e-3)
    }

    @Test("distillation between identical student and teacher is 0, with zero gradient")
    func identicalDistributions() {
        let z: [Float] = Self.logits(5 * 7, seed: 123)
        for temperature: Float in [1, 4] {
            for result in [Fast.distillationKL(student: z, teacher: z, classes: 7, temperature: temperature),
                           Naive.distillationKL(student: z, teacher: z, classes: 7, temperature: temperature)] {
                #expect(abs(result.loss) < 1e-7)
                #expect(result.studentGradient.allSatisfy { abs($0) < 1e-8 })
            }
        }
        // and it is positive when they differ
        let other: [Float] = Self.logits(5 * 7, seed: 124)
        #expect(Fast.distillationKL(student: z, teacher: other, classes: 7, temperature: 2).loss > 0.01)
    }

    @Test("a target outside 0..<C stops with a message")
    func targetOutOfRange() async {
        await #expect(processExitsWith: .failure) {
            _ = Fast.softmaxCrossEntropy(logits: [0, 1, 2, 3], targets: [1, 2], classes: 2)
        }
    }
}
