/// How `initialize(seed:scheme:)` fills a model's parameters. Batch norm always starts
/// as the identity (scale 1, shift 0), and biases of convolutions at 0.
public enum InitializationScheme: String, Sendable, CaseIterable {
    /// He et al. 2015, as torchvision's ResNet does it: convolution weights from
    /// N(0, 2 / fan_out) (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`), which
    /// keeps the variance of the gradients constant through ReLU layers; linear layers
    /// keep PyTorch's default, weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    case he
    /// Glorot and Bengio 2010: every convolution and linear weight from
    /// U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), biases 0 (for tanh and sigmoid
    /// networks such as LeNet-5).
    case xavier
}

extension Layer {
    /// Allocates and fills every parameter from `seed` (in `namedParameters()` order, so
    /// the same seed gives the same model), resets the buffers (running mean 0,
    /// variance 1) and reseeds the dropout layers. Returns the model, for chaining:
    /// `let net = ResNet(block: .basic, layers: [2, 2, 2, 2]).initialize(seed: 1)`.
    @discardableResult
    public func initialize(seed: UInt64, scheme: InitializationScheme = .he) -> Self {
        var g = SeededGenerator(seed: seed)
        for (_, p) in namedParameters() {
            p.value = Self.initialValues(for: p, scheme: scheme, using: &g)
            p.zeroGradient()
        }
        for (_, b) in namedBuffers() { b.reset() }
        var index: UInt64 = 0
        for (_, layer) in namedLayers() {
            if let dropout = layer as? Dropout {
                index += 1
                dropout.generator = SeededGenerator(seed: seed &+ 0x9E37_79B9 &* index)
            }
        }
        return self
    }

    static func initialValues(for p: Parameter, scheme: InitializationScheme, using g: inout SeededGenerator) -> Tensor {
        func uniform(_ bound: Float) -> Tensor { .randomUniform(p.shape, low: -bound, high: bound, using: &g) }
        switch (p.role, scheme) {
        case (.scale, _): return Tensor(shape: p.shape, repeating: 1)
        case (.shift, _), (.convolutionBias, _), (.linearBias, .xavier): return Tensor.zeros(p.shape)
        case let (.convolutionWeight(_, fanOut), .he):
            return .randomNormal(p.shape, std: (2 / Float(fanOut)).squareRoot(), using: &g)
        case let (.linearWeight(fanIn, _), .he), let (.linearBias(fanIn), .he):
            return uniform(1 / Float(fanIn).squareRoot())
        case let (.convolutionWeight(fanIn, fanOut), .xavier), let (.linearWeight(fanIn, fanOut), .xavier):
            return uniform((6 / Float(fanIn + fanOut)).squareRoot())
        }
    }
}
