import Testing
@testable import ConvNetCore

@Suite("Direct weight gradient")
struct DirectWeightGradientTests {
    /// The implicit GEMM's cases (channels below, at and past one vector), plus channel
    /// counts that need a 32-wide tile, a 32 + 16 split and padding to whole vectors, and
    /// rows k not a multiple of the tile's 9.
    static let cases: [ConvCase] = ImplicitConvolutionTests.cases + [
        ConvCase(3, 5, 9, 11, out: 32, kernel: (3, 3), padding: (1, 1)),
        ConvCase(4, 3, 8, 8, out: 48, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(2, 7, 6, 5, out: 40, kernel: (1, 1), stride: (2, 2)),
        ConvCase(5, 6, 7, 9, out: 21, kernel: (2, 3), padding: (0, 1)),
        ConvCase(1, 4, 33, 35, out: 64, kernel: (3, 3), padding: (1, 1)),                      // rows past 16 + 16 columns
        ConvCase(3, 8, 10, 10, out: 24, kernel: (3, 3), padding: (1, 1), groups: 2),
    ]

    @Test("the direct weight gradient equals the naive one for every tile, block size and schedule", arguments: cases)
    func directEqualsNaive(_ c: ConvCase) {
        let (x, _, _, dy) = ConvolutionTests.data(c, seed: 90)
        let naive = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: c.geometry)
        // (narrow SIMD8 tiles, pixels per block, threads, how threads share the work)
        let schedules: [(Bool, Int, Int?, DirectWeightGradient.Schedule?)] = [
            (false, 1024, 1, nil), (true, 1024, 1, nil), (false, 1, 1, nil), (true, 40, 1, nil),
            (false, 1024, 2, .images), (false, 1, 2, .outputChannels), (true, 1, 3, .images), (false, 100, 3, .outputChannels),
            (true, 1024, 2, .outputChannels), (false, 1024, 2, .rows), (true, 1, 3, .rows), (false, 100, 5, .rows),
            (false, 1024, 2, nil),
        ]
        for (narrow, pixels, threads, schedule) in schedules {
            var grad = DirectWeightGradient(c.geometry, narrowKernel: narrow, pixelsPerBlock: pixels)
            grad.threadsOverride = threads
            grad.scheduleOverride = schedule
            var dw = [Float](repeating: .nan, count: c.geometry.weightCount)
            x.withUnsafeBufferPointer { x in
                dy.withUnsafeBufferPointer { dy in
                    dw.withUnsafeMutableBufferPointer { dw in
                        grad.weightGradient(x: x.baseAddress!, dy: dy.baseAddress!, dw: dw.baseAddress!)
                    }
                }
            }
            #expect(relativeError(dw, naive.weight) < 1e-5,
                    "narrow \(narrow), pixels \(pixels), threads \(threads ?? 0), schedule \(schedule.map { "\($0)" } ?? "auto")")
        }
        let fast = Fast.conv2dBackwardWeight(x, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
    }
}
