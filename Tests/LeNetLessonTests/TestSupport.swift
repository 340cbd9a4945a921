import ConvNetCore
import Foundation

// The few tools these exercises need. (The core's test target has the same helpers in
// Tests/ConvNetCoreTests/Support.swift, but one test target cannot import another.)

/// `max|actual - expected| / max(max|expected|, 1e-6)`: the fixtures' error measure.
func relativeError<T: BinaryFloatingPoint>(_ actual: [T], _ expected: [T]) -> Double {
    precondition(actual.count == expected.count, "relativeError: \(actual.count) vs \(expected.count) elements")
    var maxDiff = 0.0, maxRef = 0.0
    for (a, e) in zip(actual, expected) {
        let d = abs(Double(a) - Double(e))
        if d.isNaN { return .infinity }
        maxDiff = max(maxDiff, d)
        maxRef = max(maxRef, abs(Double(e)))
    }
    return maxDiff / max(maxRef, 1e-6)
}

/// `count` seeded samples from U(-1, 1) (non-uniform data, so that bugs cannot cancel).
func randomArray<T: BinaryFloatingPoint>(_ count: Int, seed: UInt64, as: T.Type = T.self) -> [T] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in T(g.nextUniform() * 2 - 1) }
}

/// Central finite differences `(f(x + h e_i) - f(x - h e_i)) / 2h` for every coordinate.
func numericalGradient(of f: ([Double]) -> Double, at x: [Double], step h: Double = 1e-6) -> [Double] {
    var x = x
    var gradient = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        let saved = x[i]
        x[i] = saved + h
        let plus = f(x)
        x[i] = saved - h
        let minus = f(x)
        x[i] = saved
        gradient[i] = (plus - minus) / (2 * h)
    }
    return gradient
}

/// `sum(y * dy)`: the scalar whose gradient a backward pass with upstream `dy` computes.
func dot(_ y: [Double], _ dy: [Double]) -> Double {
    precondition(y.count == dy.count, "dot: \(y.count) vs \(dy.count) elements")
    return zip(y, dy).reduce(0) { $0 + $1.0 * $1.1 }
}

/// A file under the package's `Fixtures/`, found from this source file's path.
func fixtureURL(_ relativePath: String) -> URL {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while directory.pathComponents.count > 1 {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            return directory.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
        }
        directory = directory.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: "Fixtures").appendingPathComponent(relativePath)
}

/// The float32 array of a fixture file of `Fixtures/ops-public`.
func opsFixture(_ name: String) throws -> NumPyArray {
    try NumPy.read(fixtureURL("ops-public/\(name).npy"))
}
