/// An elementwise nonlinearity: the shape passes through unchanged, the input is cached
/// for the derivative.
public class ElementwiseActivation: Layer {
    private var input: Tensor?

    public override func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    /// y = f(x) elementwise.
    open func apply(_ x: [Float]) -> [Float] { preconditionFailure("\(description): apply is not implemented") }
    /// dL/dx = f'(x) * dL/dy elementwise.
    open func derivative(_ x: [Float], _ dy: [Float]) -> [Float] { preconditionFailure("\(description): derivative is not implemented") }

    public override func forward(_ x: Tensor) -> Tensor {
        input = x
        return Tensor(shape: x.shape, data: apply(x.data))
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        checkShape(outputGradient.shape, equals: x.shape, in: "\(description) backward")
        return Tensor(shape: x.shape, data: derivative(x.data, outputGradient.data))
    }
}

/// max(0, x): AlexNet's choice, which trains several times faster than tanh.
public final class ReLU: ElementwiseActivation {
    public override init() {}
    public override var description: String { "ReLU" }
    public override func apply(_ x: [Float]) -> [Float] { backend.relu(x) }

    public override var runsBlocked: Bool { foldsForInference && CPUFeatures.hasAVX512F }

    /// ReLU on every stored float: the zero border and zero lanes stay zero.
    public override func inferBlocked(_ x: BlockedActivations) -> BlockedActivations {
        let y = BlockedActivations(batch: x.batch, channels: x.channels, height: x.height, width: x.width, border: x.border)
        let count = x.batch * x.imageFloats
        for i in 0..<count { y.storage[i] = max(x.storage[i], 0) }
        return y
    }
    public override func derivative(_ x: [Float], _ dy: [Float]) -> [Float] {
        backend.reluBackward(x, outputGradient: dy)
    }
}

/// tanh(x): LeNet-5's squashing function.
public final class Tanh: ElementwiseActivation {
    public override init() {}
    public override var description: String { "Tanh" }
    public override func apply(_ x: [Float]) -> [Float] { backend.tanh(x) }
    public override func derivative(_ x: [Float], _ dy: [Float]) -> [Float] {
        backend.tanhBackward(x, outputGradient: dy)
    }
}

/// 1 / (1 + e^-x).
public final class Sigmoid: ElementwiseActivation {
    public override init() {}
    public override var description: String { "Sigmoid" }
    public override func apply(_ x: [Float]) -> [Float] { backend.sigmoid(x) }
    public override func derivative(_ x: [Float], _ dy: [Float]) -> [Float] {
        backend.sigmoidBackward(x, outputGradient: dy)
    }
}
