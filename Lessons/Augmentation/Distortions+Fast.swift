import ConvNetCore
import Foundation

// The distortions written to be fast, on Float images `[C * H * W]` (the same parameters
// and the same numbers as Distortions+Naive.swift). The tricks:
//
// - Bilinear resampling is worked out once per ROW, not once per pixel per channel: for
//   the W output pixels of a row, the four source indices and four weights of each pixel
//   are computed once (for affine maps the source coordinate moves by a constant step
//   along a row, so it is a running sum, no sin/cos per pixel), with taps outside the
//   image folded into one `fill` weight, so the inner loop has no bounds checks; then
//   every channel is resampled with those taps. The naive form redoes the coordinate,
//   the floor, the weights and four bounds checks for every pixel of every channel.
// - Mirroring reverses rows through raw pointers (vectorised by the compiler); colour
//   shifts add one SIMD16 of the offset to each plane sixteen pixels at a time.
// - Everything works in place in pre-sized buffers: no per-pixel closures or arrays.

/// The fast distortions of one image.
public enum FastDistortions {
    /// The taps of one output row: for each pixel, four source indices and weights (taps
    /// outside the image get index 0, weight 0) and the weight of `fill`.
    struct RowTaps {
        var index: [Int32]           // [4 * W]
        var weight: [Float]          // [4 * W]
        var fillWeight: [Float]      // [W]
        var anyFill = false
        init(width: Int) {
            index = [Int32](repeating: 0, count: 4 * width)
            weight = [Float](repeating: 0, count: 4 * width)
            fillWeight = [Float](repeating: 0, count: width)
        }

        /// The taps for source coordinates (ys[j], xs[j]).
        mutating func set(ys: UnsafeBufferPointer<Double>, xs: UnsafeBufferPointer<Double>, height: Int, width: Int) {
            var any = false
            index.withUnsafeMutableBufferPointer { idx in
                weight.withUnsafeMutableBufferPointer { wt in
                    fillWeight.withUnsafeMutableBufferPointer { fw in
                        for j in 0..<ys.count {
                            let (y, x) = (Float(ys[j]), Float(xs[j]))
                            let (y0, x0) = (y.rounded(.down), x.rounded(.down))
                            let (fy, fx) = (y - y0, x - x0)
                            let (r, q) = (Int(y0), Int(x0))
                            let rowIn0 = r >= 0 && r < height, rowIn1 = r + 1 >= 0 && r + 1 < height
                            let colIn0 = q >= 0 && q < width, colIn1 = q + 1 >= 0 && q + 1 < width
                            let w = (w0: (1 - fy) * (1 - fx), w1: (1 - fy) * fx, w2: fy * (1 - fx), w3: fy * fx)
                            let b = 4 * j
                            var fill: Float = 0
                            if rowIn0 && colIn0 { idx[b] = Int32(r * width + q); wt[b] = w.w0 } else { idx[b] = 0; wt[b] = 0; fill += w.w0 }
                            if rowIn0 && colIn1 { idx[b + 1] = Int32(r * width + q + 1); wt[b + 1] = w.w1 } else { idx[b + 1] = 0; wt[b + 1] = 0; fill += w.w1 }
                            if rowIn1 && colIn0 { idx[b + 2] = Int32((r + 1) * width + q); wt[b + 2] = w.w2 } else { idx[b + 2] = 0; wt[b + 2] = 0; fill += w.w2 }
                            if rowIn1 && colIn1 { idx[b + 3] = Int32((r + 1) * width + q + 1); wt[b + 3] = w.w3 } else { idx[b + 3] = 0; wt[b + 3] = 0; fill += w.w3 }
                            fw[j] = fill
                            if fill != 0 { any = true }
                        }
                    }
                }
            }
            anyFill = any
        }

        /// One channel's output row from its plane.
        func apply(_ plane: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int, fill: Float) {
            index.withUnsafeBufferPointer { idx in
                weight.withUnsafeBufferPointer { wt in
                    for j in 0..<count {
                        let b = 4 * j
                        out[j] = wt[b] * plane[Int(idx[b])] + wt[b + 1] * plane[Int(idx[b + 1])]
                            + wt[b + 2] * plane[Int(idx[b + 2])] + wt[b + 3] * plane[Int(idx[b + 3])]
                    }
                }
            }
            if anyFill {
                fillWeight.withUnsafeBufferPointer { fw in for j in 0..<count { out[j] += fw[j] * fill } }
            }
        }
    }

    /// Resamples every channel of `x` into `out` with source coordinates given per row:
    /// `coordinates(i, ys, xs)` fills the row's W source coordinates.
    static func resample(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                         fill: Float, coordinates: (Int, UnsafeMutableBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void) {
        var taps = RowTaps(width: width)
        var ys = [Double](repeating: 0, count: width), xs = ys
        let plane = height * width
        for i in 0..<height {
            ys.withUnsafeMutableBufferPointer { yb in xs.withUnsafeMutableBufferPointer { xb in
                coordinates(i, yb, xb)
                taps.set(ys: UnsafeBufferPointer(yb), xs: UnsafeBufferPointer(xb), height: height, width: width)
            } }
            for c in 0..<channels {
                taps.apply(x + c * plane, into: out + c * plane + i * width, count: width, fill: fill)
            }
        }
    }

    /// An affine draw (mirror, crop, rotation, shear): the row's coordinates are
    /// start + step * j, a running sum along the row.
    static func resampleAffine(_ map: (y0: Double, yi: Double, yj: Double, x0: Double, xi: Double, xj: Double),
                               _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, fill: Float) {
        resample(x, out, channels: channels, height: height, width: width, fill: fill) { i, ys, xs in
            let (ys0, xs0) = (map.y0 + map.yi * Double(i), map.x0 + map.xi * Double(i))
            for j in 0..<width {
                ys[j] = ys0 + map.yj * Double(j)
                xs[j] = xs0 + map.xj * Double(j)
            }
        }
    }

    /// Mirroring: each row copied in reverse order (a plain loop over pointers, which the
    /// compiler turns into vector loads, lane permutes and stores).
    public static func mirror(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int) {
        for row in 0..<channels * height {
            let src = x + row * width, dst = out + row * width
            for j in 0..<width { dst[j] = src[width - 1 - j] }
        }
    }

    /// A crop (the box resampled to H x W): an affine map with steps h / H and w / W.
    public static func crop(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                            top: Double, left: Double, boxHeight: Double, boxWidth: Double, fill: Float) {
        resampleAffine(affineSource(.crop(top: top, left: left, height: boxHeight, width: boxWidth), height: height, width: width)!,
                       x, out, channels: channels, height: height, width: width, fill: fill)
    }

    /// A rotation about the centre: an affine map (cos and sin once per image).
    public static func rotate(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                              radians: Double, fill: Float) {
        resampleAffine(affineSource(.rotation(radians: radians), height: height, width: width)!,
                       x, out, channels: channels, height: height, width: width, fill: fill)
    }

    /// A horizontal shear: an affine map.
    public static func shear(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                             factor: Double, fill: Float) {
        resampleAffine(affineSource(.shear(factor), height: height, width: width)!,
                       x, out, channels: channels, height: height, width: width, fill: fill)
    }

    /// Elastic warping: the row's coordinates are its pixel positions plus the fields' row.
    public static func elastic(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                               dy: [Double], dx: [Double], fill: Float) {
        precondition(dy.count == height * width && dx.count == height * width, "elastic: fields of \(dy.count), \(dx.count) for \(height)x\(width)")
        resample(x, out, channels: channels, height: height, width: width, fill: fill) { i, ys, xs in
            for j in 0..<width {
                ys[j] = Double(i) + dy[i * width + j]
                xs[j] = Double(j) + dx[i * width + j]
            }
        }
    }

    /// Colour shifting: each plane plus its offset, sixteen pixels at a time.
    public static func colourShift(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                                   offsets: [Double]) {
        precondition(offsets.count == channels, "colourShift: \(offsets.count) offsets for \(channels) channels")
        let plane = height * width
        for c in 0..<channels {
            let (src, dst) = (x + c * plane, out + c * plane)
            let d = Float(offsets[c]), dv = SIMD16<Float>(repeating: Float(offsets[c]))
            var p = 0
            while p + 16 <= plane {
                let v = UnsafeRawPointer(src + p).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(dst + p).storeBytes(of: v + dv, as: SIMD16<Float>.self)
                p += 16
            }
            while p < plane { dst[p] = src[p] + d; p += 1 }
        }
    }

    /// AlexNet's PCA colour shift: the image's covariance in one pass over its pixels
    /// (sums of products, not the naive two passes), its eigen-decomposition, one offset.
    public static func pcaColour(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, height: Int, width: Int,
                                 alphas: [Double], weighting: PCAWeighting) {
        let offset = pcaOffset(x, pixels: height * width, alphas: alphas, weighting: weighting)
        colourShift(x, out, channels: 3, height: height, width: width, offsets: offset)
    }

    /// The PCA offset of an RGB image (planes at `x`), from one pass of running sums.
    static func pcaOffset(_ x: UnsafePointer<Float>, pixels: Int, alphas: [Double], weighting: PCAWeighting) -> [Double] {
        var s = [Double](repeating: 0, count: 3), ss = [Double](repeating: 0, count: 9)
        let (r, g, b) = (x, x + pixels, x + 2 * pixels)
        for p in 0..<pixels {
            let (vr, vg, vb) = (Double(r[p]), Double(g[p]), Double(b[p]))
            s[0] += vr; s[1] += vg; s[2] += vb
            ss[0] += vr * vr; ss[1] += vr * vg; ss[2] += vr * vb
            ss[4] += vg * vg; ss[5] += vg * vb; ss[8] += vb * vb
        }
        let n = Double(pixels)
        var pca = ColourPCA(rgb: [0, 0, 0], pixels: 1)
        pca.mean = s.map { $0 / n }
        var cov = [[Double]](repeating: [0, 0, 0], count: 3)
        for a in 0..<3 { for c in a..<3 { cov[a][c] = ss[3 * a + c] / n - pca.mean[a] * pca.mean[c]; cov[c][a] = cov[a][c] } }
        pca.covariance = cov
        (pca.eigenvalues, pca.eigenvectors) = symmetricEigen(cov)
        return pca.offset(alphas: alphas, weighting: weighting)
    }

    /// Any draw, applied to one image from `x` into `out` (they must not overlap).
    public static func apply(_ draw: DistortionDraw, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                             channels: Int, height: Int, width: Int, fill: Float, weighting: PCAWeighting = .eigenvalue) {
        switch draw {
        case .mirror: mirror(x, out, channels: channels, height: height, width: width)
        case .crop(let top, let left, let h, let w):
            crop(x, out, channels: channels, height: height, width: width, top: top, left: left, boxHeight: h, boxWidth: w, fill: fill)
        case .rotation(let t): rotate(x, out, channels: channels, height: height, width: width, radians: t, fill: fill)
        case .shear(let s): shear(x, out, channels: channels, height: height, width: width, factor: s, fill: fill)
        case .elastic(let dy, let dx): elastic(x, out, channels: channels, height: height, width: width, dy: dy, dx: dx, fill: fill)
        case .colour(let offsets): colourShift(x, out, channels: channels, height: height, width: width, offsets: offsets)
        case .pca(let alphas): pcaColour(x, out, height: height, width: width, alphas: alphas, weighting: weighting)
        }
    }

    /// Arrays in, array out (for tests and pictures).
    public static func apply(_ draw: DistortionDraw, to x: [Float], channels: Int, height: Int, width: Int,
                             fill: Float, weighting: PCAWeighting = .eigenvalue) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                apply(draw, src.baseAddress!, dst.baseAddress!, channels: channels, height: height, width: width, fill: fill, weighting: weighting)
            }
        }
        return out
    }
}
