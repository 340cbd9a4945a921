import ConvNetCore

// How the lesson's kernel pair gets into the model. The core's layers call their kernels
// through a `KernelBackend`; setting `model.customKernels = LeNetKernels(.fast)` makes
// every layer of LeNet-5 call this one instead. It sends the two operations the lesson
// specialises to the lesson's kernels:
//  - a convolution with stride 1, no padding and one group (C1, C3, C5) to
//    `validConvolution` (ValidConvolution+Naive.swift / +Fast.swift);
//  - a 2x2 average pool with stride 2 and no padding (S2, S4) to `averagePooling2x2`
//    (AveragePooling2x2+Naive.swift / +Fast.swift);
// and everything else (tanh, the linear layers, the loss) to the core's kernels of the
// same kind, naive or fast. So `LeNetKernels(.naive)` runs the whole network on readable
// loops and `LeNetKernels(.fast)` on fast ones: the same numbers at different speeds.

/// The kernels of the LeNet lesson, behind the core's `KernelBackend` interface.
public struct LeNetKernels: KernelBackend {
    /// Naive or fast, for the lesson's kernels and for the core's ones it delegates to.
    public let choice: KernelChoice
    private let core: any KernelBackend

    public init(_ choice: KernelChoice = .fast) {
        self.choice = choice
        core = choice == .fast ? FastKernels() : NaiveKernels()
    }

    public var name: String { "lenet-\(choice.rawValue)" }

    /// The valid convolution a general convolution is, when it is one (stride 1, no
    /// padding, one group, a square filter).
    static func validShape(_ g: Conv2DGeometry) -> ValidConvolutionShape? {
        guard g.strideHeight == 1, g.strideWidth == 1, g.paddingHeight == 0, g.paddingWidth == 0,
              g.groups == 1, g.kernelHeight == g.kernelWidth, g.problem == nil else { return nil }
        return ValidConvolutionShape(input: g.inputShape, filters: g.outChannels, kernel: g.kernelHeight)
    }

    /// Whether a pooling window is LeNet's: 2x2, stride 2, no padding (and no ceil-mode
    /// window hanging over an odd edge).
    static func isTwoByTwo(_ g: Pool2DGeometry) -> Bool {
        g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2
            && g.paddingHeight == 0 && g.paddingWidth == 0
            && (!g.ceilMode || (g.input.height % 2 == 0 && g.input.width % 2 == 0))
    }

    // MARK: The lesson's kernels

    public func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        guard let s = Self.validShape(geometry) else { return core.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
        return choice == .fast ? Fast.validConvolution(x, weight: weight, bias: bias, shape: s)
                               : Naive.validConvolution(x, weight: weight, bias: bias, shape: s)
    }

    public func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        guard let s = Self.validShape(geometry) else {
            return core.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry)
        }
        return choice == .fast ? Fast.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: s)
                               : Naive.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: s)
    }

    public func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        guard Self.isTwoByTwo(geometry) else { return core.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad) }
        return choice == .fast ? Fast.averagePooling2x2(x, shape: geometry.input)
                               : Naive.averagePooling2x2(x, shape: geometry.input)
    }

    public func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        guard Self.isTwoByTwo(geometry) else {
            return core.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad)
        }
        return choice == .fast ? Fast.averagePooling2x2Backward(outputGradient: dy, shape: geometry.input)
                               : Naive.averagePooling2x2Backward(outputGradient: dy, shape: geometry.input)
    }

    // MARK: Everything else: the core's kernels

    public func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] { core.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry) }
    public func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { core.convTranspose2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry) }
    public func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] { core.maxPool2d(x, geometry: geometry) }
    public func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] { core.maxPool2dBackward(x, outputGradient: dy, geometry: geometry) }
    public func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { core.adaptiveAvgPool2d(x, input: input, outputSize: outputSize) }
    public func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { core.adaptiveAvgPool2dBackward(outputGradient: dy, input: input, outputSize: outputSize) }
    public func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { core.localResponseNorm(x, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { core.localResponseNormBackward(x, outputGradient: dy, shape: shape, size: size, alpha: alpha, beta: beta, k: k) }
    public func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) { core.batchNormTraining(x, weight: weight, bias: bias, shape: shape, epsilon: epsilon) }
    public func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { core.batchNormTrainingBackward(x, weight: weight, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] { core.batchNormInference(x, weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance, shape: shape, epsilon: epsilon) }
    public func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { core.batchNormInferenceBackward(x, weight: weight, runningMean: runningMean, runningVariance: runningVariance, outputGradient: dy, shape: shape, epsilon: epsilon) }
    public func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] { core.linear(x, weight: weight, bias: bias, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) { core.linearBackward(x, weight: weight, outputGradient: dy, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
    public func relu(_ x: [Float]) -> [Float] { core.relu(x) }
    public func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { core.reluBackward(x, outputGradient: dy) }
    public func tanh(_ x: [Float]) -> [Float] { core.tanh(x) }
    public func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { core.tanhBackward(x, outputGradient: dy) }
    public func sigmoid(_ x: [Float]) -> [Float] { core.sigmoid(x) }
    public func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { core.sigmoidBackward(x, outputGradient: dy) }
    public func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) { core.softmaxCrossEntropy(logits: logits, targets: targets, classes: classes) }
    public func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) { core.distillationKL(student: student, teacher: teacher, classes: classes, temperature: temperature) }
    public func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] { core.dropout(x, keepMask: keepMask, probability: probability) }
    public func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] { core.dropoutBackward(outputGradient: dy, keepMask: keepMask, probability: probability) }
    public func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] { core.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial) }
    public func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] { core.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial) }
    public func add(_ a: [Float], _ b: [Float]) -> [Float] { core.add(a, b) }
}
