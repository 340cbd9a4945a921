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

    /// Reads and checks `cases.json`; a malformed file throws a `FileFormatError` naming it.
    public init(contentsOf url: URL) throws {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileFormatError(path: path, reason: "file does not exist or cannot be read")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FileFormatError(path: path, reason: "not a JSON object")
        }
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
    }
}
