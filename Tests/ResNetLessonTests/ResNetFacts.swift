import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import ResNetLesson

/// Facts about the residual networks of the lesson, each a test that fails when the fact is false.
@Suite("ResNet: facts")
struct ResNetFacts {
    /// The first `n` digits of Fixtures/mnist-5k (shuffled with seed 1) at 16x16, normalised.
    static func digits(_ n: Int) throws -> LabeledImages {
        var data = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k"))
        data = data.split(trainCount: n, validationCount: 0, seed: 1).train.resized(height: 16, width: 16)
        let (m, s) = data.pixelStatistics
        data.normalize(mean: m, std: s)
        return data
    }

    @Test("a 6n+2 net is conv1, three stages of n blocks of two 3x3 convs, and fc: 16x16x8, 8x8x16, 4x4x32 on the lesson's digits")
    func shapes() {
        for depth in [8, 20, 56] {
            let net = CifarResNet.lessonNet(.residual, depth: depth, seed: 1)
            let n = (depth - 2) / 6
            #expect(net.blocks.count == 3 * n)
            let convs = net.namedParameters().filter { $0.name.hasSuffix("conv1.weight") || $0.name.hasSuffix("conv2.weight") }
            #expect(convs.count + 1 == depth, "\(depth) layers: \(convs.count) convolutions + fc")
            let rows = net.summary(inputShape: [1, 1, 16, 16]).rows
            #expect(rows.first { $0.name == "layer1.0.conv2" }?.outputShape == [1, 8, 16, 16])
            #expect(rows.first { $0.name == "layer2.0.conv2" }?.outputShape == [1, 16, 8, 8])
            #expect(rows.first { $0.name == "layer3.0.conv2" }?.outputShape == [1, 32, 4, 4])
            #expect(net.outputShape(for: [5, 1, 16, 16]) == [5, 10])
        }
    }

    @Test("the CIFAR ResNets for n = 3, 9, 18 (20, 56, 110 layers) have exactly the published parameters and MACs")
    func counts() throws {
        let published = PublishedCounts.all(fixtures: FixtureLocator.root)
        for (n, expected) in [(3, 272_474), (9, 855_770), (18, 1_730_714)] {
            let depth = 6 * n + 2
            let summary = CifarResNet(depth: depth).summary(inputShape: [1, 3, 32, 32])
            let entry = try #require(published["cifar_resnet\(depth)"])
            #expect(summary.parameters == entry.parameters && summary.macs == entry.macs)
            #expect(summary.parameters == expected)
        }
    }

    @Test("a plain net is the residual net without its shortcuts: the same convolutions, no projections")
    func plainHasNoShortcuts() {
        let plain = CifarResNet.lessonNet(.plain, depth: 20, seed: 1), res = CifarResNet.lessonNet(.residual, depth: 20, seed: 1)
        let projections = res.namedParameters().filter { $0.name.contains("downsample") }.reduce(0) { $0 + $1.parameter.trainableCount }
        #expect(plain.parameterCount + projections == res.parameterCount)
        #expect(plain.blocks.allSatisfy { $0.block.downsample == nil && !$0.block.residual })
    }

    @Test("a block whose last batch norm has gamma = beta = 0 computes exactly its input, and passes the gradient through exactly")
    func zeroedBlockIsTheIdentity() {
        let block = CifarBlock(8, 8, stride: 1, preActivation: false)
        block.initialize(seed: 4)
        ResNetProbes.zeroLastBatchNorm(block)
        var g = SeededGenerator(seed: 5)
        let x = Tensor(shape: [4, 8, 6, 6], data: Tensor.randomNormal([4, 8, 6, 6], using: &g).data.map { max($0, 0) })  // a ReLU's output
        let dy = Tensor.randomNormal([4, 8, 6, 6], using: &g)
        for kernels in KernelChoice.allCases {
            block.kernels = kernels
            block.train()
            #expect(block(x).data == x.data, "\(kernels): forward")
            let dx = block.backward(dy)
            let expected = zip(x.data, dy.data).map { $0 > 0 ? $1 : 0 }          // what a ReLU after the identity passes
            #expect(dx.data == expected, "\(kernels): backward")
            block.eval()
            #expect(block(x).data == x.data && block.infer(x).data == x.data, "\(kernels): inference")
        }
    }

    @Test("a deep residual net with zeroed blocks IS the shallower net without them, logit for logit")
    func zeroedNetIsShallower() throws {
        let net = CifarResNet.lessonNet(.residual, depth: 20, seed: 2)
        let data = try Self.digits(64)
        var settings = TrainingSettings(epochs: 1, batchSize: 32, schedule: .constant(0.05))
        settings.weightDecay = 1e-4
        _ = try Trainer(settings).train(net, on: data, seed: 1, console: Console(showsProgress: false))
        let zeroed = ResNetProbes.blocksToZero(net)
        #expect(zeroed.map(\.name) == ["layer3.1", "layer3.2"])
        for (_, block) in zeroed { ResNetProbes.zeroLastBatchNorm(block) }
        net.eval()
        let x = gatherRows(data.images, Array(0..<16))
        let full = net(x)
        let shallower = ResNetProbes.forward(net, x, skipping: Set(zeroed.map { ObjectIdentifier($0.block) }))
        #expect(full.data == shallower.data)
    }

    @Test("with the shortcut scaled by 0.5 a zeroed block halves its input, and 27 such blocks pass 0.5^27 of it")
    func scaledShortcut() {
        let block = CifarBlock(4, 4, stride: 1, preActivation: false, shortcutScale: 0.5)
        block.initialize(seed: 1)
        ResNetProbes.zeroLastBatchNorm(block)
        let x = Tensor(shape: [2, 4, 3, 3], data: (0..<72).map { Float($0 % 7) })
        #expect(block(x).data == x.data.map { $0 * 0.5 })
        let dx = block.backward(Tensor(shape: x.shape, repeating: 1))
        #expect(dx.data == x.data.map { $0 > 0 ? 0.5 : 0 })
        #expect(pow(0.5, 27.0) < 1e-8)
    }

    @Test("at initialisation a 110-layer plain net's first convolution gets over 1,000x its last one's gradient on real digits; the residual net's stays under")
    func gradientNorms() throws {
        let data = try Self.digits(64)
        let plain = ResNetProbes.gradientNorms(CifarResNet.lessonNet(.plain, depth: 110, seed: 1), data.images, data.labels)
        let res = ResNetProbes.gradientNorms(CifarResNet.lessonNet(.residual, depth: 110, seed: 1), data.images, data.labels)
        #expect(plain.count == 109 && res.count == 109)
        #expect(plain.first! / plain.last! > 1_000)
        #expect(res.first! / res.last! < 1_000)
    }

    @Test("area resampling keeps a digit's mean ink: 28x28 to 16x16")
    func resizing() throws {
        let data = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k")).subset([0, 1, 2])
        let small = data.resized(height: 16, width: 16)
        #expect(small.images.shape == [3, 1, 16, 16])
        for i in 0..<3 {
            let big = data.images.data[(i * 784)..<((i + 1) * 784)].reduce(0, +) / 784
            let little = small.images.data[(i * 256)..<((i + 1) * 256)].reduce(0, +) / 256
            #expect(abs(big - little) < 1e-4)
        }
    }
}
