import Foundation
import Testing
@testable import ConvNetCore

/// Both kernel sets against PyTorch: every case of Fixtures/ops-public, and the runner's
/// own behaviour on cases it cannot pass (it must fail them, never crash or skip).
@Suite("PyTorch fixtures")
struct FixtureVerificationTests {
    static let opsSuite = try! FixtureSuite(directory: FixtureLocator.url("ops-public"))

    @Test("every op case of ops-public passes with the fast and the naive kernels",
          arguments: opsSuite.cases.map(\.name))
    func opCase(_ name: String) throws {
        let suite = Self.opsSuite
        let testCase = try #require(suite.cases.first { $0.name == name })
        for kernels in KernelChoice.allCases {
            let result = FixtureVerifier.run(testCase, in: suite, kernels: [kernels])
            #expect(result.passed, "\(kernels): \(result.line)")
            #expect((result.error ?? 1) <= testCase.tolerance)
        }
    }

    /// Writes a one-case suite into a fresh directory, copying the named fixture files.
    func makeSuite(_ caseJSON: String, copying files: [String] = []) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for file in files {
            try FileManager.default.copyItem(at: FixtureLocator.url("ops-public/\(file)"), to: dir.appendingPathComponent(file))
        }
        try Data("{\"format\": 1, \"suite\": \"t\", \"cases\": [\(caseJSON)]}".utf8)
            .write(to: dir.appendingPathComponent("manifest.json"))
        return dir
    }

    @Test("an unknown op is reported as failed (unsupported), not skipped")
    func unknownOp() throws {
        let dir = try makeSuite(#"{"name": "mystery", "op": "fourier_transform", "inputs": {}, "outputs": {}}"#)
        let results = try FixtureVerifier.run(directory: dir)
        #expect(results.count == 1)
        #expect(!results[0].passed)
        #expect(results[0].line.contains("unsupported op 'fourier_transform'"))
    }

    @Test("a missing input file fails the case with the file's name")
    func missingFile() throws {
        let dir = try makeSuite(#"{"name": "r", "op": "relu", "inputs": {"x": "nowhere.npy"}, "outputs": {"y": "relu.outputs.y.npy"}}"#,
                                copying: ["relu.outputs.y.npy"])
        let result = try FixtureVerifier.run(directory: dir)[0]
        #expect(!result.passed)
        #expect(result.line.contains("nowhere.npy"))
    }

    @Test("an expected tensor of another shape fails the case")
    func shapeMismatch() throws {
        // relu's x against sigmoid's expected y would pass shapes; use linear's y instead.
        let dir = try makeSuite(#"{"name": "r", "op": "relu", "inputs": {"x": "relu.inputs.x.npy"}, "outputs": {"y": "linear.outputs.y.npy"}}"#,
                                copying: ["relu.inputs.x.npy", "linear.outputs.y.npy"])
        let result = try FixtureVerifier.run(directory: dir)[0]
        #expect(!result.passed)
        #expect(result.line.contains("shape"))
    }

    @Test("wrong expected values fail the case with their error")
    func wrongValues() throws {
        let dir = try makeSuite(#"{"name": "t", "op": "tanh", "tolerance": 1e-4, "inputs": {"x": "sigmoid.inputs.x.npy"}, "outputs": {"y": "sigmoid.outputs.y.npy"}}"#,
                                copying: ["sigmoid.inputs.x.npy", "sigmoid.outputs.y.npy"])
        let result = try FixtureVerifier.run(directory: dir)[0]
        #expect(!result.passed)
        #expect(result.line.hasPrefix("FAIL t  y: err"))
    }

    @Test("a directory without a manifest is an error naming it")
    func noManifest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect(throws: FileFormatError.self) { try FixtureSuite(directory: dir) }
    }
}
