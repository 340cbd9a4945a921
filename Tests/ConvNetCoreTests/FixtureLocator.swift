import Foundation

/// Where the package's `Fixtures/` directory is, found from this source file's path
/// (`#filePath`), so tests read fixtures whatever the working directory.
enum FixtureLocator {
    /// `<package>/Fixtures`: the first ancestor of this file holding `Package.swift`,
    /// plus `Fixtures`.
    static var root: URL {
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
    static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }
}
