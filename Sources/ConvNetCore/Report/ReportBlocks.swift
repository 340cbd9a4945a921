import Foundation

/// A table of a lesson's report (the layer table, the results, the race). In the page the
/// first column is left-aligned and every cell that looks like a number (`61,706`,
/// `98.6%`, `3.2x`, `1.4e-06`, `12.5 ms`) is right-aligned, so digits line up.
public struct ReportTable: Sendable {
    public var caption: String?
    public var headers: [String]
    public var rows: [[String]]

    public init(caption: String? = nil, headers: [String], rows: [[String]]) {
        self.caption = caption
        self.headers = headers
        self.rows = rows
    }
}

/// One piece of a report step, in reading order.
public enum ReportBlock: Sendable {
    /// Plain text, HTML-escaped; a blank line starts a new paragraph.
    case paragraph(String)
    /// A monospace block, for console tables exactly as the run printed them.
    case preformatted(String)
    case table(ReportTable)
    /// A file of the report's directory, shown inline: an `.svg` as its `<svg>` element,
    /// a `.png` (or `.jpg`) as a base64 `data:` URI. A missing file is shown as a visible
    /// "missing figure NAME" note.
    case figure(file: String, caption: String)
    /// Named numbers, one per row (the run's settings, its measured results).
    case keyValues([(key: String, value: String)])
}

/// One numbered step of a report ("The network", "Training", "The race").
public struct ReportStep: Sendable {
    public var title: String
    public var blocks: [ReportBlock]

    public init(title: String, blocks: [ReportBlock] = []) {
        self.title = title
        self.blocks = blocks
    }
}
