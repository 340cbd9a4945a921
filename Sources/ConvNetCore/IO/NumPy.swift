import Foundation

/// An array read from a NumPy `.npy` file, in the dtype the file holds.
public struct NumPyArray: Equatable, Sendable {
    public enum Elements: Equatable, Sendable { case float32([Float]), float64([Double]), uint8([UInt8]), int64([Int64]) }
    public var shape: [Int]
    public var elements: Elements
    public init(shape: [Int], elements: Elements) { self.shape = shape; self.elements = elements }

    /// A float32 array holding the tensor's shape and elements.
    public init(_ tensor: Tensor) { self.init(shape: tensor.shape, elements: .float32(tensor.data)) }

    /// The number of elements held.
    public var count: Int {
        switch elements {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .uint8(let v): return v.count
        case .int64(let v): return v.count
        }
    }

    /// The NumPy dtype string this array is written with: `<f4`, `<f8`, `|u1` or `<i8`.
    public var dtype: String {
        switch elements {
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .uint8: return "|u1"
        case .int64: return "<i8"
        }
    }

    /// The elements as Float (integers and doubles converted).
    public var floats: [Float] {
        switch elements {
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        case .uint8(let v): return v.map { Float($0) }
        case .int64(let v): return v.map { Float($0) }
        }
    }

    /// The elements as Int (floats truncated toward zero; NaN becomes 0 and values
    /// beyond `Int`'s range are clamped to it, so no input traps).
    public var integers: [Int] {
        switch elements {
        case .float32(let v): return v.map { NumPyArray.truncated(Double($0)) }
        case .float64(let v): return v.map(NumPyArray.truncated)
        case .uint8(let v): return v.map { Int($0) }
        case .int64(let v): return v.map { Int($0) }
        }
    }

    /// A Float tensor of this shape.
    public var tensor: Tensor { Tensor(shape: shape, data: floats) }

    private static func truncated(_ x: Double) -> Int {
        if x.isNaN { return 0 }
        if x >= 0x1p63 { return Int.max }
        if x < -0x1p63 { return Int.min }
        return Int(x.rounded(.towardZero))
    }
}

/// NumPy's `.npy` format: the magic `\x93NUMPY`, a version (1.0, 2.0, 3.0), a header
/// length (2 bytes LE in 1.0, 4 bytes in 2.0 and 3.0), a header that is a Python dict
/// literal `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), }` padded
/// with spaces and a `\n`, then the elements in C order.
///
/// Read: dtypes `<f4`, `<f8`, `|u1` (`<u1`), `<i8`, and `<i4` (widened to int64);
/// big-endian `>` variants are byte-swapped. C order only. The data must be exactly
/// the bytes the shape needs (missing or trailing bytes are errors).
/// Written: version 1.0, little-endian, header padded so the data starts at a multiple
/// of 64 bytes, atomically.
public enum NumPy {
    public static func read(_ url: URL) throws -> NumPyArray {
        let data = try FileIO.contents(of: url)
        return try data.withUnsafeBytes { try parse($0, path: url.path) }
    }

    /// Writes `array` as a version 1.0 `.npy` file (2.0 if the header needs > 65535 bytes).
    public static func write(_ array: NumPyArray, to url: URL) throws {
        try FileIO.writeAtomically(try encode(array, path: url.path), to: url)
    }

    /// Writes a Float tensor as a `<f4` array of its shape.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try write(NumPyArray(tensor), to: url)
    }

    // MARK: - Encoding

    static func encode(_ array: NumPyArray, path: String) throws -> Data {
        guard array.shape.allSatisfy({ $0 >= 0 }) else {
            throw FileFormatError(path: path, reason: "cannot write shape \(array.shape): negative extent")
        }
        guard let count = array.shape.checkedProduct, count == array.count else {
            throw FileFormatError(path: path, reason: "cannot write: shape \(array.shape) does not hold the \(array.count) elements given")
        }
        let tuple: String
        switch array.shape.count {
        case 0: tuple = "()"
        case 1: tuple = "(\(array.shape[0]),)"
        default: tuple = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = Array("{'descr': '\(array.dtype)', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        // Pad with spaces and a final newline so magic + version + length + header is a
        // multiple of 64 bytes.
        var version: UInt8 = 1
        var prefix = 10
        if header.count + 1 + 63 > 65535 { version = 2; prefix = 12 }
        let total = (prefix + header.count + 1 + 63) / 64 * 64
        header += [UInt8](repeating: 0x20, count: total - prefix - header.count - 1)
        header.append(0x0A)

        var data = Data(capacity: total + array.count * 8)
        data.append(contentsOf: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0])
        if version == 1 {
            data.append(contentsOf: [UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
        } else {
            withUnsafeBytes(of: UInt32(header.count).littleEndian) { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: header)
        switch array.elements {
        case .float32(let v): RawConversion.appendLittleEndian(v, to: &data) { Float(bitPattern: $0.bitPattern.byteSwapped) }
        case .float64(let v): RawConversion.appendLittleEndian(v, to: &data) { Double(bitPattern: $0.bitPattern.byteSwapped) }
        case .uint8(let v): data.append(contentsOf: v)
        case .int64(let v): RawConversion.appendLittleEndian(v, to: &data) { $0.byteSwapped }
        }
        return data
    }

    // MARK: - Decoding

    private enum Kind: String { case f4, f8, u1, i8, i4 }

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> NumPyArray {
        func failure(_ reason: String) -> FileFormatError { FileFormatError(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        let size = raw.count
        if size == 0 { throw failure("empty file: not a NumPy .npy file") }
        guard raw.prefix(6).elementsEqual(magic.prefix(min(6, size))) else {
            throw failure("not a NumPy .npy file (magic '\(printableBytes(raw.prefix(6)))', expected '\\x93NUMPY')")
        }
        guard size >= 8 else { throw failure("truncated: \(size) bytes end inside the .npy magic and version") }
        let major = raw[6], minor = raw[7]
        guard (1...3).contains(major), minor == 0 else {
            throw failure("unsupported .npy format version \(major).\(minor) (1.0, 2.0 and 3.0 are read)")
        }
        let lengthBytes = major == 1 ? 2 : 4
        guard size >= 8 + lengthBytes else { throw failure("truncated: \(size) bytes end inside the header length field") }
        let headerLength = major == 1
            ? Int(raw[8]) | Int(raw[9]) << 8
            : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let headerStart = 8 + lengthBytes
        guard headerLength <= size - headerStart else {
            throw failure("truncated: header length field says \(headerLength) bytes of header, file has \(size - headerStart) after it")
        }
        var parser = HeaderParser(bytes: Array(raw[headerStart ..< headerStart + headerLength]), path: path)
        let header = try parser.parse()

        // The dtype: byte order character, kind letter and item size.
        let descr = header.descr
        let orderCharacter = descr.first
        let kind = Kind(rawValue: String(descr.dropFirst()))
        guard let kind, let orderCharacter, "<>|=".contains(orderCharacter) else {
            throw failure("unsupported dtype '\(descr)' (read: '<f4', '<f8', '|u1', '<i8', '<i4', and their '>' forms)")
        }
        let itemSize: Int
        switch kind { case .u1: itemSize = 1; case .f4, .i4: itemSize = 4; case .f8, .i8: itemSize = 8 }
        if orderCharacter == "|" && itemSize > 1 {
            throw failure("dtype '\(descr)' has no byte order ('|' is for one-byte types)")
        }
        let littleEndian = orderCharacter == ">" ? false : orderCharacter == "=" ? RawConversion.hostIsLittleEndian : true
        guard !header.fortranOrder else {
            throw failure("'fortran_order': True is not supported (save the array in C order)")
        }
        let shape = header.shape
        guard let count = shape.checkedProduct else {
            throw failure("shape \(shape) has more elements than fit in memory")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow else { throw failure("shape \(shape) of '\(descr)' needs more bytes than fit in memory") }
        let dataStart = headerStart + headerLength
        let available = size - dataStart
        guard available >= byteCount else {
            throw failure("truncated: header says shape \(shape) of '\(descr)' (\(byteCount) bytes of data), file has \(available)")
        }
        guard available == byteCount else {
            throw failure("\(available - byteCount) unexpected bytes after the \(byteCount) bytes of data of shape \(shape) '\(descr)'")
        }

        let elements: NumPyArray.Elements
        switch kind {
        case .f4: elements = .float32(RawConversion.float32(raw, offset: dataStart, count: count, littleEndian: littleEndian))
        case .f8: elements = .float64(RawConversion.float64(raw, offset: dataStart, count: count, littleEndian: littleEndian))
        case .u1: elements = .uint8(RawConversion.uint8(raw, offset: dataStart, count: count))
        case .i8: elements = .int64(RawConversion.int64(raw, offset: dataStart, count: count, littleEndian: littleEndian))
        case .i4: elements = .int64(RawConversion.int32(raw, offset: dataStart, count: count, littleEndian: littleEndian).map { Int64($0) })
        }
        return NumPyArray(shape: shape, elements: elements)
    }

    /// A parser of the header's Python dict literal: string keys; values that are strings,
    /// `True`/`False`, or tuples of non-negative integers.
    private struct HeaderParser {
        struct Header { var descr: String; var fortranOrder: Bool; var shape: [Int] }
        enum Value { case string(String), bool(Bool), tuple([Int]) }

        let bytes: [UInt8]
        let path: String
        var position = 0

        init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path }

        func failure(_ what: String) -> FileFormatError {
            var text = String(decoding: bytes.prefix(160), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if bytes.count > 160 { text += "..." }
            return FileFormatError(path: path, reason: "malformed .npy header: \(what) (header \"\(text)\")")
        }

        mutating func parse() throws -> Header {
            var dictionary: [String: Value] = [:]
            skipSpace()
            try expect(UInt8(ascii: "{"))
            skipSpace()
            while peek != UInt8(ascii: "}") {
                guard peek != nil else { throw failure("unterminated dictionary") }
                let key = try parseString()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                let value = try parseValue(for: key)
                guard dictionary.updateValue(value, forKey: key) == nil else { throw failure("key '\(key)' appears twice") }
                skipSpace()
                if peek == UInt8(ascii: ",") { position += 1; skipSpace() } else if peek != UInt8(ascii: "}") {
                    throw failure(peek == nil ? "unterminated dictionary" : "expected ',' or '}' at byte \(position)")
                }
            }
            position += 1
            skipSpace()
            guard position == bytes.count else { throw failure("unexpected text after the dictionary at byte \(position)") }

            for key in dictionary.keys where !["descr", "fortran_order", "shape"].contains(key) {
                throw failure("unexpected key '\(key)'")
            }
            guard case .string(let descr)? = dictionary["descr"] else { throw failure("missing or non-string 'descr'") }
            guard case .bool(let fortranOrder)? = dictionary["fortran_order"] else { throw failure("missing or non-boolean 'fortran_order'") }
            guard case .tuple(let shape)? = dictionary["shape"] else { throw failure("missing or non-tuple 'shape'") }
            return Header(descr: descr, fortranOrder: fortranOrder, shape: shape)
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            guard peek == c else {
                throw failure(peek == nil ? "ends where '\(Character(Unicode.Scalar(c)))' was expected"
                                          : "expected '\(Character(Unicode.Scalar(c)))' at byte \(position)")
            }
            position += 1
        }

        mutating func parseString() throws -> String {
            guard let quote = peek, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
                throw failure("expected a quoted string at byte \(position)")
            }
            position += 1
            let start = position
            while let c = peek, c != quote {
                guard c != UInt8(ascii: "\\") else { throw failure("escape sequences in strings are not supported") }
                position += 1
            }
            guard peek == quote else { throw failure("unterminated string") }
            let text = String(decoding: bytes[start ..< position], as: UTF8.self)
            position += 1
            return text
        }

        mutating func parseValue(for key: String) throws -> Value {
            switch peek {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "("):
                return .tuple(try parseTuple())
            case UInt8(ascii: "T"), UInt8(ascii: "F"):
                for (word, value) in [("True", true), ("False", false)] {
                    let w = Array(word.utf8)
                    if bytes.count - position >= w.count && Array(bytes[position ..< position + w.count]) == w {
                        position += w.count
                        return .bool(value)
                    }
                }
                throw failure("unknown word at byte \(position)")
            case UInt8(ascii: "["):
                throw failure("value of '\(key)' is a list (structured dtypes are not supported)")
            default:
                throw failure("unsupported value for '\(key)' at byte \(position)")
            }
        }

        mutating func parseTuple() throws -> [Int] {
            try expect(UInt8(ascii: "("))
            var values: [Int] = []
            skipSpace()
            while peek != UInt8(ascii: ")") {
                guard let c = peek else { throw failure("unterminated shape tuple") }
                if c == UInt8(ascii: "-") { throw failure("negative extent in the shape") }
                guard c >= 0x30 && c <= 0x39 else { throw failure("expected an integer in the shape at byte \(position)") }
                var value = 0
                while let d = peek, d >= 0x30 && d <= 0x39 {
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(Int(d - 0x30))
                    guard !o1 && !o2 else { throw failure("shape extent too large") }
                    value = sum
                    position += 1
                }
                if peek == UInt8(ascii: "L") { position += 1 }  // Python 2 long integers: (3L, 4L)
                values.append(value)
                skipSpace()
                if peek == UInt8(ascii: ",") { position += 1; skipSpace() } else if peek != UInt8(ascii: ")") {
                    throw failure(peek == nil ? "unterminated shape tuple" : "expected ',' or ')' in the shape at byte \(position)")
                }
            }
            position += 1
            return values
        }
    }
}
