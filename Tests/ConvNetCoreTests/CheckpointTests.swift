import Foundation
import Testing
@testable import ConvNetCore

@Suite("Checkpoints")
struct CheckpointTests {
    func batch() -> (Tensor, [Int]) {
        var g = SeededGenerator(seed: 11)
        return (Tensor.randomNormal([4, 3, 8, 8], using: &g), [0, 3, 7, 1])
    }

    func trainStep(_ model: Layer, _ optimizer: SGD, _ x: Tensor, _ y: [Int]) -> Float {
        let (loss, dLogits) = Loss.crossEntropy(model(x), targets: y)
        model.zeroGradients()
        _ = model.backward(dLogits)
        optimizer.step()
        return loss
    }

    @Test("a run resumed from a checkpoint continues exactly as the uninterrupted run")
    func resumeIsExact() throws {
        let (x, y) = batch()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }

        // Uninterrupted: three steps.
        let a = CifarResNet(depth: 8).initialize(seed: 3)
        let sgdA = SGD(parameters: a.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4)
        _ = trainStep(a, sgdA, x, y)
        var generator = SeededGenerator(seed: 99)
        _ = generator.next()
        try Checkpoint(epoch: 1, generator: generator, learningRate: 0.05, metadata: ["note": "after one step"])
            .save(model: a, optimizer: sgdA, to: url)
        _ = trainStep(a, sgdA, x, y)
        let lossA = trainStep(a, sgdA, x, y)

        // Interrupted after one step, resumed into a fresh model and optimizer.
        let b = CifarResNet(depth: 8).initialize(seed: 42)
        let sgdB = SGD(parameters: b.parameters, learningRate: 1, momentum: 0.9, weightDecay: 1e-4)
        let restored = try Checkpoint.load(from: url, model: b, optimizer: sgdB)
        #expect(restored.epoch == 1)
        #expect(restored.metadata["note"] == "after one step")
        #expect(restored.generator.state == generator.state)
        #expect(sgdB.learningRate == 0.05)
        _ = trainStep(b, sgdB, x, y)
        let lossB = trainStep(b, sgdB, x, y)
        #expect(lossA == lossB)
        #expect(a.stateDict() == b.stateDict())
    }

    @Test("weights that are not a checkpoint are refused with the file's name")
    func plainWeightsRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let model = CifarResNet(depth: 8).initialize(seed: 1)
        try model.save(to: url)
        let error = #expect(throws: FileFormatError.self) {
            _ = try Checkpoint.load(from: url, model: model, optimizer: SGD(parameters: model.parameters, learningRate: 0.1))
        }
        #expect(error?.description.contains(url.lastPathComponent) == true)
    }
}
