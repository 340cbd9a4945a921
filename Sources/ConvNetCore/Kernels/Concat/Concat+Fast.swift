// Fast channel concatenation (Inception branches, DenseNet's growing feature maps).
//
// Trick: in NCHW, the channels of part k in image n are one contiguous run of
// C_k * H * W floats, and so is their place in the output. So concatenation is
// N * parts block copies (memcpy), not an index computation per element; the blocks
// are spread over threads when there is enough to copy. Better still, a producer can
// skip the copy altogether and write its output straight into its slice of one
// pre-allocated buffer: see `ChannelConcatBuffer` and `Fast.channelSliceOffset`
// (the "branches writing into slices of one buffer" of Inception, and the shared
// buffer of memory-efficient DenseNet).

extension Fast {
    /// `torch.cat(parts, dim=1)` of NCHW parts `[N, C_k, H, W]` (`spatial = H * W`).
    public static func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] {
        checkConcat(parts.map(\.count), channels: channels, batch: batch, spatial: spatial)
        return ChannelConcatBuffer(concatenating: parts, channels: channels, batch: batch, spatial: spatial).data
    }

    /// Splits `dy` `[N, sum C_k, H, W]` back into the parts' gradients `[N, C_k, H, W]`.
    public static func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] {
        checkConcat(nil, channels: channels, batch: batch, spatial: spatial)
        let total = channels.reduce(0, +)
        checkCount(dy.count, equals: batch * total * spatial, "dy", in: "concatenateChannelsBackward")
        let buffer = ChannelConcatBuffer(channels: channels, batch: batch, spatial: spatial, data: dy)
        return buffer.parts()
    }

    /// Where the slice of the channels starting at `channelOffset` of image `image`
    /// begins in an NCHW buffer of `totalChannels` channels of `spatial` pixels:
    /// `(image * totalChannels + channelOffset) * spatial`. A producer of `C_k` channels
    /// writes its image `n` as the `C_k * spatial` contiguous floats from there.
    public static func channelSliceOffset(image: Int, channelOffset: Int, totalChannels: Int, spatial: Int) -> Int {
        (image * totalChannels + channelOffset) * spatial
    }
}

/// One NCHW buffer `[N, sum C_k, H, W]` holding several parts side by side along the
/// channels, which each part can fill in place (no separate concatenation pass).
///
///     var out = ChannelConcatBuffer(channels: [64, 128, 32, 32], batch: n, spatial: h * w)
///     for image in 0..<n {
///         out.withSlice(part: 1, image: image) { slice in   // C_1 * H * W floats
///             /* write branch 1's channels of this image into `slice` */
///         }
///     }
///     let y = Tensor(shape: [n, 256, h, w], data: out.data)
///
/// A kernel that takes an output pointer and a row stride (like `Fast.gemm` with `ldc`)
/// can also write all images at once from `withUnsafeMutableBase` with
/// `Fast.channelSliceOffset`.
public struct ChannelConcatBuffer: Sendable {
    /// The channels of each part, in order.
    public let channels: [Int]
    /// Images in the batch.
    public let batch: Int
    /// Pixels per channel, `H * W`.
    public let spatial: Int
    /// The first channel of each part: `C_0 + ... + C_(k-1)`.
    public let channelOffsets: [Int]
    /// `sum C_k`.
    public let totalChannels: Int
    /// The concatenated maps, NCHW, `batch * totalChannels * spatial` floats.
    public var data: [Float]

    /// A zero-filled buffer for parts of `channels` channels each.
    public init(channels: [Int], batch: Int, spatial: Int) {
        checkConcat(nil, channels: channels, batch: batch, spatial: spatial)
        let total = channels.reduce(0, +)
        self.init(channels: channels, batch: batch, spatial: spatial,
                  data: [Float](repeating: 0, count: batch * total * spatial))
    }

    /// A buffer over existing concatenated data (for example a gradient to split).
    public init(channels: [Int], batch: Int, spatial: Int, data: [Float]) {
        checkConcat(nil, channels: channels, batch: batch, spatial: spatial)
        var offsets: [Int] = []
        var total = 0
        for c in channels { offsets.append(total); total += c }
        checkCount(data.count, equals: batch * total * spatial, "data", in: "ChannelConcatBuffer")
        self.channels = channels
        self.batch = batch
        self.spatial = spatial
        self.channelOffsets = offsets
        self.totalChannels = total
        self.data = data
    }

    /// The concatenation of `parts` (`parts[k]` is `[N, C_k, H, W]`), copied block by
    /// block into uninitialised storage (every element is written exactly once).
    public init(concatenating parts: [[Float]], channels: [Int], batch: Int, spatial: Int) {
        checkConcat(parts.map(\.count), channels: channels, batch: batch, spatial: spatial)
        let total = channels.reduce(0, +)
        let count = batch * total * spatial
        var offset = 0
        let data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                for k in parts.indices {
                    parts[k].withUnsafeBufferPointer { part in
                        Self.copyBlocks(from: part.baseAddress, to: buffer.baseAddress!, channels: channels[k],
                                        offset: offset, totalChannels: total, batch: batch, spatial: spatial,
                                        intoSlices: true)
                    }
                    offset += channels[k]
                }
            }
            initialized = count
        }
        self.init(channels: channels, batch: batch, spatial: spatial, data: data)
    }

    /// The index in `data` where part `part` of image `image` begins.
    public func sliceOffset(part: Int, image: Int) -> Int {
        precondition(part >= 0 && part < channels.count && image >= 0 && image < batch,
                     "ChannelConcatBuffer: part \(part) of image \(image) out of range (\(channels.count) parts, batch \(batch))")
        return Fast.channelSliceOffset(image: image, channelOffset: channelOffsets[part],
                                       totalChannels: totalChannels, spatial: spatial)
    }

    /// Calls `body` with the `channels[part] * spatial` contiguous floats of part `part`
    /// of image `image`, to be read or written in place.
    public mutating func withSlice<R>(part: Int, image: Int,
                                      _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        let start = sliceOffset(part: part, image: image)
        let count = channels[part] * spatial
        return try data.withUnsafeMutableBufferPointer { all in
            try body(UnsafeMutableBufferPointer(rebasing: all[start..<start + count]))
        }
    }

    /// Calls `body` with the base address of `data` (for kernels that write several
    /// slices with a stride; offsets from `sliceOffset(part:image:)`). The buffer must
    /// not be empty.
    public mutating func withUnsafeMutableBase<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        precondition(!data.isEmpty, "ChannelConcatBuffer: no base address of an empty buffer")
        return try data.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }

    /// Copies a whole part `[N, C_part, H, W]` into its slices.
    public mutating func write(part: Int, _ values: [Float]) {
        precondition(part >= 0 && part < channels.count,
                     "ChannelConcatBuffer: part \(part) out of range (\(channels.count) parts)")
        checkCount(values.count, equals: batch * channels[part] * spatial, "part \(part)", in: "ChannelConcatBuffer")
        let (c, offset, total, batch, spatial) = (channels[part], channelOffsets[part], totalChannels, batch, spatial)
        values.withUnsafeBufferPointer { source in
            data.withUnsafeMutableBufferPointer { buffer in
                Self.copyBlocks(from: source.baseAddress, to: buffer.baseAddress, channels: c, offset: offset,
                                totalChannels: total, batch: batch, spatial: spatial, intoSlices: true)
            }
        }
    }

    /// Copies every part into its slices (`parts[k]` is `[N, C_k, H, W]`).
    public mutating func write(_ parts: [[Float]]) {
        checkConcat(parts.map(\.count), channels: channels, batch: batch, spatial: spatial)
        for k in parts.indices { write(part: k, parts[k]) }
    }

    /// Part `part` as its own array `[N, C_part, H, W]`.
    public func part(_ part: Int) -> [Float] {
        precondition(part >= 0 && part < channels.count,
                     "ChannelConcatBuffer: part \(part) out of range (\(channels.count) parts)")
        let (c, offset, total, batch, spatial) = (channels[part], channelOffsets[part], totalChannels, batch, spatial)
        let count = batch * c * spatial
        if count == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: count) { values, initialized in
            data.withUnsafeBufferPointer { buffer in
                Self.copyBlocks(from: buffer.baseAddress, to: values.baseAddress, channels: c, offset: offset,
                                totalChannels: total, batch: batch, spatial: spatial, intoSlices: false)
            }
            initialized = count
        }
    }

    /// Every part as its own array `[N, C_k, H, W]`.
    public func parts() -> [[Float]] {
        channels.indices.map { part($0) }
    }

    /// The block copies between a part (`[N, channels * spatial]`, contiguous) and its
    /// slices of a concatenated buffer (at channel `offset` of `totalChannels`): one
    /// `memcpy` of `channels * spatial` floats per image, spread over threads when there
    /// is much to copy. `intoSlices`: from the part into the buffer, else back.
    private static func copyBlocks(from source: UnsafePointer<Float>?, to destination: UnsafeMutablePointer<Float>?,
                                   channels: Int, offset: Int, totalChannels: Int, batch: Int, spatial: Int,
                                   intoSlices: Bool) {
        let block = channels * spatial
        guard block > 0, batch > 0, let source, let destination else { return }
        let body = { (n: Int) in
            let slice = (n * totalChannels + offset) * spatial
            if intoSlices {
                (destination + slice).update(from: source + n * block, count: block)
            } else {
                (destination + n * block).update(from: source + slice, count: block)
            }
        }
        if batch > 1 && batch * block >= ElementwiseLoops.parallelThreshold * 4 {
            Parallelism.forEach(batch, body)
        } else {
            for n in 0..<batch { body(n) }
        }
    }
}
