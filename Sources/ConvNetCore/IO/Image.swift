/// An 8-bit image, row-major, `channels` interleaved samples per pixel (1 grey, 3 RGB).
public struct Image: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "Image: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

extension Image {
    /// The image of a `[1, C, H, W]` (or `[C, H, W]`) tensor with values in [0, 1]:
    /// each value is clamped to [0, 1], scaled by 255 and rounded (NaN becomes 0);
    /// channel planes are interleaved into pixels.
    public init(tensor: Tensor) {
        let shape = tensor.shape
        precondition((shape.count == 4 && shape[0] == 1) || shape.count == 3,
                     "Image(tensor:): expected a [1, C, H, W] or [C, H, W] tensor, got shape \(shape)")
        let (c, h, w) = (shape[shape.count - 3], shape[shape.count - 2], shape[shape.count - 1])
        var pixels = [UInt8](repeating: 0, count: c * h * w)
        let plane = h * w
        for channel in 0..<c {
            for p in 0..<plane {
                let v = tensor.data[channel * plane + p]
                let clamped = v.isNaN ? 0 : min(max(v, 0), 1)
                pixels[p * c + channel] = UInt8((clamped * 255).rounded())
            }
        }
        self.init(width: w, height: h, channels: c, pixels: pixels)
    }

    /// The image as a `[1, C, H, W]` tensor, each sample divided by 255 (values in [0, 1]).
    public var tensor: Tensor {
        let plane = width * height
        var data = [Float](repeating: 0, count: channels * plane)
        for p in 0..<plane {
            for channel in 0..<channels {
                data[channel * plane + p] = Float(pixels[p * channels + channel]) / 255
            }
        }
        return Tensor(shape: [1, channels, height, width], data: data)
    }
}
