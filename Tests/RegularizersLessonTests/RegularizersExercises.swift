import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import RegularizersLesson

// The graders of Lessons/Regularizers/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum RegularizersGraders {
    static let cases: [(blocks: Int, last: Double)] = [(15, 0.5), (54, 0.5), (3, 0.2), (9, 1), (1, 0.5)]

    static func survival(_ answer: (Int, Double) -> [Double]) -> [String] {
        var problems: [String] = []
        for c in cases {
            let expected = StochasticDepth.survivalProbabilities(blocks: c.blocks, last: c.last)
            let got = answer(c.blocks, c.last)
            if let p = Grading.check("survivalProbabilities", on: "L = \(c.blocks), p_L = \(c.last)", got: got, expected: expected,
                                     shape: [c.blocks], tolerance: 1e-12,
                                     usualMistakes: "Usual mistakes: l counted from 0 (the first block then gets 1 and the last never reaches p_L), dividing by L - 1, or (1 - p_L) left out so the probability falls to 0.") {
                problems.append(p)
            }
        }
        return problems
    }

    static func expected(_ answer: (Int, Double) -> Double) -> [String] {
        var problems: [String] = []
        for c in cases {
            let truth = StochasticDepth.expectedDepth(blocks: c.blocks, last: c.last)
            let got = answer(c.blocks, c.last)
            if abs(got - truth) > 1e-9 * max(1, truth) {
                problems.append("expectedDepth(L = \(c.blocks), p_L = \(c.last)) gave \(got), expected sum_l p_l = \(truth)"
                                + (c.last == 0.5 ? " = (3L - 1)/4" : "") + ". Usual mistakes: 3L/4 (the large-L approximation), or the sum started at l = 0.")
            }
        }
        return problems
    }

    static func highway(_ answer: ([Double], [Double], [Double]) -> [Double]) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the gates swapped (T on the input, 1 - T on the transform), the gate's pre-activation used without the sigmoid, or sigmoid(x) = 1 / (1 + e^x)."
        for (k, count) in [5, 33].enumerated() {
            let x: [Double] = randomArray(count, seed: 700 + UInt64(k)), h: [Double] = randomArray(count, seed: 710 + UInt64(k))
            let g: [Double] = (randomArray(count, seed: 720 + UInt64(k)) as [Double]).map { $0 * 4 }
            if let p = Grading.check("highwayForward", on: "\(count) random units", got: answer(x, h, g),
                                     expected: Naive.highway(x, transform: h, gate: g), shape: [count], tolerance: 1e-12, usualMistakes: mistakes) {
                problems.append(p)
            }
        }
        let x: [Double] = randomArray(9, seed: 730), h: [Double] = randomArray(9, seed: 731)
        let closed = answer(x, h, [Double](repeating: -.infinity, count: 9))
        if closed != x {
            problems.append("highwayForward with T = 0 (gate -infinity) must return its input x exactly, it returned \(closed) for x = \(x). " + mistakes)
        }
        let open = answer(x, h, [Double](repeating: .infinity, count: 9))
        if open != h {
            problems.append("highwayForward with T = 1 (gate +infinity) must return the transform h exactly, it returned \(open). " + mistakes)
        }
        return problems
    }
}

@Suite("Regularizers exercises")
struct RegularizersExercises {
    @Test("exercise 1: survivalProbabilities follows p_l = 1 - (l/L)(1 - p_L) for l = 1 ... L")
    func survival() {
        let problems = RegularizersGraders.survival { survivalProbabilities(blocks: $0, last: $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "survivalProbabilities"))")
    }

    @Test("exercise 2: expectedDepth is the sum of the survival probabilities, (3L - 1)/4 for p_L = 0.5")
    func expected() {
        let problems = RegularizersGraders.expected { expectedDepth(blocks: $0, last: $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "expectedDepth"))")
    }

    @Test("exercise 3: highwayForward is h T + x (1 - T), the identity when T = 0")
    func highway() {
        let problems = RegularizersGraders.highway { highwayForward($0, transform: $1, gate: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "highwayForward"))")
    }
}

@Suite("Regularizers graders refuse wrong answers")
struct RegularizersGradersRefuseWrongAnswers {
    @Test("survival probabilities counted from l = 0 fail their grader")
    func countedFromZero() {
        let problems = RegularizersGraders.survival { blocks, last in (0..<blocks).map { 1 - Double($0) / Double(blocks) * (1 - last) } }
        #expect(!problems.isEmpty)
    }

    @Test("the approximation 3L/4 fails the expected-depth grader")
    func threeQuarters() {
        let problems = RegularizersGraders.expected { blocks, _ in 3 * Double(blocks) / 4 }
        #expect(!problems.isEmpty && problems.first?.contains("(3L - 1)/4") == true)
    }

    @Test("a highway layer with its gates swapped fails its grader, and is not the identity at T = 0")
    func swappedGates() {
        let problems = RegularizersGraders.highway { x, h, g in
            x.indices.map { i in let t = 1 / (1 + exp(-g[i])); return h[i] * (1 - t) + x[i] * t }
        }
        #expect(problems.contains { $0.contains("T = 0") })
    }
}
