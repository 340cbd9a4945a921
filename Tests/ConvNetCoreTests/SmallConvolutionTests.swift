import Testing
import TestSupport
@testable import ConvNetCore

@Suite("Small-map convolution (pixels of the whole batch in the lanes, shared borders)")
struct SmallConvolutionTests {
    /// 3x3 same convolutions of 1-64 channels on maps of 1x1 to 32x32: odd and unequal
    /// sizes, batch 1 and several, 8 to 64 output channels (one to eight blocks of 8),
    /// with and without bias; positions that end mid-tile and mid-vector.
    static let cases: [ConvCase] = [
        ConvCase(1, 8, 16, 16, out: 8, kernel: (3, 3), padding: (1, 1)),
        ConvCase(3, 1, 16, 16, out: 8, kernel: (3, 3), padding: (1, 1), bias: true),      // the degradation nets' conv1
        ConvCase(2, 16, 8, 8, out: 16, kernel: (3, 3), padding: (1, 1)),
        ConvCase(5, 32, 4, 4, out: 32, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 8, 5, 7, out: 24, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 24, 7, 3, out: 8, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 3, 1, 1, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(4, 8, 2, 9, out: 40, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 64, 6, 5, out: 64, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 5, 32, 31, out: 16, kernel: (3, 3), padding: (1, 1)),
        ConvCase(7, 16, 3, 3, out: 8, kernel: (3, 3), padding: (1, 1), bias: true),
    ]

    /// Shapes of the same nets the kernel leaves to the others (stride 2, 1x1 projections,
    /// a channel count not in eights): the router must still give the naive numbers.
    static let others: [ConvCase] = [
        ConvCase(2, 8, 16, 16, out: 16, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(1, 16, 7, 7, out: 32, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: true),
        ConvCase(2, 8, 9, 9, out: 16, kernel: (1, 1), stride: (2, 2)),
        ConvCase(1, 8, 6, 6, out: 12, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 12, 5, 5, out: 8, kernel: (3, 3), padding: (1, 1)),
    ]

    @Test("it fits every case here; the router runs it on the degradation nets' 8- and 16-channel layers only")
    func applies() {
        guard CPUFeatures.hasAVX512F else { return }
        for c in Self.cases { #expect(SmallConvolution.fits(c.geometry), "\(c)") }
        for c in Self.others.prefix(4) { #expect(!SmallConvolution.fits(c.geometry), "\(c)") }
        #expect(!SmallConvolution.backwardApplies(to: Self.others[4].geometry, input: true))
        #expect(SmallConvolution.backwardApplies(to: Self.others[4].geometry, input: false))
        #expect(SmallConvolution.applies(to: Self.cases[0].geometry) && SmallConvolution.applies(to: Self.cases[2].geometry))
        #expect(!SmallConvolution.applies(to: Self.cases[3].geometry), "32 channels at 4x4: the direct kernel")
    }

    @Test("the kernels themselves equal the seven loops on every case they fit, 1 and 2 threads", arguments: cases)
    func kernelsEqualNaive(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 320)
        let conv = SmallConvolution(c.geometry)
        let naiveY = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        for threads in [1, 2] { withThreadCount(threads) {
            var y = [Float](repeating: .nan, count: naiveY.count)
            x.withUnsafeBufferPointer { x in
                w.withUnsafeBufferPointer { w in
                    IM2ColConvolution.withOptionalPointer(b) { b in
                        y.withUnsafeMutableBufferPointer { y in
                            conv.forward(x: x.baseAddress!, weight: w.baseAddress!, bias: b, residual: nil, relu: false,
                                         y: y.baseAddress!)
                        }
                    }
                }
            }
            #expect(relativeError(y, naiveY) < 1e-5, "forward, threads \(threads)")
            let g = conv.backward(x: x, weight: w, dy: dy, input: c.geometry.inChannels % 8 == 0, weightAndBias: true, bias: true)
            if let dx = g.input { #expect(relativeError(dx, naive.input) < 1e-5, "dx, threads \(threads)") }
            #expect(relativeError(g.weight ?? [], naive.weight) < 1e-5, "dW, threads \(threads)")
            #expect(relativeError(g.bias ?? [], naive.bias) < 1e-5, "dbias, threads \(threads)")
        } }
    }

    @Test("forward, with bias, residual and ReLU, equals the seven loops, on 1 and 2 threads", arguments: cases + others)
    func forwardEqualsNaive(_ c: ConvCase) {
        let (x, w, b, r) = ConvolutionTests.data(c, seed: 300)
        let plain = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let summed = zip(plain, r).map { max($0 + $1, 0) }
        for threads in [1, 2] { withThreadCount(threads) {
            #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry), plain) < 1e-5, "threads \(threads)")
            var y: [Float] = []
            Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry, residual: r, relu: true, into: &y)
            #expect(relativeError(y, summed) < 1e-5, "fused, threads \(threads)")
        } }
    }

    @Test("input, weight and bias gradients equal the naive ones, together and alone, on 1 and 2 threads", arguments: cases + others)
    func backwardEqualsNaive(_ c: ConvCase) {
        let (x, w, _, dy) = ConvolutionTests.data(c, seed: 310)
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        for threads in [1, 2] { withThreadCount(threads) {
            let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
            #expect(relativeError(fast.input, naive.input) < 1e-5, "dx, threads \(threads)")
            #expect(relativeError(fast.weight, naive.weight) < 1e-5, "dW, threads \(threads)")
            #expect(relativeError(fast.bias, naive.bias) < 1e-5, "dbias, threads \(threads)")
            #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry), naive.input) < 1e-5)
            let weightOnly = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry,
                                                 inputGradient: false, biasGradient: false)
            #expect(weightOnly.input == nil && weightOnly.bias == nil)
            #expect(weightOnly.weight == fast.weight, "dW is computed the same whether or not dx is asked for")
        } }
    }

    /// Maps 4, 8 and 16 pixels wide (one to sixteen vectors a plane), 8 to 64 channels
    /// each way (tiles of 16 x 1 and 8 x 2), batch 1 and several, bias or not.
    static let planeCases: [ConvCase] = [
        ConvCase(3, 32, 4, 4, out: 32, kernel: (3, 3), padding: (1, 1)),                    // the degradation nets' stage 3
        ConvCase(2, 16, 8, 8, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),         // stage 2
        ConvCase(1, 8, 16, 16, out: 8, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 5, 4, 8, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(2, 16, 8, 4, out: 8, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 64, 2, 8, out: 48, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(3, 24, 6, 8, out: 64, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 1, 16, 4, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),
    ]

    @Test("the plane kernel's forward (bias, residual, ReLU) and input gradient equal the seven loops, 1 and 2 threads",
          arguments: planeCases)
    func planeKernelEqualsNaive(_ c: ConvCase) {
        guard CPUFeatures.hasAVX512F else { return }
        let g = c.geometry
        #expect(PlaneConvolution.fits(g, outChannels: g.outChannels))
        guard PlaneConvolution.fits(g, outChannels: g.outChannels) else { return }
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 330)
        let plain = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let fused = zip(plain, dy).map { max($0 + $1, 0) }
        let naiveDx = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
        let conv = PlaneConvolution(g)
        for threads in [1, 2] { withThreadCount(threads) {
            for (residual, expected) in [(false, plain), (true, fused)] {
                var y = [Float](repeating: .nan, count: plain.count)
                x.withUnsafeBufferPointer { x in
                    w.withUnsafeBufferPointer { w in
                        IM2ColConvolution.withOptionalPointer(b) { b in
                            IM2ColConvolution.withOptionalPointer(residual ? dy : nil) { r in
                                y.withUnsafeMutableBufferPointer { y in
                                    conv.forward(x: x.baseAddress!, weight: w.baseAddress!, bias: b, residual: r, relu: residual,
                                                 y: y.baseAddress!)
                                }
                            }
                        }
                    }
                }
                #expect(relativeError(y, expected) < 1e-5, "forward, residual and ReLU \(residual), threads \(threads)")
            }
            if PlaneConvolution.fits(g, outChannels: g.inChannels) {
                #expect(relativeError(conv.inputGradient(weight: w, dy: dy), naiveDx) < 1e-5, "dx, threads \(threads)")
            }
        } }
    }

    @Test("the router's results with the plane kernel equal the naive ones, forward and backward", arguments: planeCases)
    func planeRouterEqualsNaive(_ c: ConvCase) {
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 340)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry),
                              Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)) < 1e-5)
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(fast.input, naive.input) < 1e-5)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
        let weightOnly = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry, inputGradient: false, biasGradient: false)
        #expect(weightOnly.weight == fast.weight, "dW is computed the same whether or not dx is asked for")
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry), naive.input) < 1e-5)
    }
}
