import Foundation

/// The page a `lesson run` leaves beside its plots: `index.html`, one self-contained file
/// (no network, no scripts) with the run's title, command, date and headline, its numbered
/// steps (text, console tables, tables, figures inline, named values), its `--json`
/// results and links to the files it wrote. The lesson fills it as it runs:
///
///     var report = LessonReport(lesson: "lenet", title: "LeNet-5 learns handwritten digits",
///                               command: "lesson run lenet --seed 1")
///     report.addStep("The network", [.preformatted(table)])
///     report.addStep("Training", [.figure(file: "training-curves.svg", caption: "Loss and accuracy per epoch")])
///     report.headline = "98.6% held-out accuracy"
///     try report.write(to: outputDirectory)     // also lists the run in ../index.html
public struct LessonReport: Sendable {
    /// The lesson's name, as `lesson run` takes it (`lenet`).
    public var lesson: String
    /// What the run shows, as a sentence (`LeNet-5 learns handwritten digits`).
    public var title: String
    /// The command that made the run (`lesson run lenet --seed 1`).
    public var command: String
    /// The run's main measured number (`98.6% held-out accuracy`), at the top of the page
    /// and in the list of runs.
    public var headline: String = ""
    public var steps: [ReportStep] = []
    /// The `--json` object, shown pretty-printed in a final section "Results (--json)".
    public var resultsJSON: String?
    /// What the run wrote into its directory, linked from the page.
    public var files: [(name: String, description: String)] = []
    /// When the run happened (shown in the header and the list of runs).
    public var date = Date()

    public init(lesson: String, title: String, command: String) {
        self.lesson = lesson
        self.title = title
        self.command = command
    }

    /// Appends a step; steps are numbered 1, 2, ... in the order they are added.
    public mutating func addStep(_ title: String, _ blocks: [ReportBlock]) {
        steps.append(ReportStep(title: title, blocks: blocks))
    }

    /// The page, with the figures read from `directory` (the directory `index.html` goes in).
    public func html(directory: URL) -> String {
        let e = ReportHTML.escape
        var sections: [(id: String, number: Int?, title: String, body: String)] = []
        var figureIndex = 0
        for (i, step) in steps.enumerated() {
            var body = ""
            for block in step.blocks {
                switch block {
                case .paragraph(let text):
                    body += ReportHTML.paragraphs(text)
                case .preformatted(let text):
                    body += "<pre>" + e(text) + "</pre>\n"
                case .table(let table):
                    body += ReportHTML.table(table)
                case .figure(let file, let caption):
                    figureIndex += 1
                    body += ReportHTML.figure(file, caption: caption, directory: directory, index: figureIndex)
                case .keyValues(let pairs):
                    body += "<table class=\"values\">\n<tbody>\n"
                    for (key, value) in pairs {
                        body += "<tr><th>\(e(key))</th>" + (ReportHTML.looksNumeric(value) ? "<td class=\"num\">" : "<td>")
                            + e(value) + "</td></tr>\n"
                    }
                    body += "</tbody>\n</table>\n"
                }
            }
            sections.append(("step-\(i + 1)", i + 1, step.title, body))
        }
        if let json = resultsJSON {
            let body = ReportHTML.prettyJSON(json).map { "<pre>" + e($0) + "</pre>\n" }
                ?? "<p>The run printed this, which is not valid JSON:</p>\n<pre>" + e(json) + "</pre>\n"
            sections.append(("results", nil, "Results (--json)", body))
        }
        if !files.isEmpty {
            var body = "<table>\n<thead><tr><th>file</th><th>what it holds</th></tr></thead>\n<tbody>\n"
            for file in files {
                body += "<tr><td><a href=\"\(ReportHTML.href(file.name))\"><code>\(e(file.name))</code></a></td>"
                    + "<td>\(e(file.description))</td></tr>\n"
            }
            sections.append(("files", nil, "Files", body + "</tbody>\n</table>\n"))
        }

        var page = "<header class=\"run\">\n"
        page += "<p class=\"lesson\"><a href=\"../index.html\">lesson runs</a> / \(e(lesson))</p>\n"
        page += "<h1>\(e(title))</h1>\n"
        page += "<p class=\"meta\"><code>\(e(command))</code></p>\n"
        page += "<p class=\"meta\">\(e(ReportHTML.displayDate(date)))</p>\n"
        if !headline.isEmpty { page += "<p class=\"headline\">\(e(headline))</p>\n" }
        page += "</header>\n"
        if !sections.isEmpty {
            page += "<nav class=\"contents\">\n<h2>Contents</h2>\n<ol>\n"
            for section in sections where section.number != nil {
                page += "<li><a href=\"#\(section.id)\">\(e(section.title))</a></li>\n"
            }
            page += "</ol>\n"
            let extra = sections.filter { $0.number == nil }
            if !extra.isEmpty {
                page += "<p>" + extra.map { "<a href=\"#\($0.id)\">\(e($0.title))</a>" }.joined(separator: " · ") + "</p>\n"
            }
            page += "</nav>\n"
        }
        for section in sections {
            page += "<section id=\"\(section.id)\">\n"
            let number = section.number.map { "<span class=\"number\">\($0).</span>" } ?? ""
            page += "<h2>\(number)\(e(section.title))</h2>\n"
            page += section.body + "</section>\n"
        }
        page += "<footer>Written by <code>\(e(command))</code>. This page needs no network: every figure is inside it.</footer>"
        return ReportHTML.page(title: "\(title) (lesson \(lesson))", body: page)
    }

    /// Writes `directory/index.html` atomically (a temporary file, then a rename), then
    /// lists the run in the parent directory's `index.html` (`ReportIndex`).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileIO.writeAtomically(Data(html(directory: directory).utf8), to: directory.appendingPathComponent("index.html"))
        try ReportIndex.update(root: directory.deletingLastPathComponent(), with: self,
                               directoryName: directory.lastPathComponent)
    }
}
