import Foundation

// Fast losses: softmax cross-entropy and the distillation KL divergence.
//
// Trick: each row of logits is swept sixteen classes at a time: a SIMD max, then the
// vectorised polynomial exp of VectorMath.swift summed in a vector register, and just
// one scalar `log` per row (the naive twin calls Double exp and log per element). The
// exponentials are written straight into the gradient row and rescaled in place, so
// no per-row arrays are allocated; the distillation loss needs log p_t - log p_s only
// as (t - s)/T + (lse_s - lse_t), with no logarithm per element. Rows are shared among
// threads when the batch is large.

extension Fast {
    /// Mean softmax cross-entropy of logits `[N, C]` against class indices `[N]`, with
    /// its gradient `(softmax - onehot) / N`.
    public static func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) {
        let batch = targets.count
        checkClassification(logits.count, batch: batch, classes: classes, in: "softmaxCrossEntropy")
        checkTargets(targets, classes: classes)
        var gradient = [Float](repeating: 0, count: logits.count)
        var rowLoss = [Double](repeating: 0, count: batch)
        let invBatch = 1 / Float(batch)
        logits.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                rowLoss.withUnsafeMutableBufferPointer { rowLoss in
                    let pz = z.baseAddress!, pg = g.baseAddress!, pl = rowLoss.baseAddress!
                    forEachRowChunk(batch, classes: classes) { rows in
                        for n in rows {
                            let row = pz + n * classes, out = pg + n * classes
                            let m = VectorMath.maximum(row, count: classes)
                            // e^(z - m) into the gradient row, and their sum
                            let sum = VectorMath.exponentials(row, count: classes, scale: 1, shift: m, into: out)
                            let target = targets[n]
                            // -log softmax(z)[t] = m + log sum - z[t]
                            pl[n] = Double(m) + Foundation.log(Double(sum)) - Double(row[target])
                            scale(out, classes, by: invBatch / sum)   // softmax / N
                            out[target] -= invBatch                   // - onehot / N
                        }
                    }
                }
            }
        }
        var total = 0.0
        for l in rowLoss { total += l }
        return (Float(total / Double(batch)), gradient)
    }

    /// `T^2 (1/N) sum_n KL(softmax(teacher/T) || softmax(student/T))` and its gradient
    /// for the student, `(T/N) (softmax(student/T) - softmax(teacher/T))`.
    public static func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) {
        checkCount(teacher.count, equals: student.count, "teacher", in: "distillationKL")
        precondition(classes > 0 && student.count % classes == 0,
                     "distillationKL: \(student.count) logits are not a whole number of rows of \(classes) classes")
        precondition(temperature > 0, "distillationKL: temperature must be positive, got \(temperature)")
        let batch = student.count / classes
        precondition(batch > 0, "distillationKL: empty batch")
        var gradient = [Float](repeating: 0, count: student.count)
        var rowLoss = [Double](repeating: 0, count: batch)
        let invT = 1 / temperature
        let gradientScale = temperature / Float(batch)
        student.withUnsafeBufferPointer { s in
            teacher.withUnsafeBufferPointer { t in
                gradient.withUnsafeMutableBufferPointer { g in
                    rowLoss.withUnsafeMutableBufferPointer { rowLoss in
                        let ps = s.baseAddress!, pt = t.baseAddress!, pg = g.baseAddress!
                        let pl = rowLoss.baseAddress!
                        forEachRowChunk(batch, classes: classes) { rows in
                            // the teacher's exponentials of one row at a time
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: classes)
                            defer { scratch.deallocate() }
                            for n in rows {
                                let sRow = ps + n * classes, tRow = pt + n * classes, out = pg + n * classes
                                // e^(z/T - max) of both rows (student's into the gradient row)
                                let ms = VectorMath.maximum(sRow, count: classes) * invT
                                let mt = VectorMath.maximum(tRow, count: classes) * invT
                                let sumS = VectorMath.exponentials(sRow, count: classes, scale: invT, shift: ms, into: out)
                                let sumT = VectorMath.exponentials(tRow, count: classes, scale: invT, shift: mt, into: scratch)
                                // lse = log sum e^(z/T) = m + log(sum), so that log p = z/T - lse.
                                // Only lse_s - lse_t is needed; it is taken in Double, as at high T
                                // the KL is a small difference of terms of size ~1.
                                let lseDifference = Float(Double(ms) - Double(mt)
                                    + Foundation.log(Double(sumS)) - Foundation.log(Double(sumT)))
                                pl[n] = Double(klRow(student: sRow, teacher: tRow, classes, invT: invT,
                                                     lseDifference: lseDifference,
                                                     studentScale: 1 / sumS, teacherScale: 1 / sumT,
                                                     gradientScale: gradientScale, gradient: out, teacherExp: scratch))
                            }
                        }
                    }
                }
            }
        }
        var total = 0.0
        for l in rowLoss { total += l }
        let t2 = Double(temperature) * Double(temperature)
        return (Float(t2 * total / Double(batch)), gradient)
    }

    /// Runs `body` on chunks of rows, on several threads when the batch is large.
    private static func forEachRowChunk(_ batch: Int, classes: Int, _ body: (Range<Int>) -> Void) {
        if batch == 1 || batch * classes < ElementwiseLoops.parallelThreshold {
            body(0..<batch)
        } else {
            Parallelism.forEachChunk(batch) { _, rows in body(rows) }
        }
    }

    /// `v[c] *= factor` in place.
    private static func scale(_ v: UnsafeMutablePointer<Float>, _ count: Int, by factor: Float) {
        var c = 0
        while c + 16 <= count {
            store16(load16(v + c) * factor, v + c)
            c += 16
        }
        while c < count { v[c] *= factor; c += 1 }
    }

    /// One row of the distillation loss. On entry `gradient` holds the student's
    /// exponentials e_s and `teacherExp` the teacher's e_t; with p = e * scale and
    /// log p_t - log p_s = (t - s)/T + (lse_s - lse_t), writes
    /// `gradientScale * (p_s - p_t)` over `gradient` and returns
    /// `sum_c p_t (log p_t - log p_s)`.
    private static func klRow(student s: UnsafePointer<Float>, teacher t: UnsafePointer<Float>, _ count: Int,
                              invT: Float, lseDifference: Float, studentScale: Float, teacherScale: Float,
                              gradientScale: Float, gradient out: UnsafeMutablePointer<Float>,
                              teacherExp et: UnsafePointer<Float>) -> Float {
        var kl = SIMD16<Float>(repeating: 0)
        var c = 0
        while c + 16 <= count {
            let ps = load16(out + c) * studentScale, pt = load16(et + c) * teacherScale
            let logRatio = SIMD16<Float>(repeating: lseDifference).addingProduct(load16(t + c) - load16(s + c), invT)
            kl = kl.addingProduct(pt, logRatio)
            store16((ps - pt) * gradientScale, out + c)
            c += 16
        }
        var tail: Float = 0
        while c < count {
            let ps = out[c] * studentScale, pt = et[c] * teacherScale
            tail += pt * ((t[c] - s[c]) * invT + lseDifference)
            out[c] = (ps - pt) * gradientScale
            c += 1
        }
        return kl.sum() + tail
    }
}

