import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import LeNetLesson

/// A real `lesson run lenet`, stopped with SIGINT after its first checkpoint and resumed,
/// ends with the weights of a run never stopped, bit for bit.
@Suite("LeNet: stopped and resumed")
struct LeNetInterruptionTests {
    static let executable: URL? = {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let url = here.deletingLastPathComponent().appendingPathComponent("lesson")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }()

    func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = try #require(Self.executable, "the lesson executable is built beside the tests")
        process.arguments = arguments
        process.currentDirectoryURL = FixtureLocator.root.deletingLastPathComponent()
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        return (process, errors)
    }

    @Test("SIGINT stops a run keeping its last checkpoint, and --resume ends with the same weights as a run never stopped")
    func stopAndResume() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lenet-stop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let common = ["run", "lenet", "--quick", "--epochs", "24", "--seed", "3", "--threads", "2"]

        // The run never stopped.
        let (whole, _) = try start(common + ["--out", root.appendingPathComponent("whole").path])
        whole.waitUntilExit()
        #expect(whole.terminationStatus == 0)

        // The same run, stopped once its first checkpoint is written.
        let stopped = root.appendingPathComponent("stopped")
        let checkpoint = stopped.appendingPathComponent("lenet5.checkpoint.safetensors")
        let (first, errors) = try start(common + ["--out", stopped.path])
        while first.isRunning && !FileManager.default.fileExists(atPath: checkpoint.path) { usleep(20_000) }
        #expect(first.isRunning, "the run ended before it could be stopped")
        kill(first.processIdentifier, SIGINT)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        first.waitUntilExit()
        #expect(first.terminationReason == .exit && first.terminationStatus == 130, "\(message)")
        #expect(message.contains("interrupted at epoch") && message.contains("--resume"), "\(message)")
        let left = try FileManager.default.contentsOfDirectory(atPath: stopped.path)
        #expect(left.allSatisfy { !$0.hasPrefix(".") && !$0.contains("tmp") }, "temporary files left: \(left)")
        let model = LeNet5(c3: .full)
        let saved = try Checkpoint.load(from: checkpoint, model: model, optimizer: SGD(parameters: model.parameters, learningRate: 0.1))
        #expect(saved.epoch >= 1 && saved.epoch < 24)

        // Resumed.
        let (resumed, _) = try start(common + ["--out", stopped.path, "--resume"])
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        let a = try Safetensors.read(root.appendingPathComponent("whole/lenet5.safetensors")).tensors
        let b = try Safetensors.read(stopped.appendingPathComponent("lenet5.safetensors")).tensors
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, tensor) in a { #expect(tensor.data == b[name]?.data, "\(name) differs after resuming") }
    }
}
