extension Naive {
    /// Concatenation of NCHW feature maps along channels, PyTorch's `torch.cat(parts, dim=1)`:
    /// part `k` is `[N, C_k, H, W]` (`spatial = H * W`), the result `[N, sum C_k, H, W]`
    /// with `y[n, off_k + c, p] = part_k[n, c, p]`, `off_k = C_0 + ... + C_(k-1)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func concatenateChannels<T: BinaryFloatingPoint>(_ parts: [[T]], channels: [Int], batch: Int, spatial: Int) -> [T] {
        checkConcat(parts.map(\.count), channels: channels, batch: batch, spatial: spatial)
        let total = channels.reduce(0, +)
        var y = [T](repeating: 0, count: batch * total * spatial)
        for n in 0..<batch {                                  // each image
            var offset = 0                                    // off_k
            for k in parts.indices {                          // each part, in order
                for c in 0..<channels[k] {                    // its channels
                    for p in 0..<spatial {                    // each pixel (h, w)
                        y[(n * total + offset + c) * spatial + p] = parts[k][(n * channels[k] + c) * spatial + p]
                    }
                }
                offset += channels[k]
            }
        }
        return y
    }

    /// Gradient of `L = sum(concat(parts) * dy)` for each part: the channel slices of
    /// dy, `dpart_k[n, c, p] = dy[n, off_k + c, p]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func concatenateChannelsBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], channels: [Int], batch: Int, spatial: Int) -> [[T]] {
        checkConcat(nil, channels: channels, batch: batch, spatial: spatial)
        let total = channels.reduce(0, +)
        checkCount(dy.count, equals: batch * total * spatial, "dy", in: "concatenateChannelsBackward")
        var parts = channels.map { [T](repeating: 0, count: batch * $0 * spatial) }
        for n in 0..<batch {
            var offset = 0
            for k in channels.indices {
                for c in 0..<channels[k] {
                    for p in 0..<spatial {
                        parts[k][(n * channels[k] + c) * spatial + p] = dy[(n * total + offset + c) * spatial + p]
                    }
                }
                offset += channels[k]
            }
        }
        return parts
    }
}

/// Checks a channel concatenation: non-negative sizes and, when given, each part's count
/// equal to `batch * channels[k] * spatial`.
func checkConcat(_ partCounts: [Int]?, channels: [Int], batch: Int, spatial: Int) {
    precondition(batch >= 0 && spatial >= 0 && channels.allSatisfy { $0 >= 0 },
                 "concatenateChannels: negative size (batch \(batch), spatial \(spatial), channels \(channels))")
    guard let partCounts else { return }
    precondition(partCounts.count == channels.count,
                 "concatenateChannels: \(partCounts.count) parts but \(channels.count) channel counts")
    for k in partCounts.indices {
        checkCount(partCounts[k], equals: batch * channels[k] * spatial,
                   "part \(k) [\(batch), \(channels[k]), \(spatial)]", in: "concatenateChannels")
    }
}
