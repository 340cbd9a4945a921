import Testing
import TestSupport
@testable import ConvNetCore

@Suite("Strided 1x1 convolution as subsample-then-1x1 (projection shortcuts)")
struct SubsampledPointwiseTests {
    /// Strides 2 and 3 and unequal, odd and even maps (the last row or column read or
    /// not), batch 1 and several, channel counts in eights or not, bias or not.
    static let cases: [ConvCase] = [
        ConvCase(2, 8, 16, 16, out: 16, kernel: (1, 1), stride: (2, 2)),                 // degradation nets, stage 1 -> 2
        ConvCase(3, 16, 9, 9, out: 32, kernel: (1, 1), stride: (2, 2), bias: true),
        ConvCase(1, 5, 7, 10, out: 3, kernel: (1, 1), stride: (3, 2)),
        ConvCase(2, 4, 1, 5, out: 6, kernel: (1, 1), stride: (2, 3), bias: true),
        ConvCase(1, 32, 8, 8, out: 64, kernel: (1, 1), stride: (2, 1)),
    ]

    @Test("it takes the strided 1x1s of groups 1 and nothing else")
    func applies() {
        for c in Self.cases {
            #expect(SubsampledPointwiseConvolution.applies(to: c.geometry), "\(c)")
            #expect(Fast.conv2dKernelName(c.geometry).hasPrefix("strided 1x1 as subsample"), "\(c)")
            #expect(!Fast.conv2dKernelName(c.geometry, prepacked: true).hasPrefix("strided 1x1"), "\(c)")
        }
        for c in [ConvCase(1, 4, 8, 8, out: 4, kernel: (1, 1)),
                  ConvCase(1, 4, 8, 8, out: 4, kernel: (1, 1), stride: (2, 2), padding: (1, 1)),
                  ConvCase(1, 4, 8, 8, out: 4, kernel: (1, 1), stride: (2, 2), groups: 2),
                  ConvCase(1, 4, 8, 8, out: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1))] {
            #expect(!SubsampledPointwiseConvolution.applies(to: c.geometry), "\(c)")
        }
    }

    @Test("forward (bias, residual, ReLU) and every gradient equal the seven loops, 1 and 2 threads", arguments: cases)
    func equalsNaive(_ c: ConvCase) {
        let g = c.geometry
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 350)
        let plain = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let fused = zip(plain, dy).map { max($0 + $1, 0) }
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        for threads in [1, 2] { withThreadCount(threads) {
            #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: g), plain) < 1e-5, "threads \(threads)")
            var y: [Float] = []
            Fast.conv2d(x, weight: w, bias: b, geometry: g, residual: dy, relu: true, into: &y)
            #expect(relativeError(y, fused) < 1e-5, "fused, threads \(threads)")
            let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
            #expect(relativeError(fast.input, naive.input) < 1e-5, "dx, threads \(threads)")
            #expect(fast.input.count == naive.input.count)
            #expect(relativeError(fast.weight, naive.weight) < 1e-5, "dW, threads \(threads)")
            #expect(relativeError(fast.bias, naive.bias) < 1e-5, "dbias, threads \(threads)")
            let weightOnly = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g,
                                                 inputGradient: false, biasGradient: false)
            #expect(weightOnly.input == nil && weightOnly.bias == nil && weightOnly.weight == fast.weight)
        } }
    }

    @Test("dx is exactly zero where no output reads the input")
    func unreadPositionsGetZero() {
        let c = ConvCase(1, 3, 5, 6, out: 2, kernel: (1, 1), stride: (2, 2))
        let g = c.geometry
        let (_, w, _, dy) = ConvolutionTests.data(c, seed: 351)
        let dx = Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
        for ch in 0..<3 {
            for row in 0..<5 {
                for col in 0..<6 where row % 2 == 1 || col % 2 == 1 {
                    #expect(dx[(ch * 5 + row) * 6 + col] == 0, "channel \(ch), (\(row), \(col))")
                }
            }
        }
    }
}
