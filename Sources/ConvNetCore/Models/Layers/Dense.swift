/// `nn.Linear`: y = x W^T + b on `[N, in]` inputs. Weight `[out, in]`, bias `[out]`.
public final class Linear: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var input: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: sizes must be positive, got \(inFeatures) -> \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        super.init()
        weight = addParameter("weight", shape: [outFeatures, inFeatures], role: .linearWeight(fanIn: inFeatures, fanOut: outFeatures))
        if bias { self.bias = addParameter("bias", shape: [outFeatures], role: .linearBias(fanIn: inFeatures)) }
        relabel()
    }

    public override var description: String { "Linear(\(inFeatures), \(outFeatures)" + (bias == nil ? ", no bias)" : ")") }

    private func batch(of shape: [Int]) -> Int {
        guard ShapeCheck.require(shape.count == 2 && shape[1] == inFeatures,
                                 "\(description): expected input [N, \(inFeatures)], got \(shape)") else { return 1 }
        return shape[0]
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] { [batch(of: inputShape), outFeatures] }
    public override func macs(for inputShape: [Int]) -> Int { batch(of: inputShape) * inFeatures * outFeatures }

    public override func forward(_ x: Tensor) -> Tensor {
        let n = batch(of: x.shape)
        input = x
        let w = weight.value.data, b = bias?.value.data
        let y = backend.linear(x.data, weight: w, bias: b, batch: n, inFeatures: inFeatures, outFeatures: outFeatures)
        return Tensor(shape: [n, outFeatures], data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let x = cached(input)
        let n = x.shape[0]
        checkShape(outputGradient.shape, equals: [n, outFeatures], in: "\(description) backward")
        let w = weight.value.data
        let grads = backend.linearBackward(x.data, weight: w, outputGradient: outputGradient.data, batch: n, inFeatures: inFeatures, outFeatures: outFeatures)
        weight.accumulateGradient(grads.weight)
        bias?.accumulateGradient(grads.bias)
        return Tensor(shape: x.shape, data: grads.input)
    }
}

/// `torch.flatten(x, 1)`: `[N, C, H, W]` to `[N, C*H*W]` (the same elements, in order).
public final class Flatten: Layer {
    private var inputShape: [Int]?

    public override init() {}
    public override var description: String { "Flatten" }

    public override func outputShape(for inputShape: [Int]) -> [Int] {
        guard ShapeCheck.require(inputShape.count >= 2, "\(description): expected a batch of at least rank 2, got \(inputShape)") else {
            return [1, 1]
        }
        return [inputShape[0], inputShape.dropFirst().reduce(1, *)]
    }

    public override func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        return x.reshaped(outputShape(for: x.shape))
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped(cached(inputShape, "input shape"))
    }
}

/// `nn.Dropout`: in training, zero each activation with probability `probability` and
/// scale the survivors by 1/(1 - p) (so inference needs no rescaling); in inference,
/// the identity. The masks come from the layer's own seeded generator.
public final class Dropout: Layer {
    public let probability: Float
    /// The generator of the keep-masks (reseeded by `initialize(seed:)`).
    public var generator: SeededGenerator
    private var keepMask: [Bool]?

    public init(probability: Float = 0.5, seed: UInt64 = 0) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1), got \(probability)")
        self.probability = probability
        self.generator = SeededGenerator(seed: seed)
    }

    public override var description: String { "Dropout(p \(probability))" }
    public override func outputShape(for inputShape: [Int]) -> [Int] { inputShape }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining && probability > 0 else { keepMask = nil; return x }
        let mask = DropoutMask.sample(count: x.count, probability: Double(probability), using: &generator)
        keepMask = mask
        let y = backend.dropout(x.data, keepMask: mask, probability: probability)
        return Tensor(shape: x.shape, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        guard let mask = keepMask else { return outputGradient }
        checkCount(outputGradient.count, equals: mask.count, "output gradient", in: description)
        let dx = backend.dropoutBackward(outputGradient: outputGradient.data, keepMask: mask, probability: probability)
        return Tensor(shape: outputGradient.shape, data: dx)
    }
}
