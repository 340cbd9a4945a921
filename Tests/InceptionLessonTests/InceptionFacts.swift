import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import InceptionLesson

/// Facts about the Inception module and GoogLeNet, each a test that fails when the fact is false.
@Suite("Inception: facts")
struct InceptionFacts {
    @Test("an Inception module's output is its four branches' outputs concatenated along the channels, in order, exactly (forward and backward)")
    func moduleIsConcatenation() {
        let module = InceptionModule(12, 4, 6, 8, 2, 3, 5, fiveByFive: true)
        module.initialize(seed: 3)
        module.kernels = .naive
        var g = SeededGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 12, 7, 5], using: &g)
        module.eval()
        let y = module(x)
        let parts = module.branches.map { $0(x) }
        #expect(y.shape == [2, 4 + 8 + 3 + 5, 7, 5])
        #expect(y.data == Naive.concatenateChannels(parts.map(\.data), channels: [4, 8, 3, 5], batch: 2, spatial: 35))
        // Channel 4 of image 1 is the first channel of branch 2 (after branch 1's 4).
        #expect(Array(y.data[(1 * 20 + 4) * 35..<(1 * 20 + 5) * 35]) == Array(parts[1].data[(1 * 8 + 0) * 35..<(1 * 8 + 1) * 35]))
        // Backward: the module's input gradient is the sum of each branch's, fed its slice of dy.
        module.train()
        _ = module(x)
        let dy = Tensor.randomNormal(y.shape, using: &g)
        let dx = module.backward(dy)
        let slices = Naive.concatenateChannelsBackward(outputGradient: dy.data, channels: [4, 8, 3, 5], batch: 2, spatial: 35)
        var expected = [Float](repeating: 0, count: x.count)
        for (branch, (slice, c)) in zip(module.branches, zip(slices, [4, 8, 3, 5])) {
            _ = branch(x)
            let d = branch.backward(Tensor(shape: [2, c, 7, 5], data: slice))
            for i in expected.indices { expected[i] += d.data[i] }
        }
        #expect(relativeError(dx.data, expected) < 1e-6)
    }

    @Test("every GoogLeNet module has the paper's branch widths, in the order 1x1 | 3x3 | 5x5 | pool, and its output channels are their sum")
    func moduleChannels() {
        let rows = GoogLeNet().summary(inputShape: [1, 3, 224, 224]).rows
        let expectedOutputs = [256, 480, 512, 512, 512, 528, 832, 832, 1024]
        for (m, out) in zip(googLeNetModules, expectedOutputs) {
            let w = m.widths
            #expect(w[0] + w[2] + w[4] + w[5] == out, "\(m.name)")
            #expect(rows.first { $0.name == "\(m.name).branch1.conv" }?.outputShape == [1, w[0], m.size, m.size], "\(m.name) branch1")
            #expect(rows.first { $0.name == "\(m.name).branch2.1.conv" }?.outputShape == [1, w[2], m.size, m.size], "\(m.name) branch2")
            #expect(rows.first { $0.name == "\(m.name).branch3.1.conv" }?.outputShape == [1, w[4], m.size, m.size], "\(m.name) branch3")
            #expect(rows.first { $0.name == "\(m.name).branch4.1.conv" }?.outputShape == [1, w[5], m.size, m.size], "\(m.name) branch4")
            let block = GoogLeNet().summary(inputShape: [1, 3, 224, 224]).blocks[m.name]
            #expect(block?.output == [1, out, m.size, m.size], "\(m.name) output")
        }
        // Each module's input is the previous one's output (or the pool after it).
        for (a, b) in zip(googLeNetModules, googLeNetModules.dropFirst()) {
            #expect(b.inChannels == a.widths[0] + a.widths[2] + a.widths[4] + a.widths[5])
        }
    }

    @Test("GoogLeNet has 6,624,904 parameters, 13,004,888 with its auxiliary classifiers, and 1,498,376,192 MACs at 224x224, as published")
    func counts() throws {
        let plain = GoogLeNet().summary(inputShape: [1, 3, 224, 224])
        let aux = GoogLeNet(auxiliaryClassifiers: true).summary(inputShape: [1, 3, 224, 224])
        #expect(plain.parameters == 6_624_904)
        #expect(aux.parameters == 13_004_888)
        #expect(plain.macs == 1_498_376_192)
        let published = try #require(PublishedCounts.lookup("googlenet", fixtures: FixtureLocator.root))
        #expect(published.parameters == plain.parameters && published.macs == plain.macs)
        #expect(InceptionLesson.publishedParametersWithAux(fixtures: FixtureLocator.root) == aux.parameters)
    }

    @Test("inception 3a's 5x5 branch is the course's example: 120,422,400 multiplies without its 1x1 reduction, 12,443,648 with it")
    func branchCostsOf3a() {
        let costs = branchCosts(inChannels: 192, widths: [64, 96, 128, 16, 32, 32], size: 28)
        #expect(costs.map(\.branch) == ["1x1", "3x3", "5x5", "pool"])
        #expect(costs[2].macsWithout == 120_422_400 && costs[2].macs == 12_443_648)
        #expect(costs[1].macsWithout == 28 * 28 * 128 * 9 * 192 && costs[1].macs == 28 * 28 * 96 * 192 + 28 * 28 * 128 * 9 * 96)
        #expect(costs.reduce(0) { $0 + $1.outChannels } == 256)
        #expect(costs.reduce(0) { $0 + $1.outChannelsWithout } == 64 + 128 + 32 + 192)
        // The paper's module (5x5 branch): its convolutions' weights, counted.
        let module = InceptionModule(192, 64, 96, 128, 16, 32, 32, fiveByFive: true)
        let weights = module.namedParameters().filter { $0.name.hasSuffix("conv.weight") }.reduce(0) { $0 + $1.parameter.trainableCount }
        #expect(weights == costs.reduce(0) { $0 + $1.parameters })
    }

    @Test("branches writing into slices of one buffer give the copies' numbers exactly, forward and backward")
    func slicesEqualCopies() {
        let channels = [3, 5, 1, 4], batch = 3, spatial = 37
        let parts = channels.enumerated().map { k, c -> [Float] in randomArray(batch * c * spatial, seed: UInt64(k + 1)) }
        let dy: [Float] = randomArray(batch * 13 * spatial, seed: 9)
        #expect(ConcatIntoSlices.reluConcatenated(parts, channels: channels, batch: batch, spatial: spatial)
                == Naive.concatenateChannels(parts.map { Naive.relu($0) }, channels: channels, batch: batch, spatial: spatial))
        let slices = ConcatIntoSlices.reluConcatenatedBackward(parts, outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
        let copies = zip(parts, Naive.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial))
            .map { Naive.reluBackward($0, outputGradient: $1) }
        #expect(slices == copies)
    }

    @Test("the small Inception net: 16x16 digits to 10 logits, two auxiliary heads that run only in training")
    func smallNet() {
        let net = smallInceptionNet(seed: 1)
        var g = SeededGenerator(seed: 2)
        let x = Tensor.randomNormal([3, 1, 16, 16], using: &g)
        net.train()
        #expect(net(x).shape == [3, 10])
        #expect(net.auxiliaryLogits.map(\.shape) == [[3, 10], [3, 10]])
        net.eval()
        _ = net(x)
        #expect(net.auxiliaryLogits.isEmpty)
    }
}
