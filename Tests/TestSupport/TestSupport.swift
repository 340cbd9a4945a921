import ConvNetCore
import Foundation

/// Shared tools of every test target (a library both test targets depend on): seeded random data, error measures and the
/// finite-difference gradient check.

// relativeError(_:_:) is the core's (Tensor/RelativeError.swift).

/// `count` seeded samples from U(-1, 1) as `T` (non-uniform data: uniform inputs and
/// upstream gradients let bugs cancel).
public func randomArray<T: BinaryFloatingPoint>(_ count: Int, seed: UInt64, as: T.Type = T.self) -> [T] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in T(g.nextUniform() * 2 - 1) }
}

/// Central finite differences of a scalar function: `(f(x + h e_i) - f(x - h e_i)) / 2h`
/// for every coordinate `i`, in Double.
public func numericalGradient(of f: ([Double]) -> Double, at x: [Double], step h: Double = 1e-6) -> [Double] {
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

/// `sum(y * dy)`: the scalar whose gradient with respect to the inputs a backward pass
/// given upstream gradient `dy` computes.
public func dot(_ y: [Double], _ dy: [Double]) -> Double {
    precondition(y.count == dy.count, "dot: \(y.count) vs \(dy.count) elements")
    var s = 0.0
    for i in y.indices { s += y[i] * dy[i] }
    return s
}

/// Converts an array of Double to Float (for comparing naive and fast kernels).
public func floats(_ x: [Double]) -> [Float] { x.map(Float.init) }


/// Where the package's `Fixtures/` directory is, found from this source file's path
/// (`#filePath`), so tests read fixtures whatever the working directory.
public enum FixtureLocator {
    /// `<package>/Fixtures`: the first ancestor of this file holding `Package.swift`,
    /// plus `Fixtures`.
    public static var root: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.pathComponents.count > 1 {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.appendingPathComponent("Fixtures")
            }
            directory = directory.deletingLastPathComponent()
        }
        // Tests/ConvNetCoreTests/FixtureLocator.swift -> <package>/Fixtures
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }

    /// A file under `Fixtures/`, e.g. `url("mnist-5k/images.npy")`.
    public static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }
}

/// Runs `body` with a fresh directory under the system's temporary directory
/// (`<prefix>-<UUID>`), and removes the directory afterwards.
public func withTemporaryDirectory<R>(prefix: String = "convnet-test", _ body: (URL) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// Runs `body` with `Parallelism.threadCount` set to `threads`, then restores it, holding
/// the lock of ``withThreadCountSteady(_:)``. Tests run concurrently in one process and the
/// thread count is a global that every kernel reads: a test that changed it while a lesson
/// ran twice to check that one seed repeats bit for bit changed how that lesson's sums
/// split between the two runs.
public func withThreadCount<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    try withThreadCountSteady {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        Parallelism.threadCount = threads
        return try body()
    }
}

/// Runs `body` while no test changes `Parallelism.threadCount` (through ``withThreadCount(_:_:)``).
public func withThreadCountSteady<R>(_ body: () throws -> R) rethrows -> R {
    threadCountLock.lock()
    defer { threadCountLock.unlock() }
    return try body()
}

private let threadCountLock = NSLock()
