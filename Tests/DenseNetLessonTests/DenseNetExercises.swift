import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import DenseNetLesson

// The graders of Lessons/DenseNet/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum DenseNetGraders {
    /// Two blocks with the same weights and batch-norm parameters off their 1, 0.
    static func twins(layers: Int, inChannels: Int, growthRate: Int, seed: UInt64) -> (DenseBlock, DenseBlock) {
        let make = { () -> DenseBlock in
            let block = DenseBlock(layers: layers, inChannels: inChannels, growthRate: growthRate, bnSize: 2).initialize(seed: seed)
            for (_, p) in block.namedParameters() where p.value.rank == 1 {
                var g = SeededGenerator(seed: seed &+ UInt64(p.value.count))
                p.update { for i in $0.indices { $0[i] += Float(g.nextUniform() - 0.5) } }
            }
            return block
        }
        return (make(), make())
    }

    /// Layers, input channels, growth rate, input shape [N, H, W].
    static let cases: [(layers: Int, inChannels: Int, growthRate: Int, batch: Int, height: Int, width: Int)] = [
        (3, 4, 2, 2, 5, 5),
        (2, 3, 3, 3, 4, 6),
    ]

    static func input(_ c: (layers: Int, inChannels: Int, growthRate: Int, batch: Int, height: Int, width: Int), seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor.randomNormal([c.batch, c.inChannels, c.height, c.width], using: &g)
    }

    static func forward(_ answer: (Tensor, DenseBlock) -> Tensor) -> [String] {
        var problems: [String] = []
        for (k, c) in cases.enumerated() {
            let (mine, reference) = twins(layers: c.layers, inChannels: c.inChannels, growthRate: c.growthRate, seed: 800 + UInt64(k))
            let x = input(c, seed: 810 + UInt64(k))
            let expected = reference(x)
            let got = answer(x, mine)
            let what = "block of \(c.layers) layers, \(c.inChannels) channels in, growth \(c.growthRate), input \(x.shape)"
            guard got.shape == expected.shape else {
                problems.append("denseBlockForward on \(what): the result has shape \(got.shape), expected \(expected.shape) (C_0 + L * k = \(c.inChannels) + \(c.layers) * \(c.growthRate) channels: keep the input and every layer's new maps)")
                continue
            }
            if let p = Grading.check("denseBlockForward", on: what, got: got.data.map(Double.init), expected: expected.data.map(Double.init),
                                     shape: expected.shape, tolerance: 1e-5,
                                     usualMistakes: "Usual mistakes: a layer fed only the previous layer's output instead of everything so far, the new maps concatenated before the old ones, the block's input x_0 left out of the result.") {
                problems.append(p)
            }
        }
        return problems
    }

    static func backward(forward: (Tensor, DenseBlock) -> Tensor, backward: (Tensor, DenseBlock) -> Tensor) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the layer's input gradient not added back onto the old features' part (each layer's input IS the old features), the split taken at the wrong channel (old channels first, the layer's k new ones last), layers undone in forward order."
        for (k, c) in cases.enumerated() {
            let (mine, reference) = twins(layers: c.layers, inChannels: c.inChannels, growthRate: c.growthRate, seed: 820 + UInt64(k))
            let x = input(c, seed: 830 + UInt64(k))
            var g = SeededGenerator(seed: 840 + UInt64(k))
            let dy = Tensor.randomNormal([c.batch, c.inChannels + c.layers * c.growthRate, c.height, c.width], using: &g)
            _ = reference(x)
            let expected = reference.backward(dy)
            _ = forward(x, mine)
            let got = backward(dy, mine)
            let what = "block of \(c.layers) layers, \(c.inChannels) channels in, growth \(c.growthRate)"
            if let p = Grading.check("denseBlockBackward", on: "\(what): dL/dx", got: got.data.map(Double.init),
                                     expected: expected.data.map(Double.init), shape: expected.shape, tolerance: 1e-4,
                                     usualMistakes: mistakes) { problems.append(p) }
            for ((name, a), (_, b)) in zip(mine.namedParameters(), reference.namedParameters()) {
                if let p = Grading.check("denseBlockBackward", on: "\(what): the gradient of \(name)", got: a.gradient.data.map(Double.init),
                                         expected: b.gradient.data.map(Double.init), shape: b.gradient.shape, tolerance: 1e-4,
                                         usualMistakes: mistakes) { problems.append(p); break }
            }
        }
        return problems
    }

    /// Against the core's DenseNets (the blocks' own output channels) and DenseNet-121's numbers.
    static func channels(_ answer: (Int, Int, [Int]) -> [Int]) -> [String] {
        var problems: [String] = []
        let dense121 = answer(64, 32, [6, 12, 24, 16])
        if dense121 != [256, 512, 1024, 1024] {
            problems.append("denseNetBlockChannels(64, k = 32, [6, 12, 24, 16]) gave \(dense121), DenseNet-121's blocks output [256, 512, 1024, 1024]: a block adds L * k to its input, a transition halves between blocks (not after the last)")
        }
        for (initial, growth, config) in [(7, 5, [2, 3, 1]), (9, 3, [3, 3]), (16, 4, [1, 2, 3, 4])] {
            let net = DenseNet(growthRate: growth, blockConfig: config, initialFeatures: initial, bnSize: 1, classes: 2)
            let features = net.layers[0] as? Sequential
            let expected = (features?.layers ?? []).compactMap { ($0 as? DenseBlock)?.outChannels }
            let got = answer(initial, growth, config)
            if got != expected {
                problems.append("denseNetBlockChannels(\(initial), k = \(growth), \(config)) gave \(got), the core's DenseNet has blocks of \(expected) channels (an odd count halves rounding down: 17 -> 8)")
            }
        }
        return problems
    }
}

@Suite("DenseNet exercises")
struct DenseNetExercises {
    @Test("exercise 1: denseBlockForward feeds every layer the concatenation of everything before it")
    func forward() {
        let problems = DenseNetGraders.forward { denseBlockForward($0, $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "denseBlockForward"))")
    }

    @Test("exercise 2: denseBlockBackward adds each layer's input gradient back onto the old features")
    func backward() {
        let problems = DenseNetGraders.backward(forward: { denseBlockForward($0, $1) }, backward: { denseBlockBackward($0, $1) })
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "denseBlockBackward"))")
    }

    @Test("exercise 3: denseNetBlockChannels counts C_0 + L k per block and halves between blocks")
    func channels() {
        let problems = DenseNetGraders.channels { denseNetBlockChannels(initialFeatures: $0, growthRate: $1, blockConfig: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "denseNetBlockChannels"))")
    }
}

@Suite("DenseNet graders refuse wrong answers")
struct DenseNetGradersRefuseWrongAnswers {
    @Test("layers fed only the previous layer's output fail the forward grader")
    func chainedLayers() {
        let problems = DenseNetGraders.forward { x, block in
            // A ResNet-style chain cannot even be shaped like a dense block: each layer needs
            // C_0 + (l-1) k channels. Feed it everything, but concatenate the new maps FIRST.
            var features = x
            let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
            for layer in block.layers {
                let new = layer(features)
                let channels = [new.shape[1], features.shape[1]]
                features = Tensor(shape: [n, channels[0] + channels[1], h, w],
                                  data: Naive.concatenateChannels([new.data, features.data], channels: channels, batch: n, spatial: h * w))
            }
            return features
        }
        #expect(!problems.isEmpty)
    }

    @Test("a backward pass that drops the layers' input gradients fails its grader")
    func droppedInputGradient() {
        let problems = DenseNetGraders.backward(forward: { denseBlockForward($0, $1) }, backward: { dy, block in
            var g = dy
            let (n, h, w) = (dy.shape[0], dy.shape[2], dy.shape[3])
            for layer in block.layers.reversed() {
                let old = g.shape[1] - block.growthRate
                let parts = Naive.concatenateChannelsBackward(outputGradient: g.data, channels: [old, block.growthRate], batch: n, spatial: h * w)
                _ = layer.backward(Tensor(shape: [n, block.growthRate, h, w], data: parts[1]))
                g = Tensor(shape: [n, old, h, w], data: parts[0])
            }
            return g
        })
        #expect(!problems.isEmpty && problems.first?.contains("added back") == true)
    }

    @Test("a channel count without the transitions' halving fails its grader")
    func noCompression() {
        let problems = DenseNetGraders.channels { initial, growth, config in
            var channels = initial
            return config.map { layers in channels += layers * growth; return channels }
        }
        #expect(!problems.isEmpty)
    }
}
