import ConvNetCore
import Foundation

// The lesson's networks are the core's multilayer perceptron
// (Sources/ConvNetCore/Models/Architectures/MultilayerPerceptron.swift), as in Hinton,
// Vinyals and Dean's MNIST experiment: a big teacher, strongly regularised (dropout, and
// inputs jittered by up to two pixels), and a small student without any regularisation,
// trained either on the labels or on the teacher's soft targets
// (Sources/ConvNetCore/Training/SoftTargets.swift).

/// The teacher and the student, and how each is trained.
public enum DistillationNets {
    /// The big net: 784 -> hidden -> hidden -> 10 with dropout 0.2 on the inputs and 0.5
    /// on the hidden units (the paper's big MNIST net: two hidden layers of 1,200).
    public static func teacher(hidden: Int, seed: UInt64) -> MultilayerPerceptron {
        MultilayerPerceptron(inputs: 28 * 28, hidden: [hidden, hidden], classes: 10,
                             inputDropout: 0.2, hiddenDropout: 0.5).initialize(seed: seed)
    }

    /// The small net: 784 -> hidden -> hidden -> 10, no dropout (the paper's: 800 per layer;
    /// it also tried 300 and 30).
    public static func student(hidden: Int, seed: UInt64) -> MultilayerPerceptron {
        MultilayerPerceptron(inputs: 28 * 28, hidden: [hidden, hidden], classes: 10).initialize(seed: seed)
    }

    /// The teacher's jitter: every training digit moved by up to `pixels` in each direction
    /// (the paper: "jittered by up to two pixels in any direction").
    public static func jitter(pixels: Int) -> (Tensor, inout SeededGenerator) -> Tensor {
        { x, g in randomlyShifted(x, by: pixels, fill: 0, using: &g) }
    }
}

/// The paper's numbers, as data: printed beside ours, labelled as the paper's.
public enum DistillationPaper {
    /// MNIST (60,000 training digits, 10,000 test digits), section 3: test errors.
    public static let mnist: [(system: String, errors: Int, net: String)] = [
        ("small model (normal training)", 146, "2 x 800 ReLUs, no regularisation"),
        ("big model", 67, "2 x 1,200 ReLUs, dropout, weight constraints, jitter"),
        ("small model (distillation)", 74, "2 x 800, soft targets of the big model at T = 20"),
    ]
    public static let mnistTestDigits = 10_000

    /// Speech recognition (Table 1 of the paper; the course's slide): the "big model" is an
    /// ensemble of 10 acoustic models, the distilled one a single model of the baseline's size.
    public static let speech: [(system: String, frameAccuracy: Double, wer: Double)] = [
        ("small model (normal training)", 58.9, 10.9),
        ("big model (10 x ensemble)", 61.1, 10.7),
        ("small model (distillation)", 60.8, 10.7),
    ]
}
