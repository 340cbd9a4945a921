/// How large a case read from a file (a fixture, a bench case) may make the work: a
/// tensor of more elements than fit in memory, or more multiply-accumulates than finish
/// in minutes, is refused with the sizes named instead of being allocated or run.
public enum InputLimits {
    /// Elements of one tensor (512 MiB of Float).
    public static let elements = 1 << 27
    /// Multiply-accumulates (or window reads) of one operation.
    public static let work = 1 << 34

    /// Why a tensor of `shape` is refused (negative extent, too many elements), or nil.
    public static func shapeProblem(_ label: String, _ shape: [Int]) -> String? {
        if let bad = shape.first(where: { $0 < 0 }) { return "\(label): negative extent \(bad) in shape \(shape)" }
        guard let count = shape.checkedProduct, count <= elements else {
            return "\(label): shape \(shape) has more than \(elements) elements (the limit of one tensor here)"
        }
        return nil
    }

    /// Why work of `factors` multiplied together is refused (too large), or nil.
    public static func workProblem(_ label: String, _ factors: [Int]) -> String? {
        guard factors.allSatisfy({ $0 >= 0 }), let total = factors.checkedProduct, total <= work else {
            return "\(label): \(factors.map(String.init).joined(separator: " x ")) multiply-accumulates exceed the limit of \(work)"
        }
        return nil
    }

    /// Why `model` cannot run an input of `shape` read from a file: too large, not
    /// fitting one of its layers (``Layer/inputProblem(for:)``, shapes alone), an
    /// activation or the whole pass beyond the limits. Nil when it can.
    public static func networkProblem(_ model: Layer, input shape: [Int]) -> String? {
        if let problem = shapeProblem("x", shape) ?? model.inputProblem(for: shape) { return problem }
        let summary = ModelSummary(of: model, inputShape: shape)
        for row in summary.rows {
            if let problem = shapeProblem(row.name, row.outputShape) { return problem }
        }
        return workProblem("the network", [summary.macs])
    }
}
