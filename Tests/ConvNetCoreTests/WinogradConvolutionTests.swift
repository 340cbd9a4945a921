import Testing
@testable import ConvNetCore

@Suite("Winograd F(2x2, 3x3) convolution on blocked activations")
struct WinogradConvolutionTests {
    /// Input and output channels that fill blocks of 16 exactly or leave padded lanes, and
    /// every mix of 64-, 32- and 16-lane output blocks; sizes from 1 x 1 (one tile, three
    /// quarters outside) and 2 x 2 to 14 x 18, odd in either direction; batch 1-3.
    static let cases: [ConvCase] = [
        ConvCase(1, 16, 2, 2, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 19, 6, 8, out: 13, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 3, 10, 4, out: 40, kernel: (3, 3), padding: (1, 1)),
        ConvCase(3, 64, 4, 6, out: 64, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 40, 14, 18, out: 100, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 33, 12, 12, out: 70, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 64, 7, 7, out: 128, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 20, 5, 8, out: 24, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 16, 6, 9, out: 32, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(3, 8, 1, 1, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),
    ]

    @Test("Winograd equals the seven loops, for every schedule, input border and epilogue", arguments: cases)
    func winogradEqualsNaive(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }     // the kernel runs only there
        let g = c.geometry
        #expect(WinogradConvolution.applies(to: g))
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 60)
        let residual: [Float] = randomArray(g.outputShape.count, seed: 64)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let withEpilogue = zip(naive, residual).map { max($0 + $1, 0) }
        let weights = WinogradConvolutionWeights(weight: w, bias: b, geometry: g)
        let r = BlockedConvolutionTests.blocked(residual, g.outputShape, border: 2)
        // Schedules: one thread; threads sharing chunks or output channels; chunks of 5 tiles,
        // which cut images (and tile rows) at every offset.
        let schedules: [(Int, Bool?, Int?)] = [(1, nil, nil), (2, false, nil), (2, true, nil), (3, false, nil), (3, true, nil),
                                               (1, nil, 5), (2, false, 5), (2, true, 5)]
        for (threads, split, size) in schedules {
            for border in [1, 2] {
                let input = BlockedConvolutionTests.blocked(x, g.inputShape, border: border)
                let y = BlockedActivations(batch: g.batch, channels: g.outChannels, height: g.outHeight,
                                           width: g.outWidth, border: 1)
                Fast.conv2dWinograd(input, weights: weights, geometry: g, residual: nil, relu: false, into: y, threads: threads,
                                    splitsChannels: split, tilesPerChunk: size)
                #expect(relativeError(y.tensor().data, naive) < 1e-5, "threads \(threads), split \(String(describing: split)), chunk \(String(describing: size)), border \(border)")
                Fast.conv2dWinograd(input, weights: weights, geometry: g, residual: r, relu: true, into: y, threads: threads,
                                    splitsChannels: split, tilesPerChunk: size)
                #expect(relativeError(y.tensor().data, withEpilogue) < 1e-5, "with residual and ReLU, threads \(threads)")
            }
        }
    }

    @Test("chunks: several per image when U is small, across images when it is large; split evenly among threads")
    func chunking() {
        // 56 x 56 at 64 channels: 784 tiles of 32 KiB of V and M each, more than one 1.5 MB chunk.
        let g = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 64, height: 56, width: 56), outChannels: 64,
                               kernel: 3, padding: 1)
        let one = WinogradConvolution(g, threads: 1), two = WinogradConvolution(g, threads: 2)
        #expect(one.chunks > 1)
        #expect(one.chunkTiles * one.chunks >= one.tiles)
        #expect(16 * 16 * 8 * one.chunkTiles <= WinogradConvolution.chunkFloats)
        #expect(two.chunks % 2 == 0 && !two.splitsChannels)
        // 14 x 14 at 256 channels: 49 tiles, 4 MB of U; two threads at batch 1 split the
        // output channels, at batch 8 (392 tiles) the chunks.
        let layer3 = FeatureMapShape(batch: 1, channels: 256, height: 14, width: 14)
        let g3 = Conv2DGeometry(input: layer3, outChannels: 256, kernel: 3, padding: 1)
        #expect(WinogradConvolution(g3, threads: 2).splitsChannels)
        #expect(WinogradConvolution(g3, threads: 2).chunks == 1)
        var batch8 = g3; batch8.batch = 8
        #expect(!WinogradConvolution(batch8, threads: 2).splitsChannels)
        #expect(WinogradConvolution(batch8, threads: 2).chunks % 2 == 0)
        // 7 x 7 at 512 channels, batch 8: 16 MB of U, so one chunk of all 128 tiles (8 images).
        let layer4 = FeatureMapShape(batch: 8, channels: 512, height: 7, width: 7)
        let g4 = WinogradConvolution(Conv2DGeometry(input: layer4, outChannels: 512, kernel: 3, padding: 1), threads: 1)
        #expect(g4.chunks == 1 && g4.chunkTiles == 128)
        #expect(!WinogradConvolution(g3, threads: 1).splitsChannels)
    }

    @Test("only 3x3, stride 1, padding 1 and groups 1 take the Winograd path, and only where it pays")
    func applicability() {
        guard CPUFeatures.hasAVX512F else { return }
        let shape = FeatureMapShape(batch: 1, channels: 16, height: 8, width: 8)
        #expect(WinogradConvolution.applies(to: Conv2DGeometry(input: shape, outChannels: 16, kernel: 3, padding: 1)))
        #expect(!WinogradConvolution.applies(to: Conv2DGeometry(input: shape, outChannels: 16, kernel: 3, stride: 2, padding: 1)))
        #expect(!WinogradConvolution.applies(to: Conv2DGeometry(input: shape, outChannels: 16, kernel: 3)))
        #expect(!WinogradConvolution.applies(to: Conv2DGeometry(input: shape, outChannels: 16, kernel: 5, padding: 2)))
        #expect(!WinogradConvolution.applies(to: Conv2DGeometry(input: shape, outChannels: 16, kernel: 3, padding: 1, groups: 2)))
        // With few tiles and U larger than L2 the direct kernel is faster.
        let layer4 = FeatureMapShape(batch: 1, channels: 512, height: 7, width: 7)
        #expect(!WinogradConvolution.pays(for: Conv2DGeometry(input: layer4, outChannels: 512, kernel: 3, padding: 1)))
        var batch2 = Conv2DGeometry(input: layer4, outChannels: 512, kernel: 3, padding: 1); batch2.batch = 2
        #expect(WinogradConvolution.pays(for: batch2))
        let narrow = FeatureMapShape(batch: 1, channels: 64, height: 7, width: 7)
        #expect(WinogradConvolution.pays(for: Conv2DGeometry(input: narrow, outChannels: 64, kernel: 3, padding: 1)))
    }
}
