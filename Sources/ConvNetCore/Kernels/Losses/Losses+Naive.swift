import Foundation

extension Naive {
    /// Mean softmax cross-entropy, PyTorch's `F.cross_entropy(logits, targets)`:
    /// logits `[N, C]`, targets `[N]` in `0..<C`,
    /// `loss = (1/N) sum_n [log sum_c e^(z[n, c]) - z[n, t_n]]` computed stably as
    /// `m_n + log sum_c e^(z[n, c] - m_n) - z[n, t_n]` with `m_n = max_c z[n, c]`;
    /// gradient `dz[n, c] = (softmax(z[n])[c] - [c == t_n]) / N`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func softmaxCrossEntropy<T: BinaryFloatingPoint>(logits: [T], targets: [Int], classes: Int) -> (loss: T, logitsGradient: [T]) {
        let batch = targets.count
        checkClassification(logits.count, batch: batch, classes: classes, in: "softmaxCrossEntropy")
        checkTargets(targets, classes: classes)
        var gradient = [T](repeating: 0, count: batch * classes)
        var total = 0.0
        for n in 0..<batch {                                   // each sample
            let row = n * classes
            var m = Double(logits[row])                        // m = max_c z[c]
            for c in 0..<classes { m = max(m, Double(logits[row + c])) }
            var sum = 0.0                                      // sum_c e^(z[c] - m)
            for c in 0..<classes { sum += Foundation.exp(Double(logits[row + c]) - m) }
            let logSum = m + Foundation.log(sum)               // log sum_c e^z[c]
            total += logSum - Double(logits[row + targets[n]]) // -log softmax(z)[t]
            for c in 0..<classes {                             // (softmax - onehot) / N
                let p = Foundation.exp(Double(logits[row + c]) - logSum)
                let onehot = c == targets[n] ? 1.0 : 0.0
                gradient[row + c] = T((p - onehot) / Double(batch))
            }
        }
        return (T(total / Double(batch)), gradient)
    }

    /// Knowledge-distillation loss (Hinton et al. 2015) with temperature `T`:
    /// student and teacher logits `[N, C]`, `p_s = softmax(s / T)`, `p_t = softmax(t / T)`,
    /// `loss = T^2 (1/N) sum_n sum_c p_t (log p_t - log p_s)` (= T^2 times the batch mean
    /// of KL(p_t || p_s), PyTorch's `kl_div(log p_s, p_t, reduction="batchmean") * T^2`);
    /// gradient for the student only: `ds = (T / N) (p_s - p_t)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func distillationKL<T: BinaryFloatingPoint>(student: [T], teacher: [T], classes: Int, temperature: T) -> (loss: T, studentGradient: [T]) {
        checkCount(teacher.count, equals: student.count, "teacher", in: "distillationKL")
        precondition(classes > 0 && student.count % classes == 0,
                     "distillationKL: \(student.count) logits are not a whole number of rows of \(classes) classes")
        precondition(temperature > 0, "distillationKL: temperature must be positive, got \(temperature)")
        let batch = student.count / classes
        precondition(batch > 0, "distillationKL: empty batch")
        let temp = Double(temperature)
        var gradient = [T](repeating: 0, count: student.count)
        var total = 0.0
        for n in 0..<batch {
            let row = n * classes
            let logPs = logSoftmax((0..<classes).map { Double(student[row + $0]) / temp })
            let logPt = logSoftmax((0..<classes).map { Double(teacher[row + $0]) / temp })
            for c in 0..<classes {
                let pt = Foundation.exp(logPt[c]), ps = Foundation.exp(logPs[c])
                total += pt * (logPt[c] - logPs[c])                  // KL(p_t || p_s) term
                gradient[row + c] = T(temp / Double(batch) * (ps - pt))
            }
        }
        return (T(temp * temp * total / Double(batch)), gradient)
    }

    /// `log softmax(z)` of one row, stably: `z - max z - log sum e^(z - max z)`.
    static func logSoftmax(_ z: [Double]) -> [Double] {
        var m = z[0]
        for v in z { m = max(m, v) }
        var sum = 0.0
        for v in z { sum += Foundation.exp(v - m) }
        let logSum = m + Foundation.log(sum)
        return z.map { $0 - logSum }
    }
}

/// `count` logits must be `batch` rows of `classes`, with a non-empty batch.
func checkClassification(_ count: Int, batch: Int, classes: Int, in op: String) {
    precondition(classes > 0, "\(op): classes must be positive, got \(classes)")
    precondition(batch > 0, "\(op): empty batch")
    checkCount(count, equals: batch * classes, "logits [\(batch), \(classes)]", in: op)
}

/// Every target is a class index in `0..<classes`.
func checkTargets(_ targets: [Int], classes: Int) {
    for (n, t) in targets.enumerated() {
        precondition(t >= 0 && t < classes,
                     "softmaxCrossEntropy: target \(t) of sample \(n) is outside 0..<\(classes)")
    }
}
