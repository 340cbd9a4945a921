import ConvNetCore
import Foundation

// Concatenation without the copy: each branch writes its output straight into its slice
// of one pre-allocated buffer, and reads its gradient back from the same slice.
//
// The core's pair (Sources/ConvNetCore/Kernels/Concat/) is the concatenation itself:
// `Naive.concatenateChannels` (an index loop per element) and `Fast.concatenateChannels`
// (one memcpy per image and part). Both run AFTER the branches, so every output number is
// written twice: once by its branch, once by the copy (and, backward, the gradient is
// copied into one array per branch before the branches read it).
//
// In NCHW, part k of image n is one contiguous run of C_k * H * W floats in the output,
// starting at (n * sum C + off_k) * H * W (`Fast.channelSliceOffset`). So the branch's last
// operation (here its ReLU; in an inference engine, its convolution's epilogue) can write
// there directly: the output is complete when the last branch finishes, and no copy runs.
// Backward, the ReLU's gradient reads dy's slice in place. Trick and cost: one pass fewer
// over the whole output each way, i.e. 2 x 4 bytes per output number not moved.

enum ConcatIntoSlices {
    /// `concat(relu(z_0), ..., relu(z_K-1))` along channels, each branch's ReLU writing into
    /// its slices of one uninitialised buffer (`parts[k]` is `[N, C_k, H, W]`).
    static func reluConcatenated(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] {
        precondition(parts.count == channels.count && zip(parts, channels).allSatisfy { $0.count == batch * $1 * spatial },
                     "reluConcatenated: parts do not match channels \(channels), batch \(batch), spatial \(spatial)")
        let total = channels.reduce(0, +)
        let offsets = channels.indices.map { channels[..<$0].reduce(0, +) }
        let count = batch * total * spatial
        return [Float](unsafeUninitializedCapacity: count) { y, initialized in
            let base = y.baseAddress!
            // One task per (image, branch): a contiguous run in and a contiguous run out.
            Parallelism.forEach(batch * parts.count) { task in
                let (n, k) = (task / parts.count, task % parts.count)
                let block = channels[k] * spatial
                let out = base + Fast.channelSliceOffset(image: n, channelOffset: offsets[k], totalChannels: total, spatial: spatial)
                parts[k].withUnsafeBufferPointer { z in
                    relu(z.baseAddress! + n * block, out, count: block)
                }
            }
            initialized = count
        }
    }

    /// The gradients of ``reluConcatenated(_:channels:batch:spatial:)`` for each branch's
    /// pre-activation: `dz_k = dy[slice k] where z_k > 0`, dy read in place.
    static func reluConcatenatedBackward(_ parts: [[Float]], outputGradient dy: [Float], channels: [Int], batch: Int,
                                         spatial: Int) -> [[Float]] {
        let total = channels.reduce(0, +)
        precondition(dy.count == batch * total * spatial, "reluConcatenatedBackward: dy has \(dy.count) values")
        let offsets = channels.indices.map { channels[..<$0].reduce(0, +) }
        var gradients: [[Float]] = []
        dy.withUnsafeBufferPointer { dy in
            for k in parts.indices {
                let block = channels[k] * spatial
                gradients.append([Float](unsafeUninitializedCapacity: batch * block) { dz, initialized in
                    let dzBase = dz.baseAddress!
                    parts[k].withUnsafeBufferPointer { z in
                        Parallelism.forEach(batch) { n in
                            let slice = dy.baseAddress! + Fast.channelSliceOffset(image: n, channelOffset: offsets[k],
                                                                                  totalChannels: total, spatial: spatial)
                            reluBackward(z.baseAddress! + n * block, slice, dzBase + n * block, count: block)
                        }
                    }
                    initialized = batch * block
                })
            }
        }
        return gradients
    }

    /// `y[i] = max(x[i], 0)`, sixteen at a time.
    @inline(__always)
    private static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v = load16(x + i)
            store16(v.replacing(with: 0, where: v .< 0), y + i)
            i += 16
        }
        while i < count { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
    }

    /// `dx[i] = x[i] > 0 ? dy[i] : 0`, sixteen at a time.
    @inline(__always)
    private static func reluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(SIMD16<Float>(repeating: 0).replacing(with: load16(dy + i), where: load16(x + i) .> 0), dx + i)
            i += 16
        }
        while i < count { dx[i] = x[i] > 0 ? dy[i] : 0; i += 1 }
    }
}
