import Foundation
import Testing
@testable import ConvNetCore

/// An overlay that overrides nothing but records every operation that reaches it.
final class RecordingKernels: KernelOverlay, @unchecked Sendable {
    private let lock = NSLock()
    private var calls: Set<String> = []
    var seen: Set<String> { lock.withLock { calls } }
    func record(_ name: String) { lock.withLock { _ = calls.insert(name) } }
    func reset() { lock.withLock { calls = [] } }

    override func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        record("conv2d"); return super.conv2d(x, weight: weight, bias: bias, geometry: geometry)
    }
    override func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                                 inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        record("conv2dBackward")
        return super.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: inputGradient, biasGradient: biasGradient)
    }
    override func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) {
        record("batchNormTraining"); return super.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon)
    }
    override func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) {
        record("batchNormTrainingBackward"); return super.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon)
    }
    override func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] {
        record("batchNormInference")
        return super.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon)
    }
    override func relu(_ x: [Float]) -> [Float] { record("relu"); return super.relu(x) }
    override func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { record("reluBackward"); return super.reluBackward(x, outputGradient: dy) }
    override func addInPlace(_ a: inout [Float], _ b: [Float]) { record("addInPlace"); super.addInPlace(&a, b) }
    override func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        record("linear"); return super.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    override func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) {
        record("softmaxCrossEntropy"); return super.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes)
    }
}

@Suite("The lesson kit: overlay, trainer, race, options")
struct LessonKitTests {
    static func tinyResNet() -> CifarResNet {
        let model = CifarResNet(depth: 8, widths: [4, 8, 8], classes: 3, inputChannels: 1)
        model.initialize(seed: 3)
        return model
    }

    static func images(_ n: Int, seed: UInt64) -> LabeledImages {
        var g = SeededGenerator(seed: seed)
        let x = Tensor.randomNormal([n, 1, 8, 8], using: &g)
        return LabeledImages(images: x, labels: (0..<n).map { $0 % 3 })
    }

    @Test("a lesson's overlay runs in every path: forward, backward, infer and the trainer's loss")
    func overlayRunsEverywhere() throws {
        let model = Self.tinyResNet()
        let kernels = RecordingKernels(base: FastKernels())
        model.customKernels = kernels
        #expect(!model.runsCoreFastKernels && !model.foldsForInference)
        let data = Self.images(6, seed: 1)

        // Training: forward, loss, backward (the residual sums' gradients meet in place).
        let logits = model(data.images)
        let (_, dLogits) = Loss.crossEntropy(logits, targets: data.labels, using: model.backend)
        _ = model.backward(dLogits)
        for op in ["conv2d", "batchNormTraining", "relu", "addInPlace", "linear", "softmaxCrossEntropy",
                   "conv2dBackward", "batchNormTrainingBackward", "reluBackward"] {
            #expect(kernels.seen.contains(op), "training never called the overlay's \(op)")
        }

        // Inference: nothing folded into the core's fused kernels.
        kernels.reset()
        model.eval()
        _ = model.infer(data.images)
        for op in ["conv2d", "batchNormInference", "relu", "linear"] {
            #expect(kernels.seen.contains(op), "infer never called the overlay's \(op)")
        }

        // The shared trainer's loss and evaluation.
        kernels.reset()
        model.train()
        var settings = TrainingSettings(epochs: 1, batchSize: 3, schedule: .constant(0.01))
        settings.momentum = 0
        _ = try Trainer(settings).train(model, on: data, validation: data, seed: 1, console: Console(showsProgress: false))
        #expect(kernels.seen.contains("softmaxCrossEntropy") && kernels.seen.contains("batchNormInference"))
    }

    @Test("an overlay that overrides nothing computes what its base computes")
    func overlayForwardsEverything() {
        let overlay = KernelOverlay(base: FastKernels())
        var a: [Float] = [1, 2, 3], b: [Float] = [10, 20, 30]
        overlay.addInPlace(&a, b)
        #expect(a == [11, 22, 33])
        #expect(overlay.add([1, 2], [3, 4]) == [4, 6])
        var g = SeededGenerator(seed: 9)
        let x = Tensor.randomNormal([2, 3, 5, 5], using: &g).data
        let w = Tensor.randomNormal([4, 3, 3, 3], using: &g).data
        let geometry = Conv2DGeometry(input: FeatureMapShape(batch: 2, channels: 3, height: 5, width: 5), outChannels: 4, kernel: 3, padding: 1)
        #expect(overlay.conv2d(x, weight: w, bias: nil, geometry: geometry) == FastKernels().conv2d(x, weight: w, bias: nil, geometry: geometry))
        let dy = Tensor.randomNormal([2, 4, 5, 5], using: &g).data
        let skipped = overlay.conv2dBackward(x, weight: w, outputGradient: dy, geometry: geometry, inputGradient: false, biasGradient: false)
        let all = overlay.conv2dBackward(x, weight: w, outputGradient: dy, geometry: geometry)
        #expect(skipped.input == nil && skipped.bias == nil)
        #expect(relativeError(skipped.weight, all.weight) < 1e-6)
        #expect(KernelOverlay(base: NaiveKernels()).name == "naive")
    }

    @Test("one kernel choice names the core's kernel sets")
    func kernelChoice() {
        #expect(KernelChoice.fast.backend.name == "fast")
        #expect(KernelChoice.naive.backend.name == "naive")
        let model = Self.tinyResNet()
        model.kernels = .naive
        #expect(model.backend.name == "naive" && !model.runsCoreFastKernels)
    }

    @Test("the trainer repeats a run exactly with the same seed, and records every step")
    func trainerIsReproducible() throws {
        let data = Self.images(12, seed: 2)
        var settings = TrainingSettings(epochs: 2, batchSize: 4, schedule: .step(initial: 0.05, milestones: [1], factor: 0.1))
        settings.weightDecay = 1e-4
        var trainer = Trainer(settings)
        var augmented = 0
        trainer.augment = { x, g in augmented += 1; return randomlyShifted(x, by: 1, fill: 0, using: &g) }
        trainer.measuresTrainingSet = true
        let quiet = Console(showsProgress: false)
        let first = try trainer.train(Self.tinyResNet(), on: data, validation: data, seed: 7, console: quiet)
        let second = try trainer.train(Self.tinyResNet(), on: data, validation: data, seed: 7, console: quiet)
        #expect(first.steps.map(\.loss) == second.steps.map(\.loss))
        #expect(first.steps.count == 6 && augmented == 12)
        #expect(first.epochs.map(\.learningRate) == [0.05, 0.05 * 0.1])
        #expect(first.epochs.allSatisfy { $0.trainingSetAccuracy != nil && $0.validationLoss != nil })
    }

    @Test("a loss that becomes NaN stops training with one line naming the step and the last finite loss")
    func divergence() {
        var data = Self.images(8, seed: 4)
        data.images.data[100] = .nan
        let settings = TrainingSettings(epochs: 1, batchSize: 8, schedule: .constant(0.05))
        let error = #expect(throws: LessonError.self) {
            let model = Sequential([Flatten(), Linear(64, 3)])   // nothing between the NaN and the loss
            model.initialize(seed: 1)
            _ = try Trainer(settings).train(model, on: data, seed: 1, console: Console(showsProgress: false))
        }
        let text = error?.description ?? ""
        #expect(text.contains("NaN") && text.contains("step 1") && text.contains("--lr") && !text.contains("\n"))
    }

    @Test("a random shift moves the digit and fills with the background")
    func shifting() {
        let x = Tensor(shape: [1, 1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        var seen = Set<[Float]>()
        var g = SeededGenerator(seed: 5)
        for _ in 0..<50 { seen.insert(randomlyShifted(x, by: 1, fill: 0, using: &g).data) }
        #expect(seen.count == 9)                                      // all nine shifts appear
        #expect(seen.contains([5, 6, 0, 8, 9, 0, 0, 0, 0]))          // one up and one left
        #expect(seen.contains([0, 0, 0, 0, 1, 2, 0, 4, 5]))          // one down and one right
    }

    @Test("a race reports each entrant's time, the speedup and how far its numbers are from the reference")
    func race() {
        let x = (0..<4_096).map { Float($0 % 17) }
        let result = KernelRace.run([
            RaceEntrant(name: "loop", kernel: "a loop", isSlow: true, forward: { [x.map { $0 * 2 }] }),
            RaceEntrant(name: "same", kernel: "vector", forward: { [x.map { $0 + $0 }] }),
            RaceEntrant(name: "off", kernel: "wrong", forward: { [x.map { $0 * 2 + 0.16 }] }),
        ], quick: true, forwardFlops: 4_096)
        #expect(result.rows.map(\.kernel) == ["a loop", "vector", "wrong"])
        #expect(result.rows[1].maxRelativeDifference == 0)
        #expect(abs(result.rows[2].maxRelativeDifference - 0.005) < 1e-6)    // 0.16 / max 32
        #expect(result.speedup.isFinite && result.speedup > 0)
        #expect(result.table.rows.count == 3 && result.table.headers.contains("GFLOP/s"))
        #expect(result.text.contains("same is"))
    }

    @Test("declared options parse typed values, keep defaults and refuse anything else")
    func options() throws {
        let declared = [LessonOption("depth", .integer(8...110), default: "20", help: "depth"),
                        LessonOption("kind", .choice(["plain", "residual"]), default: "residual", help: "kind"),
                        LessonOption("lr", .number(0...1), default: "0.1", help: "rate"),
                        LessonOption("preact", .flag, help: "pre-activation")]
        let url = URL(fileURLWithPath: "/tmp")
        let o = try LessonOptions(outputDirectory: url, fixtures: url, declared: declared, given: ["depth": "56", "preact": "true"])
        #expect(o.integer("depth") == 56 && o.choice("kind") == "residual" && o.number("lr") == 0.1 && o.flag("preact"))
        #expect(o.isGiven("depth") && !o.isGiven("kind"))
        for bad in [["depth": "7"], ["depth": "x"], ["kind": "wide"], ["lr": "2"], ["lr": "nan"], ["preact": "yes"], ["width": "3"]] {
            #expect(throws: LessonError.self) { _ = try LessonOptions(outputDirectory: url, fixtures: url, declared: declared, given: bad) }
        }
        #expect(declared[0].usage == "--depth N" && declared[1].usage == "--kind plain|residual" && declared[3].usage == "--preact")
    }

    @Test("a console table pads its columns: text left, numbers right")
    func consoleTable() {
        let table = ReportTable(caption: "nets", headers: ["net", "error"], rows: [["plain-56", "70.1%"], ["res-56", "3%"]])
        #expect(table.consoleText == """
        nets
        net       error
        --------  -----
        plain-56  70.1%
        res-56       3%
        """)
    }
}
