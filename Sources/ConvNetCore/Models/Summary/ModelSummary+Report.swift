import Foundation

extension ModelSummary {
    /// The layer table as a ``ReportTable`` (a table in a lesson's `index.html`, padded
    /// text on its console): name, type, output shape, parameters, MACs, then the totals.
    /// With `activationMemory`, a column of the bytes each layer's output takes as
    /// `Float`s (`4 * product(outputShape)`) and their sum in the totals row: the memory
    /// a forward pass holds for the backward pass when it keeps every activation.
    public func reportTable(activationMemory: Bool = false) -> ReportTable {
        var headers = ["layer", "type", "output shape", "parameters", "MACs"]
        if activationMemory { headers.append("activations") }
        var body: [[String]] = rows.map { row in
            var cells = [row.name, row.layer, Self.shape(row.outputShape), Self.grouped(row.parameters), Self.grouped(row.macs)]
            if activationMemory { cells.append(Self.bytes(Self.activationBytes(row.outputShape))) }
            return cells
        }
        var total = ["total", "", Self.shape(outputShape), Self.grouped(parameters), Self.grouped(macs)]
        if activationMemory { total.append(Self.bytes(activationBytes)) }
        body.append(total)
        return ReportTable(caption: "\(title): input \(Self.shape(inputShape))", headers: headers, rows: body)
    }

    /// Bytes of one layer output of `shape` as 32-bit floats.
    public static func activationBytes(_ shape: [Int]) -> Int { 4 * shape.reduce(1, *) }

    /// Bytes of every layer's output, summed (what training keeps for the backward pass,
    /// before any in-place trick).
    public var activationBytes: Int { rows.reduce(0) { $0 + Self.activationBytes($1.outputShape) } }

    /// 6_422_528 -> "6.1 MiB"; below a KiB, "812 B".
    public static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        if count < 1 << 20 { return String(format: "%.1f KiB", Double(count) / 1024) }
        if count < 1 << 30 { return String(format: "%.1f MiB", Double(count) / Double(1 << 20)) }
        return String(format: "%.2f GiB", Double(count) / Double(1 << 30))
    }
}
