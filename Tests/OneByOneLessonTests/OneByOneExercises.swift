import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import OneByOneLesson

// The graders of Lessons/OneByOne/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum OneByOneGraders {
    /// Odd shapes on purpose: more output than input channels, one row, a batch of three.
    static let shapes: [(FeatureMapShape, Int)] = [
        (FeatureMapShape(batch: 2, channels: 3, height: 5, width: 4), 4),
        (FeatureMapShape(batch: 3, channels: 6, height: 1, width: 7), 2),
        (FeatureMapShape(batch: 1, channels: 1, height: 3, width: 3), 5),
    ]

    static func forward(_ answer: ([Double], [Double], [Double], FeatureMapShape, Int) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: W indexed [c, o] instead of [o, c], the bias left out (or added once per channel c), x read at the pixel of another channel plane (x[n, c, i, j] is at ((n * C + c) * H + i) * W + j)."
        for (k, (s, out)) in shapes.enumerated() {
            let x: [Double] = randomArray(s.count, seed: 60 + UInt64(k)), w: [Double] = randomArray(out * s.channels, seed: 70 + UInt64(k))
            let b: [Double] = randomArray(out, seed: 80 + UInt64(k))
            let g = Conv2DGeometry(input: s, outChannels: out, kernel: 1)
            let expected = Naive.conv2d(x, weight: w, bias: b, geometry: g)
            if let p = Grading.check("pointwiseConvolution", on: "input \(s), \(out) filters, with bias", got: answer(x, w, b, s, out),
                                     expected: expected, shape: g.outputShape.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        // PyTorch's own numbers: the 1x1 convolution of Fixtures/ops-public (no bias).
        let x = try Grading.fixture("conv_1x1_nobias.inputs.x"), w = try Grading.fixture("conv_1x1_nobias.inputs.weight")
        let y = try Grading.fixture("conv_1x1_nobias.outputs.y")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("pointwiseConvolution", on: "PyTorch's fixture conv_1x1_nobias (bias empty)", got: answer(x.values, w.values, [], s, w.shape[0]),
                                 expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }

    static func weightGradient(_ answer: ([Double], [Double], FeatureMapShape, Int) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the sum over the batch left out (every image adds to the same dW), dy and x read at different pixels, the result laid out [c, o] instead of [o, c]."
        for (k, (s, out)) in shapes.enumerated() {
            let x: [Double] = randomArray(s.count, seed: 90 + UInt64(k))
            let g = Conv2DGeometry(input: s, outChannels: out, kernel: 1)
            let dy: [Double] = randomArray(g.outputShape.count, seed: 100 + UInt64(k))
            let expected = Naive.conv2dBackward(x, weight: [Double](repeating: 0, count: g.weightCount), outputGradient: dy, geometry: g).weight
            if let p = Grading.check("pointwiseWeightGradient", on: "input \(s), \(out) filters", got: answer(x, dy, s, out),
                                     expected: expected, shape: [out, s.channels], usualMistakes: mistakes) { problems.append(p) }
        }
        // Finite differences: dW is the derivative of L = sum(y * dy) with respect to W.
        let (s, out) = shapes[0]
        let x: [Double] = randomArray(s.count, seed: 110), dy: [Double] = randomArray(s.batch * out * s.height * s.width, seed: 111)
        let w: [Double] = randomArray(out * s.channels, seed: 112)
        let g = Conv2DGeometry(input: s, outChannels: out, kernel: 1)
        let numeric = numericalGradient(of: { dot(Naive.conv2d(x, weight: $0, bias: nil, geometry: g), dy) }, at: w)
        if let p = Grading.check("pointwiseWeightGradient", on: "finite differences of sum(y * dy), input \(s)", got: answer(x, dy, s, out),
                                 expected: numeric, shape: [out, s.channels], tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
        // PyTorch's gradient of the same fixture.
        let fx = try Grading.fixture("conv_1x1_nobias.inputs.x"), fdy = try Grading.fixture("conv_1x1_nobias.inputs.dy")
        let fdw = try Grading.fixture("conv_1x1_nobias.grads.weight")
        let fs = FeatureMapShape(batch: fx.shape[0], channels: fx.shape[1], height: fx.shape[2], width: fx.shape[3])
        if let p = Grading.check("pointwiseWeightGradient", on: "PyTorch's fixture conv_1x1_nobias", got: answer(fx.values, fdy.values, fs, fdw.shape[0]),
                                 expected: fdw.values, shape: fdw.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }

    /// Against the course's two numbers and the core's own counts (`Conv2DGeometry.macs`).
    static func multiplies(_ answer: (Int, Int, Int, Int, Int, Int) -> (direct: Int, withBottleneck: Int)) -> [String] {
        var problems: [String] = []
        let course = answer(28, 28, 192, 16, 32, 5)
        if course.direct != 120_422_400 || course.withBottleneck != 12_443_648 {
            problems.append("bottleneckMultiplies(28, 28, 192 -> 16 -> 32, 5x5) gave \(course), the course counts (120,422,400, 12,443,648): "
                            + "both paths count n_H * n_W * n_C' outputs, each k * k * n_C multiplies; the bottleneck path adds the 1x1 layer's own cost")
        }
        for (h, w, c, r, o, k) in [(14, 14, 480, 16, 48, 5), (7, 9, 64, 8, 24, 3), (5, 5, 10, 3, 7, 1)] {
            let s = FeatureMapShape(batch: 1, channels: c, height: h, width: w)
            let direct = Conv2DGeometry(input: s, outChannels: o, kernel: k, padding: k / 2).macs
            let reduce = Conv2DGeometry(input: s, outChannels: r, kernel: 1).macs
            let spatial = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: r, height: h, width: w), outChannels: o, kernel: k, padding: k / 2).macs
            let got = answer(h, w, c, r, o, k)
            if got.direct != direct || got.withBottleneck != reduce + spatial {
                problems.append("bottleneckMultiplies(\(h)x\(w), \(c) -> \(r) -> \(o), \(k)x\(k)) gave \(got), the core counts (\(direct), \(reduce + spatial)) "
                                + "(direct: \(h)*\(w)*\(o)*\(k)*\(k)*\(c); bottleneck: \(h)*\(w)*\(r)*\(c) + \(h)*\(w)*\(o)*\(k)*\(k)*\(r))")
            }
        }
        return problems
    }
}

@Suite("OneByOne exercises")
struct OneByOneExercises {
    @Test("exercise 1: pointwiseConvolution is a fully connected layer at every pixel")
    func forward() throws {
        let problems = try OneByOneGraders.forward { pointwiseConvolution($0, weight: $1, bias: $2, shape: $3, outChannels: $4) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "pointwiseConvolution"))")
    }

    @Test("exercise 2: pointwiseWeightGradient sums dy * x over every pixel of every image")
    func weightGradient() throws {
        let problems = try OneByOneGraders.weightGradient { pointwiseWeightGradient($0, outputGradient: $1, shape: $2, outChannels: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "pointwiseWeightGradient"))")
    }

    @Test("exercise 3: bottleneckMultiplies counts 120,422,400 against 12,443,648")
    func multiplies() {
        let problems = OneByOneGraders.multiplies { bottleneckMultiplies(height: $0, width: $1, inChannels: $2, bottleneck: $3, outChannels: $4, kernel: $5) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "bottleneckMultiplies"))")
    }
}

@Suite("OneByOne graders refuse wrong answers")
struct OneByOneGradersRefuseWrongAnswers {
    @Test("filters read as W[c, o] fail the forward grader")
    func transposedWeights() throws {
        let problems = try OneByOneGraders.forward { x, w, b, s, out in
            let transposed = (0..<out * s.channels).map { i in w[(i % s.channels) * out + i / s.channels] }
            return Naive.conv2d(x, weight: transposed, bias: b.isEmpty ? nil : b, geometry: Conv2DGeometry(input: s, outChannels: out, kernel: 1))
        }
        #expect(!problems.isEmpty && problems.first?.contains("W indexed [c, o]") == true)
    }

    @Test("a weight gradient of the first image only fails its grader")
    func firstImageOnly() throws {
        let problems = try OneByOneGraders.weightGradient { x, dy, s, out in
            let one = FeatureMapShape(batch: 1, channels: s.channels, height: s.height, width: s.width)
            let g = Conv2DGeometry(input: one, outChannels: out, kernel: 1)
            return Naive.conv2dBackward(Array(x[..<one.count]), weight: [Double](repeating: 0, count: g.weightCount),
                                        outputGradient: Array(dy[..<(out * s.height * s.width)]), geometry: g).weight
        }
        #expect(!problems.isEmpty)
    }

    @Test("a bottleneck count without the 1x1 layer's cost fails its grader")
    func bottleneckCostForgotten() {
        let problems = OneByOneGraders.multiplies { h, w, c, r, o, k in (h * w * o * k * k * c, h * w * o * k * k * r) }
        #expect(!problems.isEmpty)
    }
}
