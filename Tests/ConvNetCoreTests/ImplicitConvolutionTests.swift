import Testing
@testable import ConvNetCore

@Suite("Implicit-GEMM convolution")
struct ImplicitConvolutionTests {
    /// Dense and few-group geometries: odd sizes, batch 1 and 3, strides 1-4 and unequal,
    /// padding 0-2 and unequal, output channels not a multiple of the tile's 8 (or 6) rows,
    /// output planes not a multiple of its 32 (or 16) columns.
    static let cases: [ConvCase] = [
        ConvCase(1, 3, 7, 9, out: 4, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(3, 5, 13, 11, out: 13, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvCase(1, 6, 12, 12, out: 9, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(3, 4, 17, 19, out: 8, kernel: (5, 3), stride: (2, 1), padding: (2, 1), bias: true),
        ConvCase(1, 3, 23, 23, out: 16, kernel: (11, 11), stride: (4, 4), padding: (2, 2), bias: true),
        ConvCase(3, 7, 9, 10, out: 17, kernel: (1, 1), bias: true),
        ConvCase(1, 4, 9, 8, out: 3, kernel: (1, 1), stride: (2, 2)),
        ConvCase(2, 3, 10, 9, out: 5, kernel: (3, 2), stride: (1, 1)),                        // no padding: no copy
        ConvCase(1, 2, 3, 4, out: 2, kernel: (3, 3), padding: (2, 2), bias: true),
        ConvCase(2, 8, 6, 7, out: 10, kernel: (3, 3), stride: (3, 2), padding: (0, 1), groups: 2, bias: true),
        ConvCase(1, 20, 14, 14, out: 24, kernel: (3, 3), padding: (1, 1), bias: true),        // VGG-like, 14 wide
        ConvCase(2, 5, 8, 6, out: 16, kernel: (3, 3), padding: (1, 1), bias: true),           // 48 = 32 + a half tile
    ]

    static func run(_ c: ConvCase, _ conv: ImplicitGEMMConvolution, x: [Float], w: [Float], b: [Float]?,
                    residual: [Float]?, relu: Bool) -> [Float] {
        var y = [Float](repeating: .nan, count: c.geometry.outputShape.count)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                IM2ColConvolution.withOptionalPointer(b) { b in
                    IM2ColConvolution.withOptionalPointer(residual) { r in
                        y.withUnsafeMutableBufferPointer { y in
                            conv.forward(x: x.baseAddress!, weight: w.baseAddress!, y: y.baseAddress!,
                                         epilogue: ConvEpilogue(bias: b, residual: r, relu: relu))
                        }
                    }
                }
            }
        }
        return y
    }

    @Test("the implicit GEMM equals the seven loops for every kernel, block size and thread schedule", arguments: cases)
    func implicitEqualsNaive(_ c: ConvCase) {
        let (x, w, b, _) = ConvolutionTests.data(c, seed: 40)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        // (narrow 6x16 kernel, depth block, packed-B floats, threads, whole items)
        let schedules: [(Bool, Int, Int, Int?, Bool?)] = [
            (false, 256, 1 << 17, 1, nil), (true, 256, 1 << 17, 1, nil), (false, 7, 64, 1, nil),
            (true, 5, 16, 1, nil), (false, 256, 1 << 17, 2, true), (false, 256, 1 << 17, 2, false),
            (false, 9, 100, 3, false), (true, 256, 1 << 17, 3, true),
        ]
        for gridMode in [false, true] {
            for (narrow, depth, bFloats, threads, whole) in schedules {
                var conv = ImplicitGEMMConvolution(c.geometry, narrowKernel: narrow, depthBlock: depth, packedBFloats: bFloats,
                                                   gridMode: gridMode)
                conv.threadsOverride = threads
                conv.wholeItemsOverride = whole
                let y = Self.run(c, conv, x: x, w: w, b: b, residual: nil, relu: false)
                #expect(relativeError(y, naive) < 1e-5, "grid \(gridMode), narrow \(narrow), KC \(depth), B \(bFloats), threads \(threads ?? 0), whole \(whole.map { "\($0)" } ?? "auto")")
            }
        }
    }

    @Test("the fused epilogue equals bias, then + residual, then ReLU, applied after the convolution", arguments: cases)
    func fusedEpilogue(_ c: ConvCase) {
        let (x, w, b, r) = ConvolutionTests.data(c, seed: 50)
        let plain = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let summed = zip(plain, r).map { $0 + $1 }
        let expected = summed.map { max($0, 0) }
        for (narrow, gridMode) in [(false, false), (true, false), (false, true), (true, true)] {
            let conv = ImplicitGEMMConvolution(c.geometry, narrowKernel: narrow, depthBlock: 11, packedBFloats: 200,
                                               gridMode: gridMode)
            #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: r, relu: true), expected) < 1e-5)
            #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: r, relu: false), summed) < 1e-5)
            #expect(relativeError(Self.run(c, conv, x: x, w: w, b: b, residual: nil, relu: true), plain.map { max($0, 0) }) < 1e-5)
        }
        // The public entry, also for the grouped direct path (depthwise here).
        var y: [Float] = []
        Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry, residual: r, relu: true, into: &y)
        #expect(relativeError(y, expected) < 1e-5)
        // (More than 4,096 outputs: the residual-and-ReLU pass after the grouped kernel runs in chunks.)
        let dw = ConvCase(2, 8, 30, 31, out: 8, kernel: (3, 3), padding: (1, 1), groups: 8, bias: true)
        let d = ConvolutionTests.data(dw, seed: 60)
        let dwExpected = zip(Naive.conv2d(d.x, weight: d.w, bias: d.b, geometry: dw.geometry), d.dy).map { max($0 + $1, 0) }
        Fast.conv2d(d.x, weight: d.w, bias: d.b, geometry: dw.geometry, residual: d.dy, relu: true, into: &y)
        #expect(relativeError(y, dwExpected) < 1e-5)
    }

    @Test("with stride 1 the input gradient is the convolution of dy by the turned kernel, and equals the naive one",
          arguments: cases + [ConvCase(2, 5, 8, 9, out: 7, kernel: (5, 3), padding: (2, 0), bias: false)])
    func inputGradientAsConvolution(_ c: ConvCase) {
        let (x, w, _, dy) = ConvolutionTests.data(c, seed: 70)
        let naive = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let applies = ImplicitGEMMConvolution.backwardInputApplies(to: c.geometry)
        #expect(applies == (c.geometry.strideHeight == 1 && c.geometry.strideWidth == 1))
        var dx = [Float](repeating: .nan, count: x.count)
        if applies {
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    dx.withUnsafeMutableBufferPointer { dx in
                        ImplicitGEMMConvolution.backwardInput(geometry: c.geometry, weight: w.baseAddress!,
                                                              dy: dy.baseAddress!, dx: dx.baseAddress!)
                    }
                }
            }
            #expect(relativeError(dx, naive.input) < 1e-5)
        }
        let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(fast.input, naive.input) < 1e-5)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: c.geometry), naive.input) < 1e-5)
    }

    @Test("the weight gradient on the pixel grid equals the naive one for every kernel, block size and schedule", arguments: cases)
    func weightGradientEqualsNaive(_ c: ConvCase) {
        let (x, _, _, dy) = ConvolutionTests.data(c, seed: 80)
        let naive = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: c.geometry)
        let schedules: [(Bool, Int, Int, Int?, Bool?)] = [
            (false, 256, 1 << 17, 1, nil), (true, 256, 1 << 17, 1, nil), (false, 7, 64, 1, nil),
            (true, 20, 16, 2, true), (false, 256, 1 << 17, 2, false), (false, 9, 100, 3, true), (true, 33, 700, 3, false),
        ]
        for (narrow, depth, bFloats, threads, whole) in schedules {
            var grad = ImplicitWeightGradient(c.geometry, narrowKernel: narrow, depthBlock: depth, packedBFloats: bFloats)
            grad.threadsOverride = threads
            grad.wholeItemsOverride = whole
            var dw = [Float](repeating: .nan, count: c.geometry.weightCount)
            x.withUnsafeBufferPointer { x in
                dy.withUnsafeBufferPointer { dy in
                    dw.withUnsafeMutableBufferPointer { dw in
                        grad.weightGradient(x: x.baseAddress!, dy: dy.baseAddress!, dw: dw.baseAddress!)
                    }
                }
            }
            #expect(relativeError(dw, naive.weight) < 1e-5, "narrow \(narrow), KC \(depth), B \(bFloats), threads \(threads ?? 0)")
        }
        let fast = Fast.conv2dBackwardWeight(x, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
    }
}
