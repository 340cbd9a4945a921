import ConvNetCore
import Foundation
import Testing
@testable import LeNetLesson

// Facts about LeNet-5, each a test that fails when the fact does not hold. Read them as
// exercises: change the model or a kernel and see which fact breaks.

@Suite("Facts about LeNet-5")
struct LeNetFacts {
    /// A model with weights, on the lesson's fast kernels.
    func model(_ c3: LeNet5.C3Connections = .full, seed: UInt64 = 1) -> LeNet5 {
        LeNet5.lesson(c3: c3, seed: seed)
    }

    /// `count` real digits of MNIST-5k, padded to 32x32 and scaled as the lesson does.
    func digits(_ count: Int) throws -> (images: Tensor, labels: [Int]) {
        var data = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k"), padding: 2)
        data.normalize(mean: LeNet5Lesson.pixelMean, std: LeNet5Lesson.pixelStd)
        let picked = data.split(trainCount: count, validationCount: 0, seed: 7).train
        return (picked.images, picked.labels)
    }

    @Test("n_H and n_W shrink while n_C grows: 32x32x1, 28x28x6, 14x14x6, 10x10x16, 5x5x16, 120, 84, 10")
    func shapes() {
        let net = model()
        var g = SeededGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 1, 32, 32], using: &g)
        let shapes = Dictionary(uniqueKeysWithValues: net.activations(of: x).map { ($0.name, $0.output.shape) })
        #expect(shapes["c1"] == [2, 6, 28, 28])
        #expect(shapes["s2"] == [2, 6, 14, 14])
        #expect(shapes["c3"] == [2, 16, 10, 10])
        #expect(shapes["s4"] == [2, 16, 5, 5])
        #expect(shapes["c5"] == [2, 120, 1, 1])
        #expect(shapes["f6"] == [2, 84])
        #expect(shapes["output"] == [2, 10])
        // The shapes traced without computing anything agree with the computed ones.
        let traced = net.summary(inputShape: [2, 1, 32, 32]).rows
        for row in traced { #expect(shapes[row.name] == row.outputShape, "\(row.name)") }
    }

    @Test("C1 has 156 parameters, C3 2,416, C5 48,120, F6 10,164, the output 850: 61,706 in all")
    func parameterCounts() {
        let counts = Dictionary(uniqueKeysWithValues: model().children.map { ($0.name, $0.layer.parameterCount) })
        #expect(counts["c1"] == 5 * 5 * 1 * 6 + 6)
        #expect(counts["s2"] == 0)                          // plain averaging: nothing to learn
        #expect(counts["c3"] == 5 * 5 * 6 * 16 + 16)
        #expect(counts["s4"] == 0)
        #expect(counts["c5"] == 5 * 5 * 16 * 120 + 120)
        #expect(counts["f6"] == 120 * 84 + 84)
        #expect(counts["output"] == 84 * 10 + 10)
        #expect(model().parameterCount == 61_706)
    }

    @Test("the fully connected C5 and F6 hold 94% of the parameters; the convolutions do 86% of the multiplies")
    func whereParametersAndWorkAre() {
        let summary = model().summary(inputShape: [1] + LeNet5.inputShape)
        let parameters = Dictionary(uniqueKeysWithValues: summary.rows.map { ($0.name, $0.parameters) })
        let macs = Dictionary(uniqueKeysWithValues: summary.rows.map { ($0.name, $0.macs) })
        let dense = Double(parameters["c5"]! + parameters["f6"]!) / Double(summary.parameters)
        let convolutionWork = Double(macs["c1"]! + macs["c3"]!) / Double(summary.macs)
        #expect(dense > 0.94 && dense < 0.95)
        #expect(convolutionWork > 0.85 && convolutionWork < 0.87)
        #expect(summary.macs == 416_520)
    }

    @Test("the lesson's model is the one `lesson summary lenet5_full_c3` counts, and the published counts agree")
    func sameAsTheZoo() throws {
        let zoo = try ModelZoo.summary("lenet5_full_c3")
        let mine = model().summary(inputShape: [1] + LeNet5.inputShape)
        #expect(zoo.rows == mine.rows)
        let data = try Data(contentsOf: FixtureLocator.url("torchvision-counts.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let entry = (json?["models"] as? [String: Any])?["lenet5_full_c3"] as? [String: Any]
        #expect((entry?["parameters"] as? NSNumber)?.intValue == mine.parameters)
        #expect((entry?["macs"] as? NSNumber)?.intValue == mine.macs)
    }

    @Test("with the paper's Table I, C3 sees 60 of the 96 S2-C3 map pairs and has 1,516 parameters, as published")
    func partialC3() {
        let table = LeNetPaper.c3Sees
        #expect(table.count == 16)
        #expect(table.reduce(0) { $0 + $1.count } == 60)
        #expect(table.filter { $0.count == 3 }.count == 6)     // six maps see 3 contiguous S2 maps,
        #expect(table.filter { $0.count == 4 }.count == 9)     // nine see 4,
        #expect(table[15] == [0, 1, 2, 3, 4, 5])               // one sees all six
        let net = model(.paperTable)
        let c3 = net.children.first { $0.name == "c3" }!.layer
        #expect(c3.parameterCount == 60 * 25 + 16)
        #expect(c3.parameterCount == LeNetPaper.layers[2].parameters)
        #expect(net.parameterCount == 60_806)
        #expect(net.summary(inputShape: [1] + LeNet5.inputShape).macs == 326_520)
    }

    @Test("C1 to F6 of the paper have exactly 60,000 trainable parameters and 340,908 connections with the output")
    func paperTotals() {
        let trained = LeNetPaper.layers.filter { $0.name != "output" }
        #expect(trained.reduce(0) { $0 + $1.parameters } == LeNetPaper.trainableParameters)
        #expect(LeNetPaper.layers.reduce(0) { $0 + $1.connections } == LeNetPaper.connections)
        // A connection is a multiply, biases included: C1's = 28*28*6*(25 + 1).
        #expect(LeNetPaper.layers[0].connections == 28 * 28 * 6 * 26)
    }

    @Test("the weights are saved under their layer's names: c1.weight, c1.bias, ..., output.bias")
    func tensorNames() {
        #expect(model().namedParameters().map(\.name) == [
            "c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.weight", "c5.bias",
            "f6.weight", "f6.bias", "output.weight", "output.bias",
        ])
    }

    @Test("C5 is a fully connected layer: on a 5x5 input its 5x5 filters give what Linear(400, 120) gives")
    func c5IsFullyConnected() {
        let s = ValidConvolutionShape(input: FeatureMapShape(batch: 3, channels: 16, height: 5, width: 5), filters: 120, kernel: 5)
        let x: [Float] = randomArray(s.input.count, seed: 31)
        let w: [Float] = randomArray(s.weightCount, seed: 32)
        let b: [Float] = randomArray(120, seed: 33)
        let convolution = Fast.validConvolution(x, weight: w, bias: b, shape: s)
        let linear = Naive.linear(x, weight: w, bias: b, batch: 3, inFeatures: 400, outFeatures: 120)
        #expect(relativeError(convolution, linear) < 1e-5)
    }

    @Test("swapping the kernels changes the speed, not the numbers: lesson fast, lesson naive and the core's agree")
    func kernelsAgree() throws {
        let (x, labels) = try digits(4)
        var results: [(logits: Tensor, gradient: Tensor)] = []
        for setup in ["lesson fast", "lesson naive", "core fast"] {
            let net = model()
            if setup == "lesson naive" { net.customKernels = LeNetKernels(.naive) }
            if setup == "core fast" { net.customKernels = nil }
            let expected = ["lesson fast": "lenet-fast", "lesson naive": "lenet-naive", "core fast": "fast"][setup]!
            #expect(net.namedLayers().allSatisfy { $0.layer.backend.name == expected }, "every layer runs \(expected)")
            let logits = net(x)
            net.zeroGradients()
            _ = net.backward(Loss.crossEntropy(logits, targets: labels).gradient)
            let c3 = net.children.first { $0.name == "c3" }!.layer as! Conv2d
            results.append((logits, c3.weight.gradient))
        }
        for other in results.dropFirst() {
            #expect(relativeError(other.logits.data, results[0].logits.data) < 1e-5)
            #expect(relativeError(other.gradient.data, results[0].gradient.data) < 1e-4)
        }
    }

    @Test("a few steps of SGD on a small batch of real digits lower the loss")
    func trainingLowersTheLoss() throws {
        let (x, labels) = try digits(16)
        let net = model()
        let sgd = SGD(parameters: net.parameters, learningRate: 0.05, momentum: 0.9)
        let before = Loss.crossEntropy(net(x), targets: labels).loss
        for _ in 0..<10 {
            let (_, gradient) = Loss.crossEntropy(net(x), targets: labels)
            net.zeroGradients()
            _ = net.backward(gradient)
            sgd.step()
        }
        let after = Loss.crossEntropy(net(x), targets: labels).loss
        #expect(after < 0.5 * before, "loss \(before) -> \(after)")
    }

    @Test("the masked connections of the paper's C3 stay zero while it trains")
    func maskStaysZero() throws {
        let (x, labels) = try digits(8)
        let net = model(.paperTable)
        let sgd = SGD(parameters: net.parameters, learningRate: 0.05, momentum: 0.9)
        for _ in 0..<3 {
            net.zeroGradients()
            _ = net.backward(Loss.crossEntropy(net(x), targets: labels).gradient)
            sgd.step()
        }
        let w = (net.children.first { $0.name == "c3" }!.layer as! Conv2d).weight.value
        for (o, seen) in LeNetPaper.c3Sees.enumerated() {
            for c in 0..<6 where !seen.contains(c) {
                #expect(w.data[((o * 6 + c) * 25)..<((o * 6 + c + 1) * 25)].allSatisfy { $0 == 0 }, "C3 map \(o), S2 map \(c)")
            }
        }
    }

    @Test("a saved and reloaded model gives the same logits")
    func saveAndReload() throws {
        let (x, _) = try digits(4)
        let trained = model(seed: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lenet-facts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("lenet5.safetensors")
        try trained.save(to: url)
        let reloaded = model(seed: 2)                       // other weights, until loaded
        #expect(reloaded(x) != trained(x))
        try LeNet5Lesson.load(try Safetensors.read(url), into: reloaded, from: url)
        #expect(reloaded(x) == trained(x))
    }

    @Test("weights that do not fit LeNet-5 are refused with a one-line error naming the tensor")
    func wrongWeights() throws {
        var tensors = model().stateDict()
        tensors["c3.weight"] = Tensor.zeros([16, 6, 3, 3])
        let url = URL(fileURLWithPath: "/tmp/wrong.safetensors")
        let error = #expect(throws: LessonError.self) {
            try LeNet5Lesson.load(SafetensorsFile(tensors: tensors), into: model(), from: url)
        }
        #expect(error?.description.contains("c3.weight") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test("bad lesson options are refused with a one-line error")
    func badOptions() throws {
        func options(_ given: [String: String]) throws -> LessonOptions {
            try LessonOptions(outputDirectory: URL(fileURLWithPath: "/tmp"), fixtures: FixtureLocator.url(""),
                              declared: LeNet5Lesson.options, given: given)
        }
        for bad in [["c3": "half"], ["batch": "0"], ["colour": "red"], ["lr": "fast"], ["shift": "9"]] {
            let error = #expect(throws: LessonError.self) { _ = try options(bad) }
            #expect(error?.description.contains("--" + bad.keys.first!) == true)
            #expect(error?.description.contains("\n") == false)
        }
        let good = try options(["c3": "paper", "lr": "0.1"])
        #expect(good.choice("c3") == "paper" && good.number("lr") == 0.1 && good.integer("batch") == 32)
    }
}
