import ConvNetCore
import Foundation

// The checks of the distillation loss's kernel pair that the run prints and the tests
// repeat: PyTorch's fixture, central finite differences, and the size of the gradient as
// T grows, with and without the T^2 factor.

public enum DistillationChecks {
    /// `Fixtures/ops-public`'s `distillation_T4` case: PyTorch's
    /// `kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") * T^2` and its
    /// gradient for the student, computed in float64 from these float32 logits.
    public struct Fixture {
        public var student: [Float], teacher: [Float]
        public var rows: Int, classes: Int
        public var temperature: Float
        public var loss: Float
        public var gradient: [Float]
    }

    /// Reads the fixture from `fixtures` (`Fixtures/`); a missing or malformed file is a
    /// `FileFormatError` naming it.
    public static func fixture(_ fixtures: URL) throws -> Fixture {
        let directory = fixtures.appendingPathComponent("ops-public")
        func read(_ name: String) throws -> NumPyArray { try NumPy.read(directory.appendingPathComponent("distillation_T4.\(name).npy")) }
        let student = try read("inputs.student"), teacher = try read("inputs.teacher")
        let loss = try read("outputs.y"), gradient = try read("grads.student")
        guard student.shape.count == 2, teacher.shape == student.shape, gradient.shape == student.shape, loss.floats.count == 1 else {
            throw FileFormatError(path: directory.appendingPathComponent("distillation_T4.inputs.student.npy").path,
                                  reason: "expected student, teacher and gradient of one shape [N, C] and a scalar loss")
        }
        return Fixture(student: student.floats, teacher: teacher.floats, rows: student.shape[0], classes: student.shape[1],
                       temperature: 4, loss: loss.floats[0], gradient: gradient.floats)
    }

    /// The largest relative error of `Naive.distillationKL`'s student gradient (in Double)
    /// against central finite differences of its loss, over a few shapes and T = 1, 2.5, 8.
    public static func finiteDifferenceError() -> Double {
        var worst = 0.0
        var g = SeededGenerator(seed: 2015)
        for (n, c) in [(1, 4), (3, 10), (2, 7)] {
            let s = (0..<n * c).map { _ in 6 * (Double(g.nextUniform()) - 0.5) }
            let t = (0..<n * c).map { _ in 6 * (Double(g.nextUniform()) - 0.5) }
            for temperature in [1.0, 2.5, 8.0] {
                let analytic = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: temperature).studentGradient
                let h = 1e-5
                var numeric = [Double](repeating: 0, count: s.count)
                for i in s.indices {
                    var plus = s, minus = s
                    plus[i] += h
                    minus[i] -= h
                    numeric[i] = (Naive.distillationKL(student: plus, teacher: t, classes: c, temperature: temperature).loss
                        - Naive.distillationKL(student: minus, teacher: t, classes: c, temperature: temperature).loss) / (2 * h)
                }
                worst = max(worst, relativeError(analytic, numeric))
            }
        }
        return worst
    }

    /// The size (Euclidean norm) of the soft-target gradient for the student at each T, of
    /// the loss without T^2 (KL alone: (1/N)(q_s - q_t)/T) and with it (the kernel's), on
    /// zero-mean random logits (8 rows of 10, scale 3).
    public static func gradientNorms(temperatures: [Double]) -> (without: [Double], with: [Double]) {
        var g = SeededGenerator(seed: 20)
        let (n, c) = (8, 10)
        func zeroMeanRows() -> [Double] {
            var z = (0..<n * c).map { _ in 6 * (Double(g.nextUniform()) - 0.5) }
            for row in 0..<n {
                let m = z[row * c..<(row + 1) * c].reduce(0, +) / Double(c)
                for j in 0..<c { z[row * c + j] -= m }
            }
            return z
        }
        let s = zeroMeanRows(), t = zeroMeanRows()
        var without: [Double] = [], with: [Double] = []
        for temperature in temperatures {
            let gradient = Naive.distillationKL(student: s, teacher: t, classes: c, temperature: temperature).studentGradient
            let norm = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
            with.append(norm)
            without.append(norm / (temperature * temperature))
        }
        return (without, with)
    }
}
