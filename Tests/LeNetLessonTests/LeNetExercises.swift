import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import LeNetLesson

// The graders of Lessons/LeNet/Exercises.swift. Each grader returns the problems it found
// (empty: the answer is right); the tests below expect none from the learner's functions,
// and expect some from a typical wrong answer, so no grader can pass anything.

typealias ForwardAnswer = ([Double], [Double], [Double], ValidConvolutionShape) -> [Double]
typealias InputGradientAnswer = ([Double], [Double], ValidConvolutionShape) -> [Double]
typealias PoolingAnswer = ([Double], FeatureMapShape) -> [Double]

enum LeNetGraders {
    /// Shapes the graders try: LeNet's own layers and odd ones (non-square, 1x1 filters, one output).
    static let shapes: [ValidConvolutionShape] = [
        ValidConvolutionShape(input: FeatureMapShape(batch: 2, channels: 1, height: 8, width: 8), filters: 3, kernel: 5),
        ValidConvolutionShape(input: FeatureMapShape(batch: 1, channels: 3, height: 7, width: 9), filters: 2, kernel: 3),
        ValidConvolutionShape(input: FeatureMapShape(batch: 3, channels: 2, height: 5, width: 6), filters: 4, kernel: 1),
        ValidConvolutionShape(input: FeatureMapShape(batch: 1, channels: 2, height: 4, width: 4), filters: 1, kernel: 4),
    ]

    static func data(_ count: Int, _ seed: UInt64) -> [Double] { randomArray(count, seed: seed) }

    static func forward(_ answer: ForwardAnswer) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: a flipped filter (w[o, c, f-1-u, f-1-v]: PyTorch does not flip), x read at [i, j] instead of [i + u, j + v], the bias left out, channel and row strides mixed up."
        for (k, s) in shapes.enumerated() {
            let x = data(s.input.count, 10 + UInt64(k)), w = data(s.weightCount, 20 + UInt64(k)), b = data(s.filters, 30 + UInt64(k))
            let expected = Naive.validConvolution(x, weight: w, bias: b, shape: s)
            if let p = Grading.check("convolutionForward", on: "\(s)", got: answer(x, w, b, s), expected: expected,
                                     shape: s.output.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        // PyTorch's own numbers: LeNet's C1 (fixture conv_5x5_valid).
        let x = try Grading.fixture("conv_5x5_valid.inputs.x"), w = try Grading.fixture("conv_5x5_valid.inputs.weight")
        let b = try Grading.fixture("conv_5x5_valid.inputs.bias"), y = try Grading.fixture("conv_5x5_valid.outputs.y")
        let s = ValidConvolutionShape(input: FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3]),
                                      filters: w.shape[0], kernel: w.shape[2])
        if let p = Grading.check("convolutionForward", on: "PyTorch's fixture conv_5x5_valid", got: answer(x.values, w.values, b.values, s),
                                 expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }

    static func inputGradient(_ answer: InputGradientAnswer) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: dx[...] = instead of += (each input feeds up to f*f outputs of every filter), the filter not turned when written as a full convolution, dy indexed with the input's sizes."
        for (k, s) in shapes.enumerated() {
            let x = data(s.input.count, 40 + UInt64(k)), w = data(s.weightCount, 50 + UInt64(k)), dy = data(s.output.count, 60 + UInt64(k))
            let expected = Naive.validConvolutionBackward(x, weight: w, outputGradient: dy, shape: s).input
            if let p = Grading.check("convolutionInputGradient", on: "\(s)", got: answer(w, dy, s), expected: expected,
                                     shape: s.input.dimensions, usualMistakes: mistakes) { problems.append(p) }
            if k == 1 {   // the gradient of sum(y * dy) by central differences, on one small shape
                let numeric = numericalGradient(of: { x in dot(Naive.validConvolution(x, weight: w, bias: nil, shape: s), dy) }, at: x)
                if let p = Grading.check("convolutionInputGradient", on: "\(s), against finite differences", got: answer(w, dy, s),
                                         expected: numeric, shape: s.input.dimensions, tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
            }
        }
        let w = try Grading.fixture("conv_5x5_valid.inputs.weight"), dy = try Grading.fixture("conv_5x5_valid.inputs.dy")
        let x = try Grading.fixture("conv_5x5_valid.inputs.x"), dx = try Grading.fixture("conv_5x5_valid.grads.x")
        let s = ValidConvolutionShape(input: FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3]),
                                      filters: w.shape[0], kernel: w.shape[2])
        if let p = Grading.check("convolutionInputGradient", on: "PyTorch's fixture conv_5x5_valid", got: answer(w.values, dy.values, s),
                                 expected: dx.values, shape: dx.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }

    static func poolingBackward(_ answer: PoolingAnswer) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the divisor (each of the 4 inputs gets dy / 4, not dy or dy / 2), the window at [i + u, j + v] instead of [2i + u, 2j + v], an odd last row or column given a gradient (it is in no window)."
        for (k, s) in [FeatureMapShape(batch: 2, channels: 3, height: 6, width: 8), FeatureMapShape(batch: 1, channels: 2, height: 7, width: 5),
                       FeatureMapShape(batch: 3, channels: 1, height: 2, width: 2)].enumerated() {
            let dy = data(s.batch * s.channels * (s.height / 2) * (s.width / 2), 70 + UInt64(k))
            let expected = Naive.averagePooling2x2Backward(outputGradient: dy, shape: s)
            if let p = Grading.check("averagePoolingBackward", on: "input \(s)", got: answer(dy, s), expected: expected,
                                     shape: s.dimensions, usualMistakes: mistakes) { problems.append(p) }
            if k == 1 {
                let x = data(s.count, 80)
                let numeric = numericalGradient(of: { x in dot(Naive.averagePooling2x2(x, shape: s), dy) }, at: x)
                if let p = Grading.check("averagePoolingBackward", on: "input \(s), against finite differences", got: answer(dy, s),
                                         expected: numeric, shape: s.dimensions, tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
            }
        }
        let x = try Grading.fixture("avgpool_2x2_s2.inputs.x"), dy = try Grading.fixture("avgpool_2x2_s2.inputs.dy")
        let dx = try Grading.fixture("avgpool_2x2_s2.grads.x")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("averagePoolingBackward", on: "PyTorch's fixture avgpool_2x2_s2", got: answer(dy.values, s),
                                 expected: dx.values, shape: dx.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }
}

@Suite("LeNet exercises")
struct LeNetExercises {
    @Test("exercise 1: convolutionForward computes PyTorch's valid convolution")
    func forward() throws {
        let problems = try LeNetGraders.forward { convolutionForward($0, weight: $1, bias: $2, shape: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "convolutionForward"))")
    }

    @Test("exercise 2: convolutionInputGradient computes dL/dx")
    func inputGradient() throws {
        let problems = try LeNetGraders.inputGradient { convolutionInputGradient(weight: $0, outputGradient: $1, shape: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "convolutionInputGradient"))")
    }

    @Test("exercise 3: averagePoolingBackward spreads each gradient over its window")
    func poolingBackward() throws {
        let problems = try LeNetGraders.poolingBackward { averagePoolingBackward(outputGradient: $0, shape: $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "averagePoolingBackward"))")
    }
}

@Suite("LeNet graders refuse wrong answers")
struct LeNetGradersRefuseWrongAnswers {
    @Test("a flipped filter fails the forward grader, naming the mistake")
    func flippedFilter() throws {
        let problems = try LeNetGraders.forward { x, w, b, s in
            let f = s.kernel, nC = s.input.channels
            var flipped = w
            for o in 0..<s.filters { for c in 0..<nC { for u in 0..<f { for v in 0..<f {
                flipped[((o * nC + c) * f + u) * f + v] = w[((o * nC + c) * f + f - 1 - u) * f + f - 1 - v]
            } } } }
            return Naive.validConvolution(x, weight: flipped, bias: b, shape: s)
        }
        #expect(!problems.isEmpty)
        #expect(problems.first?.contains("flipped filter") == true && problems.first?.contains("element [") == true)
    }

    @Test("an input gradient that assigns instead of adding fails its grader")
    func assignedGradient() throws {
        let problems = try LeNetGraders.inputGradient { w, dy, s in
            var dx = [Double](repeating: 0, count: s.input.count)
            let (nC, nH, nW, f) = (s.input.channels, s.input.height, s.input.width, s.kernel)
            for n in 0..<s.input.batch { for o in 0..<s.filters { for i in 0..<s.outHeight { for j in 0..<s.outWidth {
                let g = dy[((n * s.filters + o) * s.outHeight + i) * s.outWidth + j]
                for c in 0..<nC { for u in 0..<f { for v in 0..<f {
                    dx[((n * nC + c) * nH + i + u) * nW + j + v] = w[((o * nC + c) * f + u) * f + v] * g
                } } }
            } } } }
            return dx
        }
        #expect(!problems.isEmpty)
    }

    @Test("a pooling backward that divides by 2 fails its grader; so does an unwritten stub")
    func wrongDivisor() throws {
        let half = try LeNetGraders.poolingBackward { dy, s in Naive.averagePooling2x2Backward(outputGradient: dy, shape: s).map { $0 * 2 } }
        #expect(!half.isEmpty && half.first?.contains("divisor") == true)
        let stub = try LeNetGraders.poolingBackward { _, _ in Exercise.notWritten("averagePoolingBackward-test"); return [] }
        #expect(!stub.isEmpty && stub.first?.contains("returned 0 values") == true)
    }
}
