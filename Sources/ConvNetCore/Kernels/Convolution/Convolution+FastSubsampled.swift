// The 1x1 convolution with stride s > 1 and no padding: a ResNet's projection shortcut
// (option B: 16 -> 32 channels at 32x32 -> 16x16 in CIFAR ResNet-20, 8 -> 16 at 16x16 in
// the degradation nets). Its output pixel (oy, ox) reads the input at (s*oy, s*ox) alone,
// so the convolution is a subsampling followed by a 1x1 stride-1 convolution on the
// subsampled map:
//
//     y[n, o, oy, ox] = sum_c W[o, c] x[n, c, s*oy, s*ox] = conv1x1(x_sub)[n, o, oy, ox]
//
// and its gradients are those of the 1x1 stride-1 convolution on x_sub, with dx zero
// everywhere except at the subsampled positions, where it is the stride-1 dx.
//
// Why: the general kernels walk a strided 1x1 like any strided convolution (phases of the
// input, or an im2col of a 1x1 window) and ran these layers at 7-40 GFLOP/s where the
// stride-1 1x1 of the same size runs at 30-65 (batch 64-128, one thread, Zen 4); the
// gather costs one read of a quarter of x (every s-th row, every s-th pixel of it).
// Only where no weights come prepacked for the strided geometry (training; inference
// with packed weights keeps its own path).

/// A 1x1, stride > 1, padding-0, groups-1 convolution as subsample-then-1x1 (see above).
struct SubsampledPointwiseConvolution {
    let s: Conv2DGeometry
    /// The same convolution on the subsampled input, stride 1.
    let pointwise: Conv2DGeometry

    static func applies(to s: Conv2DGeometry) -> Bool {
        s.kernelHeight == 1 && s.kernelWidth == 1 && s.paddingHeight == 0 && s.paddingWidth == 0
            && (s.strideHeight > 1 || s.strideWidth > 1) && s.groups == 1
    }

    init(_ geometry: Conv2DGeometry) {
        s = geometry
        pointwise = Conv2DGeometry(batch: s.batch, inChannels: s.inChannels, inHeight: s.outHeight, inWidth: s.outWidth,
                                   outChannels: s.outChannels, kernel: (1, 1))
    }

    /// x_sub[n, c, oy, ox] = x[n, c, sh*oy, sw*ox], planes split over the threads.
    func subsample(_ x: UnsafePointer<Float>) -> [Float] {
        let (oh, ow, h, w, sh, sw) = (s.outHeight, s.outWidth, s.inHeight, s.inWidth, s.strideHeight, s.strideWidth)
        return [Float](unsafeUninitializedCapacity: pointwise.inputShape.count) { buffer, initialized in
            let out = buffer.baseAddress!
            Parallelism.forEachChunk(s.batch * s.inChannels) { _, planes in
                for p in planes {
                    let from = x + p * h * w, to = out + p * oh * ow
                    for oy in 0..<oh {
                        let row = from + oy * sh * w, o = to + oy * ow
                        for ox in 0..<ow { o[ox] = row[ox * sw] }
                    }
                }
            }
            initialized = pointwise.inputShape.count
        }
    }

    /// dx[n, c, sh*oy, sw*ox] = dxSub[n, c, oy, ox], zero elsewhere.
    func scatter(_ dxSub: [Float]) -> [Float] {
        let (oh, ow, h, w, sh, sw) = (s.outHeight, s.outWidth, s.inHeight, s.inWidth, s.strideHeight, s.strideWidth)
        return [Float](unsafeUninitializedCapacity: s.inputShape.count) { buffer, initialized in
            let out = buffer.baseAddress!
            dxSub.withUnsafeBufferPointer { sub in
                let sub = sub.baseAddress!
                Parallelism.forEachChunk(s.batch * s.inChannels) { _, planes in
                    for p in planes {
                        let to = out + p * h * w, from = sub + p * oh * ow
                        to.update(repeating: 0, count: h * w)
                        for oy in 0..<oh {
                            let row = to + oy * sh * w, i = from + oy * ow
                            for ox in 0..<ow { row[ox * sw] = i[ox] }
                        }
                    }
                }
            }
            initialized = s.inputShape.count
        }
    }
}

extension Fast {
    /// The hook of the forward router: runs the strided 1x1 as subsample-then-1x1 where it
    /// applies (no prepacked weights) and returns true, else returns false.
    static func subsampledPointwiseForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                           packed: PackedConvolutionWeights?, bias: UnsafePointer<Float>?,
                                           geometry s: Conv2DGeometry, residual: UnsafePointer<Float>?, relu: Bool,
                                           into y: UnsafeMutablePointer<Float>) -> Bool {
        guard usesSubsampledPointwise, packed == nil, SubsampledPointwiseConvolution.applies(to: s) else { return false }
        let conv = SubsampledPointwiseConvolution(s)
        let xSub = conv.subsample(x)
        xSub.withUnsafeBufferPointer {
            conv2dFused($0.baseAddress!, weight: weight, bias: bias, geometry: conv.pointwise, residual: residual,
                        relu: relu, into: y)
        }
        return true
    }

    /// The hook of the backward router: the gradients of the strided 1x1 from those of the
    /// 1x1 on the subsampled input, or nil where it does not apply.
    static func subsampledPointwiseBackward(_ s: Conv2DGeometry, x: [Float]?, weight: [Float]?, dy: [Float],
                                            input: Bool, weightAndBias: Bool, bias: Bool) -> (input: [Float]?, weight: [Float]?, bias: [Float]?)? {
        guard usesSubsampledPointwise, SubsampledPointwiseConvolution.applies(to: s) else { return nil }
        let conv = SubsampledPointwiseConvolution(s)
        let xSub = weightAndBias ? x.map { x in x.withUnsafeBufferPointer { conv.subsample($0.baseAddress!) } } : nil
        let g = convolutionBackward(conv.pointwise, x: xSub, weight: weight, dy: dy, input: input,
                                    weightAndBias: weightAndBias, bias: bias)
        return (g.input.map { conv.scatter($0) }, g.weight, g.bias)
    }

    /// Whether strided 1x1 convolutions run as subsample-then-1x1 (Convolution+FastSubsampled.swift).
    nonisolated(unsafe) public static var usesSubsampledPointwise = true
}
