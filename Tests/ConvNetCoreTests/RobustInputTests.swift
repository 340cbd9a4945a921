import Foundation
import Testing
import TestSupport
@testable import ConvNetCore

/// Values read from files and flags are checked before they are used as a size, a count
/// or an index: each bad one is an error naming the file, the case or the field.
@Suite("Bad input: checked before use, named in the error")
struct RobustInputTests {
    @Test("the nearest name: typos, swaps and prefixes suggested, unrelated words not")
    func nearestName() {
        #expect(NearestName.distance("seeed", "seed") == 1)
        #expect(NearestName.distance("jsno", "json") == 1)
        #expect(NearestName.distance("", "abc") == 3)
        #expect(NearestName.nearest(to: "seeed", among: ["seed", "epochs", "quick"]) == "seed")
        #expect(NearestName.nearest(to: "resnt50", among: ModelZoo.names) == "resnet50")
        #expect(NearestName.nearest(to: "gemm_25", among: ["gemm_256", "gemm_512"]) == "gemm_256")
        #expect(NearestName.nearest(to: "summary", among: ["list", "run"]) == nil)
        #expect(NearestName.suggestion(for: "bach", among: ["batch", "depth"], prefix: "--") == "; did you mean --batch?")
        #expect(throws: ModelZooError("unknown model vgg61; did you mean vgg16? (`lesson summary --list` shows all)")) {
            try ModelZoo.entry("vgg61")
        }
    }

    @Test("JSON values: a boolean is not a number, a fraction or a huge number not an integer")
    func jsonValues() throws {
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(#"{"t": true, "i": 3, "f": 2.5, "h": 1e300, "w": 4.0, "s": "3"}"#.utf8)) as? [String: Any])
        #expect(JSONValue.integer(parsed["i"]) == 3)
        #expect(JSONValue.integer(parsed["w"]) == 4)
        #expect(JSONValue.integer(parsed["t"]) == nil)
        #expect(JSONValue.integer(parsed["f"]) == nil)
        #expect(JSONValue.integer(parsed["h"]) == nil)
        #expect(JSONValue.integer(parsed["s"]) == nil)
        #expect(JSONValue.boolean(parsed["t"]) == true)
        #expect(JSONValue.boolean(parsed["i"]) == nil)
        #expect(JSONValue.number(parsed["t"]) == nil)
        #expect(JSONValue.number(parsed["h"]) == 1e300)
    }

    @Test("an input that does not fit a network is named, from shapes alone, without a trap")
    func inputProblem() {
        let resnet = CifarResNet(depth: 8)
        #expect(resnet.inputProblem(for: [2, 3, 32, 32]) == nil)
        #expect(resnet.inputProblem(for: [2, 1, 16, 16])?.contains("expected input [N, 3, H, W], got [2, 1, 16, 16]") == true)
        #expect(resnet.inputProblem(for: [2, 3, 32])?.contains("expected input [N, 3, H, W]") == true)
        #expect(resnet.inputProblem(for: [0, 3, 32, 32])?.contains("extent 0") == true)
        let dense = DenseNet(growthRate: 4, blockConfig: [1, 1], initialFeatures: 8, classes: 3)
        dense.eval()
        #expect(dense.inputProblem(for: [1, 3, 32, 32]) == nil)
        let small = dense.inputProblem(for: [1, 3, 2, 2])
        #expect(small?.contains("does not fit") == true, "\(small ?? "nil")")
        // Training: a batch norm that would see one value per channel.
        resnet.train()
        #expect(resnet.inputProblem(for: [1, 3, 1, 1])?.contains("more than one value per channel") == true)
        resnet.eval()
        #expect(resnet.inputProblem(for: [1, 3, 1, 1]) == nil)
    }

    @Test("a kernel larger than the padded input never fits, whatever the stride")
    func negativeSpan() {
        let conv = Conv2DGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 2, outChannels: 1, kernel: (3, 3), stride: (2, 2))
        #expect(conv.problem != nil)
        let pool = Pool2DGeometry(input: FeatureMapShape(batch: 1, channels: 1, height: 2, width: 2), kernel: 3, stride: 2)
        #expect(pool.problem != nil)
    }

    @Test("architectures: fields of the wrong type, absurd sizes and giant networks are errors")
    func architectures() {
        func message(_ arch: [String: Any]) -> String? {
            do { _ = try ModelZoo.build(architecture: arch); return nil } catch { return "\(error)" }
        }
        #expect(message(["family": "cifar_resnet", "depth": 8]) == nil)
        #expect(message(["family": "cifar_resnet", "depth": true])?.contains("\"depth\" is not an integer") == true)
        #expect(message(["family": "cifar_resnet", "depth": 8.5])?.contains("not an integer") == true)
        #expect(message(["family": "cifar_resnet", "depth": 600_002])?.contains("out of range") == true)
        #expect(message(["family": "cifar_resnet", "depth": 8, "widths": [16, 32, 1 << 40]])?.contains("out of range") == true)
        #expect(message(["family": "cifar_resnet", "depth": 8, "preact": 1])?.contains("not a boolean") == true)
        #expect(message(["family": "torchvision.resnet", "block": "bottleneck", "layers": [512, 512, 512, 512], "width_per_group": 16384])?
            .contains("parameters") == true)
    }

    /// The results of verifying a suite of `cases` (JSON objects) in a fresh directory,
    /// with ops-public's `files` copied.
    func verify(_ cases: String, copying files: [String] = []) throws -> [CaseResult] {
        try withTemporaryDirectory(prefix: "robust") { dir in
            for file in files {
                try FileManager.default.copyItem(at: FixtureLocator.url("ops-public/\(file)"), to: dir.appendingPathComponent(file))
            }
            try Data(#"{"format": 1, "cases": [\#(cases)]}"#.utf8).write(to: dir.appendingPathComponent("manifest.json"))
            return try FixtureVerifier.run(directory: dir)
        }
    }

    @Test("manifest cases with fields of the wrong type fail alone, with the field named; the others run")
    func manifestFields() throws {
        let relu = #"{"name": "relu", "op": "relu", "inputs": {"x": "relu.inputs.x.npy"}, "outputs": {"y": "relu.outputs.y.npy"}}"#
        let results = try verify([
            relu,
            #"{"op": "relu"}"#,
            #"7"#,
            #"{"name": "t", "op": "relu", "tolerance": "tight"}"#,
            #"{"name": "i", "op": "relu", "inputs": {"x": 3}}"#,
            #"{"name": "p", "op": "max_pool2d", "attrs": {"kernel": 1e12}, "inputs": {"x": "relu.inputs.x.npy"}}"#,
            #"{"name": "g", "op": "conv2d", "attrs": {"groups": true}, "inputs": {"x": "relu.inputs.x.npy", "weight": "relu.inputs.x.npy"}}"#,
            relu,
        ].joined(separator: ","), copying: ["relu.inputs.x.npy", "relu.outputs.y.npy"])
        #expect(results.map(\.passed) == [true, false, false, false, false, false, false, false])
        #expect(results[1].line == #"FAIL case #1  case 1 of manifest.json has no "name" string (got null)"#)
        #expect(results[2].line.contains("case 2 of manifest.json is not a JSON object"))
        #expect(results[3].line.contains(#"manifest field "tolerance" should be a non-negative number, got "tight""#))
        #expect(results[4].line.contains(#"manifest field "inputs" should be an object of file names"#))
        #expect(results[5].line.contains("attribute kernel = 1000000000000 is out of range"))
        #expect(results[6].line.contains("attribute groups should be an integer, got true"))
        #expect(results[7].line.contains("a second case named 'relu'"))
    }

    @Test("an op case whose output would not fit in memory fails with the sizes, nothing allocated")
    func outputLimit() throws {
        let result = try verify(#"{"name": "huge", "op": "adaptive_avg_pool2d", "attrs": {"output_size": [1000000, 1000000]}, "inputs": {"x": "adaptive_global.inputs.x.npy"}}"#,
                                copying: ["adaptive_global.inputs.x.npy"])[0]
        #expect(result.line.contains("more than \(InputLimits.elements) elements"))
    }

    @Test("cases.json: wrong types, bad sizes and inputs a network cannot take are errors naming the case")
    func benchCases() throws { try withTemporaryDirectory(prefix: "robust-cases") { dir throws in
        let url = dir.appendingPathComponent("cases.json")
        func message(_ json: String) throws -> String? {
            try Data(json.utf8).write(to: url)
            do { _ = try BenchCases(contentsOf: url); return nil } catch let error as FileFormatError { return error.reason }
        }
        #expect(try message(#"{"gemm": [{"name": "g", "m": 4, "n": 4, "k": 4}]}"#) == nil)
        #expect(try message(#"{"gemm": [{"name": "g", "m": 4, "n": "4", "k": 4}]}"#) == #"case g: "n" should be an integer in 1...65536, got "4""#)
        #expect(try message(#"{"gemm": [{"name": "g", "m": 4, "n": 4, "k": 4}, {"name": "g", "m": 1, "n": 1, "k": 1}]}"#) == "two cases are named 'g'")
        #expect(try message(#"{"threads": [0]}"#)?.contains("\"threads\" should be a list of integers in 1...256") == true)
        #expect(try message(#"{"conv": {"name": "c"}}"#)?.contains("\"conv\" should be a list of cases") == true)
        #expect(try message(#"{"max_pool": [{"name": "p", "in": [1, 2, 2], "kernel": 5, "stride": 1, "padding": 0}]}"#)?.contains("case p: pool2d") == true)
        #expect(try message(#"{"networks": [{"name": "resnet81", "in": [3, 32, 32]}]}"#)?.contains("did you mean resnet18?") == true)
        #expect(try message(#"{"networks": [{"name": "resnet18", "in": [1, 32, 32]}]}"#)?.contains("case resnet18: input [1, 1, 32, 32]") == true)
        let training = #"{"training": [{"name": "t", "arch": {"family": "cifar_resnet", "depth": 8, "preact": "no"}, "in": [3, 8, 8], "batch": 2}]}"#
        #expect(try message(training)?.contains(#"arch "preact" should be true or false, got "no""#) == true)
    } }

    @Test("a checkpoint with an out-of-range epoch or learning rate is refused, naming the file")
    func checkpointMetadata() throws { try withTemporaryDirectory(prefix: "robust-checkpoint") { dir throws in
        let url = dir.appendingPathComponent("checkpoint.safetensors")
        let model = CifarResNet(depth: 8, widths: [2, 2, 2]).initialize(seed: 1)
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1)
        try Checkpoint(epoch: -3, generator: SeededGenerator(seed: 1), learningRate: 0.1).save(model: model, optimizer: optimizer, to: url)
        #expect(throws: FileFormatError(path: url.path, reason: "checkpoint metadata out of range: epoch -3, learning_rate 0.1")) {
            try Checkpoint.load(from: url, model: model, optimizer: optimizer)
        }
    } }
}
