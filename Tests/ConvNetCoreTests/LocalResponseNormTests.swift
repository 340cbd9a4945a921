import Foundation
import Testing
@testable import ConvNetCore

@Suite("Local response normalisation")
struct LocalResponseNormTests {
    @Test("fast LRN equals naive, forward and backward: sizes 1...6 (even ones too), fewer channels than the size, every beta path")
    func fastEqualsNaive() {
        var g = SeededGenerator(seed: 21)
        let spatial = [(1, 1), (4, 4), (5, 7), (3, 3), (9, 13), (2, 8)]
        // beta 0.75, 0.5 and 1 have their own evaluations; 0.6 goes through exp/log.
        let parameters: [(alpha: Float, beta: Float, k: Float)] = [(1e-4, 0.75, 2), (0.5, 0.75, 1), (2, 0.5, 1),
                                                                   (1, 1, 2), (0.8, 0.6, 1.5)]
        var cases = 0
        for size in 1...6 {
            for channels in [1, 2, 3, 5, 8] {
                let (h, w) = spatial.randomElement(using: &g)!
                let shape = FeatureMapShape(batch: Int.random(in: 1...2, using: &g), channels: channels, height: h, width: w)
                let p = parameters.randomElement(using: &g)!
                let x: [Float] = randomArray(shape.count, seed: UInt64(cases)).map { 2 * $0 }
                let dy: [Float] = randomArray(shape.count, seed: UInt64(1000 + cases))
                let (xd, dyd) = (x.map(Double.init), dy.map(Double.init))
                let (alpha, beta, k) = (Double(p.alpha), Double(p.beta), Double(p.k))
                let reference = Naive.localResponseNorm(xd, shape: shape, size: size, alpha: alpha, beta: beta, k: k)
                let fast = Fast.localResponseNorm(x, shape: shape, size: size, alpha: p.alpha, beta: p.beta, k: p.k)
                #expect(relativeError(fast, floats(reference)) < 1e-5, "size \(size) shape \(shape) \(p)")
                let referenceBackward = Naive.localResponseNormBackward(xd, outputGradient: dyd, shape: shape, size: size,
                                                                        alpha: alpha, beta: beta, k: k)
                let fastBackward = Fast.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size,
                                                                  alpha: p.alpha, beta: p.beta, k: p.k)
                #expect(relativeError(fastBackward, floats(referenceBackward)) < 1e-5, "size \(size) shape \(shape) \(p)")
                // The Float naive kernel agrees too.
                #expect(relativeError(fast, Naive.localResponseNorm(x, shape: shape, size: size, alpha: p.alpha,
                                                                    beta: p.beta, k: p.k)) < 1e-5)
                cases += 1
            }
        }
        #expect(cases == 30)
    }

    @Test("fast LRN equals naive on an AlexNet-sized map (96 channels, 55x55, paper constants)")
    func alexNetSized() {
        let shape = FeatureMapShape(batch: 1, channels: 96, height: 55, width: 55)
        let x: [Float] = randomArray(shape.count, seed: 5).map { 10 * $0 }
        let dy: [Float] = randomArray(shape.count, seed: 6)
        // Paper: n = 5, alpha = 1e-4 (no division), beta = 0.75, k = 2; PyTorch alpha = 5 * 1e-4.
        let reference = Naive.localResponseNorm(x.map(Double.init), shape: shape, size: 5, alpha: 5e-4, beta: 0.75, k: 2)
        #expect(relativeError(Fast.localResponseNorm(x, shape: shape, size: 5, alpha: 5e-4, beta: 0.75, k: 2),
                              floats(reference)) < 1e-5)
        let referenceBackward = Naive.localResponseNormBackward(x.map(Double.init), outputGradient: dy.map(Double.init),
                                                                shape: shape, size: 5, alpha: 5e-4, beta: 0.75, k: 2)
        #expect(relativeError(Fast.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: 5, alpha: 5e-4,
                                                             beta: 0.75, k: 2), floats(referenceBackward)) < 1e-5)
    }

    @Test("naive LRN backward equals finite differences (sizes 1...6, channels fewer than the size too)")
    func gradient() {
        let settings: [(size: Int, channels: Int, alpha: Double, beta: Double, k: Double)] = [
            (1, 3, 0.7, 0.75, 1), (2, 4, 1.5, 0.75, 1), (3, 5, 2, 0.6, 1.2), (4, 5, 1, 1, 2),
            (5, 3, 3, 0.75, 1), (6, 4, 2.5, 0.5, 1),
        ]
        for (i, s) in settings.enumerated() {
            let shape = FeatureMapShape(batch: 2, channels: s.channels, height: 2, width: 3)
            let x: [Double] = randomArray(shape.count, seed: UInt64(40 + i)).map { 1.5 * $0 }
            let dy: [Double] = randomArray(shape.count, seed: UInt64(50 + i))
            let numeric = numericalGradient(of: {
                dot(Naive.localResponseNorm($0, shape: shape, size: s.size, alpha: s.alpha, beta: s.beta, k: s.k), dy)
            }, at: x)
            let analytic = Naive.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: s.size,
                                                           alpha: s.alpha, beta: s.beta, k: s.k)
            #expect(relativeError(analytic, numeric) < 1e-6, "\(s)")
        }
    }

    @Test("with alpha = 0 LRN only divides by k^beta")
    func alphaZero() {
        let shape = FeatureMapShape(batch: 2, channels: 4, height: 3, width: 5)
        let x: [Float] = randomArray(shape.count, seed: 7)
        let expected = x.map { $0 / Foundation.pow(Float(2), 0.75) }
        #expect(relativeError(Naive.localResponseNorm(x, shape: shape, size: 5, alpha: 0, beta: 0.75, k: 2), expected) < 1e-6)
        #expect(relativeError(Fast.localResponseNorm(x, shape: shape, size: 5, alpha: 0, beta: 0.75, k: 2), expected) < 1e-6)
        #expect(Fast.localResponseNorm(x, shape: shape, size: 3, alpha: 0, beta: 0.6, k: 1) == x)   // k = 1: identity
    }

    @Test("the window is [c - n/2, c + (n-1)/2] clipped, and alpha is divided by n (PyTorch), checked by hand")
    func windowByHand() {
        let shape = FeatureMapShape(batch: 1, channels: 3, height: 1, width: 1)
        let ones: [Float] = [1, 1, 1]
        // n = 3, alpha = 3, beta = 1, k = 1: D = 1 + (3/3) * (number of channels in the window).
        for y in [Naive.localResponseNorm(ones, shape: shape, size: 3, alpha: 3, beta: 1, k: 1),
                  Fast.localResponseNorm(ones, shape: shape, size: 3, alpha: 3, beta: 1, k: 1)] {
            #expect(relativeError(y, [1.0 / 3, 1.0 / 4, 1.0 / 3]) < 1e-6)      // edges see 2 channels, the middle 3
        }
        // n = 2 (even): window [c - 1, c], leaning down; D = 1 + (3/2) * count.
        for y in [Naive.localResponseNorm(ones, shape: shape, size: 2, alpha: 3, beta: 1, k: 1),
                  Fast.localResponseNorm(ones, shape: shape, size: 2, alpha: 3, beta: 1, k: 1)] {
            #expect(relativeError(y, [1 / 2.5, 1.0 / 4, 1.0 / 4]) < 1e-6)
        }
    }
}
