import Foundation

/// A directory of reference cases in the fixtures format (see Fixtures/FIXTURES-FORMAT.md):
/// `manifest.json` listing cases, `.npy` tensors and `.safetensors` weights beside it.
public struct FixtureSuite {
    public var directory: URL
    public var name: String
    public var cases: [FixtureCase]

    /// Reads `directory/manifest.json`; throws a `FileFormatError` naming the file and
    /// what is wrong when it is missing or malformed.
    public init(directory: URL) throws {
        let manifestURL = directory.appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw FileFormatError(path: manifestURL.path, reason: "no manifest.json in this directory")
        }
        let data = try FileIO.contents(of: manifestURL)
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FileFormatError(path: manifestURL.path, reason: "not a JSON object")
        }
        guard let rawCases = root["cases"] as? [Any] else {
            throw FileFormatError(path: manifestURL.path, reason: "no \"cases\" array")
        }
        self.directory = directory
        self.name = root["suite"] as? String ?? directory.lastPathComponent
        // A case that is not an object or has no name still becomes a case, failed with
        // the reason, so the other cases run.
        var seen = Set<String>()
        self.cases = rawCases.enumerated().map { index, raw in
            guard let fields = raw as? [String: Any] else {
                return FixtureCase(name: "case #\(index)", fields: [:], problem: "case \(index) of manifest.json is not a JSON object")
            }
            guard let name = fields["name"] as? String, !name.isEmpty else {
                return FixtureCase(name: "case #\(index)", fields: fields,
                                   problem: "case \(index) of manifest.json has no \"name\" string (got \(JSONValue.describe(fields["name"])))")
            }
            guard seen.insert(name).inserted else {
                return FixtureCase(name: name, fields: fields, problem: "a second case named '\(name)' in manifest.json")
            }
            return FixtureCase(name: name, fields: fields, problem: FixtureCase.fieldProblem(fields))
        }
    }
}

/// One case of a manifest: an op (or whole model) with attributes, input files,
/// expected outputs and gradients, and a tolerance.
public struct FixtureCase {
    public var name: String
    public var op: String { fields["op"] as? String ?? "" }
    /// `max|R - E| / max(max|E|, 1e-6)` must not exceed this for every expected tensor.
    public var tolerance: Double { JSONValue.number(fields["tolerance"]) ?? 1e-4 }
    public var attributes: FixtureAttributes { FixtureAttributes(fields["attrs"] as? [String: Any] ?? [:], caseName: name) }
    public var inputs: [String: String] { fields["inputs"] as? [String: String] ?? [:] }
    public var outputs: [String: String] { fields["outputs"] as? [String: String] ?? [:] }
    public var grads: [String: String] { fields["grads"] as? [String: String] ?? [:] }
    /// Every field of the case as parsed JSON.
    public let fields: [String: Any]
    /// Why the case cannot be run as written (a field of the wrong type), or nil.
    public let problem: String?

    init(name: String, fields: [String: Any], problem: String? = nil) {
        self.name = name
        self.fields = fields
        self.problem = problem
    }

    /// The first field of the wrong type or value, in words naming it, or nil.
    static func fieldProblem(_ fields: [String: Any]) -> String? {
        func wrong(_ key: String, _ expected: String) -> String {
            "manifest field \"\(key)\" should be \(expected), got \(JSONValue.describe(fields[key]))"
        }
        guard fields["op"] is String else { return wrong("op", "a string") }
        if let value = fields["tolerance"], !(value is NSNull) {
            guard let t = JSONValue.number(value), t >= 0 else { return wrong("tolerance", "a non-negative number") }
        }
        if fields["attrs"] != nil && !(fields["attrs"] is [String: Any]) { return wrong("attrs", "an object") }
        for key in ["inputs", "outputs", "grads"] where fields[key] != nil {
            guard let files = JSONValue.stringMap(fields[key]) else { return wrong(key, "an object of file names") }
            if let empty = files.first(where: { $0.value.isEmpty }) { return "manifest field \"\(key)\": '\(empty.key)' has an empty file name" }
        }
        for key in ["weights", "expected_gradients"] where fields[key] != nil {
            guard let file = fields[key] as? String, !file.isEmpty else { return wrong(key, "a file name") }
        }
        if fields["parameters"] != nil {
            guard let n = JSONValue.integer(fields["parameters"]), n >= 0 else { return wrong("parameters", "a non-negative integer") }
        }
        return nil
    }
}

/// A case's `attrs` object, with typed accessors that accept PyTorch's spellings
/// (`3` or `[3, 3]` for a pair) and throw a `VerificationFailure` naming the key when a
/// value has the wrong type.
public struct FixtureAttributes {
    public let values: [String: Any]
    let caseName: String

    init(_ values: [String: Any], caseName: String) {
        self.values = values
        self.caseName = caseName
    }

    public func contains(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    /// Integers in attributes (sizes, strides, paddings, groups) are at most this in
    /// magnitude: larger ones are errors, not allocations or overflows.
    public static let integerLimit = 1 << 20

    /// The value of `key`, or nil when absent or null (then `fallback`, or an error).
    private func present<T>(_ key: String, _ fallback: T?) throws -> Any? {
        guard let value = values[key], !(value is NSNull) else {
            if fallback != nil { return nil }
            throw VerificationFailure("attribute \(key) is missing")
        }
        return value
    }

    private func bounded(_ key: String, _ value: Any) throws -> Int {
        guard let i = JSONValue.integer(value) else {
            throw VerificationFailure("attribute \(key) should be an integer, got \(JSONValue.describe(value))")
        }
        guard abs(i) <= Self.integerLimit else {
            throw VerificationFailure("attribute \(key) = \(i) is out of range (at most \(Self.integerLimit) in magnitude)")
        }
        return i
    }

    public func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = try present(key, fallback) else { return fallback! }
        if let list = value as? [Any], list.count == 1 { return try bounded(key, list[0]) }
        return try bounded(key, value)
    }

    public func double(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let value = try present(key, fallback) else { return fallback! }
        guard let d = JSONValue.number(value) else {
            throw VerificationFailure("attribute \(key) should be a finite number, got \(JSONValue.describe(value))")
        }
        return d
    }

    public func bool(_ key: String, default fallback: Bool? = nil) throws -> Bool {
        guard let value = try present(key, fallback) else { return fallback! }
        if let b = JSONValue.boolean(value) { return b }
        if let i = JSONValue.integer(value), i == 0 || i == 1 { return i == 1 }
        throw VerificationFailure("attribute \(key) should be a boolean, got \(JSONValue.describe(value))")
    }

    public func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = try present(key, fallback) else { return fallback! }
        if let s = value as? String { return s }
        throw VerificationFailure("attribute \(key) should be a string, got \(JSONValue.describe(value))")
    }

    /// A (height, width) pair written as `k` or `[kh, kw]` (or `[k]`).
    public func pair(_ key: String, default fallback: (Int, Int)? = nil) throws -> (height: Int, width: Int) {
        guard let value = try present(key, fallback) else { return fallback! }
        if let list = value as? [Any] {
            if list.count == 2 { return (try bounded(key, list[0]), try bounded(key, list[1])) }
            if list.count == 1 { let k = try bounded(key, list[0]); return (k, k) }
            throw VerificationFailure("attribute \(key) should be an integer or a pair, got a list of \(list.count)")
        }
        let k = try bounded(key, value)
        return (k, k)
    }

    /// A nested object, such as `arch`.
    public func object(_ key: String) throws -> FixtureAttributes {
        guard let value = values[key] as? [String: Any] else {
            throw VerificationFailure("attribute \(key) should be an object, got \(JSONValue.describe(values[key]))")
        }
        return FixtureAttributes(value, caseName: caseName)
    }

    public func intList(_ key: String) throws -> [Int] {
        guard let list = values[key] as? [Any] else {
            throw VerificationFailure("attribute \(key) should be a list of integers, got \(JSONValue.describe(values[key]))")
        }
        return try list.map { try bounded(key, $0) }
    }
}

/// Why a case failed, in words (`"unsupported op 'foo'"`, `"y: shape [2, 3] vs [3, 2]"`).
public struct VerificationFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The outcome of one case.
public struct CaseResult: Sendable {
    public var name: String
    /// The largest relative error over every compared tensor (nil when nothing was compared).
    public var error: Double?
    /// Why it failed, or nil when it passed.
    public var failure: String?
    public var passed: Bool { failure == nil }

    /// `PASS name  err 3.1e-07` or `FAIL name  reason`.
    public var line: String {
        if let failure { return "FAIL \(name)  \(failure)" }
        return "PASS \(name)  err \(error.map(formatError) ?? "0")"
    }
}

func formatError(_ e: Double) -> String {
    e == 0 ? "0" : e.isNaN ? "NaN" : String(format: "%.1e", e)
}

/// Compares results with expected tensors by the fixtures' rule and remembers the worst error.
public struct ToleranceCheck {
    public let tolerance: Double
    public private(set) var worst: Double = 0
    public private(set) var failures: [String] = []

    public init(tolerance: Double) { self.tolerance = tolerance }

    /// Records `max|R - E| / max(max|E|, 1e-6)` for one named tensor; a shape mismatch or
    /// a NaN is a failure.
    public mutating func compare(_ label: String, result: [Float], resultShape: [Int], expected: Tensor) {
        let expectedCount = expected.shape.reduce(1, *)
        if result.count != expectedCount || (resultShape.reduce(1, *) != expectedCount) {
            failures.append("\(label): shape \(resultShape) vs expected \(expected.shape)")
            return
        }
        var maxDiff = 0.0, maxRef = 0.0
        for (r, e) in zip(result, expected.data) {
            if r.isNaN && !e.isNaN {
                failures.append("\(label): NaN in result")
                return
            }
            maxDiff = max(maxDiff, abs(Double(r) - Double(e)))
            maxRef = max(maxRef, abs(Double(e)))
        }
        let error = maxDiff / max(maxRef, 1e-6)
        worst = max(worst, error)
        if !(error <= tolerance) {
            failures.append("\(label): err \(formatError(error)) > tolerance \(formatError(tolerance))")
        }
    }

    public var result: (error: Double, failure: String?) {
        (worst, failures.isEmpty ? nil : failures.joined(separator: "; "))
    }
}
