import Foundation

/// Runs the single-operation cases of a fixture suite (conv2d, pooling, LRN, batch norm,
/// linear, activations, losses) through one ``KernelBackend`` and compares outputs and
/// gradients with the expected tensors. Semantics: Fixtures/FIXTURES-FORMAT.md.
struct OpCaseRunner {
    let suite: FixtureSuite
    let testCase: FixtureCase
    let kernels: KernelBackend
    var check: ToleranceCheck

    init(suite: FixtureSuite, testCase: FixtureCase, kernels: KernelBackend) {
        self.suite = suite
        self.testCase = testCase
        self.kernels = kernels
        self.check = ToleranceCheck(tolerance: testCase.tolerance)
    }

    static let supportedOps: Set<String> = [
        "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
        "local_response_norm", "batch_norm", "linear", "relu", "tanh", "sigmoid",
        "cross_entropy", "distillation_kl",
    ]

    // MARK: Loading

    func input(_ key: String) throws -> Tensor {
        guard let file = testCase.inputs[key] else { throw VerificationFailure("missing input '\(key)'") }
        return try loadTensor(file)
    }

    func optionalInput(_ key: String) throws -> Tensor? {
        guard let file = testCase.inputs[key] else { return nil }
        return try loadTensor(file)
    }

    func loadTensor(_ file: String) throws -> Tensor {
        let url = suite.directory.appendingPathComponent(file)
        do { return try NumPy.read(url).tensor } catch let error as FileFormatError {
            throw VerificationFailure(error.description)
        }
    }

    func loadIntegers(_ file: String) throws -> [Int] {
        let url = suite.directory.appendingPathComponent(file)
        do { return try NumPy.read(url).integers } catch let error as FileFormatError {
            throw VerificationFailure(error.description)
        }
    }

    /// Compares a result with `outputs[key]` (or `grads[key]`), if the case lists it.
    mutating func compare(output key: String, _ result: [Float], shape: [Int]) throws {
        guard let file = testCase.outputs[key] else { return }
        check.compare(key, result: result, resultShape: shape, expected: try loadTensor(file))
    }

    mutating func compare(gradient key: String, _ result: [Float], shape: [Int]) throws {
        guard let file = testCase.grads[key] else { return }
        check.compare("grad \(key)", result: result, resultShape: shape, expected: try loadTensor(file))
    }

    /// Every listed gradient must have been produced by the op.
    func requireKnownGradients(_ known: Set<String>) throws {
        let unknown = Set(testCase.grads.keys).subtracting(known)
        if !unknown.isEmpty { throw VerificationFailure("no gradient for \(unknown.sorted().joined(separator: ", ")) in \(testCase.op)") }
    }

    /// Refuses outputs of more elements, or work of more multiply-accumulates, than
    /// ``InputLimits`` allows (sizes come from files and attributes).
    func requireLimits(_ shapes: [String: [Int]], work: [Int]) throws {
        for (label, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            if let problem = InputLimits.shapeProblem(label, shape) { throw VerificationFailure(problem) }
        }
        if let problem = InputLimits.workProblem(testCase.op, work) { throw VerificationFailure(problem) }
    }

    func requireRank(_ t: Tensor, _ rank: Int, _ label: String) throws {
        if t.rank != rank { throw VerificationFailure("\(label): expected rank \(rank), got shape \(t.shape)") }
    }

    func featureMap(_ t: Tensor, _ label: String) throws -> FeatureMapShape {
        try requireRank(t, 4, label)
        try requireNonEmpty(t, label)
        return t.featureMapShape(for: label)
    }

    /// Every extent positive (an empty tensor has nothing to compute or compare).
    func requireNonEmpty(_ t: Tensor, _ label: String) throws {
        if t.shape.contains(where: { $0 <= 0 }) { throw VerificationFailure("\(label): empty shape \(t.shape)") }
    }

    /// The upstream gradient `dy`, when the case has gradients to check.
    func upstream(shape: [Int]) throws -> [Float]? {
        guard !testCase.grads.isEmpty else { return nil }
        let dy = try input("dy")
        if dy.shape.reduce(1, *) != shape.reduce(1, *) {
            throw VerificationFailure("dy: shape \(dy.shape) vs output \(shape)")
        }
        return dy.data
    }

    // MARK: Running

    mutating func run() throws -> (error: Double, failure: String?) {
        let attrs = testCase.attributes
        switch testCase.op {
        case "conv2d": try runConv2d(attrs)
        case "conv_transpose2d": try runConvTranspose2d(attrs)
        case "max_pool2d": try runMaxPool(attrs)
        case "avg_pool2d": try runAvgPool(attrs)
        case "adaptive_avg_pool2d": try runAdaptiveAvgPool(attrs)
        case "local_response_norm": try runLocalResponseNorm(attrs)
        case "batch_norm": try runBatchNorm(attrs)
        case "linear": try runLinear()
        case "relu", "tanh", "sigmoid": try runActivation(testCase.op)
        case "cross_entropy": try runCrossEntropy(attrs)
        case "distillation_kl": try runDistillation(attrs)
        default: throw VerificationFailure("unsupported op '\(testCase.op)'")
        }
        return check.result
    }

    /// Compares the input, weight and bias gradients of a (transposed) convolution.
    mutating func compareGradients(_ g: (input: [Float], weight: [Float], bias: [Float]), x: Tensor, weight: Tensor) throws {
        try compare(gradient: "x", g.input, shape: x.shape)
        try compare(gradient: "weight", g.weight, shape: weight.shape)
        try compare(gradient: "bias", g.bias, shape: [g.bias.count])
    }

    func requireUnitDilation(_ attrs: FixtureAttributes) throws {
        let dilation = try attrs.pair("dilation", default: (1, 1))
        if dilation != (1, 1) { throw VerificationFailure("unsupported: dilation \(dilation)") }
    }

    mutating func runConv2d(_ attrs: FixtureAttributes) throws {
        try requireUnitDilation(attrs)
        let x = try input("x"), weight = try input("weight"), bias = try optionalInput("bias")
        let xs = try featureMap(x, "x")
        try requireRank(weight, 4, "weight")
        let geometry = Conv2DGeometry(
            batch: xs.batch, inChannels: xs.channels, inHeight: xs.height, inWidth: xs.width,
            outChannels: weight.shape[0], kernel: (weight.shape[2], weight.shape[3]),
            stride: try attrs.pair("stride", default: (1, 1)), padding: try attrs.pair("padding", default: (0, 0)),
            groups: try attrs.int("groups", default: 1))
        if let problem = geometry.problem { throw VerificationFailure(problem) }
        if weight.shape != geometry.weightShape { throw VerificationFailure("weight: shape \(weight.shape), expected \(geometry.weightShape)") }
        if let bias, bias.count != geometry.outChannels { throw VerificationFailure("bias: shape \(bias.shape), expected [\(geometry.outChannels)]") }
        let yShape = geometry.outputShape.dimensions
        try requireLimits(["y": yShape], work: yShape + [geometry.inChannelsPerGroup, geometry.kernelHeight, geometry.kernelWidth])
        let y = kernels.conv2d(x.data, weight: weight.data, bias: bias?.data, geometry: geometry)
        try compare(output: "y", y, shape: yShape)
        try requireKnownGradients(["x", "weight", "bias"])
        if let dy = try upstream(shape: yShape) {
            try compareGradients(kernels.conv2dBackward(x.data, weight: weight.data, outputGradient: dy, geometry: geometry),
                                 x: x, weight: weight)
        }
    }

    mutating func runConvTranspose2d(_ attrs: FixtureAttributes) throws {
        try requireUnitDilation(attrs)
        let x = try input("x"), weight = try input("weight"), bias = try optionalInput("bias")
        let xs = try featureMap(x, "x")
        try requireRank(weight, 4, "weight")
        let groups = try attrs.int("groups", default: 1)
        let geometry = ConvTranspose2DGeometry(
            batch: xs.batch, inChannels: xs.channels, inHeight: xs.height, inWidth: xs.width,
            outChannels: weight.shape[1] * groups, kernel: (weight.shape[2], weight.shape[3]),
            stride: try attrs.pair("stride", default: (1, 1)), padding: try attrs.pair("padding", default: (0, 0)),
            outputPadding: try attrs.pair("output_padding", default: (0, 0)), groups: groups)
        if let problem = geometry.problem { throw VerificationFailure(problem) }
        if weight.shape != geometry.weightShape { throw VerificationFailure("weight: shape \(weight.shape), expected \(geometry.weightShape)") }
        if let bias, bias.count != geometry.outChannels { throw VerificationFailure("bias: shape \(bias.shape), expected [\(geometry.outChannels)]") }
        let yShape = geometry.outputShape.dimensions
        try requireLimits(["y": yShape], work: x.shape + [geometry.outChannels / groups, geometry.kernelHeight, geometry.kernelWidth])
        let y = kernels.convTranspose2d(x.data, weight: weight.data, bias: bias?.data, geometry: geometry)
        try compare(output: "y", y, shape: yShape)
        try requireKnownGradients(["x", "weight", "bias"])
        if let dy = try upstream(shape: yShape) {
            try compareGradients(kernels.convTranspose2dBackward(x.data, weight: weight.data, outputGradient: dy, geometry: geometry),
                                 x: x, weight: weight)
        }
    }

    func poolGeometry(_ attrs: FixtureAttributes, input: FeatureMapShape) throws -> Pool2DGeometry {
        let kernel = try attrs.pair("kernel")
        let geometry = Pool2DGeometry(
            input: input, kernel: kernel, stride: try attrs.pair("stride", default: kernel),
            padding: try attrs.pair("padding", default: (0, 0)), ceilMode: try attrs.bool("ceil_mode", default: false))
        if let problem = geometry.problem { throw VerificationFailure(problem) }
        let yShape = geometry.outputShape.dimensions
        try requireLimits(["y": yShape], work: yShape + [kernel.height, kernel.width])
        return geometry
    }

    mutating func runMaxPool(_ attrs: FixtureAttributes) throws {
        try requireUnitDilation(attrs)
        let x = try input("x")
        let geometry = try poolGeometry(attrs, input: try featureMap(x, "x"))
        let yShape = geometry.outputShape.dimensions
        try compare(output: "y", kernels.maxPool2d(x.data, geometry: geometry), shape: yShape)
        try requireKnownGradients(["x"])
        if let dy = try upstream(shape: yShape) {
            try compare(gradient: "x", kernels.maxPool2dBackward(x.data, outputGradient: dy, geometry: geometry), shape: x.shape)
        }
    }

    mutating func runAvgPool(_ attrs: FixtureAttributes) throws {
        if attrs.contains("divisor_override") { throw VerificationFailure("unsupported: divisor_override") }
        let x = try input("x")
        let geometry = try poolGeometry(attrs, input: try featureMap(x, "x"))
        let includePad = try attrs.bool("count_include_pad", default: true)
        let yShape = geometry.outputShape.dimensions
        try compare(output: "y", kernels.avgPool2d(x.data, geometry: geometry, countIncludePad: includePad), shape: yShape)
        try requireKnownGradients(["x"])
        if let dy = try upstream(shape: yShape) {
            try compare(gradient: "x", kernels.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: includePad), shape: x.shape)
        }
    }

    mutating func runAdaptiveAvgPool(_ attrs: FixtureAttributes) throws {
        let x = try input("x")
        let xs = try featureMap(x, "x")
        // PyTorch lets None in output_size mean "keep the input's extent".
        var size: (height: Int, width: Int)
        if let list = attrs.values["output_size"] as? [Any], list.count == 2, list.contains(where: { $0 is NSNull }) {
            let given = FixtureAttributes(["h": list[0], "w": list[1]], caseName: testCase.name)
            size = (try given.int("h", default: xs.height), try given.int("w", default: xs.width))
        } else {
            size = try attrs.pair("output_size")
        }
        if size.height <= 0 || size.width <= 0 { throw VerificationFailure("output_size must be positive, got \(size)") }
        let yShape = [xs.batch, xs.channels, size.height, size.width]
        try requireLimits(["y": yShape], work: [xs.batch, xs.channels, xs.height + size.height, xs.width + size.width])
        try compare(output: "y", kernels.adaptiveAvgPool2d(x.data, input: xs, outputSize: size), shape: yShape)
        try requireKnownGradients(["x"])
        if let dy = try upstream(shape: yShape) {
            try compare(gradient: "x", kernels.adaptiveAvgPool2dBackward(outputGradient: dy, input: xs, outputSize: size), shape: x.shape)
        }
    }

    mutating func runLocalResponseNorm(_ attrs: FixtureAttributes) throws {
        let x = try input("x")
        let xs = try featureMap(x, "x")
        let size = try attrs.int("size")
        if size <= 0 { throw VerificationFailure("size must be positive, got \(size)") }
        try requireLimits([:], work: [x.count, min(size, xs.channels)])
        let alpha = Float(try attrs.double("alpha", default: 1e-4))
        let beta = Float(try attrs.double("beta", default: 0.75))
        let k = Float(try attrs.double("k", default: 1.0))
        try compare(output: "y", kernels.localResponseNorm(x.data, shape: xs, size: size, alpha: alpha, beta: beta, k: k), shape: x.shape)
        try requireKnownGradients(["x"])
        if let dy = try upstream(shape: x.shape) {
            try compare(gradient: "x", kernels.localResponseNormBackward(x.data, outputGradient: dy, shape: xs, size: size, alpha: alpha, beta: beta, k: k), shape: x.shape)
        }
    }

    /// Batch norm over N, H, W of an NCHW input (a rank-2 `[N, C]` input is treated as
    /// `[N, C, 1, 1]`, as `BatchNorm1d`).
    mutating func runBatchNorm(_ attrs: FixtureAttributes) throws {
        let x = try input("x")
        let xs: FeatureMapShape
        switch x.rank {
        case 4: xs = x.featureMapShape(for: "x")
        case 2: xs = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: 1, width: 1)
        case 3: xs = FeatureMapShape(batch: x.shape[0], channels: x.shape[1], height: 1, width: x.shape[2])
        default: throw VerificationFailure("x: batch norm needs rank 2, 3 or 4, got shape \(x.shape)")
        }
        try requireNonEmpty(x, "x")
        let channels = xs.channels
        let weight = try optionalInput("weight")?.data ?? [Float](repeating: 1, count: channels)
        let bias = try optionalInput("bias")?.data ?? [Float](repeating: 0, count: channels)
        if weight.count != channels || bias.count != channels {
            throw VerificationFailure("weight/bias: \(weight.count)/\(bias.count) elements for \(channels) channels")
        }
        let training = try attrs.bool("training", default: false)
        let epsilon = Float(try attrs.double("eps", default: 1e-5))
        try requireKnownGradients(["x", "weight", "bias"])
        if training {
            let forward = kernels.batchNormTraining(x.data, weight: weight, bias: bias, shape: xs, epsilon: epsilon)
            try compare(output: "y", forward.output, shape: x.shape)
            // Running statistics after the step: (1 - m) * old + m * batch, the variance unbiased.
            let momentum = Float(try attrs.double("momentum", default: 0.1))
            let n = Float(xs.batch * xs.spatial)
            let correction = n > 1 ? n / (n - 1) : 1
            if testCase.outputs["running_mean"] != nil {
                let old = try optionalInput("running_mean")?.data ?? [Float](repeating: 0, count: channels)
                if old.count != channels { throw VerificationFailure("running_mean: \(old.count) elements for \(channels) channels") }
                let updated = (0..<channels).map { (1 - momentum) * old[$0] + momentum * forward.mean[$0] }
                try compare(output: "running_mean", updated, shape: [channels])
            }
            if testCase.outputs["running_var"] != nil {
                let old = try optionalInput("running_var")?.data ?? [Float](repeating: 1, count: channels)
                if old.count != channels { throw VerificationFailure("running_var: \(old.count) elements for \(channels) channels") }
                let updated = (0..<channels).map { (1 - momentum) * old[$0] + momentum * forward.variance[$0] * correction }
                try compare(output: "running_var", updated, shape: [channels])
            }
            if let dy = try upstream(shape: x.shape) {
                let g = kernels.batchNormTrainingBackward(x.data, weight: weight, outputGradient: dy, shape: xs, epsilon: epsilon)
                try compare(gradient: "x", g.input, shape: x.shape)
                try compare(gradient: "weight", g.weight, shape: [channels])
                try compare(gradient: "bias", g.bias, shape: [channels])
            }
        } else {
            let mean = try input("running_mean").data, variance = try input("running_var").data
            if mean.count != channels || variance.count != channels {
                throw VerificationFailure("running statistics: \(mean.count)/\(variance.count) elements for \(channels) channels")
            }
            let y = kernels.batchNormInference(x.data, weight: weight, bias: bias, runningMean: mean, runningVariance: variance, shape: xs, epsilon: epsilon)
            try compare(output: "y", y, shape: x.shape)
            if let dy = try upstream(shape: x.shape) {
                let g = kernels.batchNormInferenceBackward(x.data, weight: weight, runningMean: mean, runningVariance: variance, outputGradient: dy, shape: xs, epsilon: epsilon)
                try compare(gradient: "x", g.input, shape: x.shape)
                try compare(gradient: "weight", g.weight, shape: [channels])
                try compare(gradient: "bias", g.bias, shape: [channels])
            }
        }
    }

    /// `y = x W^T + b` over the last dimension; leading dimensions are flattened into the batch.
    mutating func runLinear() throws {
        let x = try input("x"), weight = try input("weight"), bias = try optionalInput("bias")
        try requireRank(weight, 2, "weight")
        try requireNonEmpty(weight, "weight")
        try requireNonEmpty(x, "x")
        let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        guard x.rank >= 1, x.shape.last == inFeatures else {
            throw VerificationFailure("x: shape \(x.shape) does not end in \(inFeatures) features (weight \(weight.shape))")
        }
        if let bias, bias.count != outFeatures { throw VerificationFailure("bias: shape \(bias.shape), expected [\(outFeatures)]") }
        let batch = x.count / max(inFeatures, 1)
        let yShape = Array(x.shape.dropLast()) + [outFeatures]
        try requireLimits(["y": yShape], work: [batch, inFeatures, outFeatures])
        let y = kernels.linear(x.data, weight: weight.data, bias: bias?.data, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        try compare(output: "y", y, shape: yShape)
        try requireKnownGradients(["x", "weight", "bias"])
        if let dy = try upstream(shape: yShape) {
            let g = kernels.linearBackward(x.data, weight: weight.data, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
            try compare(gradient: "x", g.input, shape: x.shape)
            try compare(gradient: "weight", g.weight, shape: weight.shape)
            try compare(gradient: "bias", g.bias, shape: [outFeatures])
        }
    }

    mutating func runActivation(_ op: String) throws {
        let x = try input("x")
        let y: [Float]
        switch op {
        case "relu": y = kernels.relu(x.data)
        case "tanh": y = kernels.tanh(x.data)
        default: y = kernels.sigmoid(x.data)
        }
        try compare(output: "y", y, shape: x.shape)
        try requireKnownGradients(["x"])
        if let dy = try upstream(shape: x.shape) {
            let dx: [Float]
            switch op {
            case "relu": dx = kernels.reluBackward(x.data, outputGradient: dy)
            case "tanh": dx = kernels.tanhBackward(x.data, outputGradient: dy)
            default: dx = kernels.sigmoidBackward(x.data, outputGradient: dy)
            }
            try compare(gradient: "x", dx, shape: x.shape)
        }
    }

    mutating func runCrossEntropy(_ attrs: FixtureAttributes) throws {
        let reduction = try attrs.string("reduction", default: "mean")
        guard reduction == "mean" || reduction == "sum" else { throw VerificationFailure("unsupported: reduction '\(reduction)'") }
        if try attrs.double("label_smoothing", default: 0) != 0 { throw VerificationFailure("unsupported: label_smoothing") }
        let logits = try input("logits")
        try requireRank(logits, 2, "logits")
        try requireNonEmpty(logits, "logits")
        guard let targetFile = testCase.inputs["target"] else { throw VerificationFailure("missing input 'target'") }
        let targets = try loadIntegers(targetFile)
        let (batch, classes) = (logits.shape[0], logits.shape[1])
        if targets.count != batch { throw VerificationFailure("target: \(targets.count) labels for \(batch) rows of logits") }
        if let bad = targets.first(where: { $0 < 0 || $0 >= classes }) { throw VerificationFailure("target: label \(bad) outside 0..<\(classes)") }
        let result = kernels.softmaxCrossEntropy(logits: logits.data, targets: targets, classes: classes)
        let scale: Float = reduction == "sum" ? Float(batch) : 1
        try compare(output: "y", [result.loss * scale], shape: [])
        try compare(output: "loss", [result.loss * scale], shape: [])
        try requireKnownGradients(["logits"])
        try compare(gradient: "logits", result.logitsGradient.map { $0 * scale }, shape: logits.shape)
    }

    mutating func runDistillation(_ attrs: FixtureAttributes) throws {
        let student = try input("student"), teacher = try input("teacher")
        try requireRank(student, 2, "student")
        try requireNonEmpty(student, "student")
        if teacher.shape != student.shape { throw VerificationFailure("teacher: shape \(teacher.shape) vs student \(student.shape)") }
        let temperature = Float(try attrs.double("temperature"))
        if !(temperature > 0) { throw VerificationFailure("temperature must be positive, got \(temperature)") }
        let result = kernels.distillationKL(student: student.data, teacher: teacher.data, classes: student.shape[1], temperature: temperature)
        try compare(output: "y", [result.loss], shape: [])
        try compare(output: "loss", [result.loss], shape: [])
        try requireKnownGradients(["student"])
        try compare(gradient: "student", result.studentGradient, shape: student.shape)
    }
}
