import Foundation

/// The list of lesson runs: `lesson-output/index.html`, one row per lesson (its latest
/// run) with the run's title, headline number and date, linking to `NAME/index.html`.
///
/// What it lists is kept in `runs.json` beside it, one entry per lesson:
///
///     {"lenet": {"title": "...", "headline": "...", "date": "2026-12-02T14:40:00Z",
///                "link": "lenet/index.html", "command": "lesson run lenet"}}
///
/// A missing or corrupt `runs.json` starts a fresh list; both files are written atomically.
public enum ReportIndex {
    /// One lesson's latest run, as `runs.json` keeps it.
    public struct Entry: Sendable, Equatable {
        public var lesson: String
        public var title: String
        public var headline: String
        /// ISO 8601, UTC.
        public var date: String
        /// Relative to the index: `lenet/index.html`.
        public var link: String
        public var command: String
    }

    /// Records this run in root/runs.json (lesson -> title, headline, date, relative link)
    /// and rewrites root/index.html, atomically, listing every lesson run so far (one row
    /// each, latest run per lesson), with links to NAME/index.html.
    public static func update(root: URL, with report: LessonReport, directoryName: String) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var entries = Dictionary(readEntries(root: root).map { ($0.lesson, $0) }, uniquingKeysWith: { _, last in last })
        entries[report.lesson] = Entry(lesson: report.lesson, title: report.title, headline: report.headline,
                                       date: isoDate(report.date), link: directoryName + "/index.html",
                                       command: report.command)
        let sorted = entries.values.sorted { $0.lesson < $1.lesson }
        var object: [String: Any] = [:]
        for entry in sorted {
            object[entry.lesson] = ["title": entry.title, "headline": entry.headline, "date": entry.date,
                                    "link": entry.link, "command": entry.command]
        }
        let json = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try FileIO.writeAtomically(json + Data("\n".utf8), to: root.appendingPathComponent("runs.json"))
        try FileIO.writeAtomically(Data(html(sorted).utf8), to: root.appendingPathComponent("index.html"))
    }

    /// The runs `root/runs.json` lists, by lesson name; empty when the file is missing or
    /// is not a JSON object (entries without a title or link are skipped).
    public static func readEntries(root: URL) -> [Entry] {
        guard let data = try? Data(contentsOf: root.appendingPathComponent("runs.json")),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return [] }
        return object.keys.sorted().compactMap { lesson in
            guard let fields = object[lesson] as? [String: Any],
                  let title = fields["title"] as? String, let link = fields["link"] as? String else { return nil }
            return Entry(lesson: lesson, title: title, headline: fields["headline"] as? String ?? "",
                         date: fields["date"] as? String ?? "", link: link, command: fields["command"] as? String ?? "")
        }
    }

    /// The page listing `entries`, in their order.
    static func html(_ entries: [Entry]) -> String {
        let e = ReportHTML.escape
        var body = "<header class=\"run\">\n<p class=\"lesson\">ConvNet case studies</p>\n<h1>Lesson runs</h1>\n"
        body += "<p class=\"meta\">The latest run of each lesson, with the number it measured. "
            + "Each page opens without a network.</p>\n</header>\n"
        body += "<table class=\"runs\">\n<thead><tr><th>lesson</th><th>run</th><th>headline</th><th>date</th></tr></thead>\n<tbody>\n"
        for entry in entries {
            let date = parseISODate(entry.date).map(ReportHTML.displayDate) ?? entry.date
            body += "<tr><td><code>\(e(entry.lesson))</code></td>"
                + "<td><a href=\"\(ReportHTML.href(entry.link))\">\(e(entry.title))</a>"
                + (entry.command.isEmpty ? "" : "<br><code>\(e(entry.command))</code>") + "</td>"
                + "<td>\(e(entry.headline))</td><td class=\"date\">\(e(date))</td></tr>\n"
        }
        body += "</tbody>\n</table>\n"
        return ReportHTML.page(title: "Lesson runs", body: body)
    }

    static func isoDate(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    static func parseISODate(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
