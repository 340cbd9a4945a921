import Foundation

/// The cases `lesson bench` times, read from `cases.json` (the same file, and the same
/// names, that `peers.py` times with OpenBLAS, ONNX Runtime and PyTorch).
public struct BenchCases {
    public struct GEMM: Sendable { public var name: String; public var m, n, k: Int }
    public struct Conv: Sendable {
        public var name: String
        public var channels, height, width, outChannels, kernel, stride, padding, groups: Int
        public func geometry(batch: Int) -> Conv2DGeometry {
            Conv2DGeometry(input: FeatureMapShape(batch: batch, channels: channels, height: height, width: width),
                           outChannels: outChannels, kernel: kernel, stride: stride, padding: padding, groups: groups)
        }
    }
    public struct LRN: Sendable { public var name: String; public var channels, height, width, size: Int; public var alpha, beta, k: Float }
    public struct MaxPool: Sendable { public var name: String; public var channels, height, width, kernel, stride, padding: Int }
    public struct Network: Sendable { public var name: String; public var channels, height, width: Int; public var mode: String }
    /// One SGD step of a `cifar_resnet` (depth 6n+2, widths, pre-activation or not, with
    /// shortcuts or the plain net), on `channels` input channels.
    public struct Training: Sendable {
        public var name: String
        public var depth: Int, widths: [Int], preactivation: Bool, residual: Bool, classes: Int
        public var channels, height, width, batch: Int

        /// The architecture as ``ModelZoo/build(architecture:)`` reads it, its first
        /// convolution taking `channels` inputs (the case's `in[0]`).
        public var architecture: [String: Any] {
            ["family": "cifar_resnet", "depth": depth, "widths": widths, "preact": preactivation,
             "residual": residual, "num_classes": classes, "in_channels": channels]
        }
    }

    public var threads: [Int]
    public var batches: [Int]
    public var gemm: [GEMM]
    public var conv: [Conv]
    public var lrn: [LRN]
    public var maxPool: [MaxPool]
    public var networks: [Network]
    public var training: [Training]

    /// Every case name, in file order.
    public var names: [String] {
        gemm.map(\.name) + conv.map(\.name) + lrn.map(\.name) + maxPool.map(\.name) + networks.map(\.name) + training.map(\.name)
    }

    /// The most threads and the largest batch a cases file or a flag may ask for.
    public static let maximumThreads = 256
    public static let maximumBatch = 4096

    /// Reads and checks `cases.json`; a malformed file throws a `FileFormatError` naming it,
    /// the case and the field: every field's type and range, every case's sizes (that the
    /// kernel fits the input, that a network takes the input, that no tensor exceeds
    /// ``InputLimits``) at the file's batches.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let data = try FileIO.contents(of: url)
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FileFormatError(path: path, reason: "not a JSON object")
        }
        try Self.checkFields(root, path: path)
        func list(_ key: String) -> [[String: Any]] { root[key] as? [[String: Any]] ?? [] }
        func int(_ o: [String: Any], _ key: String) throws -> Int {
            guard let n = o[key] as? NSNumber else { throw FileFormatError(path: path, reason: "case \(o["name"] ?? "?") has no integer \"\(key)\"") }
            return n.intValue
        }
        func float(_ o: [String: Any], _ key: String) throws -> Float {
            guard let n = o[key] as? NSNumber else { throw FileFormatError(path: path, reason: "case \(o["name"] ?? "?") has no number \"\(key)\"") }
            return n.floatValue
        }
        func name(_ o: [String: Any]) throws -> String {
            guard let s = o["name"] as? String else { throw FileFormatError(path: path, reason: "a case has no \"name\"") }
            return s
        }
        func input(_ o: [String: Any]) throws -> (Int, Int, Int) {
            guard let dims = o["in"] as? [NSNumber], dims.count == 3 else {
                throw FileFormatError(path: path, reason: "case \(o["name"] ?? "?") needs \"in\": [C, H, W]")
            }
            return (dims[0].intValue, dims[1].intValue, dims[2].intValue)
        }
        threads = (root["threads"] as? [NSNumber])?.map(\.intValue) ?? [1, 2]
        batches = (root["batches"] as? [NSNumber])?.map(\.intValue) ?? [1, 8]
        gemm = try list("gemm").map { GEMM(name: try name($0), m: try int($0, "m"), n: try int($0, "n"), k: try int($0, "k")) }
        conv = try list("conv").map {
            let (c, h, w) = try input($0)
            return Conv(name: try name($0), channels: c, height: h, width: w, outChannels: try int($0, "out_channels"),
                        kernel: try int($0, "kernel"), stride: try int($0, "stride"), padding: try int($0, "padding"),
                        groups: ($0["groups"] as? NSNumber)?.intValue ?? 1)
        }
        lrn = try list("lrn").map {
            let (c, h, w) = try input($0)
            return LRN(name: try name($0), channels: c, height: h, width: w, size: try int($0, "size"),
                       alpha: try float($0, "alpha"), beta: try float($0, "beta"), k: try float($0, "k"))
        }
        maxPool = try list("max_pool").map {
            let (c, h, w) = try input($0)
            return MaxPool(name: try name($0), channels: c, height: h, width: w, kernel: try int($0, "kernel"),
                           stride: try int($0, "stride"), padding: try int($0, "padding"))
        }
        networks = try list("networks").map {
            let (c, h, w) = try input($0)
            return Network(name: try name($0), channels: c, height: h, width: w, mode: $0["mode"] as? String ?? "inference")
        }
        training = try list("training").map {
            let (c, h, w) = try input($0)
            let arch = $0["arch"] as? [String: Any] ?? [:]
            guard arch["family"] as? String == "cifar_resnet" else {
                throw FileFormatError(path: path, reason: "training case \($0["name"] ?? "?"): only arch family cifar_resnet is known")
            }
            return Training(name: try name($0), depth: try int(arch, "depth"),
                            widths: (arch["widths"] as? [NSNumber])?.map(\.intValue) ?? [16, 32, 64],
                            preactivation: arch["preact"] as? Bool ?? false,
                            residual: arch["residual"] as? Bool ?? true,
                            classes: (arch["num_classes"] as? NSNumber)?.intValue ?? 10,
                            channels: c, height: h, width: w, batch: try int($0, "batch"))
        }
        for c in conv {
            if let problem = c.geometry(batch: 1).problem { throw FileFormatError(path: path, reason: "case \(c.name): \(problem)") }
        }
        self.path = path
        try check(batches: batches)
        // A training case's network, as its arch says, built on its input channels and
        // tried on its input in training mode (shapes alone).
        for (c, raw) in zip(training, list("training")) {
            var arch = raw["arch"] as? [String: Any] ?? [:]
            arch["in_channels"] = c.channels
            let model: Layer
            do { model = try ModelZoo.build(architecture: arch) } catch { throw FileFormatError(path: path, reason: "case \(c.name): \(error)") }
            model.train()
            if let problem = InputLimits.networkProblem(model, input: [c.batch, c.channels, c.height, c.width]) {
                throw FileFormatError(path: path, reason: "case \(c.name): \(problem)")
            }
        }
    }

    /// The file the cases were read from (for messages).
    public private(set) var path = ""

    /// Checks every case's sizes at each of `batches` (the file's or `--batches`): what the
    /// kernels would allocate, and that each network takes its input (shapes alone, so no
    /// layer traps). Throws a `FileFormatError` naming the case.
    public func check(batches: [Int]) throws {
        func fail(_ name: String, _ reason: String) -> FileFormatError { FileFormatError(path: path, reason: "case \(name): \(reason)") }
        func limit(_ name: String, _ label: String, _ shape: [Int]) throws {
            if let problem = InputLimits.shapeProblem(label, shape) { throw fail(name, problem) }
        }
        for c in gemm {
            try limit(c.name, "A", [c.m, c.k]); try limit(c.name, "B", [c.k, c.n]); try limit(c.name, "C", [c.m, c.n])
        }
        for c in maxPool {
            let g = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: c.channels, height: c.height, width: c.width),
                                   kernel: c.kernel, stride: c.stride, padding: c.padding)
            if let problem = g.problem { throw fail(c.name, problem) }
        }
        for batch in batches {
            for c in conv {
                let g = c.geometry(batch: batch)
                try limit(c.name, "x", g.inputShape.dimensions); try limit(c.name, "y", g.outputShape.dimensions)
                try limit(c.name, "weight", g.weightShape)
            }
            for c in lrn { try limit(c.name, "x", [batch, c.channels, c.height, c.width]) }
            for c in maxPool { try limit(c.name, "x", [batch, c.channels, c.height, c.width]) }
            for c in networks {
                let model: Layer
                do { model = try ModelZoo.build(c.name) } catch { throw fail(c.name, "\(error)") }
                model.eval()
                try probe(c.name, model, [batch, c.channels, c.height, c.width])
            }
        }
        func probe(_ name: String, _ model: Layer, _ shape: [Int]) throws {
            if let problem = InputLimits.networkProblem(model, input: shape) { throw fail(name, problem) }
        }
    }

    /// Every field's type and range, before anything is read: a message names the case
    /// and the field (sizes positive and bounded, names unique, lists of objects).
    static func checkFields(_ root: [String: Any], path: String) throws {
        func fail(_ reason: String) -> FileFormatError { FileFormatError(path: path, reason: reason) }
        func integers(_ key: String, in range: ClosedRange<Int>) throws {
            guard let value = root[key] else { return }
            guard let list = JSONValue.integers(value), !list.isEmpty, list.allSatisfy(range.contains) else {
                throw fail("\"\(key)\" should be a list of integers in \(range.lowerBound)...\(range.upperBound), got \(JSONValue.describe(value))")
            }
        }
        try integers("threads", in: 1...maximumThreads)
        try integers("batches", in: 1...maximumBatch)
        let size = 1...(1 << 16)
        let kinds: [(key: String, integers: [String: ClosedRange<Int>], numbers: [String], input: Bool)] = [
            ("gemm", ["m": size, "n": size, "k": size], [], false),
            ("conv", ["out_channels": size, "kernel": 1...1024, "stride": 1...1024, "padding": 0...1024, "groups": size], [], true),
            ("lrn", ["size": 1...1024], ["alpha", "beta", "k"], true),
            ("max_pool", ["kernel": 1...1024, "stride": 1...1024, "padding": 0...1024], [], true),
            ("networks", [:], [], true),
            ("training", ["batch": 1...maximumBatch], [], true),
        ]
        var names = Set<String>()
        for kind in kinds {
            guard let value = root[kind.key] else { continue }
            guard let cases = value as? [Any] else { throw fail("\"\(kind.key)\" should be a list of cases, got \(JSONValue.describe(value))") }
            for (index, raw) in cases.enumerated() {
                guard let o = raw as? [String: Any] else { throw fail("\(kind.key) case \(index) is not a JSON object") }
                guard let name = o["name"] as? String, !name.isEmpty else {
                    throw fail("\(kind.key) case \(index) has no \"name\" string (got \(JSONValue.describe(o["name"])))")
                }
                guard names.insert(name).inserted else { throw fail("two cases are named '\(name)'") }
                func field(_ key: String, _ expected: String) -> FileFormatError {
                    fail("case \(name): \"\(key)\" should be \(expected), got \(JSONValue.describe(o[key]))")
                }
                for (key, range) in kind.integers.sorted(by: { $0.key < $1.key }) where o[key] != nil || key != "groups" {
                    guard let i = JSONValue.integer(o[key]), range.contains(i) else {
                        throw field(key, "an integer in \(range.lowerBound)...\(range.upperBound)")
                    }
                }
                for key in kind.numbers where JSONValue.number(o[key]) == nil { throw field(key, "a finite number") }
                if kind.input {
                    guard let dims = JSONValue.integers(o["in"]), dims.count == 3, dims.allSatisfy(size.contains) else {
                        throw field("in", "[C, H, W], three integers in 1...\(size.upperBound)")
                    }
                }
                if kind.key == "networks" {
                    if o["mode"] != nil && !(o["mode"] is String) { throw field("mode", "a string") }
                    if (try? ModelZoo.entry(name)) == nil {
                        throw fail("network case '\(name)' is not a network the zoo can build" + NearestName.suggestion(for: name, among: ModelZoo.names))
                    }
                }
                if kind.key == "training" {
                    guard let arch = o["arch"] as? [String: Any] else { throw field("arch", "an object") }
                    for key in ["preact", "residual"] where arch[key] != nil && JSONValue.boolean(arch[key]) == nil {
                        throw fail("case \(name): arch \"\(key)\" should be true or false, got \(JSONValue.describe(arch[key]))")
                    }
                    for key in ["depth", "num_classes"] where arch[key] != nil && (JSONValue.integer(arch[key]) ?? 0) <= 0 {
                        throw fail("case \(name): arch \"\(key)\" should be a positive integer, got \(JSONValue.describe(arch[key]))")
                    }
                    if arch["widths"] != nil && JSONValue.integers(arch["widths"]) == nil {
                        throw fail("case \(name): arch \"widths\" should be a list of integers, got \(JSONValue.describe(arch["widths"]))")
                    }
                }
            }
        }
    }
}
