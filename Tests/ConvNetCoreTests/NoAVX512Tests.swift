import Foundation
import Testing
@testable import ConvNetCore

/// The kernels a CPU without AVX-512 runs (Apple Silicon, older x86) are chosen at run
/// time, so on this machine the routers never pick them. `CONVNET_NO_AVX512=1` makes the
/// process behave as such a CPU; it is read once, at the first question, so it must be
/// in the environment when the process starts. This suite re-runs the fast == naive
/// kernel suites and the fixture suites in a child process of this test binary with the
/// switch set, and checks in both processes that the switch is what the routers see.
@Suite("Without AVX-512 (CONVNET_NO_AVX512=1): the fast == naive and fixture suites again")
struct NoAVX512Tests {
    /// The suites the child runs: every fast == naive comparison, the fixtures, and this one.
    static let suites = [
        "ActivationTests", "BatchNormTests", "BlockedConvolutionTests", "ConvTransposeTests", "ConvolutionRouterTests", "ConvolutionTests",
        "ConvolutionBackwardSplitTests", "DirectConvolutionTests", "DirectWeightGradientTests", "DropoutConcatAddTests",
        "FixtureVerificationTests", "GEMMTests", "GroupedConvolutionTests", "ImplicitConvolutionTests", "InferenceTests",
        "LinearTests", "LocalResponseNormTests", "LossTests", "ModelFixtureTests", "ModelForwardBackwardTests",
        "PoolingTests", "StridedInputGradientTests", "WinogradConvolutionTests", "NoAVX512Tests",
    ]

    @Test("the switch hides AVX-512 from every router, and only when it is set")
    func switchIsSeen() {
        let g = Conv2DGeometry(batch: 1, inChannels: 64, inHeight: 14, inWidth: 14, outChannels: 64, kernel: (3, 3), padding: (1, 1))
        if CPUFeatures.avx512Disabled {
            #expect(!CPUFeatures.hasAVX512F)
            #expect(!DirectConvolution.applies(to: g, prepacked: false))
            #expect(!BlockedConvolution.applies(to: g))
            #expect(!WinogradConvolution.applies(to: g))
        } else {
            #expect(CPUFeatures.hasAVX512F == CPUFeatures.detectedAVX512F)
        }
    }

    @Test("the kernel and fixture suites pass in a child process that sees no AVX-512")
    func suitesPassWithoutAVX512() throws {
        // In the child (the switch is set), or on a CPU without AVX-512 (the suites have
        // just run on those paths), there is nothing more to do.
        guard !CPUFeatures.avx512Disabled, CPUFeatures.detectedAVX512F else { return }
        #if os(Linux)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        #else
        let executable = URL(fileURLWithPath: CommandLine.arguments[0])
        #endif
        let child = Process()
        child.executableURL = executable
        child.arguments = ["--testing-library", "swift-testing"]
            + Self.suites.flatMap { ["--filter", "\\.\($0)/"] }
        var environment = ProcessInfo.processInfo.environment
        environment[CPUFeatures.noAVX512Variable] = "1"
        child.environment = environment
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        let summary = text.split(separator: "\n").last(where: { $0.contains("Test run with") }).map(String.init) ?? "(no summary)"
        let failures = text.split(separator: "\n").filter { $0.contains("failed") || $0.contains("recorded an issue") }.prefix(20)
        #expect(child.terminationReason == .exit && child.terminationStatus == 0,
                "child without AVX-512 exited \(child.terminationStatus): \(summary)\n\(failures.joined(separator: "\n"))")
        // The child ran the suites (not an empty filter) and saw the switch.
        #expect(text.contains("the switch hides AVX-512 from every router"))
        #expect(summary.contains("passed"), "\(summary)")
        print("without AVX-512, in a child process: \(summary)")
    }
}
