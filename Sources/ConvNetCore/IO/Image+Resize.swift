import Foundation

// Photographs into a network's input size, as the papers did: rescale so that the shorter
// side is S (bilinear), then cut the centre square (AlexNet: S = 256, then 224 or 227;
// VGG: S = 256, then 224).

extension Image {
    /// The image rescaled by bilinear interpolation so that its shorter side is `side`
    /// pixels (the other side keeps the aspect ratio, rounded). Pixel centres are aligned
    /// as `torch.nn.functional.interpolate(..., align_corners=False)` aligns them:
    /// source coordinate `(x + 0.5) * scale - 0.5`, clamped to the image.
    public func resized(shorterSide side: Int) -> Image {
        precondition(side > 0 && width > 0 && height > 0, "Image.resized: side \(side) for a \(width)x\(height) image")
        let scale = Double(side) / Double(min(width, height))
        let newWidth = width <= height ? side : max(1, Int((Double(width) * scale).rounded()))
        let newHeight = height < width ? side : max(1, Int((Double(height) * scale).rounded()))
        return resized(width: newWidth, height: newHeight)
    }

    /// The image rescaled to `newWidth` x `newHeight` by bilinear interpolation.
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "Image.resized: \(newWidth)x\(newHeight)")
        /// For each output coordinate: the two source coordinates and the weight of the second.
        func taps(_ count: Int, from source: Int) -> [(Int, Int, Double)] {
            let scale = Double(source) / Double(count)
            return (0..<count).map { i in
                let s = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(source - 1))
                let low = Int(s.rounded(.down))
                return (low, min(low + 1, source - 1), s - Double(low))
            }
        }
        let columns = taps(newWidth, from: width), rows = taps(newHeight, from: height)
        var pixels = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        for (y, (y0, y1, fy)) in rows.enumerated() {
            for (x, (x0, x1, fx)) in columns.enumerated() {
                for c in 0..<channels {
                    func at(_ r: Int, _ q: Int) -> Double { Double(self.pixels[(r * width + q) * channels + c]) }
                    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
                    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
                    pixels[(y * newWidth + x) * channels + c] = UInt8(max(0, min(255, (top * (1 - fy) + bottom * fy).rounded())))
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, pixels: pixels)
    }

    /// The centre `side` x `side` square (the image must be at least that large).
    public func centerCropped(side: Int) -> Image {
        precondition(side > 0 && side <= width && side <= height,
                     "Image.centerCropped: \(side)x\(side) from a \(width)x\(height) image")
        let (left, top) = ((width - side) / 2, (height - side) / 2)
        var pixels = [UInt8]()
        pixels.reserveCapacity(side * side * channels)
        for y in top..<top + side {
            let start = (y * width + left) * channels
            pixels.append(contentsOf: self.pixels[start..<start + side * channels])
        }
        return Image(width: side, height: side, channels: channels, pixels: pixels)
    }
}
