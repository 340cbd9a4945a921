import Foundation

extension ReportTable {
    /// The table as console text: columns padded to their widest cell, the first one
    /// left-aligned and the others right-aligned, a rule under the headers, the caption
    /// (if any) above.
    public var consoleText: String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        func cell(_ row: [String], _ i: Int) -> String { i < row.count ? row[i] : "" }
        let widths = (0..<columns).map { i in ([headers] + rows).map { cell($0, i).count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            (0..<columns).map { i -> String in
                let text = cell(row, i), pad = String(repeating: " ", count: widths[i] - text.count)
                return i == 0 ? text + pad : pad + text
            }.joined(separator: "  ")
        }
        var lines: [String] = []
        if let caption { lines.append(caption) }
        lines.append(line(headers))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        lines += rows.map(line)
        return lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }.joined(separator: "\n")
    }
}
