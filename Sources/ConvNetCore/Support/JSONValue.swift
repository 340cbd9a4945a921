import Foundation

/// Strict typed reading of values `JSONSerialization` parsed (manifest.json, cases.json,
/// safetensors headers, peers' results): a boolean is not a number, a fraction or a
/// number beyond 2^53 is not an integer, a number is finite. Each returns nil for a
/// value of the wrong type, so the caller can say which field of which file is wrong.
public enum JSONValue {
    /// Whether `value` is JSON `true` or `false` (Foundation parses them as NSNumbers too).
    public static func isBoolean(_ value: Any?) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// An integral number within ±2^53 (not a boolean).
    public static func integer(_ value: Any?) -> Int? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        if let i = value as? Int, abs(i) <= 1 << 53 { return i }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) <= 0x1p53 else { return nil }
        return Int(d)
    }

    /// A finite number (not a boolean).
    public static func number(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        return d.isFinite ? d : nil
    }

    /// `true` or `false`.
    public static func boolean(_ value: Any?) -> Bool? {
        guard let n = value as? NSNumber, isBoolean(n) else { return nil }
        return n.boolValue
    }

    /// A list of integers (each as ``integer(_:)``).
    public static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in list {
            guard let i = integer(item) else { return nil }
            result.append(i)
        }
        return result
    }

    /// An object whose every value is a string.
    public static func stringMap(_ value: Any?) -> [String: String]? {
        guard let object = value as? [String: Any] else { return nil }
        var result: [String: String] = [:]
        for (key, item) in object {
            guard let text = item as? String else { return nil }
            result[key] = text
        }
        return result
    }

    /// A short rendering of a value for an error message: `"abc"`, `true`, `12`, `[…]`, `{…}`.
    public static func describe(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "null" }
        if let b = boolean(value) { return b ? "true" : "false" }
        if let s = value as? String { return "\"" + (s.count > 40 ? String(s.prefix(40)) + "..." : s) + "\"" }
        if let n = value as? NSNumber { return "\(n)" }
        if value is [Any] { return "a list" }
        if value is [String: Any] { return "an object" }
        return "\(type(of: value))"
    }
}
