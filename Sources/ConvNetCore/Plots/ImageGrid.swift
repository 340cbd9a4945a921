/// Feature maps and filters as pictures: a grid of tiles, each a 2-D array of floats
/// scaled to grey levels (its own min -> black, max -> white, or a shared scale),
/// enlarged by pixel repetition and separated by a gap, ready for `PNG.write`.
public struct ImageGrid {
    public var tiles: [(width: Int, height: Int, values: [Float])] = []
    /// How many tiles per row.
    public var columns: Int
    /// Each source pixel becomes `scale` x `scale` output pixels.
    public var scale: Int
    public var gap: Int
    /// Scale each tile to its own range (true) or all tiles to the shared range (false).
    public var normalizeEachTile: Bool

    public init(columns: Int, scale: Int = 4, gap: Int = 2, normalizeEachTile: Bool = true) {
        self.columns = max(1, columns)
        self.scale = max(1, scale)
        self.gap = max(0, gap)
        self.normalizeEachTile = normalizeEachTile
    }

    public mutating func append(width: Int, height: Int, values: [Float]) {
        checkCount(values.count, equals: width * height, "tile", in: "ImageGrid")
        tiles.append((width, height, values))
    }

    /// Every channel of image `index` of an NCHW tensor, one tile each.
    public mutating func appendChannels(of tensor: Tensor, image index: Int = 0) {
        let s = tensor.featureMapShape(for: "ImageGrid")
        for c in 0..<s.channels {
            let start = (index * s.channels + c) * s.spatial
            append(width: s.width, height: s.height, values: Array(tensor.data[start..<start + s.spatial]))
        }
    }

    /// The grid as an 8-bit grey image (background mid-grey between tiles).
    public var image: Image {
        guard !tiles.isEmpty else { return Image(width: 1, height: 1, channels: 1, pixels: [128]) }
        let tileW = tiles.map(\.width).max()! * scale, tileH = tiles.map(\.height).max()! * scale
        let rows = (tiles.count + columns - 1) / columns
        let cols = min(columns, tiles.count)
        let width = cols * tileW + (cols + 1) * gap, height = rows * tileH + (rows + 1) * gap
        var pixels = [UInt8](repeating: 128, count: width * height)
        let all = tiles.flatMap(\.values).filter(\.isFinite)
        let sharedLow = all.min() ?? 0, sharedHigh = all.max() ?? 1
        for (t, tile) in tiles.enumerated() {
            let finite = tile.values.filter(\.isFinite)
            let low = normalizeEachTile ? (finite.min() ?? 0) : sharedLow
            let high = normalizeEachTile ? (finite.max() ?? 1) : sharedHigh
            let range = high > low ? high - low : 1
            let x0 = gap + (t % columns) * (tileW + gap), y0 = gap + (t / columns) * (tileH + gap)
            for y in 0..<tile.height * scale {
                for x in 0..<tile.width * scale {
                    let v = tile.values[(y / scale) * tile.width + x / scale]
                    let level = v.isFinite ? (v - low) / range * 255 : 0
                    pixels[(y0 + y) * width + x0 + x] = UInt8(max(0, min(255, level.rounded())))
                }
            }
        }
        return Image(width: width, height: height, channels: 1, pixels: pixels)
    }

    /// Grey images one under the other, left-aligned, on mid-grey: bands of a figure
    /// (LeNet's stages, AlexNet's channels before and after LRN).
    public static func stacked(_ images: [Image]) -> Image {
        precondition(images.allSatisfy { $0.channels == 1 }, "ImageGrid.stacked: grey images only")
        let width = images.map(\.width).max() ?? 1, height = max(1, images.reduce(0) { $0 + $1.height })
        var pixels = [UInt8](repeating: 128, count: width * height)
        var top = 0
        for image in images {
            for y in 0..<image.height {
                for x in 0..<image.width { pixels[(top + y) * width + x] = image.pixels[y * image.width + x] }
            }
            top += image.height
        }
        return Image(width: width, height: height, channels: 1, pixels: pixels)
    }
}
