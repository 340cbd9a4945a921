import Foundation
import Testing
@testable import ConvNetCore

@Suite("Whole networks against PyTorch", .serialized)
struct ModelFixtureTests {
    @Test("the model_forward and model_gradients cases pass on the fast and the naive kernels",
          arguments: ["models-public", "grads-public"], [KernelChoice.fast, .naive])
    func publicModelCases(_ suite: String, _ kernels: KernelChoice) throws {
        let saved = ModelCaseRunner.kernels
        defer { ModelCaseRunner.kernels = saved }
        ModelCaseRunner.kernels = kernels
        let fixtures = try FixtureSuite(directory: FixtureLocator.url(suite))
        #expect(!fixtures.cases.isEmpty)
        for testCase in fixtures.cases {
            let outcome = try ModelCaseRunner.run(testCase, in: fixtures)
            #expect(outcome.failure == nil, "\(testCase.name): \(outcome.failure ?? "")")
        }
    }

    @Test("PyTorch weights of another architecture are refused, naming the tensor and both shapes")
    func wrongWeights() throws {
        let fixtures = try FixtureSuite(directory: FixtureLocator.url("grads-public"))
        let model = CifarResNet(depth: 8, widths: [16, 32, 32])
        do {
            try model.load(from: fixtures.directory.appendingPathComponent("cifar_resnet8.safetensors"))
            Issue.record("loading succeeded")
        } catch let error as StateDictError {
            #expect(error == .wrongShape(name: "layer3.0.conv1.weight", expected: [32, 32, 3, 3], got: [64, 32, 3, 3]))
        }
    }
}
