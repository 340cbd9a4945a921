import Foundation

// Exercises: functions a learner writes, graded by `swift test`.
//
// Each lesson's `Exercises.swift` holds its exercises. An exercise is an ordinary function
// whose body, the reference solution, sits between two marker comments, with its hint
// in the doc comment above:
//
//     /// Hint: y[n, o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] x[n, c, i+u, j+v].
//     public func validConvolution(...) -> [Double] {
//         // EXERCISE validConvolution BEGIN (stub: return [])
//         ...the reference body...
//         // EXERCISE validConvolution END
//     }
//
// `lesson exercise NAME --start` replaces every body with a stub that compiles, records
// that it ran (`Exercise.notWritten`) and returns the stub value, so the grader fails
// with "not written yet"; `--reset` puts the reference back from the copy the tool
// carries. Nothing else in the file changes.

/// The exercises of a lesson's `Exercises.swift`, found by their markers, and the file
/// with their bodies replaced (started) or restored (reset).
public struct ExerciseFile: Sendable {
    /// One exercise: its name, the first line of its hint, the stub's return statement,
    /// and its body as the file holds it now.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var hint: String
        public var stubReturn: String
        public var body: String
        /// Whether the body is the stub `--start` writes.
        public var isStub: Bool { body.contains("Exercise.notWritten(") }
    }

    public private(set) var text: String
    public private(set) var entries: [Entry] = []

    /// Parses `text`; throws a one-line message for unbalanced or duplicated markers.
    public init(text: String) throws {
        self.text = text
        let lines = text.components(separatedBy: "\n")
        var open: (name: String, stub: String, line: Int)?
        var body: [String] = []
        var docLines: [String] = []
        var lastDoc: [String] = []
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let marker = Self.marker(trimmed) {
                switch (marker.kind, open) {
                case ("BEGIN", nil):
                    open = (marker.name, marker.stub ?? "return", index + 1)
                    body = []
                case ("END", let current?) where current.name == marker.name:
                    guard !entries.contains(where: { $0.name == current.name }) else {
                        throw LessonError("exercise \(current.name) is marked twice")
                    }
                    let hint = lastDoc.first { $0.hasPrefix("Hint:") } ?? lastDoc.first ?? ""
                    entries.append(Entry(name: current.name, hint: hint, stubReturn: current.stub, body: body.joined(separator: "\n")))
                    open = nil
                default:
                    throw LessonError("line \(index + 1): \(marker.kind) of exercise \(marker.name) does not match"
                                      + (open.map { " (exercise \($0.name) opened at line \($0.line))" } ?? ""))
                }
                continue
            }
            if open != nil { body.append(line); continue }
            if trimmed.hasPrefix("///") {
                docLines.append(String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces))
            } else if !trimmed.isEmpty {
                if !docLines.isEmpty { lastDoc = docLines }
                docLines = []
            }
        }
        if let open { throw LessonError("exercise \(open.name), opened at line \(open.line), has no END marker") }
    }

    /// `// EXERCISE name BEGIN (stub: return [])` or `// EXERCISE name END`.
    static func marker(_ line: String) -> (name: String, kind: String, stub: String?)? {
        guard line.hasPrefix("// EXERCISE ") else { return nil }
        let words = line.dropFirst("// EXERCISE ".count).split(separator: " ", maxSplits: 2).map(String.init)
        guard words.count >= 2, words[1] == "BEGIN" || words[1] == "END" else { return nil }
        var stub: String?
        if words.count == 3, words[2].hasPrefix("(stub: "), words[2].hasSuffix(")") {
            stub = String(words[2].dropFirst("(stub: ".count).dropLast())
        }
        return (words[0], words[1], stub)
    }

    /// The file with every exercise's body replaced by `body(entry)`.
    func replacingBodies(_ body: (Entry) -> String) -> String {
        var result: [String] = []
        var skipping = false
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let marker = Self.marker(trimmed) {
                if marker.kind == "BEGIN", let entry = entries.first(where: { $0.name == marker.name }) {
                    result.append(line)
                    result.append(body(entry))
                    skipping = true
                } else {
                    skipping = false
                    result.append(line)
                }
                continue
            }
            if !skipping { result.append(line) }
        }
        return result.joined(separator: "\n")
    }

    /// The file as `--start` leaves it: each body a stub that says it is not written yet.
    public var started: String {
        replacingBodies { entry in
            let indent = String(entry.body.prefix { $0 == " " })
            return [
                "\(indent)// Not written yet: your code goes here (the hint is above the function).",
                "\(indent)Exercise.notWritten(\"\(entry.name)\")",
                "\(indent)\(entry.stubReturn)",
            ].joined(separator: "\n")
        }
    }

    /// The file with the bodies of `reference` put back (the exercises `reference` has).
    public func reset(to reference: ExerciseFile) -> String {
        replacingBodies { entry in reference.entries.first { $0.name == entry.name }?.body ?? entry.body }
    }
}

/// What graders ask of an exercise at run time.
public enum Exercise {
    nonisolated(unsafe) private static var unwritten: Set<String> = []
    private static let lock = NSLock()

    /// Called by a stub: records that exercise `name` ran unwritten.
    public static func notWritten(_ name: String) {
        lock.withLock { _ = unwritten.insert(name) }
    }

    /// Whether a stub of exercise `name` has run in this process.
    public static func ranUnwritten(_ name: String) -> Bool {
        lock.withLock { unwritten.contains(name) }
    }
}
