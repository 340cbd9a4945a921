import Testing
@testable import ConvNetCore

@Suite("Strided input gradient by stride phases")
struct StridedInputGradientTests {
    /// Strides 2-4 and unequal, kernels larger and smaller than the stride (1x1 and 2x3 with
    /// stride 3 leave phases without taps), padding 0-3, groups, batch 1, odd sizes.
    static let cases: [ConvCase] = [
        ConvCase(2, 16, 32, 32, out: 32, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),      // CIFAR ResNet's
        ConvCase(2, 16, 32, 32, out: 32, kernel: (1, 1), stride: (2, 2)),
        ConvCase(1, 6, 12, 12, out: 9, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(3, 4, 17, 19, out: 8, kernel: (5, 3), stride: (2, 1), padding: (2, 1), bias: true),
        ConvCase(1, 3, 23, 23, out: 16, kernel: (11, 11), stride: (4, 4), padding: (2, 2), bias: true),
        ConvCase(1, 4, 9, 8, out: 3, kernel: (1, 1), stride: (2, 2)),
        ConvCase(1, 2, 11, 10, out: 3, kernel: (2, 3), stride: (3, 2), padding: (0, 1)),
        ConvCase(2, 3, 6, 6, out: 4, kernel: (3, 3), stride: (3, 3), padding: (2, 2)),
        ConvCase(2, 8, 6, 7, out: 10, kernel: (3, 3), stride: (3, 2), padding: (0, 1), groups: 2, bias: true),
        ConvCase(1, 5, 7, 7, out: 6, kernel: (7, 7), stride: (2, 2), padding: (3, 3)),
        ConvCase(1, 8, 10, 10, out: 40, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),     // k = 160: two depth blocks
        ConvCase(2, 3, 8, 9, out: 5, kernel: (2, 2), stride: (2, 2)),
    ]

    @Test("the direct kernel, one stride phase at a time, equals the naive input gradient for every tile and schedule", arguments: cases)
    func phasesEqualNaive(_ c: ConvCase) {
        let (x, w, _, dy) = ConvolutionTests.data(c, seed: 110)
        let naive = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry)
        #expect(StridedInputGradient.applies(to: c.geometry) == (c.geometry.inChannelsPerGroup >= 8))
        for (narrow, threads) in [(false, 1), (true, 1), (false, 2), (true, 3), (false, 5)] {
            var kernel = StridedInputGradient(c.geometry, narrowKernel: narrow)
            kernel.threadsOverride = threads
            var dx = [Float](repeating: .nan, count: x.count)
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    dx.withUnsafeMutableBufferPointer { dx in
                        kernel.inputGradient(weight: w.baseAddress!, dy: dy.baseAddress!, dx: dx.baseAddress!)
                    }
                }
            }
            #expect(relativeError(dx, naive) < 1e-5, "narrow \(narrow), threads \(threads)")
        }
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry), naive) < 1e-5)
    }
}
