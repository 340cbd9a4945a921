import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import ResNeXtLesson

// The graders of Lessons/ResNeXt/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum ResNeXtGraders {
    typealias Convolution = ([Double], [Double], FeatureMapShape, Int, Int, Int, Int) -> [Double]

    /// Input shape, output channels, groups, kernel, padding: 2 and 3 groups, a depthwise
    /// convolution, one group (an ordinary convolution), more filters than inputs per group.
    static let cases: [(FeatureMapShape, Int, Int, Int, Int)] = [
        (FeatureMapShape(batch: 2, channels: 4, height: 5, width: 5), 6, 2, 3, 1),
        (FeatureMapShape(batch: 1, channels: 6, height: 4, width: 7), 3, 3, 3, 0),
        (FeatureMapShape(batch: 2, channels: 3, height: 6, width: 4), 3, 3, 3, 1),
        (FeatureMapShape(batch: 1, channels: 2, height: 5, width: 3), 4, 1, 2, 1),
    ]

    static func geometry(_ s: FeatureMapShape, _ out: Int, _ groups: Int, _ k: Int, _ p: Int) -> Conv2DGeometry {
        Conv2DGeometry(input: s, outChannels: out, kernel: k, padding: p, groups: groups)
    }

    /// PyTorch's grouped (4 groups) and depthwise (6 groups) 3x3 convolutions, padding 1.
    static func fixtures() throws -> [(name: String, x: [Double], w: [Double], dy: [Double], y: [Double], dx: [Double], shape: FeatureMapShape, out: Int, groups: Int, outShape: [Int])] {
        try [("conv_grouped_g4", 4), ("conv_depthwise", 6)].map { name, groups in
            let x = try Grading.fixture("\(name).inputs.x"), w = try Grading.fixture("\(name).inputs.weight")
            let dy = try Grading.fixture("\(name).inputs.dy"), y = try Grading.fixture("\(name).outputs.y")
            let dx = try Grading.fixture("\(name).grads.x")
            let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
            return (name, x.values, w.values, dy.values, y.values, dx.values, s, w.shape[0], groups, y.shape)
        }
    }

    static func forward(_ answer: Convolution) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: every filter reading input channels 0..<C/groups (the group's offset g * C/groups left out), the weight indexed with the global input channel instead of the local c, the group of filter o taken as o % groups instead of o / (C'/groups), the padding clamped instead of skipped."
        for (k, (s, out, groups, kernel, padding)) in cases.enumerated() {
            let g = geometry(s, out, groups, kernel, padding)
            let x: [Double] = randomArray(s.count, seed: 700 + UInt64(k)), w: [Double] = randomArray(g.weightCount, seed: 710 + UInt64(k))
            let expected = Naive.conv2d(x, weight: w, bias: nil, geometry: g)
            if let p = Grading.check("groupedConvolution", on: "input \(s), \(out) filters, \(groups) groups, \(kernel)x\(kernel), padding \(padding)",
                                     got: answer(x, w, s, out, groups, kernel, padding), expected: expected,
                                     shape: g.outputShape.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        for f in try fixtures() {
            // The fixture with a bias: PyTorch's y minus it is the convolution without one.
            var y = f.y
            if f.name == "conv_grouped_g4" {
                let b = try Grading.fixture("conv_grouped_g4.inputs.bias").values
                let plane = f.outShape[2] * f.outShape[3]
                for i in y.indices { y[i] -= b[(i / plane) % f.out] }
            }
            if let p = Grading.check("groupedConvolution", on: "PyTorch's fixture \(f.name) (\(f.groups) groups)",
                                     got: answer(f.x, f.w, f.shape, f.out, f.groups, 3, 1), expected: y,
                                     shape: f.outShape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        }
        return problems
    }

    static func inputGradient(_ answer: Convolution) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the gradient scattered to input channels of the wrong group (offset g * C/groups), the kernel not turned (dx gathers w[o, c, u, v] from y[i - u + p, j - v + p]), gradient sent to padding positions or lost at the border."
        for (k, (s, out, groups, kernel, padding)) in cases.enumerated() {
            let g = geometry(s, out, groups, kernel, padding)
            let w: [Double] = randomArray(g.weightCount, seed: 720 + UInt64(k)), dy: [Double] = randomArray(g.outputShape.count, seed: 730 + UInt64(k))
            let expected = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
            if let p = Grading.check("groupedConvolutionInputGradient", on: "input \(s), \(out) filters, \(groups) groups, \(kernel)x\(kernel), padding \(padding)",
                                     got: answer(dy, w, s, out, groups, kernel, padding), expected: expected,
                                     shape: s.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        // Finite differences of L = sum(conv(x) * dy) with respect to x, in Double.
        let (s, out, groups, kernel, padding) = cases[0]
        let g = geometry(s, out, groups, kernel, padding)
        let x: [Double] = randomArray(s.count, seed: 740), w: [Double] = randomArray(g.weightCount, seed: 741)
        let dy: [Double] = randomArray(g.outputShape.count, seed: 742)
        let numeric = numericalGradient(of: { dot(Naive.conv2d($0, weight: w, bias: nil, geometry: g), dy) }, at: x)
        if let p = Grading.check("groupedConvolutionInputGradient", on: "finite differences of sum(y * dy), input \(s), \(groups) groups",
                                 got: answer(dy, w, s, out, groups, kernel, padding), expected: numeric, shape: s.dimensions,
                                 tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
        for f in try fixtures() {
            if let p = Grading.check("groupedConvolutionInputGradient", on: "PyTorch's fixture \(f.name) (\(f.groups) groups)",
                                     got: answer(f.dy, f.w, f.shape, f.out, f.groups, 3, 1), expected: f.dx,
                                     shape: f.shape.dimensions, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        }
        return problems
    }
}

@Suite("ResNeXt exercises")
struct ResNeXtExercises {
    @Test("exercise 1: groupedConvolution lets each filter see only its own group's channels")
    func forward() throws {
        let problems = try ResNeXtGraders.forward { groupedConvolution($0, weight: $1, shape: $2, outChannels: $3, groups: $4, kernel: $5, padding: $6) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "groupedConvolution"))")
    }

    @Test("exercise 2: groupedConvolutionInputGradient scatters each group's gradient to its own channels")
    func inputGradient() throws {
        let problems = try ResNeXtGraders.inputGradient {
            groupedConvolutionInputGradient($0, weight: $1, shape: $2, outChannels: $3, groups: $4, kernel: $5, padding: $6)
        }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "groupedConvolutionInputGradient"))")
    }
}

@Suite("ResNeXt graders refuse wrong answers")
struct ResNeXtGradersRefuseWrongAnswers {
    /// The usual slip: every group reads the FIRST group's input channels.
    static func withoutGroupOffset(_ x: [Double], _ s: FeatureMapShape, groups: Int) -> [Double] {
        let perGroup = s.channels / groups, plane = s.height * s.width
        var copy = x
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                for p in 0..<plane { copy[(n * s.channels + c) * plane + p] = x[(n * s.channels + c % perGroup) * plane + p] }
            }
        }
        return copy
    }

    @Test("filters reading the first group's channels fail the forward grader")
    func missingGroupOffset() throws {
        let problems = try ResNeXtGraders.forward { x, w, s, out, groups, k, p in
            Naive.conv2d(Self.withoutGroupOffset(x, s, groups: groups), weight: w, bias: nil, geometry: ResNeXtGraders.geometry(s, out, groups, k, p))
        }
        #expect(!problems.isEmpty && problems.first?.contains("offset") == true)
    }

    @Test("a gradient scattered into the first group only fails its grader")
    func gradientIntoFirstGroup() throws {
        let problems = try ResNeXtGraders.inputGradient { dy, w, s, out, groups, k, p in
            let dx = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: ResNeXtGraders.geometry(s, out, groups, k, p))
            let perGroup = s.channels / groups, plane = s.height * s.width
            var wrong = [Double](repeating: 0, count: dx.count)
            for n in 0..<s.batch {
                for c in 0..<s.channels {
                    for q in 0..<plane { wrong[(n * s.channels + c % perGroup) * plane + q] += dx[(n * s.channels + c) * plane + q] }
                }
            }
            return wrong
        }
        #expect(!problems.isEmpty)
    }
}
