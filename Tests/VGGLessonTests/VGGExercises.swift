import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import VGGLesson

// The graders of Lessons/VGG/Exercises.swift: each returns the problems it found; the
// tests expect none from the learner's functions and some from typical wrong answers.

enum VGGGraders {
    static func sameConvolution(_ answer: ([Double], [Double], [Double], FeatureMapShape, Int) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the padding left out or done by clamping to the edge (outside the image counts as 0), x read at [i + u] instead of [i + u - 1], a flipped filter, the bias left out."
        for (k, (s, out)) in [(FeatureMapShape(batch: 2, channels: 3, height: 5, width: 5), 4),
                              (FeatureMapShape(batch: 1, channels: 2, height: 4, width: 7), 3),
                              (FeatureMapShape(batch: 1, channels: 1, height: 1, width: 3), 2)].enumerated() {
            let x: [Double] = randomArray(s.count, seed: 60 + UInt64(k)), w: [Double] = randomArray(out * s.channels * 9, seed: 61 + UInt64(k))
            let b: [Double] = randomArray(out, seed: 62 + UInt64(k))
            let g = Conv2DGeometry(input: s, outChannels: out, kernel: 3, stride: 1, padding: 1)
            if let p = Grading.check("sameConvolution3x3", on: "input \(s), \(out) filters", got: answer(x, w, b, s, out),
                                     expected: Naive.conv2d(x, weight: w, bias: b, geometry: g), shape: g.outputShape.dimensions,
                                     usualMistakes: mistakes) { problems.append(p) }
        }
        let x = try Grading.fixture("conv_3x3_s1_p1.inputs.x"), w = try Grading.fixture("conv_3x3_s1_p1.inputs.weight")
        let b = try Grading.fixture("conv_3x3_s1_p1.inputs.bias"), y = try Grading.fixture("conv_3x3_s1_p1.outputs.y")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("sameConvolution3x3", on: "PyTorch's fixture conv_3x3_s1_p1", got: answer(x.values, w.values, b.values, s, w.shape[0]),
                                 expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }

    static func maxPoolBackward(_ answer: ([Double], [Double], FeatureMapShape) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the gradient spread over the whole window (that is average pooling), sent to the smallest value, or written with = where windows could share (they do not here, but += is the rule); an odd last row or column given a gradient."
        for (k, s) in [FeatureMapShape(batch: 2, channels: 3, height: 4, width: 6), FeatureMapShape(batch: 1, channels: 2, height: 5, width: 7)].enumerated() {
            let x: [Double] = randomArray(s.count, seed: 70 + UInt64(k))
            let g = Pool2DGeometry(input: s, kernel: 2, stride: 2)
            let dy: [Double] = randomArray(g.outputShape.count, seed: 71 + UInt64(k))
            if let p = Grading.check("maxPoolBackward", on: "input \(s)", got: answer(x, dy, s), expected: Naive.maxPool2dBackward(x, outputGradient: dy, geometry: g),
                                     shape: s.dimensions, usualMistakes: mistakes) { problems.append(p) }
            if k == 1 {   // finite differences: distinct random values, so the maximum does not move under a small step
                let numeric = numericalGradient(of: { x in dot(Naive.maxPool2d(x, geometry: g), dy) }, at: x)
                if let p = Grading.check("maxPoolBackward", on: "input \(s), against finite differences", got: answer(x, dy, s),
                                         expected: numeric, shape: s.dimensions, tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
            }
        }
        let x = try Grading.fixture("maxpool_2x2_s2.inputs.x"), dy = try Grading.fixture("maxpool_2x2_s2.inputs.dy")
        let dx = try Grading.fixture("maxpool_2x2_s2.grads.x")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("maxPoolBackward", on: "PyTorch's fixture maxpool_2x2_s2", got: answer(x.values, dy.values, s),
                                 expected: dx.values, shape: dx.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }
}

@Suite("VGG exercises")
struct VGGExercises {
    @Test("exercise 1: sameConvolution3x3 keeps n_H and n_W with zero padding 1")
    func convolution() throws {
        let problems = try VGGGraders.sameConvolution { sameConvolution3x3($0, weight: $1, bias: $2, shape: $3, outChannels: $4) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "sameConvolution3x3"))")
    }

    @Test("exercise 2: maxPoolBackward sends each gradient to its window's largest value")
    func poolBackward() throws {
        let problems = try VGGGraders.maxPoolBackward { maxPoolBackward($0, outputGradient: $1, shape: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "maxPoolBackward"))")
    }
}

@Suite("VGG graders refuse wrong answers")
struct VGGGradersRefuseWrongAnswers {
    @Test("padding by clamping to the edge fails the convolution grader")
    func clamped() throws {
        let problems = try VGGGraders.sameConvolution { x, w, b, s, out in
            var y = [Double](repeating: 0, count: s.batch * out * s.height * s.width)
            for n in 0..<s.batch { for o in 0..<out { for i in 0..<s.height { for j in 0..<s.width {
                var z = b[o]
                for c in 0..<s.channels { for u in 0..<3 { for v in 0..<3 {
                    let row = min(max(i + u - 1, 0), s.height - 1), column = min(max(j + v - 1, 0), s.width - 1)
                    z += w[((o * s.channels + c) * 3 + u) * 3 + v] * x[((n * s.channels + c) * s.height + row) * s.width + column]
                } } }
                y[((n * out + o) * s.height + i) * s.width + j] = z
            } } } }
            return y
        }
        #expect(!problems.isEmpty && problems.first?.contains("clamping") == true)
    }

    @Test("spreading the gradient over the window (average pooling's backward) fails the max-pool grader")
    func averaged() throws {
        let problems = try VGGGraders.maxPoolBackward { _, dy, s in
            Naive.avgPool2dBackward(outputGradient: dy, geometry: Pool2DGeometry(input: s, kernel: 2, stride: 2), countIncludePad: true)
        }
        #expect(!problems.isEmpty)
    }
}
