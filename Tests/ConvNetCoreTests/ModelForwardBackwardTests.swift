import Foundation
import Testing
@testable import ConvNetCore

/// Runs `model` on `x` with both kernel sets, forward and (with upstream gradient `dy`)
/// backward, and returns the worst relative errors of the logits, the input gradient and
/// every parameter gradient, naive against fast.
private struct KernelComparison: CustomStringConvertible {
    var logits: Double, input: Double, parameters: Double, worst: String
    /// Logits within 1e-4, gradients within 1e-3 (summation orders differ between the kernels).
    var agrees: Bool { logits < 1e-4 && input < 1e-3 && parameters < 1e-3 }
    var description: String { "logits \(logits), input gradient \(input), worst parameter gradient \(worst) \(parameters)" }
}

private func compareKernels(_ model: Layer, _ x: Tensor, seed: UInt64 = 9) -> KernelComparison {
    var results: [(y: Tensor, dx: Tensor, grads: [String: [Float]])] = []
    for choice in [KernelChoice.fast, .naive] {
        model.kernels = choice
        model.zeroGradients()
        let snapshot = model.namedBuffers().map { $0.buffer.value }
        let y = model(x)
        for (b, v) in zip(model.namedBuffers().map(\.buffer), snapshot) { b.value = v }   // same running stats both times
        let dy = Tensor(shape: y.shape, data: randomArray(y.count, seed: seed))
        let dx = model.backward(dy)
        results.append((y, dx, Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter.gradient.data) })))
    }
    model.kernels = .fast
    // Each gradient tensor is compared relative to its own largest entry, but never to less
    // than 1% of the largest gradient in the model: some gradients are zero analytically
    // (a batch norm whose output only feeds training-mode batch norms gets dL/dgamma = 0)
    // and their rounding noise is no error.
    let floor = 0.01 * results[0].grads.values.map { g in g.map { abs(Double($0)) }.max() ?? 0 }.max()!
    var worstParameter = 0.0, worstName = ""
    for (name, fast) in results[0].grads {
        let naive = results[1].grads[name]!
        let diff = zip(naive, fast).map { abs(Double($0) - Double($1)) }.max()!
        let e = diff / max(fast.map { abs(Double($0)) }.max()!, floor)
        if e > worstParameter { worstParameter = e; worstName = name }
    }
    return KernelComparison(logits: relativeError(results[1].y.data, results[0].y.data),
                            input: relativeError(results[1].dx.data, results[0].dx.data),
                            parameters: worstParameter, worst: worstName)
}

private func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor(shape: shape, data: randomArray(shape.reduce(1, *), seed: seed))
}

/// Central differences of L = sum(model(x) * dy) for a few entries of each named parameter,
/// in Float; returns the worst |numeric - analytic| / (max |analytic gradient of that tensor|).
private func finiteDifferenceError(_ model: Layer, _ x: Tensor, names: [String], step: Float = 1e-3) -> (error: Double, name: String) {
    let y = model(x)
    let dy = Tensor(shape: y.shape, data: randomArray(y.count, seed: 77))
    model.zeroGradients()
    _ = model.backward(dy)
    let byName = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter) })
    func loss() -> Double {
        let out = model(x)
        return zip(out.data, dy.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    var worst = 0.0, worstName = ""
    for name in names {
        let p = byName[name]!
        let analytic = p.gradient.data
        let scale = max(analytic.map { abs(Double($0)) }.max()!, 1e-6)
        for i in Set([0, p.count / 2, p.count - 1]) {
            let saved = p.value
            var plus = saved; plus.data[i] += step; p.value = plus
            let lPlus = loss()
            var minus = saved; minus.data[i] -= step; p.value = minus
            let lMinus = loss()
            p.value = saved
            let numeric = (lPlus - lMinus) / (2 * Double(step))
            let e = abs(numeric - Double(analytic[i])) / scale
            if e > worst { worst = e; worstName = "\(name)[\(i)]" }
        }
    }
    return (worst, worstName)
}

@Suite("Models run forward and backward on either kernel set")
struct ModelForwardBackwardTests {
    @Test("CIFAR ResNet-8 gives the same logits and gradients on fast and naive kernels, training and inference")
    func cifarResNetFastEqualsNaive() {
        for (preActivation, residual) in [(false, true), (true, true), (false, false), (true, false)] {
            let model = CifarResNet(depth: 8, preActivation: preActivation, residual: residual).initialize(seed: 1)
            let x = randomInput([2, 3, 12, 12], seed: 2)
            for training in [true, false] {
                model.isTraining = training
                let r = compareKernels(model, x)
                #expect(r.agrees, "pre-activation \(preActivation), residual \(residual): \(r)")
            }
        }
    }

    @Test("without an input gradient a model's parameter gradients are unchanged and backward returns zeros")
    func noInputGradient() {
        for choice in [KernelChoice.fast, .naive] {
            let model = CifarResNet(depth: 8).initialize(seed: 3)
            model.kernels = choice
            let x = randomInput([2, 3, 10, 10], seed: 4)
            var gradients: [[[Float]]] = []
            for required in [true, false] {
                model.inputGradientRequired = required
                model.zeroGradients()
                let y = model(x)
                let dx = model.backward(Tensor(shape: y.shape, data: randomArray(y.count, seed: 5)))
                #expect(dx.shape == x.shape)
                #expect(required ? dx.data.contains { $0 != 0 } : dx.data.allSatisfy { $0 == 0 }, "\(choice), required \(required)")
                gradients.append(model.parameters.map(\.gradient.data))
            }
            #expect(gradients[0] == gradients[1], "\(choice)")
        }
    }

    @Test("a torchvision ResNet and its blocks (basic, bottleneck, grouped bottleneck) agree on both kernel sets")
    func resNetFastEqualsNaive() {
        let blocks: [Layer] = [BasicBlock(8, 16, stride: 2), Bottleneck(16, 8, stride: 2),
                               Bottleneck(32, 8, stride: 1, groups: 4, baseWidth: 16), Bottleneck(32, 8)]
        for block in blocks {
            block.initialize(seed: 3)
            let r = compareKernels(block, randomInput([2, block.namedParameters()[0].parameter.shape[1], 9, 9], seed: 4))
            #expect(r.agrees, "\(block): \(r)")
        }
        // Batch 2 at 40x40 leaves layer4 2x2 maps: 8 values per batch norm channel.
        let model = ResNet(block: .basic, layers: [1, 1, 1, 1], classes: 10).initialize(seed: 3)
        let r = compareKernels(model, randomInput([2, 3, 40, 40], seed: 4))
        #expect(r.agrees, "\(model): \(r)")
    }

    @Test("ResNet-18 and ResNet-50 give the same logits on the naive kernels as on the fast ones (32x32 input)")
    func fullResNetsFastEqualsNaive() {
        for model in [ResNet.resnet18(), ResNet.resnet50()] {
            model.initialize(seed: 5)
            model.eval()
            let x = randomInput([1, 3, 32, 32], seed: 6)
            let fast = model(x)
            model.kernels = .naive
            let naive = model(x)
            #expect(fast.shape == [1, 1000])
            #expect(relativeError(naive.data, fast.data) < 1e-4, "\(model)")
        }
    }

    @Test("a small DenseNet concatenates and back-propagates the same on both kernel sets")
    func denseNetFastEqualsNaive() {
        let model = DenseNet(growthRate: 4, blockConfig: [2, 3], initialFeatures: 8, bnSize: 2, classes: 5).initialize(seed: 7)
        let r = compareKernels(model, randomInput([2, 3, 32, 32], seed: 8))
        #expect(r.agrees, "\(r)")
    }

    /// An Inception module between a stem and a classifier, with an auxiliary head on the module.
    private func tinyInceptionNet() -> NetworkWithAuxiliaryHeads {
        NetworkWithAuxiliaryHeads(trunk: [
            ("stem", BasicConv2d(3, 8, kernel: 3, padding: 1)),
            ("mix", InceptionModule(8, 4, 4, 6, 2, 3, 3)),
            ("pool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(16, 5)),
        ], heads: [("aux", after: "mix", head: Sequential(AdaptiveAvgPool2d(2), Flatten(), Linear(64, 5)))])
    }

    @Test("an Inception module with an auxiliary head runs the same on both kernel sets")
    func inceptionFastEqualsNaive() {
        let model = tinyInceptionNet().initialize(seed: 9)
        let r = compareKernels(model, randomInput([2, 3, 9, 9], seed: 10))
        #expect(r.agrees, "\(r)")
        #expect(model.auxiliaryLogits.count == 1 && model.auxiliaryLogits[0].shape == [2, 5])
        model.eval()
        _ = model(randomInput([2, 3, 9, 9], seed: 10))
        #expect(model.auxiliaryLogits.isEmpty, "auxiliary heads run only in training")
    }

    @Test("backward with the auxiliary gradient adds the head's gradient into the trunk (finite differences)")
    func auxiliaryGradient() {
        let model = tinyInceptionNet().initialize(seed: 11)
        model.kernels = .naive
        let x = randomInput([2, 3, 7, 7], seed: 12)
        let y = model(x)
        let dy = Tensor(shape: y.shape, data: randomArray(y.count, seed: 13))
        let da = Tensor(shape: [2, 5], data: randomArray(10, seed: 14))
        model.zeroGradients()
        _ = model.backward(dy, auxiliaryGradients: [da])
        let p = model.namedParameters().first { $0.name == "stem.conv.weight" }!.parameter
        let analytic = p.gradient.data
        func loss() -> Double {
            let out = model(x)
            let aux = model.auxiliaryLogits[0]
            let main: Double = zip(out.data, dy.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            let auxiliary: Double = zip(aux.data, da.data).reduce(0.0) { $0 + Double($1.0 * $1.1) }
            return main + auxiliary
        }
        let h: Float = 1e-3
        let scale = analytic.map { abs(Double($0)) }.max()!
        for i in [0, 40, 100, 215] {
            let saved = p.value
            var v = saved; v.data[i] += h; p.value = v
            let plus = loss()
            v = saved; v.data[i] -= h; p.value = v
            let minus = loss()
            p.value = saved
            let numeric = (plus - minus) / Double(2 * h)
            let error = abs(numeric - Double(analytic[i])) / scale
            #expect(error < 2e-2, "entry \(i): numeric \(numeric), analytic \(analytic[i])")
        }
    }

    @Test("the backward pass of a small residual net matches finite differences (Float, training mode)")
    func finiteDifferences() {
        for preActivation in [false, true] {
            let model = CifarResNet(depth: 8, preActivation: preActivation, widths: [3, 4, 5], classes: 3).initialize(seed: 15)
            model.kernels = .naive
            var names = ["conv1.weight", "layer2.0.conv1.weight", "layer2.0.downsample.0.weight", "layer3.0.bn2.weight",
                         "layer3.0.bn2.bias", "fc.weight", "fc.bias"]
            if preActivation { names += ["bn_final.weight"] } else { names += ["layer2.0.downsample.1.weight"] }
            let r = finiteDifferenceError(model, randomInput([3, 3, 8, 8], seed: 16), names: names)
            #expect(r.error < 2e-2, "\(preActivation ? "pre" : "post")-activation, \(r.name): \(r.error)")
        }
    }

    @Test("the forward output of each small builder has the shape its summary computes")
    func shapesAgreeWithSummaries() {
        let cases: [(Layer, [Int])] = [
            (LeNet5(), [2, 1, 32, 32]), (LeNet5(c3: .paperTable, c5: .linear), [2, 1, 32, 32]),
            (CifarResNet(depth: 8, residual: false), [1, 3, 16, 16]),
            (NetworkInNetwork(), [1, 3, 32, 32]),
            (DenseNet(growthRate: 4, blockConfig: [1, 1, 1, 1], initialFeatures: 8, classes: 7), [1, 3, 40, 40]),
        ]
        for (model, input) in cases {
            model.initialize(seed: 17)
            model.eval()
            let y = model(randomInput(input, seed: 18))
            #expect(y.shape == model.outputShape(for: input), "\(model)")
        }
    }

    @Test("batch norm in training blends the unbiased batch variance into its running variance (momentum 0.1)")
    func batchNormRunningStatistics() {
        let bn = BatchNorm2d(1).initialize(seed: 0)
        let x = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 6])    // mean 3, biased var 3.5, unbiased 14/3
        _ = bn(x)
        #expect(abs(bn.runningMean.value.data[0] - 0.3) < 1e-6)
        let expectedVariance: Float = 0.9 + 0.1 * 14.0 / 3.0
        #expect(abs(bn.runningVariance.value.data[0] - expectedVariance) < 1e-6)
        #expect(bn.batchesTracked.value.data == [1])
        bn.eval()
        _ = bn(x)
        #expect(bn.batchesTracked.value.data == [1], "inference leaves the statistics alone")
    }

    @Test("dropout zeroes about p of the activations in training, scales the rest by 1/(1-p), and is the identity in inference")
    func dropout() {
        let layer = Dropout(probability: 0.25, seed: 3)
        let x = Tensor(shape: [1, 4000], repeating: 1)
        let y = layer(x)
        let zeros = y.data.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 4000 - 0.25) < 0.03)
        let scale: Float = 4.0 / 3.0
        #expect(y.data.allSatisfy { $0 == 0 || abs($0 - scale) < 1e-6 })
        let dx = layer.backward(Tensor(shape: [1, 4000], repeating: 1))
        #expect(dx == y, "the gradient flows through the kept units only, scaled alike")
        layer.eval()
        #expect(layer(x) == x)
    }

    @Test("a few SGD steps lower the training loss of a small CIFAR ResNet")
    func trainingLowersLoss() {
        let model = CifarResNet(depth: 8, widths: [4, 8, 8], classes: 2).initialize(seed: 19)
        let x = randomInput([8, 3, 8, 8], seed: 20)
        let targets = [0, 1, 0, 1, 1, 0, 1, 0]
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        var losses: [Float] = []
        for _ in 0..<15 {
            let (loss, dLogits) = Loss.crossEntropy(model(x), targets: targets)
            losses.append(loss)
            model.zeroGradients()
            _ = model.backward(dLogits)
            optimizer.step()
        }
        #expect(losses.last! < 0.5 * losses.first!, "\(losses)")
    }

    @Test("weights saved as safetensors load into a fresh model that gives the same logits")
    func saveAndLoad() throws {
        let model = CifarResNet(depth: 8).initialize(seed: 21)
        let x = randomInput([2, 3, 8, 8], seed: 22)
        _ = model(x)                     // one training step's statistics, so buffers are not at their defaults
        model.eval()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UInt32.random(in: 0...UInt32.max)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let copy = CifarResNet(depth: 8)
        try copy.load(from: url)
        copy.eval()
        #expect(copy(x) == model(x))
        #expect(copy.stateDict() == model.stateDict())
    }
}
