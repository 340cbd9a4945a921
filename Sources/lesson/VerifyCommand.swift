import ConvNetCore
import Foundation

enum VerifyCommand {
    static let help = """
    USAGE: lesson verify DIR... [--kernels fast|naive|both]

    Checks this project's kernels and networks against reference fixtures: every case of
    DIR/manifest.json (ops, model_forward, model_gradients; format in
    Fixtures/FIXTURES-FORMAT.md). Prints one line per case,
      PASS name  err 3.1e-07      (the largest relative error max|R-E| / max|E|)
      FAIL name  reason
    then "N passed, M failed". Exits 0 only when every case passed.

    OPTIONS:
      --kernels K   fast (default), naive, or both: which kernel set runs the op cases
                    (with both, a case passes only if both pass).
      -h, --help    Show this help.

    EXAMPLE:
      swift run -c release lesson verify Fixtures/ops-public Fixtures/models-public
    """

    static func run(_ words: [String]) throws -> Int32 {
        var args = try Arguments(words, command: "verify", valueOptions: ["kernels"])
        if args.flag("help") { print(help); return 0 }
        let kernelText = try args.choiceOption("kernels", among: KernelChoice.allCases.map(\.rawValue) + ["both"], default: "fast")
        let kernels = KernelChoice(rawValue: kernelText).map { [$0] } ?? KernelChoice.allCases
        try args.finish()
        guard !args.positionals.isEmpty else {
            throw CommandError.usage("lesson verify: name at least one fixture directory (e.g. Fixtures/ops-public)")
        }
        ModelCaseRunner.install()
        var passed = 0, failed = 0
        for path in args.positionals {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandError(description: "lesson verify: \(path) is not a directory")
            }
            do {
                _ = try FixtureVerifier.run(directory: url, kernels: kernels) { result in
                    print(result.line)
                    if result.passed { passed += 1 } else { failed += 1 }
                }
            } catch {
                throw CommandError(description: "lesson verify: \(error)")
            }
        }
        print("\(passed) passed, \(failed) failed")
        return failed == 0 ? 0 : 1
    }
}
