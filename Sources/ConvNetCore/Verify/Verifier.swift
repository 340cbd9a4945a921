import Foundation

/// Runs every case of a fixture suite and reports one ``CaseResult`` per case: the engine
/// of `lesson verify DIR...` and of the fixture tests.
public enum FixtureVerifier {
    /// Model-level cases (`model_forward`, `model_gradients`) are run by a handler the
    /// models layer registers; without one they are reported unsupported.
    nonisolated(unsafe) public static var modelCaseHandler: ((FixtureSuite, FixtureCase) throws -> (error: Double, failure: String?))?

    /// Runs one case; never throws: a problem becomes a failed result with its reason.
    /// The op cases run on each kernel set of `kernels` (a case passes only if all pass).
    public static func run(_ testCase: FixtureCase, in suite: FixtureSuite, kernels: [KernelChoice] = [.fast]) -> CaseResult {
        if let problem = testCase.problem { return CaseResult(name: testCase.name, error: nil, failure: problem) }
        do {
            if OpCaseRunner.supportedOps.contains(testCase.op) {
                var worst = 0.0
                var failures: [String] = []
                let choices = kernels.map(\.backend)
                for backend in choices {
                    var runner = OpCaseRunner(suite: suite, testCase: testCase, kernels: backend)
                    let outcome = try runner.run()
                    worst = max(worst, outcome.error)
                    if let failure = outcome.failure {
                        failures.append(choices.count > 1 ? "\(backend.name): \(failure)" : failure)
                    }
                }
                return CaseResult(name: testCase.name, error: worst, failure: failures.isEmpty ? nil : failures.joined(separator: "; "))
            }
            if testCase.op.hasPrefix("model_"), let handler = modelCaseHandler {
                let outcome = try handler(suite, testCase)
                return CaseResult(name: testCase.name, error: outcome.error, failure: outcome.failure)
            }
            return CaseResult(name: testCase.name, error: nil, failure: "unsupported op '\(testCase.op)'")
        } catch {
            return CaseResult(name: testCase.name, error: nil, failure: "\(error)")
        }
    }

    /// Runs every case of the suite in `directory`, calling `report` after each.
    public static func run(directory: URL, kernels: [KernelChoice] = [.fast], report: (CaseResult) -> Void = { _ in }) throws -> [CaseResult] {
        let suite = try FixtureSuite(directory: directory)
        return suite.cases.map { testCase in
            let result = run(testCase, in: suite, kernels: kernels)
            report(result)
            return result
        }
    }
}
