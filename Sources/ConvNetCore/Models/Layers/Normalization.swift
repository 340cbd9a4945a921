/// `nn.BatchNorm2d`: normalise each channel over the batch and the pixels, then scale
/// and shift it: y = gamma * (x - mean) / sqrt(var + eps) + beta.
///
/// In training mode it uses the batch's mean and (biased) variance and updates the
/// running statistics as PyTorch does, with the *unbiased* variance:
/// running = (1 - momentum) * running + momentum * batch statistic. In inference mode it
/// uses the running statistics. Tensors: `weight` (gamma), `bias` (beta), buffers
/// `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm2d: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter!
    public private(set) var runningMean: Buffer!
    public private(set) var runningVariance: Buffer!
    public private(set) var batchesTracked: Buffer!
    private var input: Tensor?
    private var forwardUsedBatchStatistics = true
    /// Of the last forward pass: whether it applied a ReLU (and its output, the ReLU's
    /// mask) and added a residual; its batch statistics when the fast kernels ran it.
    private var fusedReLU = false, addedResidual = false
    private var output: Tensor?
    private var batchMean: [Float]?, batchVariance: [Float]?

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        precondition(channels > 0, "BatchNorm2d: channels must be positive, got \(channels)")
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        super.init()
        weight = addParameter("weight", shape: [channels], role: .scale)
        bias = addParameter("bias", shape: [channels], role: .shift)
        runningMean = addBuffer("running_mean", shape: [channels], initialValue: 0)
        runningVariance = addBuffer("running_var", shape: [channels], initialValue: 1)
        batchesTracked = addBuffer("num_batches_tracked", shape: [], initialValue: 0, isInteger: true)
        relabel()
    }

    public override var description: String {
        "BatchNorm2d(\(channels)" + (epsilon != 1e-5 ? ", eps \(epsilon)" : "") + ")"
    }

    private func shape(of x: [Int]) -> FeatureMapShape {
        guard ShapeCheck.require(x.count == 4 && x[1] == channels, "\(description): expected input [N, \(channels), H, W], got \(x)") else {
            return FeatureMapShape(batch: 1, channels: channels, height: 2, width: 2)
        }
        return FeatureMapShape(batch: x[0], channels: x[1], height: x[2], width: x[3])
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] {
        let s = shape(of: inputShape)
        if isTraining && ShapeCheck.isProbing {
            _ = ShapeCheck.require(s.batch * s.spatial > 1, "\(description): training needs more than one value per channel, got input \(inputShape)")
        }
        return s.dimensions
    }

    public override func forward(_ x: Tensor) -> Tensor { forward(x, residual: nil, relu: false) }

    /// `relu(bn(x) + residual)`, the residual and the ReLU each optional: the tail of a
    /// ResNet block (`bn2`, `+ shortcut`, `relu`) or a `bn`, `relu` pair as ONE kernel on
    /// the fast kernels (two passes over x instead of seven; see BatchNorm+Fast.swift), and
    /// as the three kernels in turn otherwise. Its backward pass is ``backwardFused(_:)``,
    /// which also returns the residual's gradient.
    public func forward(_ x: Tensor, residual: Tensor?, relu: Bool) -> Tensor {
        let s = shape(of: x.shape)
        if let residual { checkShape(residual.shape, equals: x.shape, in: "\(description) residual") }
        input = x
        forwardUsedBatchStatistics = isTraining
        fusedReLU = relu
        addedResidual = residual != nil
        batchMean = nil
        batchVariance = nil
        let gamma = weight.value.data, beta = bias.value.data
        var y: [Float]
        if isTraining {
            let values = s.batch * s.spatial
            precondition(values > 1, "\(description): training needs more than one value per channel, got input \(x.shape)")
            let r: (output: [Float], mean: [Float], variance: [Float])
            if fastFusion {
                r = profiled(.batchNormForward) {
                    Fast.batchNormTraining(x.data, weight: gamma, bias: beta, shape: s, epsilon: epsilon,
                                           residual: residual?.data, relu: relu)
                }
                batchMean = r.mean
                batchVariance = r.variance
            } else {
                r = backend.batchNormTraining(x.data, weight: gamma, bias: beta, shape: s, epsilon: epsilon)
            }
            // Running statistics: PyTorch blends in the unbiased variance n/(n-1) * var.
            let unbias = Float(values) / Float(values - 1)
            var mean = runningMean.value, variance = runningVariance.value
            for c in 0..<channels {
                mean.data[c] = (1 - momentum) * mean.data[c] + momentum * r.mean[c]
                variance.data[c] = (1 - momentum) * variance.data[c] + momentum * r.variance[c] * unbias
            }
            runningMean.value = mean
            runningVariance.value = variance
            batchesTracked.value = Tensor(shape: [], data: [batchesTracked.value.data[0] + 1])
            y = r.output
            if fastFusion {
                output = relu ? Tensor(shape: x.shape, data: y) : nil
                return Tensor(shape: x.shape, data: y)
            }
        } else {
            let mean = runningMean.value.data, variance = runningVariance.value.data
            y = backend.batchNormInference(x.data, weight: gamma, bias: beta, runningMean: mean, runningVariance: variance, shape: s, epsilon: epsilon)
        }
        if let residual { y = backend.add(y, residual.data) }
        if relu { y = backend.relu(y) }
        output = relu ? Tensor(shape: x.shape, data: y) : nil
        return Tensor(shape: x.shape, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor { backwardFused(outputGradient).input }

    /// Drops the activations kept for `backward` (its input and output), for a caller that
    /// recomputes them before backward (the memory-efficient DenseBlock).
    func releaseActivations() { input = nil; output = nil }
    /// The activations kept for `backward` (for memory accounting).
    var keptActivations: [Tensor] { [input, output].compactMap { $0 } }

    /// The backward pass of ``forward(_:residual:relu:)``: dLoss/dx, and dLoss/dresidual
    /// when the forward pass added one (the output gradient, masked by the ReLU if any).
    /// Adds the parameters' gradients into their `gradient`.
    public func backwardFused(_ outputGradient: Tensor) -> (input: Tensor, residual: Tensor?) {
        let x = cached(input)
        let s = shape(of: x.shape)
        checkShape(outputGradient.shape, equals: x.shape, in: "\(description) backward")
        let gamma = weight.value.data
        let mask = fusedReLU ? cached(output, "output").data : nil
        if forwardUsedBatchStatistics && fastFusion, let mean = batchMean, let variance = batchVariance {
            let g = profiled(.batchNormBackward) {
                Fast.batchNormTrainingBackward(x.data, weight: gamma, mean: mean, variance: variance, output: mask,
                                               outputGradient: outputGradient.data, shape: s, epsilon: epsilon,
                                               residualGradient: addedResidual)
            }
            weight.accumulateGradient(g.weight)
            bias.accumulateGradient(g.bias)
            return (Tensor(shape: x.shape, data: g.input), g.residual.map { Tensor(shape: x.shape, data: $0) })
        }
        var dy = outputGradient.data
        if let mask { dy = backend.reluBackward(mask, outputGradient: dy) }   // y > 0 exactly where its input was
        let grads: (input: [Float], weight: [Float], bias: [Float])
        if forwardUsedBatchStatistics {
            grads = backend.batchNormTrainingBackward(x.data, weight: gamma, outputGradient: dy, shape: s, epsilon: epsilon)
        } else {
            let mean = runningMean.value.data, variance = runningVariance.value.data
            grads = backend.batchNormInferenceBackward(x.data, weight: gamma, runningMean: mean, runningVariance: variance, outputGradient: dy, shape: s, epsilon: epsilon)
        }
        weight.accumulateGradient(grads.weight)
        bias.accumulateGradient(grads.bias)
        return (Tensor(shape: x.shape, data: grads.input), addedResidual ? Tensor(shape: x.shape, data: dy) : nil)
    }

    /// The fused fast kernels apply (fast kernels, no lesson's own; or the profiled fast kernels).
    private var fastFusion: Bool { runsFastFusions }
}

/// `nn.LocalResponseNorm` (AlexNet): each activation divided by a power of the sum of
/// squares of its `size` neighbouring channels:
/// b_c = a_c / (k + alpha/size * sum_{c'} a_{c'}^2)^beta.
/// PyTorch divides alpha by `size`; the AlexNet paper does not (its alpha 1e-4 with
/// size 5 is alpha 5e-4 here).
public final class LocalResponseNorm: Layer {
    public let size: Int
    public let alpha: Float
    public let beta: Float
    public let k: Float
    private var input: Tensor?

    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        precondition(size > 0, "LocalResponseNorm: size must be positive, got \(size)")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    public override var description: String { "LocalResponseNorm(size \(size), alpha \(alpha), beta \(beta), k \(k))" }

    private func shape(of x: [Int]) -> FeatureMapShape {
        guard ShapeCheck.require(x.count == 4, "\(description): expected an NCHW input, got \(x)") else {
            return FeatureMapShape(batch: 1, channels: 1, height: 1, width: 1)
        }
        return FeatureMapShape(batch: x[0], channels: x[1], height: x[2], width: x[3])
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { shape(of: inputShape).dimensions }

    public override func forward(_ x: Tensor) -> Tensor {
        let s = shape(of: x.shape)
        input = x
        let y = backend.localResponseNorm(x.data, shape: s, size: size, alpha: alpha, beta: beta, k: k)
        return Tensor(shape: x.shape, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        let s = shape(of: x.shape)
        checkShape(outputGradient.shape, equals: x.shape, in: "\(description) backward")
        let dx = backend.localResponseNormBackward(x.data, outputGradient: outputGradient.data, shape: s, size: size, alpha: alpha, beta: beta, k: k)
        return Tensor(shape: x.shape, data: dx)
    }
}
