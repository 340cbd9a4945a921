import Foundation

extension Naive {
    /// The channels `c'` whose squares normalise channel `c`:
    /// `[c - size/2, c + (size-1)/2]` (integer division), clipped to `0..<channels`.
    static func lrnWindow(_ c: Int, size: Int, channels: Int) -> ClosedRange<Int> {
        max(0, c - size / 2)...min(channels - 1, c + (size - 1) / 2)
    }

    static func checkLRN(size: Int, shape: FeatureMapShape, in op: String) {
        precondition(size > 0, "\(op): size must be positive, got \(size)")
        precondition([shape.batch, shape.channels, shape.height, shape.width].allSatisfy { $0 > 0 },
                     "\(op): shape \(shape) must be positive")
    }

    /// Local response normalisation across channels (`torch.nn.functional.local_response_norm`,
    /// AlexNet section 3.3).
    ///
    /// `x` and the result are `[N, C, H, W]`. At every position `(n, h, w)`:
    ///
    ///     D_c = k + (alpha / size) * sum_{c' = max(0, c - size/2)}^{min(C-1, c + (size-1)/2)} a_{c'}^2
    ///     b_c = a_c / D_c^beta
    ///
    /// PyTorch's convention divides `alpha` by the window `size` (it averages the squares);
    /// the AlexNet paper writes the sum with no division, so the paper's alpha is this
    /// `alpha / size` (paper: n = 5, alpha = 1e-4, beta = 0.75, k = 2 is PyTorch
    /// `size: 5, alpha: 5e-4, beta: 0.75, k: 2`). An even `size` makes the window lean
    /// towards lower channels, as in PyTorch.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func localResponseNorm<T: BinaryFloatingPoint>(_ x: [T], shape s: FeatureMapShape, size: Int,
                                                                 alpha: T, beta: T, k: T) -> [T] {
        checkLRN(size: size, shape: s, in: "local_response_norm")
        checkCount(x.count, equals: s.count, "x", in: "local_response_norm")
        let (channels, hw) = (s.channels, s.spatial)
        var y = [T](repeating: 0, count: x.count)
        for n in 0..<s.batch {                                   // image
            for c in 0..<channels {                              // channel b_c
                for p in 0..<hw {                                // position (h, w)
                    var sum: T = 0                               // sum of a_{c'}^2 over the window
                    for c2 in lrnWindow(c, size: size, channels: channels) {
                        let a = x[(n * channels + c2) * hw + p]
                        sum += a * a
                    }
                    let d = k + alpha / T(size) * sum            // D_c
                    y[(n * channels + c) * hw + p] = x[(n * channels + c) * hw + p]
                        / T(Foundation.pow(Double(d), Double(beta)))
                }
            }
        }
        return y
    }

    /// The gradient of ``localResponseNorm(_:shape:size:alpha:beta:k:)`` with respect to
    /// `x`. Channel `j` reaches the output directly and through the denominators of every
    /// channel whose window contains it, the channels `c` in `[j - (size-1)/2, j + size/2]`:
    ///
    ///     dx_j = dy_j * D_j^(-beta)
    ///            - (2 * alpha * beta / size) * a_j * sum_c dy_c * a_c * D_c^(-beta - 1)
    ///
    /// `x`, `dy` and the result are `[N, C, H, W]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func localResponseNormBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T],
                                                                         shape s: FeatureMapShape, size: Int,
                                                                         alpha: T, beta: T, k: T) -> [T] {
        checkLRN(size: size, shape: s, in: "local_response_norm backward")
        checkCount(x.count, equals: s.count, "x", in: "local_response_norm backward")
        checkCount(dy.count, equals: s.count, "dy", in: "local_response_norm backward")
        let (channels, hw) = (s.channels, s.spatial)
        var dx = [T](repeating: 0, count: x.count)
        var d = [T](repeating: 0, count: channels)                 // D_c at one position
        for n in 0..<s.batch {                                    // image
            for p in 0..<hw {                                     // position (h, w)
                func at(_ c: Int) -> Int { (n * channels + c) * hw + p }
                for c in 0..<channels {                           // D_c = k + alpha/size * sum a^2
                    var sum: T = 0
                    for c2 in lrnWindow(c, size: size, channels: channels) { sum += x[at(c2)] * x[at(c2)] }
                    d[c] = k + alpha / T(size) * sum
                }
                for j in 0..<channels {                           // the input channel a_j
                    let direct = dy[at(j)] / T(Foundation.pow(Double(d[j]), Double(beta)))
                    var through: T = 0                            // sum over c with j in window(c)
                    for c in max(0, j - (size - 1) / 2)...min(channels - 1, j + size / 2) {
                        through += dy[at(c)] * x[at(c)] / T(Foundation.pow(Double(d[c]), Double(beta + 1)))
                    }
                    dx[at(j)] = direct - 2 * alpha * beta / T(size) * x[at(j)] * through
                }
            }
        }
        return dx
    }
}
