import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import DistillationLesson

/// Facts about distillation, its loss and its nets, each a test that fails when the fact is false.
@Suite("Distillation: facts")
struct DistillationFacts {
    @Test("the paper's teacher 784-1200-1200-10 has 2,395,210 parameters, its student 784-800-800-10 1,276,810, a 784-30-30-10 student 24,790")
    func parameterCounts() {
        for (hidden, expected) in [(1200, 2_395_210), (800, 1_276_810), (30, 24_790)] {
            let net = MultilayerPerceptron(inputs: 784, hidden: [hidden, hidden])
            #expect(net.parameterCount == expected, "\(net)")
            #expect(MultilayerPerceptron.parameterCount(inputs: 784, hidden: [hidden, hidden], classes: 10) == expected)
            #expect(net.summary(inputShape: [1, 1, 28, 28]).parameters == expected)
        }
        let teacher = DistillationNets.teacher(hidden: 1200, seed: 1)
        #expect(teacher.namedParameters().map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        #expect(teacher.namedLayers().filter { $0.layer is Dropout }.count == 3)
        #expect(DistillationNets.student(hidden: 30, seed: 1).namedLayers().filter { $0.layer is Dropout }.isEmpty)
    }

    @Test("both distillation kernels give PyTorch's loss and student gradient on Fixtures/ops-public/distillation_T4")
    func pyTorchFixture() throws {
        let f = try DistillationChecks.fixture(FixtureLocator.root)
        #expect(f.rows == 6 && f.classes == 10)
        for (name, r) in [("naive", Naive.distillationKL(student: f.student, teacher: f.teacher, classes: f.classes, temperature: f.temperature)),
                          ("fast", Fast.distillationKL(student: f.student, teacher: f.teacher, classes: f.classes, temperature: f.temperature))] {
            #expect(relativeError([r.loss], [f.loss]) < 1e-6, "\(name) loss \(r.loss) vs PyTorch \(f.loss)")
            #expect(relativeError(r.studentGradient, f.gradient) < 1e-6, "\(name) gradient")
        }
    }

    @Test("the naive distillation gradient is the central finite difference of its loss (relative error below 1e-6)")
    func finiteDifferences() {
        #expect(DistillationChecks.finiteDifferenceError() < 1e-6)
    }

    @Test("without T^2 the soft-target gradient shrinks as 1/T^2 at high T; with T^2 it keeps its size")
    func temperatureSquared() {
        let norms = DistillationChecks.gradientNorms(temperatures: [8, 20, 50])
        // with T^2: the same size from T = 8 on (within 5%)
        #expect(abs(norms.with[1] / norms.with[0] - 1) < 0.05 && abs(norms.with[2] / norms.with[1] - 1) < 0.05, "\(norms.with)")
        // without: the ratio between T = 20 and T = 50 is (20/50)^2 = 0.16, within 5%
        #expect(abs(norms.without[2] / norms.without[1] / 0.16 - 1) < 0.05, "\(norms.without)")
    }

    @Test("at high temperature distillation matches logits: the T^2 KL gradient tends to (s - t)/(N C) for zero-mean logits")
    func matchingLogits() {
        let (n, c) = (4, 10)
        var g = SeededGenerator(seed: 5)
        func zeroMean() -> [Double] {
            var z = (0..<n * c).map { _ in 4 * (Double(g.nextUniform()) - 0.5) }
            for row in 0..<n {
                let m = z[row * c..<(row + 1) * c].reduce(0, +) / Double(c)
                for j in 0..<c { z[row * c + j] -= m }
            }
            return z
        }
        let s = zeroMean(), t = zeroMean()
        let limit = zip(s, t).map { ($0 - $1) / Double(n * c) }
        let far = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: 1000.0).studentGradient
        let near = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: 2.0).studentGradient
        #expect(relativeError(far, limit) < 0.01)
        #expect(relativeError(near, limit) > 0.05)
    }

    @Test("softmax at T = 1 is the softmax; a higher T keeps the order of the classes, raises the wrong ones, and tends to 1/C")
    func temperatureSoftens() {
        let z = Tensor(shape: [2, 5], data: [9, 4, 1, 0, -2, 3, 3.5, -1, 0, 7])
        let p1 = SoftTargets.probabilities(logits: z, temperature: 1)
        let fast = Fast.softmaxCrossEntropy(logits: z.data, targets: [0, 0], classes: 5)
        // softmax = N * gradient + onehot
        let softmax = (0..<10).map { 2 * fast.logitsGradient[$0] + ($0 % 5 == 0 ? 1 : 0) }
        #expect(relativeError(p1.data, softmax) < 1e-5)
        var previousTop: Float = 1
        for t: Float in [1, 2, 4, 8, 20, 1000] {
            let p = SoftTargets.probabilities(logits: z, temperature: t).data
            for row in 0..<2 {
                let r = Array(p[row * 5..<(row + 1) * 5]), logits = Array(z.data[row * 5..<(row + 1) * 5])
                #expect(abs(r.reduce(0, +) - 1) < 1e-5)
                #expect(r.indices.sorted { r[$0] > r[$1] } == logits.indices.sorted { logits[$0] > logits[$1] }, "T = \(t): the order changed")
            }
            #expect(p[0] <= previousTop, "the top class of row 0 must lose mass as T grows")
            previousTop = p[0]
            if t == 1000 { #expect(p.allSatisfy { abs($0 - 0.2) < 0.01 }) }
        }
    }

    @Test("DistillationLoss with alpha 0 is cross-entropy on the labels, with alpha 1 the kernel on the batch's own teacher rows")
    func lossMixes() {
        var g = SeededGenerator(seed: 3)
        let teacher = Tensor.randomNormal([20, 10], std: 3, using: &g)
        let student = Tensor.randomNormal([4, 10], using: &g)
        let indices = [7, 2, 19, 11], labels = [1, 5, 0, 9]
        let backend = FastKernels()
        let hard = DistillationLoss(teacherLogits: teacher, temperature: 4, softWeight: 0)(student, labels: labels, indices: indices, using: backend)
        let ce = Loss.crossEntropy(student, targets: labels)
        #expect(hard.loss == ce.loss && hard.gradient.data == ce.gradient.data)
        let soft = DistillationLoss(teacherLogits: teacher, temperature: 4, softWeight: 1)(student, labels: labels, indices: indices, using: backend)
        let rows = gatherRows(teacher, indices)
        let kernel = Fast.distillationKL(student: student.data, teacher: rows.data, classes: 10, temperature: 4)
        #expect(soft.loss == kernel.loss && soft.gradient.data == kernel.studentGradient)
        let mixed = DistillationLoss(teacherLogits: teacher, temperature: 4, softWeight: 0.25)(student, labels: labels, indices: indices, using: backend)
        #expect(abs(mixed.loss - (0.25 * kernel.loss + 0.75 * ce.loss)) < 1e-6)
    }

    @Test("the Trainer's lossFunction hook, given cross-entropy, trains the same weights bit for bit as the Trainer without it")
    func lossFunctionHook() throws {
        var g = SeededGenerator(seed: 8)
        let data = LabeledImages(images: Tensor.randomUniform([40, 1, 4, 4], low: 0, high: 1, using: &g), labels: (0..<40).map { $0 % 3 })
        var weights: [[[Float]]] = []
        var sawIndices = Set<Int>()
        for hooked in [false, true] {
            let net = MultilayerPerceptron(inputs: 16, hidden: [8], classes: 3).initialize(seed: 2)
            var trainer = Trainer(TrainingSettings(epochs: 2, batchSize: 8, schedule: .constant(0.1)))
            trainer.printsEpochs = false
            if hooked {
                trainer.lossFunction = { logits, labels, indices in
                    for (i, label) in zip(indices, labels) { #expect(data.labels[i] == label); sawIndices.insert(i) }
                    return Loss.crossEntropy(logits, targets: labels, using: net.backend)
                }
            }
            _ = try trainer.train(net, on: data, seed: 4, console: Console(showsProgress: false))
            weights.append(net.parameters.map(\.value.data))
        }
        #expect(weights[0] == weights[1])
        #expect(sawIndices == Set(0..<40), "every training image passes through the hook once per epoch, by its index")
    }

    @Test("the teacher's soft targets are its logits in inference mode: dropout off, the same logits twice")
    func softTargetsInInference() {
        let teacher = DistillationNets.teacher(hidden: 32, seed: 3)
        var g = SeededGenerator(seed: 4)
        let x = Tensor.randomUniform([7, 1, 28, 28], low: 0, high: 1, using: &g)
        let a = SoftTargets.logits(of: teacher, on: x, batchSize: 3), b = SoftTargets.logits(of: teacher, on: x, batchSize: 7)
        #expect(a.shape == [7, 10] && relativeError(a.data, b.data) < 1e-6)
        #expect(teacher.isTraining, "the teacher is back in training mode afterwards")
        teacher.eval()
        #expect(relativeError(teacher(x).data, a.data) < 1e-6)
    }
}
