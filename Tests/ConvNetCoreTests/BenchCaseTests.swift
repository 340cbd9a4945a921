import Foundation
import Testing
import TestSupport
@testable import ConvNetCore

@Suite("The bench cases: every training case of Fixtures/bench/cases.json builds and trains")
struct BenchCaseTests {
    static let cases = try! BenchCases(contentsOf: FixtureLocator.url("bench/cases.json"))

    @Test("cases.json holds the degradation nets of the ResNet lesson: 1 channel, 16x16, widths 8/16/32, batch 64")
    func degradationCases() throws {
        let plain = try #require(Self.cases.training.first { $0.name == "degradation_plain56_step" })
        let res = try #require(Self.cases.training.first { $0.name == "degradation_res56_step" })
        for c in [plain, res] {
            #expect(c.depth == 56 && c.widths == [8, 16, 32] && c.batch == 64)
            #expect(c.channels == 1 && c.height == 16 && c.width == 16)
        }
        #expect(!plain.residual && res.residual)
    }

    @Test("each training case builds with its input channels and shortcuts, and one SGD step on 2 images changes every weight",
          arguments: cases.training.map(\.name))
    func oneStep(name: String) throws {
        let c = try #require(Self.cases.training.first { $0.name == name })
        let model = try ModelZoo.build(architecture: c.architecture).initialize(seed: 1)
        let net = try #require(model as? CifarResNet)
        #expect(net.residual == c.residual && net.depth == c.depth)
        let blocks = net.namedLayers().compactMap { $0.layer as? CifarBlock }
        #expect(blocks.count == 3 * (c.depth - 2) / 6)
        for block in blocks {
            let changesShape = block.conv1.stride.height != 1 || block.conv1.inChannels != block.conv1.outChannels
            #expect(block.residual == c.residual)
            #expect((block.downsample != nil) == (c.residual && changesShape), "projection shortcuts only where the shape changes")
        }
        #expect(net.namedParameters().first?.parameter.value.shape == [c.widths[0], c.channels, 3, 3])
        model.train()
        model.inputGradientRequired = false
        var g = SeededGenerator(seed: 6)
        let batch = 2
        let x = Tensor.randomNormal([batch, c.channels, c.height, c.width], using: &g)
        let targets = (0..<batch).map { $0 % c.classes }
        let before = model.parameters.map(\.value.data)
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        let logits = model(x)
        #expect(logits.shape == [batch, c.classes])
        let (loss, dLogits) = Loss.crossEntropy(logits, targets: targets)
        #expect(loss.isFinite && loss > 0)
        model.zeroGradients()
        _ = model.backward(dLogits)
        optimizer.step()
        let after = model.parameters.map(\.value.data)
        #expect(zip(before, after).allSatisfy { $0 != $1 }, "every parameter moved (weight decay alone moves each)")
        #expect(after.allSatisfy { $0.allSatisfy(\.isFinite) })
    }
}
