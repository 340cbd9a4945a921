import Foundation
import Testing
import TestSupport
@testable import ConvNetCore

/// The `lesson` executable as a learner types it: `--help` everywhere, a mistyped name or
/// option answered with the nearest valid one in one line (exit 2), bad input in one line
/// (exit 1), never a trace. Runs the binary the build put beside this test binary; skipped
/// when it is not there (a build of the tests alone).
@Suite("The lesson command on bad input: one line, the nearest name, no trace")
struct CommandLineTests {
    static let executable: URL? = {
        #if os(Linux)
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        #else
        let here = URL(fileURLWithPath: CommandLine.arguments[0])
        #endif
        let url = here.deletingLastPathComponent().appendingPathComponent("lesson")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }()

    struct Outcome { var status: Int32; var output: String; var errors: String }

    func lesson(_ arguments: [String]) throws -> Outcome? {
        guard let executable = Self.executable else { return nil }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = FixtureLocator.root.deletingLastPathComponent()
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "lesson \(arguments.joined(separator: " ")) died of a signal")
        return Outcome(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                       errors: String(decoding: err, as: UTF8.self))
    }

    /// The command fails with `status` and one line on standard error containing `text`.
    func expectOneLine(_ arguments: [String], status: Int32, _ text: String) throws {
        guard let outcome = try lesson(arguments) else { return }
        let lines = outcome.errors.split(separator: "\n")
        #expect(outcome.status == status, "lesson \(arguments.joined(separator: " ")): \(outcome.errors)")
        #expect(lines.count == 1 && outcome.errors.contains(text), "lesson \(arguments.joined(separator: " ")): \(outcome.errors)")
    }

    @Test("every command takes --help")
    func help() throws {
        for command in [[], ["list"], ["run"], ["run", "lenet"], ["summary"], ["verify"], ["bench"]] {
            guard let outcome = try lesson(command + ["--help"]) else { return }
            #expect(outcome.status == 0 && outcome.output.hasPrefix("USAGE"), "lesson \(command) --help: \(outcome.errors)")
        }
    }

    @Test("unknown commands, options, lessons, networks and cases get the nearest valid one")
    func nearestNames() throws {
        try expectOneLine(["sumary"], status: 2, "unknown command 'sumary'; did you mean summary?")
        try expectOneLine(["summary", "resnet18", "--bach", "2"], status: 2, "unknown option --bach; did you mean --batch?")
        try expectOneLine(["summary", "resnet18", "-json"], status: 2, "unknown option -json; did you mean --json?")
        try expectOneLine(["summary", "resnt50"], status: 2, "unknown model resnt50; did you mean resnet50?")
        try expectOneLine(["verify", "--kernels", "fsat", "x"], status: 2, "got 'fsat'; did you mean fast?")
        try expectOneLine(["run", "lenett"], status: 2, "unknown lesson 'lenett'; did you mean lenet?")
        try expectOneLine(["bench", "--only", "gemm_25"], status: 2, "unknown case 'gemm_25'; did you mean gemm_256?")
        try expectOneLine(["bench", "--samples", "0"], status: 2, "--samples must be in 1...1000")
        try expectOneLine(["summary", "resnet18", "--batch", "99999999"], status: 2, "--batch must be in 1...4096")
    }

    @Test("bad files: one line, exit 1; a bad verify case FAILs and the run goes on")
    func badFiles() throws { try withTemporaryDirectory(prefix: "cli") { directory throws in
        let cases = directory.appendingPathComponent("cases.json")
        try Data(#"{"training": [{"name": "t", "arch": {"family": "cifar_resnet", "depth": 8}, "in": [3, 1, 1], "batch": 1}]}"#.utf8).write(to: cases)
        try expectOneLine(["bench", "--cases", cases.path], status: 1, "case t: input [1, 3, 1, 1]")
        try expectOneLine(["verify", directory.path], status: 1, "no manifest.json in this directory")

        try FileManager.default.copyItem(at: FixtureLocator.url("ops-public/cross_entropy.inputs.logits.npy"), to: directory.appendingPathComponent("logits.npy"))
        try NumPy.write(NumPyArray(shape: [8], elements: .int64([0, 12, 1, 2, 3, 4, 5, 6])), to: directory.appendingPathComponent("target.npy"))
        try Data(#"{"cases": [{"name": "ce", "op": "cross_entropy", "inputs": {"logits": "logits.npy", "target": "target.npy"}}, {"name": 5}]}"#.utf8)
            .write(to: directory.appendingPathComponent("manifest.json"))
        guard let outcome = try lesson(["verify", directory.path]) else { return }
        #expect(outcome.status == 1)
        #expect(outcome.output.contains("FAIL ce  target: label 12 outside 0..<10"), "\(outcome.output)")
        #expect(outcome.output.contains("FAIL case #1  case 1 of manifest.json has no \"name\" string (got 5)"), "\(outcome.output)")
        #expect(outcome.output.hasSuffix("0 passed, 2 failed\n"), "\(outcome.output)")
    } }
}
