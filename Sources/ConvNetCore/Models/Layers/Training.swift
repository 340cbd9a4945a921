/// Losses on a model's logits, with the gradient that starts `model.backward`.
public enum Loss {
    /// Mean softmax cross-entropy of `logits` `[N, classes]` against class indices (PyTorch's
    /// `F.cross_entropy`), and dL/dlogits, on `backend`'s kernel (pass the model's
    /// `backend`, as the shared ``Trainer`` does, so a lesson's overlay decides here too).
    public static func crossEntropy(_ logits: Tensor, targets: [Int], using backend: any KernelBackend = FastKernels()) -> (loss: Float, gradient: Tensor) {
        precondition(logits.rank == 2 && logits.shape[0] == targets.count,
                     "crossEntropy: logits \(logits.shape) for \(targets.count) targets")
        let r = backend.softmaxCrossEntropy(logits: logits.data, targets: targets, classes: logits.shape[1])
        return (r.loss, Tensor(shape: logits.shape, data: r.logitsGradient))
    }
}

/// Stochastic gradient descent with momentum and weight decay, as `torch.optim.SGD`:
///
///     g = grad + weightDecay * p
///     v = momentum * v + g            (v = g on the first step)
///     p = p - learningRate * v
///
/// Usage, one training step:
///
///     let logits = model(x)
///     let (loss, dLogits) = Loss.crossEntropy(logits, targets: y)
///     model.zeroGradients()
///     _ = model.backward(dLogits)
///     optimizer.step()
public final class SGD {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    private var velocity: [[Float]?]

    public init(parameters: [Parameter], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.velocity = Array(repeating: nil, count: parameters.count)
    }

    /// Updates every parameter from its accumulated gradient.
    public func step() {
        for (i, p) in parameters.enumerated() {
            var g = p.gradient.data
            if weightDecay != 0 {
                let values = p.value.data
                for j in g.indices { g[j] += weightDecay * values[j] }
            }
            if momentum != 0 {
                if var v = velocity[i] {
                    velocity[i] = nil                    // v is now the only reference: updated in place
                    for j in v.indices { v[j] = momentum * v[j] + g[j] }
                    g = v
                }
                velocity[i] = g
            }
            let rate = learningRate
            p.update { values in for j in values.indices { values[j] -= rate * g[j] } }
        }
    }

    /// The momentum buffers, for checkpoints (nil before the first step).
    public var momentumBuffers: [[Float]?] {
        get { velocity }
        set {
            precondition(newValue.count == parameters.count, "SGD: \(newValue.count) momentum buffers for \(parameters.count) parameters")
            velocity = newValue
        }
    }
}
