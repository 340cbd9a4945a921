// The inference path: `model.infer(x)`, what ONNX Runtime runs.
//
// `forward` is the training-ready pass: every layer keeps its input for `backward`, and a
// convolution, its batch norm and its ReLU are three passes over memory with three fresh
// arrays. In eval mode the batch norm is an affine map per channel with constants,
//     bn(conv(x))_o = s_o * (W_o . x - mean_o) + beta_o,   s_o = gamma_o / sqrt(var_o + eps),
// which is itself a convolution: weights W'_o = s_o W_o, bias b'_o = beta_o - s_o mean_o
// (+ s_o b_o when the convolution has a bias). `infer` runs that one convolution, then
// adds the residual and applies the ReLU to each block of output while it is in cache
// (the convolution's fused epilogue).
// Nothing is kept for backward (so `backward` after `infer` is not allowed).
//
// The folded weights (and their packing for the direct kernel, Convolution+FastDirect.swift,
// which ONNX Runtime also does once per session) are cached in the convolution and rebuilt when any tensor they come
// from changes (each Parameter and Buffer counts its changes in `version`), so training
// steps, loading a state dict or `train()` / `eval()` switches never leave them stale.
// With the naive kernels, or in training mode, `infer` is `forward`.

extension Layer {
    /// Whether `infer` may fold and fuse: inference mode on the core's fast kernels with
    /// no lesson overlay (``runsCoreFastKernels``). Otherwise `infer` is `forward`, on
    /// `backend`.
    public var foldsForInference: Bool { !isTraining && runsCoreFastKernels }
}

extension Conv2d {
    /// y = relu?(bn(conv(x)) + residual?) in inference mode, as one convolution with
    /// batch norm folded into its weights and bias (cached) and one in-place pass for the
    /// residual and the ReLU. Without `batchNorm` it is conv(x) (+ residual) (relu).
    /// Falls back to the unfused layers unless `foldsForInference`.
    public func inferFused(_ x: Tensor, batchNorm bn: BatchNorm2d?, residual: Tensor? = nil, relu: Bool) -> Tensor {
        guard foldsForInference else {
            var y = forward(x)
            if let bn { y = bn.forward(y) }
            if let residual { y = add(y, residual) }
            return relu ? Tensor(shape: y.shape, data: backend.relu(y.data)) : y
        }
        let g = geometry(for: x.shape)
        let (w, b) = foldedParameters(with: bn)
        if let residual {
            checkShape(residual.shape, equals: g.outputShape.dimensions, in: "\(description) residual")
        }
        // Packed once for the direct kernel (cached beside the folded weights).
        let packed: PackedConvolutionWeights?
        if DirectConvolution.applies(to: g, prepacked: true) {
            if foldCache?.packed == nil { foldCache?.packed = PackedConvolutionWeights(weight: w, geometry: g) }
            packed = foldCache?.packed
        } else {
            packed = nil
        }
        let count = g.outputShape.count
        let y = [Float](unsafeUninitializedCapacity: count) { yb, initialized in
            x.data.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    IM2ColConvolution.withOptionalPointer(b) { bp in
                        let bias = bp.map { UnsafeBufferPointer(start: $0, count: outChannels) }
                        IM2ColConvolution.withOptionalPointer(residual?.data) { rp in
                            let r = rp.map { UnsafeBufferPointer(start: $0, count: count) }
                            if let packed {
                                Fast.conv2d(xb, weight: wb, packed: packed, bias: bias, geometry: g, residual: r, relu: relu, into: yb)
                            } else {
                                Fast.conv2d(xb, weight: wb, bias: bias, geometry: g, residual: r, relu: relu, into: yb)
                            }
                        }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: g.outputShape.dimensions, data: y)
    }

    /// The weights and bias of this convolution with `bn` folded in, from the cache when
    /// no tensor they depend on has changed since they were computed.
    public func foldedParameters(with bn: BatchNorm2d?) -> (weight: [Float], bias: [Float]?) {
        var key = [weight.version, bias?.version ?? -1]
        if let bn {
            precondition(bn.channels == outChannels, "\(description): cannot fold \(bn.description) into it")
            key += [ObjectIdentifier(bn).hashValue, bn.weight.version, bn.bias.version,
                    bn.runningMean.version, bn.runningVariance.version]
        }
        if let cache = foldCache, cache.key == key { return (cache.weight, cache.bias) }
        var w = weight.value.data
        var b = bias?.value.data
        if let bn {
            let gamma = bn.weight.value.data, beta = bn.bias.value.data
            let mean = bn.runningMean.value.data, variance = bn.runningVariance.value.data
            let perOutput = w.count / outChannels
            var folded = [Float](repeating: 0, count: outChannels)
            for o in 0..<outChannels {
                let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.epsilon)).squareRoot()
                for i in o * perOutput..<(o + 1) * perOutput { w[i] = Float(Double(w[i]) * scale) }
                folded[o] = Float(Double(beta[o]) + scale * (Double(b?[o] ?? 0) - Double(mean[o])))
            }
            b = folded
        }
        foldCache = FoldCache(key: key, weight: w, bias: b)
        return (w, b)
    }
}

/// The folded weights of a convolution and the versions of the tensors they came from.
struct FoldCache {
    var key: [Int]
    var weight: [Float]
    var bias: [Float]?
    /// The folded weights packed for the direct kernel, built on first use.
    var packed: PackedConvolutionWeights? = nil
    /// The folded weights and bias packed for the blocked kernel (for a blocked input, or
    /// an NCHW image), built on first use.
    var blocked: BlockedConvolutionWeights? = nil
    /// The folded weights and bias transformed for the Winograd kernel, built on first use.
    var winograd: WinogradConvolutionWeights? = nil
}
