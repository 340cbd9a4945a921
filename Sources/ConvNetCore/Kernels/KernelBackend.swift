/// Which twin of each kernel runs: the readable reference (``Naive``) or the fast one
/// (``Fast``). Both compute the same numbers; tests run a model both ways. The one
/// kernel choice of the package: layers (`layer.kernels`), `lesson verify --kernels`,
/// lessons' `--kernels` options all take it.
public enum KernelChoice: String, Sendable, CaseIterable {
    case fast, naive

    /// The core's kernels of this choice.
    public var backend: any KernelBackend { self == .fast ? FastKernels() : NaiveKernels() }
}

/// One set of kernels, naive or fast, behind one interface, so that a caller (a layer,
/// `lesson verify`, a lesson's race) can swap one for the other and see the same numbers
/// at a different speed. ``NaiveKernels`` runs the reference loops of ``Naive`` in
/// `Float`; ``FastKernels`` runs ``Fast``.
public protocol KernelBackend: Sendable {
    var name: String { get }
    func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float]
    func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float])
    /// The gradients of a convolution, leaving out the input gradient (nil) when
    /// `inputGradient` is false (a network's first layer) and the bias gradient when
    /// `biasGradient` is false (a convolution without bias). The default runs
    /// ``conv2dBackward(_:weight:outputGradient:geometry:)`` and drops them.
    func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                        inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?)
    func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float]
    func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float])
    func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float]
    func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float]
    func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float]
    func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float]
    func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float]
    func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float]
    func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float]
    func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float]
    func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float])
    func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float])
    func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float]
    func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float])
    func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float]
    func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float])
    func relu(_ x: [Float]) -> [Float]
    func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float]
    func tanh(_ x: [Float]) -> [Float]
    func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float]
    func sigmoid(_ x: [Float]) -> [Float]
    func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float]
    func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float])
    func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float])
    func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float]
    func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float]
    func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float]
    func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]]
    func add(_ a: [Float], _ b: [Float]) -> [Float]
    /// `a += b`, in place (the default: `a = add(a, b)`).
    func addInPlace(_ a: inout [Float], _ b: [Float])
}

extension KernelBackend {
    public func addInPlace(_ a: inout [Float], _ b: [Float]) { a = add(a, b) }

    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                               inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        let g = conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry)
        return (inputGradient ? g.input : nil, g.weight, biasGradient ? g.bias : nil)
    }
}

/// The reference loops of ``Naive``, in `Float`.
public struct NaiveKernels: KernelBackend {
    public init() {}
    public var name: String { "naive" }
    public func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] { Naive.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { Naive.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    public func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] { Naive.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry) }
    public func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { Naive.convTranspose2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    public func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] { Naive.maxPool2d(x, geometry: geometry) }
    public func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] { Naive.maxPool2dBackward(x, outputGradient: dy, geometry: geometry) }
    public func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { Naive.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad) }
    public func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { Naive.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad) }
    public func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { Naive.adaptiveAvgPool2d(x, input: input, outputSize: outputSize) }
    public func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { Naive.adaptiveAvgPool2dBackward(outputGradient: dy, input: input, outputSize: outputSize) }
    public func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { Naive.localResponseNorm(x, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { Naive.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) { Naive.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon) }
    public func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { Naive.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] { Naive.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon) }
    public func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { Naive.batchNormInferenceBackward(x, weight: weight, runningMean: runningMean, runningVariance: runningVariance, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] { Naive.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) { Naive.linearBackward(x, weight: weight, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func relu(_ x: [Float]) -> [Float] { Naive.relu(x) }
    public func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Naive.reluBackward(x, outputGradient: dy) }
    public func tanh(_ x: [Float]) -> [Float] { Naive.tanh(x) }
    public func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Naive.tanhBackward(x, outputGradient: dy) }
    public func sigmoid(_ x: [Float]) -> [Float] { Naive.sigmoid(x) }
    public func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Naive.sigmoidBackward(x, outputGradient: dy) }
    public func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) { Naive.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes) }
    public func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) { Naive.distillationKL(student: student, teacher: teacher, classes: classes, temperature: temperature) }
    public func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] { Naive.dropout(x, keepMask: keepMask, probability: probability) }
    public func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] { Naive.dropoutBackward(outputGradient: dy, keepMask: keepMask, probability: probability) }
    public func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] { Naive.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial) }
    public func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] { Naive.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial) }
    public func add(_ a: [Float], _ b: [Float]) -> [Float] { Naive.add(a, b) }
}

/// The kernels of ``Fast``.
public struct FastKernels: KernelBackend {
    public init() {}
    public var name: String { "fast" }
    public func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] { Fast.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { Fast.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry, inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) { Fast.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: inputGradient, biasGradient: biasGradient) }
    public func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] { Fast.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry) }
    public func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { Fast.convTranspose2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    public func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] { Fast.maxPool2d(x, geometry: geometry) }
    public func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] { Fast.maxPool2dBackward(x, outputGradient: dy, geometry: geometry) }
    public func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { Fast.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad) }
    public func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { Fast.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad) }
    public func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { Fast.adaptiveAvgPool2d(x, input: input, outputSize: outputSize) }
    public func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { Fast.adaptiveAvgPool2dBackward(outputGradient: dy, input: input, outputSize: outputSize) }
    public func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { Fast.localResponseNorm(x, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { Fast.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) { Fast.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon) }
    public func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { Fast.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] { Fast.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon) }
    public func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { Fast.batchNormInferenceBackward(x, weight: weight, runningMean: runningMean, runningVariance: runningVariance, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] { Fast.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) { Fast.linearBackward(x, weight: weight, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func relu(_ x: [Float]) -> [Float] { Fast.relu(x) }
    public func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Fast.reluBackward(x, outputGradient: dy) }
    public func tanh(_ x: [Float]) -> [Float] { Fast.tanh(x) }
    public func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Fast.tanhBackward(x, outputGradient: dy) }
    public func sigmoid(_ x: [Float]) -> [Float] { Fast.sigmoid(x) }
    public func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { Fast.sigmoidBackward(x, outputGradient: dy) }
    public func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) { Fast.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes) }
    public func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) { Fast.distillationKL(student: student, teacher: teacher, classes: classes, temperature: temperature) }
    public func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] { Fast.dropout(x, keepMask: keepMask, probability: probability) }
    public func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] { Fast.dropoutBackward(outputGradient: dy, keepMask: keepMask, probability: probability) }
    public func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] { Fast.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial) }
    public func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] { Fast.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial) }
    public func add(_ a: [Float], _ b: [Float]) -> [Float] { Fast.add(a, b) }
    public func addInPlace(_ a: inout [Float], _ b: [Float]) { Fast.addInPlace(&a, b) }
}
