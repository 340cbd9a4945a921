import Foundation

/// A PNG writer for 8-bit grey (colour type 0) and RGB (colour type 2) images.
///
/// The file is the signature, an IHDR chunk, IDAT chunks holding one zlib stream of the
/// filtered scanlines, and IEND; each chunk ends with the CRC-32 of its type and data.
/// With `.deflate` (the default) every row takes the PNG filter (None, Sub, Up, Average,
/// Paeth) whose output has the smallest sum of absolute values (the usual heuristic), and
/// the stream is one deflate block with fixed Huffman codes over LZ77 matches found
/// through hash chains. With `.stored` rows are unfiltered and the stream is stored
/// (uncompressed) deflate blocks of at most 65535 bytes: larger, but trivially checked.
public enum PNG {
    public enum Compression: Sendable { case stored, deflate }

    /// Writes an 8-bit grey or RGB PNG, atomically.
    public static func write(_ image: Image, to url: URL) throws {
        try write(image, to: url, compression: .deflate)
    }

    /// Writes an 8-bit grey or RGB PNG with the given compression, atomically.
    public static func write(_ image: Image, to url: URL, compression: Compression) throws {
        try FileIO.writeAtomically(try encode(image, compression: compression, path: url.path), to: url)
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func encode(_ image: Image, compression: Compression, path: String) throws -> Data {
        let colourType: UInt8
        switch image.channels {
        case 1: colourType = 0
        case 3: colourType = 2
        default: throw FileFormatError(path: path, reason: "cannot write an image of \(image.channels) channels as PNG (1 or 3)")
        }
        guard image.width > 0, image.height > 0, image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw FileFormatError(path: path, reason: "cannot write a \(image.width)x\(image.height) image as PNG")
        }
        let scanlines = filteredScanlines(image, adaptive: compression == .deflate)
        var zlib: [UInt8] = compression == .deflate ? [0x78, 0x9C] : [0x78, 0x01]
        zlib += compression == .deflate ? Deflate.fixedHuffman(scanlines) : Deflate.stored(scanlines)
        let adler = Checksum.adler32(scanlines)
        zlib += [UInt8(adler >> 24), UInt8(truncatingIfNeeded: adler >> 16), UInt8(truncatingIfNeeded: adler >> 8), UInt8(truncatingIfNeeded: adler)]

        var data = Data(signature)
        var ihdr: [UInt8] = []
        ihdr += bigEndian(UInt32(image.width))
        ihdr += bigEndian(UInt32(image.height))
        ihdr += [8, colourType, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", ihdr, to: &data)
        let idatSize = 1 << 20
        var start = 0
        repeat {
            let end = min(start + idatSize, zlib.count)
            appendChunk("IDAT", zlib[start ..< end], to: &data)
            start = end
        } while start < zlib.count
        appendChunk("IEND", [], to: &data)
        return data
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }

    private static func appendChunk<C: Collection>(_ type: String, _ body: C, to data: inout Data) where C.Element == UInt8 {
        let typeBytes = Array(type.utf8)
        data.append(contentsOf: bigEndian(UInt32(body.count)))
        data.append(contentsOf: typeBytes)
        data.append(contentsOf: body)
        let crc = Checksum.crc32(body, initial: Checksum.crc32(typeBytes))
        data.append(contentsOf: bigEndian(crc))
    }

    /// Each row prefixed by its filter type byte. `adaptive`: the filter with the
    /// smallest sum of |byte as Int8|; otherwise filter 0 (None) everywhere.
    static func filteredScanlines(_ image: Image, adaptive: Bool) -> [UInt8] {
        let bpp = image.channels
        let rowBytes = image.width * bpp
        var out = [UInt8]()
        out.reserveCapacity((rowBytes + 1) * image.height)
        var candidate = [[UInt8]](repeating: [UInt8](repeating: 0, count: rowBytes), count: 5)
        let zeroRow = [UInt8](repeating: 0, count: rowBytes)
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<image.height {
                let row = pixels.baseAddress! + y * rowBytes
                guard adaptive else {
                    out.append(0)
                    out.append(contentsOf: UnsafeBufferPointer(start: row, count: rowBytes))
                    continue
                }
                zeroRow.withUnsafeBufferPointer { zero in
                    let above = y > 0 ? row - rowBytes : zero.baseAddress!
                    for i in 0..<rowBytes {
                        let x = row[i], b = above[i]
                        let a: UInt8 = i >= bpp ? row[i - bpp] : 0
                        let c: UInt8 = i >= bpp ? above[i - bpp] : 0
                        candidate[0][i] = x
                        candidate[1][i] = x &- a
                        candidate[2][i] = x &- b
                        candidate[3][i] = x &- UInt8((Int(a) + Int(b)) / 2)
                        candidate[4][i] = x &- paeth(a, b, c)
                    }
                }
                var best = 0, bestCost = Int.max
                for f in 0..<5 {
                    var cost = 0
                    for v in candidate[f] { cost += abs(Int(Int8(bitPattern: v))) }
                    if cost < bestCost { best = f; bestCost = cost }
                }
                out.append(UInt8(best))
                out.append(contentsOf: candidate[best])
            }
        }
        return out
    }

    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}

/// Raw deflate streams (RFC 1951) without the zlib wrapper.
enum Deflate {
    /// Stored blocks (BTYPE 00) of at most 65535 bytes; the last one has BFINAL set.
    static func stored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + (bytes.count / 65535 + 1) * 5)
        var start = 0
        repeat {
            let length = min(65535, bytes.count - start)
            let final: UInt8 = start + length == bytes.count ? 1 : 0
            out.append(final)  // BFINAL, BTYPE 00, then padding to the byte boundary
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += bytes[start ..< start + length]
            start += length
        } while start < bytes.count
        return out
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// The length code index (0...28) of every match length 3...258.
    static let lengthCodeOf: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 259)
        for code in 0..<29 {
            let upper = code == 28 ? 258 : lengthBase[code] + (1 << lengthExtra[code]) - 1
            for length in lengthBase[code]...upper where length <= 258 { table[length] = UInt8(code) }
        }
        table[258] = 28  // 258 has its own code (285), not 284 + 31
        return table
    }()

    /// The fixed Huffman code (RFC 1951 3.2.6) of each literal/length symbol, bit-reversed
    /// for LSB-first output, and its length.
    static let fixedLiteralCodes: [(code: UInt32, length: Int)] = (0..<288).map { symbol in
        let (code, length): (Int, Int)
        switch symbol {
        case 0...143: (code, length) = (0x30 + symbol, 8)
        case 144...255: (code, length) = (0x190 + symbol - 144, 9)
        case 256...279: (code, length) = (symbol - 256, 7)
        default: (code, length) = (0xC0 + symbol - 280, 8)
        }
        return (reversed(UInt32(code), length), length)
    }

    static func reversed(_ code: UInt32, _ length: Int) -> UInt32 {
        var result: UInt32 = 0
        for bit in 0..<length where code & (1 << bit) != 0 { result |= 1 << (length - 1 - bit) }
        return result
    }

    /// LSB-first bit packing.
    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        @inline(__always)
        mutating func write(_ value: UInt32, bits: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += bits
            while count >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                count -= 8
            }
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { bytes.append(UInt8(truncatingIfNeeded: buffer)) }
            buffer = 0; count = 0
            return bytes
        }
    }

    /// One final block with fixed Huffman codes (BTYPE 01). Matches of 3...258 bytes at
    /// distances up to 32768 are found by hashing 3-byte prefixes into chains of earlier
    /// positions (at most `maxChain` candidates looked at, greedy choice).
    static func fixedHuffman(_ bytes: [UInt8], maxChain: Int = 64) -> [UInt8] {
        let n = bytes.count
        let window = 32768, windowMask = window - 1
        let hashBits = 15, hashMask = (1 << hashBits) - 1
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var previous = [Int32](repeating: -1, count: window)
        var writer = BitWriter()
        writer.bytes.reserveCapacity(n / 2 + 16)
        writer.write(1, bits: 1)  // BFINAL
        writer.write(1, bits: 2)  // BTYPE 01: fixed Huffman
        let literals = fixedLiteralCodes

        bytes.withUnsafeBufferPointer { data in
            @inline(__always) func hash(_ i: Int) -> Int {
                (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & hashMask
            }
            @inline(__always) func insert(_ i: Int) {
                let h = hash(i)
                previous[i & windowMask] = head[h]
                head[h] = Int32(i)
            }
            var i = 0
            while i < n {
                var bestLength = 0, bestDistance = 0
                if i + 3 <= n {
                    let limit = min(258, n - i)
                    var candidate = Int(head[hash(i)])
                    var chain = maxChain
                    while candidate >= 0 && i - candidate <= window && chain > 0 {
                        if data[candidate + bestLength] == data[i + bestLength] || bestLength == 0 {
                            var length = 0
                            while length < limit && data[candidate + length] == data[i + length] { length += 1 }
                            if length > bestLength {
                                bestLength = length; bestDistance = i - candidate
                                if length == limit { break }
                            }
                        }
                        let next = Int(previous[candidate & windowMask])
                        if next >= candidate { break }
                        candidate = next
                        chain -= 1
                    }
                    insert(i)
                }
                if bestLength >= 3 {
                    let code = Int(lengthCodeOf[bestLength])
                    let symbol = literals[257 + code]
                    writer.write(symbol.code, bits: symbol.length)
                    if lengthExtra[code] > 0 { writer.write(UInt32(bestLength - lengthBase[code]), bits: lengthExtra[code]) }
                    var d = 29
                    while distanceBase[d] > bestDistance { d -= 1 }
                    writer.write(reversed(UInt32(d), 5), bits: 5)
                    if distanceExtra[d] > 0 { writer.write(UInt32(bestDistance - distanceBase[d]), bits: distanceExtra[d]) }
                    for j in (i + 1) ..< (i + bestLength) where j + 3 <= n { insert(j) }
                    i += bestLength
                } else {
                    let symbol = literals[Int(data[i])]
                    writer.write(symbol.code, bits: symbol.length)
                    i += 1
                }
            }
        }
        let end = literals[256]
        writer.write(end.code, bits: end.length)
        return writer.finish()
    }
}

/// The checksums of PNG chunks (CRC-32) and zlib streams (Adler-32).
enum Checksum {
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (ISO 3309, as in PNG and zlib); `initial` continues a previous CRC.
    static func crc32<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var c = ~initial
        let table = crcTable
        for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// Adler-32 of zlib (sums modulo 65521, reduced every 5552 bytes).
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var start = 0
        while start < bytes.count {
            let end = min(start + 5552, bytes.count)
            for i in start..<end { a += UInt32(bytes[i]); b += a }
            a %= 65521; b %= 65521
            start = end
        }
        return b << 16 | a
    }
}
