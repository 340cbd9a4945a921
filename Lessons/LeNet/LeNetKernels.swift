import ConvNetCore

// How the lesson's kernel pair gets into the model. The core's layers call their kernels
// through a `KernelBackend` (`layer.backend`); setting `model.customKernels = LeNetKernels(.fast)` makes
// every layer of LeNet-5 call this one instead. It sends the two operations the lesson
// specialises to the lesson's kernels:
//  - a convolution with stride 1, no padding and one group (C1, C3, C5) to
//    `validConvolution` (ValidConvolution+Naive.swift / +Fast.swift);
//  - a 2x2 average pool with stride 2 and no padding (S2, S4) to `averagePooling2x2`
//    (AveragePooling2x2+Naive.swift / +Fast.swift);
// and everything else (tanh, the linear layers, the loss) to the core's kernels of the
// same kind, naive or fast. So `LeNetKernels(.naive)` runs the whole network on readable
// loops and `LeNetKernels(.fast)` on fast ones: the same numbers at different speeds.

/// The kernels of the LeNet lesson over the core's (``KernelOverlay``): the lesson's pair
/// for the two operations it teaches, the core's for everything else.
public final class LeNetKernels: KernelOverlay, @unchecked Sendable {
    /// Naive or fast, for the lesson's kernels and for the core's ones below them.
    public let choice: KernelChoice

    public init(_ choice: KernelChoice = .fast) {
        self.choice = choice
        super.init(base: choice.backend)
    }

    public override var name: String { "lenet-\(choice.rawValue)" }

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

    public override func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        guard let s = Self.validShape(geometry) else { return base.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
        return choice == .fast ? Fast.validConvolution(x, weight: weight, bias: bias, shape: s)
                               : Naive.validConvolution(x, weight: weight, bias: bias, shape: s)
    }

    public override func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                                        inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        guard let s = Self.validShape(geometry) else {
            return base.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: geometry,
                                       inputGradient: inputGradient, biasGradient: biasGradient)
        }
        let g = choice == .fast ? Fast.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: s)
                                : Naive.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: s)
        return (inputGradient ? g.input : nil, g.weight, biasGradient ? g.bias : nil)
    }

    public override func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        guard Self.isTwoByTwo(geometry) else { return base.avgPool2d(x, geometry: geometry, countIncludePad: countIncludePad) }
        return choice == .fast ? Fast.averagePooling2x2(x, shape: geometry.input)
                               : Naive.averagePooling2x2(x, shape: geometry.input)
    }

    public override func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        guard Self.isTwoByTwo(geometry) else {
            return base.avgPool2dBackward(outputGradient: dy, geometry: geometry, countIncludePad: countIncludePad)
        }
        return choice == .fast ? Fast.averagePooling2x2Backward(outputGradient: dy, shape: geometry.input)
                               : Naive.averagePooling2x2Backward(outputGradient: dy, shape: geometry.input)
    }
}
