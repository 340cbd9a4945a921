import Foundation

/// Binary Netpbm images: P6 (PPM, RGB) and P5 (PGM, grey).
///
/// The header is the magic, width, height and maxval as decimal numbers separated by
/// any whitespace, with `#` comments (to the end of the line) allowed between them, then
/// exactly one whitespace byte before the samples. Samples are one byte (maxval <= 255):
/// maxval 255 is read as is; a smaller maxval is scaled to 0...255 (rounded) and a sample
/// above maxval is an error; 16-bit samples (maxval > 255) are not supported. Bytes after
/// the first image are ignored (Netpbm allows several images in one file).
public enum PPM {
    /// Reads binary PPM (P6) and PGM (P5) with maxval 255 (smaller maxvals scaled).
    public static func read(_ url: URL) throws -> Image {
        let data = try FileIO.contents(of: url)
        return try data.withUnsafeBytes { try parse($0, path: url.path) }
    }

    /// Writes a 3-channel image as P6, a 1-channel image as P5 (maxval 255), atomically.
    public static func write(_ image: Image, to url: URL) throws {
        try FileIO.writeAtomically(try encode(image, path: url.path), to: url)
    }

    static func encode(_ image: Image, path: String) throws -> Data {
        let magic: String
        switch image.channels {
        case 3: magic = "P6"
        case 1: magic = "P5"
        default:
            throw FileFormatError(path: path, reason: "cannot write an image of \(image.channels) channels as PPM/PGM (1 or 3)")
        }
        guard image.width > 0, image.height > 0 else {
            throw FileFormatError(path: path, reason: "cannot write an empty \(image.width)x\(image.height) image")
        }
        var data = Data("\(magic)\n\(image.width) \(image.height)\n255\n".utf8)
        data.append(contentsOf: image.pixels)
        return data
    }

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> Image {
        func failure(_ reason: String) -> FileFormatError { FileFormatError(path: path, reason: reason) }
        let size = raw.count
        guard size >= 2 else {
            throw failure(size == 0 ? "empty file: not a PPM file" : "truncated: \(size) byte, not a PPM file")
        }
        let magic = printableBytes(raw.prefix(2))
        let channels: Int
        switch (raw[0], raw[1]) {
        case (UInt8(ascii: "P"), UInt8(ascii: "6")): channels = 3
        case (UInt8(ascii: "P"), UInt8(ascii: "5")): channels = 1
        case (UInt8(ascii: "P"), UInt8(ascii: "1") ... UInt8(ascii: "7")):
            throw failure("not a binary PPM/PGM file (magic '\(magic)'): only P6 (RGB) and P5 (grey) are read")
        default:
            throw failure("not a PPM file (magic '\(magic)')")
        }
        var position = 2

        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }

        func readNumber(_ what: String) throws -> Int {
            // Whitespace and comments before the number; at least one separator.
            let start = position
            while position < size {
                let c = raw[position]
                if isSpace(c) {
                    position += 1
                } else if c == UInt8(ascii: "#") {
                    while position < size && raw[position] != 0x0A && raw[position] != 0x0D { position += 1 }
                } else {
                    break
                }
            }
            guard position < size else { throw failure("truncated: file ends before the \(what) in the header") }
            let c = raw[position]
            guard c >= 0x30 && c <= 0x39 else {
                throw failure("malformed header: expected the \(what), found '\(printableBytes([c]))' at byte \(position)")
            }
            guard position > start else { throw failure("malformed header: no whitespace before the \(what) at byte \(position)") }
            var value = 0
            while position < size, raw[position] >= 0x30 && raw[position] <= 0x39 {
                value = value * 10 + Int(raw[position] - 0x30)
                guard value <= 1 << 30 else { throw failure("header \(what) is too large") }
                position += 1
            }
            return value
        }

        let width = try readNumber("width")
        let height = try readNumber("height")
        let maxval = try readNumber("maxval")
        guard position < size else { throw failure("truncated: file ends after the header, no pixel data") }
        guard isSpace(raw[position]) else {
            throw failure("malformed header: expected one whitespace after the maxval, found '\(printableBytes([raw[position]]))'")
        }
        position += 1
        guard width > 0, height > 0 else { throw failure("image has no pixels (\(width)x\(height))") }
        guard maxval > 0 else { throw failure("maxval 0 is invalid") }
        guard maxval <= 255 else {
            throw failure(maxval <= 65535 ? "16-bit samples (maxval \(maxval)) are not supported"
                                          : "maxval \(maxval) is out of range (1...65535)")
        }
        let (pixelCount, o1) = width.multipliedReportingOverflow(by: height)
        let (needed, o2) = pixelCount.multipliedReportingOverflow(by: channels)
        guard !o1 && !o2 else { throw failure("image \(width)x\(height) is too large") }
        let available = size - position
        guard available >= needed else {
            throw failure("truncated: header says \(width)x\(height) \(channels == 3 ? "RGB" : "grey") (\(needed) bytes of pixels), file has \(available)")
        }
        var pixels = RawConversion.uint8(raw, offset: position, count: needed)
        if maxval != 255 {
            for i in pixels.indices {
                let v = Int(pixels[i])
                guard v <= maxval else { throw failure("sample \(v) at byte \(position + i) exceeds maxval \(maxval)") }
                pixels[i] = UInt8((v * 255 + maxval / 2) / maxval)
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}
