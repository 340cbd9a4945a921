import Foundation

// Knowledge distillation (Hinton, Vinyals and Dean 2015): a small "student" net trained
// on the probabilities a large "teacher" net gives each training image, softened by a
// temperature T, mixed with the true labels:
//
//     q_i = exp(z_i / T) / sum_j exp(z_j / T)                 softmax at temperature T
//     loss = alpha * T^2 * KL(q_teacher || q_student)         soft targets (distillationKL)
//          + (1 - alpha) * crossEntropy(z_student, labels)    hard targets, at T = 1
//
// The soft-target gradient is (1/T)(q_student - q_teacher) per image, so it shrinks as
// 1/T^2 for the logit differences that matter; the T^2 keeps the two terms' relative
// weight the same whichever T is used (the paper, section 2). The shared `Trainer` runs
// `DistillationLoss` through its `lossFunction` hook.

/// The teacher's side of distillation: its logits on a set of images, and probabilities
/// at a temperature.
public enum SoftTargets {
    /// `softmax(z / T)` of each row of `logits` `[N, C]`, computed stably (the row's
    /// maximum subtracted first). T = 1 is the ordinary softmax; a higher T raises the
    /// small probabilities of the wrong classes (their ratios are what the teacher knows),
    /// and as T grows without bound every row tends to 1/C.
    public static func probabilities(logits: Tensor, temperature: Float) -> Tensor {
        precondition(logits.rank == 2, "SoftTargets.probabilities: logits must be [N, C], got \(logits.shape)")
        precondition(temperature > 0, "SoftTargets.probabilities: temperature must be positive, got \(temperature)")
        let (n, c) = (logits.shape[0], logits.shape[1])
        var p = [Float](repeating: 0, count: n * c)
        for row in 0..<n {
            let z = logits.data[row * c..<(row + 1) * c].map { Double($0) / Double(temperature) }
            let m = z.max() ?? 0
            let e = z.map { Foundation.exp($0 - m) }
            let sum = e.reduce(0, +)
            for j in 0..<c { p[row * c + j] = Float(e[j] / sum) }
        }
        return Tensor(shape: [n, c], data: p)
    }

    /// The logits `[N, C]` of `model` on `images` `[N, ...]`, in inference mode (dropout
    /// off), in batches of `batchSize`; the model is back in training mode afterwards.
    public static func logits(of model: Layer, on images: Tensor, batchSize: Int = 250) -> Tensor {
        model.eval()
        defer { model.train() }
        let count = images.shape[0]
        var data: [Float] = []
        var classes = 0
        var start = 0
        while start < count {
            let z = model(gatherRows(images, Array(start..<min(start + batchSize, count))))
            classes = z.shape[1]
            data += z.data
            start += batchSize
        }
        return Tensor(shape: [count, classes], data: data)
    }
}

/// The student's loss of distillation, for ``Trainer/lossFunction``: the teacher's logits
/// on every training image (row i for training image i), the temperature, and the weight
/// of the soft targets:
///
///     loss = softWeight * T^2 KL(softmax(t/T) || softmax(s/T))  +  (1 - softWeight) * CE(s, y)
///     dL/ds = softWeight * (T/N)(softmax(s/T) - softmax(t/T))  +  (1 - softWeight) (softmax(s) - onehot(y))/N
///
/// Both terms run on the model's `backend` (`distillationKL` and `softmaxCrossEntropy`),
/// so `--kernels naive` and a lesson's overlay decide here too.
public struct DistillationLoss {
    public var teacherLogits: Tensor
    public var temperature: Float
    /// alpha: 1 = soft targets only, 0 = ordinary training on the labels.
    public var softWeight: Float

    public init(teacherLogits: Tensor, temperature: Float, softWeight: Float) {
        precondition(teacherLogits.rank == 2, "DistillationLoss: teacher logits must be [N, C], got \(teacherLogits.shape)")
        precondition(temperature > 0 && (0...1).contains(softWeight),
                     "DistillationLoss: temperature \(temperature) must be positive and the soft weight \(softWeight) in [0, 1]")
        self.teacherLogits = teacherLogits
        self.temperature = temperature
        self.softWeight = softWeight
    }

    /// The loss and dL/dlogits of a mini-batch: the student's `logits` `[B, C]`, the
    /// true `labels`, and the batch's `indices` into the training set (the teacher's rows).
    public func callAsFunction(_ logits: Tensor, labels: [Int], indices: [Int], using backend: any KernelBackend) -> (loss: Float, gradient: Tensor) {
        let classes = teacherLogits.shape[1]
        precondition(logits.rank == 2 && logits.shape == [indices.count, classes],
                     "DistillationLoss: student logits \(logits.shape) for \(indices.count) images of \(classes) classes")
        var teacher = [Float]()
        teacher.reserveCapacity(indices.count * classes)
        for i in indices { teacher += teacherLogits.data[i * classes..<(i + 1) * classes] }
        let soft = backend.distillationKL(student: logits.data, teacher: teacher, classes: classes, temperature: temperature)
        let hard = backend.softmaxCrossEntropy(logits: logits.data, targets: labels, classes: classes)
        let a = softWeight, b = 1 - softWeight
        let gradient = zip(soft.studentGradient, hard.logitsGradient).map { a * $0 + b * $1 }
        return (a * soft.loss + b * hard.loss, Tensor(shape: logits.shape, data: gradient))
    }
}
