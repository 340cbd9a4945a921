import Foundation

/// A lesson: one idea of the course, run for real on real data by `lesson run NAME`.
///
/// Each lesson lives in its own folder under `Lessons/` (its README, its kernel pair, its
/// model, its run) as a SwiftPM target, and the `lesson` tool lists and runs it through
/// this protocol.
public protocol Lesson {
    /// The name `lesson run` takes (`lenet`).
    static var name: String { get }
    /// One line for `lesson list`.
    static var summary: String { get }
    /// The lesson's own options and the keys of its `--json` results, for `--help`.
    static var help: String { get }
    /// Runs the lesson, printing as it goes through `console`, and returns what it
    /// measured (the `--json` object: accuracies, errors, times, speedups). Throws a
    /// `LessonError` (or a `FileFormatError`) for bad input.
    static func run(_ options: LessonOptions, console: Console) throws -> [String: Any]
}

/// What every `lesson run` accepts.
public struct LessonOptions {
    /// Seconds instead of minutes: a few hundred examples, fewer epochs.
    public var quick = false
    /// Seeds every random choice; the same seed reproduces the run exactly.
    public var seed: UInt64 = 1
    /// Where plots, images and weights go (`lesson-output/NAME/` by default).
    public var outputDirectory: URL
    /// The package's `Fixtures/` directory (data sets, photographs).
    public var fixtures: URL
    /// Weights to load instead of training (with `evaluateOnly`).
    public var weights: URL?
    /// Evaluate the loaded weights and stop.
    public var evaluateOnly = false
    /// Overrides the lesson's number of epochs.
    public var epochs: Int?
    /// The JSON results will be printed at the end (lessons may print less).
    public var json = false
    /// Lesson-specific `--key value` options that the tool did not consume.
    public var extra: [String: String] = [:]

    public init(outputDirectory: URL, fixtures: URL) {
        self.outputDirectory = outputDirectory
        self.fixtures = fixtures
    }
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
