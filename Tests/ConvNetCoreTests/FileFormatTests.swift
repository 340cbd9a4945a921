import Foundation
import Testing
@testable import ConvNetCore

// MARK: - Helpers of these suites

/// The FileFormatError `body` throws, or nil if it throws nothing or something else.
private func formatError(_ body: () throws -> Any) -> FileFormatError? {
    do { _ = try body(); return nil } catch let error as FileFormatError { return error } catch { return nil }
}

/// The little-endian bytes of `values` (the test hosts are little-endian).
private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

/// A hand-built .npy file: magic, version, header length, `header` (padded to 64 unless
/// `pad` is false), then `data`.
private func npy(_ header: String, version: UInt8 = 1, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
    var h = Array(header.utf8)
    let prefix = version == 1 ? 10 : 12
    if pad {
        while (prefix + h.count + 1) % 64 != 0 { h.append(0x20) }
        h.append(0x0A)
    }
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    out += version == 1 ? [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] : bytes([UInt32(h.count)])
    return out + h + data
}

/// A hand-built safetensors file: the header length (or `declaredLength`), the JSON, the data.
private func safetensors(_ json: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(json.utf8)
    return bytes([declaredLength ?? UInt64(h.count)]) + h + data
}

/// Writes each `(file name, bytes, expected reason fragment)` into a temporary directory,
/// reads it with `read`, and checks the FileFormatError names the file and the fault.
private func expectFormatErrors(_ cases: [(String, [UInt8], String)], read: (URL) throws -> Any,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
    try withTemporaryDirectory(prefix: "convnet-io") { directory in
        for (name, content, fragment) in cases {
            let url = directory.appendingPathComponent(name)
            try Data(content).write(to: url)
            let error = formatError { try read(url) }
            #expect(error != nil, "\(name): no FileFormatError", sourceLocation: sourceLocation)
            #expect(error?.description.contains(name) == true, "\(name): \(String(describing: error))", sourceLocation: sourceLocation)
            #expect(error?.reason.contains(fragment) == true,
                    "\(name): expected '\(fragment)' in \(String(describing: error))", sourceLocation: sourceLocation)
        }
    }
}

// MARK: - NumPy

@Suite("NumPy .npy files")
struct NumPyFileTests {
    @Test("float32 tensors survive a write and a read with shape and bits intact")
    func float32RoundTrip() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("x.npy")
            var values: [Float] = randomArray(2 * 3 * 5 * 7, seed: 11)
            values[0] = -0.0; values[1] = .infinity; values[2] = .leastNonzeroMagnitude; values[3] = .greatestFiniteMagnitude
            let tensor = Tensor(shape: [2, 3, 5, 7], data: values)
            try NumPy.write(tensor, to: url)
            let array = try NumPy.read(url)
            #expect(array.shape == [2, 3, 5, 7])
            #expect(array.elements == .float32(values))
            #expect(array.tensor.data.map(\.bitPattern) == values.map(\.bitPattern))
        }
    }

    @Test("float64, uint8 and int64 arrays keep their dtype through a round trip")
    func otherDtypesRoundTrip() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let arrays = [
                NumPyArray(shape: [3, 2], elements: .float64([1.5, -2.25, .pi, 1e300, -1e-300, 0])),
                NumPyArray(shape: [4], elements: .uint8([0, 1, 128, 255])),
                NumPyArray(shape: [2, 2], elements: .int64([0, -1, .max, .min])),
            ]
            for (i, array) in arrays.enumerated() {
                let url = directory.appendingPathComponent("a\(i).npy")
                try NumPy.write(array, to: url)
                #expect(try NumPy.read(url) == array)
            }
        }
    }

    @Test("scalars (shape ()) and arrays with a zero-length dimension round trip")
    func scalarsAndEmptyArrays() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let arrays = [
                NumPyArray(shape: [], elements: .float32([42.5])),
                NumPyArray(shape: [], elements: .int64([7])),
                NumPyArray(shape: [0], elements: .float32([])),
                NumPyArray(shape: [3, 0, 2], elements: .uint8([])),
                NumPyArray(shape: [0, 5], elements: .float64([])),
            ]
            for (i, array) in arrays.enumerated() {
                let url = directory.appendingPathComponent("s\(i).npy")
                try NumPy.write(array, to: url)
                #expect(try NumPy.read(url) == array)
            }
        }
    }

    @Test("written headers are version 1.0, padded with spaces to 64 bytes and end in a newline")
    func writtenHeaderLayout() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("h.npy")
            try NumPy.write(NumPyArray(shape: [5], elements: .uint8([1, 2, 3, 4, 5])), to: url)
            let file = [UInt8](try Data(contentsOf: url))
            #expect(Array(file[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
            let headerLength = Int(file[8]) | Int(file[9]) << 8
            #expect((10 + headerLength) % 64 == 0)
            #expect(file[10 + headerLength - 1] == 0x0A)
            let header = String(decoding: file[10 ..< 10 + headerLength], as: UTF8.self)
            #expect(header.hasPrefix("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"))
            #expect(header.dropLast().allSatisfy { $0 != "\n" })
            #expect(Array(file[(10 + headerLength)...]) == [1, 2, 3, 4, 5])
        }
    }

    @Test("version 2.0 and 3.0 headers, '<i4', '<u1' and big-endian '>f4', '>i8' arrays are read")
    func handBuiltVariants() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let cases: [(String, [UInt8], NumPyArray)] = [
                ("v2.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", version: 2, data: bytes([Float(1.5), -3])),
                 NumPyArray(shape: [2], elements: .float32([1.5, -3]))),
                ("v3.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", version: 3, data: bytes([2.75])),
                 NumPyArray(shape: [], elements: .float64([2.75]))),
                ("i4.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", data: bytes([Int32(-5), 0, .max])),
                 NumPyArray(shape: [3], elements: .int64([-5, 0, Int64(Int32.max)]))),
                ("u1.npy", npy("{'descr': '<u1', 'fortran_order': False, 'shape': (1, 2), }", data: [9, 250]),
                 NumPyArray(shape: [1, 2], elements: .uint8([9, 250]))),
                ("be.npy", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data: [0x3F, 0x80, 0, 0, 0xC0, 0x20, 0, 0]),
                 NumPyArray(shape: [2], elements: .float32([1, -2.5]))),
                ("bei8.npy", npy("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 0, 0, 1, 2]),
                 NumPyArray(shape: [1], elements: .int64([258]))),
                // Key order, double quotes, Python 2 longs, no trailing comma, unpadded header.
                ("odd.npy", npy("{\"shape\": (2L, 1L), 'fortran_order': False, 'descr': '<i8'}", data: bytes([Int64(4), 5]), pad: false),
                 NumPyArray(shape: [2, 1], elements: .int64([4, 5]))),
            ]
            for (name, content, expected) in cases {
                let url = directory.appendingPathComponent(name)
                try Data(content).write(to: url)
                #expect(try NumPy.read(url) == expected, "\(name)")
            }
        }
    }

    @Test("floats and integers convert every dtype, truncating floats without trapping")
    func conversions() {
        let d = NumPyArray(shape: [6], elements: .float64([2.9, -2.9, .nan, 1e300, -.infinity, 0.5]))
        #expect(d.integers == [2, -2, 0, Int.max, Int.min, 0])
        #expect(d.floats[0] == Float(2.9) && d.floats[3] == .infinity)
        let f = NumPyArray(shape: [2], elements: .float32([7.99, -0.5]))
        #expect(f.integers == [7, 0])
        let u = NumPyArray(shape: [3], elements: .uint8([0, 7, 255]))
        #expect(u.floats == [0, 7, 255] && u.integers == [0, 7, 255])
        let i = NumPyArray(shape: [2], elements: .int64([-3, 1 << 40]))
        #expect(i.floats == [-3, 0x1p40] && i.integers == [-3, 1 << 40])
        #expect(u.tensor.shape == [3] && u.tensor.data == [0, 7, 255])
    }

    @Test("the conv_3x3_s1_p1 fixture input is a float32 [1, 3, 8, 8] with NumPy's values")
    func opsFixture() throws {
        let array = try NumPy.read(FixtureLocator.url("ops-public/conv_3x3_s1_p1.inputs.x.npy"))
        #expect(array.shape == [1, 3, 8, 8])
        guard case .float32(let values) = array.elements else { Issue.record("not float32"); return }
        #expect(values.first == -1.5255959 && values.last == 0.9473389)
        let sum = values.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - 3.530015695374459) < 1e-9)
    }

    @Test("MNIST-5k holds 5000 uint8 28x28 digits and their labels 0-9")
    func mnistFixture() throws {
        let images = try NumPy.read(FixtureLocator.url("mnist-5k/images.npy"))
        #expect(images.shape == [5000, 28, 28])
        guard case .uint8(let pixels) = images.elements else { Issue.record("not uint8"); return }
        #expect(pixels[0..<784].reduce(0) { $0 + Int($1) } == 31095)
        #expect(pixels.reduce(0) { $0 + Int($1) } == 131_267_102)
        let labels = try NumPy.read(FixtureLocator.url("mnist-5k/labels.npy"))
        #expect(labels.shape == [5000])
        #expect(labels.integers.min() == 0 && labels.integers.max() == 9)
    }

    @Test("malformed .npy files throw a FileFormatError naming the file and the fault")
    func malformedFiles() throws {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        let six = bytes([Float](repeating: 1, count: 6))
        var hugeLength = npy(good, data: six)
        hugeLength[8] = 0xFF; hugeLength[9] = 0xFF
        try expectFormatErrors([
            ("empty.npy", [], "empty file"),
            ("magic.npy", Array("PK\u{3}\u{4}zipfile".utf8), "not a NumPy .npy file (magic 'PK"),
            ("short-magic.npy", [0x93, 0x4E, 0x55], "truncated"),
            ("version.npy", [0x93] + Array("NUMPY".utf8) + [4, 0, 0, 0], "unsupported .npy format version 4.0"),
            ("no-length.npy", [0x93] + Array("NUMPY".utf8) + [1, 0, 5], "truncated"),
            ("header-length.npy", hugeLength, "header length field says 65535 bytes of header"),
            ("dtype.npy", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8)),
             "unsupported dtype '<c8'"),
            ("object.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0]), "unsupported dtype '|O'"),
            ("structured.npy", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"), "structured dtypes"),
            ("fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: six), "fortran_order"),
            ("truncated.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (300,), }", data: [UInt8](repeating: 0, count: 800)),
             "truncated: header says shape [300] of '<f4' (1200 bytes of data), file has 800"),
            ("trailing.npy", npy(good, data: six + [1, 2, 3]), "3 unexpected bytes after the 24 bytes"),
            ("no-shape.npy", npy("{'descr': '<f4', 'fortran_order': False, }"), "missing or non-tuple 'shape'"),
            ("extra-key.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1, }"), "unsupported value for 'x'"),
            ("syntax.npy", npy("{'descr' '<f4', 'fortran_order': False, 'shape': (), }"), "expected ':'"),
            ("unterminated.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3"), "unterminated shape tuple"),
            ("negative.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"), "negative extent"),
            ("overflow.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), "more elements than fit"),
            ("bytes-overflow.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }"), "needs more bytes than fit"),
            ("extent.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"), "shape extent too large"),
            ("bool.npy", npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (), }"), "unsupported value for 'fortran_order'"),
            ("word.npy", npy("{'descr': '<f4', 'fortran_order': Tru, 'shape': (), }"), "unknown word"),
            ("open-dict.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()"), "unterminated dictionary"),
            ("order.npy", npy("{'descr': '|f4', 'fortran_order': False, 'shape': (), }", data: [0, 0, 0, 0]), "no byte order"),
        ], read: { try NumPy.read($0) })
    }
}

// MARK: - Safetensors

@Suite("safetensors files")
struct SafetensorsFileTests {
    @Test("F32 and I64 tensors and the metadata survive a write and a read")
    func roundTrip() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            let file = SafetensorsFile(
                tensors: ["conv1.weight": Tensor(shape: [4, 3, 3, 3], data: randomArray(108, seed: 3)),
                          "fc.bias": Tensor(shape: [10], data: randomArray(10, seed: 4)),
                          "scalar": Tensor(shape: [], data: [2.5]),
                          "empty": Tensor(shape: [0, 4], data: []),
                          "odd \"name\"\\\n": Tensor(shape: [1], data: [1])],
                integerTensors: ["bn1.num_batches_tracked": (shape: [], values: [123_456_789_012]),
                                 "ids": (shape: [2, 2], values: [-1, 0, .max, .min])],
                metadata: ["format": "pt", "note": "quote \" and ünïcode"])
            try Safetensors.write(file, to: url)
            let read = try Safetensors.read(url)
            #expect(read.tensors == file.tensors)
            #expect(read.metadata == file.metadata)
            #expect(read.integerTensors.count == 2)
            #expect(read.integerTensors["bn1.num_batches_tracked"]?.shape == [])
            #expect(read.integerTensors["bn1.num_batches_tracked"]?.values == [123_456_789_012])
            #expect(read.integerTensors["ids"]?.shape == [2, 2])
            #expect(read.integerTensors["ids"]?.values == [-1, 0, .max, .min])
        }
    }

    @Test("written headers list names in order with contiguous offsets, padded to 8 bytes")
    func writtenLayout() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("layout.safetensors")
            let file = SafetensorsFile(tensors: ["b": Tensor(shape: [3], data: [1, 2, 3]), "a": Tensor(shape: [1, 2], data: [4, 5])],
                                       integerTensors: ["c": (shape: [1], values: [9])])
            try Safetensors.write(file, to: url)
            let raw = [UInt8](try Data(contentsOf: url))
            let n = Int(raw[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            #expect((8 + n) % 8 == 0)
            #expect(raw.count == 8 + n + 8 + 12 + 8)
            let text = String(decoding: raw[8 ..< 8 + n], as: UTF8.self)
            #expect(text.hasPrefix("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[20,28]}}"))
            #expect(text.hasSuffix("}") || text.hasSuffix(" "))
            #expect(!text.contains("__metadata__"))
            #expect(Array(raw[(8 + n)...]) == bytes([Float(4), 5, 1, 2, 3]) + bytes([Int64(9)]))
        }
    }

    @Test("F16 and BF16 decode to exact floats: 1, -2.5, 65504, subnormals, infinities, NaN")
    func halfPrecision() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("half.safetensors")
            let f16: [UInt16] = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x3555]
            let bf16: [UInt16] = [0x3F80, 0xC020, 0x7F7F, 0x0001, 0x7F80, 0x477F]
            let json = #"{"h":{"dtype":"F16","shape":[2,5],"data_offsets":[0,20]},"b":{"dtype":"BF16","shape":[6],"data_offsets":[20,32]},"__metadata__":{"format":"pt"}}"#
            try Data(safetensors(json, data: bytes(f16) + bytes(bf16))).write(to: url)
            let file = try Safetensors.read(url)
            let h = try #require(file.tensors["h"])
            #expect(h.shape == [2, 5])
            #expect(Array(h.data[0..<8]) == [1, -2.5, 65504, 0x1p-24, 1023 * 0x1p-24, 0, .infinity, -.infinity])
            #expect(h.data[5].sign == .minus)
            #expect(h.data[8].isNaN)
            #expect(h.data[9] == 0.333251953125)
            let b = try #require(file.tensors["b"])
            #expect(b.data == [1, -2.5, Float(bitPattern: 0x7F7F_0000), 0x1p-133, .infinity, 65280])
            #expect(file.metadata == ["format": "pt"])
        }
    }

    @Test("every binary16 bit pattern converts as Swift's Float16 does")
    func allHalves() {
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let ours = RawConversion.floatFromHalf(bits)
            let swift = Float(Float16(bitPattern: bits))
            #expect(ours.bitPattern == swift.bitPattern || (ours.isNaN && swift.isNaN), "half 0x\(String(bits, radix: 16))")
            if !(ours.bitPattern == swift.bitPattern || (ours.isNaN && swift.isNaN)) { break }
        }
        #endif
    }

    @Test("F64 tensors become Float tensors and I32 tensors become integer tensors")
    func wideAndNarrow() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("mixed.safetensors")
            let json = #"{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"i":{"dtype":"I32","shape":[3],"data_offsets":[16,28]}}"#
            try Data(safetensors(json, data: bytes([0.5, -1e10]) + bytes([Int32(-7), 8, .min]))).write(to: url)
            let file = try Safetensors.read(url)
            #expect(file.tensors["d"]?.data == [0.5, -1e10])
            #expect(file.integerTensors["i"]?.values == [-7, 8, Int64(Int32.min)])
        }
    }

    @Test("the ResNet fixture holds torchvision names: conv1.weight [64, 3, 7, 7], fc, num_batches_tracked")
    func resnetFixture() throws {
        let file = try Safetensors.read(FixtureLocator.url("models-public/resnet_basic_1111.safetensors"))
        #expect(file.tensors.count == 62)
        #expect(file.integerTensors.count == 12)
        let conv1 = try #require(file.tensors["conv1.weight"])
        #expect(conv1.shape == [64, 3, 7, 7])
        #expect(Array(conv1.data[0..<4]) == [-0.0019817352294921875, 0.01528167724609375, -0.02471923828125, -0.0596923828125])
        #expect(file.tensors["fc.weight"]?.shape == [10, 512])
        #expect(file.tensors["fc.bias"].map { Array($0.data[0..<3]) } == [-0.005947113037109375, 0.019439697265625, 0.002956390380859375])
        #expect(file.tensors["layer4.0.downsample.0.weight"]?.shape == [512, 256, 1, 1])
        let tracked = try #require(file.integerTensors["bn1.num_batches_tracked"])
        #expect(tracked.shape == [] && tracked.values == [0])
        #expect(file.integerTensors.keys.allSatisfy { $0.hasSuffix("num_batches_tracked") })
    }

    @Test("the CIFAR ResNet-8 fixture holds F32 weights as PyTorch wrote them")
    func cifarFixture() throws {
        let file = try Safetensors.read(FixtureLocator.url("grads-public/cifar_resnet8.safetensors"))
        #expect(file.tensors.count == 47 && file.integerTensors.count == 9)
        let conv1 = try #require(file.tensors["conv1.weight"])
        #expect(conv1.shape == [16, 3, 3, 3])
        #expect(Array(conv1.data[0..<3]) == [0.18754012882709503, 0.09251454472541809, -0.020662222057580948])
        #expect(abs(conv1.data.reduce(0.0) { $0 + Double($1) } - 3.670277198543772) < 1e-9)
    }

    @Test("malformed safetensors files throw a FileFormatError naming the file, tensor and fault")
    func malformedFiles() throws {
        let f4 = bytes([Float](repeating: 1, count: 6))
        func entry(_ dtype: String = "F32", shape: String = "[2,3]", offsets: String = "[0,24]") -> String {
            #"{"w":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}}"#
        }
        try expectFormatErrors([
            ("tiny.safetensors", [1, 2, 3], "truncated: file has 3 bytes"),
            ("length.safetensors", safetensors(entry(), data: f4, declaredLength: 1200), "truncated: header length field says 1200 bytes"),
            ("hostile-length.safetensors", safetensors(entry(), data: f4, declaredLength: .max), "truncated: header length field says 18446744073709551615"),
            ("zero-length.safetensors", safetensors("", data: f4), "cannot hold a JSON object"),
            ("json.safetensors", safetensors(#"{"w": {"dtype": "F32", "#, data: f4), "header is not valid JSON"),
            ("array.safetensors", safetensors("[1, 2]", data: f4), "header is not a JSON object"),
            ("dtype.safetensors", safetensors(entry("U8"), data: f4), "tensor 'w': unsupported dtype 'U8'"),
            ("no-dtype.safetensors", safetensors(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: f4), "tensor 'w': missing or non-string 'dtype'"),
            ("entry.safetensors", safetensors(#"{"w":[1,2]}"#, data: f4), "tensor 'w': entry is not a JSON object"),
            ("mismatch.safetensors", safetensors(entry(offsets: "[0,20]"), data: f4), "tensor 'w': shape [2, 3] needs 24 bytes of F32 but data_offsets span 20"),
            ("f16-mismatch.safetensors", safetensors(entry("F16"), data: f4), "shape [2, 3] needs 12 bytes of F16 but data_offsets span 24"),
            ("past-end.safetensors", safetensors(entry(offsets: "[4,28]"), data: f4), "data_offsets [4, 28] reach past the end of the data (24 bytes"),
            ("truncated-data.safetensors", safetensors(entry(), data: Array(f4[0..<20])), "reach past the end of the data (20 bytes"),
            ("backwards.safetensors", safetensors(entry(offsets: "[24,0]"), data: f4), "data_offsets [24, 0] run backwards"),
            ("offsets.safetensors", safetensors(entry(offsets: "[0]"), data: f4), "'data_offsets' is not a list of two non-negative integers"),
            ("negative.safetensors", safetensors(entry(offsets: "[-4,20]"), data: f4), "'data_offsets' is not a list"),
            ("shape.safetensors", safetensors(entry(shape: "[2,-3]"), data: f4), "'shape' is not a list of non-negative integers"),
            ("fraction.safetensors", safetensors(entry(shape: "[2.5]"), data: f4), "'shape' is not a list"),
            ("string-shape.safetensors", safetensors(entry(shape: "\"2,3\""), data: f4), "'shape' is not a list"),
            ("overflow.safetensors", safetensors(entry(shape: "[4294967296,4294967296,4]"), data: f4), "has too many elements"),
            ("bytes-overflow.safetensors", safetensors(entry("F64", shape: "[2305843009213693952]"), data: f4), "needs too many bytes of F64"),
            ("metadata.safetensors", safetensors(#"{"__metadata__":{"epoch":3}}"#, data: []), "__metadata__ value of 'epoch' is not a string"),
        ], read: { try Safetensors.read($0) })
    }

    @Test("writing refuses a name that is both a float and an integer tensor, or a wrong value count")
    func writerChecks() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("bad.safetensors")
            let both = SafetensorsFile(tensors: ["x": Tensor(shape: [1], data: [1])], integerTensors: ["x": (shape: [1], values: [1])])
            #expect(formatError { try Safetensors.write(both, to: url) }?.reason.contains("both a float and an integer") == true)
            let count = SafetensorsFile(integerTensors: ["n": (shape: [2], values: [1])])
            #expect(formatError { try Safetensors.write(count, to: url) }?.reason.contains("shape [2] but 1 values") == true)
            #expect(!FileManager.default.fileExists(atPath: url.path))
        }
    }
}

// MARK: - PPM

@Suite("PPM and PGM images")
struct PPMFileTests {
    @Test("RGB (P6) and grey (P5) images survive a write and a read")
    func roundTrip() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            var g = SeededGenerator(seed: 5)
            for (channels, name) in [(3, "rgb.ppm"), (1, "grey.pgm")] {
                let (w, h) = (7, 5)
                let pixels = (0..<(w * h * channels)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
                let image = Image(width: w, height: h, channels: channels, pixels: pixels)
                let url = directory.appendingPathComponent(name)
                try PPM.write(image, to: url)
                let raw = [UInt8](try Data(contentsOf: url))
                #expect(Array(raw[0..<2]) == Array((channels == 3 ? "P6" : "P5").utf8))
                #expect(try PPM.read(url) == image)
            }
        }
    }

    @Test("chelsea.ppm is a 451x300 RGB photograph with the pixels NumPy reads")
    func chelseaFixture() throws {
        let image = try PPM.read(FixtureLocator.url("photos/chelsea.ppm"))
        #expect(image.width == 451 && image.height == 300 && image.channels == 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[(y * 451 + x) * 3 ..< (y * 451 + x) * 3 + 3]) }
        #expect(pixel(0, 0) == [143, 120, 104])
        #expect(pixel(200, 150) == [125, 64, 35])
        #expect(pixel(450, 299) == [162, 138, 128])
        #expect(image.pixels.reduce(0) { $0 + Int($1) } == 46_802_357)
    }

    @Test("headers with comments and odd whitespace are read, and maxval 15 is scaled to 0...255")
    func headerVariants() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("comments.ppm")
            try Data(Array("P6 # a comment\n#another\r\n\t2  # width\n 1\n#maxval next\n255\n".utf8) + [1, 2, 3, 4, 5, 6, 99]).write(to: url)
            #expect(try PPM.read(url) == Image(width: 2, height: 1, channels: 3, pixels: [1, 2, 3, 4, 5, 6]))
            let small = directory.appendingPathComponent("maxval15.pgm")
            try Data(Array("P5 3 1 15 ".utf8) + [0, 8, 15]).write(to: small)
            #expect(try PPM.read(small).pixels == [0, 136, 255])
        }
    }

    @Test("malformed PPM files throw a FileFormatError naming the file and the fault")
    func malformedFiles() throws {
        try expectFormatErrors([
            ("empty.ppm", [], "empty file"),
            ("ascii.ppm", Array("P3\n1 1\n255\n0 0 0\n".utf8), "not a binary PPM/PGM file (magic 'P3')"),
            ("png.ppm", [0x89, 0x50, 0x4E, 0x47], "not a PPM file (magic '\\x89P')"),
            ("truncated.ppm", Array("P6\n4 4\n255\n".utf8) + [UInt8](repeating: 0, count: 40), "truncated: header says 4x4 RGB (48 bytes of pixels), file has 40"),
            ("grey-truncated.pgm", Array("P5\n4 4\n255\n".utf8) + [1], "truncated: header says 4x4 grey (16 bytes of pixels), file has 1"),
            ("no-height.ppm", Array("P6\n4".utf8), "truncated: file ends before the height"),
            ("no-data.ppm", Array("P6\n1 1\n255".utf8), "no pixel data"),
            ("letters.ppm", Array("P6\nfour 4\n255\n".utf8), "expected the width, found 'f'"),
            ("glued.ppm", Array("P64 4 255\n".utf8), "no whitespace before the width"),
            ("after-maxval.ppm", Array("P6 1 1 255x123".utf8), "expected one whitespace after the maxval"),
            ("zero.ppm", Array("P6\n0 4\n255\n".utf8), "image has no pixels (0x4)"),
            ("maxval0.ppm", Array("P6\n1 1\n0\n\0\0\0".utf8), "maxval 0 is invalid"),
            ("deep.ppm", Array("P6\n1 1\n65535\n".utf8) + [UInt8](repeating: 0, count: 6), "16-bit samples (maxval 65535) are not supported"),
            ("maxval-range.ppm", Array("P6\n1 1\n70000\n".utf8), "maxval 70000 is out of range"),
            ("huge.ppm", Array("P6\n99999999999999999999 1\n255\n".utf8), "header width is too large"),
            ("sample.pgm", Array("P5 2 1 15\n".utf8) + [3, 16], "sample 16 at byte 11 exceeds maxval 15"),
        ], read: { try PPM.read($0) })
    }
}

// MARK: - PNG

/// A PNG decoded by the tests' own reader (independent of the writer): chunks checked
/// against a bit-by-bit CRC-32, the zlib stream inflated and its Adler-32 checked.
private struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colourType = 0
    var compressionMethod = 0, filterMethod = 0, interlace = 0
    var chunkTypes: [String] = []
    var scanlines: [UInt8] = []
    var blockTypes: [Int] = []

    init(_ file: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], sourceLocation: sourceLocation)
        var position = 8
        var idat: [UInt8] = []
        func be32(_ i: Int) -> Int { Int(file[i]) << 24 | Int(file[i + 1]) << 16 | Int(file[i + 2]) << 8 | Int(file[i + 3]) }
        while position + 12 <= file.count {
            let length = be32(position)
            let type = String(decoding: file[position + 4 ..< position + 8], as: UTF8.self)
            try #require(position + 12 + length <= file.count, sourceLocation: sourceLocation)
            let body = Array(file[position + 8 ..< position + 8 + length])
            let crc = UInt32(be32(position + 8 + length))
            #expect(crc == bitwiseCRC32(Array(type.utf8) + body), "CRC of \(type)", sourceLocation: sourceLocation)
            chunkTypes.append(type)
            if type == "IHDR" {
                width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                (bitDepth, colourType, compressionMethod, filterMethod, interlace) = (Int(body[8]), Int(body[9]), Int(body[10]), Int(body[11]), Int(body[12]))
            } else if type == "IDAT" {
                idat += body
            }
            position += 12 + length
        }
        #expect(position == file.count, "bytes after the last chunk", sourceLocation: sourceLocation)
        try #require(idat.count >= 6, sourceLocation: sourceLocation)
        #expect(idat[0] & 0x0F == 8 && (Int(idat[0]) << 8 | Int(idat[1])) % 31 == 0 && idat[1] & 0x20 == 0,
                "zlib header", sourceLocation: sourceLocation)
        var inflater = Inflater(bytes: Array(idat[2...]))
        scanlines = try inflater.inflate()
        blockTypes = inflater.blockTypes
        let adler = idat.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(adler == simpleAdler32(scanlines), "Adler-32", sourceLocation: sourceLocation)
        #expect(inflater.position + 4 == idat.count - 2, "bytes after the deflate stream", sourceLocation: sourceLocation)
    }

    /// The pixels: every row's filter (0-4) undone.
    func unfiltered(bytesPerPixel bpp: Int) throws -> [UInt8] {
        let rowBytes = width * bpp
        try #require(scanlines.count == height * (rowBytes + 1))
        var out = [UInt8](repeating: 0, count: height * rowBytes)
        for y in 0..<height {
            let filter = scanlines[y * (rowBytes + 1)]
            for i in 0..<rowBytes {
                let x = scanlines[y * (rowBytes + 1) + 1 + i]
                let a = i >= bpp ? Int(out[y * rowBytes + i - bpp]) : 0
                let b = y > 0 ? Int(out[(y - 1) * rowBytes + i]) : 0
                let c = i >= bpp && y > 0 ? Int(out[(y - 1) * rowBytes + i - bpp]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default:
                    Issue.record("filter type \(filter)")
                    return []
                }
                out[y * rowBytes + i] = x &+ UInt8(predictor)
            }
        }
        return out
    }
}

private func bitwiseCRC32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        c ^= UInt32(byte)
        for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~c
}

private func simpleAdler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in bytes { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    return b << 16 | a
}

private struct InflateError: Error { var message: String }

/// A small inflater (RFC 1951) for stored and fixed-Huffman blocks, in the manner of
/// zlib's `puff.c`: canonical codes decoded bit by bit.
private struct Inflater {
    let bytes: [UInt8]
    var position = 0
    var bitBuffer = 0
    var bitCount = 0
    var blockTypes: [Int] = []

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func bits(_ n: Int) throws -> Int {
        var value = bitBuffer
        while bitCount < n {
            guard position < bytes.count else { throw InflateError(message: "out of input") }
            value |= Int(bytes[position]) << bitCount
            position += 1
            bitCount += 8
        }
        bitBuffer = value >> n
        bitCount -= n
        return value & ((1 << n) - 1)
    }

    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []
        init(lengths: [Int]) {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            for length in 1..<16 { for (symbol, l) in lengths.enumerated() where l == length { symbols.append(symbol) } }
        }
    }

    mutating func decode(_ h: Huffman) throws -> Int {
        var code = 0, first = 0, index = 0
        for length in 1..<16 {
            code |= try bits(1)
            let count = h.counts[length]
            if code - count < first { return h.symbols[index + code - first] }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw InflateError(message: "invalid code")
    }

    mutating func inflate() throws -> [UInt8] {
        var out: [UInt8] = []
        let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
        let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
        let literalCode = Huffman(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
        let distanceCode = Huffman(lengths: [Int](repeating: 5, count: 30))
        var final = 0
        repeat {
            final = try bits(1)
            let type = try bits(2)
            blockTypes.append(type)
            switch type {
            case 0:
                bitBuffer = 0; bitCount = 0
                guard position + 4 <= bytes.count else { throw InflateError(message: "stored header") }
                let length = Int(bytes[position]) | Int(bytes[position + 1]) << 8
                let complement = Int(bytes[position + 2]) | Int(bytes[position + 3]) << 8
                guard length == ~complement & 0xFFFF, position + 4 + length <= bytes.count else { throw InflateError(message: "stored length") }
                out += bytes[position + 4 ..< position + 4 + length]
                position += 4 + length
            case 1:
                while true {
                    let symbol = try decode(literalCode)
                    if symbol < 256 { out.append(UInt8(symbol)); continue }
                    if symbol == 256 { break }
                    guard symbol - 257 < 29 else { throw InflateError(message: "length symbol \(symbol)") }
                    let length = lengthBase[symbol - 257] + (try bits(lengthExtra[symbol - 257]))
                    let d = try decode(distanceCode)
                    guard d < 30 else { throw InflateError(message: "distance symbol \(d)") }
                    let distance = distanceBase[d] + (try bits(distanceExtra[d]))
                    guard distance <= out.count, distance <= 32768 else { throw InflateError(message: "distance \(distance) too far") }
                    for _ in 0..<length { out.append(out[out.count - distance]) }
                }
            default:
                throw InflateError(message: "block type \(type) not handled by the test inflater")
            }
        } while final == 0
        return out
    }
}

@Suite("PNG writer")
struct PNGFileTests {
    static func testImage(width: Int, height: Int, channels: Int, seed: UInt64) -> Image {
        // Smooth gradients with noise and a flat band: every filter and match length gets used.
        var g = SeededGenerator(seed: seed)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let noise = Int(g.next() % 7)
                    let value = y > height / 2 && y < height * 3 / 4 ? 200 : (x * 3 + y * 2 + c * 40 + noise) & 0xFF
                    pixels[(y * width + x) * channels + c] = UInt8(value)
                }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    @Test("a stored PNG has the signature, IHDR fields, chunk CRCs, Adler-32 and the raw scanlines")
    func storedStructure() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            for channels in [1, 3] {
                // 150 x 160 x 3 = 72,000 bytes of pixels: more than one stored block.
                let image = Self.testImage(width: 150, height: 160, channels: channels, seed: 8)
                let url = directory.appendingPathComponent("stored\(channels).png")
                try PNG.write(image, to: url, compression: .stored)
                let png = try DecodedPNG([UInt8](try Data(contentsOf: url)))
                #expect(png.chunkTypes.first == "IHDR" && png.chunkTypes.last == "IEND" && png.chunkTypes.contains("IDAT"))
                #expect(png.width == 150 && png.height == 160 && png.bitDepth == 8)
                #expect(png.colourType == (channels == 1 ? 0 : 2))
                #expect(png.compressionMethod == 0 && png.filterMethod == 0 && png.interlace == 0)
                #expect(png.blockTypes.allSatisfy { $0 == 0 })
                #expect(png.blockTypes.count == (150 * channels + 1) * 160 / 65535 + 1)
                var expected: [UInt8] = []
                for y in 0..<160 { expected += [0] + image.pixels[y * 150 * channels ..< (y + 1) * 150 * channels] }
                #expect(png.scanlines == expected)
            }
        }
    }

    @Test("a compressed PNG inflates and unfilters back to the same pixels, and is smaller")
    func compressedRoundTrip() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let photo = try PPM.read(FixtureLocator.url("photos/chelsea.ppm"))
            let grey = Image(width: photo.width, height: photo.height, channels: 1,
                             pixels: (0..<(photo.width * photo.height)).map { photo.pixels[$0 * 3 + 1] })
            let images = [photo, grey, Self.testImage(width: 37, height: 23, channels: 3, seed: 9),
                          Image(width: 1, height: 1, channels: 1, pixels: [77]),
                          Image(width: 300, height: 2, channels: 3, pixels: [UInt8](repeating: 5, count: 1800))]
            for (i, image) in images.enumerated() {
                let url = directory.appendingPathComponent("image\(i).png")
                try PNG.write(image, to: url)
                let size = try Data(contentsOf: url).count
                let png = try DecodedPNG([UInt8](try Data(contentsOf: url)))
                #expect(png.blockTypes == [1])
                #expect(png.width == image.width && png.height == image.height && png.colourType == (image.channels == 1 ? 0 : 2))
                #expect(try png.unfiltered(bytesPerPixel: image.channels) == image.pixels, "image \(i)")
                if i < 3 {
                    try PNG.write(image, to: url, compression: .stored)
                    let storedSize = try Data(contentsOf: url).count
                    #expect(size < storedSize * 9 / 10, "image \(i): \(size) vs stored \(storedSize)")
                }
            }
        }
    }

    @Test("the deflate encoder's output inflates back for runs, repeats at 32768 bytes and beyond, and noise")
    func deflateStreams() throws {
        var g = SeededGenerator(seed: 12)
        let noise = (0..<40000).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        let inputs: [[UInt8]] = [
            [], [42], [1, 2], Array("abcabcabcabcabcabcabcx".utf8),
            [UInt8](repeating: 0, count: 100_000),
            Array(noise[0..<32768]) + Array(noise[0..<1000]),  // a match exactly 32768 back
            Array(noise[0..<32769]) + Array(noise[0..<1000]),  // 32769 back: just out of the window
            noise + noise,  // the repeat is 40000 back: out of the window
            (0..<70000).map { UInt8(truncatingIfNeeded: $0 % 251 + $0 / 1000) },
        ]
        for input in inputs {
            var inflater = Inflater(bytes: Deflate.fixedHuffman(input))
            #expect(try inflater.inflate() == input, "\(input.count) bytes")
            var stored = Inflater(bytes: Deflate.stored(input))
            #expect(try stored.inflate() == input, "\(input.count) bytes stored")
        }
    }

    @Test("images convert to [1, C, H, W] tensors in [0, 1] and back")
    func imageTensors() {
        let image = Image(width: 2, height: 1, channels: 3, pixels: [0, 51, 255, 10, 20, 30])
        let tensor = image.tensor
        #expect(tensor.shape == [1, 3, 1, 2])
        let expected: [Float] = [0, 10, 51, 20, 255, 30].map { $0 / 255 }
        #expect(tensor.data == expected)
        #expect(Image(tensor: tensor) == image)
        let clamped = Image(tensor: Tensor(shape: [1, 1, 1, 4], data: [-1, 2, .nan, 0.5]))
        #expect(clamped.pixels == [0, 255, 0, 128] && clamped.channels == 1)
    }

    @Test("writers refuse images they cannot represent and leave no file behind")
    func writerChecks() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("rgba.png")
            let rgba = Image(width: 1, height: 1, channels: 4, pixels: [1, 2, 3, 4])
            #expect(formatError { try PNG.write(rgba, to: url) }?.reason.contains("4 channels") == true)
            #expect(formatError { try PPM.write(rgba, to: url) }?.reason.contains("4 channels") == true)
            let empty = Image(width: 0, height: 3, channels: 1, pixels: [])
            #expect(formatError { try PNG.write(empty, to: url) }?.reason.contains("0x3") == true)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(leftovers.isEmpty)
        }
    }
}

// MARK: - Files in general

@Suite("File reading and atomic writing")
struct FileHandlingTests {
    @Test("every reader says 'file does not exist' for a missing file, naming it")
    func missingFiles() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("missing-file.bin")
            let readers: [(URL) throws -> Any] = [{ try NumPy.read($0) }, { try Safetensors.read($0) }, { try PPM.read($0) }]
            for read in readers {
                let error = formatError { try read(url) }
                #expect(error == FileFormatError(path: url.path, reason: "file does not exist"))
                #expect(error?.description == "\(url.path): file does not exist")
            }
            #expect(formatError { try NumPy.read(directory) }?.reason == "is a directory, not a file")
        }
    }

    @Test("writes replace an existing file whole and leave no temporary files")
    func atomicReplacement() throws {
        try withTemporaryDirectory(prefix: "convnet-io") { directory in
            let url = directory.appendingPathComponent("x.npy")
            try NumPy.write(Tensor(shape: [1000], repeating: 1), to: url)
            try NumPy.write(Tensor(shape: [2], data: [3, 4]), to: url)
            #expect(try NumPy.read(url) == NumPyArray(shape: [2], elements: .float32([3, 4])))
            try Safetensors.write(SafetensorsFile(), to: directory.appendingPathComponent("e.safetensors"))
            #expect(try Safetensors.read(directory.appendingPathComponent("e.safetensors")).tensors.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["e.safetensors", "x.npy"])
        }
    }

    @Test("writing into a missing directory throws a FileFormatError naming the file")
    func unwritable() {
        let url = URL(fileURLWithPath: "/nonexistent-directory-\(UUID().uuidString)/out.ppm")
        let error = formatError { try PPM.write(Image(width: 1, height: 1, channels: 1, pixels: [0]), to: url) }
        #expect(error?.path == url.path)
        #expect(error?.reason.hasPrefix("cannot write the file") == true)
    }
}
