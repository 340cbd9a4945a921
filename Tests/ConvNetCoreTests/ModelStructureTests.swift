import Foundation
import Testing
@testable import ConvNetCore

/// The names and shapes in a safetensors file's JSON header (read here directly, so the
/// test depends only on the format: 8-byte little-endian length, then the header).
private func safetensorsHeader(_ path: String) throws -> [String: [Int]] {
    let data = try Data(contentsOf: FixtureLocator.url(path))
    let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
    var shapes: [String: [Int]] = [:]
    for (name, entry) in header where name != "__metadata__" {
        let shape = try #require((entry as? [String: Any])?["shape"] as? [Any])
        shapes[name] = shape.map { ($0 as? NSNumber)?.intValue ?? -1 }
    }
    return shapes
}

/// Names and shapes of every parameter and buffer of a model.
private func modelShapes(_ model: Layer) -> [String: [Int]] {
    var shapes: [String: [Int]] = [:]
    for (name, p) in model.namedParameters() { shapes[name] = p.shape }
    for (name, b) in model.namedBuffers() { shapes[name] = b.shape }
    return shapes
}

@Suite("Models name their tensors as torchvision does")
struct ModelStructureTests {
    @Test("a ResNet with one basic block per stage has exactly the tensors of torchvision's state_dict")
    func resNetNamesMatchTorchvision() throws {
        let expected = try safetensorsHeader("models-public/resnet_basic_1111.safetensors")
        let model = ResNet(block: .basic, layers: [1, 1, 1, 1], classes: 10)
        #expect(modelShapes(model) == expected)
        #expect(model.namedParameters().map(\.name).contains("layer2.0.downsample.0.weight"))
        #expect(model.namedBuffers().map(\.name).contains("layer1.0.bn1.running_mean"))
    }

    @Test("CIFAR ResNet-8 has exactly the tensors of reference_models.py, and its gradients are its parameters")
    func cifarNamesMatchReference() throws {
        let model = CifarResNet(depth: 8)
        #expect(modelShapes(model) == (try safetensorsHeader("grads-public/cifar_resnet8.safetensors")))
        let gradientNames = try safetensorsHeader("grads-public/cifar_resnet8.grads.safetensors")
        #expect(Set(model.namedParameters().map(\.name)) == Set(gradientNames.keys))
        #expect(model.parameterCount == 78_042)
    }

    @Test("pre-activation CIFAR nets have bn_final and projections without batch norm")
    func preActivationNames() {
        let names = Set(CifarResNet(depth: 8, preActivation: true).namedParameters().map(\.name))
        #expect(names.contains("bn_final.weight"))
        #expect(!names.contains("bn1.weight"))
        #expect(names.contains("layer2.0.downsample.0.weight"))
        #expect(!names.contains("layer2.0.downsample.1.weight"))
        #expect(!CifarResNet(depth: 8, residual: false).namedParameters().contains { $0.name.contains("downsample") })
    }

    @Test("DenseNet, GoogLeNet and Inception-v3 use torchvision's names")
    func otherFamiliesNames() {
        let dense = Set(DenseNet.densenet121().namedParameters().map(\.name))
        for name in ["features.conv0.weight", "features.denseblock1.denselayer1.norm1.weight",
                     "features.denseblock4.denselayer16.conv2.weight", "features.transition3.conv.weight",
                     "features.norm5.bias", "classifier.weight"] {
            #expect(dense.contains(name), "\(name)")
        }
        let google = Set(GoogLeNet(auxiliaryClassifiers: true).namedParameters().map(\.name))
        for name in ["conv1.conv.weight", "conv1.bn.weight", "inception3a.branch1.conv.weight",
                     "inception3a.branch2.1.bn.bias", "inception5b.branch4.1.conv.weight",
                     "aux1.conv.conv.weight", "aux2.fc1.weight", "aux2.fc2.bias", "fc.weight"] {
            #expect(google.contains(name), "\(name)")
        }
        let inception = Set(InceptionV3(auxiliaryClassifier: true).namedParameters().map(\.name))
        for name in ["Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch5x5_1.conv.weight", "Mixed_5b.branch_pool.bn.weight",
                     "Mixed_6e.branch7x7dbl_5.conv.weight", "Mixed_7b.branch3x3_2a.conv.weight",
                     "Mixed_7c.branch3x3dbl_3b.bn.bias", "AuxLogits.conv1.conv.weight", "AuxLogits.fc.weight"] {
            #expect(inception.contains(name), "\(name)")
        }
        let vgg = Set(VGG(.D, batchNorm: true).namedParameters().map(\.name))
        #expect(vgg.contains("features.1.weight") && vgg.contains("classifier.6.bias"))
        let alexnet = Set(AlexNet(.torchvision).namedParameters().map(\.name))
        #expect(alexnet == ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                            "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias",
                            "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                            "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"])
    }

    @Test("a state dict round-trips, and a missing or misshapen tensor is an error naming it and both shapes")
    func stateDictLoading() throws {
        let model = CifarResNet(depth: 8).initialize(seed: 1)
        var dict = model.stateDict()
        #expect(dict["layer1.0.bn1.num_batches_tracked"]?.shape == [])
        let other = CifarResNet(depth: 8).initialize(seed: 2)
        try other.loadStateDict(dict)
        #expect(other.stateDict() == dict)

        dict["layer1.0.bn1.num_batches_tracked"] = nil        // optional, as PyTorch's I64 counters
        try other.loadStateDict(dict)

        var missing = dict
        missing["layer3.0.conv2.weight"] = nil
        #expect(throws: StateDictError.missing(name: "layer3.0.conv2.weight", expectedShape: [64, 64, 3, 3])) {
            try other.loadStateDict(missing)
        }
        var wrong = dict
        wrong["fc.weight"] = Tensor.zeros([10, 32])
        let before = other.stateDict()
        #expect(throws: StateDictError.wrongShape(name: "fc.weight", expected: [10, 64], got: [10, 32])) {
            try other.loadStateDict(wrong)
        }
        #expect(other.stateDict() == before, "a failed load changes nothing")
        let message = StateDictError.wrongShape(name: "fc.weight", expected: [10, 64], got: [10, 32]).description
        #expect(message.contains("fc.weight") && message.contains("[10, 64]") && message.contains("[10, 32]"))

        var extra = dict
        extra["fc.scale"] = Tensor.zeros([1])
        #expect(throws: StateDictError.unexpected(names: ["fc.scale"])) { try other.loadStateDict(extra) }
        try other.loadStateDict(extra, strict: false)
    }

    @Test("He initialisation draws conv weights with variance 2/fan_out; batch norm starts as the identity")
    func heInitialisation() {
        let conv = Conv2d(64, 256, kernel: 3, bias: true)
        let bn = BatchNorm2d(8)
        let net = Sequential(conv, bn).initialize(seed: 7)
        let w = conv.weight.value.data
        let variance = w.reduce(0) { $0 + Double($1) * Double($1) } / Double(w.count)
        let expected = 2.0 / Double(256 * 9)
        #expect(abs(variance / expected - 1) < 0.02)
        #expect(conv.bias!.value.data.allSatisfy { $0 == 0 })
        #expect(bn.weight.value.data.allSatisfy { $0 == 1 } && bn.bias.value.data.allSatisfy { $0 == 0 })
        #expect(bn.runningMean.value.data.allSatisfy { $0 == 0 } && bn.runningVariance.value.data.allSatisfy { $0 == 1 })
        // The same seed gives the same model; another seed another one.
        let again = Sequential(Conv2d(64, 256, kernel: 3), BatchNorm2d(8)).initialize(seed: 7)
        #expect(again.stateDict() == net.stateDict())
        let other = Sequential(Conv2d(64, 256, kernel: 3), BatchNorm2d(8)).initialize(seed: 8)
        #expect(other.stateDict() != net.stateDict())
    }

    @Test("Xavier initialisation stays within sqrt(6 / (fan_in + fan_out)) and fills that range")
    func xavierInitialisation() {
        let linear = Linear(300, 100)
        linear.initialize(seed: 3, scheme: .xavier)
        let bound = Float((6.0 / 400.0).squareRoot())
        let w = linear.weight.value.data
        #expect(w.allSatisfy { abs($0) <= bound })
        #expect(w.max()! > 0.95 * bound && w.min()! < -0.95 * bound)
        #expect(linear.bias!.value.data.allSatisfy { $0 == 0 })
    }

    @Test("LeNet-5's C3 table keeps 60 of 96 filters and holds the others at zero")
    func leNetConnectionTable() {
        let net = LeNet5(c3: .paperTable).initialize(seed: 1, scheme: .xavier)
        let c3 = net.namedParameters().first { $0.name == "c3.weight" }!.parameter
        #expect(c3.trainableCount == 60 * 25)
        let w = c3.value.data
        for o in 0..<16 {
            for c in 0..<6 {
                let connected = LeNet5.c3ConnectionTable[o].contains(c)
                let filter = w[(o * 6 + c) * 25..<(o * 6 + c + 1) * 25]
                #expect(filter.allSatisfy { $0 == 0 } == !connected, "C3 map \(o), S2 map \(c)")
            }
        }
        c3.accumulateGradient([Float](repeating: 1, count: c3.count))
        #expect(c3.gradient.data.reduce(0, +) == 1_500)
    }

    @Test("training mode and kernel choice reach every layer of a model")
    func modesPropagate() {
        let net = ResNet(block: .bottleneck, layers: [1, 1, 1, 1], classes: 10)
        #expect(net.namedLayers().allSatisfy { $0.layer.isTraining && $0.layer.kernels == .fast })
        net.eval()
        net.kernels = .naive
        #expect(net.namedLayers().allSatisfy { !$0.layer.isTraining && $0.layer.kernels == .naive })
    }

    @Test("VGG-16 counts its 138,357,544 parameters without allocating any")
    func lazyParameters() {
        let net = VGG(.D)
        #expect(net.parameterCount == 138_357_544)
        #expect(net.parameters.allSatisfy { !$0.isMaterialized })
    }
}
