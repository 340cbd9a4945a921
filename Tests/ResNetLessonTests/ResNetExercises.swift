import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import ResNetLesson

// The graders of Lessons/ResNet/Exercises.swift. Each returns the problems it found (empty:
// right); the tests expect none from the learner's functions and some from typical wrong
// answers, so no grader can pass anything.

enum ResNetGraders {
    /// Two blocks with the same weights: one for the answer, one for the core's own pass.
    static func twins(_ inChannels: Int, _ outChannels: Int, stride: Int, seed: UInt64) -> (CifarBlock, CifarBlock) {
        let make = { () -> CifarBlock in
            let block = CifarBlock(inChannels, outChannels, stride: stride, preActivation: false)
            block.initialize(seed: seed)
            for (_, p) in block.namedParameters() where p.value.rank == 1 {      // batch norm: gamma, beta off their 1, 0
                var g = SeededGenerator(seed: seed &+ UInt64(p.value.count))
                p.update { for i in $0.indices { $0[i] += Float(g.nextUniform() - 0.5) } }
            }
            return block
        }
        return (make(), make())
    }

    static let blockCases: [(inChannels: Int, outChannels: Int, stride: Int, size: Int)] = [
        (4, 4, 1, 6),      // identity shortcut
        (3, 6, 2, 7),      // projection shortcut, odd size
    ]

    static func input(_ c: Int, _ size: Int, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor.randomNormal([3, c, size, size], using: &g)
    }

    static func blockForward(_ answer: (Tensor, CifarBlock) -> Tensor) -> [String] {
        var problems: [String] = []
        for (k, c) in blockCases.enumerated() {
            let (mine, reference) = twins(c.inChannels, c.outChannels, stride: c.stride, seed: 3 + UInt64(k))
            let x = input(c.inChannels, c.size, seed: 11 + UInt64(k))
            let expected = reference(x)
            if let p = Grading.check("residualBlockForward", on: "block \(c.inChannels) -> \(c.outChannels), stride \(c.stride), input \(x.shape)",
                                     got: answer(x, mine).data.map(Double.init), expected: expected.data.map(Double.init),
                                     shape: expected.shape, tolerance: 1e-5,
                                     usualMistakes: "Usual mistakes: the ReLU applied before adding the shortcut (a[l+2] = g(z + a[l]), not g(z) + a[l]), the shortcut taken from a1 instead of x, the projection left out where the shape changes.") {
                problems.append(p)
            }
        }
        return problems
    }

    static func blockBackward(forward: (Tensor, CifarBlock) -> Tensor, backward: (Tensor, CifarBlock) -> Tensor) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the shortcut's gradient left out (dL/dx is the main path's PLUS the shortcut's), the shortcut's gradient taken before the last ReLU's backward, layers run backward in the wrong order."
        for (k, c) in blockCases.enumerated() {
            let (mine, reference) = twins(c.inChannels, c.outChannels, stride: c.stride, seed: 5 + UInt64(k))
            let x = input(c.inChannels, c.size, seed: 21 + UInt64(k))
            var g = SeededGenerator(seed: 31 + UInt64(k))
            let dy = Tensor.randomNormal(reference.outputShape(for: x.shape), using: &g)
            _ = reference(x)
            let expected = reference.backward(dy)
            _ = forward(x, mine)
            let got = backward(dy, mine)
            let what = "block \(c.inChannels) -> \(c.outChannels), stride \(c.stride)"
            if let p = Grading.check("residualBlockBackward", on: "\(what): dL/dx", got: got.data.map(Double.init),
                                     expected: expected.data.map(Double.init), shape: expected.shape, tolerance: 1e-4,
                                     usualMistakes: mistakes) { problems.append(p) }
            for ((name, a), (_, b)) in zip(mine.namedParameters(), reference.namedParameters()) {
                if let p = Grading.check("residualBlockBackward", on: "\(what): the gradient of \(name)", got: a.gradient.data.map(Double.init),
                                         expected: b.gradient.data.map(Double.init), shape: b.gradient.shape, tolerance: 1e-4,
                                         usualMistakes: mistakes) { problems.append(p); break }
            }
        }
        return problems
    }

    static func projection(_ answer: ([Double], [Double], FeatureMapShape, Int, Int) -> [Double]) throws -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the output size (n_H - 1) / s + 1 (an odd input keeps its last row), x read at s*i + 1 instead of s*i, w indexed [c, o] instead of [o, c]."
        for (k, (s, out, stride)) in [(FeatureMapShape(batch: 2, channels: 3, height: 8, width: 8), 5, 2),
                                      (FeatureMapShape(batch: 1, channels: 4, height: 7, width: 5), 6, 2),
                                      (FeatureMapShape(batch: 2, channels: 2, height: 5, width: 6), 3, 1)].enumerated() {
            let x: [Double] = randomArray(s.count, seed: 40 + UInt64(k)), w: [Double] = randomArray(out * s.channels, seed: 50 + UInt64(k))
            let g = Conv2DGeometry(input: s, outChannels: out, kernel: 1, stride: stride)
            let expected = Naive.conv2d(x, weight: w, bias: nil, geometry: g)
            if let p = Grading.check("projectionShortcut", on: "input \(s), \(out) channels, stride \(stride)", got: answer(x, w, s, out, stride),
                                     expected: expected, shape: g.outputShape.dimensions, usualMistakes: mistakes) { problems.append(p) }
        }
        // PyTorch's own numbers: the 1x1 convolution of Fixtures/ops-public (stride 1).
        let x = try Grading.fixture("conv_1x1_nobias.inputs.x"), w = try Grading.fixture("conv_1x1_nobias.inputs.weight")
        let y = try Grading.fixture("conv_1x1_nobias.outputs.y")
        let s = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        if let p = Grading.check("projectionShortcut", on: "PyTorch's fixture conv_1x1_nobias", got: answer(x.values, w.values, s, w.shape[0], 1),
                                 expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        return problems
    }
}

@Suite("ResNet exercises")
struct ResNetExercises {
    @Test("exercise 1: residualBlockForward computes y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))")
    func forward() {
        let problems = ResNetGraders.blockForward { residualBlockForward($0, $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "residualBlockForward"))")
    }

    @Test("exercise 2: residualBlockBackward sends the gradient down both paths and adds them")
    func backward() {
        let problems = ResNetGraders.blockBackward(forward: { residualBlockForward($0, $1) }, backward: { residualBlockBackward($0, $1) })
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "residualBlockBackward"))")
    }

    @Test("exercise 3: projectionShortcut is a 1x1 convolution with stride s")
    func projection() throws {
        let problems = try ResNetGraders.projection { projectionShortcut($0, weight: $1, shape: $2, outChannels: $3, stride: $4) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "projectionShortcut"))")
    }
}

@Suite("ResNet graders refuse wrong answers")
struct ResNetGradersRefuseWrongAnswers {
    @Test("a ReLU before the sum fails the forward grader")
    func reluBeforeSum() {
        let problems = ResNetGraders.blockForward { x, b in
            let z2 = b.relu2(b.bn2(b.conv2(b.relu1(b.bn1(b.conv1(x))))))
            let shortcut = b.downsample?.forward(x) ?? x
            return Tensor(shape: z2.shape, data: Naive.add(z2.data, shortcut.data))
        }
        #expect(!problems.isEmpty && problems.first?.contains("ReLU applied before") == true)
    }

    @Test("a backward pass without the shortcut's gradient fails its grader")
    func missingShortcutGradient() {
        let problems = ResNetGraders.blockBackward(forward: { residualBlockForward($0, $1) }, backward: { dy, b in
            let dSum = b.relu2.backward(dy)
            return b.conv1.backward(b.bn1.backward(b.relu1.backward(b.conv2.backward(b.bn2.backward(dSum)))))
        })
        #expect(!problems.isEmpty)
    }

    @Test("a projection that samples s*i + 1 fails its grader")
    func offByOne() throws {
        let problems = try ResNetGraders.projection { x, w, s, out, stride in
            let g = Conv2DGeometry(input: s, outChannels: out, kernel: 1, stride: stride)
            let shifted = x.indices.map { i in i + 1 < x.count ? x[i + 1] : 0 }
            return Naive.conv2d(shifted, weight: w, bias: nil, geometry: g)
        }
        #expect(!problems.isEmpty)
    }
}
