import Dispatch

// The fast convolution's front door: which kernel runs, for which geometry and CPU, and why.
//
// The definition is Convolution+Naive.swift (seven loops). Every kernel named here
// computes the same numbers (to rounding), each in its own file whose header says how it
// works and why it is fast. The choice is made once, by the decision functions below
// (``Fast/conv2dMethod(for:prepacked:)``, ``Fast/conv2dBackwardMethods(for:)``,
// ``Fast/conv2dBlockedMethod(for:)``); the entries switch over their answer, so the
// method a lesson prints is the one that ran. First match wins:
//
// Before these, the small-map hooks of `conv2dFused` and `convolutionBackward` take the
// 3x3 stride-1 layers of few channels on small maps that the lessons train (at most 16
// channels, at most 256 pixels; maps 4-8 wide): the batch's positions in the vector lanes
// (Convolution+FastSmall.swift, Convolution+FastPlanes.swift; `lesson bench --no-small`
// turns them off). `Fast.conv2dKernelName` names them when they run.
// Then a 1x1 with a stride of 2 or more, padding 0, groups 1 (a projection shortcut) runs
// as a subsampling of x followed by the stride-1 1x1 this router picks for the smaller map,
// and its dx as that 1x1's dx scattered into zeros (Convolution+FastSubsampled.swift;
// forward only where no weights come prepacked; `lesson bench --no-subsample` turns it off).
//
// Forward, `Fast.conv2d` (training; and `model.infer` where it runs NCHW):
//   grouped       groups > 1 with at most 16 input and 64 output channels a group (ResNeXt,
//                 depthwise): Convolution+FastGrouped.swift. A group's GEMM (m = 4,
//                 k = 36) is too small to pay for packing; 4 channels x 64 pixels of
//                 output sit in registers, the input read through phase planes.
//   blocked       only with weights packed once (the inference entry), AVX-512, groups 1,
//                 16+ input and 64+ output channels, not a plain 1x1: converted to
//                 NCHW16c, run by Convolution+FastBlocked.swift, transposed back in cache
//                 (as ONNX Runtime runs a Conv node).
//   blockedImage  AVX-512, groups 1, an image (at most 4 channels) with a stride of 2 or
//                 more, where `direct` would run: the blocked kernel reads the image's
//                 padded planes at the stride instead of copying 16 phase planes a channel
//                 (Convolution+FastBlocked.swift).
//   winogradLanes training only (weights not packed once), AVX-512: 3 x 3, stride 1, padding 1,
//                 groups 1, at most 32 input and output channels, a map 16 or a multiple of
//                 32 wide (CIFAR ResNet's first two stages), or at most 64 with
//                 C K > 16 (C + K) on a map 8 wide (its third: there it goes before the
//                 plane kernel's hook): Winograd's F(2x2, 3x3) with 16 tiles in the
//                 vector lanes, x read in place and y written in place
//                 (Convolution+FastWinogradLanes.swift).
//   direct        AVX-512, 8+ output channels a group, not a 1x1 with stride 1, and either
//                 weights packed once or 1,024+ output pixels to pay for packing on the
//                 call: 16 output channels a vector, one input value broadcast, tiles of
//                 6 pixels x 64 channels (Convolution+FastDirect.swift).
//   implicitGEMM  the rest, and every dense convolution on CPUs without AVX-512: a GEMM
//                 whose B operand (the column matrix) is packed straight from the image,
//                 never stored; 8 x 32 tiles on AVX-512, 6 x 16 elsewhere
//                 (Convolution+FastImplicit.swift).
//
// `model.infer` on AVX-512 (Models/Layers/BlockedInference.swift) runs its stretches of
// groups-1 convolutions on NCHW16c activations: the first reads its NCHW input (the
// image: `blockedImage`), the others take ``Fast/conv2dBlockedMethod(for:)``:
//   winograd      3 x 3, stride 1, padding 1, with 32+ 2x2 tiles in the batch or the
//                 transformed weights within L2: F(2x2, 3x3), 16 multiply-adds where direct
//                 does 36 (Convolution+FastWinograd.swift). `lesson bench --direct`
//                 turns it off (`Fast.usesWinograd`) to time the direct kernels alone.
//   blocked       the rest (Convolution+FastBlocked.swift).
// Elsewhere `Conv2d.inferFused` (Models/Layers/Inference.swift) runs the forward entry
// above with the folded weights packed once (`prepacked` where `direct` applies).
//
// Backward, `Fast.conv2dBackward`:
//   grouped       as forward: one walk makes dx, dW and the bias gradient.
//   input gradient dx:
//     stride 1 (padding smaller than the kernel): dx is the convolution of dy by the
//     kernel turned 180 degrees (see Convolution+FastImplicit.swift), so a forward kernel
//     runs it:
//       winogradLanes where the turned convolution takes it (as forward);
//       direct        where the direct kernel takes the turned convolution with weights
//                     packed turned in one pass (AVX-512);
//       implicitGEMM  otherwise (or `grouped`, where the turned groups are narrow): the
//                     weights turned into a copy, then the forward router above.
//     otherwise:
//       stridedInput  a stride of 2 or more, and 8+ input channels a group or an RGB image
//                     on AVX-512: one direct stride-1 pass per stride phase, no
//                     multiply-add on a zero (Convolution+FastStridedInput.swift).
//       im2colGEMM    the rest (strided on 1-7 input channels a group, or padding as wide
//                     as the kernel): W^T dY by GEMM, then col2im's scatter-add
//                     (Convolution+FastIm2col.swift).
//   weight gradient dW:
//     winogradLanes           where it runs the forward pass, the map is not 8 wide and
//                             C K >= 16 (C + K) (32 channels in and out): Gᵀ [Σ Z ⊙ V] G
//                             over the batch's tiles.
//     directWeightGradient    16 to 64 output channels a group: the channels in the lanes,
//                             x read in place (Convolution+FastWeightGradient.swift).
//     implicitWeightGradient  otherwise: a GEMM whose depth is the pixels, on the phase-
//                             plane grid (``ImplicitWeightGradient``, Convolution+FastImplicit.swift).
//   bias gradient: the channel sums of dy.
//
// im2col + GEMM (Convolution+FastIm2col.swift) is the textbook form of all of this: copy
// every receptive field into a column matrix and run one GEMM. Besides the strided input
// gradient above, it runs the transposed convolution (ConvTranspose+Fast.swift).

/// The kernel that runs a convolution (forward, or one of its gradients), as chosen by
/// ``Fast/conv2dMethod(for:prepacked:)``, ``Fast/conv2dBackwardMethods(for:)`` and
/// ``Fast/conv2dBlockedMethod(for:)`` (the map is at the top of Convolution+Fast.swift).
public enum ConvolutionMethod: String, CaseIterable, Sendable {
    case direct, blocked, blockedImage, winograd, winogradLanes, implicitGEMM, im2colGEMM, grouped
    case stridedInput, directWeightGradient, implicitWeightGradient

    /// How it works, in a few words (with the register tile of this CPU where it depends on it).
    public var title: String {
        switch self {
        case .direct: return "direct, 6 px x 64 ch register tiles (AVX-512)"
        case .blocked: return "direct on NCHW16c activations, 6 px x 64 ch register tiles (AVX-512)"
        case .blockedImage: return "direct from NCHW image planes to 16-channel blocks (AVX-512)"
        case .winograd: return "Winograd F(2x2, 3x3) on NCHW16c activations (AVX-512)"
        case .winogradLanes: return "Winograd F(2x2, 3x3) on NCHW, 16 tiles in the lanes (AVX-512)"
        case .implicitGEMM:
            return CPUFeatures.hasAVX512F ? "implicit GEMM, 8 ch x 32 px register tiles (AVX-512)"
                                          : "implicit GEMM, 6 ch x 16 px register tiles"
        case .im2colGEMM: return "im2col + GEMM, the column matrix in 1 MB bands"
        case .grouped: return "grouped direct, 4 ch x 64 px register tiles per group"
        case .stridedInput: return "input gradient by stride phases, one direct stride-1 pass each"
        case .directWeightGradient: return "direct weight gradient, output channels in the lanes, x read in place"
        case .implicitWeightGradient: return "implicit GEMM weight gradient, the pixels as its depth"
        }
    }

    /// The source file of the kernel.
    public var file: String {
        switch self {
        case .direct: return "Convolution+FastDirect.swift"
        case .blocked, .blockedImage: return "Convolution+FastBlocked.swift"
        case .winograd: return "Convolution+FastWinograd.swift"
        case .winogradLanes: return "Convolution+FastWinogradLanes.swift"
        case .implicitGEMM, .implicitWeightGradient: return "Convolution+FastImplicit.swift"
        case .im2colGEMM: return "Convolution+FastIm2col.swift"
        case .grouped: return "Convolution+FastGrouped.swift"
        case .stridedInput: return "Convolution+FastStridedInput.swift"
        case .directWeightGradient: return "Convolution+FastWeightGradient.swift"
        }
    }
}

// MARK: - The decisions

extension Fast {
    /// The kernel ``conv2d(_:weight:bias:geometry:)`` runs for `geometry` on this CPU (the
    /// training path); with `prepacked`, the one the entry with ``PackedConvolutionWeights``
    /// runs (``conv2d(_:weight:packed:bias:geometry:residual:relu:into:)``).
    public static func conv2dMethod(for geometry: Conv2DGeometry, prepacked: Bool = false) -> ConvolutionMethod {
        let s = geometry
        if GroupedDirectConvolution.applies(to: s) { return .grouped }
        if prepacked && BlockedConvolution.runsNCHW(s) { return .blocked }
        if !prepacked && WinogradLaneConvolution.applies(to: s) { return .winogradLanes }
        let direct = DirectConvolution.applies(to: s, prepacked: prepacked)
        if direct && BlockedConvolution.runsImage(s) { return .blockedImage }
        return direct ? .direct : .implicitGEMM
    }

    /// What `conv2dFused` runs for `geometry`, as a lesson's race prints it: the small-map
    /// kernels where their hook takes the layer, else what ``conv2dMethod(for:prepacked:)``
    /// picks; its title and its file.
    public static func conv2dKernelName(_ geometry: Conv2DGeometry, prepacked: Bool = false) -> String {
        if PlaneConvolution.appliesForward(to: geometry) {
            return "3x3 on maps 4-8 wide, the batch in the lanes (Convolution+FastPlanes.swift)"
        }
        if SmallConvolution.applies(to: geometry) {
            return "3x3 on small maps, the batch's positions in the lanes (Convolution+FastSmall.swift)"
        }
        if usesSubsampledPointwise && !prepacked && SubsampledPointwiseConvolution.applies(to: geometry) {
            let inner = conv2dMethod(for: SubsampledPointwiseConvolution(geometry).pointwise)
            return "strided 1x1 as subsample, then \(inner.title) (Convolution+FastSubsampled.swift, \(inner.file))"
        }
        let method = conv2dMethod(for: geometry, prepacked: prepacked)
        return "\(method.title) (\(method.file))"
    }

    /// The kernels ``conv2dBackward(_:weight:outputGradient:geometry:)`` runs for
    /// `geometry` on this CPU: for the input gradient and for the weight gradient.
    public static func conv2dBackwardMethods(for geometry: Conv2DGeometry) -> (input: ConvolutionMethod, weight: ConvolutionMethod) {
        let s = geometry
        if GroupedDirectConvolution.applies(to: s) { return (.grouped, .grouped) }
        let weight: ConvolutionMethod = WinogradLaneConvolution.applies(to: s) && WinogradLaneConvolution.weightGradientPays(for: s)
            ? .winogradLanes
            : DirectWeightGradient.applies(to: s) ? .directWeightGradient : .implicitWeightGradient
        if ImplicitGEMMConvolution.backwardInputApplies(to: s) {
            // Stride 1: the forward convolution of dy by the turned kernel.
            let turned = ImplicitGEMMConvolution.inputGradientGeometry(of: s)
            if WinogradLaneConvolution.applies(to: turned) { return (.winogradLanes, weight) }
            if DirectConvolution.applies(to: turned, prepacked: true) && !GroupedDirectConvolution.applies(to: turned) {
                return (.direct, weight)
            }
            return (conv2dMethod(for: turned), weight)          // implicit GEMM, or grouped
        }
        return (StridedInputGradient.applies(to: s) ? .stridedInput : .im2colGEMM, weight)
    }

    /// The kernel `model.infer` runs on AVX-512 for a convolution of blocked (NCHW16c)
    /// activations (``conv2dWinograd(_:weights:geometry:residual:relu:into:)`` or
    /// ``conv2dBlocked(_:weights:geometry:residual:relu:into:)``); groups 1 only.
    public static func conv2dBlockedMethod(for geometry: Conv2DGeometry) -> ConvolutionMethod {
        usesWinograd && WinogradConvolution.applies(to: geometry) && WinogradConvolution.pays(for: geometry) ? .winograd : .blocked
    }
}

// MARK: - Forward

extension Fast {
    /// The convolution of ``Naive/conv2d(_:weight:bias:geometry:)`` (same shapes and
    /// result), by the kernel ``conv2dMethod(for:prepacked:)`` names (the map at the top
    /// of this file). To write into an existing buffer, or fuse a residual add and ReLU,
    /// use ``conv2d(_:weight:bias:geometry:residual:relu:into:)``.
    public static func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv2d") }
        return [Float](unsafeUninitializedCapacity: s.outputShape.count) { y, initialized in
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    IM2ColConvolution.withOptionalPointer(bias) { bias in
                        conv2dFused(x.baseAddress!, weight: w.baseAddress!, bias: bias, geometry: s, residual: nil,
                                    relu: false, into: y.baseAddress!)
                    }
                }
            }
            initialized = s.outputShape.count
        }
    }

    /// The convolution with a fused epilogue, into caller-owned storage:
    /// `y = act(conv(x, w) + bias + residual)`, where `act` is ReLU when `relu` and the
    /// identity otherwise, `residual` (optional) has the shape of y and bias (optional)
    /// `[outChannels]`. x, weight and y are NCHW / `[O, C/groups, kh, kw]` as in
    /// ``Naive/conv2d(_:weight:bias:geometry:)``; y is fully overwritten and must not
    /// overlap x, weight or residual. The kernel is the one ``conv2dMethod(for:prepacked:)``
    /// names (the map at the top of this file); the dense kernels apply bias, residual and
    /// ReLU to each block of output while it is in cache, the grouped one in a pass after.
    /// (Buffer pointers, not pointers, so that arrays are never silently converted.)
    public static func conv2d(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                              bias: UnsafeBufferPointer<Float>?, geometry: Conv2DGeometry,
                              residual: UnsafeBufferPointer<Float>? = nil, relu: Bool = false,
                              into output: UnsafeMutableBufferPointer<Float>) {
        checkedConv2d(x, weight: weight, packed: nil, bias: bias, geometry: geometry, residual: residual, relu: relu,
                      into: output)
    }

    /// ``conv2d(_:weight:bias:geometry:residual:relu:into:)`` with the weights already
    /// packed for the direct kernel (``PackedConvolutionWeights``, built once per weight
    /// tensor): what an inference run uses, since the packing is then paid once, not per
    /// call. `weight` is the same weights unpacked, for the CPUs and group shapes the
    /// direct kernel does not run.
    public static func conv2d(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                              packed: PackedConvolutionWeights, bias: UnsafeBufferPointer<Float>?,
                              geometry: Conv2DGeometry, residual: UnsafeBufferPointer<Float>? = nil, relu: Bool = false,
                              into output: UnsafeMutableBufferPointer<Float>) {
        precondition(packed.fits(geometry), "conv2d: weights packed for [\(packed.outChannels), \(packed.inChannelsPerGroup), \(packed.kernelHeight), \(packed.kernelWidth)] groups \(packed.groups), not \(geometry.weightShape) groups \(geometry.groups)")
        checkedConv2d(x, weight: weight, packed: packed, bias: bias, geometry: geometry, residual: residual, relu: relu,
                      into: output)
    }

    /// The two public buffer entries: every count checked against the geometry, then the body.
    private static func checkedConv2d(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                                      packed: PackedConvolutionWeights?, bias: UnsafeBufferPointer<Float>?,
                                      geometry s: Conv2DGeometry, residual: UnsafeBufferPointer<Float>?, relu: Bool,
                                      into output: UnsafeMutableBufferPointer<Float>) {
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv2d") }
        if let residual {
            checkCount(residual.count, equals: s.outputShape.count, "residual \(s.outputShape.dimensions)", in: "conv2d")
        }
        checkCount(output.count, equals: s.outputShape.count, "output \(s.outputShape.dimensions)", in: "conv2d")
        conv2dFused(x.baseAddress!, weight: weight.baseAddress!, packed: packed, bias: bias?.baseAddress, geometry: s,
                    residual: residual?.baseAddress, relu: relu, into: output.baseAddress!)
    }

    /// The raw-pointer body of ``conv2d(_:weight:bias:geometry:residual:relu:into:)`` (no
    /// count checks): the forward router, running the kernel ``conv2dMethod(for:prepacked:)`` names.
    static func conv2dFused(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedConvolutionWeights? = nil,
                            bias: UnsafePointer<Float>?, geometry: Conv2DGeometry, residual: UnsafePointer<Float>?, relu: Bool,
                            into y: UnsafeMutablePointer<Float>) {
        let s = geometry
        s.validate()
        // Small 3x3 maps of few channels (the lessons' training nets): the batch in the lanes
        // (Convolution+FastSmall.swift, Convolution+FastPlanes.swift), where they measured faster.
        if smallConvolutionForward(x, weight: weight, bias: bias, geometry: s, residual: residual, relu: relu, into: y) { return }
        // Strided 1x1 (projection shortcuts): subsample, then the stride-1 1x1 (Convolution+FastSubsampled.swift).
        if subsampledPointwiseForward(x, weight: weight, packed: packed, bias: bias, geometry: s, residual: residual,
                                      relu: relu, into: y) { return }
        let epilogue = ConvEpilogue(bias: bias, residual: residual, relu: relu)
        switch conv2dMethod(for: s, prepacked: packed != nil) {
        case .grouped:
            GroupedDirectConvolution(s).forward(x: x, weight: weight, bias: bias, residual: residual, relu: relu, y: y)
        case .blocked:
            BlockedConvolution.forwardNCHW(x, weight: weight, packed: packed!, bias: bias, geometry: s, residual: residual,
                                           relu: relu, into: y)
        case .blockedImage:
            BlockedConvolution.forwardImage(x, packed: packed ?? PackedConvolutionWeights(weight, geometry: s), bias: bias,
                                            geometry: s, residual: residual, relu: relu, into: y)
        case .direct:
            DirectConvolution(s).forward(x: x, packed: packed ?? PackedConvolutionWeights(weight, geometry: s), y: y,
                                         epilogue: epilogue)
        case .winogradLanes:
            WinogradLaneConvolution.forward(x, weight: weight, geometry: s, epilogue: epilogue, into: y)
        case .implicitGEMM:
            ImplicitGEMMConvolution(s).forward(x: x, weight: weight, y: y, epilogue: epilogue)
        case let method:
            preconditionFailure("conv2d: \(method) is not a forward method for NCHW tensors")
        }
    }

    /// ``conv2d(_:weight:bias:geometry:residual:relu:into:)`` on arrays: `y` is resized to
    /// the output's element count if needed (reuse it across calls to avoid allocation).
    public static func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry,
                              residual: [Float]? = nil, relu: Bool = false, into y: inout [Float]) {
        let count = geometry.outputShape.count
        if y.count != count { y = [Float](repeating: 0, count: count) }
        func withOptionalBuffer<R>(_ a: [Float]?, _ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
            guard let a else { return body(nil) }
            return a.withUnsafeBufferPointer { body($0) }
        }
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                withOptionalBuffer(bias) { bias in
                    withOptionalBuffer(residual) { residual in
                        y.withUnsafeMutableBufferPointer { y in
                            conv2d(x, weight: w, bias: bias, geometry: geometry, residual: residual, relu: relu, into: y)
                        }
                    }
                }
            }
        }
    }
}


// MARK: - Backward

extension Fast {
    /// The gradients of ``Naive/conv2dBackward(_:weight:outputGradient:geometry:)``, by the
    /// kernels ``conv2dBackwardMethods(for:)`` names (the map at the top of this file).
    public static func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward")
        let g = convolutionBackward(s, x: x, weight: weight, dy: dy, input: true, weightAndBias: true)
        return (g.input!, g.weight!, g.bias!)
    }

    /// The gradients of ``conv2dBackward(_:weight:outputGradient:geometry:)`` that are asked
    /// for: the input gradient only when `inputGradient` (not for a network's first layer),
    /// the bias gradient (a pass over dy) only when `biasGradient`.
    public static func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                                      inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward")
        let g = convolutionBackward(s, x: x, weight: weight, dy: dy, input: inputGradient, weightAndBias: true,
                                    bias: biasGradient)
        return (g.input, g.weight!, g.bias)
    }

    /// The input gradient alone: ``Naive/conv2dBackwardInput(weight:outputGradient:geometry:)``,
    /// the first result of ``conv2dBackward(_:weight:outputGradient:geometry:)``.
    public static func conv2dBackwardInput(weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> [Float] {
        let s = geometry
        s.validate()
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward input")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward input")
        return convolutionBackward(s, x: nil, weight: weight, dy: dy, input: true, weightAndBias: false).input!
    }

    /// The weight and bias gradients alone: ``Naive/conv2dBackwardWeight(_:outputGradient:geometry:)``,
    /// the last two results of ``conv2dBackward(_:weight:outputGradient:geometry:)``.
    public static func conv2dBackwardWeight(_ x: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (weight: [Float], bias: [Float]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward weight")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward weight")
        let g = convolutionBackward(s, x: x, weight: nil, dy: dy, input: false, weightAndBias: true)
        return (g.weight!, g.bias!)
    }

    /// The backward router: runs the kernels ``conv2dBackwardMethods(for:)`` names for the
    /// gradients asked for (the input gradient needs `weight`, the weight gradient `x`).
    /// (`bias: false` skips the bias gradient, a pass over dy, where `weightAndBias` asks for
    /// the weight's alone; the grouped kernel computes it anyway.)
    static func convolutionBackward(_ s: Conv2DGeometry, x: [Float]?, weight: [Float]?, dy: [Float],
                                    input: Bool, weightAndBias: Bool, bias: Bool = true) -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        if let small = smallConvolutionBackward(s, x: x, weight: weight, dy: dy, input: input, weightAndBias: weightAndBias, bias: bias) { return small }
        if let sub = subsampledPointwiseBackward(s, x: x, weight: weight, dy: dy, input: input, weightAndBias: weightAndBias, bias: bias) { return sub }
        let methods = conv2dBackwardMethods(for: s)
        let grouped = methods.weight == .grouped        // one walk of the grouped kernel makes all three
        // Every kernel overwrites its outputs (the im2col path zeroes dx itself before
        // col2im adds into it): no zero-fill pass here.
        func uninitialized(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                body(buffer.baseAddress!)
                initialized = count
            }
        }
        func withOptionalOutput(_ wanted: Bool, count: Int, _ body: (UnsafeMutablePointer<Float>?) -> Void) -> [Float]? {
            guard wanted else { body(nil); return nil }
            var result: [Float]? = nil
            result = uninitialized(count) { body($0) }
            return result
        }
        var dx: [Float]? = nil, dw: [Float]? = nil, db: [Float]? = nil
        IM2ColConvolution.withOptionalPointer(x) { x in
            IM2ColConvolution.withOptionalPointer(weight) { w in
                dy.withUnsafeBufferPointer { dyBuffer in
                    let dyp = dyBuffer.baseAddress!
                    dx = withOptionalOutput(input, count: s.inputShape.count) { dxp in
                        dw = withOptionalOutput(weightAndBias, count: s.weightCount) { dwp in
                            db = withOptionalOutput(weightAndBias && grouped, count: s.outChannels) { dbp in
                                if grouped {
                                    GroupedDirectConvolution(s).backward(x: x, weight: w, dy: dyp, dx: dxp, dw: dwp, db: dbp)
                                    return
                                }
                                if let dwp, let x {
                                    switch methods.weight {
                                    case .winogradLanes:
                                        WinogradLaneConvolution(s).weightGradient(x: x, dy: dyp, dw: dwp)
                                    case .directWeightGradient:
                                        DirectWeightGradient(s).weightGradient(x: x, dy: dyp, dw: dwp)
                                    case .implicitWeightGradient:
                                        ImplicitWeightGradient(s).weightGradient(x: x, dy: dyp, dw: dwp)
                                    case let method:
                                        preconditionFailure("conv2d backward: \(method) is not a weight-gradient method")
                                    }
                                }
                                if let dxp, let w {
                                    switch methods.input {
                                    case .direct:                   // stride 1: the turned convolution, weights packed turned
                                        DirectConvolution(ImplicitGEMMConvolution.inputGradientGeometry(of: s))
                                            .forward(x: dyp, packed: PackedConvolutionWeights.turned(w, forward: s), y: dxp,
                                                     epilogue: ConvEpilogue(bias: nil, residual: nil, relu: false))
                                    case .winogradLanes:            // stride 1: the turned convolution by Winograd
                                        WinogradLaneConvolution.inputGradient(weight: w, dy: dyp, forward: s, into: dxp)
                                    case .implicitGEMM, .grouped:   // stride 1: the turned convolution, forward-routed
                                        ImplicitGEMMConvolution.backwardInput(geometry: s, weight: w, dy: dyp, dx: dxp)
                                    case .stridedInput:
                                        StridedInputGradient(s).inputGradient(weight: w, dy: dyp, dx: dxp)
                                    case .im2colGEMM:
                                        IM2ColConvolution(s).backward(x: nil, weight: w, dy: dyp, dx: dxp, dw: nil)
                                    case let method:
                                        preconditionFailure("conv2d backward: \(method) is not an input-gradient method")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if weightAndBias && bias && db == nil {
            db = IM2ColConvolution.channelSums(dy, batch: s.batch, channels: s.outChannels, plane: s.outHeight * s.outWidth)
        }
        return (dx, dw, db)
    }
}
