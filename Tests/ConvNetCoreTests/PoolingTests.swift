import Testing
@testable import ConvNetCore

/// `count` distinct values spread evenly over (-1, 1), in seeded random order: max
/// pooling inputs with no ties and gaps far wider than a finite-difference step.
fileprivate func distinctArray(_ count: Int, seed: UInt64) -> [Double] {
    var g = SeededGenerator(seed: seed)
    var values = (0..<count).map { 2 * (Double($0) + 0.5) / Double(count) - 1 }
    values.shuffle(using: &g)
    return values
}

/// Every combination of kernel 2/3, stride 1/2/3, padding 0/1 and ceil mode, each on a
/// seeded random shape (batch 1 or 2, odd and even sizes, some wide enough for several
/// SIMD blocks plus a tail), plus a few fixed network-sized cases.
fileprivate func poolGeometries(seed: UInt64, small: Bool = false) -> [Pool2DGeometry] {
    var g = SeededGenerator(seed: seed)
    var result: [Pool2DGeometry] = []
    for kernel in [2, 3] {
        for stride in [1, 2, 3] {
            for padding in [0, 1] {
                for ceilMode in [false, true] {
                    let sizes = small ? [3, 4, 5, 6] : [3, 4, 5, 7, 8, 11, 13, 20, 37, 40]
                    let input = FeatureMapShape(batch: Int.random(in: 1...2, using: &g),
                                                channels: small ? Int.random(in: 1...2, using: &g) : Int.random(in: 1...3, using: &g),
                                                height: sizes.randomElement(using: &g)!,
                                                width: sizes.randomElement(using: &g)!)
                    let geometry = Pool2DGeometry(input: input, kernel: kernel, stride: stride, padding: padding,
                                                  ceilMode: ceilMode)
                    if geometry.problem == nil { result.append(geometry) }
                }
            }
        }
    }
    if !small {
        let shape = { (h: Int, w: Int) in FeatureMapShape(batch: 1, channels: 2, height: h, width: w) }
        result += [
            Pool2DGeometry(input: shape(55, 55), kernel: 3, stride: 2),                  // AlexNet
            Pool2DGeometry(input: shape(35, 70), kernel: 3, stride: 2, ceilMode: true),  // GoogLeNet-style
            Pool2DGeometry(input: shape(9, 33), kernel: 3, stride: 1, padding: 1),       // Inception branch
            Pool2DGeometry(input: shape(6, 9), kernel: (2, 3), stride: (1, 2), padding: (1, 1)),
            Pool2DGeometry(input: shape(7, 10), kernel: (3, 2), stride: (2, 3), padding: (0, 1), ceilMode: true),
            Pool2DGeometry(input: shape(4, 4), kernel: 4, stride: 4),                    // one window
            Pool2DGeometry(input: shape(1, 1), kernel: 1, stride: 1),
        ]
    }
    return result
}

@Suite("Pooling")
struct PoolingTests {
    // MARK: fast == naive

    @Test("fast max pooling equals naive, forward and backward, on every kernel/stride/padding/ceil combination")
    func maxPoolFastEqualsNaive() {
        let geometries = poolGeometries(seed: 11)
        #expect(geometries.count >= 28)   // 24 combinations (a few may not fit their shape) + 7 fixed
        for (i, g) in geometries.enumerated() {
            let x: [Float] = randomArray(g.input.count, seed: UInt64(100 + i))
            let dy: [Float] = randomArray(g.outputShape.count, seed: UInt64(200 + i))
            let y = Fast.maxPool2d(x, geometry: g)
            #expect(y.count == g.outputShape.count)
            #expect(relativeError(y, Naive.maxPool2d(x, geometry: g)) == 0, "\(g)")
            #expect(relativeError(Fast.maxPool2dBackward(x, outputGradient: dy, geometry: g),
                                  Naive.maxPool2dBackward(x, outputGradient: dy, geometry: g)) < 1e-6, "\(g)")
        }
    }

    @Test("fast average pooling equals naive, with and without count_include_pad, forward and backward")
    func avgPoolFastEqualsNaive() {
        for (i, g) in poolGeometries(seed: 12).enumerated() {
            for includePad in [false, true] {
                let x: [Float] = randomArray(g.input.count, seed: UInt64(300 + i))
                let dy: [Float] = randomArray(g.outputShape.count, seed: UInt64(400 + i))
                let xd = x.map(Double.init), dyd = dy.map(Double.init)
                let reference = floats(Naive.avgPool2d(xd, geometry: g, countIncludePad: includePad))
                #expect(relativeError(Fast.avgPool2d(x, geometry: g, countIncludePad: includePad), reference) < 1e-5,
                        "\(g) count_include_pad \(includePad)")
                let referenceBackward = floats(Naive.avgPool2dBackward(outputGradient: dyd, geometry: g, countIncludePad: includePad))
                #expect(relativeError(Fast.avgPool2dBackward(outputGradient: dy, geometry: g, countIncludePad: includePad),
                                      referenceBackward) < 1e-5, "\(g) count_include_pad \(includePad)")
            }
        }
    }

    @Test("fast adaptive average pooling equals naive, including non-dividing and enlarging output sizes")
    func adaptiveFastEqualsNaive() {
        let cases: [(FeatureMapShape, (Int, Int))] = [
            (FeatureMapShape(batch: 2, channels: 3, height: 7, width: 7), (1, 1)),
            (FeatureMapShape(batch: 1, channels: 2, height: 13, width: 21), (1, 1)),
            (FeatureMapShape(batch: 1, channels: 2, height: 7, width: 9), (3, 4)),
            (FeatureMapShape(batch: 2, channels: 1, height: 5, width: 4), (7, 6)),
            (FeatureMapShape(batch: 1, channels: 3, height: 8, width: 8), (4, 4)),
            (FeatureMapShape(batch: 1, channels: 1, height: 1, width: 1), (2, 3)),
            (FeatureMapShape(batch: 3, channels: 2, height: 6, width: 11), (6, 6)),
        ]
        for (i, (shape, size)) in cases.enumerated() {
            let x: [Float] = randomArray(shape.count, seed: UInt64(500 + i))
            let dy: [Float] = randomArray(shape.batch * shape.channels * size.0 * size.1, seed: UInt64(600 + i))
            let reference = floats(Naive.adaptiveAvgPool2d(x.map(Double.init), input: shape, outputSize: size))
            #expect(relativeError(Fast.adaptiveAvgPool2d(x, input: shape, outputSize: size), reference) < 1e-5, "\(shape) -> \(size)")
            let referenceBackward = floats(Naive.adaptiveAvgPool2dBackward(outputGradient: dy.map(Double.init), input: shape,
                                                                           outputSize: size))
            #expect(relativeError(Fast.adaptiveAvgPool2dBackward(outputGradient: dy, input: shape, outputSize: size),
                                  referenceBackward) < 1e-5, "\(shape) -> \(size)")
        }
    }

    // MARK: naive backward == finite differences

    @Test("naive max pooling backward equals finite differences (inputs without ties)")
    func maxPoolGradient() {
        for (i, g) in poolGeometries(seed: 13, small: true).enumerated() {
            let x = distinctArray(g.input.count, seed: UInt64(700 + i))
            let dy: [Double] = randomArray(g.outputShape.count, seed: UInt64(800 + i))
            let numeric = numericalGradient(of: { dot(Naive.maxPool2d($0, geometry: g), dy) }, at: x)
            #expect(relativeError(Naive.maxPool2dBackward(x, outputGradient: dy, geometry: g), numeric) < 1e-6, "\(g)")
        }
    }

    @Test("naive average pooling backward equals finite differences, with and without count_include_pad")
    func avgPoolGradient() {
        for (i, g) in poolGeometries(seed: 14, small: true).enumerated() {
            for includePad in [false, true] {
                let x: [Double] = randomArray(g.input.count, seed: UInt64(900 + i))
                let dy: [Double] = randomArray(g.outputShape.count, seed: UInt64(1000 + i))
                let numeric = numericalGradient(of: { dot(Naive.avgPool2d($0, geometry: g, countIncludePad: includePad), dy) }, at: x)
                #expect(relativeError(Naive.avgPool2dBackward(outputGradient: dy, geometry: g, countIncludePad: includePad),
                                      numeric) < 1e-6, "\(g) count_include_pad \(includePad)")
            }
        }
    }

    @Test("naive adaptive average pooling backward equals finite differences")
    func adaptiveGradient() {
        for (i, (h, w, oh, ow)) in [(5, 7, 3, 2), (4, 4, 1, 1), (3, 5, 4, 6)].enumerated() {
            let shape = FeatureMapShape(batch: 2, channels: 2, height: h, width: w)
            let x: [Double] = randomArray(shape.count, seed: UInt64(1100 + i))
            let dy: [Double] = randomArray(2 * 2 * oh * ow, seed: UInt64(1200 + i))
            let numeric = numericalGradient(of: { dot(Naive.adaptiveAvgPool2d($0, input: shape, outputSize: (oh, ow)), dy) }, at: x)
            #expect(relativeError(Naive.adaptiveAvgPool2dBackward(outputGradient: dy, input: shape, outputSize: (oh, ow)),
                                  numeric) < 1e-6)
        }
    }

    // MARK: facts

    @Test("AlexNet's overlapping 3x3 stride-2 max pool takes 55x55 to 27x27")
    func alexNetPoolSize() {
        let g = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: 96, height: 55, width: 55), kernel: 3, stride: 2)
        #expect(g.outHeight == 27 && g.outWidth == 27)
        let x: [Float] = randomArray(g.input.count, seed: 1)
        #expect(Fast.maxPool2d(x, geometry: g).count == 96 * 27 * 27)
        // Overlapping: neighbouring windows share a column, so one input can win two windows.
        #expect(g.kernelWidth > g.strideWidth)
    }

    @Test("padding never wins a max pool: an all-negative input stays negative")
    func paddingNeverWins() {
        let g = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: 1, height: 5, width: 6), kernel: 3, stride: 2,
                               padding: 1, ceilMode: true)
        let x = [Float](repeating: -3, count: g.input.count)
        #expect(Naive.maxPool2d(x, geometry: g).allSatisfy { $0 == -3 })
        #expect(Fast.maxPool2d(x, geometry: g).allSatisfy { $0 == -3 })
    }

    @Test("among tied maxima the first in row-major window order gets the gradient, as in PyTorch")
    func tiesGoToFirst() {
        let g = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: 1, height: 4, width: 4), kernel: 2, stride: 2)
        let x = [Float](repeating: 1, count: 16)
        let dy: [Float] = [1, 2, 3, 4]
        var expected = [Float](repeating: 0, count: 16)
        expected[0] = 1; expected[2] = 2; expected[8] = 3; expected[10] = 4
        #expect(Naive.maxPool2dBackward(x, outputGradient: dy, geometry: g) == expected)
        #expect(Fast.maxPool2dBackward(x, outputGradient: dy, geometry: g) == expected)
        // With padding the first *real* cell of the window wins.
        let padded = Pool2DGeometry(input: g.input, kernel: 3, stride: 2, padding: 1)   // 2x2 windows from -1
        var expectedPadded = [Float](repeating: 0, count: 16)
        expectedPadded[0] = 1; expectedPadded[1] = 2; expectedPadded[4] = 3; expectedPadded[5] = 4
        #expect(Naive.maxPool2dBackward(x, outputGradient: dy, geometry: padded) == expectedPadded)
        #expect(Fast.maxPool2dBackward(x, outputGradient: dy, geometry: padded) == expectedPadded)
    }

    @Test("average pooling's divisor: count_include_pad counts padding but not a ceil-mode overhang")
    func averageDivisor() {
        // 6x6 ones, 3x3 window, stride 2, padding 1, ceil mode: 4x4 windows starting at -1, 1, 3, 5.
        let g = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: 1, height: 6, width: 6), kernel: 3, stride: 2,
                               padding: 1, ceilMode: true)
        #expect(g.outHeight == 4)
        let x = [Float](repeating: 1, count: 36)
        for y in [Naive.avgPool2d(x, geometry: g, countIncludePad: true), Fast.avgPool2d(x, geometry: g, countIncludePad: true)] {
            #expect(abs(y[0] - 4 / 9) < 1e-6)        // corner: 2x2 real cells of a full 3x3 padded window
            #expect(abs(y[1] - 6 / 9) < 1e-6)        // top edge: 2x3 real cells of 3x3
            #expect(abs(y[3] - 2 / 6) < 1e-6)        // last column: window 5..7 clipped to the padded 5..6
            #expect(abs(y[15] - 1 / 4) < 1e-6)       // last corner: 1 real cell, divisor 2x2
        }
        for y in [Naive.avgPool2d(x, geometry: g, countIncludePad: false), Fast.avgPool2d(x, geometry: g, countIncludePad: false)] {
            #expect(y.allSatisfy { abs($0 - 1) < 1e-6 })   // only real cells: the mean of ones
        }
    }

    @Test("global adaptive average pooling is the mean of each plane")
    func globalPoolIsMean() {
        let shape = FeatureMapShape(batch: 2, channels: 3, height: 7, width: 5)
        let x: [Float] = randomArray(shape.count, seed: 3)
        let means = (0..<6).map { plane in x[(plane * 35)..<((plane + 1) * 35)].reduce(0, +) / 35 }
        #expect(relativeError(Naive.adaptiveAvgPool2d(x, input: shape, outputSize: (1, 1)), means) < 1e-6)
        #expect(relativeError(Fast.adaptiveAvgPool2d(x, input: shape, outputSize: (1, 1)), means) < 1e-6)
    }

    @Test("adaptive pooling to a divisor of the size is ordinary average pooling with kernel = stride")
    func adaptiveIsAveragePool() {
        let shape = FeatureMapShape(batch: 1, channels: 2, height: 8, width: 12)
        let x: [Float] = randomArray(shape.count, seed: 4)
        let pooled = Naive.avgPool2d(x, geometry: Pool2DGeometry(input: shape, kernel: (2, 3), stride: (2, 3)),
                                     countIncludePad: true)
        #expect(relativeError(Fast.adaptiveAvgPool2d(x, input: shape, outputSize: (4, 4)), pooled) < 1e-6)
    }
}
