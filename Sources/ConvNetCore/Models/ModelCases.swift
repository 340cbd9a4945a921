import Foundation

/// Runs the whole-network cases of the fixtures (Fixtures/FIXTURES-FORMAT.md) through the
/// models: `model_forward` (load weights, infer, compare logits) and `model_gradients`
/// (load weights, one training-mode forward, mean cross-entropy, backward; compare
/// logits, loss and every parameter gradient). `install()` plugs it into
/// ``FixtureVerifier`` so `lesson verify` runs these cases.
public enum ModelCaseRunner {
    /// The kernels the cases run on.
    nonisolated(unsafe) public static var kernels: KernelChoice = .fast

    /// Registers this runner as `FixtureVerifier.modelCaseHandler`.
    public static func install() {
        FixtureVerifier.modelCaseHandler = { suite, testCase in try run(testCase, in: suite) }
    }

    public static func run(_ testCase: FixtureCase, in suite: FixtureSuite) throws -> (error: Double, failure: String?) {
        let attributes = testCase.attributes
        let model: Layer
        do { model = try ModelZoo.build(architecture: try attributes.object("arch").values) } catch let error as ModelZooError {
            throw VerificationFailure(error.message)
        }
        if let expected = JSONValue.integer(testCase.fields["parameters"]), expected != model.parameterCount {
            return (0, "the architecture has \(model.parameterCount) parameters, the case says \(expected)")
        }
        guard let weights = testCase.fields["weights"] as? String else { throw VerificationFailure("no \"weights\" file") }
        do { try model.load(from: suite.directory.appendingPathComponent(weights)) } catch let error as StateDictError {
            throw VerificationFailure("\(weights): \(error)")
        }
        model.kernels = kernels

        func tensor(_ file: String?, _ what: String = "a tensor file") throws -> Tensor {
            guard let file else { throw VerificationFailure("\(what) is missing from the case") }
            return try NumPy.read(suite.directory.appendingPathComponent(file)).tensor
        }
        let x = try tensor(testCase.inputs["x"], "input 'x'")
        var check = ToleranceCheck(tolerance: testCase.tolerance)
        let mode = try attributes.string("mode", default: testCase.op == "model_gradients" ? "train" : "eval")
        guard mode == "train" || mode == "eval" else {
            throw VerificationFailure("attribute mode should be \"train\" or \"eval\", got \"\(mode)\"")
        }
        setMode(model, training: mode == "train")
        // Sizes come from files: check the input against the network (shapes alone) and the
        // work against the limits before running anything, since the layers trap.
        if let problem = InputLimits.networkProblem(model, input: x.shape) { throw VerificationFailure(problem) }

        switch testCase.op {
        case "model_forward":
            let y = model(x)
            let key = testCase.outputs["y"] != nil ? "y" : (testCase.outputs.keys.sorted().first ?? "y")
            check.compare(key, result: y.data, resultShape: y.shape, expected: try tensor(testCase.outputs[key], "output '\(key)'"))
        case "model_gradients":
            guard let targetFile = testCase.inputs["target"] else { throw VerificationFailure("missing input 'target'") }
            let targets = try NumPy.read(suite.directory.appendingPathComponent(targetFile)).integers
            let output = model.outputShape(for: x.shape)
            guard output.count == 2 else { throw VerificationFailure("the network's output \(output) is not [N, classes] logits") }
            let (batch, classes) = (output[0], output[1])
            if targets.count != batch { throw VerificationFailure("\(targetFile): \(targets.count) labels for a batch of \(batch)") }
            if let (i, bad) = targets.enumerated().first(where: { $0.element < 0 || $0.element >= classes }) {
                throw VerificationFailure("\(targetFile): label \(bad) (at \(i)) outside 0..<\(classes), the network's classes")
            }
            let logits = model(x)
            let (loss, dLogits) = Loss.crossEntropy(logits, targets: targets, using: kernels.backend)
            if let file = testCase.outputs["logits"] {
                check.compare("logits", result: logits.data, resultShape: logits.shape, expected: try tensor(file))
            }
            if let file = testCase.outputs["loss"] {
                check.compare("loss", result: [loss], resultShape: [], expected: try tensor(file))
            }
            model.zeroGradients()
            _ = model.backward(dLogits)
            guard let gradientsFile = testCase.fields["expected_gradients"] as? String else {
                throw VerificationFailure("no \"expected_gradients\" file")
            }
            let expected = try Safetensors.read(suite.directory.appendingPathComponent(gradientsFile)).tensors
            let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter) })
            for (name, gradient) in expected.sorted(by: { $0.key < $1.key }) {
                guard let p = parameters[name] else {
                    return (check.result.error, "the model has no parameter \(name) for its expected gradient")
                }
                check.compare("grad \(name)", result: p.gradient.data, resultShape: p.shape, expected: gradient)
            }
            if let unchecked = parameters.keys.first(where: { expected[$0] == nil }) {
                return (check.result.error, "no expected gradient for parameter \(unchecked)")
            }
        default:
            throw VerificationFailure("unsupported op '\(testCase.op)'")
        }
        return check.result
    }

    /// Training or inference mode, with dropout held off: PyTorch's random dropout masks
    /// cannot be reproduced, so reference gradients are made without them.
    static func setMode(_ model: Layer, training: Bool) {
        model.isTraining = training
        for (_, layer) in model.namedLayers() where layer is Dropout { layer.isTraining = false }
    }
}
