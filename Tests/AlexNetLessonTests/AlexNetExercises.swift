import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import AlexNetLesson

// The graders of Lessons/AlexNet/Exercises.swift: each returns the problems it found; the
// tests expect none from the learner's functions and some from typical wrong answers.

enum AlexNetGraders {
    static func localResponseNorm(_ answer: ([Double], FeatureMapShape, Int, Double, Double, Double) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the window centred as c - size/2 ... c + size/2 (for an even size PyTorch's is c - size/2 ... c + (size-1)/2), the window not clipped at the first and last channels, alpha not divided by size, the power beta applied to the sum alone."
        for (k, (s, size, alpha, beta, kk)) in [(FeatureMapShape(batch: 2, channels: 7, height: 3, width: 4), 5, 1e-1, 0.75, 2.0),
                                                (FeatureMapShape(batch: 1, channels: 6, height: 2, width: 3), 4, 0.5, 0.75, 1.0),
                                                (FeatureMapShape(batch: 1, channels: 3, height: 5, width: 1), 5, 0.3, 0.5, 1.5)].enumerated() {
            let x: [Double] = randomArray(s.count, seed: 90 + UInt64(k)).map { $0 * 3 }
            let expected = Naive.localResponseNorm(x, shape: s, size: size, alpha: alpha, beta: beta, k: kk)
            if let p = Grading.check("localResponseNorm", on: "input \(s), size \(size)", got: answer(x, s, size, alpha, beta, kk),
                                     expected: expected, shape: s.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        for (name, size, alpha, beta, kk) in [("lrn_alexnet", 5, 1e-4, 0.75, 2.0), ("lrn_size4_strong", 4, 0.5, 0.75, 1.0)] {
            let x = try Grading.fixture("\(name).inputs.x"), y = try Grading.fixture("\(name).outputs.y")
            let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
            if let p = Grading.check("localResponseNorm", on: "PyTorch's fixture \(name)", got: answer(x.values, s, size, alpha, beta, kk),
                                     expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        }
        return problems
    }

    static func maxPool(_ answer: ([Double], FeatureMapShape, Int, Int) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the output size H / stride instead of (H - kernel) / stride + 1, windows at [i + u] instead of [stride * i + u], the maximum started at 0 (all-negative windows)."
        for (k, (s, kernel, stride)) in [(FeatureMapShape(batch: 2, channels: 3, height: 13, width: 13), 3, 2),
                                         (FeatureMapShape(batch: 1, channels: 2, height: 8, width: 11), 3, 2),
                                         (FeatureMapShape(batch: 1, channels: 1, height: 6, width: 6), 2, 2)].enumerated() {
            let x: [Double] = randomArray(s.count, seed: 95 + UInt64(k))
            let g = Pool2DGeometry(input: s, kernel: kernel, stride: stride)
            if let p = Grading.check("maxPool", on: "input \(s), \(kernel)x\(kernel) stride \(stride)", got: answer(x, s, kernel, stride),
                                     expected: Naive.maxPool2d(x, geometry: g), shape: g.outputShape.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        let x = try Grading.fixture("maxpool_3x3_s2_overlap.inputs.x"), y = try Grading.fixture("maxpool_3x3_s2_overlap.outputs.y")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("maxPool", on: "PyTorch's fixture maxpool_3x3_s2_overlap", got: answer(x.values, s, 3, 2),
                                 expected: y.values, shape: y.shape, tolerance: 1e-6, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }
}

@Suite("AlexNet exercises")
struct AlexNetExercises {
    @Test("exercise 1: localResponseNorm normalises each value by its neighbouring channels")
    func lrn() throws {
        let problems = try AlexNetGraders.localResponseNorm { localResponseNorm($0, shape: $1, size: $2, alpha: $3, beta: $4, k: $5) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "localResponseNorm"))")
    }

    @Test("exercise 2: maxPool takes the largest value of each overlapping window")
    func pool() throws {
        let problems = try AlexNetGraders.maxPool { maxPool($0, shape: $1, kernel: $2, stride: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "maxPool"))")
    }
}

@Suite("AlexNet graders refuse wrong answers")
struct AlexNetGradersRefuseWrongAnswers {
    @Test("a symmetric window (c - size/2 ... c + size/2) fails the LRN grader on an even size")
    func symmetricWindow() throws {
        let problems = try AlexNetGraders.localResponseNorm { x, s, size, alpha, beta, k in
            var y = [Double](repeating: 0, count: x.count)
            let hw = s.height * s.width
            for n in 0..<s.batch { for c in 0..<s.channels { for p in 0..<hw {
                var sum = 0.0
                for c2 in max(0, c - size / 2)...min(s.channels - 1, c + size / 2) { sum += pow(x[(n * s.channels + c2) * hw + p], 2) }
                y[(n * s.channels + c) * hw + p] = x[(n * s.channels + c) * hw + p] / pow(k + alpha / Double(size) * sum, beta)
            } } }
            return y
        }
        #expect(!problems.isEmpty && problems.allSatisfy { $0.contains("size 4") || $0.contains("size4") })
    }

    @Test("a pool whose output is H / stride fails its grader")
    func wrongSize() throws {
        let problems = try AlexNetGraders.maxPool { x, s, kernel, stride in
            Naive.maxPool2d(x, geometry: Pool2DGeometry(input: s, kernel: kernel, stride: stride, padding: 0, ceilMode: true))
        }
        #expect(!problems.isEmpty && problems.first?.contains("returned") == true)
    }
}
