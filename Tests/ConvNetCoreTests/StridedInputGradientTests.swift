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
        ConvCase(1, 9, 13, 71, out: 10, kernel: (5, 5), stride: (4, 4), padding: (1, 2)),
        ConvCase(2, 3, 8, 9, out: 5, kernel: (2, 2), stride: (2, 2)),
        ConvCase(1, 3, 47, 70, out: 20, kernel: (11, 11), stride: (4, 4), padding: (2, 2)),    // AlexNet's conv1, smaller
        ConvCase(2, 3, 30, 31, out: 7, kernel: (7, 7), stride: (2, 2), padding: (3, 3), bias: true),  // ResNet's stem
        ConvCase(1, 3, 20, 17, out: 9, kernel: (3, 2), stride: (3, 2), padding: (1, 0)),
    ]

    @Test("the direct kernel, one stride phase at a time, equals the naive input gradient for every tile and schedule", arguments: cases)
    func phasesEqualNaive(_ c: ConvCase) {
        let (x, w, _, dy) = ConvolutionTests.data(c, seed: 110)
        let naive = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry)
        let g = c.geometry
        let image = CPUFeatures.hasAVX512F && g.inChannels == 3 && g.groups == 1
        #expect(StridedInputGradient.applies(to: g) == (g.inChannelsPerGroup >= 8 || image))
        var tiles: [StridedInputGradient.Tile] = [.rows6x16]
        if CPUFeatures.hasAVX512F { tiles.append(.rows8x48) }
        if image { tiles.append(.imageChannels) }
        for tile in tiles {
          for threads in tile == .rows6x16 ? [1, 3] : [1, 2, 5] {
            var kernel = StridedInputGradient(g, tile: tile)
            kernel.threadsOverride = threads
            var dx = [Float](repeating: .nan, count: x.count)
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    dx.withUnsafeMutableBufferPointer { dx in
                        kernel.inputGradient(weight: w.baseAddress!, dy: dy.baseAddress!, dx: dx.baseAddress!)
                    }
                }
            }
            #expect(relativeError(dx, naive) < 1e-5, "tile \(tile), threads \(threads)")
          }
        }
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry), naive) < 1e-5)
    }
}
