import ConvNetCore
import Foundation
import LeNetLesson
import Testing
import TestSupport
@testable import TransferLesson

/// Facts about freezing, caching and checkpoints, each a test that fails when the fact is false.
@Suite("Transfer: facts")
struct TransferFacts {
    /// Real digits, padded to 32x32 and scaled as the lessons do.
    static func digits(_ count: Int, from first: Int = 0) throws -> LabeledImages {
        var (train, _) = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: first + count, validationCount: 0, seed: 1, padding: 2)
        train.normalize(mean: TransferLesson.pixelMean, std: TransferLesson.pixelStd)
        let subset = train.subset(Array(first..<first + count))
        return LabeledImages(images: subset.images, labels: subset.labels.map { $0 % 5 })
    }

    /// A "pretrained" LeNet-5 checkpoint with `classes` outputs (seeded weights).
    static func checkpoint(classes: Int = 10, seed: UInt64 = 7) throws -> LeNetCheckpoint {
        try LeNetCheckpoint(LeNet5.transfer(classes: classes, seed: seed).safetensorsFile(), path: "test")
    }

    static func values(_ model: Layer) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter.value.data) })
    }

    @Test("frozen up to F6, a few SGD steps change only the new output layer: C1-F6 stay the same bit for bit")
    func frozenLayersDoNotChange() throws {
        let data = try Self.digits(40)
        let model = LeNet5.transfer(classes: 5, seed: 2, from: try Self.checkpoint())
        let before = Self.values(model)
        let net = TransferSplit.frozen(model, through: .f6)
        #expect(net.namedParameters().map(\.name) == ["output.weight", "output.bias"])
        var settings = TrainingSettings(epochs: 3, batchSize: 16, schedule: .constant(0.05))
        settings.weightDecay = 0.002
        _ = try Trainer(settings).train(net, on: data, seed: 1, console: Console(showsProgress: false))
        let after = Self.values(model)
        for name in before.keys.sorted() {
            if name.hasPrefix("output.") {
                #expect(after[name] != before[name], "\(name) did not train")
            } else {
                #expect(after[name] == before[name], "\(name) changed although frozen")
            }
        }
    }

    @Test("no gradient flows below the cut: after backward every frozen parameter's gradient is zero, the layers above have one")
    func noGradientBelowTheCut() throws {
        let data = try Self.digits(8)
        for cut in TransferCut.allCases {
            let model = LeNet5.transfer(classes: 5, seed: 3, from: try Self.checkpoint())
            let net = TransferSplit.frozen(model, through: cut)
            let (_, dLogits) = Loss.crossEntropy(net(data.images), targets: data.labels)
            model.zeroGradients()
            let dx = net.backward(dLogits)
            #expect(dx.data.allSatisfy { $0 == 0 })
            let trained = Set(net.namedParameters().map(\.name))
            for (name, p) in model.namedParameters() {
                let norm = p.gradient.data.reduce(0) { $0 + abs($1) }
                #expect((norm > 0) == trained.contains(name), "frozen through \(cut.rawValue): \(name) gradient sum \(norm)")
            }
        }
    }

    @Test("frozen up to S4, only C5, F6 and the output are trained; S2 and S4 add no parameters to what is frozen")
    func whatEachCutTrains() throws {
        let model = LeNet5.transfer(classes: 5, seed: 1)
        let trained = { (cut: TransferCut) in TransferSplit.frozen(model, through: cut).namedParameters().map(\.name) }
        #expect(trained(.s4) == ["c5.weight", "c5.bias", "f6.weight", "f6.bias", "output.weight", "output.bias"])
        #expect(trained(.c1) == trained(.s2) && trained(.c3) == trained(.s4))
        #expect(trained(.f6) == ["output.weight", "output.bias"])
        for cut in TransferCut.allCases {
            let shape = TransferSplit.frozenPart(model, through: cut).outputShape(for: [3, 1, 32, 32])
            #expect(shape == [3] + cut.featureShape, "\(cut.rawValue)")
        }
    }

    @Test("the cache gives back the recomputed features bit for bit, and they are LeNet-5's own activations at the cut")
    func cacheEqualsRecomputed() throws {
        let data = try Self.digits(60)
        let model = LeNet5.transfer(classes: 5, seed: 1, from: try Self.checkpoint())
        try withTemporaryDirectory(prefix: "transfer-cache") { directory in
            for cut in [TransferCut.c3, .c5, .f6] {
                let frozen = TransferSplit.frozenPart(model, through: cut)
                let features = frozen.features(of: data.images, batch: 25)
                let url = directory.appendingPathComponent("\(cut.rawValue).safetensors")
                let bytes = try FeatureCache.write(LabeledImages(images: FeatureCache.rows(features), labels: data.labels), to: url)
                let perDigit = cut.featureShape.reduce(1, *)
                #expect(bytes > 60 * perDigit * 4 && bytes < 60 * perDigit * 4 + 60 * 8 + 512)
                let read = try FeatureCache.read(url)
                #expect(read.images.data == frozen.features(of: data.images, batch: 25).data, "\(cut.rawValue): the cache differs from recomputing")
                #expect(read.labels == data.labels)
                let activation = try #require(model.activations(of: data.images).first { $0.name == cut.lastFrozenChild }).output
                #expect(read.images.data == activation.data, "\(cut.rawValue): not the net's activation at the cut")
            }
        }
    }

    @Test("a digit's frozen features do not depend on the batch it is computed in (4 digits or more: bit for bit; 1-3 take the GEMM's thin kernel, within 1e-6)")
    func featuresDoNotDependOnTheBatch() throws {
        let data = try Self.digits(64)
        let frozen = TransferSplit.frozenPart(LeNet5.transfer(classes: 5, seed: 1, from: try Self.checkpoint()), through: .f6)
        let whole = frozen.features(of: data.images, batch: 250).data
        for batch in [4, 8, 16, 32] {
            let other = frozen.features(of: data.images, batch: batch).data
            let differing = zip(other, whole).filter { $0 != $1 }.count
            #expect(differing == 0, "batch \(batch): \(differing) of \(whole.count) features differ, largest relative difference \(relativeError(other, whole))")
        }
        for batch in [1, 2, 3] { #expect(relativeError(frozen.features(of: data.images, batch: batch).data, whole) < 1e-6) }
    }

    @Test("training the new softmax on the cache ends with the weights of training it with the frozen layers inside, bit for bit")
    func cachedTrainingEqualsRecomputing() throws {
        let data = try Self.digits(45)
        let pretrained = try Self.checkpoint()
        var settings = TrainingSettings(epochs: 4, batchSize: 16, schedule: .constant(0.05))
        settings.weightDecay = 0.002
        let inside = LeNet5.transfer(classes: 5, seed: 4, from: pretrained)
        _ = try Trainer(settings).train(TransferSplit.frozen(inside, through: .f6), on: data, seed: 9, console: Console(showsProgress: false))
        let cached = LeNet5.transfer(classes: 5, seed: 4, from: pretrained)
        let features = LabeledImages(images: FeatureCache.rows(TransferSplit.frozenPart(cached, through: .f6).features(of: data.images)),
                                     labels: data.labels)
        _ = try Trainer(settings).train(TransferSplit.head(cached, above: .f6), on: features, seed: 9, console: Console(showsProgress: false))
        #expect(inside.stateDict() == cached.stateDict())
        #expect(inside.stateDict()["output.weight"] != LeNet5.transfer(classes: 5, seed: 4).stateDict()["output.weight"])
    }

    @Test("the head is replaced: C1-F6 come from the checkpoint, the output is new with the target's classes, whatever the checkpoint's")
    func headReplaced() throws {
        for classes in [1, 3, 10, 1000] {
            let pretrained = try Self.checkpoint(classes: classes)
            #expect(pretrained.classes == classes)
            let model = LeNet5.transfer(classes: 5, seed: 2, from: pretrained)
            let tensors = model.stateDict()
            #expect(tensors["output.weight"]?.shape == [5, 84] && tensors["output.bias"]?.shape == [5])
            for name in ["c1.weight", "c1.bias", "c3.weight", "c5.weight", "f6.weight", "f6.bias"] {
                #expect(tensors[name] == pretrained.tensors[name], "\(name) not copied")
            }
            #expect(tensors["output.weight"] == LeNet5.transfer(classes: 5, seed: 2).stateDict()["output.weight"])
        }
    }

    @Test("Yosinski's AnB: frozen up to C3, C1 and C3 come from the checkpoint and C5, F6, output are the random ones")
    func reinitialisedAbove() throws {
        let pretrained = try Self.checkpoint()
        let model = LeNet5.transfer(classes: 5, seed: 6, from: pretrained, through: .c3).stateDict()
        let random = LeNet5.transfer(classes: 5, seed: 6).stateDict()
        for name in ["c1.weight", "c1.bias", "c3.weight", "c3.bias"] { #expect(model[name] == pretrained.tensors[name]) }
        for name in ["c5.weight", "c5.bias", "f6.weight", "f6.bias", "output.weight"] { #expect(model[name] == random[name]) }
    }

    @Test("a file that is not a LeNet-5 checkpoint gets one line naming the first mismatch: a missing tensor, a wrong shape, an extra one")
    func notACheckpoint() throws {
        let good = LeNet5.transfer(classes: 10, seed: 1).safetensorsFile()
        var cases: [(SafetensorsFile, String)] = []
        var missing = good; missing.tensors["c3.bias"] = nil
        cases.append((missing, "missing c3.bias"))
        var shape = good; shape.tensors["c3.weight"] = Tensor.zeros([16, 6, 3, 3])
        cases.append((shape, "c3.weight has shape [16, 6, 3, 3], LeNet-5's is [16, 6, 5, 5]"))
        var classes = good; classes.tensors["output.bias"] = Tensor.zeros([7])
        cases.append((classes, "output.bias has shape [7], LeNet-5's is [10]"))
        var extra = good; extra.tensors["f7.weight"] = Tensor.zeros([2])
        cases.append((extra, "unexpected tensor f7.weight"))
        var integer = good; integer.tensors["c1.bias"] = nil; integer.integerTensors["c1.bias"] = ([6], [0, 0, 0, 0, 0, 0])
        cases.append((integer, "c1.bias holds integers"))
        for (file, reason) in cases {
            let error = #expect(throws: LessonError.self) { _ = try LeNetCheckpoint(file, path: "x.safetensors") }
            #expect(error?.description == "x.safetensors is not a LeNet-5 checkpoint: " + reason || error?.description.contains(reason) == true,
                    "\(error?.description ?? "no error")")
            #expect(error?.description.contains("\n") == false)
        }
        // A torchvision ResNet written by PyTorch: the first LeNet-5 tensor it lacks.
        let resnet = FixtureLocator.url("models-public/resnet_basic_1111.safetensors")
        let error = #expect(throws: LessonError.self) { _ = try LeNetCheckpoint.read(resnet) }
        #expect(error?.description.hasSuffix("is not a LeNet-5 checkpoint: missing c1.weight (LeNet-5's is [6, 1, 5, 5])") == true)
        // Not safetensors at all.
        try withTemporaryDirectory(prefix: "transfer-bad") { directory in
            let url = directory.appendingPathComponent("notes.safetensors")
            try Data("these are not weights".utf8).write(to: url)
            let error = #expect(throws: LessonError.self) { _ = try LeNetCheckpoint.read(url) }
            #expect(error?.description.contains("is not a LeNet-5 checkpoint") == true && error?.description.contains("\n") == false)
        }
    }

    @Test("`lesson run transfer --weights FILE` with a wrong file exits non-zero with one line naming the mismatch, and writes nothing")
    func commandLineRefusesBadWeights() throws {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let executable = here.deletingLastPathComponent().appendingPathComponent("lesson")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "the lesson executable is built beside the tests")
        try withTemporaryDirectory(prefix: "transfer-cli") { directory in
            var wrong = LeNet5.transfer(classes: 10, seed: 1).safetensorsFile()
            wrong.tensors["f6.weight"] = Tensor.zeros([84, 100])
            let wrongURL = directory.appendingPathComponent("wrong.safetensors")
            try Safetensors.write(wrong, to: wrongURL)
            for (file, expected) in [(wrongURL.path, "f6.weight has shape [84, 100]"),
                                     (FixtureLocator.url("models-public/resnet_basic_1111.safetensors").path, "missing c1.weight")] {
                let out = directory.appendingPathComponent("out")
                let process = Process()
                process.executableURL = executable
                process.arguments = ["run", "transfer", "--quick", "--weights", file, "--out", out.path]
                process.currentDirectoryURL = FixtureLocator.root.deletingLastPathComponent()
                let errors = Pipe()
                process.standardOutput = FileHandle.nullDevice
                process.standardError = errors
                try process.run()
                let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(process.terminationStatus != 0)
                let lines = message.split(separator: "\n")
                #expect(lines.count == 1 && message.contains(expected), "\(message)")
                #expect(!FileManager.default.fileExists(atPath: out.path))
            }
        }
    }
}

/// Safetensors bytes laid out as the Python `safetensors` library (`safetensors.torch.save_file`)
/// lays them out: tensors ordered by dtype (I64 before F32 before F16), then by name; the
/// header compact JSON in that order, `__metadata__` first; padded with spaces to a
/// multiple of 8; the data contiguous in the same order. Checked byte for byte against the
/// files PyTorch wrote in Fixtures/.
enum PythonSafetensorsLayout {
    struct Entry { var name: String; var dtype: String; var shape: [Int]; var bytes: Data }
    static let rank = ["I64": 0, "F64": 1, "I32": 2, "F32": 3, "BF16": 4, "F16": 5]

    static func bytes(_ entries: [Entry], metadata: [String: String]? = nil) -> Data {
        let ordered = entries.sorted { (rank[$0.dtype]!, $0.name) < (rank[$1.dtype]!, $1.name) }
        var members: [String] = []
        if let metadata {
            members.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
        }
        var offset = 0
        for e in ordered {
            members.append("\"\(e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
            offset += e.bytes.count
        }
        var header = Array(("{" + members.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for e in ordered { data.append(e.bytes) }
        return data
    }

    /// The entries of a safetensors file, raw.
    static func entries(of data: Data) throws -> (entries: [Entry], metadata: [String: String]?) {
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + n)) as? [String: Any])
        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            entries.append(Entry(name: name, dtype: try #require(entry["dtype"] as? String), shape: try #require(entry["shape"] as? [Int]),
                                 bytes: data.subdata(in: 8 + n + offsets[0]..<8 + n + offsets[1])))
        }
        return (entries, header["__metadata__"] as? [String: String])
    }

    /// Little-endian F32 bytes.
    static func f32(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }
}

@Suite("Transfer: checkpoints written by PyTorch")
struct TransferPyTorchCheckpoints {
    @Test("the Python safetensors layout rebuilds the PyTorch-written files of Fixtures/ byte for byte")
    func layoutMatchesPyTorch() throws {
        for path in ["models-public/resnet_basic_1111.safetensors", "grads-public/cifar_resnet8.safetensors",
                     "grads-public/cifar_resnet8.grads.safetensors"] {
            let original = try Data(contentsOf: FixtureLocator.url(path))
            let (entries, metadata) = try PythonSafetensorsLayout.entries(of: original)
            #expect(PythonSafetensorsLayout.bytes(entries, metadata: metadata) == original, "\(path)")
        }
    }

    @Test("a LeNet-5 checkpoint laid out as PyTorch writes it (format pt, 10 classes) loads, and the transferred net holds its C1-F6")
    func pytorchLeNetLoads() throws {
        let source = LeNet5.transfer(classes: 10, seed: 11)
        let entries = source.namedParameters().map { name, p in
            PythonSafetensorsLayout.Entry(name: name, dtype: "F32", shape: p.shape, bytes: PythonSafetensorsLayout.f32(p.value.data))
        }
        let bytes = PythonSafetensorsLayout.bytes(entries, metadata: ["format": "pt"])
        try withTemporaryDirectory(prefix: "transfer-pt") { directory in
            let url = directory.appendingPathComponent("lenet5_pytorch.safetensors")
            try bytes.write(to: url)
            let checkpoint = try LeNetCheckpoint.read(url)
            #expect(checkpoint.classes == 10 && checkpoint.metadata["format"] == "pt")
            let model = LeNet5.transfer(classes: 5, seed: 1, from: checkpoint)
            let expected = source.stateDict(), got = model.stateDict()
            for name in ["c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.weight", "c5.bias", "f6.weight", "f6.bias"] {
                #expect(got[name] == expected[name], "\(name)")
            }
            #expect(got["output.weight"]?.shape == [5, 84])
        }
    }
}

@Suite("Transfer: the run", .serialized)
struct TransferRun {
    @Test("a --quick run: the cached arm equals the recomputing one, and the weights it saves start a second run (--weights)")
    func quickRunAndItsWeights() throws {
        try withTemporaryDirectory(prefix: "transfer-run") { directory in
            var options = try LessonOptions(outputDirectory: directory.appendingPathComponent("first"), fixtures: FixtureLocator.root,
                                            declared: TransferLesson.options, given: [:])
            options.quick = true
            let first = try TransferLesson.run(options, console: Console(showsProgress: false))
            #expect(first.cachedEqualsRecomputed && first.raceMaxDifference == 0)
            #expect(first.accuracyCached == first.accuracyFrozen)
            #expect(first.cacheBytes > first.cacheExamples * 84 * 4)
            let saved = directory.appendingPathComponent("first/lenet5-digits0-4.safetensors")
            #expect(try LeNetCheckpoint.read(saved).classes == 5)
            options.outputDirectory = directory.appendingPathComponent("second")
            options.weights = saved
            let second = try TransferLesson.run(options, console: Console(showsProgress: false))
            #expect(second.source == saved.path && second.pretrainExamples == 0)
            #expect(second.sourceAccuracy == first.sourceAccuracy)
            #expect(second.accuracyFinetuneAll == first.accuracyFinetuneAll)
        }
    }
}
