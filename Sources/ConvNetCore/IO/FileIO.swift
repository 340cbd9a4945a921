import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading whole files and writing them atomically, with failures as `FileFormatError`.
enum FileIO {
    /// The bytes of the file at `url`, read once.
    static func contents(of url: URL) throws -> Data {
        let path = url.path
        guard url.isFileURL else {
            throw FileFormatError(path: url.absoluteString, reason: "not a file URL")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileFormatError(path: path, reason: "file does not exist")
        }
        guard !isDirectory.boolValue else {
            throw FileFormatError(path: path, reason: "is a directory, not a file")
        }
        // A file larger than the machine's memory cannot be read whole: say so rather
        // than be killed trying.
        let memory = ProcessInfo.processInfo.physicalMemory
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           memory > 0, size.uint64Value > memory {
            throw FileFormatError(path: path, reason: "the file (\(size.uint64Value) bytes) is larger than this machine's memory (\(memory) bytes)")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw FileFormatError(path: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
    }

    /// Writes `data` to a temporary file in the directory of `url`, then renames it over
    /// `url`: readers see the old file or the whole new one, never half a file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let path = url.path
        guard url.isFileURL else {
            throw FileFormatError(path: url.absoluteString, reason: "not a file URL")
        }
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw FileFormatError(path: path, reason: "cannot write the file (\(error.localizedDescription))")
        }
        if rename(temporary.path, path) != 0 {
            let message = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw FileFormatError(path: path, reason: "cannot move the temporary file into place (\(message))")
        }
    }
}

/// Little-endian element conversions straight from a raw buffer (one bulk copy per
/// tensor, no per-element `Data` slicing). Callers check `offset + count * size` against
/// the buffer first.
enum RawConversion {
    static let hostIsLittleEndian = 1.littleEndian == 1

    /// `count` elements of `T` copied from `raw[offset...]`, byte-swapped by `swap` when
    /// the file's byte order differs from the host's.
    static func copy<T>(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, as type: T.Type,
                        fileIsLittleEndian: Bool = true, swap: (T) -> T) -> [T] {
        let byteCount = count * MemoryLayout<T>.stride
        precondition(offset >= 0 && byteCount >= 0 && offset + byteCount <= raw.count, "RawConversion: range outside the buffer")
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let base = raw.baseAddress {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base + offset, byteCount: byteCount)
                if fileIsLittleEndian != hostIsLittleEndian {
                    for i in 0..<count { buffer[i] = swap(buffer[i]) }
                }
            }
            initialized = count
        }
    }

    static func float32(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, littleEndian: Bool = true) -> [Float] {
        copy(raw, offset: offset, count: count, as: Float.self, fileIsLittleEndian: littleEndian) {
            Float(bitPattern: $0.bitPattern.byteSwapped)
        }
    }

    static func float64(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, littleEndian: Bool = true) -> [Double] {
        copy(raw, offset: offset, count: count, as: Double.self, fileIsLittleEndian: littleEndian) {
            Double(bitPattern: $0.bitPattern.byteSwapped)
        }
    }

    static func int64(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, littleEndian: Bool = true) -> [Int64] {
        copy(raw, offset: offset, count: count, as: Int64.self, fileIsLittleEndian: littleEndian) { $0.byteSwapped }
    }

    static func int32(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int, littleEndian: Bool = true) -> [Int32] {
        copy(raw, offset: offset, count: count, as: Int32.self, fileIsLittleEndian: littleEndian) { $0.byteSwapped }
    }

    static func uint8(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [UInt8] {
        copy(raw, offset: offset, count: count, as: UInt8.self) { $0 }
    }

    /// IEEE 754 binary16 (little-endian) to Float, exactly (every half is a Float).
    static func float16(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [Float] {
        let bits = copy(raw, offset: offset, count: count, as: UInt16.self) { $0.byteSwapped }
        return bits.map(floatFromHalf)
    }

    /// bfloat16 (the top 16 bits of a Float, little-endian) to Float.
    static func bfloat16(_ raw: UnsafeRawBufferPointer, offset: Int, count: Int) -> [Float] {
        let bits = copy(raw, offset: offset, count: count, as: UInt16.self) { $0.byteSwapped }
        return bits.map { Float(bitPattern: UInt32($0) << 16) }
    }

    /// One binary16 value: sign 1, exponent 5 (bias 15), fraction 10 bits.
    @inline(__always)
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let fraction = UInt32(h & 0x03FF)
        switch exponent {
        case 0:
            // Zero or subnormal: fraction * 2^-24, exact in Float.
            let magnitude = Float(fraction) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        case 31:
            // Infinity (fraction 0) or NaN (payload kept).
            return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        default:
            // Rebias the exponent from 15 to 127.
            return Float(bitPattern: sign | (exponent + 112) << 23 | fraction << 13)
        }
    }

    /// Appends `values` to `data` as little-endian bytes.
    static func appendLittleEndian<T>(_ values: [T], to data: inout Data, swap: (T) -> T) {
        if hostIsLittleEndian {
            values.withUnsafeBytes { data.append(contentsOf: $0) }
        } else {
            values.map(swap).withUnsafeBytes { data.append(contentsOf: $0) }
        }
    }
}

extension Array where Element == Int {
    /// The product of the extents, or nil when it overflows `Int` (hostile shapes).
    var checkedProduct: Int? {
        var product = 1
        for extent in self {
            let (p, overflow) = product.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            product = p
        }
        return product
    }
}

/// A short printable rendering of some bytes of a file (for "magic '...'" messages).
func printableBytes<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var text = ""
    for byte in bytes {
        if byte >= 0x20 && byte < 0x7F && byte != 0x27 && byte != 0x5C {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
        }
    }
    return text
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
