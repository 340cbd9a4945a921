import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import DistillationLesson

// The graders of Lessons/Distillation/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum DistillationGraders {
    typealias Pair = (student: [Double], teacher: [Double], classes: Int)

    /// Rows x classes of random logits (scale 3), student and teacher.
    static func pair(rows: Int, classes: Int, seed: UInt64) -> Pair {
        var g = SeededGenerator(seed: seed)
        let draw = { (0..<rows * classes).map { _ in 6 * (Double(g.nextUniform()) - 0.5) } }
        return (draw(), draw(), classes)
    }

    static let shapes: [(rows: Int, classes: Int)] = [(1, 4), (3, 10), (5, 7)]
    static let temperatures: [Double] = [1, 2.5, 4, 20]

    /// PyTorch's fixture, in Double.
    static func fixture() throws -> (student: [Double], teacher: [Double], classes: Int, loss: Double, gradient: [Double]) {
        let s = try Grading.fixture("distillation_T4.inputs.student")
        let t = try Grading.fixture("distillation_T4.inputs.teacher")
        let y = try Grading.fixture("distillation_T4.outputs.y")
        let g = try Grading.fixture("distillation_T4.grads.student")
        return (s.values, t.values, s.shape[1], y.values[0], g.values)
    }

    /// softmax(z/T), derived from the core's naive kernel rather than written again: with a
    /// teacher whose logits are all equal (q_t = 1/C), its gradient is (T/N)(q_s - 1/C).
    static func expectedSoftmax(_ z: [Double], classes: Int, temperature: Double) -> [Double] {
        let rows = Double(z.count / classes)
        let uniform = [Double](repeating: 0, count: z.count)
        let g = Naive.distillationKL(student: z, teacher: uniform, classes: classes, temperature: temperature).studentGradient
        return g.map { $0 * rows / temperature + 1 / Double(classes) }
    }

    static func softmax(_ answer: ([Double], Int, Double) -> [Double]) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the logits not divided by T (that is the ordinary softmax), the division by T done after exponentiating, a row normalised by the sum of the whole batch."
        for (k, shape) in shapes.enumerated() {
            let z = pair(rows: shape.rows, classes: shape.classes, seed: 900 + UInt64(k)).student
            for t in temperatures {
                let expected = expectedSoftmax(z, classes: shape.classes, temperature: t)
                if let p = Grading.check("softmaxAtTemperature", on: "\(shape.rows) x \(shape.classes) logits, T = \(t)", got: answer(z, shape.classes, t),
                                         expected: expected, shape: [shape.rows, shape.classes], tolerance: 1e-9, usualMistakes: mistakes) {
                    problems.append(p)
                }
            }
        }
        // Large logits must not overflow.
        let huge = [1000.0, 0, -1000, 999]
        let q = answer(huge, 4, 1)
        if q.count != 4 || !q.allSatisfy(\.isFinite) || abs(q.reduce(0, +) - 1) > 1e-12 {
            problems.append("softmaxAtTemperature([1000, 0, -1000, 999], T = 1) gave \(q): subtract the row's largest value (after dividing by T) before exp, so that nothing overflows")
        }
        return problems
    }

    static func loss(_ answer: ([Double], [Double], Int, Double) -> Double) throws -> [String] {
        var problems: [String] = []
        func diagnose(_ got: Double, _ expected: Double, _ t: Double, rows: Int, classes: Int) -> String {
            let ratio = got / expected
            if t != 1 && abs(ratio * t * t - 1) < 1e-6 { return " It is 1/T^2 of the right value: the T^2 factor is missing." }
            if abs(ratio * Double(classes) - 1) < 1e-6 { return " It is 1/C of the right value: divide by the rows N, not by N * C." }
            if rows > 1 && abs(ratio - Double(rows)) < 1e-6 { return " It is N times the right value: take the mean over the rows." }
            return " Usual mistakes: log q_s - log q_t instead of log q_t - log q_s, the temperature left out of one of the two softmaxes."
        }
        for (k, shape) in shapes.enumerated() {
            let p = pair(rows: shape.rows, classes: shape.classes, seed: 920 + UInt64(k))
            for t in temperatures {
                let expected = Naive.distillationKL(student: p.student, teacher: p.teacher, classes: p.classes, temperature: t).loss
                let got = answer(p.student, p.teacher, p.classes, t)
                if !(abs(got - expected) <= 1e-9 * max(abs(expected), 1e-12)) {
                    problems.append("softTargetLoss on \(shape.rows) x \(shape.classes) logits, T = \(t): got \(got), expected \(expected)."
                                    + diagnose(got, expected, t, rows: shape.rows, classes: shape.classes))
                }
            }
        }
        let f = try fixture()
        let got = answer(f.student, f.teacher, f.classes, 4)
        if !(abs(got - f.loss) <= 1e-5 * abs(f.loss)) {
            problems.append("softTargetLoss on PyTorch's fixture distillation_T4 (6 x 10, T = 4): got \(got), PyTorch computed \(f.loss)."
                            + diagnose(got, f.loss, 4, rows: 6, classes: 10))
        }
        return problems
    }

    static func gradient(_ answer: ([Double], [Double], Int, Double) -> [Double]) throws -> [String] {
        var problems: [String] = []
        func diagnose(_ got: [Double], _ expected: [Double], _ t: Double) -> String {
            guard got.count == expected.count, t != 1 else { return "" }
            let scale = zip(got, expected).map { $0 * $1 }.reduce(0, +) / max(expected.map { $0 * $0 }.reduce(0, +), 1e-300)
            if abs(scale * t * t - 1) < 1e-6 { return " It is 1/T^2 of the right gradient: the loss's T^2 is missing." }
            if abs(scale - t) < 1e-6 { return " It is T times the right gradient: the chain rule through s / T gives a factor 1/T." }
            if abs(scale * t - 1) < 1e-6 { return " It is 1/T of the right gradient: T^2 (1/N)(q_s - q_t)/T = (T/N)(q_s - q_t)." }
            return ""
        }
        let mistakes = "Usual mistakes: q_t - q_s (the sign: the student moves towards the teacher), a missing 1/N, the factor T (T^2 from the loss, 1/T from the chain rule)."
        for (k, shape) in shapes.enumerated() {
            let p = pair(rows: shape.rows, classes: shape.classes, seed: 940 + UInt64(k))
            for t in temperatures {
                // Central finite differences of the core's naive loss.
                let h = 1e-5
                let numeric = p.student.indices.map { i -> Double in
                    var plus = p.student, minus = p.student
                    plus[i] += h
                    minus[i] -= h
                    return (Naive.distillationKL(student: plus, teacher: p.teacher, classes: p.classes, temperature: t).loss
                        - Naive.distillationKL(student: minus, teacher: p.teacher, classes: p.classes, temperature: t).loss) / (2 * h)
                }
                let got = answer(p.student, p.teacher, p.classes, t)
                if let problem = Grading.check("softTargetGradient", on: "\(shape.rows) x \(shape.classes) logits, T = \(t), against finite differences of the loss",
                                               got: got, expected: numeric, shape: [shape.rows, shape.classes], tolerance: 1e-6, usualMistakes: mistakes) {
                    problems.append(problem + diagnose(got, numeric, t))
                }
            }
        }
        let f = try fixture()
        let got = answer(f.student, f.teacher, f.classes, 4)
        if let problem = Grading.check("softTargetGradient", on: "PyTorch's fixture distillation_T4 (6 x 10, T = 4)", got: got, expected: f.gradient,
                                       shape: [6, 10], tolerance: 1e-5, usualMistakes: mistakes) {
            problems.append(problem + diagnose(got, f.gradient, 4))
        }
        return problems
    }
}

@Suite("Distillation exercises")
struct DistillationExercises {
    @Test("exercise 1: softmaxAtTemperature divides the logits by T before the softmax, stably")
    func softmax() {
        let problems = DistillationGraders.softmax { softmaxAtTemperature($0, classes: $1, temperature: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "softmaxAtTemperature"))")
    }

    @Test("exercise 2: softTargetLoss is T^2 times the batch mean of KL(q_teacher || q_student), as PyTorch computes it")
    func loss() throws {
        let problems = try DistillationGraders.loss { softTargetLoss(student: $0, teacher: $1, classes: $2, temperature: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "softTargetLoss"))")
    }

    @Test("exercise 3: softTargetGradient is (T/N)(q_s - q_t), the finite difference of the loss and PyTorch's gradient")
    func gradient() throws {
        let problems = try DistillationGraders.gradient { softTargetGradient(student: $0, teacher: $1, classes: $2, temperature: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "softTargetGradient"))")
    }
}

@Suite("Distillation graders refuse wrong answers")
struct DistillationGradersRefuseWrongAnswers {
    // The wrong answers are built from the core's naive kernel, not from the learner's
    // functions, so these tests mean the same whether the exercises are written or not.

    /// The ordinary softmax of each row, with the row maximum subtracted or not.
    static func softmax(_ z: [Double], classes: Int, stable: Bool = true) -> [Double] {
        var q = [Double](repeating: 0, count: z.count)
        for row in 0..<z.count / classes {
            let m = stable ? z[row * classes..<(row + 1) * classes].max()! : 0
            let e = (0..<classes).map { Foundation.exp(z[row * classes + $0] - m) }
            let sum = e.reduce(0, +)
            for i in 0..<classes { q[row * classes + i] = e[i] / sum }
        }
        return q
    }

    static func kernel(_ s: [Double], _ t: [Double], _ c: Int, _ temperature: Double) -> (loss: Double, studentGradient: [Double]) {
        Naive.distillationKL(student: s, teacher: t, classes: c, temperature: temperature)
    }

    @Test("a softmax that forgets the temperature fails its grader")
    func forgottenTemperature() {
        let problems = DistillationGraders.softmax { z, classes, _ in Self.softmax(z, classes: classes) }
        #expect(!problems.isEmpty)
    }

    @Test("a softmax without the row maximum subtracted overflows on large logits and fails its grader")
    func unstableSoftmax() {
        let problems = DistillationGraders.softmax { z, classes, t in Self.softmax(z.map { $0 / t }, classes: classes, stable: false) }
        #expect(problems.contains { $0.contains("overflow") })
    }

    @Test("a soft-target loss without T^2 fails its grader, which names the missing T^2")
    func forgottenTSquared() throws {
        let problems = try DistillationGraders.loss { s, t, c, temperature in Self.kernel(s, t, c, temperature).loss / (temperature * temperature) }
        #expect(problems.contains { $0.contains("T^2 factor is missing") })
    }

    @Test("a soft-target loss averaged over N * C instead of N fails its grader")
    func meanOverAllLogits() throws {
        let problems = try DistillationGraders.loss { s, t, c, temperature in Self.kernel(s, t, c, temperature).loss / Double(c) }
        #expect(problems.contains { $0.contains("not by N * C") })
    }

    @Test("a gradient without the chain rule's 1/T, or without the loss's T^2, fails its grader")
    func wrongTemperatureFactor() throws {
        let noChainRule = try DistillationGraders.gradient { s, t, c, temperature in
            Self.kernel(s, t, c, temperature).studentGradient.map { $0 * temperature }
        }
        #expect(noChainRule.contains { $0.contains("chain rule") })
        let noTSquared = try DistillationGraders.gradient { s, t, c, temperature in
            Self.kernel(s, t, c, temperature).studentGradient.map { $0 / (temperature * temperature) }
        }
        #expect(noTSquared.contains { $0.contains("T^2 is missing") })
    }

    @Test("a gradient with the wrong sign (q_t - q_s) fails its grader")
    func wrongSign() throws {
        let problems = try DistillationGraders.gradient { s, t, c, temperature in Self.kernel(s, t, c, temperature).studentGradient.map { -$0 } }
        #expect(!problems.isEmpty)
    }

    @Test("the core's naive kernel passes the loss and gradient graders (the graders can pass)")
    func referencePasses() throws {
        #expect(try DistillationGraders.loss { s, t, c, temperature in Self.kernel(s, t, c, temperature).loss }.isEmpty)
        #expect(try DistillationGraders.gradient { s, t, c, temperature in Self.kernel(s, t, c, temperature).studentGradient }.isEmpty)
    }
}
