import Foundation

/// A lesson: one idea of the course, run for real on real data by `lesson run NAME`.
///
/// Each lesson lives in its own folder under `Lessons/` (its README, its kernel pair, its
/// model, its run) as a SwiftPM target, and the `lesson` tool lists and runs it through
/// this protocol. It declares its options once (``options``: `--help` is rendered from
/// them and the tool rejects any other), and returns typed results (``Results``), which
/// `--json` prints; ``resultKeys`` documents their keys for `--help`, and a test checks
/// that they are the keys a `--quick --json` run prints.
public protocol Lesson {
    /// What the run measured: the `--json` object (accuracies, errors, times, speedups).
    associatedtype Results: Encodable
    /// The name `lesson run` takes (`lenet`).
    static var name: String { get }
    /// The folder under `Lessons/` (`LeNet`): the target is `<folder>Lesson`, its tests
    /// `Tests/<folder>LessonTests`.
    static var folder: String { get }
    /// One line for `lesson list`.
    static var summary: String { get }
    /// The lesson's own options (beyond the ones every `lesson run` takes).
    static var options: [LessonOption] { get }
    /// A few lines for `--help` after the options: the defaults, what the run writes.
    static var notes: String { get }
    /// The keys of the `--json` object of a default run, each with its meaning.
    static var resultKeys: [ResultKey] { get }
    /// Runs the lesson, printing as it goes through `console`, and returns what it
    /// measured. Throws a `LessonError` (or a `FileFormatError`) for bad input.
    static func run(_ options: LessonOptions, console: Console) throws -> Results
}

extension Lesson {
    /// `--help`'s lesson part, rendered from ``options``, ``notes`` and ``resultKeys``.
    public static var help: String {
        var lines = ["LESSON OPTIONS:"]
        let width = (options.map { $0.usage.count }.max() ?? 0) + 2
        for option in options {
            lines.append("  " + option.usage.padding(toLength: width, withPad: " ", startingAt: 0) + option.helpWithDefault)
        }
        if options.isEmpty { lines.append("  (none)") }
        if !notes.isEmpty { lines += ["", notes] }
        lines += ["", "JSON KEYS (--json):"]
        let keyWidth = (resultKeys.map { $0.name.count }.max() ?? 0) + 2
        for key in resultKeys {
            lines.append("  " + key.name.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + key.meaning)
        }
        return lines.joined(separator: "\n")
    }

    /// Runs the lesson and returns its results as one line of JSON (sorted keys).
    public static func runForJSON(_ options: LessonOptions, console: Console) throws -> String {
        let results = try run(options, console: console)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(results), as: UTF8.self)
    }
}

/// One `--json` key of a lesson, documented for `--help`.
public struct ResultKey: Sendable {
    public var name: String
    public var meaning: String
    public init(_ name: String, _ meaning: String) {
        self.name = name
        self.meaning = meaning
    }

    /// The keys of a lesson that trains several nets on paired seeds: how long, on what,
    /// and where the files went.
    public static let trainingRun: [ResultKey] = [
        ResultKey("epochs", "epochs per net"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_examples", "training digits"),
        ResultKey("train_seconds", "time spent training, all nets"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]
}

/// One option of a lesson: its name (`--batch`), the values it takes, its default and
/// its help line, declared once; `--help` shows it and ``LessonOptions`` parses it.
public struct LessonOption: Sendable {
    public enum Kind: Sendable {
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A number in the range.
        case number(ClosedRange<Double>)
        /// One of these words.
        case choice([String])
        /// Present or not; takes no value.
        case flag
    }
    public var name: String
    public var kind: Kind
    /// The value when the option is not given ("" for a flag).
    public var defaultValue: String
    public var help: String

    public init(_ name: String, _ kind: Kind, default defaultValue: String = "", help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `--batch N`, `--c3 full|paper`, `--lr X`, `--plain`.
    public var usage: String {
        switch kind {
        case .integer: "--\(name) N"
        case .number: "--\(name) X"
        case .choice(let words): "--\(name) " + words.joined(separator: "|")
        case .flag: "--\(name)"
        }
    }

    var helpWithDefault: String {
        if case .flag = kind { return help }
        return help + " (default \(defaultValue))"
    }

    /// What the value must be, for error messages.
    var expectation: String {
        switch kind {
        case .integer(let r): r.upperBound == .max ? "an integer of at least \(r.lowerBound)" : "an integer from \(r.lowerBound) to \(r.upperBound)"
        case .number(let r): r.upperBound == .infinity ? "a number of at least \(r.lowerBound)" : "a number from \(r.lowerBound) to \(r.upperBound)"
        case .choice(let words): words.joined(separator: " or ")
        case .flag: "no value"
        }
    }

    /// Checks `text` as a value of this option.
    func check(_ text: String) throws {
        let valid: Bool
        switch kind {
        case .integer(let r): valid = Int(text).map(r.contains) ?? false
        case .number(let r): valid = Double(text).map { $0.isFinite && r.contains($0) } ?? false
        case .choice(let words): valid = words.contains(text)
        case .flag: valid = text == "true"
        }
        guard valid else {
            if case .flag = kind { throw LessonError("--\(name) takes no value") }
            throw LessonError("--\(name) expects \(expectation), got '\(text)'")
        }
    }
}

/// What every `lesson run` accepts, and the lesson's own options as given.
public struct LessonOptions {
    /// Seconds instead of minutes: a few hundred examples, fewer epochs.
    public var quick = false
    /// Seeds every random choice; the same seed reproduces the run exactly.
    public var seed: UInt64 = 1
    /// Where plots, images and weights go (`lesson-output/NAME/` by default).
    public var outputDirectory: URL
    /// The package's `Fixtures/` directory (data sets, photographs).
    public var fixtures: URL
    /// Weights to load (with `evaluateOnly`: evaluate them instead of training).
    public var weights: URL?
    /// Evaluate the loaded weights and stop.
    public var evaluateOnly = false
    /// Overrides the lesson's number of epochs.
    public var epochs: Int?
    /// The JSON results will be printed at the end (lessons may print less).
    public var json = false
    /// Continue training from the checkpoints a stopped run left (`--resume`).
    public var resume = false
    /// The command line that started the run, for the report.
    public var commandLine = ""
    /// The lesson's declared options and the values given for them (`--key value`;
    /// flags as "true"), checked by ``init(outputDirectory:fixtures:declared:given:)``.
    public private(set) var declared: [LessonOption] = []
    public private(set) var given: [String: String] = [:]

    public init(outputDirectory: URL, fixtures: URL) {
        self.outputDirectory = outputDirectory
        self.fixtures = fixtures
    }

    /// Options for a lesson that declares `declared`, with `given` values: throws a
    /// `LessonError` for an option it does not declare or a value it does not take.
    public init(outputDirectory: URL, fixtures: URL, declared: [LessonOption], given: [String: String]) throws {
        self.init(outputDirectory: outputDirectory, fixtures: fixtures)
        self.declared = declared
        for (name, value) in given.sorted(by: { $0.key < $1.key }) {
            guard let option = declared.first(where: { $0.name == name }) else {
                let names = declared.map { "--" + $0.name }
                let common = ["quick", "seed", "epochs", "out", "json", "weights", "eval", "fixtures", "threads", "resume", "help"]
                throw LessonError("unknown option --\(name)"
                                  + NearestName.suggestion(for: name, among: declared.map(\.name) + common, prefix: "--")
                                  + (names.isEmpty ? " (this lesson has no options of its own)" : " (its options: \(names.joined(separator: ", ")))"))
            }
            try option.check(value)
        }
        self.given = given
    }

    /// Whether the option was given at all.
    public func isGiven(_ name: String) -> Bool { given[name] != nil }

    private func value(_ name: String) -> (option: LessonOption, text: String) {
        guard let option = declared.first(where: { $0.name == name }) else {
            preconditionFailure("LessonOptions: --\(name) is not a declared option")
        }
        return (option, given[name] ?? option.defaultValue)
    }

    /// An `.integer` option's value (its default when not given).
    public func integer(_ name: String) -> Int { Int(value(name).text)! }
    /// A `.number` option's value.
    public func number(_ name: String) -> Double { Double(value(name).text)! }
    /// A `.choice` option's word.
    public func choice(_ name: String) -> String { value(name).text }
    /// Whether a `.flag` option was given.
    public func flag(_ name: String) -> Bool { given[name] == "true" }
}

/// Bad input to a lesson (a missing data set, a loss that became NaN): one line, exit 1.
public struct LessonError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where a lesson prints: whole lines to standard output, and one progress line on
/// standard error that rewrites itself (`\r`) while a long loop runs.
public final class Console {
    public let showsProgress: Bool
    private var progressVisible = false

    public init(showsProgress: Bool = true) { self.showsProgress = showsProgress }

    /// Prints a line (clearing the progress line first).
    public func print(_ text: String = "") {
        clearProgress()
        Swift.print(text)
        fflush(stdout)
    }

    /// Replaces the progress line: `epoch 3/8  step 40/63  loss 0.213  acc 93.1%  2,400 img/s`.
    public func progress(_ text: String) {
        guard showsProgress else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        progressVisible = true
    }

    /// Removes the progress line.
    public func clearProgress() {
        guard progressVisible else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        progressVisible = false
    }
}
