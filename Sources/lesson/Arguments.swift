import ConvNetCore
import Foundation

/// A bad command line or bad input: printed as one line on standard error, exit status 2
/// for usage errors and 1 for failures.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    var status: Int32 = 1
    static func usage(_ message: String) -> CommandError { CommandError(description: message, status: 2) }
}

/// The words after a subcommand: `--flag`, `--option value` (or `--option=value`) and
/// positional arguments. Every option a command reads is removed; whatever is left is
/// reported as unknown, so a typo never passes silently.
struct Arguments {
    private(set) var positionals: [String] = []
    private var options: [String: String] = [:]
    private var flags: Set<String> = []
    /// Every option and flag the command knows (those it takes a value for, and every
    /// name it has asked about), for the "did you mean" of an unknown one.
    private var known: Set<String> = ["help"]
    private let command: String

    /// `valueOptions` are the options that take a value; every other `--word` is a flag,
    /// unless `passUnknown`: then an unknown `--word value` is kept for the lesson
    /// (`remainingOptions()`).
    init(_ words: [String], command: String, valueOptions: Set<String>, passUnknown: Bool = false) throws {
        self.command = command
        known.formUnion(valueOptions)
        var i = 0
        while i < words.count {
            let word = words[i]
            if word.hasPrefix("--") && word.count > 2 {
                var name = String(word.dropFirst(2))
                var value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                let takesValue = valueOptions.contains(name)
                    || (passUnknown && value == nil && i + 1 < words.count && !words[i + 1].hasPrefix("--"))
                if takesValue || (passUnknown && value != nil) {
                    if value == nil {
                        i += 1
                        guard i < words.count else { throw CommandError.usage("lesson \(command): --\(name) needs a value") }
                        value = words[i]
                    }
                    options[name] = value
                } else {
                    if value != nil { throw CommandError.usage("lesson \(command): --\(name) takes no value") }
                    flags.insert(name)
                }
            } else if word == "-h" {
                flags.insert("help")
            } else if word.count > 1 && word.hasPrefix("-") && word.dropFirst().first?.isLetter == true {
                // A single-dash word is never a name or a number: `-json` for `--json`.
                flags.insert(word)
            } else {
                positionals.append(word)
            }
            i += 1
        }
    }

    mutating func flag(_ name: String) -> Bool {
        known.insert(name)
        return flags.remove(name) != nil
    }

    mutating func option(_ name: String) -> String? {
        known.insert(name)
        return options.removeValue(forKey: name)
    }

    /// An integer option; with `range`, a value outside it is a usage error naming the range.
    mutating func intOption(_ name: String, default fallback: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        guard let text = option(name) else { return fallback }
        guard let value = Int(text) else { throw CommandError.usage("lesson \(command): --\(name) expects an integer, got '\(text)'") }
        if let range, !range.contains(value) {
            throw CommandError.usage("lesson \(command): --\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    mutating func doubleOption(_ name: String, default fallback: Double) throws -> Double {
        guard let text = option(name) else { return fallback }
        guard let value = Double(text) else { throw CommandError.usage("lesson \(command): --\(name) expects a number, got '\(text)'") }
        return value
    }

    /// A comma-separated list of positive integers (`--threads 1,2`), each at most `maximum`.
    mutating func intListOption(_ name: String, maximum: Int = Int.max) throws -> [Int]? {
        guard let text = option(name) else { return nil }
        let values = text.split(separator: ",", omittingEmptySubsequences: false)
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !values.isEmpty, values.count == text.split(separator: ",", omittingEmptySubsequences: false).count else {
            throw CommandError.usage("lesson \(command): --\(name) expects positive integers like 1,2, got '\(text)'")
        }
        if let large = values.first(where: { $0 > maximum }) {
            throw CommandError.usage("lesson \(command): --\(name) values must be at most \(maximum), got \(large)")
        }
        return values
    }

    /// The options and flags nobody has read (flags with the value "true").
    mutating func remainingOptions() -> [String: String] {
        var result = options
        for flag in flags { result[flag] = "true" }
        options = [:]
        flags = []
        return result
    }

    /// Throws for any option or flag no command read, suggesting the nearest known one,
    /// and for more than `positionals` positional arguments (when given).
    func finish(positionals allowed: Int? = nil) throws {
        if let unknown = (Array(flags) + Array(options.keys)).sorted().first {
            let shown = unknown.hasPrefix("-") ? unknown : "--" + unknown
            let typed = unknown.drop(while: { $0 == "-" })
            let hint = NearestName.suggestion(for: String(typed), among: known.sorted(), prefix: "--")
            throw CommandError.usage("lesson \(command): unknown option \(shown)\(hint) (see lesson \(command) --help)")
        }
        if let allowed, positionals.count > allowed {
            throw CommandError.usage("lesson \(command): unexpected argument '\(positionals[allowed])' (see lesson \(command) --help)")
        }
    }

    /// The value of `name` if it is one of `valid`; a usage error naming the option, the
    /// value and the nearest valid one otherwise.
    mutating func choiceOption(_ name: String, among valid: [String], default fallback: String) throws -> String {
        guard let text = option(name) else { return fallback }
        guard valid.contains(text) else {
            let choices = valid.dropLast().joined(separator: ", ") + (valid.count > 1 ? " or " : "") + (valid.last ?? "")
            throw CommandError.usage("lesson \(command): --\(name) must be \(choices), got '\(text)'"
                                     + NearestName.suggestion(for: text, among: valid))
        }
        return text
    }
}

/// Writes `text` to a file atomically: a temporary file beside it, then a rename.
func writeAtomically(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url, options: .atomic)
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A JSON object as one line with sorted keys.
func jsonLine(_ object: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
          let text = String(data: data, encoding: .utf8) else { return "{}" }
    return text
}
