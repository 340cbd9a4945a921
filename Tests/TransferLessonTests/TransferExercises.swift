import ConvNetCore
import Foundation
import LeNetLesson
import Testing
import TestSupport
@testable import TransferLesson

// The graders of Lessons/Transfer/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum TransferGraders {
    /// Real digits [N, 1, 32, 32], scaled as the lessons do, with labels 0-4.
    static func digits(_ count: Int) -> (images: Tensor, labels: [Int]) {
        guard let split = try? LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: count, validationCount: 0, seed: 3, padding: 2) else {
            var g = SeededGenerator(seed: 5)
            return (Tensor.randomNormal([count, 1, 32, 32], using: &g), (0..<count).map { $0 % 5 })
        }
        var train = split.train
        train.normalize(mean: TransferLesson.pixelMean, std: TransferLesson.pixelStd)
        return (train.images, train.labels.map { $0 % 5 })
    }

    static let cuts = ["tanh1", "s2", "tanh3", "s4", "flatten", "tanh6"]

    static func frozenFeatures(_ answer: (LeNet5, String, Tensor) -> Tensor) -> [String] {
        var problems: [String] = []
        let model = LeNet5.transfer(classes: 10, seed: 21)
        let x = digits(6).images
        let activations = model.activations(of: x)
        for cut in cuts {
            let expected = activations.first { $0.name == cut }!.output
            let got = answer(model, cut, x)
            guard got.shape == expected.shape else {
                problems.append("frozenFeatures through \(cut): the result has shape \(got.shape), LeNet-5's output of \(cut) has shape \(expected.shape): run the layers up to AND including \(cut), and no further")
                continue
            }
            if let p = Grading.check("frozenFeatures", on: "the cut after \(cut)", got: got.data.map(Double.init), expected: expected.data.map(Double.init),
                                     shape: expected.shape, tolerance: 1e-6,
                                     usualMistakes: "Usual mistakes: stopping before the named layer (the convolution's output without its tanh), a layer skipped, the layers called on the images instead of on the previous output.") {
                problems.append(p)
            }
        }
        return problems
    }

    static func newHead(_ answer: (LeNet5, Int, UInt64) -> LeNet5) -> [String] {
        var problems: [String] = []
        let pretrained = LeNet5.transfer(classes: 10, seed: 31)
        let before = pretrained.stateDict()
        for classes in [5, 10, 3] {
            let model = answer(pretrained, classes, 77)
            let tensors = model.stateDict()
            if model === pretrained { problems.append("withNewHead returned the pretrained net itself: build a new LeNet5"); break }
            if tensors["output.weight"]?.shape != [classes, 84] || tensors["output.bias"]?.shape != [classes] {
                problems.append("withNewHead(classes: \(classes)): the output layer has weight \(tensors["output.weight"]?.shape ?? []) and bias \(tensors["output.bias"]?.shape ?? []), expected [\(classes), 84] and [\(classes)]: the new net is LeNet5(c3:classes:)")
                continue
            }
            for name in ["c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.weight", "c5.bias", "f6.weight", "f6.bias"] where tensors[name] != before[name] {
                problems.append("withNewHead(classes: \(classes)): \(name) is not the pretrained one: every layer but the output keeps the pretrained weights")
                break
            }
            if classes == 10 && tensors["output.weight"] == before["output.weight"] {
                problems.append("withNewHead(classes: 10): the output layer is still the pretrained one: the head must be replaced by a new, random one (initialised from the seed), even when the class counts agree")
            }
            let fresh = tensors["output.weight"]!.data
            if fresh.allSatisfy({ $0 == 0 }) || Set(fresh).count < fresh.count / 2 {
                problems.append("withNewHead(classes: \(classes)): the new output weights are zero or constant: initialise them (Xavier, from the seed), or every class starts the same")
            }
            // Training the new net must leave the pretrained one alone.
            let (x, labels) = digits(4)
            let (_, dLogits) = Loss.crossEntropy(model(x), targets: labels.map { $0 % classes })
            model.zeroGradients()
            _ = model.backward(dLogits)
            SGD(parameters: model.parameters, learningRate: 0.1).step()
            if pretrained.stateDict() != before {
                problems.append("withNewHead: training the new net changed the pretrained one: they share layers; copy the values into a new LeNet5 instead")
                break
            }
        }
        return problems
    }

    static func frozenStep(_ answer: (LeNet5, String, Tensor, [Int], Float) -> Float) -> [String] {
        var problems: [String] = []
        let (x, labels) = digits(8)
        for cut in ["tanh3", "s4", "tanh6"] {
            let mine = LeNet5.transfer(classes: 5, seed: 41), reference = LeNet5.transfer(classes: 5, seed: 41)
            let before = mine.stateDict()
            let net = TransferSplit.frozen(reference, through: TransferCut.allCases.first { $0.lastFrozenChild == cut }!)
            let (expectedLoss, dLogits) = Loss.crossEntropy(net(x), targets: labels)
            net.zeroGradients()
            _ = net.backward(dLogits)
            SGD(parameters: net.parameters, learningRate: 0.1).step()
            let loss = answer(mine, cut, x, labels, 0.1)
            if abs(loss - expectedLoss) > 1e-5 * max(1, abs(expectedLoss)) {
                problems.append("frozenStep through \(cut): returned loss \(loss), expected \(expectedLoss) (the mean cross-entropy of the logits BEFORE the step)")
            }
            let trained = Set(net.namedParameters().map(\.name))
            let got = mine.stateDict(), expected = reference.stateDict()
            for (name, _) in mine.namedParameters() {
                if !trained.contains(name) {
                    if got[name] != before[name] {
                        problems.append("frozenStep through \(cut): \(name) changed, but it is below the cut: frozen layers are neither back-propagated into nor updated")
                        break
                    }
                } else if let p = Grading.check("frozenStep", on: "through \(cut): \(name) after the step", got: got[name]!.data.map(Double.init),
                                                expected: expected[name]!.data.map(Double.init), shape: expected[name]!.shape, tolerance: 1e-5,
                                                usualMistakes: "Usual mistakes: gradients not zeroed first, the step w + lr g instead of w - lr g, a layer above the cut left out of the backward pass or the update.") {
                    problems.append(p)
                    break
                }
            }
        }
        return problems
    }
}

@Suite("Transfer exercises")
struct TransferExercises {
    @Test("exercise 1: frozenFeatures runs LeNet-5 up to and including the cut")
    func features() {
        let problems = TransferGraders.frozenFeatures { frozenFeatures($0, through: $1, $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "frozenFeatures"))")
    }

    @Test("exercise 2: withNewHead keeps C1-F6 and replaces the output layer with a new one")
    func head() {
        let problems = TransferGraders.newHead { withNewHead($0, classes: $1, seed: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "withNewHead"))")
    }

    @Test("exercise 3: frozenStep back-propagates and updates only above the cut")
    func step() {
        let problems = TransferGraders.frozenStep { frozenStep($0, frozenThrough: $1, $2, $3, learningRate: $4) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "frozenStep"))")
    }
}

@Suite("Transfer graders refuse wrong answers")
struct TransferGradersRefuseWrongAnswers {
    @Test("features taken before the named layer (a convolution without its tanh) fail the features grader")
    func stopsOneEarly() {
        let problems = TransferGraders.frozenFeatures { model, cut, x in
            var y = x
            for (name, layer) in model.children {
                if name == cut { break }
                y = layer(y)
            }
            return y
        }
        #expect(!problems.isEmpty)
    }

    @Test("keeping the pretrained output layer (the whole state dict copied) fails the head grader")
    func oldHeadKept() {
        let problems = TransferGraders.newHead { pretrained, classes, seed in
            let model = LeNet5(c3: pretrained.c3, classes: classes).initialize(seed: seed, scheme: .xavier)
            let old = Dictionary(uniqueKeysWithValues: pretrained.namedParameters().map { ($0.name, $0.parameter.value) })
            for (name, p) in model.namedParameters() where old[name]?.shape == p.shape { p.value = old[name]! }
            return model
        }
        #expect(problems.contains { $0.contains("still the pretrained one") })
    }

    @Test("a step that back-propagates through everything and updates every layer fails the frozen-step grader")
    func everythingTrained() {
        let problems = TransferGraders.frozenStep { model, _, x, labels, rate in
            let (loss, dLogits) = Loss.crossEntropy(model(x), targets: labels)
            model.zeroGradients()
            _ = model.backward(dLogits)
            SGD(parameters: model.parameters, learningRate: rate).step()
            return loss
        }
        #expect(problems.contains { $0.contains("below the cut") })
    }
}
