import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import InceptionLesson

// The graders of Lessons/Inception/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum InceptionGraders {
    /// Branch channels, batch and H * W: a batch of three (a batch of one cannot tell the
    /// channel axis from the batch axis), a branch of one channel, a 1x1 map.
    static let cases: [(channels: [Int], batch: Int, spatial: Int)] = [
        ([2, 1, 3], 3, 5),
        ([4, 2], 2, 1),
        ([1, 3, 2, 2], 2, 6),
    ]

    static func parts(_ c: (channels: [Int], batch: Int, spatial: Int), seed: UInt64) -> [[Double]] {
        c.channels.enumerated().map { b, channels in randomArray(c.batch * channels * c.spatial, seed: seed + UInt64(b)) }
    }

    static func concatenation(_ answer: ([[Double]], [Int], Int, Int) -> [Double]) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the branches appended whole, one after the other (that joins them along the batch: image n's channels must come together), the branches taken in another order."
        for (k, c) in cases.enumerated() {
            let parts = parts(c, seed: 200 + 10 * UInt64(k))
            let expected = Naive.concatenateChannels(parts, channels: c.channels, batch: c.batch, spatial: c.spatial)
            if let p = Grading.check("concatenateChannels", on: "branches of \(c.channels) channels, batch \(c.batch), H*W \(c.spatial)",
                                     got: answer(parts, c.channels, c.batch, c.spatial), expected: expected,
                                     shape: [c.batch, c.channels.reduce(0, +), c.spatial], usualMistakes: mistakes) { problems.append(p) }
        }
        return problems
    }

    static func backward(_ answer: ([Double], [Int], Int, Int) -> [[Double]]) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: dy cut into consecutive blocks (branch b's slice is channels c_0 + ... + c_(b-1) onward of EVERY image), the channel offset not reset for each image."
        for (k, c) in cases.enumerated() {
            let total = c.channels.reduce(0, +)
            let dy: [Double] = randomArray(c.batch * total * c.spatial, seed: 300 + UInt64(k))
            let expected = Naive.concatenateChannelsBackward(outputGradient: dy, channels: c.channels, batch: c.batch, spatial: c.spatial)
            let got = answer(dy, c.channels, c.batch, c.spatial)
            guard got.count == expected.count else {
                problems.append("concatenationBackward on \(c.channels) channels: returned \(got.count) gradients, one per branch is \(expected.count)")
                continue
            }
            for b in expected.indices {
                if let p = Grading.check("concatenationBackward", on: "branch \(b) of \(c.channels) channels, batch \(c.batch), H*W \(c.spatial)",
                                         got: got[b], expected: expected[b], shape: [c.batch, c.channels[b], c.spatial],
                                         usualMistakes: mistakes) { problems.append(p); break }
            }
            // The adjoint identity any backward pass of a linear map obeys (the finite
            // difference of a linear function is exact): sum(concat(parts) * dy) = sum over b of parts_b . grad_b.
            let parts = parts(c, seed: 400 + UInt64(k))
            let lhs = dot(Naive.concatenateChannels(parts, channels: c.channels, batch: c.batch, spatial: c.spatial), dy)
            let rhs = zip(parts, got).reduce(0.0) { $0 + ($1.0.count == $1.1.count ? dot($1.0, $1.1) : .nan) }
            if !(abs(lhs - rhs) <= 1e-9 * max(1, abs(lhs))) {
                problems.append("concatenationBackward on \(c.channels) channels: sum(y * dy) is \(lhs) but the branches' inputs times your gradients sum to \(rhs): each branch's gradient must be the slice of dy its output went to")
            }
        }
        return problems
    }

    /// Two modules with the same weights and batch-norm parameters off their defaults.
    static func twins(seed: UInt64) -> (InceptionModule, InceptionModule) {
        let make = { () -> InceptionModule in
            let module = InceptionModule(5, 3, 2, 4, 2, 3, 2, fiveByFive: true).initialize(seed: seed)
            for (_, p) in module.namedParameters() where p.value.rank == 1 {
                var g = SeededGenerator(seed: seed &+ UInt64(p.value.count))
                p.update { for i in $0.indices { $0[i] += Float(g.nextUniform() - 0.5) } }
            }
            return module
        }
        return (make(), make())
    }

    static func module(_ answer: (Tensor, InceptionModule) -> Tensor) -> [String] {
        var problems: [String] = []
        for (k, shape) in [[2, 5, 6, 6], [3, 5, 5, 7]].enumerated() {
            let (mine, reference) = twins(seed: 500 + UInt64(k))
            var g = SeededGenerator(seed: 600 + UInt64(k))
            let x = Tensor.randomNormal(shape, using: &g)
            let expected = reference(x)
            let got = answer(x, mine)
            guard got.shape == expected.shape else {
                problems.append("inceptionModuleForward on input \(shape): the result has shape \(got.shape), expected \(expected.shape) (every branch keeps n_H and n_W; the channels add up: 3 + 4 + 3 + 2 = 12)")
                continue
            }
            if let p = Grading.check("inceptionModuleForward", on: "module 5 -> (3, 2->4, 2->3 5x5, pool->2), input \(shape)",
                                     got: got.data.map(Double.init), expected: expected.data.map(Double.init), shape: expected.shape,
                                     tolerance: 1e-5,
                                     usualMistakes: "Usual mistakes: a branch fed the previous branch's output instead of x (the branches run in parallel on the same input), the branches concatenated in another order or along the batch.") {
                problems.append(p)
            }
        }
        return problems
    }
}

@Suite("Inception exercises")
struct InceptionExercises {
    @Test("exercise 1: concatenateChannels joins the branches along the channels, image by image")
    func concatenation() {
        let problems = InceptionGraders.concatenation { concatenateChannels($0, channels: $1, batch: $2, spatial: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "concatenateChannels"))")
    }

    @Test("exercise 2: concatenationBackward hands each branch its slice of the gradient")
    func backward() {
        let problems = InceptionGraders.backward { concatenationBackward($0, channels: $1, batch: $2, spatial: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "concatenationBackward"))")
    }

    @Test("exercise 3: inceptionModuleForward runs the four branches on the same input and concatenates them")
    func module() {
        let problems = InceptionGraders.module { inceptionModuleForward($0, $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "inceptionModuleForward"))")
    }
}

@Suite("Inception graders refuse wrong answers")
struct InceptionGradersRefuseWrongAnswers {
    @Test("branches appended whole (a concatenation along the batch) fail the grader")
    func alongTheBatch() {
        let problems = InceptionGraders.concatenation { parts, _, _, _ in parts.flatMap { $0 } }
        #expect(!problems.isEmpty && problems.first?.contains("appended whole") == true)
    }

    @Test("dy cut into consecutive blocks fails the backward grader")
    func consecutiveBlocks() {
        let problems = InceptionGraders.backward { dy, channels, batch, spatial in
            var start = 0
            return channels.map { c in
                defer { start += batch * c * spatial }
                return Array(dy[start..<(start + batch * c * spatial)])
            }
        }
        #expect(!problems.isEmpty)
    }

    @Test("branches chained one after another fail the module grader")
    func chainedBranches() {
        let problems = InceptionGraders.module { x, module in
            // Each branch sees x, but the pool branch reads the 1x1 branch's output padded to x's channels: not parallel.
            let first = module.branches[0](x)
            var shifted = x.data
            for i in 0..<min(first.data.count, shifted.count) { shifted[i] += first.data[i] }
            let outputs = [first] + module.branches.dropFirst().map { $0(Tensor(shape: x.shape, data: shifted)) }
            let channels = outputs.map { $0.shape[1] }
            let joined = Naive.concatenateChannels(outputs.map(\.data), channels: channels, batch: x.shape[0], spatial: x.shape[2] * x.shape[3])
            return Tensor(shape: [x.shape[0], channels.reduce(0, +), x.shape[2], x.shape[3]], data: joined)
        }
        #expect(!problems.isEmpty)
    }
}
