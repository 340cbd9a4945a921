import Foundation

// AlexNet's PCA colour augmentation (Krizhevsky, Sutskever, Hinton 2012, section 4.1):
// "perform PCA on the set of RGB pixel values ... To each RGB image pixel
// I_xy = [I^R, I^G, I^B] we add the quantity [p_1, p_2, p_3][alpha_1 lambda_1, alpha_2
// lambda_2, alpha_3 lambda_3]^T, where p_i and lambda_i are the i-th eigenvector and
// eigenvalue of the 3x3 covariance matrix of RGB pixel values, and alpha_i is a random
// variable drawn from a Gaussian with mean zero and standard deviation 0.1. Each alpha_i
// is drawn only once for all the pixels of a particular training image."
//
// The paper's PCA is over all of ImageNet's training pixels; here, as the issue asks, over
// the pixels of the image itself. The decomposition is Jacobi's method: rotate the
// symmetric matrix until it is diagonal (a 3x3 converges in a handful of sweeps).

/// The principal colour axes of one RGB image.
public struct ColourPCA: Sendable {
    /// The mean RGB pixel.
    public var mean: [Double]
    /// The 3x3 covariance of the RGB pixels, row-major: C[a][b] = mean over pixels of
    /// (I^a - mean^a)(I^b - mean^b).
    public var covariance: [[Double]]
    /// Eigenvalues, largest first.
    public var eigenvalues: [Double]
    /// eigenvectors[k] is p_k (unit length), for eigenvalues[k].
    public var eigenvectors: [[Double]]

    /// From an image's planes (`rgb`: `[3 * pixels]`, R plane, G plane, B plane).
    public init(rgb: [Double], pixels: Int) {
        precondition(rgb.count == 3 * pixels && pixels > 0, "ColourPCA: \(rgb.count) values for 3 x \(pixels) pixels")
        mean = (0..<3).map { c in rgb[c * pixels..<(c + 1) * pixels].reduce(0, +) / Double(pixels) }
        var cov = [[Double]](repeating: [0, 0, 0], count: 3)
        for a in 0..<3 {
            for b in a..<3 {
                var s = 0.0
                for p in 0..<pixels { s += (rgb[a * pixels + p] - mean[a]) * (rgb[b * pixels + p] - mean[b]) }
                cov[a][b] = s / Double(pixels)
                cov[b][a] = cov[a][b]
            }
        }
        covariance = cov
        (eigenvalues, eigenvectors) = symmetricEigen(cov)
    }

    /// sum_k p_k alpha_k w_k with w_k = lambda_k (the paper) or sqrt(lambda_k): the RGB offset.
    public func offset(alphas: [Double], weighting: PCAWeighting) -> [Double] {
        precondition(alphas.count == 3, "ColourPCA.offset: 3 alphas, got \(alphas.count)")
        var result = [0.0, 0.0, 0.0]
        for k in 0..<3 {
            let w = weighting == .eigenvalue ? eigenvalues[k] : max(eigenvalues[k], 0).squareRoot()
            for c in 0..<3 { result[c] += eigenvectors[k][c] * alphas[k] * w }
        }
        return result
    }
}

/// The eigenvalues (largest first) and unit eigenvectors of a symmetric n x n matrix, by
/// cyclic Jacobi rotations: each rotation zeroes one off-diagonal pair,
///     A <- J^T A J,  V <- V J,
/// until the off-diagonal part is below 1e-15 of the matrix's size. A = V diag(lambda) V^T.
public func symmetricEigen(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    let n = matrix.count
    var a = matrix
    var v = (0..<n).map { r in (0..<n).map { c in r == c ? 1.0 : 0.0 } }
    let size = max(a.flatMap { $0 }.map(abs).max() ?? 0, .leastNormalMagnitude)
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in p + 1..<n { off = max(off, abs(a[p][q])) } }
        if off <= 1e-15 * size { break }
        for p in 0..<n {
            for q in p + 1..<n where a[p][q] != 0 {
                // The angle that zeroes a[p][q]: tan(2 theta) = 2 a_pq / (a_qq - a_pp).
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {                       // columns p and q of A J
                    let (akp, akq) = (a[k][p], a[k][q])
                    a[k][p] = c * akp - s * akq
                    a[k][q] = s * akp + c * akq
                }
                for k in 0..<n {                       // rows p and q of J^T (A J)
                    let (apk, aqk) = (a[p][k], a[q][k])
                    a[p][k] = c * apk - s * aqk
                    a[q][k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let (vkp, vkq) = (v[k][p], v[k][q])
                    v[k][p] = c * vkp - s * vkq
                    v[k][q] = s * vkp + c * vkq
                }
            }
        }
    }
    let order = (0..<n).sorted { a[$0][$0] > a[$1][$1] }
    return (order.map { a[$0][$0] }, order.map { k in (0..<n).map { v[$0][k] } })
}
