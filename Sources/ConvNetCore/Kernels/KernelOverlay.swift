/// A lesson's kernels over the core's: a subclass overrides only the operations its
/// lesson teaches (LeNet's valid 5x5 convolution and 2x2 average pool), and every other
/// call, defaults included, reaches `base` (``FastKernels`` or ``NaiveKernels``).
///
///     final class LeNetKernels: KernelOverlay {
///         override func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
///             guard let shape = ValidConvolutionShape(geometry) else { return base.conv2d(x, ...) }
///             return Fast.validConvolution(x, ...)
///         }
///     }
///     model.customKernels = LeNetKernels(.fast)
///
/// The precedence rule every path obeys (forward, backward, `infer`, the loss of the
/// shared ``Trainer``): a layer calls its kernels through `layer.backend`, which is
/// `customKernels` when set and otherwise the core's set that `kernels` names. The core's
/// fused shortcuts that call ``Fast`` directly (batch norm folded into convolutions and
/// blocked activations in `infer`, batch norm fused with ReLU and the residual sum in
/// training) run only when no overlay is set (`Layer.runsCoreFastKernels`), so an
/// overlay's operations are the ones that run, in every path.
///
/// Two requirements come in pairs; a subclass overrides one of each, and the other is
/// derived from it (both `final` here, so no override can be bypassed):
/// - the convolution's backward: override
///   ``conv2dBackward(_:weight:outputGradient:geometry:inputGradient:biasGradient:)``;
///   the variant that returns every gradient calls it;
/// - the elementwise sum: override ``addInPlace(_:_:)``; ``add(_:_:)`` copies `a` and calls it.
open class KernelOverlay: KernelBackend, @unchecked Sendable {
    /// The core's kernels every operation not overridden goes to.
    public let base: any KernelBackend

    public init(base: any KernelBackend) { self.base = base }

    /// `base`'s name; a subclass names itself (`lenet-fast`).
    open var name: String { base.name }

    // MARK: Derived pairs (final)

    public final func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        let g = conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: true, biasGradient: true)
        guard let input = g.input, let bias = g.bias else {
            preconditionFailure("\(name): conv2dBackward left out a gradient it was asked for")
        }
        return (input, g.weight, bias)
    }

    public final func add(_ a: [Float], _ b: [Float]) -> [Float] {
        var sum = a
        addInPlace(&sum, b)
        return sum
    }

    // MARK: Everything else: base's kernels unless overridden

    open func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        base.conv2d(x, weight: weight, bias: bias, geometry: geometry)
    }
    open func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry, inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        base.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry, inputGradient: inputGradient, biasGradient: biasGradient)
    }
    open func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] {
        base.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry)
    }
    open func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        base.convTranspose2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry)
    }
    open func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] {
        base.maxPool2d(x, geometry: geometry)
    }
    open func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] {
        base.maxPool2dBackward(x, outputGradient: dy, geometry: geometry)
    }
    open func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        base.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad)
    }
    open func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        base.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad)
    }
    open func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] {
        base.adaptiveAvgPool2d(x, input: input, outputSize: outputSize)
    }
    open func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] {
        base.adaptiveAvgPool2dBackward(outputGradient: dy, input: input, outputSize: outputSize)
    }
    open func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
        base.localResponseNorm(x, shape: shape, size: size, alpha: alpha, beta: beta, k: k)
    }
    open func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
        base.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size, alpha: alpha, beta: beta, k: k)
    }
    open func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) {
        base.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon)
    }
    open func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) {
        base.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon)
    }
    open func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] {
        base.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon)
    }
    open func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) {
        base.batchNormInferenceBackward(x, weight: weight, runningMean: runningMean, runningVariance: runningVariance, outputGradient: dy, shape: shape, epsilon: epsilon)
    }
    open func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] {
        base.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    open func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) {
        base.linearBackward(x, weight: weight, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    open func relu(_ x: [Float]) -> [Float] {
        base.relu(x)
    }
    open func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        base.reluBackward(x, outputGradient: dy)
    }
    open func tanh(_ x: [Float]) -> [Float] {
        base.tanh(x)
    }
    open func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        base.tanhBackward(x, outputGradient: dy)
    }
    open func sigmoid(_ x: [Float]) -> [Float] {
        base.sigmoid(x)
    }
    open func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] {
        base.sigmoidBackward(x, outputGradient: dy)
    }
    open func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) {
        base.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes)
    }
    open func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) {
        base.distillationKL(student: student, teacher: teacher, classes: classes, temperature: temperature)
    }
    open func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] {
        base.dropout(x, keepMask: keepMask, probability: probability)
    }
    open func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] {
        base.dropoutBackward(outputGradient: dy, keepMask: keepMask, probability: probability)
    }
    open func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] {
        base.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial)
    }
    open func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] {
        base.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
    }
    open func addInPlace(_ a: inout [Float], _ b: [Float]) {
        base.addInPlace(&a, b)
    }
}
