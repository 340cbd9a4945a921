// PENDING: signatures of the file formats; the bodies arrive with Sources/ConvNetCore/IO/.
// Delete this file when those readers and writers exist.
import Foundation

/// A file that cannot be read as the format it claims: names the file and what is wrong.
public struct FileFormatError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// An array read from a NumPy `.npy` file, in the dtype the file holds.
public struct NumPyArray: Equatable {
    public enum Elements: Equatable { case float32([Float]), float64([Double]), uint8([UInt8]), int64([Int64]) }
    public var shape: [Int]
    public var elements: Elements
    public init(shape: [Int], elements: Elements) { self.shape = shape; self.elements = elements }
    /// The elements as Float (integers and doubles converted).
    public var floats: [Float] { fatalError("pending") }
    /// The elements as Int (floats truncated).
    public var integers: [Int] { fatalError("pending") }
    /// A Float tensor of this shape.
    public var tensor: Tensor { Tensor(shape: shape, data: floats) }
}

public enum NumPy {
    public static func read(_ url: URL) throws -> NumPyArray { fatalError("pending") }
    public static func write(_ array: NumPyArray, to url: URL) throws { fatalError("pending") }
    public static func write(_ tensor: Tensor, to url: URL) throws { fatalError("pending") }
}

/// Named tensors in the safetensors format (torchvision `state_dict` names).
public struct SafetensorsFile {
    /// Floating-point tensors (F32, F16, BF16, F64 all converted to Float).
    public var tensors: [String: Tensor]
    /// Integer tensors (I64, such as `num_batches_tracked`), kept as read.
    public var integerTensors: [String: (shape: [Int], values: [Int64])]
    /// The `__metadata__` strings.
    public var metadata: [String: String]
    public init(tensors: [String: Tensor] = [:], integerTensors: [String: (shape: [Int], values: [Int64])] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors; self.integerTensors = integerTensors; self.metadata = metadata
    }
}

public enum Safetensors {
    public static func read(_ url: URL) throws -> SafetensorsFile { fatalError("pending") }
    /// Writes F32 tensors (and I64 ones), atomically (temporary file, then rename).
    public static func write(_ file: SafetensorsFile, to url: URL) throws { fatalError("pending") }
}

/// An 8-bit image, row-major, `channels` interleaved samples per pixel (1 grey, 3 RGB).
public struct Image: Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "Image: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

public enum PPM {
    /// Reads binary PPM (P6) and PGM (P5) with maxval 255.
    public static func read(_ url: URL) throws -> Image { fatalError("pending") }
    public static func write(_ image: Image, to url: URL) throws { fatalError("pending") }
}

public enum PNG {
    /// Writes an 8-bit grey or RGB PNG, atomically.
    public static func write(_ image: Image, to url: URL) throws { fatalError("pending") }
}
