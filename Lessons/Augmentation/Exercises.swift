import ConvNetCore
import Foundation

// The augmentation lesson's exercises: write these three functions, then run
//
//     swift test --filter AugmentationExercises
//
// `lesson exercise augmentation --start` blanks their bodies (the reference solutions
// between the EXERCISE markers); `lesson exercise augmentation --reset` puts them back.
// The graders (Tests/AugmentationLessonTests/AugmentationExercises.swift) check them
// against the lesson's naive distortions (Distortions+Naive.swift) and ColourPCA.
// Images are `[C * H * W]` arrays of Double, channel planes one after the other.

/// Exercise 1: the value of a plane (`[H * W]`) at the real position (y, x), by bilinear
/// interpolation between its four nearest pixels; a neighbour outside the image counts as
/// `fill`. Pixel (r, q) sits at y = r, x = q.
/// Hint: with y0 = floor(y), fy = y - y0 (x likewise), the value is
/// (1 - fy) ((1 - fx) p[y0, x0] + fx p[y0, x0 + 1]) + fy ((1 - fx) p[y0 + 1, x0] + fx p[y0 + 1, x0 + 1]),
/// where p[r, q] = plane[r * width + q] inside the image and `fill` outside it (floor, not
/// truncation: -0.5 lies between pixels -1 and 0).
public func bilinearSample(_ plane: [Double], height: Int, width: Int, y: Double, x: Double, fill: Double) -> Double {
    // EXERCISE bilinearSample BEGIN (stub: return .nan)
    let (y0, x0) = (y.rounded(.down), x.rounded(.down))
    let (fy, fx) = (y - y0, x - x0)
    func p(_ r: Int, _ q: Int) -> Double {
        r >= 0 && r < height && q >= 0 && q < width ? plane[r * width + q] : fill
    }
    let (r, q) = (Int(y0), Int(x0))
    return (1 - fy) * ((1 - fx) * p(r, q) + fx * p(r, q + 1)) + fy * ((1 - fx) * p(r + 1, q) + fx * p(r + 1, q + 1))
    // EXERCISE bilinearSample END
}

/// Exercise 2: rotate every channel of `image` by `radians` about the image's centre
/// c = ((W - 1) / 2, (H - 1) / 2), so that the picture turns counter-clockwise on screen.
/// Hint: go BACKWARDS, from each output pixel (i, j) to where it comes from: with
/// u = j - c_x, v = i - c_y the source is x = c_x + cos(t) u - sin(t) v,
/// y = c_y + sin(t) u + cos(t) v, sampled with bilinearSample (fill outside). Mapping each
/// input pixel forwards would leave holes.
public func rotated(_ image: [Double], channels: Int, height: Int, width: Int, radians: Double, fill: Double) -> [Double] {
    // EXERCISE rotated BEGIN (stub: return [])
    let (cy, cx) = (Double(height - 1) / 2, Double(width - 1) / 2)
    var out = [Double](repeating: 0, count: image.count)
    for c in 0..<channels {
        let plane = Array(image[c * height * width..<(c + 1) * height * width])
        for i in 0..<height {
            for j in 0..<width {
                let (u, v) = (Double(j) - cx, Double(i) - cy)
                let x = cx + cos(radians) * u - sin(radians) * v
                let y = cy + sin(radians) * u + cos(radians) * v
                out[(c * height + i) * width + j] = bilinearSample(plane, height: height, width: width, y: y, x: x, fill: fill)
            }
        }
    }
    return out
    // EXERCISE rotated END
}

/// Exercise 3: AlexNet's PCA colour augmentation of an RGB image (`[3 * H * W]`): add to
/// every pixel the offset sum_k alpha_k lambda_k p_k, where p_k, lambda_k are the
/// eigenvectors and eigenvalues of the 3x3 covariance of the image's RGB pixel values.
/// Hint: the covariance is C[a][b] = mean over pixels of (I^a - mean^a)(I^b - mean^b)
/// (subtract the means; divide by the pixel count). `symmetricEigen(C)` returns
/// (values, vectors) with vectors[k] = p_k. Multiply by lambda_k, the eigenvalue itself,
/// as the paper writes (not its square root), and add the same offset to every pixel.
public func pcaColourShift(_ image: [Double], height: Int, width: Int, alphas: [Double]) -> [Double] {
    // EXERCISE pcaColourShift BEGIN (stub: return image)
    let n = height * width
    let mean = (0..<3).map { c in image[c * n..<(c + 1) * n].reduce(0, +) / Double(n) }
    var covariance = [[Double]](repeating: [0, 0, 0], count: 3)
    for a in 0..<3 {
        for b in 0..<3 {
            var s = 0.0
            for p in 0..<n { s += (image[a * n + p] - mean[a]) * (image[b * n + p] - mean[b]) }
            covariance[a][b] = s / Double(n)
        }
    }
    let (values, vectors) = symmetricEigen(covariance)
    var out = image
    for c in 0..<3 {
        let offset = (0..<3).reduce(0.0) { $0 + alphas[$1] * values[$1] * vectors[$1][c] }
        for p in 0..<n { out[c * n + p] += offset }
    }
    return out
    // EXERCISE pcaColourShift END
}
