import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import DenseNetLesson

/// Facts about DenseNet and the memory of its concatenations, each a test that fails when the fact is false.
@Suite("DenseNet: facts")
struct DenseNetFacts {
    @Test("DenseNet-121, 169, 201 and 161 have 7,978,856, 14,149,480, 20,013,928 and 28,681,000 parameters, and torchvision's MACs")
    func counts() throws {
        let published = PublishedCounts.all(fixtures: FixtureLocator.root)
        let expected = ["densenet121": 7_978_856, "densenet169": 14_149_480, "densenet201": 20_013_928, "densenet161": 28_681_000]
        for entry in DenseNets.all {
            let s = entry.make().summary(inputShape: [1, 3, 224, 224])
            #expect(s.parameters == expected[entry.key], "\(entry.name)")
            let p = try #require(published[entry.key])
            #expect(p.parameters == s.parameters && p.macs == s.macs, "\(entry.name)")
        }
    }

    @Test("in DenseNet-121 the channels grow by k = 32 per layer (64 + 6 x 32 = 256, ...) and each transition halves them and n_H, n_W")
    func growthAndCompression() {
        let shapes = DenseNets.stageShapes(DenseNet.densenet121())
        #expect(shapes.map(\.name) == ["denseblock1", "transition1", "denseblock2", "transition2", "denseblock3", "transition3", "denseblock4"])
        #expect(shapes.map(\.shape) == [[1, 256, 56, 56], [1, 128, 28, 28], [1, 512, 28, 28], [1, 256, 14, 14],
                                        [1, 1024, 14, 14], [1, 512, 7, 7], [1, 1024, 7, 7]])
        let blocks = DenseNet.densenet121().namedLayers().compactMap { $0.layer as? DenseBlock }
        #expect(blocks.map(\.inChannels) == [64, 128, 256, 512])
        for block in blocks {
            #expect(block.outChannels == block.inChannels + 32 * block.layers.count)
            for (l, layer) in block.layers.enumerated() {
                // Layer l's first batch norm sees c_0 + l k channels.
                let norm1 = layer.namedParameters().first { $0.name == "norm1.weight" }!.parameter
                #expect(norm1.shape == [block.inChannels + 32 * l])
            }
        }
    }

    @Test("the shared-buffer dense block gives the naive block's outputs and gradients bit for bit, and the same running statistics")
    func sharedBufferIsExact() {
        for (layers, c0, k, shape) in [(3, 8, 4, [2, 8, 5, 6]), (5, 6, 3, [3, 6, 4, 4])] {
            var g = SeededGenerator(seed: 9)
            let x = Tensor.randomNormal(shape, using: &g)
            let dy = Tensor.randomNormal([shape[0], c0 + layers * k, shape[2], shape[3]], using: &g)
            var results: [[[Float]]] = []
            for shared in [false, true] {
                let block = DenseBlock(layers: layers, inChannels: c0, growthRate: k)
                block.initialize(seed: 4)
                block.memoryEfficient = shared
                let y = block(x)
                let dx = block.backward(dy)
                results.append([y.data, dx.data] + block.parameters.map(\.gradient.data) + block.namedBuffers().map(\.buffer.value.data))
            }
            #expect(results[0] == results[1], "\(layers) layers: the shared buffer changed a number")
        }
    }

    @Test("a naive block keeps 4NHW(sum_l 2(c_0 + lk) + 8kL) bytes for backward (quadratic in L), the shared buffer 4NHW(c_0 + Lk + 8kL) (linear)")
    func memoryGrowthLaw() {
        let (n, c0, k, h, w) = (2, 6, 4, 5, 5)
        var g = SeededGenerator(seed: 1)
        let x = Tensor.randomNormal([n, c0, h, w], using: &g)
        var naive: [Int] = [], shared: [Int] = []
        for layers in [2, 4, 8, 16] {
            for efficient in [false, true] {
                let block = DenseBlock(layers: layers, inChannels: c0, growthRate: k)
                block.initialize(seed: 2)
                block.memoryEfficient = efficient
                _ = block(x)
                let sumInputs = (0..<layers).reduce(0) { $0 + c0 + $1 * k }
                let expected = efficient ? 4 * n * h * w * (c0 + layers * k + 8 * k * layers)
                                         : 4 * n * h * w * (2 * sumInputs + 8 * k * layers)
                #expect(block.keptActivationBytes == expected, "\(layers) layers, \(efficient ? "shared" : "naive")")
                if efficient { shared.append(block.keptActivationBytes) } else { naive.append(block.keptActivationBytes) }
            }
        }
        // Doubling L: the naive bytes' increments grow (second differences > 0), the shared ones' stay equal.
        let naiveSteps = zip(naive.dropFirst(), naive).map { $0 - $1 }
        #expect(zip(naiveSteps.dropFirst(), naiveSteps).allSatisfy { $0 > 2 * $1 })
        #expect(shared[3] - shared[2] == 2 * (shared[2] - shared[1]))
        #expect(naive[3] > 2 * shared[3])
    }

    @Test("in evaluation mode the memory-efficient block runs the ordinary path and gives the same output")
    func evaluationMode() {
        var g = SeededGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 4, 3, 3], using: &g)
        let a = DenseBlock(layers: 3, inChannels: 4, growthRate: 2), b = DenseBlock(layers: 3, inChannels: 4, growthRate: 2)
        a.initialize(seed: 1)
        b.initialize(seed: 1)
        b.memoryEfficient = true
        a.eval()
        b.eval()
        #expect(a(x).data == b(x).data)
    }
}
