import Testing
@testable import ConvNetCore

/// A model with every batch norm given non-trivial statistics and affine parameters, so
/// folding them into the convolutions changes the weights for real.
private func withRandomBatchNorms<L: Layer>(_ model: L, seed: UInt64) -> L {
    var seed = seed
    for (_, layer) in model.namedLayers() {
        guard let bn = layer as? BatchNorm2d else { continue }
        seed += 4
        let c = bn.channels
        bn.weight.value = Tensor(shape: [c], data: randomArray(c, seed: seed).map { 1 + 0.5 * $0 })
        bn.bias.value = Tensor(shape: [c], data: randomArray(c, seed: seed + 1).map { 0.2 * $0 })
        bn.runningMean.value = Tensor(shape: [c], data: randomArray(c, seed: seed + 2).map { 0.3 * $0 })
        bn.runningVariance.value = Tensor(shape: [c], data: randomArray(c, seed: seed + 3).map { 0.5 + abs($0) })
    }
    return model
}

private func input(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor(shape: shape, data: randomArray(shape.reduce(1, *), seed: seed))
}

@Suite("Inference path (batch norm folded, ReLU and residual fused)")
struct InferenceTests {
    @Test("infer gives the eval forward's logits: ResNet basic and bottleneck, CIFAR ResNet post-, pre-activation and plain")
    func inferMatchesForward() {
        let models: [Layer] = [
            ResNet(block: .basic, layers: [1, 1, 1, 1], classes: 7),
            ResNet(block: .bottleneck, layers: [1, 1, 1, 1], classes: 5, groups: 2, widthPerGroup: 16),
            ResNet(block: .bottleneck, layers: [1, 1, 1, 1], classes: 5, widthPerGroup: 16),
            CifarResNet(depth: 8, widths: [4, 8, 8], classes: 3),
            CifarResNet(depth: 8, preActivation: true, widths: [4, 8, 8], classes: 3),
            CifarResNet(depth: 8, residual: false, widths: [4, 6, 8], classes: 3),
        ]
        for (i, model) in models.enumerated() {
            let m = withRandomBatchNorms(model.initialize(seed: UInt64(i + 1)), seed: UInt64(10 * i))
            m.eval()
            let size = m is ResNet ? 33 : 12
            let x = input([2, 3, size, size], seed: UInt64(100 + i))
            let reference = m.forward(x)
            let folded = m.infer(x)
            #expect(folded.shape == reference.shape)
            #expect(relativeError(folded.data, reference.data) < 1e-4, "\(i) \(m.description)")
            #expect(relativeError(folded.data, reference.data) > 0 || i == 4, "\(m.description): nothing was folded?")
        }
    }

    @Test("on AVX-512 a ResNet infers blocked from conv1 through layer4; not grouped blocks, not in training mode")
    func blockedStretch() {
        guard CPUFeatures.hasAVX512F else { return }
        let m = ResNet.resnet18(classes: 10)
        m.eval()
        #expect(InferenceStep.steps(of: m.layers).map(\.runsBlocked) == [true, true, true, true, true, true, false, false, false])
        let resnext = ResNet(block: .bottleneck, layers: [1, 1, 1, 1], classes: 5, groups: 2, widthPerGroup: 16)
        resnext.eval()
        #expect(!resnext.layers[4].runsBlocked)
        m.train()
        #expect(!m.layers[4].runsBlocked)
    }

    @Test("on AVX-512 the 3x3 stride-1 convolutions with enough tiles run Winograd, with the direct path's logits")
    func winogradInResNet() {
        guard CPUFeatures.hasAVX512F else { return }
        let m = withRandomBatchNorms(ResNet(block: .basic, layers: [1, 1, 1, 1], classes: 7).initialize(seed: 21), seed: 22)
        m.eval()
        let x = input([2, 3, 64, 64], seed: 23)        // layer1 at 16 x 16 ... layer4 at 2 x 2: all even
        let reference = m.forward(x)
        let winograd = m.infer(x)
        let convs = m.namedLayers().compactMap { $0.layer as? Conv2d }
        let transformed = convs.filter { $0.foldCache?.winograd != nil }.count
        // layer1's two (128 tiles in the batch) and layer2's conv2 (32 tiles); layer3's and
        // layer4's (8 and 2 tiles for 4 and 16 MB of transformed weights) run direct, and
        // the others have stride 2 or are not 3 x 3.
        #expect(transformed == 3)
        #expect(relativeError(winograd.data, reference.data) < 1e-4)
        Fast.usesWinograd = false
        defer { Fast.usesWinograd = true }
        let direct = m.infer(x)
        #expect(relativeError(winograd.data, direct.data) < 1e-5)
    }

    @Test("a Sequential's blocked stretches (image entry, standalone ReLU, max pool, wider padding, broken by LRN) give forward's output")
    func blockedStretchesInSequential() {
        let model = withRandomBatchNorms(Sequential(
            Conv2d(3, 24, kernel: 5, stride: 2, padding: 2, bias: false), BatchNorm2d(24), ReLU(),
            MaxPool2d(kernel: 3, stride: 2, padding: 1),
            Conv2d(24, 40, kernel: 3, padding: 1), ReLU(),
            LocalResponseNorm(size: 5),                        // no blocked path: the stretch ends here
            Conv2d(40, 32, kernel: 5, padding: 2),             // needs a border of 2
            MaxPool2d(kernel: 2, stride: 2), ReLU(),
            Conv2d(32, 20, kernel: 1), Flatten()
        ).initialize(seed: 11), seed: 12)
        model.eval()
        let x = input([2, 3, 29, 31], seed: 13)
        let reference = model.forward(x)
        let inferred = model.infer(x)
        #expect(inferred.shape == reference.shape)
        #expect(relativeError(inferred.data, reference.data) < 1e-4)
        if CPUFeatures.hasAVX512F {
            #expect(InferenceStep.steps(of: model.layers).map(\.runsBlocked)
                    == [true, true, true, false, true, true, true, true, false])
        }
    }

    @Test("the folded weights are rebuilt after a weight update, a new batch norm statistic, a training-mode pass")
    func cacheInvalidation() {
        let m = withRandomBatchNorms(CifarResNet(depth: 8, widths: [4, 8, 8], classes: 3).initialize(seed: 3), seed: 5)
        m.eval()
        let x = input([2, 3, 10, 10], seed: 7)
        let before = m.infer(x)
        // An optimiser-style in-place update of a convolution weight.
        let conv = m.namedLayers().compactMap { $0.layer as? Conv2d }[1]
        conv.weight.update { w in for i in w.indices { w[i] *= -1.5 } }
        let afterWeight = m.infer(x)
        #expect(relativeError(afterWeight.data, before.data) > 1e-2)
        #expect(relativeError(afterWeight.data, m.forward(x).data) < 1e-4)
        // A running statistic, as a training-mode forward updates it.
        let bn = m.namedLayers().compactMap { $0.layer as? BatchNorm2d }[2]
        bn.runningVariance.value = Tensor(shape: [bn.channels], data: Array(repeating: 9, count: bn.channels))
        let afterStatistic = m.infer(x)
        #expect(relativeError(afterStatistic.data, afterWeight.data) > 1e-3)
        #expect(relativeError(afterStatistic.data, m.forward(x).data) < 1e-4)
        // A training step (batch statistics update the running ones), back to eval.
        m.train()
        _ = m.forward(x)
        m.eval()
        #expect(relativeError(m.infer(x).data, m.forward(x).data) < 1e-4)
    }

    @Test("in training mode and on the naive kernels infer is forward, bit for bit")
    func fallsBack() {
        let m = withRandomBatchNorms(CifarResNet(depth: 8, widths: [4, 4, 8], classes: 3).initialize(seed: 4), seed: 9)
        let x = input([3, 3, 8, 8], seed: 11)
        #expect(m.infer(x).data == m.forward(x).data)            // training: batch statistics
        m.eval()
        m.kernels = .naive
        #expect(m.infer(x).data == m.forward(x).data)
    }
}
