/// Where a training step's time goes, by kind of operation: ``ProfilingKernels`` runs
/// ``FastKernels`` and times every call a layer makes through its `backend`, and the
/// batch norm layers time their fused fast kernels through it too. Set it as a model's
/// `customKernels` (`lesson bench --profile NAME` does); what the calls do not account
/// for is the framework's own work (tensors, caches, gradient accumulation, the walk
/// through the layers).
public final class KernelProfile: @unchecked Sendable {
    /// The kinds of operation a step is split into.
    public enum Kind: String, CaseIterable, Sendable {
        case convForward = "conv forward"
        case convInputGradient = "conv dx"
        case convWeightGradient = "conv dW"
        case batchNormForward = "batch norm forward (+ add, ReLU)"
        case batchNormBackward = "batch norm backward (+ ReLU)"
        case elementwise = "elementwise (ReLU, add)"
        case pooling = "pooling"
        case linear = "fully connected"
        case loss = "loss"
        case optimizer = "optimizer (SGD)"
        case other = "other kernels"
    }

    public private(set) var seconds: [Kind: Double] = [:]
    public private(set) var calls: [Kind: Int] = [:]

    public init() {}

    /// Runs `body`, adding its wall time to `kind`. Call from one thread (the step's);
    /// the kernels may use threads inside.
    @inline(__always)
    public func measure<R>(_ kind: Kind, _ body: () -> R) -> R {
        let start = Stopwatch.now()
        let result = body()
        seconds[kind, default: 0] += Stopwatch.now() - start
        calls[kind, default: 0] += 1
        return result
    }

    /// Forgets everything measured.
    public func reset() {
        seconds = [:]
        calls = [:]
    }

    /// The seconds of every kind together.
    public var total: Double { seconds.values.reduce(0, +) }
}

/// ``FastKernels`` with every call timed into a ``KernelProfile`` by kind. A convolution's
/// backward call is run as its two halves (the input gradient, then the weight and bias
/// gradients) so that each is timed on its own: the same kernels, in two calls.
public struct ProfilingKernels: KernelBackend {
    public let profile: KernelProfile
    private let base = FastKernels()

    public init(profile: KernelProfile) { self.profile = profile }

    public var name: String { "fast (profiled)" }

    public func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        profile.measure(.convForward) { base.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
    }
    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        let g = conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: true, biasGradient: true)
        return (g.input!, g.weight, g.bias!)
    }
    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                               inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        let dx = inputGradient
            ? profile.measure(.convInputGradient) { Fast.conv2dBackwardInput(weight: weight, outputGradient: dy, geometry: geometry) }
            : nil
        let g = profile.measure(.convWeightGradient) {
            base.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: false, biasGradient: biasGradient)
        }
        return (dx, g.weight, g.bias)
    }
    public func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] {
        profile.measure(.other) { base.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry) }
    }
    public func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        profile.measure(.other) { base.convTranspose2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    }
    public func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] {
        profile.measure(.pooling) { base.maxPool2d(x, geometry: geometry) }
    }
    public func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] {
        profile.measure(.pooling) { base.maxPool2dBackward(x, outputGradient: dy, geometry: geometry) }
    }
    public func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        profile.measure(.pooling) { base.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad) }
    }
    public func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        profile.measure(.pooling) { base.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad) }
    }
    public func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] {
        profile.measure(.pooling) { base.adaptiveAvgPool2d(x, input: input, outputSize: outputSize) }
    }
    public func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] {
        profile.measure(.pooling) { base.adaptiveAvgPool2dBackward(outputGradient: dy, input: input, outputSize: outputSize) }
    }
    public func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
        profile.measure(.other) { base.localResponseNorm(x, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    }
    public func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
        profile.measure(.other) { base.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    }
    public func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) {
        profile.measure(.batchNormForward) { base.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon) }
    }
    public func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) {
        profile.measure(.batchNormBackward) { base.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon) }
    }
    public func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] {
        profile.measure(.batchNormForward) { base.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon) }
    }
    public func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) {
        profile.measure(.batchNormBackward) { base.batchNormInferenceBackward(x, weight: weight, runningMean: runningMean, runningVariance: runningVariance, outputGradient: dy, shape: shape, epsilon: epsilon) }
    }
    public func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        profile.measure(.linear) { base.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    }
    public func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) {
        profile.measure(.linear) { base.linearBackward(x, weight: weight, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    }
    public func relu(_ x: [Float]) -> [Float] { profile.measure(.elementwise) { base.relu(x) } }
    public func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        profile.measure(.elementwise) { base.reluBackward(x, outputGradient: dy) }
    }
    public func tanh(_ x: [Float]) -> [Float] { profile.measure(.elementwise) { base.tanh(x) } }
    public func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        profile.measure(.elementwise) { base.tanhBackward(x, outputGradient: dy) }
    }
    public func sigmoid(_ x: [Float]) -> [Float] { profile.measure(.elementwise) { base.sigmoid(x) } }
    public func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        profile.measure(.elementwise) { base.sigmoidBackward(x, outputGradient: dy) }
    }
    public func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) {
        profile.measure(.loss) { base.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes) }
    }
    public func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) {
        profile.measure(.loss) { base.distillationKL(student: student, teacher: teacher, classes: classes, temperature: temperature) }
    }
    public func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] {
        profile.measure(.elementwise) { base.dropout(x, keepMask: keepMask, probability: probability) }
    }
    public func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] {
        profile.measure(.elementwise) { base.dropoutBackward(outputGradient: dy, keepMask: keepMask, probability: probability) }
    }
    public func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] {
        profile.measure(.other) { base.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial) }
    }
    public func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] {
        profile.measure(.other) { base.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial) }
    }
    public func add(_ a: [Float], _ b: [Float]) -> [Float] { profile.measure(.elementwise) { base.add(a, b) } }
    public func addInPlace(_ a: inout [Float], _ b: [Float]) {
        // `measure` takes a non-escaping closure; `a` is passed through it in place.
        let start = Stopwatch.now()
        base.addInPlace(&a, b)
        profile.record(.elementwise, seconds: Stopwatch.now() - start)
    }
}

extension KernelProfile {
    /// Adds `seconds` of one call to `kind` (for calls timed by hand).
    public func record(_ kind: Kind, seconds s: Double) {
        seconds[kind, default: 0] += s
        calls[kind, default: 0] += 1
    }
}

extension Layer {
    /// Runs `body` (a fused fast kernel a layer calls directly, outside `backend`) timed
    /// as `kind` when the model runs ``ProfilingKernels``; otherwise just runs it.
    @inline(__always)
    func profiled<R>(_ kind: KernelProfile.Kind, _ body: () -> R) -> R {
        if let profiling = customKernels as? ProfilingKernels { return profiling.profile.measure(kind, body) }
        return body()
    }

    /// Whether the layer may call the fast kernels' fused entries directly: on the fast
    /// kernels with no lesson's own, or on the profiled fast kernels.
    var runsFastFusions: Bool {
        kernels == .fast && (customKernels == nil || customKernels is ProfilingKernels)
    }
}
