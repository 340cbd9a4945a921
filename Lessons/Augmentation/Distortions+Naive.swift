import ConvNetCore
import Foundation

// The distortions written to be read: one image `x` (`[C * H * W]`, channel planes one
// after the other), one output pixel at a time, in the order of the formulas of
// Distortions.swift. Generic over BinaryFloatingPoint so the tests can run them in Double.

/// The naive distortions of one image.
public enum NaiveDistortions {
    /// The value of `plane` (`[H * W]`) at the real position (y, x) by bilinear
    /// interpolation between its four nearest pixels, `fill` for a pixel outside:
    ///     (1-f_y)((1-f_x) p[y0, x0] + f_x p[y0, x0+1]) + f_y((1-f_x) p[y0+1, x0] + f_x p[y0+1, x0+1])
    /// with y0 = floor(y), f_y = y - y0 (x likewise).
    public static func bilinear<T: BinaryFloatingPoint>(_ plane: ArraySlice<T>, height: Int, width: Int, y: T, x: T, fill: T) -> T {
        let (y0, x0) = (y.rounded(.down), x.rounded(.down))
        let (fy, fx) = (y - y0, x - x0)
        let (r, q) = (Int(y0), Int(x0))
        func pixel(_ r: Int, _ q: Int) -> T {
            guard r >= 0, r < height, q >= 0, q < width else { return fill }
            return plane[plane.startIndex + r * width + q]
        }
        let top = (1 - fx) * pixel(r, q) + fx * pixel(r, q + 1)
        let bottom = (1 - fx) * pixel(r + 1, q) + fx * pixel(r + 1, q + 1)
        return (1 - fy) * top + fy * bottom
    }

    /// out[c, i, j] = bilinear(x[c], source(i, j)) for every channel and pixel.
    static func resample<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int, fill: T,
                                                 source: (Int, Int) -> (y: Double, x: Double)) -> [T] {
        precondition(x.count == channels * height * width, "resample: \(x.count) values for \(channels)x\(height)x\(width)")
        var out = [T](repeating: 0, count: x.count)
        for c in 0..<channels {
            let plane = x[c * height * width..<(c + 1) * height * width]
            for i in 0..<height {
                for j in 0..<width {
                    let s = source(i, j)
                    out[(c * height + i) * width + j] = bilinear(plane, height: height, width: width, y: T(s.y), x: T(s.x), fill: fill)
                }
            }
        }
        return out
    }

    /// Mirroring: out[c, i, j] = x[c, i, W - 1 - j].
    public static func mirror<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int) -> [T] {
        var out = [T](repeating: 0, count: x.count)
        for c in 0..<channels {
            for i in 0..<height {
                for j in 0..<width { out[(c * height + i) * width + j] = x[(c * height + i) * width + (width - 1 - j)] }
            }
        }
        return out
    }

    /// A crop: the box (top, left, h x w) resampled to H x W:
    /// y_src = top + (i + 0.5) h / H - 0.5, x_src = left + (j + 0.5) w / W - 0.5.
    public static func crop<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int,
                                                    top: Double, left: Double, boxHeight: Double, boxWidth: Double, fill: T) -> [T] {
        resample(x, channels: channels, height: height, width: width, fill: fill) { i, j in
            (top + (Double(i) + 0.5) * boxHeight / Double(height) - 0.5, left + (Double(j) + 0.5) * boxWidth / Double(width) - 0.5)
        }
    }

    /// A rotation by `radians` about the image's centre (counter-clockwise on screen).
    public static func rotate<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int, radians: Double, fill: T) -> [T] {
        let (cy, cx) = (Double(height - 1) / 2, Double(width - 1) / 2)
        return resample(x, channels: channels, height: height, width: width, fill: fill) { i, j in
            let (u, v) = (Double(j) - cx, Double(i) - cy)
            return (cy + sin(radians) * u + cos(radians) * v, cx + cos(radians) * u - sin(radians) * v)
        }
    }

    /// A horizontal shear about the middle row: x_src = j + s (i - c_y).
    public static func shear<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int, factor s: Double, fill: T) -> [T] {
        let cy = Double(height - 1) / 2
        return resample(x, channels: channels, height: height, width: width, fill: fill) { i, j in
            (Double(i), Double(j) + s * (Double(i) - cy))
        }
    }

    /// Elastic warping: every pixel moved by its own (dy, dx) from smooth random fields.
    public static func elastic<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int,
                                                       dy: [Double], dx: [Double], fill: T) -> [T] {
        precondition(dy.count == height * width && dx.count == height * width, "elastic: fields of \(dy.count), \(dx.count) for \(height)x\(width)")
        return resample(x, channels: channels, height: height, width: width, fill: fill) { i, j in
            (Double(i) + dy[i * width + j], Double(j) + dx[i * width + j])
        }
    }

    /// Colour shifting: out[c, i, j] = x[c, i, j] + offsets[c].
    public static func colourShift<T: BinaryFloatingPoint>(_ x: [T], channels: Int, height: Int, width: Int, offsets: [Double]) -> [T] {
        precondition(offsets.count == channels, "colourShift: \(offsets.count) offsets for \(channels) channels")
        var out = x
        for c in 0..<channels {
            for i in 0..<height {
                for j in 0..<width { out[(c * height + i) * width + j] += T(offsets[c]) }
            }
        }
        return out
    }

    /// AlexNet's PCA colour augmentation of an RGB image: the offset
    /// sum_k p_k alpha_k lambda_k (or sqrt(lambda_k)) of its own principal colour axes,
    /// added to every pixel. Returns the image and the offset.
    public static func pcaColour<T: BinaryFloatingPoint>(_ x: [T], height: Int, width: Int, alphas: [Double],
                                                        weighting: PCAWeighting) -> (image: [T], offset: [Double]) {
        let pca = ColourPCA(rgb: x.map(Double.init), pixels: height * width)
        let offset = pca.offset(alphas: alphas, weighting: weighting)
        return (colourShift(x, channels: 3, height: height, width: width, offsets: offset), offset)
    }

    /// Any draw, applied.
    public static func apply<T: BinaryFloatingPoint>(_ draw: DistortionDraw, to x: [T], channels: Int, height: Int, width: Int,
                                                     fill: T, weighting: PCAWeighting = .eigenvalue) -> [T] {
        switch draw {
        case .mirror: mirror(x, channels: channels, height: height, width: width)
        case .crop(let top, let left, let h, let w):
            crop(x, channels: channels, height: height, width: width, top: top, left: left, boxHeight: h, boxWidth: w, fill: fill)
        case .rotation(let t): rotate(x, channels: channels, height: height, width: width, radians: t, fill: fill)
        case .shear(let s): shear(x, channels: channels, height: height, width: width, factor: s, fill: fill)
        case .elastic(let dy, let dx): elastic(x, channels: channels, height: height, width: width, dy: dy, dx: dx, fill: fill)
        case .colour(let offsets): colourShift(x, channels: channels, height: height, width: width, offsets: offsets)
        case .pca(let alphas): pcaColour(x, height: height, width: width, alphas: alphas, weighting: weighting).image
        }
    }
}
