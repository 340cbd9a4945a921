import ConvNetCore
import Foundation
import LeNetLesson

// Freezing: the layers of a pretrained network up to a cut are kept as they are (run
// forward, never trained), and only the layers above the cut learn the new task.
//
//     input -> [ c1 tanh s2 c3 tanh s4 c5 tanh | f6 tanh ] -> new output (softmax)
//              \________ frozen: no gradient, no update ___/   trained
//
// Two ways to train above a frozen part, with the same numbers:
//   - recompute: the frozen layers sit inside the model (`Frozen`, first child of a
//     Sequential); every epoch runs them again on every training image;
//   - cache: run them ONCE over the training images (`Frozen.features`), write the
//     activations at the cut to disk (`FeatureCache`), and train the layers above on
//     those: the course's "precompute the frozen features to disk once and train a
//     shallow model on them". What the cache costs is disk, not time.

/// Where the frozen part of LeNet-5 ends: the cut is after this layer (its activation
/// function, and for C5 the flattening, included).
public enum TransferCut: String, CaseIterable, Sendable {
    case c1, s2, c3, s4, c5, f6

    /// The name of the last child of `LeNet5` that is frozen.
    public var lastFrozenChild: String {
        switch self {
        case .c1: "tanh1"
        case .s2: "s2"
        case .c3: "tanh3"
        case .s4: "s4"
        case .c5: "flatten"
        case .f6: "tanh6"
        }
    }

    /// The layers frozen, as the paper's table names them ("c1-c3").
    public var frozenLayers: String { self == .c1 ? "c1" : "c1-" + rawValue }

    /// The shape of one image's features at the cut (LeNet-5 on 32x32 digits).
    public var featureShape: [Int] {
        switch self {
        case .c1: [6, 28, 28]
        case .s2: [6, 14, 14]
        case .c3: [16, 10, 10]
        case .s4: [16, 5, 5]
        case .c5: [120]
        case .f6: [84]
        }
    }
}

/// Layers that run forward but are never trained: they are held, not registered as
/// children, so a model's `parameters` (what SGD updates) and its state dict leave them
/// out, and `backward` stops here: no gradient flows below the cut (it returns zeros,
/// computing nothing, as PyTorch does for a part with `requires_grad = False`).
public final class Frozen: Layer {
    /// The frozen layers, in order.
    public let layers: [Layer]
    private var inputShape: [Int]?

    public init(_ layers: [Layer]) {
        self.layers = layers
        super.init()
    }

    public override var description: String { "Frozen(\(layers.count) layers)" }

    public override func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        return layers.reduce(x) { $1.forward($0) }
    }

    /// No gradient below the cut: zeros for the input, nothing accumulated anywhere.
    public override func backward(_ outputGradient: Tensor) -> Tensor {
        Tensor.zeros(cached(inputShape))
    }

    public override func outputShape(for inputShape: [Int]) -> [Int] {
        layers.reduce(inputShape) { $1.outputShape(for: $0) }
    }

    /// The features at the cut for every image of `images` (`[N, 1, 32, 32]`), computed
    /// in chunks of `batch` images, in order. The same images give the same features bit
    /// for bit (the chunks are always the same), which is what makes a cache exact.
    public func features(of images: Tensor, batch: Int = 250) -> Tensor {
        let n = images.shape[0]
        var data: [Float] = []
        var shape: [Int] = []
        var start = 0
        while start < n {
            let y = forward(gatherRows(images, Array(start..<min(start + batch, n))))
            if shape.isEmpty { shape = y.shape }
            data.append(contentsOf: y.data)
            start += batch
        }
        shape[0] = n
        return Tensor(shape: shape, data: data)
    }
}

/// LeNet-5 split at a cut into its frozen part and the layers above it.
public enum TransferSplit {
    /// `model` as a Sequential whose first child is `Frozen` (every layer through `cut`),
    /// followed by the layers above it under their own names (c5, f6, output, ...): the
    /// same layer objects, so training the result trains `model`'s upper layers. Nil cut:
    /// nothing frozen.
    public static func frozen(_ model: LeNet5, through cut: TransferCut?) -> Sequential {
        let (below, above) = children(of: model, cut: cut)
        var named: [(String, Layer)] = []
        if !below.isEmpty { named.append(("frozen", Frozen(below.map(\.layer)))) }
        let result = Sequential(named: named + above.map { ($0.name, $0.layer) })
        result.customKernels = model.customKernels
        return result
    }

    /// The frozen part alone (for computing features once).
    public static func frozenPart(_ model: LeNet5, through cut: TransferCut) -> Frozen {
        Frozen(children(of: model, cut: cut).below.map(\.layer))
    }

    /// The layers above the cut as a model of their own that reads cached features
    /// (`[N, C, H, W]`, or `[N, D, 1, 1]` for a vector): what trains on a `FeatureCache`.
    /// A vector cut starts with a flattening, so `[N, D, 1, 1]` becomes `[N, D]`.
    public static func head(_ model: LeNet5, above cut: TransferCut) -> Sequential {
        let above = children(of: model, cut: cut).above
        var named: [(String, Layer)] = above.map { ($0.name, $0.layer) }
        if cut.featureShape.count == 1 { named.insert(("unflatten", Flatten()), at: 0) }
        let result = Sequential(named: named)
        result.customKernels = model.customKernels
        return result
    }

    static func children(of model: LeNet5, cut: TransferCut?) -> (below: [(name: String, layer: Layer)], above: [(name: String, layer: Layer)]) {
        let all = model.children
        guard let cut else { return ([], all) }
        guard let last = all.firstIndex(where: { $0.name == cut.lastFrozenChild }) else {
            preconditionFailure("LeNet-5 has no layer named \(cut.lastFrozenChild)")
        }
        return (Array(all[...last]), Array(all[(last + 1)...]))
    }
}

/// Frozen features on disk: a safetensors file with `features` (F32, `[N, ...]`, one row
/// per image, `[N, D, 1, 1]` for vectors) and `labels` (I64, `[N]`), written atomically.
public enum FeatureCache {
    /// Writes the file; returns its size in bytes.
    @discardableResult
    public static func write(_ data: LabeledImages, to url: URL, metadata: [String: String] = [:]) throws -> Int {
        let file = SafetensorsFile(tensors: ["features": data.images],
                                   integerTensors: ["labels": ([data.count], data.labels.map(Int64.init))],
                                   metadata: metadata)
        try Safetensors.write(file, to: url)
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Reads a cache back; a file that is not one is a one-line error naming it.
    public static func read(_ url: URL) throws -> LabeledImages {
        let file = try Safetensors.read(url)
        guard let features = file.tensors["features"], features.rank == 4 else {
            throw LessonError("\(url.path) is not a feature cache: no 4-D 'features' tensor")
        }
        guard let labels = file.integerTensors["labels"], labels.values.count == features.shape[0] else {
            throw LessonError("\(url.path) is not a feature cache: no 'labels' for its \(features.shape[0]) rows")
        }
        return LabeledImages(images: features, labels: labels.values.map { Int($0) })
    }

    /// `features` as the cache stores them: vectors `[N, D]` as `[N, D, 1, 1]`.
    public static func rows(_ features: Tensor) -> Tensor {
        features.rank == 2 ? features.reshaped([features.shape[0], features.shape[1], 1, 1]) : features
    }
}
