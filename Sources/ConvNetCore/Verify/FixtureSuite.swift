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
        let data: Data
        do { data = try Data(contentsOf: manifestURL) } catch {
            throw FileFormatError(path: manifestURL.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FileFormatError(path: manifestURL.path, reason: "not a JSON object")
        }
        guard let rawCases = root["cases"] as? [[String: Any]] else {
            throw FileFormatError(path: manifestURL.path, reason: "no \"cases\" array")
        }
        self.directory = directory
        self.name = root["suite"] as? String ?? directory.lastPathComponent
        self.cases = try rawCases.enumerated().map { index, raw in
            guard let name = raw["name"] as? String else {
                throw FileFormatError(path: manifestURL.path, reason: "case \(index) has no name")
            }
            return FixtureCase(name: name, fields: raw)
        }
    }
}

/// One case of a manifest: an op (or whole model) with attributes, input files,
/// expected outputs and gradients, and a tolerance.
public struct FixtureCase {
    public var name: String
    public var op: String { fields["op"] as? String ?? "" }
    /// `max|R - E| / max(max|E|, 1e-6)` must not exceed this for every expected tensor.
    public var tolerance: Double { number(fields["tolerance"]) ?? 1e-4 }
    public var attributes: FixtureAttributes { FixtureAttributes(fields["attrs"] as? [String: Any] ?? [:], caseName: name) }
    public var inputs: [String: String] { fields["inputs"] as? [String: String] ?? [:] }
    public var outputs: [String: String] { fields["outputs"] as? [String: String] ?? [:] }
    public var grads: [String: String] { fields["grads"] as? [String: String] ?? [:] }
    /// Every field of the case as parsed JSON.
    public let fields: [String: Any]

    init(name: String, fields: [String: Any]) {
        self.name = name
        self.fields = fields
    }
}

func number(_ value: Any?) -> Double? {
    if let n = value as? NSNumber { return n.doubleValue }
    return nil
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

    public func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = values[key], !(value is NSNull) else {
            if let fallback { return fallback }
            throw VerificationFailure("attribute \(key) is missing")
        }
        if let n = value as? NSNumber, n.doubleValue == n.doubleValue.rounded() { return n.intValue }
        if let list = value as? [NSNumber], list.count == 1 { return list[0].intValue }
        throw VerificationFailure("attribute \(key) should be an integer, got \(value)")
    }

    public func double(_ key: String, default fallback: Double? = nil) throws -> Double {
        guard let value = values[key], !(value is NSNull) else {
            if let fallback { return fallback }
            throw VerificationFailure("attribute \(key) is missing")
        }
        if let n = value as? NSNumber { return n.doubleValue }
        throw VerificationFailure("attribute \(key) should be a number, got \(value)")
    }

    public func bool(_ key: String, default fallback: Bool? = nil) throws -> Bool {
        guard let value = values[key], !(value is NSNull) else {
            if let fallback { return fallback }
            throw VerificationFailure("attribute \(key) is missing")
        }
        if let b = value as? Bool { return b }
        if let n = value as? NSNumber { return n.intValue != 0 }
        throw VerificationFailure("attribute \(key) should be a boolean, got \(value)")
    }

    public func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let value = values[key], !(value is NSNull) else {
            if let fallback { return fallback }
            throw VerificationFailure("attribute \(key) is missing")
        }
        if let s = value as? String { return s }
        throw VerificationFailure("attribute \(key) should be a string, got \(value)")
    }

    /// A (height, width) pair written as `k` or `[kh, kw]`.
    public func pair(_ key: String, default fallback: (Int, Int)? = nil) throws -> (height: Int, width: Int) {
        guard let value = values[key], !(value is NSNull) else {
            if let fallback { return fallback }
            throw VerificationFailure("attribute \(key) is missing")
        }
        if let n = value as? NSNumber { return (n.intValue, n.intValue) }
        if let list = value as? [NSNumber] {
            if list.count == 2 { return (list[0].intValue, list[1].intValue) }
            if list.count == 1 { return (list[0].intValue, list[0].intValue) }
        }
        throw VerificationFailure("attribute \(key) should be an integer or a pair, got \(value)")
    }

    /// A nested object, such as `arch`.
    public func object(_ key: String) throws -> FixtureAttributes {
        guard let value = values[key] as? [String: Any] else {
            throw VerificationFailure("attribute \(key) should be an object")
        }
        return FixtureAttributes(value, caseName: caseName)
    }

    public func intList(_ key: String) throws -> [Int] {
        guard let list = values[key] as? [NSNumber] else {
            throw VerificationFailure("attribute \(key) should be a list of integers")
        }
        return list.map(\.intValue)
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
    e == 0 ? "0" : String(format: "%.1e", e)
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
