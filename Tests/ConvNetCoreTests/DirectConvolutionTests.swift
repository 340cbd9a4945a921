import Testing
@testable import ConvNetCore

@Suite("Direct convolution (output channels in the lanes)")
struct DirectConvolutionTests {
    /// Output channels per group that make every mix of 64-, 32- and 16-channel blocks
    /// (8, 13: one padded 16; 24, 40, 48: 32 and 32 + 16; 64, 70, 100, 130: 64s and a
    /// remainder), output rows of 1 to 30 pixels (every tile width of each block), strides
    /// 1-4 and unequal, padding 0-2 and unequal, groups, 1 x 1 with and without copy, and
    /// a stride-1 unpadded kernel that reads the image in place.
    static let cases: [ConvCase] = [
        ConvCase(1, 3, 7, 9, out: 8, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 5, 13, 11, out: 13, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 6, 12, 12, out: 24, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(2, 4, 17, 19, out: 40, kernel: (5, 3), stride: (2, 1), padding: (2, 1), bias: true),
        ConvCase(1, 3, 23, 23, out: 64, kernel: (11, 11), stride: (4, 4), padding: (2, 2), bias: true),
        ConvCase(3, 7, 9, 10, out: 70, kernel: (1, 1), bias: true),                               // 1x1, in place
        ConvCase(1, 4, 9, 8, out: 48, kernel: (1, 1), stride: (2, 2)),
        ConvCase(2, 3, 10, 9, out: 100, kernel: (3, 2)),                                          // no padding: in place
        ConvCase(1, 2, 3, 4, out: 16, kernel: (3, 3), padding: (2, 2), bias: true),
        ConvCase(2, 8, 6, 7, out: 20, kernel: (3, 3), stride: (3, 2), padding: (0, 1), groups: 2, bias: true),
        ConvCase(1, 20, 14, 14, out: 130, kernel: (3, 3), padding: (1, 1), bias: true),           // VGG-like, 14 wide
        ConvCase(1, 9, 7, 7, out: 64, kernel: (3, 3), padding: (1, 1), bias: true),               // 7 = 4 + 3
        ConvCase(1, 3, 30, 32, out: 32, kernel: (3, 3), padding: (1, 1)),                         // 32 wide: 12 + 10 + 10
        ConvCase(2, 2, 5, 30, out: 16, kernel: (1, 3), padding: (0, 1)),                          // 30 wide: 15 + 15
        ConvCase(2, 64, 9, 9, out: 64, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 2),  // 2 groups of 32
        ConvCase(1, 40, 17, 17, out: 160, kernel: (1, 1), stride: (2, 2), groups: 2, bias: true),
    ]

    static func run(_ c: ConvCase, _ conv: DirectConvolution, x: [Float], w: [Float], b: [Float]?,
                    residual: [Float]?, relu: Bool) -> [Float] {
        var y = [Float](repeating: .nan, count: c.geometry.outputShape.count)
        let packed = PackedConvolutionWeights(weight: w, geometry: c.geometry)
        x.withUnsafeBufferPointer { x in
            IM2ColConvolution.withOptionalPointer(b) { b in
                IM2ColConvolution.withOptionalPointer(residual) { r in
                    y.withUnsafeMutableBufferPointer { y in
                        conv.forward(x: x.baseAddress!, packed: packed, y: y.baseAddress!,
                                     epilogue: ConvEpilogue(bias: b, residual: r, relu: relu))
                    }
                }
            }
        }
        return y
    }

    @Test("packing splits the channels into blocks of 64, then 32 and/or 16")
    func channelBlocks() {
        func lanes(_ og: Int) -> [Int] { PackedConvolutionWeights.channelBlocks(og).map(\.lanes) }
        #expect(lanes(8) == [16])
        #expect(lanes(32) == [32])
        #expect(lanes(48) == [32, 16])
        #expect(lanes(64) == [64])
        #expect(lanes(100) == [64, 32, 16])
        #expect(lanes(130) == [64, 64, 16])
        #expect(PackedConvolutionWeights.channelBlocks(100).map(\.channel) == [0, 64, 96])
    }

    @Test("the direct kernel equals the seven loops for every schedule and piece order", arguments: cases)
    func directEqualsNaive(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }     // the kernel runs only there
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 80)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        // (threads, whole items, block-major order)
        let schedules: [(Int, Bool?, Bool?)] = [(1, nil, nil), (1, nil, true), (1, nil, false), (2, true, nil),
                                                (2, false, false), (2, false, true), (3, false, nil), (3, true, true)]
        for (threads, whole, blockMajor) in schedules {
            var conv = DirectConvolution(c.geometry)
            conv.threadsOverride = threads
            conv.wholeItemsOverride = whole
            conv.blockMajorOverride = blockMajor
            let y = Self.run(c, conv, x: x, w: w, b: b, residual: nil, relu: false)
            #expect(relativeError(y, naive) < 1e-5, "threads \(threads), whole \(whole.map { "\($0)" } ?? "auto"), block-major \(blockMajor.map { "\($0)" } ?? "auto")")
        }
        // Items whose planes are built together, in runs of 1 and 2, both orders.
        for (perRun, blockMajor) in [(1, true), (2, true), (2, false)] {
            var conv = DirectConvolution(c.geometry)
            conv.threadsOverride = 1
            conv.itemsPerRunOverride = perRun
            conv.blockMajorOverride = blockMajor
            let y = Self.run(c, conv, x: x, w: w, b: b, residual: nil, relu: false)
            #expect(relativeError(y, naive) < 1e-5, "runs of \(perRun), block-major \(blockMajor)")
        }
    }

    @Test("the direct kernel's epilogue equals bias, then + residual, then ReLU", arguments: cases)
    func directEpilogue(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let (x, w, b, r) = ConvolutionTests.data(c, seed: 90)
        let plain = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let summed = zip(plain, r).map { $0 + $1 }
        var conv = DirectConvolution(c.geometry)
        conv.threadsOverride = 2
        #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: r, relu: true), summed.map { max($0, 0) }) < 1e-5)
        #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: r, relu: false), summed) < 1e-5)
        #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: nil, relu: true), plain.map { max($0, 0) }) < 1e-5)
    }

    @Test("weights packed turned give the input gradient as a direct convolution of dy", arguments: cases.filter {
        ImplicitGEMMConvolution.backwardInputApplies(to: $0.geometry)
    })
    func turnedPackingGivesInputGradient(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let (_, w, _, dy) = ConvolutionTests.data(c, seed: 120)
        let expected = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry)
        let turned = ImplicitGEMMConvolution.inputGradientGeometry(of: c.geometry)
        var dx = [Float](repeating: .nan, count: expected.count)
        w.withUnsafeBufferPointer { w in
            dy.withUnsafeBufferPointer { dy in
                dx.withUnsafeMutableBufferPointer { dx in
                    let packed = PackedConvolutionWeights.turned(w.baseAddress!, forward: c.geometry)
                    #expect(packed.fits(turned))
                    DirectConvolution(turned).forward(x: dy.baseAddress!, packed: packed, y: dx.baseAddress!,
                                                      epilogue: ConvEpilogue(bias: nil, residual: nil, relu: false))
                }
            }
        }
        #expect(relativeError(dx, expected) < 1e-5)
    }

    @Test("the public entry with packed weights equals the seven loops on every CPU", arguments: cases)
    func packedEntry(_ c: ConvCase) {
        let (x, w, b, r) = ConvolutionTests.data(c, seed: 100)
        let expected = zip(Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry), r).map { max($0 + $1, 0) }
        let packed = PackedConvolutionWeights(weight: w, geometry: c.geometry)
        #expect(packed.fits(c.geometry))
        var y = [Float](repeating: .nan, count: expected.count)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                r.withUnsafeBufferPointer { r in
                    IM2ColConvolution.withOptionalPointer(b) { b in
                        y.withUnsafeMutableBufferPointer { y in
                            Fast.conv2d(x, weight: w, packed: packed, bias: b.map { UnsafeBufferPointer(start: $0, count: c.geometry.outChannels) },
                                        geometry: c.geometry, residual: r, relu: true, into: y)
                        }
                    }
                }
            }
        }
        #expect(relativeError(y, expected) < 1e-5)
    }

    @Test("large enough convolutions take the direct kernel through the array entry points, forward and input gradient")
    func arrayEntriesUseDirect() {
        // 1 x 32 x 32 output pixels: packing on the call pays off, so the direct kernel runs.
        let c = ConvCase(1, 5, 32, 32, out: 20, kernel: (3, 3), padding: (1, 1), bias: true)
        #expect(DirectConvolution.applies(to: c.geometry, prepacked: false) == CPUFeatures.hasAVX512F)
        #expect(!DirectConvolution.applies(to: ConvCase(1, 5, 8, 8, out: 20, kernel: (3, 3), padding: (1, 1)).geometry,
                                           prepacked: false))
        #expect(!DirectConvolution.applies(to: ConvCase(4, 5, 32, 32, out: 20, kernel: (1, 1)).geometry, prepacked: true))
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 110)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry),
                              Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)) < 1e-5)
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry),
                              Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry)) < 1e-5)
    }
}
