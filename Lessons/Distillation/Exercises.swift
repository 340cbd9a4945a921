import ConvNetCore
import Foundation

// The distillation lesson's exercises: write these three functions, then run
//
//     swift test --filter DistillationExercises
//
// `lesson exercise distillation --start` blanks their bodies (the reference solutions
// between the EXERCISE markers); `lesson exercise distillation --reset` puts them back.
// The graders (Tests/DistillationLessonTests/DistillationExercises.swift) check them
// against the core's naive kernel (Naive.distillationKL in
// Sources/ConvNetCore/Kernels/Losses/Losses+Naive.swift), PyTorch's fixture
// (Fixtures/ops-public/distillation_T4.*) and finite differences. Logits are flat
// row-major arrays of N rows of `classes`.

/// Exercise 1: the softmax at temperature T of each row of `logits`:
///     q_i = exp(z_i / T) / sum_j exp(z_j / T)
/// T = 1 is the ordinary softmax; a larger T gives a softer distribution over the classes.
/// Hint: divide the logits by T FIRST, then subtract the row's largest value before
/// exponentiating (so that logits of 1000 do not overflow), and normalise each row.
public func softmaxAtTemperature(_ logits: [Double], classes: Int, temperature: Double) -> [Double] {
    // EXERCISE softmaxAtTemperature BEGIN (stub: return [])
    var q = [Double](repeating: 0, count: logits.count)
    for row in 0..<logits.count / classes {
        let z = (0..<classes).map { logits[row * classes + $0] / temperature }
        let m = z.max()!
        let e = z.map { Foundation.exp($0 - m) }
        let sum = e.reduce(0, +)
        for i in 0..<classes { q[row * classes + i] = e[i] / sum }
    }
    return q
    // EXERCISE softmaxAtTemperature END
}

/// Exercise 2: the soft-target loss of a batch, as the lesson trains on it:
///     L = T^2 (1/N) sum_n sum_i q_t,i (log q_t,i - log q_s,i)
/// with q_s = softmax(student / T) and q_t = softmax(teacher / T): T^2 times the batch
/// mean of KL(q_t || q_s) (PyTorch: kl_div(log q_s, q_t, reduction="batchmean") * T^2).
/// Hint: the T^2 is there because the gradient of the KL alone shrinks as 1/T^2 (the
/// paper, section 2); without it, raising T would silently turn the soft targets down.
/// Divide by the number of rows N, not by the number of logits N * C.
public func softTargetLoss(student: [Double], teacher: [Double], classes: Int, temperature: Double) -> Double {
    // EXERCISE softTargetLoss BEGIN (stub: return 0)
    let qs = softmaxAtTemperature(student, classes: classes, temperature: temperature)
    let qt = softmaxAtTemperature(teacher, classes: classes, temperature: temperature)
    var total = 0.0
    for i in qt.indices where qt[i] > 0 {
        total += qt[i] * (Foundation.log(qt[i]) - Foundation.log(qs[i]))
    }
    let rows = Double(student.count / classes)
    return temperature * temperature * total / rows
    // EXERCISE softTargetLoss END
}

/// Exercise 3: the gradient of `softTargetLoss` for the student's logits:
///     dL/ds_n,i = T^2 (1/N) (q_s,i - q_t,i) / T = (T / N) (q_s,i - q_t,i)
/// Hint: the softmax-and-KL pair differentiates like softmax and cross-entropy: q_s - q_t.
/// Then the chain rule through s / T gives a factor 1/T, and the loss's own T^2 and 1/N
/// stay. The teacher gets no gradient: its logits are fixed targets.
public func softTargetGradient(student: [Double], teacher: [Double], classes: Int, temperature: Double) -> [Double] {
    // EXERCISE softTargetGradient BEGIN (stub: return [])
    let qs = softmaxAtTemperature(student, classes: classes, temperature: temperature)
    let qt = softmaxAtTemperature(teacher, classes: classes, temperature: temperature)
    let rows = Double(student.count / classes)
    return zip(qs, qt).map { temperature / rows * ($0 - $1) }
    // EXERCISE softTargetGradient END
}
