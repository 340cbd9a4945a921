import Foundation
import Testing
import TestSupport
@testable import ConvNetCore

/// Seeded mutations of every format the tool reads, through the parsers and through the
/// verify engine: bit flips, byte edits, truncations, splices, insertions, deletions,
/// absurd length fields, numbers in headers replaced by absurd ones, and JSON trees with
/// a node replaced, deleted or spliced. Each mutated input must give a result or an error
/// naming the fault; a crash (a trap kills the test process) or a hang fails the suite.
/// Count-bounded and seeded, so every run tries the same inputs; the counts are below.
@Suite("Fuzz: mutated files never crash or hang the readers and the verify engine")
struct FuzzTests {
    /// `CONVNET_FUZZ_SCALE=N` multiplies every count (a longer hunt; default 1).
    static let scale = max(1, Int(ProcessInfo.processInfo.environment["CONVNET_FUZZ_SCALE"] ?? "") ?? 1)
    static let npyMutations = 2500 * scale
    static let safetensorsMutations = 2500 * scale
    static let ppmMutations = 2000 * scale
    static let checkpointMutations = 300 * scale
    static let casesMutations = 300 * scale
    static let suiteMutations = 900 * scale
    static var total: Int {
        npyMutations + safetensorsMutations + ppmMutations + checkpointMutations + casesMutations + suiteMutations
    }

    // MARK: Seeds

    static func npySeeds() throws -> [[UInt8]] {
        var seeds: [NumPyArray] = [
            NumPyArray(shape: [2, 3, 4], elements: .float32((0..<24).map { Float($0) - 7.5 })),
            NumPyArray(shape: [5], elements: .uint8([0, 1, 2, 254, 255])),
            NumPyArray(shape: [3], elements: .int64([2, -1, 9])),
            NumPyArray(shape: [2, 2], elements: .float64([1, -2, .pi, 1e300])),
            NumPyArray(shape: [], elements: .float32([3])),
        ]
        seeds.append(NumPyArray(shape: [0, 4], elements: .float32([])))
        var result = try seeds.map { [UInt8](try NumPy.encode($0, path: "seed.npy")) }
        // Version 2.0 (4-byte header length), big-endian '>i4'.
        let header = Array("{'descr': '>i4', 'fortran_order': False, 'shape': (2, 1), }          \n".utf8)
        var v2: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0]
        withUnsafeBytes(of: UInt32(header.count).littleEndian) { v2 += $0 }
        result.append(v2 + header + [0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xFE])
        result.append([UInt8](try Data(contentsOf: FixtureLocator.url("ops-public/cross_entropy.inputs.target.npy"))))
        return result
    }

    /// A safetensors file from a JSON header and a data section.
    static func safetensors(_ json: String, _ data: [UInt8]) -> [UInt8] {
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        return bytes + header + data
    }

    static func safetensorsSeeds() throws -> [[UInt8]] {
        let file = SafetensorsFile(
            tensors: ["conv.weight": Tensor(shape: [2, 1, 2, 2], data: (0..<8).map { Float($0) / 3 }), "fc.bias": Tensor(shape: [3], data: [1, 2, 3])],
            integerTensors: ["bn.num_batches_tracked": (shape: [], values: [7])],
            metadata: ["epoch": "3", "note": "seed"])
        return [
            [UInt8](try Safetensors.encode(file, path: "seed.safetensors")),
            safetensors(#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]},"i":{"dtype":"I32","shape":[1],"data_offsets":[6,10]},"d":{"dtype":"F64","shape":[],"data_offsets":[10,18]}}"#,
                        [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F, 5, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]),
        ]
    }

    static func ppmSeeds() -> [[UInt8]] {
        [
            Array("P6\n3 2\n255\n".utf8) + (0..<18).map { UInt8($0 * 13) },
            Array("P5 4 4 255 ".utf8) + (0..<16).map { UInt8($0 * 16) },
            Array("P5\n# a comment\n2 3\n# another\n15\n".utf8) + [0, 1, 7, 15, 3, 9],
        ]
    }

    // MARK: The parsers

    /// `count` mutants of `seeds` (every third `structured`, the others byte mutations with
    /// the format's `lengthFields`) through `parse`, which checks what it parsed: each
    /// parses, or is refused with a FileFormatError.
    static func fuzz(_ format: String, count: Int, seed: UInt64, seeds: [[UInt8]], lengthFields: [(Int, Int)],
                     structured: ((inout Mutator, [UInt8]) -> [UInt8])?, parse: (UnsafeRawBufferPointer) throws -> Void) {
        var m = Mutator(seed: seed)
        var parsed = 0
        for i in 0..<count {
            let original = seeds[i % seeds.count]
            var bytes: [UInt8]
            if i % 3 == 0, let structured {
                bytes = structured(&m, original)
            } else {
                bytes = m.mutate(original, donor: seeds[m.int(seeds.count)], lengthFields: lengthFields.map { (offset: $0.0, size: $0.1) })
            }
            do {
                try bytes.withUnsafeBytes(parse)
                parsed += 1
            } catch is FileFormatError {} catch {
                Issue.record("\(format): not a FileFormatError: \(error)")
            }
        }
        print("fuzz \(format): \(count) mutants, \(parsed) parsed, the rest refused")
    }

    @Test("mutated .npy files: an array of the shape it says, or a FileFormatError")
    func npy() throws {
        Self.fuzz(".npy", count: Self.npyMutations, seed: 1, seeds: try Self.npySeeds(), lengthFields: [(8, 2), (8, 4)],
                  structured: { $0.reshapeNumPy($1) }) { raw in
            let array = try NumPy.parse(raw, path: "mutant.npy")
            #expect(array.shape.checkedProduct == array.count)
            _ = array.tensor
            _ = array.integers
        }
    }

    @Test("mutated safetensors files: tensors of the shapes they say, or a FileFormatError")
    func safetensors() throws {
        Self.fuzz("safetensors", count: Self.safetensorsMutations, seed: 2, seeds: try Self.safetensorsSeeds(), lengthFields: [(0, 8), (0, 4)],
                  structured: { $0.reshapeSafetensors($1) }) { raw in
            let file = try Safetensors.parse(raw, path: "mutant.safetensors")
            for (_, t) in file.tensors { #expect(t.shape.checkedProduct == t.count) }
            for (_, t) in file.integerTensors { #expect(t.shape.checkedProduct == t.values.count) }
        }
    }

    @Test("mutated PPM and PGM images: an image of the size it says, or a FileFormatError")
    func ppm() throws {
        Self.fuzz("PPM", count: Self.ppmMutations, seed: 3, seeds: Self.ppmSeeds(), lengthFields: [], structured: nil) { raw in
            let image = try PPM.parse(raw, path: "mutant.ppm")
            #expect(image.pixels.count == image.width * image.height * image.channels)
        }
    }

    @Test("mutated checkpoints: loaded into the model, or a FileFormatError that leaves it as it was")
    func checkpoints() throws { try withTemporaryDirectory(prefix: "fuzz-checkpoint") { directory throws in
        let model = CifarResNet(depth: 8, widths: [2, 2, 2]).initialize(seed: 1)
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        var g = SeededGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 3, 8, 8], using: &g)
        let (_, dLogits) = Loss.crossEntropy(model(x), targets: [1, 7])
        _ = model.backward(dLogits)
        optimizer.step()
        let seedURL = directory.appendingPathComponent("seed.safetensors")
        try Checkpoint(epoch: 2, generator: g, learningRate: 0.1, metadata: ["history": "1.0,0.5"])
            .save(model: model, optimizer: optimizer, to: seedURL)
        let seed = [UInt8](try Data(contentsOf: seedURL))
        let url = directory.appendingPathComponent("mutant.safetensors")
        var m = Mutator(seed: 5)
        var loaded = 0
        defer { print("fuzz checkpoints: \(Self.checkpointMutations) mutants, \(loaded) loaded, the rest refused") }
        for i in 0..<Self.checkpointMutations {
            try Data(i % 2 == 0 ? m.reshapeSafetensors(seed) : m.mutate(seed, donor: seed, lengthFields: [(0, 8)])).write(to: url)
            do {
                let restored = try Checkpoint.load(from: url, model: model, optimizer: optimizer)
                #expect(restored.epoch >= 0)
                loaded += 1
            } catch is FileFormatError {}
        }
    } }

    @Test("mutated cases.json files: cases that can all be run, or a FileFormatError")
    func benchCases() throws { try withTemporaryDirectory(prefix: "fuzz-cases") { directory throws in
        let seed = [UInt8](try Data(contentsOf: FixtureLocator.url("bench/cases.json")))
        let url = directory.appendingPathComponent("cases.json")
        var m = Mutator(seed: 6)
        var read = 0
        defer { print("fuzz cases.json: \(Self.casesMutations) mutants, \(read) read, the rest refused") }
        for i in 0..<Self.casesMutations {
            let bytes = i % 2 == 0 ? m.mutateJSON(seed) : m.mutate(seed, donor: seed, lengthFields: [])
            try Data(bytes).write(to: url)
            do {
                let cases = try BenchCases(contentsOf: url)
                for c in cases.conv { #expect(c.geometry(batch: 1).problem == nil) }
                read += 1
            } catch is FileFormatError {}
        }
    } }

    // MARK: The verify engine on a mutated suite

    /// Small cases of ops-public (every kind of op), and a tiny model_gradients case.
    static let suiteCases = [
        "conv_3x3_s1_p1", "conv_grouped_g4", "convT_3x3_s2_p1_op1", "maxpool_3x3_s2_ceil", "avgpool_3x3_s1_p1_excl",
        "adaptive_7_to_3", "lrn_size4_strong", "batchnorm_train", "batchnorm_eval", "linear", "relu", "cross_entropy",
        "distillation_T4",
    ]

    /// A directory holding the small cases' files and a tiny CIFAR ResNet training step
    /// (weights, input, targets, its own gradients), and each case's manifest entry.
    static func makeSuite(in directory: URL) throws -> [String: [String: Any]] {
        let ops = try FixtureSuite(directory: FixtureLocator.url("ops-public"))
        var entries: [String: [String: Any]] = [:]
        for name in suiteCases {
            let testCase = try #require(ops.cases.first { $0.name == name })
            entries[name] = testCase.fields
            for file in Set(testCase.inputs.values).union(testCase.outputs.values).union(testCase.grads.values) {
                try FileManager.default.copyItem(at: ops.directory.appendingPathComponent(file), to: directory.appendingPathComponent(file))
            }
        }
        let arch: [String: Any] = ["family": "cifar_resnet", "depth": 8, "widths": [2, 2, 2], "num_classes": 10]
        let model = try ModelZoo.build(architecture: arch).initialize(seed: 7)
        var g = SeededGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 3, 8, 8], using: &g)
        let targets = [3, 9]
        let logits = model(x)
        let (loss, dLogits) = Loss.crossEntropy(logits, targets: targets)
        model.zeroGradients()
        _ = model.backward(dLogits)
        try model.save(to: directory.appendingPathComponent("tiny.safetensors"))
        try Safetensors.write(SafetensorsFile(tensors: Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.parameter.gradient) })),
                              to: directory.appendingPathComponent("tiny.grads.safetensors"))
        try NumPy.write(x, to: directory.appendingPathComponent("tiny.x.npy"))
        try NumPy.write(NumPyArray(shape: [2], elements: .int64(targets.map(Int64.init))), to: directory.appendingPathComponent("tiny.target.npy"))
        try NumPy.write(logits, to: directory.appendingPathComponent("tiny.logits.npy"))
        try NumPy.write(Tensor(shape: [], data: [loss]), to: directory.appendingPathComponent("tiny.loss.npy"))
        entries["tiny_resnet_step"] = [
            "name": "tiny_resnet_step", "op": "model_gradients", "tolerance": 1e-3,
            "attrs": ["arch": arch, "mode": "train"], "parameters": model.parameterCount,
            "weights": "tiny.safetensors", "expected_gradients": "tiny.grads.safetensors",
            "inputs": ["x": "tiny.x.npy", "target": "tiny.target.npy"],
            "outputs": ["logits": "tiny.logits.npy", "loss": "tiny.loss.npy"],
        ]
        return entries
    }

    static func manifest(_ cases: [Any]) throws -> [UInt8] {
        [UInt8](try JSONSerialization.data(withJSONObject: ["format": 1, "suite": "fuzz", "cases": cases], options: [.sortedKeys]))
    }

    /// Runs `body` on a fresh copy of the small suite (its directory and manifest entries).
    func withSuite(_ body: (URL, [String: [String: Any]]) throws -> Void) throws {
        ModelCaseRunner.install()
        try withTemporaryDirectory(prefix: "fuzz-suite") { directory in try body(directory, try Self.makeSuite(in: directory)) }
    }

    @Test("mutated manifests and tensor files: every case passes or fails with a reason, none crashes")
    func verifyEngine() throws { try withSuite { directory, entries in
        let names = entries.keys.sorted()
        let manifestURL = directory.appendingPathComponent("manifest.json")

        // Unmutated, every case passes.
        try Data(try Self.manifest(names.map { entries[$0]! })).write(to: manifestURL)
        let clean = try FixtureVerifier.run(directory: directory, kernels: KernelChoice.allCases)
        #expect(clean.count == names.count)
        for result in clean { #expect(result.passed, "\(result.line)") }

        var m = Mutator(seed: 9)
        var (passed, failed, refused) = (0, 0, 0)
        var reasons: [String: Int] = [:]
        defer {
            print("fuzz suite: \(Self.suiteMutations) mutants, \(passed) cases passed, \(failed) failed, \(refused) manifests refused")
            for (reason, n) in reasons.sorted(by: { $0.value > $1.value }).prefix(40) { print("  \(n)  \(reason)") }
        }
        for i in 0..<Self.suiteMutations {
            let name = names[m.int(names.count)]
            let entry = entries[name]!
            let original = try Self.manifest([entry])
            var restore: (URL, [UInt8])?
            switch m.int(10) {
            case 0..<4: try Data(m.mutateJSON(original)).write(to: manifestURL)
            case 4..<6: try Data(m.mutate(original, donor: original, lengthFields: [])).write(to: manifestURL)
            default:
                // One of the case's files: a tensor, weights or gradients.
                try Data(original).write(to: manifestURL)
                var files: [String] = []
                for key in ["inputs", "outputs", "grads"] { files += (entry[key] as? [String: String] ?? [:]).values.sorted() }
                for key in ["weights", "expected_gradients"] { if let f = entry[key] as? String { files.append(f) } }
                let url = directory.appendingPathComponent(files[m.int(files.count)])
                let bytes = [UInt8](try Data(contentsOf: url))
                restore = (url, bytes)
                let structured = url.pathExtension == "npy" ? m.reshapeNumPy(bytes) : m.reshapeSafetensors(bytes)
                try Data(m.int(3) == 0 ? m.mutate(bytes, donor: bytes, lengthFields: [(0, 8), (8, 2)]) : structured).write(to: url)
            }
            do {
                let results = try FixtureVerifier.run(directory: directory, kernels: i % 4 == 0 ? KernelChoice.allCases : [.fast])
                for result in results where !result.passed { #expect(!(result.failure ?? "").isEmpty) }
                passed += results.filter(\.passed).count
                failed += results.filter { !$0.passed }.count
                for r in results where !r.passed { reasons[String((r.failure ?? "").prefix(70)), default: 0] += 1 }
            } catch is FileFormatError { refused += 1 }
            if let (url, bytes) = restore { try Data(bytes).write(to: url) }
        }
    } }

    @Test("the issue's case: a label of 12 in a 10-class model_gradients case fails the case, naming the file")
    func labelOutOfRange() throws { try withSuite { directory, entries in
        try NumPy.write(NumPyArray(shape: [2], elements: .int64([3, 12])), to: directory.appendingPathComponent("tiny.target.npy"))
        try Data(try Self.manifest([entries["tiny_resnet_step"]!, entries["relu"]!])).write(to: directory.appendingPathComponent("manifest.json"))
        let results = try FixtureVerifier.run(directory: directory)
        #expect(results.map(\.passed) == [false, true])
        #expect(results[0].line.contains("tiny.target.npy: label 12"))
    } }
}

/// Seeded mutations of bytes and of JSON trees.
struct Mutator {
    var g: SeededGenerator
    init(seed: UInt64) { g = SeededGenerator(seed: seed) }

    mutating func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(g.next() % UInt64(n)) }

    /// Bytes that make parsers take unusual paths.
    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x22, 0x27, 0x2C, 0x2D, 0x30, 0x39, 0x5B, 0x7B, 0x7D, 0x28, 0x29]
    /// Absurd replacements for a number in a text header.
    static let absurdTokens = ["-1", "0", "1", "99999999999999999999", "9223372036854775807", "1e308", "-1e308", "2147483648",
                               "1.5", "65536", "4294967296", "true", "null", "\"x\"", "[]", "{}", "-0"]
    /// Length fields' absurd values.
    static let absurdLengths: [UInt64] = [0, 1, 7, 0xFF, 0xFFFF, 0xFFFF_FFFF, 1 << 40, UInt64.max, UInt64(Int64.max), 1 << 31]

    /// One to three mutations of `bytes`: bit flips, interesting bytes, truncation,
    /// splices from `donor`, insertions, deletions, duplications, absurd values in the
    /// given little-endian length fields, absurd numbers in place of digit runs.
    mutating func mutate(_ bytes: [UInt8], donor: [UInt8], lengthFields: [(offset: Int, size: Int)]) -> [UInt8] {
        var b = bytes
        for _ in 0...int(3) {
            switch int(10) {
            case 0 where !b.isEmpty:
                b[int(b.count)] ^= UInt8(1) << UInt8(int(8))
            case 1 where !b.isEmpty:
                b[int(b.count)] = Self.interestingBytes[int(Self.interestingBytes.count)]
            case 2:
                b = Array(b.prefix(int(b.count + 1)))
            case 3 where !donor.isEmpty:
                let start = int(donor.count), length = int(min(64, donor.count - start) + 1)
                let at = int(b.count + 1), cut = min(b.count - at, int(length + 1))
                b.replaceSubrange(at..<at + cut, with: donor[start..<start + length])
            case 4:
                let at = int(b.count + 1)
                b.insert(contentsOf: (0..<int(16) + 1).map { _ in UInt8(truncatingIfNeeded: g.next()) }, at: at)
            case 5 where !b.isEmpty:
                let at = int(b.count), length = min(b.count - at, int(32) + 1)
                b.removeSubrange(at..<at + length)
            case 6 where !b.isEmpty:
                let at = int(b.count), length = min(b.count - at, int(32) + 1)
                b.insert(contentsOf: b[at..<at + length], at: at)
            case 7 where !lengthFields.isEmpty:
                let field = lengthFields[int(lengthFields.count)]
                guard b.count >= field.offset + field.size else { continue }
                let value = int(2) == 0 ? Self.absurdLengths[int(Self.absurdLengths.count)] : g.next()
                for k in 0..<field.size { b[field.offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            default:
                // A run of digits (a shape, a length, an offset, a size) made absurd.
                let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
                guard !digits.isEmpty else { continue }
                var start = digits[int(digits.count)], end = start + 1
                while start > 0 && b[start - 1] >= 0x30 && b[start - 1] <= 0x39 { start -= 1 }
                while end < b.count && b[end] >= 0x30 && b[end] <= 0x39 { end += 1 }
                b.replaceSubrange(start..<end, with: Array(Self.absurdTokens[int(Self.absurdTokens.count)].utf8))
            }
        }
        return b
    }

    /// A shape near `shape`: one extent moved by one, set to 0 or 1, two swapped, one
    /// dropped or added, or a new small shape; at most 4096 elements.
    mutating func nearbyShape(_ shape: [Int]) -> [Int] {
        var s = shape
        switch int(6) {
        case 0 where !s.isEmpty: let i = int(s.count); s[i] = max(0, s[i] + (int(2) == 0 ? -1 : 1))
        case 1 where !s.isEmpty: s[int(s.count)] = int(2)
        case 2 where s.count > 1: s.swapAt(int(s.count), int(s.count))
        case 3 where !s.isEmpty: s.remove(at: int(s.count))
        case 4: s.insert(1 + int(2), at: int(s.count + 1))
        default: s = (0..<int(6)).map { _ in [0, 1, 2, 3, 5, 8][int(6)] }
        }
        return (s.checkedProduct ?? Int.max) <= 4096 ? s : shape
    }

    /// Values like `values`, cycled to `count`, with absurd ones mixed in.
    mutating func nearbyValues(_ values: [Double], count: Int) -> [Double] {
        let special: [Double] = [.nan, .infinity, -.infinity, 1e38, -1e38, 0, -1, 10, 12, 255, 1000, 1e18]
        return (0..<count).map { i in
            int(8) == 0 || values.isEmpty ? special[int(special.count)] : values[i % values.count]
        }
    }

    /// A `.npy` file holding an array near the one in `bytes` (another shape, dtype or
    /// values), well formed: a header edit with the data to match, so the file reaches the
    /// code that uses the array. Byte mutations when `bytes` is not a `.npy` file.
    mutating func reshapeNumPy(_ bytes: [UInt8]) -> [UInt8] {
        guard let array = try? bytes.withUnsafeBytes({ try NumPy.parse($0, path: "seed.npy") }) else {
            return mutate(bytes, donor: bytes, lengthFields: [])
        }
        let shape = int(2) == 0 ? array.shape : nearbyShape(array.shape)
        let count = shape.checkedProduct ?? 0
        let values = nearbyValues(array.floats.map(Double.init), count: count)
        let elements: NumPyArray.Elements
        switch int(6) {
        case 0: elements = .float64(values)
        case 1: elements = .uint8(values.map { UInt8(clamping: Int(exactly: $0.rounded()) ?? 0) })
        case 2: elements = .int64(values.map { Int64(exactly: $0.rounded()) ?? Int64.max })
        default:
            if case .int64 = array.elements { elements = .int64(values.map { Int64(exactly: $0.rounded()) ?? -1 }) } else {
                elements = .float32(values.map(Float.init))
            }
        }
        return (try? [UInt8](NumPy.encode(NumPyArray(shape: shape, elements: elements), path: "mutant.npy"))) ?? bytes
    }

    /// A safetensors file like `bytes` with one tensor of another shape or values, one
    /// dropped, or one renamed; well formed. Byte mutations when it is not one.
    mutating func reshapeSafetensors(_ bytes: [UInt8]) -> [UInt8] {
        guard var file = try? bytes.withUnsafeBytes({ try Safetensors.parse($0, path: "seed.safetensors") }),
              !file.tensors.isEmpty else { return mutate(bytes, donor: bytes, lengthFields: [(0, 8)]) }
        let name = file.tensors.keys.sorted()[int(file.tensors.count)]
        let tensor = file.tensors[name]!
        switch int(4) {
        case 0: file.tensors[name] = nil
        case 1: file.tensors[name] = nil; file.tensors[name + "x"] = tensor
        default:
            let shape = nearbyShape(tensor.shape)
            file.tensors[name] = Tensor(shape: shape, data: nearbyValues(tensor.data.map(Double.init), count: shape.checkedProduct ?? 0).map(Float.init))
        }
        if int(3) == 0, let key = file.metadata.keys.sorted().first { file.metadata[key] = ["-1", "x", "", "1e40", "nan", "99999999999999999999"][int(6)] }
        return (try? [UInt8](Safetensors.encode(file, path: "mutant.safetensors"))) ?? bytes
    }

    /// JSON values of every type, in and out of range.
    mutating func absurdValue(_ donor: Any) -> Any {
        let values: [Any] = [0, -1, 1, 2, 3, 7, 2_147_483_648, 9_007_199_254_740_993 as Int64, 1e300, -1e300, 0.5, 1.5,
                             true, false, NSNull(), "", "x", "relu", "conv2d", "model_gradients", "cifar_resnet",
                             [Any](), [0], [1, 1], [-1, 5], [3, 3, 3], [String: Any](), ["family": "cifar_resnet", "depth": 8] as [String: Any]]
        return int(8) == 0 ? donor : values[int(values.count)]
    }

    /// The JSON document with one node replaced by an absurd value (or by another node of
    /// the document), deleted, or, for a number, scaled; bytes unchanged if it is not JSON.
    mutating func mutateJSON(_ bytes: [UInt8]) -> [UInt8] {
        guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return mutate(bytes, donor: bytes, lengthFields: []) }
        var paths: [[Any]] = []
        func collect(_ node: Any, _ path: [Any]) {
            paths.append(path)
            if let o = node as? [String: Any] { for (k, v) in o { collect(v, path + [k]) } }
            if let a = node as? [Any] { for (i, v) in a.enumerated() { collect(v, path + [i]) } }
        }
        collect(root, [])
        paths.sort { "\($0)" < "\($1)" }     // dictionary order is not seeded
        let target = paths[int(paths.count)]
        let donorPath = paths[int(paths.count)]
        func node(_ n: Any, _ path: ArraySlice<Any>) -> Any? {
            guard let first = path.first else { return n }
            if let k = first as? String, let o = n as? [String: Any], let v = o[k] { return node(v, path.dropFirst()) }
            if let i = first as? Int, let a = n as? [Any], a.indices.contains(i) { return node(a[i], path.dropFirst()) }
            return nil
        }
        let donor = node(root, donorPath[...]) ?? NSNull()
        let action = int(4)
        let replacement = absurdValue(donor)
        func rewrite(_ n: Any, _ path: ArraySlice<Any>) -> Any? {
            guard let first = path.first else { return action == 0 ? nil : replacement }
            if let k = first as? String, var o = n as? [String: Any], let v = o[k] {
                o[k] = rewrite(v, path.dropFirst())
                return o
            }
            if let i = first as? Int, var a = n as? [Any], a.indices.contains(i) {
                if let v = rewrite(a[i], path.dropFirst()) { a[i] = v } else { a.remove(at: i) }
                return a
            }
            return n
        }
        let mutated = rewrite(root, target[...]) ?? NSNull()
        guard JSONSerialization.isValidJSONObject(mutated) || mutated is NSNull,
              let data = try? JSONSerialization.data(withJSONObject: mutated, options: [.sortedKeys, .fragmentsAllowed]) else { return bytes }
        return [UInt8](data)
    }
}
