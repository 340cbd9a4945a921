import Foundation

/// A lesson run in progress: what it says goes to the console and into its report at
/// once, so a lesson writes each step once and gets both the terminal transcript and
/// `index.html` (one self-contained page: steps, tables, figures, the `--json` numbers).
///
///     let run = try LessonRun(lesson: "lenet", title: "LeNet-5 learns handwritten digits", options: options, console: console)
///     run.step("The network, as the paper's table")
///     run.show(table)                                   // printed as text, a table in the page
///     try run.writeFigure(svg: chart.svg, name: "training-curves.svg", caption: "...")
///     try run.finish(headline: "98.6% held-out accuracy", results: results)
///
/// Every file goes into the output directory under a temporary name and is renamed when
/// complete, so a reader never sees half a file.
public final class LessonRun {
    public let options: LessonOptions
    public let console: Console
    public private(set) var report: LessonReport
    /// Where the run writes (`lesson-output/NAME/` by default), created by `init`.
    public var directory: URL { options.outputDirectory }

    /// Creates the output directory (a run should not fail after its work).
    public init(lesson: String, title: String, options: LessonOptions, console: Console) throws {
        self.options = options
        self.console = console
        report = LessonReport(lesson: lesson, title: title,
                              command: options.commandLine.isEmpty ? "lesson run \(lesson)" : options.commandLine)
        do {
            try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw LessonError("cannot create the output directory \(options.outputDirectory.path): \(error.localizedDescription)")
        }
    }

    // MARK: Saying things

    /// Starts the next numbered step: a heading on the console, a section in the page.
    public func step(_ title: String) {
        let number = report.steps.count + 1
        console.print("\n\(number). \(title)\n")
        report.addStep(title, [])
    }

    /// A paragraph of prose.
    public func say(_ text: String) {
        console.print(text)
        append(.paragraph(text))
    }

    /// Text laid out for a terminal (a console table, a connection table): monospace in the page.
    public func show(_ text: String) {
        console.print(text)
        append(.preformatted(text))
    }

    /// A table: padded text on the console, a table in the page.
    public func show(_ table: ReportTable) {
        console.print(table.consoleText)
        append(.table(table))
    }

    /// Name-value pairs (the settings of a run).
    public func show(_ pairs: [(key: String, value: String)]) {
        let width = (pairs.map { $0.key.count }.max() ?? 0) + 2
        console.print(pairs.map { $0.key.padding(toLength: width, withPad: " ", startingAt: 0) + $0.value }.joined(separator: "\n"))
        append(.keyValues(pairs))
    }

    /// Printed on the console only (progress-like lines the page does not need).
    public func note(_ text: String) { console.print(text) }

    private func append(_ block: ReportBlock) {
        if report.steps.isEmpty { report.addStep("The run", []) }
        report.steps[report.steps.count - 1].blocks.append(block)
    }

    // MARK: Writing files

    /// Writes `data` to `name` in the output directory, atomically, and lists it among the
    /// run's files with `description`. Returns its URL.
    @discardableResult
    public func write(_ data: Data, to name: String, description: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        do {
            try FileIO.writeAtomically(data, to: url)
        } catch {
            throw LessonError("cannot write \(url.path): \(error.localizedDescription)")
        }
        recordFile(name, description: description)
        return url
    }

    /// Lists a file the lesson wrote itself (weights saved by the model) among the run's files.
    public func recordFile(_ name: String, description: String) {
        report.files.removeAll { $0.name == name }
        report.files.append((name, description))
    }

    /// Writes an SVG figure and shows it in the current step of the page.
    public func writeFigure(svg: String, name: String, caption: String) throws {
        try write(Data(svg.utf8), to: name, description: caption)
        append(.figure(file: name, caption: caption))
    }

    /// Writes a PNG figure and shows it in the current step of the page.
    public func writeFigure(png image: Image, name: String, caption: String) throws {
        let url = directory.appendingPathComponent(name)
        do {
            try PNG.write(image, to: url)
        } catch {
            throw LessonError("cannot write \(url.path): \(error)")
        }
        recordFile(name, description: caption)
        append(.figure(file: name, caption: caption))
    }

    // MARK: Ending

    /// Ends the run: writes `index.html` (with `headline` at the top and `results` as the
    /// `--json` numbers) and the index of every lesson run beside this one
    /// (`lesson-output/index.html`), then says where.
    public func finish<R: Encodable>(headline: String, results: R) throws {
        report.headline = headline
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        report.resultsJSON = String(decoding: try encoder.encode(results), as: UTF8.self)
        do {
            try report.write(to: directory)
            try ReportIndex.update(root: directory.deletingLastPathComponent(), with: report,
                                   directoryName: directory.lastPathComponent)
        } catch {
            throw LessonError("cannot write the report in \(directory.path): \(error.localizedDescription)")
        }
        console.print("\nwrote in \(directory.path)/:")
        let width = (report.files.map { $0.name.count }.max() ?? 0) + 2
        for file in [(name: "index.html", description: "this run as one page: its steps, tables, figures and numbers")] + report.files {
            console.print("  " + file.name.padding(toLength: width, withPad: " ", startingAt: 0) + file.description)
        }
    }
}
