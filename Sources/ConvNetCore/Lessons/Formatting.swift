import Foundation

// The small numeric helpers every lesson's report uses, once.

/// The mean of `values` (0 for none).
public func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
/// The largest value minus the smallest (0 for none): the seed-to-seed spread of a measure.
public func spreadOf(_ values: [Double]) -> Double { (values.max() ?? 0) - (values.min() ?? 0) }
/// "12.3%" for 0.123.
public func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
/// "1.23e-07", or "12.3" for readable magnitudes.
public func sci(_ x: Double) -> String {
    x == 0 ? "0" : (abs(x) >= 0.01 && abs(x) < 1_000 ? String(format: "%.3g", x) : String(format: "%.2e", x))
}
/// "0.123 ms" or "12.34 ms" for a time in seconds.
public func ms(_ seconds: Double) -> String { String(format: seconds < 0.01 ? "%.3f ms" : "%.2f ms", seconds * 1e3) }
/// "[3, 256, 56, 56]".
public func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
