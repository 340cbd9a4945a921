import ConvNetCore
import Foundation

/// What graders of exercises share: one comparison that says, when an answer is wrong,
/// where (the element's NCHW index), what was expected and what came back, how far off,
/// and what usually causes it.
public enum Grading {
    /// nil when `got` matches `expected` within `tolerance` (relative, as the fixtures
    /// measure it); otherwise one message a learner can act on.
    public static func check(_ exercise: String, on what: String, got: [Double], expected: [Double], shape: [Int],
                             tolerance: Double = 1e-9, usualMistakes: String) -> String? {
        guard got.count == expected.count else {
            return "\(exercise) on \(what): returned \(got.count) values, expected \(expected.count) (shape \(shape))"
        }
        let error = relativeError(got, expected)
        guard error > tolerance else { return nil }
        var worst = 0, worstDifference = -1.0
        for i in got.indices {
            let d = abs(got[i] - expected[i])
            if d.isNaN || d > worstDifference { worst = i; worstDifference = d.isNaN ? .infinity : d }
            if d.isNaN { break }
        }
        return "\(exercise) on \(what): element \(index(worst, in: shape)) is \(got[worst]), expected \(expected[worst])"
            + String(format: " (relative error %.2e, tolerance %.0e). ", error, tolerance) + usualMistakes
    }

    /// What a learner reads when `problems` is not empty: "not written yet" when the stub
    /// of `exercise` ran, else each problem once, in order.
    public static func report(_ problems: [String], exercise: String) -> String {
        if Exercise.ranUnwritten(exercise) {
            return "\(exercise) is not written yet (its body is the stub `lesson exercise --start` left): write it, then run the grader again"
        }
        var seen = Set<String>()
        return problems.filter { seen.insert($0).inserted }.joined(separator: "\n")
    }

    /// `[n, c, i, j]` of flat index `i` in a tensor of `shape`.
    static func index(_ flat: Int, in shape: [Int]) -> [Int] {
        var rest = flat
        var result = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            result[axis] = rest % max(shape[axis], 1)
            rest /= max(shape[axis], 1)
        }
        return result
    }

    /// A fixture tensor of Fixtures/ops-public as Doubles.
    public static func fixture(_ name: String) throws -> (values: [Double], shape: [Int]) {
        let array = try NumPy.read(FixtureLocator.url("ops-public/\(name).npy"))
        return (array.floats.map(Double.init), array.shape)
    }
}
