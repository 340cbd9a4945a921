import Foundation

/// Named tensors in the safetensors format (torchvision `state_dict` names).
public struct SafetensorsFile: Sendable {
    /// Floating-point tensors (F32, F16, BF16, F64 all converted to Float).
    public var tensors: [String: Tensor]
    /// Integer tensors (I64, such as `num_batches_tracked`, and I32 widened), kept as read.
    public var integerTensors: [String: (shape: [Int], values: [Int64])]
    /// The `__metadata__` strings.
    public var metadata: [String: String]
    public init(tensors: [String: Tensor] = [:], integerTensors: [String: (shape: [Int], values: [Int64])] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors; self.integerTensors = integerTensors; self.metadata = metadata
    }
}

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}` (padded with spaces), then the data section;
/// offsets count from the start of the data section, elements little-endian, C order.
///
/// Read: F32, F16, BF16, F64 into `tensors` (as Float); I64 and I32 into
/// `integerTensors`. Every tensor's offsets must lie inside the data section and span
/// exactly `product(shape) * size(dtype)` bytes. Other dtypes are errors naming the tensor.
/// Written: F32 and I64, names sorted, data contiguous in that order, header padded
/// with spaces so the data starts at a multiple of 8, atomically.
public enum Safetensors {
    public static func read(_ url: URL) throws -> SafetensorsFile {
        let data = try FileIO.contents(of: url)
        return try data.withUnsafeBytes { try parse($0, path: url.path) }
    }

    /// Writes F32 tensors (and I64 ones), atomically (temporary file, then rename).
    public static func write(_ file: SafetensorsFile, to url: URL) throws {
        try FileIO.writeAtomically(try encode(file, path: url.path), to: url)
    }

    /// The largest header the reader accepts (the format's own limit is 100 MB).
    static let maximumHeaderLength = 100_000_000

    private enum DType: String {
        case F32, F16, BF16, F64, I64, I32
        var size: Int {
            switch self { case .F16, .BF16: return 2; case .F32, .I32: return 4; case .F64, .I64: return 8 }
        }
    }

    // MARK: - Decoding

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> SafetensorsFile {
        func failure(_ reason: String) -> FileFormatError { FileFormatError(path: path, reason: reason) }
        let size = raw.count
        guard size >= 8 else {
            throw failure("truncated: file has \(size) bytes, a safetensors file starts with an 8-byte header length")
        }
        let declared = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(size - 8) else {
            throw failure("truncated: header length field says \(declared) bytes of JSON header, file has \(size - 8) after it")
        }
        let headerLength = Int(declared)
        guard headerLength <= maximumHeaderLength else {
            throw failure("header length \(headerLength) exceeds the format's limit of \(maximumHeaderLength) bytes")
        }
        guard headerLength >= 2 else { throw failure("header of \(headerLength) bytes cannot hold a JSON object") }
        let headerBytes = Data(raw[8 ..< 8 + headerLength])
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerBytes)
        } catch {
            throw failure("header is not valid JSON (\(headerSnippet(headerBytes)))")
        }
        guard let header = json as? [String: Any] else {
            throw failure("header is not a JSON object (\(headerSnippet(headerBytes)))")
        }

        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        var file = SafetensorsFile()
        for (name, value) in header.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw failure("__metadata__ is not a JSON object") }
                for (key, entry) in metadata {
                    guard let text = entry as? String else { throw failure("__metadata__ value of '\(key)' is not a string") }
                    file.metadata[key] = text
                }
                continue
            }
            func tensorFailure(_ reason: String) -> FileFormatError { failure("tensor '\(name)': \(reason)") }
            guard let entry = value as? [String: Any] else { throw tensorFailure("entry is not a JSON object") }
            guard let dtypeName = entry["dtype"] as? String else { throw tensorFailure("missing or non-string 'dtype'") }
            guard let shapeList = entry["shape"] as? [Any], let shape = nonNegativeIntegers(shapeList) else {
                throw tensorFailure("'shape' is not a list of non-negative integers")
            }
            guard let offsetList = entry["data_offsets"] as? [Any], offsetList.count == 2,
                  let offsets = nonNegativeIntegers(offsetList) else {
                throw tensorFailure("'data_offsets' is not a list of two non-negative integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else { throw tensorFailure("data_offsets [\(begin), \(end)] run backwards") }
            guard end <= dataSize else {
                throw tensorFailure("data_offsets [\(begin), \(end)] reach past the end of the data (\(dataSize) bytes; truncated file?)")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw tensorFailure("unsupported dtype '\(dtypeName)' (read: F32, F16, BF16, F64, I64, I32)")
            }
            guard let count = shape.checkedProduct else { throw tensorFailure("shape \(shape) has too many elements") }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, byteCount == end - begin else {
                throw tensorFailure("shape \(shape) needs \(overflow ? "too many" : String(byteCount)) bytes of \(dtypeName) but data_offsets span \(end - begin)")
            }
            let offset = dataStart + begin
            switch dtype {
            case .F32: file.tensors[name] = Tensor(shape: shape, data: RawConversion.float32(raw, offset: offset, count: count))
            case .F16: file.tensors[name] = Tensor(shape: shape, data: RawConversion.float16(raw, offset: offset, count: count))
            case .BF16: file.tensors[name] = Tensor(shape: shape, data: RawConversion.bfloat16(raw, offset: offset, count: count))
            case .F64: file.tensors[name] = Tensor(shape: shape, data: RawConversion.float64(raw, offset: offset, count: count).map { Float($0) })
            case .I64: file.integerTensors[name] = (shape, RawConversion.int64(raw, offset: offset, count: count))
            case .I32: file.integerTensors[name] = (shape, RawConversion.int32(raw, offset: offset, count: count).map { Int64($0) })
            }
        }
        return file
    }

    /// The values as non-negative Ints, or nil if any is not one (negative, fractional,
    /// too large, or not a number).
    private static func nonNegativeIntegers(_ list: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(list.count)
        for item in list {
            if item is String || item is [Any] || item is [String: Any] || JSONValue.isBoolean(item) { return nil }
            guard let number = item as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double >= 0, double < 0x1p62, double == double.rounded(), let value = item as? Int else { return nil }
            result.append(value)
        }
        return result
    }

    private static func headerSnippet(_ bytes: Data) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return "starts \"" + text + (bytes.count > 80 ? "...\"" : "\"")
    }

    // MARK: - Encoding

    static func encode(_ file: SafetensorsFile, path: String) throws -> Data {
        func failure(_ reason: String) -> FileFormatError { FileFormatError(path: path, reason: "cannot write: \(reason)") }
        enum Payload { case float([Float]), integer([Int64]) }
        var entries: [(name: String, shape: [Int], payload: Payload)] = []
        for (name, tensor) in file.tensors {
            entries.append((name, tensor.shape, .float(tensor.data)))
        }
        for (name, integer) in file.integerTensors {
            guard file.tensors[name] == nil else { throw failure("'\(name)' is both a float and an integer tensor") }
            guard integer.shape.allSatisfy({ $0 >= 0 }), integer.shape.checkedProduct == integer.values.count else {
                throw failure("integer tensor '\(name)' has shape \(integer.shape) but \(integer.values.count) values")
            }
            entries.append((name, integer.shape, .integer(integer.values)))
        }
        if entries.contains(where: { $0.name == "__metadata__" }) {
            throw failure("'__metadata__' is reserved and cannot name a tensor")
        }
        entries.sort { $0.name < $1.name }

        var json = "{"
        var members: [String] = []
        if !file.metadata.isEmpty {
            let pairs = file.metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(file.metadata[$0]!))" }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            let (dtype, byteCount): (String, Int)
            switch entry.payload {
            case .float(let v): (dtype, byteCount) = ("F32", v.count * 4)
            case .integer(let v): (dtype, byteCount) = ("I64", v.count * 8)
            }
            let shape = entry.shape.map(String.init).joined(separator: ",")
            members.append("\(jsonString(entry.name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + byteCount)]}")
            offset += byteCount
        }
        json += members.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }

        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for entry in entries {
            switch entry.payload {
            case .float(let v): RawConversion.appendLittleEndian(v, to: &data) { Float(bitPattern: $0.bitPattern.byteSwapped) }
            case .integer(let v): RawConversion.appendLittleEndian(v, to: &data) { $0.byteSwapped }
            }
        }
        return data
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
