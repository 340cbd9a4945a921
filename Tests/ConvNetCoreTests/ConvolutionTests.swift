import Testing
@testable import ConvNetCore

/// A convolution to test: its sizes and whether it has a bias.
struct ConvCase: Sendable, CustomStringConvertible {
    var geometry: Conv2DGeometry
    var bias: Bool
    var description: String { "\(geometry)\(bias ? " + bias" : "")" }

    init(_ n: Int, _ c: Int, _ h: Int, _ w: Int, out: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
         padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = false) {
        geometry = Conv2DGeometry(batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: out,
                                  kernel: kernel, stride: stride, padding: padding, groups: groups)
        self.bias = bias
    }
}

@Suite("Convolution")
struct ConvolutionTests {
    /// Odd sizes, batch 1 and 3, kernels 1/3/5 and rectangular, strides 1/2/3 and unequal,
    /// padding 0/1/2 and unequal, groups 1/2/4 and depthwise, with and without bias.
    static let cases: [ConvCase] = [
        ConvCase(1, 3, 7, 9, out: 4, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(3, 4, 8, 7, out: 6, kernel: (3, 5), stride: (2, 1), padding: (1, 2), groups: 2),
        ConvCase(3, 8, 9, 9, out: 8, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 4, bias: true),
        ConvCase(2, 6, 10, 11, out: 6, kernel: (3, 3), padding: (1, 1), groups: 6, bias: true),      // depthwise
        ConvCase(1, 4, 7, 7, out: 8, kernel: (5, 5), stride: (2, 2), padding: (2, 2), groups: 4),    // depthwise x2
        ConvCase(3, 5, 6, 7, out: 7, kernel: (1, 1), bias: true),                                    // 1x1: no im2col
        ConvCase(2, 8, 5, 5, out: 4, kernel: (1, 1), groups: 2),                                     // grouped 1x1
        ConvCase(1, 4, 9, 8, out: 3, kernel: (1, 1), stride: (2, 2)),                                // strided 1x1
        ConvCase(1, 3, 4, 5, out: 2, kernel: (1, 1), padding: (1, 0), bias: true),                   // padded 1x1
        ConvCase(3, 3, 13, 11, out: 5, kernel: (5, 5), stride: (3, 3), padding: (2, 2), bias: true),
        ConvCase(1, 2, 11, 10, out: 3, kernel: (2, 3), stride: (3, 2), padding: (0, 1)),
        ConvCase(1, 2, 3, 4, out: 2, kernel: (3, 3), padding: (2, 2), bias: true),                   // more padding than image
        ConvCase(2, 3, 6, 6, out: 4, kernel: (3, 3), stride: (3, 3), padding: (2, 2)),
        ConvCase(3, 3, 5, 5, out: 4, kernel: (5, 5), bias: true),                                    // 1x1 output
        ConvCase(1, 1, 1, 1, out: 1, kernel: (1, 1)),
        ConvCase(3, 8, 20, 19, out: 8, kernel: (3, 3), padding: (1, 1), bias: true),                 // rows wider than a SIMD16
        ConvCase(3, 4, 17, 18, out: 6, kernel: (1, 3), stride: (1, 1), padding: (0, 1), groups: 2),
    ]

    static func data(_ c: ConvCase, seed: UInt64) -> (x: [Float], w: [Float], b: [Float]?, dy: [Float]) {
        let g = c.geometry
        return (randomArray(g.inputShape.count, seed: seed), randomArray(g.weightCount, seed: seed + 1),
                c.bias ? randomArray(g.outChannels, seed: seed + 2) : nil, randomArray(g.outputShape.count, seed: seed + 3))
    }

    @Test("fast conv2d (the kernel the router picks) equals the seven loops", arguments: cases)
    func fastForwardEqualsNaive(_ c: ConvCase) {
        let (x, w, b, _) = Self.data(c, seed: 10)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let fast = Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(relativeError(fast, naive) < 1e-5)
    }

    @Test("fast conv2d backward (GEMMs + col2im) equals the seven loops' chain rule", arguments: cases)
    func fastBackwardEqualsNaive(_ c: ConvCase) {
        let (x, w, _, dy) = Self.data(c, seed: 20)
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(fast.input, naive.input) < 1e-5)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
    }

    @Test("im2col + GEMM gives the same numbers however images, groups and row bands are split over threads",
          arguments: [ConvCase(3, 4, 9, 8, out: 6, kernel: (3, 3), padding: (1, 1), groups: 2, bias: true),
                      ConvCase(2, 3, 11, 7, out: 4, kernel: (5, 3), stride: (2, 1), padding: (2, 1), bias: true),
                      ConvCase(4, 6, 5, 6, out: 3, kernel: (1, 1), bias: true),
                      ConvCase(1, 3, 23, 21, out: 5, kernel: (5, 5), stride: (3, 3), padding: (2, 2), bias: true),
                      ConvCase(2, 3, 27, 29, out: 6, kernel: (11, 11), stride: (4, 4), padding: (2, 2), bias: true),
                      ConvCase(1, 2, 12, 13, out: 3, kernel: (3, 5), stride: (2, 2), padding: (1, 0), bias: true)])
    func everyScheduleAgrees(_ c: ConvCase) {
        let g = c.geometry
        let (x, w, b, dy) = Self.data(c, seed: 30)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let naiveBack = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        for (threads, bandFloats) in [(1, IM2ColConvolution.bandFloats), (2, 1), (3, 400), (5, IM2ColConvolution.bandFloats)] {
            var conv = IM2ColConvolution(g, bandFloats: bandFloats)
            conv.itemThreadsOverride = threads
            var y = [Float](repeating: .nan, count: g.outputShape.count)
            var dx = [Float](repeating: .nan, count: x.count)
            var dw = [Float](repeating: .nan, count: w.count)
            x.withUnsafeBufferPointer { x in
                w.withUnsafeBufferPointer { w in
                    dy.withUnsafeBufferPointer { dy in
                        b!.withUnsafeBufferPointer { b in
                            y.withUnsafeMutableBufferPointer { y in
                                conv.forward(x: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!, y: y.baseAddress!)
                            }
                        }
                        dx.withUnsafeMutableBufferPointer { dx in
                            dw.withUnsafeMutableBufferPointer { dw in
                                conv.backward(x: x.baseAddress!, weight: w.baseAddress!, dy: dy.baseAddress!,
                                              dx: dx.baseAddress!, dw: dw.baseAddress!)
                            }
                        }
                    }
                }
            }
            let schedule: Comment = "\(threads) threads, bands of \(conv.bandRows) rows"
            #expect(relativeError(y, naive) < 1e-5, schedule)
            #expect(relativeError(dx, naiveBack.input) < 1e-5, schedule)
            #expect(relativeError(dw, naiveBack.weight) < 1e-5, schedule)
            // dx alone (with one item thread and several cores, each thread takes its own rows).
            var dxAlone = [Float](repeating: .nan, count: x.count)
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    dxAlone.withUnsafeMutableBufferPointer { dx in
                        conv.backward(x: nil, weight: w.baseAddress!, dy: dy.baseAddress!, dx: dx.baseAddress!, dw: nil)
                    }
                }
            }
            #expect(relativeError(dxAlone, naiveBack.input) < 1e-5, "dx alone, \(schedule)")
        }
    }

    @Test("naive conv2d backward equals finite differences for x, weight and bias",
          arguments: [ConvCase(2, 2, 5, 4, out: 3, kernel: (3, 3), padding: (1, 1), bias: true),
                      ConvCase(1, 4, 5, 5, out: 4, kernel: (3, 3), padding: (1, 1), groups: 2, bias: true),     // grouped
                      ConvCase(2, 3, 7, 6, out: 2, kernel: (3, 2), stride: (2, 3), padding: (1, 0), bias: true)]) // strided
    func backwardMatchesFiniteDifferences(_ c: ConvCase) {
        let g = c.geometry
        let x: [Double] = randomArray(g.inputShape.count, seed: 40)
        let w: [Double] = randomArray(g.weightCount, seed: 41)
        let b: [Double] = randomArray(g.outChannels, seed: 42)
        let dy: [Double] = randomArray(g.outputShape.count, seed: 43)
        let analytic = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        let dx = numericalGradient(of: { dot(Naive.conv2d($0, weight: w, bias: b, geometry: g), dy) }, at: x)
        let dw = numericalGradient(of: { dot(Naive.conv2d(x, weight: $0, bias: b, geometry: g), dy) }, at: w)
        let db = numericalGradient(of: { dot(Naive.conv2d(x, weight: w, bias: $0, geometry: g), dy) }, at: b)
        #expect(relativeError(analytic.input, dx) < 1e-6)
        #expect(relativeError(analytic.weight, dw) < 1e-6)
        #expect(relativeError(analytic.bias, db) < 1e-6)
    }

    @Test("a 1x1 convolution is the same matrix product W[O, C] x[C] at every pixel")
    func pointwiseIsAMatrixProductPerPixel() {
        let g = Conv2DGeometry(input: FeatureMapShape(batch: 2, channels: 5, height: 3, width: 4), outChannels: 3, kernel: 1)
        let x: [Float] = randomArray(g.inputShape.count, seed: 50)
        let w: [Float] = randomArray(g.weightCount, seed: 51)
        let plane = 3 * 4
        var expected: [Float] = []
        for n in 0..<2 {
            let image = Array(x[(n * 5 * plane)..<((n + 1) * 5 * plane)])     // [C, H*W]: one column per pixel
            expected += Naive.gemm(m: 3, n: plane, k: 5, a: w, b: image)     // [O, H*W]
        }
        #expect(relativeError(Naive.conv2d(x, weight: w, bias: nil, geometry: g), expected) < 1e-6)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: nil, geometry: g), expected) < 1e-6)
        #expect(IM2ColConvolution(g).workspaceCount == 0)                   // and the fast one copies nothing
    }

    @Test("padding p is the same as convolving the image surrounded by p rows and columns of zeros")
    func paddingIsZeros() {
        let g = Conv2DGeometry(batch: 2, inChannels: 2, inHeight: 4, inWidth: 5, outChannels: 3,
                               kernel: (3, 2), padding: (2, 1))
        let x: [Double] = randomArray(g.inputShape.count, seed: 60)
        let w: [Double] = randomArray(g.weightCount, seed: 61)
        let (ph, pw) = (2, 1)
        let (paddedH, paddedW) = (4 + 2 * ph, 5 + 2 * pw)
        var padded = [Double](repeating: 0, count: 2 * 2 * paddedH * paddedW)
        for nc in 0..<4 {
            for h in 0..<4 {
                for w in 0..<5 { padded[(nc * paddedH + h + ph) * paddedW + w + pw] = x[(nc * 4 + h) * 5 + w] }
            }
        }
        var unpadded = g
        (unpadded.inHeight, unpadded.inWidth, unpadded.paddingHeight, unpadded.paddingWidth) = (paddedH, paddedW, 0, 0)
        #expect(unpadded.outputShape == g.outputShape)
        #expect(relativeError(Naive.conv2d(x, weight: w, bias: nil, geometry: g),
                              Naive.conv2d(padded, weight: w, bias: nil, geometry: unpadded)) < 1e-12)
    }

    @Test("a stride-2 convolution keeps every second row and column of the stride-1 one")
    func strideSubsamples() {
        let g1 = Conv2DGeometry(batch: 1, inChannels: 3, inHeight: 9, inWidth: 8, outChannels: 2,
                                kernel: (3, 3), padding: (1, 1))
        var g2 = g1
        (g2.strideHeight, g2.strideWidth) = (2, 2)
        let x: [Double] = randomArray(g1.inputShape.count, seed: 70)
        let w: [Double] = randomArray(g1.weightCount, seed: 71)
        let y1 = Naive.conv2d(x, weight: w, bias: nil, geometry: g1)
        let y2 = Naive.conv2d(x, weight: w, bias: nil, geometry: g2)
        var subsampled: [Double] = []
        for o in 0..<2 {
            for i in stride(from: 0, to: g1.outHeight, by: 2) {
                for j in stride(from: 0, to: g1.outWidth, by: 2) { subsampled.append(y1[(o * g1.outHeight + i) * g1.outWidth + j]) }
            }
        }
        #expect(relativeError(y2, subsampled) < 1e-12)
    }
}
