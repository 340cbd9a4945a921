/// The shape checks of the layers' shape functions (`outputShape(for:)`, `summarize`):
/// a failed check traps, naming the layer and the shape, except while
/// ``Layer/inputProblem(for:)`` asks whether an input fits a model. Then the first
/// failure is recorded, the layer goes on with a stand-in shape that fits it, and the
/// question gets the failure's words as its answer.
public enum ShapeCheck {
    final class Record: @unchecked Sendable { var first: String? }

    /// The record of the question being asked on this task or thread, if any.
    @TaskLocal static var record: Record?

    /// Whether an input is being tried (checks record instead of trapping).
    static var isProbing: Bool { record != nil }

    /// True when `condition` holds. Otherwise, while probing, records `message` (the
    /// first one wins) and returns false, so the caller goes on with a stand-in shape;
    /// outside a probe it traps with `message`.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) -> Bool {
        if condition { return true }
        guard let record else { preconditionFailure(message()) }
        if record.first == nil { record.first = message() }
        return false
    }
}

extension Layer {
    /// Why an input of `shape` cannot go through this model (the first layer it does not
    /// fit, with the shape that layer would get), or nil when it fits: the check to make
    /// before `forward` on a shape read from a file or a flag, since `forward` traps.
    /// From shapes alone, like a summary. In training mode it also checks that every batch
    /// norm sees more than one value per channel.
    public func inputProblem(for shape: [Int]) -> String? {
        if shape.isEmpty { return "the input has no dimensions" }
        if let bad = shape.first(where: { $0 <= 0 }) { return "the input shape \(shape) has the extent \(bad)" }
        guard shape.checkedProduct != nil else { return "the input shape \(shape) has too many elements" }
        let record = ShapeCheck.Record()
        ShapeCheck.$record.withValue(record) {
            var trace = SummaryTrace()
            _ = summarize(shape, into: &trace)
        }
        return record.first.map { "input \(shape): \($0)" }
    }
}
