import Testing
@testable import ConvNetCore

@Suite("Blocked (NCHW16c) activations, convolution and max pooling")
struct BlockedConvolutionTests {
    /// Input channels that fill blocks exactly (16, 32, 64) or leave padded lanes (3, 5,
    /// 19, 40); output channels for every mix of 64-, 32- and 16-lane blocks; 1x1, 3x3,
    /// 5x5 and rectangular kernels; strides 1, 2 and unequal; padding 0-2 and unequal;
    /// rows of 1 to 30 pixels (every tile width); batch 1-3.
    static let cases: [ConvCase] = [
        ConvCase(1, 16, 7, 9, out: 8, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 19, 13, 11, out: 13, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 32, 12, 12, out: 24, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(2, 5, 17, 19, out: 40, kernel: (5, 3), stride: (2, 1), padding: (2, 1), bias: true),
        ConvCase(3, 40, 9, 10, out: 70, kernel: (1, 1), bias: true),
        ConvCase(1, 64, 9, 8, out: 48, kernel: (1, 1), stride: (2, 2)),
        ConvCase(2, 3, 10, 9, out: 100, kernel: (3, 2)),
        ConvCase(1, 20, 14, 14, out: 130, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 64, 7, 7, out: 64, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 16, 5, 30, out: 16, kernel: (1, 3), padding: (0, 1)),
        ConvCase(1, 3, 23, 23, out: 64, kernel: (7, 7), stride: (2, 2), padding: (3, 3), bias: true),
        ConvCase(2, 17, 30, 18, out: 84, kernel: (3, 3), padding: (1, 1), bias: true),     // 2 chunks of rows
    ]

    static func blocked(_ data: [Float], _ shape: FeatureMapShape, border: Int) -> BlockedActivations {
        BlockedActivations(Tensor(shape: shape.dimensions, data: data), border: border)
    }

    /// `Fast.conv2d` with prepacked weights, on arrays (the output starts as NaNs).
    static func conv2d(_ x: [Float], weight w: [Float], packed: PackedConvolutionWeights, bias b: [Float]?,
                       geometry g: Conv2DGeometry, residual: [Float]?, relu: Bool) -> [Float] {
        var y = [Float](repeating: .nan, count: g.outputShape.count)
        func run(bias: UnsafeBufferPointer<Float>?, residual: UnsafeBufferPointer<Float>?) {
            x.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    y.withUnsafeMutableBufferPointer { yb in
                        Fast.conv2d(xb, weight: wb, packed: packed, bias: bias, geometry: g, residual: residual, relu: relu,
                                    into: yb)
                    }
                }
            }
        }
        func withBias(_ residual: UnsafeBufferPointer<Float>?) {
            if let b { b.withUnsafeBufferPointer { run(bias: $0, residual: residual) } } else { run(bias: nil, residual: residual) }
        }
        if let residual { residual.withUnsafeBufferPointer { withBias($0) } } else { withBias(nil) }
        return y
    }

    @Test("NCHW -> blocked -> NCHW gives the tensor back; the border and the padded lanes are zeros",
          arguments: [(19, 0), (16, 1), (3, 2), (33, 1)])
    func roundTrip(_ channels: Int, _ border: Int) {
        let shape = FeatureMapShape(batch: 2, channels: channels, height: 5, width: 7)
        let data: [Float] = randomArray(shape.count, seed: 3)
        let b = Self.blocked(data, shape, border: border)
        #expect(b.tensor().data == data)
        #expect(b.channelBlocks == (channels + 15) / 16)
        var outside = 0
        for n in 0..<2 {
            for cb in 0..<b.channelBlocks {
                for i in -border..<5 + border {
                    for j in -border..<7 + border {
                        let p = b.pixel(n, cb, i, j)
                        let inside = i >= 0 && i < 5 && j >= 0 && j < 7
                        for l in 0..<16 where !inside || cb * 16 + l >= channels {
                            if p[l] != 0 { outside += 1 }
                        }
                    }
                }
            }
        }
        #expect(outside == 0)
    }

    @Test("the blocked convolution equals the seven loops, for every schedule, input border, epilogue", arguments: cases)
    func blockedEqualsNaive(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }     // the kernel runs only there
        let g = c.geometry
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 40)
        let residual: [Float] = randomArray(g.outputShape.count, seed: 44)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let withEpilogue = zip(naive, residual).map { max($0 + $1, 0) }
        let weights = BlockedConvolutionWeights(weight: w, bias: b, geometry: g, blockedInput: true)
        let imageWeights = BlockedConvolutionWeights(weight: w, bias: b, geometry: g, blockedInput: false)
        let pad = max(g.paddingHeight, g.paddingWidth)
        let r = Self.blocked(residual, g.outputShape, border: 2)
        for (threads, whole) in [(1, nil), (2, true), (2, false), (3, false)] as [(Int, Bool?)] {
            for border in [pad, pad + 1] {
                var conv = BlockedConvolution(g, blockedInput: true)
                conv.threadsOverride = threads
                conv.wholeImagesOverride = whole
                let y = BlockedActivations(batch: g.batch, channels: g.outChannels, height: g.outHeight,
                                           width: g.outWidth, border: 1)
                conv.forward(blocked: Self.blocked(x, g.inputShape, border: border), image: nil, weights: weights,
                             into: .blocked(y, residual: nil, relu: false))
                #expect(relativeError(y.tensor().data, naive) < 1e-5, "threads \(threads), whole \(String(describing: whole)), border \(border)")
                conv.forward(blocked: Self.blocked(x, g.inputShape, border: border), image: nil, weights: weights,
                             into: .blocked(y, residual: r, relu: true))
                #expect(relativeError(y.tensor().data, withEpilogue) < 1e-5, "with residual and ReLU, threads \(threads)")
                // Into NCHW through the per-piece scratch, with an NCHW residual.
                var nchw = [Float](repeating: .nan, count: g.outputShape.count)
                residual.withUnsafeBufferPointer { rb in
                    nchw.withUnsafeMutableBufferPointer { yb in
                        conv.forward(blocked: Self.blocked(x, g.inputShape, border: border), image: nil, weights: weights,
                                     into: .nchw(yb.baseAddress!, residual: rb.baseAddress!, relu: true))
                    }
                }
                #expect(relativeError(nchw, withEpilogue) < 1e-5, "into NCHW, threads \(threads), border \(border)")
            }
            // From the NCHW image.
            var conv = BlockedConvolution(g, blockedInput: false)
            conv.threadsOverride = threads
            conv.wholeImagesOverride = whole
            let y = BlockedActivations(batch: g.batch, channels: g.outChannels, height: g.outHeight, width: g.outWidth, border: 0)
            x.withUnsafeBufferPointer { xb in
                conv.forward(blocked: nil, image: xb.baseAddress!, weights: imageWeights, into: .blocked(y, residual: r, relu: true))
            }
            #expect(relativeError(y.tensor().data, withEpilogue) < 1e-5, "from the image, threads \(threads)")
        }
    }

    @Test("the public entries check their shapes and run the kernel")
    func publicEntries() {
        guard CPUFeatures.hasAVX512F else { return }
        let c = ConvCase(2, 19, 11, 10, out: 40, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: true)
        let g = c.geometry
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 50)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let y = BlockedActivations(batch: 2, channels: 40, height: g.outHeight, width: g.outWidth, border: 1)
        Fast.conv2dBlocked(Self.blocked(x, g.inputShape, border: 1),
                           weights: BlockedConvolutionWeights(weight: w, bias: b, geometry: g, blockedInput: true),
                           geometry: g, into: y)
        #expect(relativeError(y.tensor().data, naive) < 1e-5)
        let z = BlockedActivations(batch: 2, channels: 40, height: g.outHeight, width: g.outWidth, border: 1)
        x.withUnsafeBufferPointer { xb in
            Fast.conv2dBlocked(image: xb, weights: BlockedConvolutionWeights(weight: w, bias: b, geometry: g, blockedInput: false),
                               geometry: g, into: z)
        }
        #expect(relativeError(z.tensor().data, naive) < 1e-5)
    }

    @Test("a strided NCHW convolution of an image runs the blocked image entry and a transpose, equal to the seven loops",
          arguments: [ConvCase(2, 3, 23, 25, out: 20, kernel: (5, 5), stride: (2, 2), padding: (2, 2), bias: true),
                      ConvCase(1, 3, 39, 41, out: 64, kernel: (11, 11), stride: (4, 4), padding: (2, 2), bias: true),
                      ConvCase(3, 1, 16, 16, out: 32, kernel: (3, 3), stride: (2, 2), padding: (1, 1))])
    func imageEntryForNCHW(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let g = c.geometry
        #expect(BlockedConvolution.runsImage(g))
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 70)
        let residual: [Float] = randomArray(g.outputShape.count, seed: 74)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let packed = PackedConvolutionWeights(weight: w, geometry: g)
        let y = Self.conv2d(x, weight: w, packed: packed, bias: b, geometry: g, residual: residual, relu: true)
        #expect(relativeError(y, zip(naive, residual).map { max($0 + $1, 0) }) < 1e-5)
        let blocked = BlockedConvolutionTests.blocked(naive, g.outputShape, border: 0)
        var back = [Float](repeating: .nan, count: naive.count)
        back.withUnsafeMutableBufferPointer { blocked.copy(toNCHW: $0.baseAddress!) }
        #expect(back == naive)
    }

    @Test("an NCHW convolution with packed weights runs through the blocked layout, equal to the seven loops",
          arguments: [ConvCase(2, 16, 9, 11, out: 64, kernel: (3, 3), padding: (1, 1), bias: true),
                      ConvCase(1, 16, 31, 23, out: 80, kernel: (3, 3), padding: (1, 1), bias: true),
                      ConvCase(1, 40, 12, 13, out: 70, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
                      ConvCase(3, 33, 7, 7, out: 64, kernel: (5, 5), padding: (2, 2), bias: true),
                      ConvCase(1, 64, 8, 8, out: 100, kernel: (1, 1), stride: (2, 2), bias: true)])
    func nchwThroughBlocked(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let g = c.geometry
        #expect(BlockedConvolution.runsNCHW(g))
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 80)
        let residual: [Float] = randomArray(g.outputShape.count, seed: 84)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let packed = PackedConvolutionWeights(weight: w, geometry: g)
        for (withResidual, relu) in [(false, false), (true, true), (false, true)] {
            let y = Self.conv2d(x, weight: w, packed: packed, bias: b, geometry: g,
                                residual: withResidual ? residual : nil, relu: relu)
            let expected = zip(naive, residual).map { v, r in
                let s = v + (withResidual ? r : 0)
                return relu ? max(s, 0) : s
            }
            #expect(relativeError(y, expected) < 1e-5, "residual \(withResidual), relu \(relu)")
        }
        // The NCHW -> blocked transposes give the same activations as the element-wise copy.
        let shape = g.inputShape
        let fast = x.withUnsafeBufferPointer {
            BlockedActivations(nchw: $0.baseAddress!, batch: shape.batch, channels: shape.channels, height: shape.height,
                               width: shape.width, border: 1)
        }
        #expect(fast.tensor().data == x)
    }

    @Test("blocked max pooling equals the naive one (padding as minus infinity, ceil mode)",
          arguments: [(3, 2, 1, false), (2, 2, 0, false), (3, 2, 0, true), (3, 1, 1, false)])
    func maxPool(_ kernel: Int, _ stride: Int, _ padding: Int, _ ceil: Bool) {
        let shape = FeatureMapShape(batch: 2, channels: 21, height: 9, width: 11)
        let data: [Float] = randomArray(shape.count, seed: 9).map { $0 - 2 }     // all negative: a zero border would show
        let g = Pool2DGeometry(input: shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceil)
        let y = BlockedActivations(batch: 2, channels: 21, height: g.outHeight, width: g.outWidth, border: 1)
        Fast.maxPool2dBlocked(Self.blocked(data, shape, border: 1), geometry: g, into: y)
        #expect(y.tensor().data == Naive.maxPool2d(data, geometry: g))
    }
}
