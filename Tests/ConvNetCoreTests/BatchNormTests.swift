import Testing
@testable import ConvNetCore

/// Seeded data for one batch-norm case: x with a per-channel offset (so the mean is far
/// from 0 and a careless variance formula cancels), weight, bias, running statistics, dy.
fileprivate struct BatchNormCase {
    var shape: FeatureMapShape
    var x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], dy: [Float]

    init(_ shape: FeatureMapShape, seed: UInt64) {
        self.shape = shape
        let c = shape.channels, hw = shape.spatial
        let offsets: [Float] = randomArray(c, seed: seed + 1).map { 20 * $0 }
        let scales: [Float] = randomArray(c, seed: seed + 2).map { 1.5 + $0 }
        let noise: [Float] = randomArray(shape.count, seed: seed)
        x = (0..<shape.count).map { i in offsets[(i / hw) % c] + scales[(i / hw) % c] * noise[i] }
        weight = randomArray(c, seed: seed + 3).map { 1 + 0.5 * $0 }
        bias = randomArray(c, seed: seed + 4)
        runningMean = offsets.map { $0 + 0.1 }
        runningVariance = randomArray(c, seed: seed + 5).map { 0.6 + 0.5 * $0 }
        dy = randomArray(shape.count, seed: seed + 6)
    }

    func doubles(_ a: [Float]) -> [Double] { a.map(Double.init) }
}

@Suite("Batch normalisation")
struct BatchNormTests {
    static let shapes: [FeatureMapShape] = [
        FeatureMapShape(batch: 1, channels: 3, height: 5, width: 7),
        FeatureMapShape(batch: 2, channels: 4, height: 9, width: 9),      // 81: 64 + 16 + a tail of 1
        FeatureMapShape(batch: 4, channels: 2, height: 1, width: 1),
        FeatureMapShape(batch: 3, channels: 5, height: 10, width: 10),
        FeatureMapShape(batch: 1, channels: 1, height: 16, width: 16),
        FeatureMapShape(batch: 2, channels: 7, height: 3, width: 13),
    ]

    @Test("fast training batch norm equals naive: output, batch mean, biased variance, and all three gradients")
    func trainingFastEqualsNaive() {
        for (i, shape) in Self.shapes.enumerated() {
            let t = BatchNormCase(shape, seed: UInt64(10 * i))
            let reference = Naive.batchNormTraining(t.doubles(t.x), weight: t.doubles(t.weight), bias: t.doubles(t.bias),
                                                    shape: shape, epsilon: 1e-5)
            let fast = Fast.batchNormTraining(t.x, weight: t.weight, bias: t.bias, shape: shape, epsilon: 1e-5)
            #expect(relativeError(fast.output, floats(reference.output)) < 1e-5, "\(shape)")
            #expect(relativeError(fast.mean, floats(reference.mean)) < 1e-6, "\(shape)")
            #expect(relativeError(fast.variance, floats(reference.variance)) < 1e-5, "\(shape)")
            let referenceBackward = Naive.batchNormTrainingBackward(t.doubles(t.x), weight: t.doubles(t.weight),
                                                                    outputGradient: t.doubles(t.dy), shape: shape, epsilon: 1e-5)
            let fastBackward = Fast.batchNormTrainingBackward(t.x, weight: t.weight, outputGradient: t.dy, shape: shape,
                                                              epsilon: 1e-5)
            #expect(relativeError(fastBackward.input, floats(referenceBackward.input)) < 1e-5, "\(shape)")
            #expect(relativeError(fastBackward.weight, floats(referenceBackward.weight)) < 1e-5, "\(shape)")
            #expect(relativeError(fastBackward.bias, floats(referenceBackward.bias)) < 1e-5, "\(shape)")
        }
    }

    @Test("fused batch norm + residual + ReLU equals the three naive kernels in turn, forward and backward",
          arguments: [false, true])
    func fusedEqualsNaive(relu: Bool) {
        // The shapes above, and one large enough to run on several threads, with 3 x 3 planes.
        let shapes = Self.shapes + [FeatureMapShape(batch: 5, channels: 8, height: 32, width: 33),
                                    FeatureMapShape(batch: 9, channels: 3, height: 3, width: 3)]
        for (i, shape) in shapes.enumerated() {
            for withResidual in [false, true] {
                let t = BatchNormCase(shape, seed: UInt64(500 + 10 * i))
                let r: [Float] = randomArray(shape.count, seed: UInt64(600 + i))
                let bn = Naive.batchNormTraining(t.doubles(t.x), weight: t.doubles(t.weight), bias: t.doubles(t.bias),
                                                 shape: shape, epsilon: 1e-5)
                let sum = withResidual ? Naive.add(bn.output, t.doubles(r)) : bn.output
                let y = relu ? Naive.relu(sum) : sum
                let fast = Fast.batchNormTraining(t.x, weight: t.weight, bias: t.bias, shape: shape, epsilon: 1e-5,
                                                  residual: withResidual ? r : nil, relu: relu)
                let label = "\(shape), residual \(withResidual), relu \(relu)"
                #expect(relativeError(fast.output, floats(y)) < 1e-5, "\(label)")
                #expect(relativeError(fast.mean, floats(bn.mean)) < 1e-6, "\(label)")
                #expect(relativeError(fast.variance, floats(bn.variance)) < 1e-5, "\(label)")
                // Backward: the ReLU's gradient (at the sum), then batch norm's; the residual gets the former.
                let g = relu ? Naive.reluBackward(sum, outputGradient: t.doubles(t.dy)) : t.doubles(t.dy)
                let reference = Naive.batchNormTrainingBackward(t.doubles(t.x), weight: t.doubles(t.weight),
                                                                outputGradient: g, shape: shape, epsilon: 1e-5)
                for wantsResidual in [false, true] {
                    let back = Fast.batchNormTrainingBackward(t.x, weight: t.weight, mean: fast.mean, variance: fast.variance,
                                                              output: relu ? fast.output : nil, outputGradient: t.dy,
                                                              shape: shape, epsilon: 1e-5, residualGradient: wantsResidual)
                    #expect(relativeError(back.input, floats(reference.input)) < 1e-5, "\(label)")
                    #expect(relativeError(back.weight, floats(reference.weight)) < 1e-5, "\(label)")
                    #expect(relativeError(back.bias, floats(reference.bias)) < 1e-5, "\(label)")
                    #expect(back.residual.map { relativeError($0, floats(g)) < 1e-7 } ?? !wantsResidual, "\(label)")
                }
            }
        }
    }

    @Test("one-pass batch statistics keep their digits when the mean is ten thousand standard deviations from 0")
    func statisticsFarFromZero() {
        let shape = FeatureMapShape(batch: 6, channels: 2, height: 7, width: 9)
        let x: [Float] = randomArray(shape.count, seed: 700).map { 1e4 + $0 }
        let ones = [Float](repeating: 1, count: 2), zeros = [Float](repeating: 0, count: 2)
        let reference = Naive.batchNormTraining(x.map(Double.init), weight: [1, 1], bias: [0, 0], shape: shape, epsilon: 0)
        let fast = Fast.batchNormTraining(x, weight: ones, bias: zeros, shape: shape, epsilon: 0)
        #expect(relativeError(fast.variance, floats(reference.variance)) < 1e-4)
        #expect(relativeError(fast.mean, floats(reference.mean)) < 3e-7)
    }

    @Test("fast inference batch norm equals naive, forward and backward")
    func inferenceFastEqualsNaive() {
        for (i, shape) in Self.shapes.enumerated() {
            let t = BatchNormCase(shape, seed: UInt64(100 + 10 * i))
            let reference = Naive.batchNormInference(t.doubles(t.x), weight: t.doubles(t.weight), bias: t.doubles(t.bias),
                                                     runningMean: t.doubles(t.runningMean),
                                                     runningVariance: t.doubles(t.runningVariance), shape: shape, epsilon: 1e-3)
            let fast = Fast.batchNormInference(t.x, weight: t.weight, bias: t.bias, runningMean: t.runningMean,
                                               runningVariance: t.runningVariance, shape: shape, epsilon: 1e-3)
            #expect(relativeError(fast, floats(reference)) < 1e-5, "\(shape)")
            let referenceBackward = Naive.batchNormInferenceBackward(t.doubles(t.x), weight: t.doubles(t.weight),
                                                                     runningMean: t.doubles(t.runningMean),
                                                                     runningVariance: t.doubles(t.runningVariance),
                                                                     outputGradient: t.doubles(t.dy), shape: shape, epsilon: 1e-3)
            let fastBackward = Fast.batchNormInferenceBackward(t.x, weight: t.weight, runningMean: t.runningMean,
                                                               runningVariance: t.runningVariance, outputGradient: t.dy,
                                                               shape: shape, epsilon: 1e-3)
            #expect(relativeError(fastBackward.input, floats(referenceBackward.input)) < 1e-5, "\(shape)")
            #expect(relativeError(fastBackward.weight, floats(referenceBackward.weight)) < 1e-5, "\(shape)")
            #expect(relativeError(fastBackward.bias, floats(referenceBackward.bias)) < 1e-5, "\(shape)")
        }
    }

    @Test("naive training batch norm backward equals finite differences through the batch statistics")
    func trainingGradient() {
        for (i, shape) in [FeatureMapShape(batch: 2, channels: 3, height: 2, width: 3),
                           FeatureMapShape(batch: 1, channels: 2, height: 3, width: 3),
                           FeatureMapShape(batch: 5, channels: 2, height: 1, width: 1)].enumerated() {
            let t = BatchNormCase(shape, seed: UInt64(200 + 10 * i))
            let (x, w, b, dy) = (t.doubles(t.x), t.doubles(t.weight), t.doubles(t.bias), t.doubles(t.dy))
            let analytic = Naive.batchNormTrainingBackward(x, weight: w, outputGradient: dy, shape: shape, epsilon: 1e-5)
            let dx = numericalGradient(of: { dot(Naive.batchNormTraining($0, weight: w, bias: b, shape: shape, epsilon: 1e-5).output, dy) }, at: x)
            let dw = numericalGradient(of: { dot(Naive.batchNormTraining(x, weight: $0, bias: b, shape: shape, epsilon: 1e-5).output, dy) }, at: w)
            let db = numericalGradient(of: { dot(Naive.batchNormTraining(x, weight: w, bias: $0, shape: shape, epsilon: 1e-5).output, dy) }, at: b)
            #expect(relativeError(analytic.input, dx) < 1e-6, "\(shape)")
            #expect(relativeError(analytic.weight, dw) < 1e-6, "\(shape)")
            #expect(relativeError(analytic.bias, db) < 1e-6, "\(shape)")
        }
    }

    @Test("naive inference batch norm backward equals finite differences")
    func inferenceGradient() {
        let shape = FeatureMapShape(batch: 2, channels: 3, height: 2, width: 3)
        let t = BatchNormCase(shape, seed: 300)
        let (x, w, b, dy) = (t.doubles(t.x), t.doubles(t.weight), t.doubles(t.bias), t.doubles(t.dy))
        let (m, v) = (t.doubles(t.runningMean), t.doubles(t.runningVariance))
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            dot(Naive.batchNormInference(x, weight: w, bias: b, runningMean: m, runningVariance: v, shape: shape, epsilon: 1e-3), dy)
        }
        let analytic = Naive.batchNormInferenceBackward(x, weight: w, runningMean: m, runningVariance: v, outputGradient: dy,
                                                        shape: shape, epsilon: 1e-3)
        #expect(relativeError(analytic.input, numericalGradient(of: { loss($0, w, b) }, at: x)) < 1e-6)
        #expect(relativeError(analytic.weight, numericalGradient(of: { loss(x, $0, b) }, at: w)) < 1e-6)
        #expect(relativeError(analytic.bias, numericalGradient(of: { loss(x, w, $0) }, at: b)) < 1e-6)
    }

    @Test("before the affine step, training batch norm gives every channel mean 0 and variance 1")
    func standardises() {
        let shape = FeatureMapShape(batch: 3, channels: 4, height: 6, width: 5)
        let t = BatchNormCase(shape, seed: 400)
        let ones = [Float](repeating: 1, count: 4), zeros = [Float](repeating: 0, count: 4)
        for result in [Naive.batchNormTraining(t.x, weight: ones, bias: zeros, shape: shape, epsilon: 0),
                       Fast.batchNormTraining(t.x, weight: ones, bias: zeros, shape: shape, epsilon: 0)] {
            for c in 0..<4 {
                var values: [Double] = []
                for n in 0..<3 {
                    let start = (n * 4 + c) * 30
                    values += result.output[start..<(start + 30)].map(Double.init)
                }
                let mean = values.reduce(0, +) / 90
                var variance = 0.0
                for v in values { variance += (v - mean) * (v - mean) / 90 }
                #expect(abs(mean) < 1e-5)
                #expect(abs(variance - 1) < 1e-4)
            }
        }
    }

    @Test("the returned statistics are the batch mean and the biased (divide by M) variance")
    func statistics() {
        let shape = FeatureMapShape(batch: 2, channels: 1, height: 1, width: 2)
        let x: [Float] = [1, 2, 3, 6]                                   // mean 3, biased variance 3.5
        for result in [Naive.batchNormTraining(x, weight: [1], bias: [0], shape: shape, epsilon: 0),
                       Fast.batchNormTraining(x, weight: [1], bias: [0], shape: shape, epsilon: 0)] {
            #expect(result.mean == [3])
            #expect(abs(result.variance[0] - 3.5) < 1e-6)
        }
    }

    @Test("inference with the batch's own statistics as running statistics reproduces training mode")
    func inferenceMatchesTraining() {
        let shape = FeatureMapShape(batch: 2, channels: 3, height: 4, width: 5)
        let t = BatchNormCase(shape, seed: 500)
        let training = Fast.batchNormTraining(t.x, weight: t.weight, bias: t.bias, shape: shape, epsilon: 1e-5)
        let inference = Fast.batchNormInference(t.x, weight: t.weight, bias: t.bias, runningMean: training.mean,
                                                runningVariance: training.variance, shape: shape, epsilon: 1e-5)
        #expect(relativeError(inference, training.output) < 1e-5)
    }
}
