import ConvNetCore
import Foundation

// The distortions of the course ("mirroring, random cropping, rotation, shearing, local
// warping, colour shifting; PCA colour augmentation as in AlexNet"), what each one is as a
// formula, and how its random parameters are drawn. Each distortion has two forms that
// take the SAME parameters and give the same numbers:
//
//   Distortions+Naive.swift   per pixel: for every channel c, row i, column j, work out
//                             where the output pixel comes from and sample it (generic
//                             over BinaryFloatingPoint, to be read)
//   Distortions+Fast.swift    per row: the source coordinates and bilinear taps of a whole
//                             output row are worked out ONCE and used for every channel;
//                             planes are added and reversed with SIMD vectors
//
// The geometric ones are all "out[c, i, j] = bilinear(in[c], y_src(i, j), x_src(i, j))"
// with coordinates in pixels, (0, 0) the centre of the top-left pixel, and `fill` where a
// tap falls outside the image:
//
//   mirror     x_src = W - 1 - j,                        y_src = i
//   crop       x_src = left + (j + 0.5) w / W - 0.5,     y_src = top + (i + 0.5) h / H - 0.5
//              (the box top, left, h x w resampled to H x W; h = H: a shift)
//   rotation   x_src = c_x + cos(t) u - sin(t) v,        y_src = c_y + sin(t) u + cos(t) v
//              u = j - c_x, v = i - c_y, c = ((W-1)/2, (H-1)/2): the picture turns by t
//              counter-clockwise on screen
//   shear      x_src = j + s (i - c_y),                  y_src = i
//   elastic    x_src = j + dx[i, j],                     y_src = i + dy[i, j]
//              dx, dy: uniform noise in [-1, 1] smoothed by a Gaussian of sigma pixels,
//              times alpha (Simard, Steinkraus, Platt 2003: alpha 34, sigma 4 on digits)
//
// and the photometric ones add one RGB offset to every pixel:
//
//   colour     out[c] = in[c] + delta_c                  (delta_c drawn per channel)
//   PCA        out[c] = in[c] + sum_k p_k[c] alpha_k lambda_k   (AlexNet, section 4.1)
//              p_k, lambda_k: eigenvectors and eigenvalues of the 3x3 covariance of the
//              image's RGB pixels; alpha_k ~ N(0, 0.1) drawn once per image

/// The distortions, in the course's order.
public enum Distortion: String, CaseIterable, Sendable {
    case mirror, crop, rotation, shear, elastic, colour, pca

    /// Whether it moves pixels (so it applies to digits) rather than changing colours.
    public var isGeometric: Bool { self != .colour && self != .pca }

    public var title: String {
        switch self {
        case .mirror: "mirroring"
        case .crop: "random crop"
        case .rotation: "rotation"
        case .shear: "shearing"
        case .elastic: "elastic (local) warping"
        case .colour: "colour shifting"
        case .pca: "PCA colour (AlexNet)"
        }
    }
}

/// How strong each distortion is, in pixels and radians of the image it is applied to.
public struct DistortionStrength: Sendable {
    /// Crops: the box side is a fraction in `cropScale` of the image side, placed anywhere
    /// inside the image padded by `cropPadding` pixels (digits: scale 1, padding 3 gives
    /// shifts of up to 3 pixels).
    public var cropScale: ClosedRange<Double> = 1...1
    public var cropPadding = 3.0
    /// Rotation angle, uniform in +-maxDegrees.
    public var maxDegrees = 15.0
    /// Shear factor s, uniform in +-maxShear.
    public var maxShear = 0.3
    /// Elastic field: Gaussian sigma and scale alpha, in pixels.
    public var elasticSigma = 4.0
    public var elasticAlpha = 34.0
    /// Colour shift per channel, uniform in +-maxColourShift (pixel values in [0, 1]).
    public var maxColourShift = 0.1
    /// AlexNet's alpha ~ N(0, pcaStd).
    public var pcaStd = 0.1
    /// Multiply by lambda_k (the paper) or by sqrt(lambda_k) (many reimplementations).
    public var pcaWeighting: PCAWeighting = .eigenvalue

    public init() {}

    /// The strengths for digits of side `side` (distortions that keep a digit readable).
    public static func digits() -> DistortionStrength { DistortionStrength() }

    /// The strengths for photographs of side `side`: crops of 60-100% of the side, the
    /// elastic field scaled from Simard's 28-pixel digits, visible colour shifts.
    public static func photographs(side: Int) -> DistortionStrength {
        var s = DistortionStrength()
        s.cropScale = 0.6...1
        s.cropPadding = 0
        s.elasticSigma = 4 * Double(side) / 28
        s.elasticAlpha = 34 * Double(side) / 28
        s.pcaWeighting = .standardDeviation
        return s
    }
}

/// How AlexNet's alpha_k multiplies the principal components.
public enum PCAWeighting: String, Sendable {
    /// alpha_k lambda_k, the paper's formula.
    case eigenvalue
    /// alpha_k sqrt(lambda_k): the standard deviation along p_k, independent of the pixels' scale.
    case standardDeviation
}

/// One draw of a distortion's random parameters, for one image.
public enum DistortionDraw: Sendable {
    case mirror
    case crop(top: Double, left: Double, height: Double, width: Double)
    case rotation(radians: Double)
    case shear(Double)
    /// The displacement fields, `[H * W]` each.
    case elastic(dy: [Double], dx: [Double])
    /// One offset per channel.
    case colour([Double])
    /// alpha_k for the three principal components.
    case pca(alphas: [Double])

    /// Draws the parameters of `distortion` for an image of `height` x `width`.
    public static func draw(_ distortion: Distortion, height: Int, width: Int, channels: Int,
                            strength: DistortionStrength, using g: inout SeededGenerator) -> DistortionDraw {
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double(g.nextUniform()) }
        switch distortion {
        case .mirror:
            return .mirror
        case .crop:
            let scale = uniform(strength.cropScale.lowerBound, strength.cropScale.upperBound)
            let (h, w) = (Double(height) * scale, Double(width) * scale)
            let p = strength.cropPadding
            // Integer offsets when the box is the image's size (a shift by whole pixels, as
            // padding and cropping does), anywhere in the padded image otherwise.
            if scale == 1 {
                let shift = Int(p)
                let dy = Int(g.next() % UInt64(2 * shift + 1)) - shift, dx = Int(g.next() % UInt64(2 * shift + 1)) - shift
                return .crop(top: Double(dy), left: Double(dx), height: h, width: w)
            }
            return .crop(top: uniform(-p, Double(height) - h + p), left: uniform(-p, Double(width) - w + p), height: h, width: w)
        case .rotation:
            return .rotation(radians: uniform(-strength.maxDegrees, strength.maxDegrees) * .pi / 180)
        case .shear:
            return .shear(uniform(-strength.maxShear, strength.maxShear))
        case .elastic:
            let field = { (g: inout SeededGenerator) -> [Double] in
                let noise = (0..<height * width).map { _ in 2 * Double(g.nextUniform()) - 1 }
                return gaussianSmoothed(noise, height: height, width: width, sigma: strength.elasticSigma).map { $0 * strength.elasticAlpha }
            }
            let dy = field(&g)
            return .elastic(dy: dy, dx: field(&g))
        case .colour:
            return .colour((0..<channels).map { _ in uniform(-strength.maxColourShift, strength.maxColourShift) })
        case .pca:
            return .pca(alphas: (0..<3).map { _ in Double(g.nextNormal()) * strength.pcaStd })
        }
    }
}

/// `field` (`[H * W]`) convolved with a normalised Gaussian of `sigma` pixels, separably,
/// rows then columns, the kernel cut at 3 sigma and the image's edge values repeated
/// outside (Simard et al. 2003 smooth the random displacement fields this way).
public func gaussianSmoothed(_ field: [Double], height: Int, width: Int, sigma: Double) -> [Double] {
    guard sigma > 0 else { return field }
    let radius = max(1, Int((3 * sigma).rounded(.up)))
    var kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let total = kernel.reduce(0, +)
    kernel = kernel.map { $0 / total }
    var rows = [Double](repeating: 0, count: field.count), out = rows
    // Row pass then column pass; the clamped source index of each tap is worked out once
    // per column (per row) rather than per pixel.
    let columnTaps = (0..<width).map { j in (-radius...radius).map { min(max(j + $0, 0), width - 1) } }
    let rowTaps = (0..<height).map { i in (-radius...radius).map { min(max(i + $0, 0), height - 1) } }
    field.withUnsafeBufferPointer { f in
        rows.withUnsafeMutableBufferPointer { r in
            for i in 0..<height {
                for j in 0..<width {
                    var s = 0.0
                    let taps = columnTaps[j]
                    for k in 0..<kernel.count { s += kernel[k] * f[i * width + taps[k]] }
                    r[i * width + j] = s
                }
            }
        }
    }
    rows.withUnsafeBufferPointer { r in
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<height {
                let taps = rowTaps[i]
                for j in 0..<width {
                    var s = 0.0
                    for k in 0..<kernel.count { s += kernel[k] * r[taps[k] * width + j] }
                    o[i * width + j] = s
                }
            }
        }
    }
    return out
}

/// The source coordinates (y, x) of output pixel (i, j) under an affine draw: the formulas
/// at the top of this file. Shared by the naive form (per pixel) and the fast form (at the
/// start of each row, plus its per-column step). Nil for the non-affine draws.
func affineSource(_ draw: DistortionDraw, height: Int, width: Int) -> (y0: Double, yi: Double, yj: Double, x0: Double, xi: Double, xj: Double)? {
    // y_src = y0 + yi * i + yj * j,  x_src = x0 + xi * i + xj * j
    let (cy, cx) = (Double(height - 1) / 2, Double(width - 1) / 2)
    switch draw {
    case .mirror:
        return (0, 1, 0, Double(width - 1), 0, -1)
    case .crop(let top, let left, let h, let w):
        let (sy, sx) = (h / Double(height), w / Double(width))
        return (top + 0.5 * sy - 0.5, sy, 0, left + 0.5 * sx - 0.5, 0, sx)
    case .rotation(let t):
        let (c, s) = (cos(t), sin(t))
        // x = cx + c (j - cx) - s (i - cy);  y = cy + s (j - cx) + c (i - cy)
        return (cy - s * cx - c * cy, c, s, cx - c * cx + s * cy, -s, c)
    case .shear(let s):
        return (0, 1, 0, -s * cy, s, 1)
    default:
        return nil
    }
}
