// Highway networks (Srivastava, Greff and Schmidhuber 2015, "Training very deep networks"):
// a layer that learns, unit by unit, how much to transform its input and how much to carry
// it through unchanged,
//
//     y = H(x) * T(x) + x * (1 - T(x)),    T(x) = sigmoid(W_T x + b_T)
//
// with the gate's bias b_T initialised negative (the paper: "-1, -3 etc."), so each layer
// starts close to the identity ("biased towards carry behavior"). The paper's optimisation
// experiment (its section 3.1, Figure 1) trains thin fully connected nets on MNIST: a first
// plain layer, then 9, 19, 49 or 99 plain or highway layers, then a softmax layer; highway
// layers of 50 units against plain layers of 71 (about 5,000 parameters per layer each).
// `ThinNet` builds those nets, and a residual twin, y = x + W_2 ReLU(W_1 x + b_1) + b_2, for
// comparison.

/// One fully connected highway layer on `[N, features]`: the transform H = ReLU(W_H x + b_H)
/// (`transform`) and the transform gate's pre-activation W_T x + b_T (`gate`), combined by
/// the highway kernel pair (Kernels/Highway/: `Naive.highway`, `Fast.highway`).
public final class HighwayLayer: Layer {
    public let features: Int
    public let transform: Linear
    public let relu = ReLU()
    public let gate: Linear
    private var cache: (x: Tensor, h: Tensor, g: Tensor)?

    public init(_ features: Int) {
        self.features = features
        transform = Linear(features, features)
        gate = Linear(features, features)
        super.init()
        register("transform", transform)
        register("relu", relu)
        register("gate", gate)
    }

    public override var description: String { "HighwayLayer(\(features))" }

    /// The transform gate T(x) = sigmoid(W_T x + b_T) of the last forward pass, `[N, features]`
    /// (for pictures: how much each unit transformed).
    public var lastGate: [Float]? { cache.map { Naive.sigmoid($0.g.data) } }

    public override func forward(_ x: Tensor) -> Tensor {
        let h = relu(transform(x))
        let g = gate(x)
        cache = (x, h, g)
        let y = kernels == .naive ? Naive.highway(x.data, transform: h.data, gate: g.data)
                                  : Fast.highway(x.data, transform: h.data, gate: g.data)
        return Tensor(shape: x.shape, data: y)
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        let (x, h, g) = cached(cache)
        checkShape(outputGradient.shape, equals: x.shape, in: "\(description) backward")
        let d = kernels == .naive ? Naive.highwayBackward(x.data, transform: h.data, gate: g.data, outputGradient: outputGradient.data)
                                  : Fast.highwayBackward(x.data, transform: h.data, gate: g.data, outputGradient: outputGradient.data)
        var dx = Tensor(shape: x.shape, data: d.input)                                  // the carry path
        add(into: &dx, transform.backward(relu.backward(Tensor(shape: x.shape, data: d.transform))))
        add(into: &dx, gate.backward(Tensor(shape: x.shape, data: d.gate)))             // x fed all three
        return dx
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        let out = trace(relu, trace(transform, input, &t), &t)
        _ = trace(gate, input, &t)
        return out
    }
}

/// y = x + W_2 ReLU(W_1 x + b_1) + b_2 on `[N, features]`: a fully connected residual layer
/// with no normalisation, the residual counterpart of ``HighwayLayer`` (two matrices, as
/// the highway layer's W_H and W_T). ``ThinNet/initialize(seed:gateBias:)`` starts W_2 and
/// b_2 at zero, so the layer starts as the identity, as a highway layer starts near carrying
/// (Goyal et al. 2017 and Fixup start residual branches at zero the same way).
public final class ResidualDenseLayer: Layer {
    public let features: Int
    public let linear1: Linear
    public let relu = ReLU()
    public let linear2: Linear

    public init(_ features: Int) {
        self.features = features
        linear1 = Linear(features, features)
        linear2 = Linear(features, features)
        super.init()
        register("linear1", linear1)
        register("relu", relu)
        register("linear2", linear2)
    }

    public override var description: String { "ResidualDenseLayer(\(features))" }

    public override func forward(_ x: Tensor) -> Tensor { add(x, linear2(relu(linear1(x)))) }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        var dx = linear1.backward(relu.backward(linear2.backward(outputGradient)))
        add(into: &dx, outputGradient)                                                   // the identity path
        return dx
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        trace(linear2, trace(relu, trace(linear1, input, &t), &t), &t)
    }
}

/// The thin fully connected nets of Srivastava et al.'s optimisation experiment.
public final class ThinNet: Sequential {
    public enum Kind: String, Sendable, CaseIterable {
        /// Linear + ReLU layers (the paper: 71 units).
        case plain
        /// Highway layers (the paper: 50 units).
        case highway
        /// y = x + W_2 ReLU(W_1 x + b_1) + b_2 layers (not in the paper; 50 units: two matrices
        /// per layer, as a highway layer).
        case residual

        /// The width that gives about 5,000 parameters per layer, as the paper sized them.
        public var paperWidth: Int { self == .plain ? 71 : 50 }
    }

    public let kind: Kind
    public let depth: Int
    public let width: Int

    /// `depth` layers of `width` units: flatten, a first plain layer (`input` -> `width`,
    /// Linear + ReLU), `depth - 1` layers of `kind`, and the softmax layer's logits (`fc`).
    public init(kind: Kind, depth: Int, width: Int? = nil, inputFeatures: Int = 784, classes: Int = 10) {
        precondition(depth >= 2, "ThinNet: depth must be at least 2, got \(depth)")
        self.kind = kind
        self.depth = depth
        let width = width ?? kind.paperWidth
        self.width = width
        var layers: [(String, Layer)] = [("flatten", Flatten()), ("first", Sequential(Linear(inputFeatures, width), ReLU()))]
        for l in 1..<depth {
            let layer: Layer
            switch kind {
            case .plain: layer = Sequential(Linear(width, width), ReLU())
            case .highway: layer = HighwayLayer(width)
            case .residual: layer = ResidualDenseLayer(width)
            }
            layers.append(("layer\(l)", layer))
        }
        layers.append(("fc", Linear(width, classes)))
        super.init(named: layers)
    }

    public override var description: String { "ThinNet(\(kind.rawValue), depth \(depth), width \(width))" }

    /// The highway layers, in order (empty unless `kind == .highway`).
    public var highwayLayers: [HighwayLayer] { layers.compactMap { $0 as? HighwayLayer } }

    /// The paper's "normalized initialization" for ReLU layers (He et al. 2015): every
    /// weight from N(0, 2 / fan_in), every bias 0, then every transform gate's bias set to
    /// `gateBias` (negative: the layer starts near the identity), and every residual layer's
    /// W_2 set to 0 (the layer starts as the identity). Returns the net.
    @discardableResult
    public func initialize(seed: UInt64, gateBias: Float) -> ThinNet {
        var g = SeededGenerator(seed: seed)
        for (_, p) in namedParameters() {
            switch p.role {
            case let .linearWeight(fanIn, _): p.value = .randomNormal(p.shape, std: (2 / Float(fanIn)).squareRoot(), using: &g)
            default: p.value = .zeros(p.shape)
            }
            p.zeroGradient()
        }
        for layer in highwayLayers {
            layer.gate.bias!.value = Tensor(shape: [layer.features], repeating: gateBias)
        }
        for case let layer as ResidualDenseLayer in layers {                        // each branch starts at zero
            layer.linear2.weight.value = .zeros(layer.linear2.weight.shape)
        }
        return self
    }
}
