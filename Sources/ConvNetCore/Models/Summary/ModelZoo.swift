/// A name that is not in the zoo, or an architecture description that cannot be built.
public struct ModelZooError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Every architecture of the course by name: `ModelZoo.build("resnet50")`,
/// `ModelZoo.summary("vgg16")`. The names include every key of
/// Fixtures/torchvision-counts.json (whose parameter counts and MACs the summaries
/// reproduce exactly) and a few more (plain and pre-activation CIFAR nets, the partial-C3
/// LeNet-5, Network-in-Network, GoogLeNet and Inception-v3 with their auxiliary heads).
public enum ModelZoo {
    /// One architecture: what it is, the input it was published for, and how to build it.
    public struct Entry {
        public var name: String
        /// One line: the network, its source, its configuration.
        public var summary: String
        /// The published input size, without the batch: `[3, 224, 224]`.
        public var inputShape: [Int]
        /// Builds the model (shapes only: initialise or load weights before running it).
        public var build: () -> Layer
    }

    public static let entries: [Entry] = {
        var e: [Entry] = []
        func add(_ name: String, _ summary: String, _ input: [Int], _ build: @escaping () -> Layer) {
            e.append(Entry(name: name, summary: summary, inputShape: input, build: build))
        }
        let imageNet = [3, 224, 224], cifar = [3, 32, 32]
        add("lenet5_full_c3", "LeNet-5 (LeCun et al. 1998), C3 fully connected to S2, tanh, average pooling; 32x32 grey", [1, 32, 32]) { LeNet5(c3: .full) }
        add("lenet5_partial_c3", "LeNet-5 with the paper's C3 connection table (60 of 96 map pairs); 32x32 grey", [1, 32, 32]) { LeNet5(c3: .paperTable) }
        add("alexnet_paper_one_tower", "AlexNet as in the 2012 paper on one GPU: 96-256-384-384-256, LRN, overlapping pools, dropout; 227x227", [3, 227, 227]) { AlexNet(.paper(towers: 1)) }
        add("alexnet_paper_two_towers", "AlexNet as in the 2012 paper on two GPUs: conv2, conv4, conv5 with groups 2; 227x227", [3, 227, 227]) { AlexNet(.paper(towers: 2)) }
        add("alexnet", "AlexNet as torchvision builds it: 64-192-384-256-256, no LRN, adaptive 6x6 pool", imageNet) { AlexNet(.torchvision) }
        for (config, depth) in [(VGG.Configuration.A, 11), (.B, 13), (.D, 16), (.E, 19)] {
            add("vgg\(depth)", "VGG-\(depth) (Simonyan and Zisserman 2014, configuration \(config.rawValue)): 3x3 convolutions and 2x2 max pools", imageNet) { VGG(config) }
            add("vgg\(depth)_bn", "VGG-\(depth) with batch norm after every convolution (torchvision)", imageNet) { VGG(config, batchNorm: true) }
        }
        add("nin_cifar10", "Network-in-Network (Lin et al. 2013), CIFAR-10: three mlpconv layers, global average pooling", cifar) { NetworkInNetwork() }
        add("googlenet", "GoogLeNet / Inception v1 (Szegedy et al. 2014), torchvision, without auxiliary classifiers", imageNet) { GoogLeNet() }
        add("googlenet_aux", "GoogLeNet with its two auxiliary classifiers (training only)", imageNet) { GoogLeNet(auxiliaryClassifiers: true) }
        add("inception_v3", "Inception-v3 (Szegedy et al. 2015), torchvision, without the auxiliary classifier; 299x299", [3, 299, 299]) { InceptionV3() }
        add("inception_v3_aux", "Inception-v3 with its auxiliary classifier (training only); 299x299", [3, 299, 299]) { InceptionV3(auxiliaryClassifier: true) }
        add("resnet18", "ResNet-18 (He et al. 2015), torchvision: basic blocks [2, 2, 2, 2]", imageNet) { ResNet.resnet18() }
        add("resnet34", "ResNet-34, torchvision: basic blocks [3, 4, 6, 3]", imageNet) { ResNet.resnet34() }
        add("resnet50", "ResNet-50, torchvision: bottleneck blocks [3, 4, 6, 3], stride on the 3x3", imageNet) { ResNet.resnet50() }
        add("resnet101", "ResNet-101, torchvision: bottleneck blocks [3, 4, 23, 3]", imageNet) { ResNet.resnet101() }
        add("resnet152", "ResNet-152, torchvision: bottleneck blocks [3, 8, 36, 3]", imageNet) { ResNet.resnet152() }
        add("resnext50_32x4d", "ResNeXt-50 32x4d (Xie et al. 2017): cardinality 32, grouped 3x3 convolutions", imageNet) { ResNet.resnext50_32x4d() }
        add("resnext101_32x8d", "ResNeXt-101 32x8d: cardinality 32, 8 channels per group", imageNet) { ResNet.resnext101_32x8d() }
        add("wide_resnet50_2", "Wide ResNet-50-2 (Zagoruyko and Komodakis 2016): bottlenecks twice as wide", imageNet) { ResNet.wideResnet50_2() }
        add("densenet121", "DenseNet-121 (Huang et al. 2017), torchvision: growth 32, blocks [6, 12, 24, 16]", imageNet) { DenseNet.densenet121() }
        add("densenet169", "DenseNet-169: growth 32, blocks [6, 12, 32, 32]", imageNet) { DenseNet.densenet169() }
        add("densenet201", "DenseNet-201: growth 32, blocks [6, 12, 48, 32]", imageNet) { DenseNet.densenet201() }
        add("densenet161", "DenseNet-161: growth 48, blocks [6, 12, 36, 24], 96 initial features", imageNet) { DenseNet.densenet161() }
        for depth in [8, 20, 32, 44, 56, 110, 1202] {
            let n = (depth - 2) / 6
            add("cifar_resnet\(depth)", "CIFAR ResNet-\(depth) (He et al. 2015, 4.2): 3 stages of \(n) residual blocks, 16-32-64 filters, projection shortcuts", cifar) {
                CifarResNet(depth: depth)
            }
        }
        for depth in [8, 20, 32, 44, 56, 110] {
            add("cifar_plain\(depth)", "CIFAR plain-\(depth): the ResNet-\(depth) stack without shortcuts (the degradation experiment)", cifar) {
                CifarResNet(depth: depth, residual: false)
            }
        }
        for depth in [20, 56, 110, 1202] {
            add("cifar_preact_resnet\(depth)", "CIFAR ResNet-\(depth) with pre-activation blocks (He et al. 2016, identity mappings)", cifar) {
                CifarResNet(depth: depth, preActivation: true)
            }
        }
        return e
    }()

    /// Every name the zoo knows, in the order of the course.
    public static var names: [String] { entries.map(\.name) }

    public static func entry(_ name: String) throws -> Entry {
        if let e = entries.first(where: { $0.name == name }) { return e }
        throw ModelZooError("unknown model \(name)" + NearestName.suggestion(for: name, among: names)
                            + " (`lesson summary --list` shows all)")
    }

    /// "resnet50: ResNet-50, torchvision: …; input 3x224x224".
    public static func describe(_ name: String) throws -> String {
        let e = try entry(name)
        return "\(e.name): \(e.summary); input \(e.inputShape.map(String.init).joined(separator: "x"))"
    }

    /// A fresh model of that name (weights not allocated yet).
    public static func build(_ name: String) throws -> Layer { try entry(name).build() }

    /// `[batch] + the published input size`.
    public static func inputShape(_ name: String, batch: Int = 1) throws -> [Int] { [batch] + (try entry(name).inputShape) }

    /// The layer table of the named model at its published input size, from shapes alone.
    public static func summary(_ name: String, batch: Int = 1) throws -> ModelSummary {
        let e = try entry(name)
        return ModelSummary(of: e.build(), inputShape: [batch] + e.inputShape, title: e.name)
    }

    // MARK: Fixture architectures

    /// Builds the `attrs.arch` of a fixture manifest (Fixtures/FIXTURES-FORMAT.md):
    /// families `torchvision.resnet`, `torchvision.densenet`, `torchvision.googlenet`
    /// and `cifar_resnet`. Throws for an unknown family, a missing field, a field of the
    /// wrong type or out of range, and a network of more than 2^32 parameters.
    public static func build(architecture arch: [String: Any]) throws -> Layer {
        let model = try buildUnchecked(architecture: arch)
        // Every tensor fits Int with the fields' bounds; their sum might not: count it checked.
        var total = 0
        for p in model.parameters {
            guard let count = p.shape.checkedProduct, case let (sum, false) = total.addingReportingOverflow(count),
                  sum <= 1 << 32 else {
                throw ModelZooError("architecture: more than \(1 << 32) parameters: \(arch)")
            }
            total = sum
        }
        return model
    }

    private static func buildUnchecked(architecture arch: [String: Any]) throws -> Layer {
        func value(_ key: String) throws -> Any {
            guard let v = arch[key] else { throw ModelZooError("architecture: missing \"\(key)\" in \(arch)") }
            return v
        }
        // Sizes come from files: each integer is bounded (depths and block counts more
        // tightly), so no constructor precondition, overflow or giant model is reachable.
        func checked(_ key: String, _ v: Any) throws -> Int {
            let limit = key == "depth" ? 3002 : key == "layers" || key == "block_config" ? 512 : key == "num_classes" ? 1 << 20 : 1 << 14
            guard let i = JSONValue.integer(v) else {
                throw ModelZooError("architecture: \"\(key)\" is not an integer: \(JSONValue.describe(v))")
            }
            guard abs(i) <= limit else { throw ModelZooError("architecture: \"\(key)\" = \(i) is out of range (at most \(limit))") }
            return i
        }
        func int(_ key: String, default d: Int? = nil) throws -> Int {
            if arch[key] == nil, let d { return d }
            return try checked(key, try value(key))
        }
        func ints(_ key: String) throws -> [Int] {
            let v = try value(key)
            guard let list = v as? [Any], list.count <= 16 else {
                throw ModelZooError("architecture: \"\(key)\" is not a list of at most 16 integers: \(JSONValue.describe(v))")
            }
            return try list.map { try checked(key, $0) }
        }
        func bool(_ key: String, default d: Bool) throws -> Bool {
            guard let v = arch[key] else { return d }
            if let b = JSONValue.boolean(v) { return b }
            throw ModelZooError("architecture: \"\(key)\" is not a boolean: \(JSONValue.describe(v))")
        }
        let family = try value("family") as? String ?? ""
        let classes = try int("num_classes", default: 1000)
        switch family {
        case "torchvision.resnet":
            let blockName = try value("block") as? String ?? ""
            guard let block = ResNet.Block(rawValue: blockName) else { throw ModelZooError("architecture: unknown ResNet block \(blockName)") }
            let layers = try ints("layers")
            guard layers.count == 4 else { throw ModelZooError("architecture: ResNet needs 4 stage depths, got \(layers)") }
            let groups = try int("groups", default: 1), width = try int("width_per_group", default: 64)
            guard layers.allSatisfy({ $0 > 0 }), groups > 0, width > 0, classes > 0 else {
                throw ModelZooError("architecture: ResNet sizes must be positive: \(arch)")
            }
            if block == .basic && (groups != 1 || width != 64) {
                throw ModelZooError("architecture: BasicBlock only supports groups 1 and width_per_group 64 (as torchvision)")
            }
            return ResNet(block: block, layers: layers, classes: classes, groups: groups, widthPerGroup: width)
        case "torchvision.densenet":
            let growth = try int("growth_rate", default: 32), blocks = try ints("block_config")
            let initial = try int("num_init_features", default: 64), bnSize = try int("bn_size", default: 4)
            guard growth > 0, !blocks.isEmpty, blocks.allSatisfy({ $0 > 0 }), initial > 0, bnSize > 0, classes > 0 else {
                throw ModelZooError("architecture: DenseNet sizes must be positive: \(arch)")
            }
            return DenseNet(growthRate: growth, blockConfig: blocks, initialFeatures: initial, bnSize: bnSize, classes: classes)
        case "torchvision.googlenet":
            if try bool("transform_input", default: false) {
                throw ModelZooError("architecture: GoogLeNet with transform_input is unsupported")
            }
            guard classes > 0 else { throw ModelZooError("architecture: num_classes must be positive") }
            return GoogLeNet(classes: classes, auxiliaryClassifiers: try bool("aux_logits", default: false))
        case "cifar_resnet":
            let widths = arch["widths"] == nil ? [16, 32, 64] : try ints("widths")
            let depth = try int("depth")
            guard depth >= 8 && (depth - 2) % 6 == 0 else { throw ModelZooError("architecture: CIFAR ResNet depth must be 6n+2 (n >= 1), got \(depth)") }
            guard widths.count == 3 && widths.allSatisfy({ $0 > 0 }) && classes > 0 else {
                throw ModelZooError("architecture: CIFAR ResNet needs 3 positive widths and classes: \(arch)")
            }
            let inputChannels = try int("in_channels", default: 3)
            guard inputChannels > 0 else { throw ModelZooError("architecture: in_channels must be positive: \(arch)") }
            return CifarResNet(depth: depth, preActivation: try bool("preact", default: false),
                               residual: try bool("residual", default: true), widths: widths, classes: classes,
                               inputChannels: inputChannels)
        default:
            throw ModelZooError("architecture: unsupported family \"\(family)\"")
        }
    }
}
