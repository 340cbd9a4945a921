import ConvNetCore
import Foundation
import Testing
@testable import LeNetLesson

// The lesson's kernel pair, checked three ways: the fast twin against the naive one, the
// naive backward against finite differences, and both against the core's general kernels
// and PyTorch (the fixture cases conv_5x5_valid and avgpool_2x2_s2 of Fixtures/ops-public).

/// A batch, channels, size, filters and filter size for a valid convolution.
struct ConvCase: CustomStringConvertible, Sendable {
    var batch: Int, channels: Int, height: Int, width: Int, filters: Int, kernel: Int, bias = true
    var shape: ValidConvolutionShape {
        ValidConvolutionShape(input: FeatureMapShape(batch: batch, channels: channels, height: height, width: width),
                              filters: filters, kernel: kernel)
    }
    var description: String { "\(shape)\(bias ? "" : " no bias")" }
}

let convCases: [ConvCase] = [
    ConvCase(batch: 2, channels: 1, height: 32, width: 32, filters: 6, kernel: 5),    // C1
    ConvCase(batch: 3, channels: 6, height: 14, width: 14, filters: 16, kernel: 5),   // C3
    ConvCase(batch: 2, channels: 16, height: 5, width: 5, filters: 120, kernel: 5),   // C5: 1x1 outputs
    ConvCase(batch: 1, channels: 3, height: 9, width: 23, filters: 5, kernel: 5, bias: false),
    ConvCase(batch: 1, channels: 2, height: 7, width: 40, filters: 7, kernel: 3),    // 38 columns: 3 SIMD blocks
    ConvCase(batch: 5, channels: 3, height: 6, width: 5, filters: 2, kernel: 1),
    ConvCase(batch: 2, channels: 4, height: 11, width: 17, filters: 9, kernel: 7),
    ConvCase(batch: 1, channels: 1, height: 5, width: 5, filters: 1, kernel: 5),     // one output
    ConvCase(batch: 5, channels: 3, height: 3, width: 3, filters: 7, kernel: 3, bias: false), // 1x1, k = 27
]

@Suite("LeNet's kernel pair: valid convolution")
struct ValidConvolutionTests {
    @Test("the fast convolution computes the naive one's numbers", arguments: convCases)
    func fastEqualsNaive(_ c: ConvCase) {
        let s = c.shape
        let x: [Float] = randomArray(s.input.count, seed: 1)
        let w: [Float] = randomArray(s.weightCount, seed: 2)
        let b: [Float]? = c.bias ? randomArray(s.filters, seed: 3) : nil
        let dy: [Float] = randomArray(s.output.count, seed: 4)
        #expect(relativeError(Fast.validConvolution(x, weight: w, bias: b, shape: s),
                              Naive.validConvolution(x, weight: w, bias: b, shape: s)) < 1e-5)
        let fast = Fast.validConvolutionBackward(x, weight: w, outputGradient: dy, shape: s)
        let naive = Naive.validConvolutionBackward(x, weight: w, outputGradient: dy, shape: s)
        #expect(relativeError(fast.input, naive.input) < 1e-5)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
    }

    @Test("the naive convolution is the core's general conv2d with padding 0, stride 1", arguments: convCases)
    func naiveEqualsCoreConvolution(_ c: ConvCase) {
        let s = c.shape
        let x: [Double] = randomArray(s.input.count, seed: 5)
        let w: [Double] = randomArray(s.weightCount, seed: 6)
        let b: [Double]? = c.bias ? randomArray(s.filters, seed: 7) : nil
        let dy: [Double] = randomArray(s.output.count, seed: 8)
        #expect(s.geometry.outputShape == s.output)
        #expect(relativeError(Naive.validConvolution(x, weight: w, bias: b, shape: s),
                              Naive.conv2d(x, weight: w, bias: b, geometry: s.geometry)) < 1e-12)
        let mine = Naive.validConvolutionBackward(x, weight: w, outputGradient: dy, shape: s)
        let core = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: s.geometry)
        #expect(relativeError(mine.input, core.input) < 1e-12)
        #expect(relativeError(mine.weight, core.weight) < 1e-12)
        #expect(relativeError(mine.bias, core.bias) < 1e-12)
    }

    @Test("the naive backward pass is the finite-difference gradient of sum(y * dy)")
    func backwardMatchesFiniteDifferences() {
        let s = ValidConvolutionShape(input: FeatureMapShape(batch: 2, channels: 2, height: 7, width: 6),
                                      filters: 3, kernel: 3)
        let x: [Double] = randomArray(s.input.count, seed: 11)
        let w: [Double] = randomArray(s.weightCount, seed: 12)
        let b: [Double] = randomArray(s.filters, seed: 13)
        let dy: [Double] = randomArray(s.output.count, seed: 14)
        let analytic = Naive.validConvolutionBackward(x, weight: w, outputGradient: dy, shape: s)
        let dx = numericalGradient(of: { dot(Naive.validConvolution($0, weight: w, bias: b, shape: s), dy) }, at: x)
        let dw = numericalGradient(of: { dot(Naive.validConvolution(x, weight: $0, bias: b, shape: s), dy) }, at: w)
        let db = numericalGradient(of: { dot(Naive.validConvolution(x, weight: w, bias: $0, shape: s), dy) }, at: b)
        #expect(relativeError(analytic.input, dx) < 1e-6)
        #expect(relativeError(analytic.weight, dw) < 1e-6)
        #expect(relativeError(analytic.bias, db) < 1e-6)
    }

    @Test("both convolutions reproduce PyTorch on LeNet's C1 (fixture conv_5x5_valid)")
    func matchesPyTorch() throws {
        let x = try opsFixture("conv_5x5_valid.inputs.x"), w = try opsFixture("conv_5x5_valid.inputs.weight")
        let b = try opsFixture("conv_5x5_valid.inputs.bias"), dy = try opsFixture("conv_5x5_valid.inputs.dy")
        let y = try opsFixture("conv_5x5_valid.outputs.y")
        let dx = try opsFixture("conv_5x5_valid.grads.x"), dw = try opsFixture("conv_5x5_valid.grads.weight")
        let db = try opsFixture("conv_5x5_valid.grads.bias")
        let s = ValidConvolutionShape(input: FeatureMapShape(batch: x.shape[0], channels: x.shape[1],
                                                             height: x.shape[2], width: x.shape[3]),
                                      filters: w.shape[0], kernel: w.shape[2])
        #expect(s.output.dimensions == y.shape)
        for (name, forward, backward) in [
            ("naive", Naive.validConvolution(x.floats, weight: w.floats, bias: b.floats, shape: s),
             Naive.validConvolutionBackward(x.floats, weight: w.floats, outputGradient: dy.floats, shape: s)),
            ("fast", Fast.validConvolution(x.floats, weight: w.floats, bias: b.floats, shape: s),
             Fast.validConvolutionBackward(x.floats, weight: w.floats, outputGradient: dy.floats, shape: s)),
        ] {
            #expect(relativeError(forward, y.floats) < 1e-4, "\(name) y")
            #expect(relativeError(backward.input, dx.floats) < 1e-4, "\(name) dx")
            #expect(relativeError(backward.weight, dw.floats) < 1e-4, "\(name) dw")
            #expect(relativeError(backward.bias, db.floats) < 1e-4, "\(name) db")
        }
    }

    @Test("a valid convolution shrinks n_H and n_W by f - 1 and has n_C' channels")
    func shapeFormula() {
        let c3 = ValidConvolutionShape(input: FeatureMapShape(batch: 1, channels: 6, height: 14, width: 14),
                                       filters: 16, kernel: 5)
        #expect(c3.output == FeatureMapShape(batch: 1, channels: 16, height: 10, width: 10))
        #expect(c3.weightCount == 16 * 6 * 25)
        #expect(c3.macs == 10 * 10 * 16 * 150)
    }
}

/// A feature map for 2x2 pooling.
struct PoolCase: CustomStringConvertible, Sendable {
    var batch: Int, channels: Int, height: Int, width: Int
    var shape: FeatureMapShape { FeatureMapShape(batch: batch, channels: channels, height: height, width: width) }
    var description: String { "\(shape)" }
}

let poolCases: [PoolCase] = [
    PoolCase(batch: 2, channels: 6, height: 28, width: 28),    // S2
    PoolCase(batch: 3, channels: 16, height: 10, width: 10),   // S4
    PoolCase(batch: 1, channels: 1, height: 2, width: 2),
    PoolCase(batch: 1, channels: 3, height: 7, width: 9),      // odd: last row and column dropped
    PoolCase(batch: 2, channels: 2, height: 5, width: 35),     // 17 outputs: 8 + 8 + 1
    PoolCase(batch: 2, channels: 2, height: 6, width: 24),     // 12 outputs: 8 + 4
    PoolCase(batch: 64, channels: 6, height: 28, width: 28),   // large enough for threads
]

@Suite("LeNet's kernel pair: 2x2 average pooling")
struct AveragePooling2x2Tests {
    @Test("the fast pooling computes the naive one's numbers", arguments: poolCases)
    func fastEqualsNaive(_ c: PoolCase) {
        let s = c.shape
        let x: [Float] = randomArray(s.count, seed: 21)
        let dy: [Float] = randomArray(s.batch * s.channels * (s.height / 2) * (s.width / 2), seed: 22)
        #expect(relativeError(Fast.averagePooling2x2(x, shape: s), Naive.averagePooling2x2(x, shape: s)) < 1e-6)
        #expect(relativeError(Fast.averagePooling2x2Backward(outputGradient: dy, shape: s),
                              Naive.averagePooling2x2Backward(outputGradient: dy, shape: s)) < 1e-6)
    }

    @Test("the naive pooling is the core's avg_pool2d with kernel 2, stride 2", arguments: poolCases)
    func naiveEqualsCorePooling(_ c: PoolCase) {
        let s = c.shape
        let g = Pool2DGeometry(input: s, kernel: 2, stride: 2)
        let x: [Double] = randomArray(s.count, seed: 23)
        let dy: [Double] = randomArray(g.outputShape.count, seed: 24)
        #expect(relativeError(Naive.averagePooling2x2(x, shape: s), Naive.avgPool2d(x, geometry: g, countIncludePad: true)) < 1e-12)
        #expect(relativeError(Naive.averagePooling2x2Backward(outputGradient: dy, shape: s),
                              Naive.avgPool2dBackward(outputGradient: dy, geometry: g, countIncludePad: true)) < 1e-12)
    }

    @Test("the naive pooling gradient is the finite-difference gradient of sum(y * dy)")
    func backwardMatchesFiniteDifferences() {
        let s = FeatureMapShape(batch: 2, channels: 2, height: 5, width: 6)
        let x: [Double] = randomArray(s.count, seed: 25)
        let dy: [Double] = randomArray(2 * 2 * 2 * 3, seed: 26)
        let numeric = numericalGradient(of: { dot(Naive.averagePooling2x2($0, shape: s), dy) }, at: x)
        #expect(relativeError(Naive.averagePooling2x2Backward(outputGradient: dy, shape: s), numeric) < 1e-6)
    }

    @Test("both poolings reproduce PyTorch on LeNet's S2 (fixture avgpool_2x2_s2)")
    func matchesPyTorch() throws {
        let x = try opsFixture("avgpool_2x2_s2.inputs.x"), dy = try opsFixture("avgpool_2x2_s2.inputs.dy")
        let y = try opsFixture("avgpool_2x2_s2.outputs.y"), dx = try opsFixture("avgpool_2x2_s2.grads.x")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        #expect(relativeError(Naive.averagePooling2x2(x.floats, shape: s), y.floats) < 1e-4)
        #expect(relativeError(Fast.averagePooling2x2(x.floats, shape: s), y.floats) < 1e-4)
        #expect(relativeError(Naive.averagePooling2x2Backward(outputGradient: dy.floats, shape: s), dx.floats) < 1e-4)
        #expect(relativeError(Fast.averagePooling2x2Backward(outputGradient: dy.floats, shape: s), dx.floats) < 1e-4)
    }
}
