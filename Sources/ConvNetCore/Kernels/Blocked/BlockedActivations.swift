import Foundation

// Activations in the channel-blocked layout, NCHW16c, with a zero border.
//
// NCHW keeps each channel's plane together, so a convolution that puts 16 output channels
// in a vector (Convolution+FastDirect.swift) has to turn its sums, [pixel][channel], into
// channel rows on the way out (a 16 x 16 transpose per block), and the next convolution
// has to copy its input into padded phase planes before it can broadcast from it. ONNX
// Runtime (MLAS's "NCHWc" kernels) and oneDNN (its "nChw16c" format) keep the activations
// between layers in a layout that is the kernel's own instead:
//
//     x[n][C/16][H + 2B][W + 2B][16]      channel c of pixel (i, j) at block c/16, lane c%16
//
// - a convolution's register tile (P pixels x 16V channels) is stored as it is: pixel p's
//   16 channels of block l are one 64-byte vector, one cache line, no transpose;
// - the next convolution broadcasts input channel c of pixel (i, j) from
//   `block(c/16) + ((i + B) * (W + 2B) + j + B) * 16 + c%16`: its P pixels are 16 floats
//   apart (32 at stride 2), so it reads the layout in place, with no copy;
// - the border of B zero pixels (1 for 3 x 3 convolutions) is the zero padding, written
//   once when the buffer is made; a convolution writes only the interior.
//
// Channels past `channels` in the last block are zeros (a convolution's padded lanes get
// zero weights and zero bias, so they stay zero all the way).

/// A batch of feature maps stored NCHW16c (16 channels per block, the lanes of a vector)
/// with `border` zero pixels around each plane. See the header for why.
public final class BlockedActivations {
    public let batch: Int, channels: Int, height: Int, width: Int
    /// Zero pixels on every side of each plane.
    public let border: Int
    /// `ceil(channels / 16)`.
    public let channelBlocks: Int
    /// Floats of one padded row (`(width + 2 border) * 16`), one block's plane, one image.
    public let rowFloats: Int, blockFloats: Int, imageFloats: Int
    /// The storage, 64-byte aligned: `batch * imageFloats` floats.
    public let storage: UnsafeMutablePointer<Float>

    /// Uninitialized interior (every producer writes all of it, padded lanes included),
    /// zero border.
    public init(batch: Int, channels: Int, height: Int, width: Int, border: Int) {
        precondition(batch > 0 && channels > 0 && height > 0 && width > 0 && border >= 0,
                     "BlockedActivations: bad shape [\(batch), \(channels), \(height), \(width)] border \(border)")
        self.batch = batch; self.channels = channels; self.height = height; self.width = width; self.border = border
        channelBlocks = (channels + 15) / 16
        rowFloats = (width + 2 * border) * 16
        blockFloats = (height + 2 * border) * rowFloats
        imageFloats = channelBlocks * blockFloats
        storage = BlockedStoragePool.take(batch * imageFloats)
        zeroBorder()
    }

    deinit { BlockedStoragePool.give(storage, count: batch * imageFloats) }

    /// The shape as NCHW dimensions.
    public var shape: [Int] { [batch, channels, height, width] }

    /// The 16 lanes of pixel (i, j) of channel block `block` of image n (i, j may reach
    /// into the border: -border ..< height + border).
    @inline(__always)
    public func pixel(_ n: Int, _ block: Int, _ i: Int, _ j: Int) -> UnsafeMutablePointer<Float> {
        storage + n &* imageFloats + block &* blockFloats + (i &+ border) &* rowFloats + (j &+ border) &* 16
    }

    private func zeroBorder() {
        guard border > 0 else { return }
        let b = border, pw = width + 2 * b
        for plane in 0..<batch * channelBlocks {
            let base = storage + plane * blockFloats
            base.update(repeating: 0, count: b * rowFloats)                                   // top rows
            (base + (b + height) * rowFloats).update(repeating: 0, count: b * rowFloats)      // bottom rows
            for i in b..<b + height {
                let row = base + i * rowFloats
                row.update(repeating: 0, count: b * 16)                                       // left
                (row + (pw - b) * 16).update(repeating: 0, count: b * 16)                     // right
            }
        }
    }

    /// `t` (NCHW) in the blocked layout with `border` zero pixels.
    public convenience init(_ t: Tensor, border: Int) {
        precondition(t.shape.count == 4, "BlockedActivations: expected an NCHW tensor, got \(t.shape)")
        self.init(batch: t.shape[0], channels: t.shape[1], height: t.shape[2], width: t.shape[3], border: border)
        t.data.withUnsafeBufferPointer { fill(fromNCHW: $0.baseAddress!) }
    }

    /// NCHW `x` (`batch * channels * height * width` floats) in the blocked layout with
    /// `border` zero pixels: sixteen channels of sixteen pixels at a time transposed in
    /// registers (the rest, and the zero lanes past `channels`, one value at a time).
    convenience init(nchw x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int, border: Int) {
        self.init(batch: batch, channels: channels, height: height, width: width, border: border)
        fill(fromNCHW: x)
    }

    /// The interior (padded lanes included) from NCHW `x`; see `init(nchw:...)`. With a
    /// border, the sixteen pixels transposed together run on across the ends of rows (a row
    /// of 14, as in VGG's last stages, would otherwise go one value at a time): they pass
    /// through sixteen vectors on the stack to their pixels.
    private func fill(fromNCHW x: UnsafePointer<Float>) {
        let plane = height * width
        Parallelism.forEach(batch * channelBlocks) { item in
            let (n, cb) = item.quotientAndRemainder(dividingBy: channelBlocks)
            let lanes = min(16, channels - cb * 16)
            let source = x + (n * channels + cb * 16) * plane
            var q = 0
            if lanes == 16 && border == 0 {
                while q + 16 <= plane {
                    transposeStore16(source + q, ld: plane, pixel(n, cb, 0, 0) + q * 16, ldDst: 16, bias: nil,
                                     residual: nil, relu: false)
                    q += 16
                }
            } else if lanes == 16 {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { vectors in
                    let v = vectors.baseAddress!
                    var (i, j) = (0, 0)
                    while q + 16 <= plane {
                        transposeStore16(source + q, ld: plane, v, ldDst: 16, bias: nil, residual: nil, relu: false)
                        for r in 0..<16 {
                            store16(load16(v + r * 16), pixel(n, cb, i, j))
                            j += 1
                            if j == width { (i, j) = (i + 1, 0) }
                        }
                        q += 16
                    }
                }
            }
            for p in q..<plane {
                let (i, j) = p.quotientAndRemainder(dividingBy: width)
                let blocked = pixel(n, cb, i, j)
                for l in 0..<lanes { blocked[l] = source[l * plane + p] }
                for l in lanes..<16 { blocked[l] = 0 }
            }
        }
    }

    /// The activations as an NCHW tensor.
    public func tensor() -> Tensor {
        let count = batch * channels * height * width
        let data = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            copy(toNCHW: out.baseAddress!)
            initialized = count
        }
        return Tensor(shape: shape, data: data)
    }

    /// Writes the activations into `y` (NCHW, `batch * channels * height * width` floats):
    /// each run of pixels contiguous in both layouts (a whole plane without a border, else a
    /// row) of every channel block, by ``storeRunNCHW``, spread over the threads by (image, block).
    func copy(toNCHW y: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let (runs, length) = border == 0 ? (1, plane) : (height, width)
        Parallelism.forEach(batch * channelBlocks) { item in
            let (n, cb) = item.quotientAndRemainder(dividingBy: channelBlocks)
            for run in 0..<runs {
                storeRunNCHW(pixel(n, cb, run, 0), pixels: length, lanes: min(16, channels - cb * 16),
                             into: y + (n * channels + cb * 16) * plane + run * length, plane: plane,
                             residual: nil, relu: false)
            }
        }
    }
}

/// `pixels` pixels of one channel block (`blocked`, 16 floats per pixel, the first `lanes`
/// meaningful) into `lanes` NCHW channel rows (`y`, rows `plane` floats apart), adding
/// `residual` (laid out as `y`) and applying ReLU when asked: sixteen pixels at a time
/// transposed in registers, the rest one value at a time.
func storeRunNCHW(_ blocked: UnsafePointer<Float>, pixels: Int, lanes: Int, into y: UnsafeMutablePointer<Float>, plane: Int,
                  residual: UnsafePointer<Float>?, relu: Bool) {
    var q = 0
    if lanes == 16 {
        while q + 16 <= pixels {
            transposeStore16(blocked + q * 16, ld: 16, y + q, ldDst: plane, bias: nil,
                             residual: residual.map { $0 + q }, relu: relu)
            q += 16
        }
    }
    for p in q..<pixels {
        for l in 0..<lanes {
            var v = blocked[p * 16 + l]
            if let residual { v += residual[l * plane + p] }
            y[l * plane + p] = relu ? max(v, 0) : v
        }
    }
}

/// Storage for blocked activations, kept when they are freed and handed out again for the
/// same size: a network's inference makes the same buffers on every call, and fresh pages
/// would fault in on first touch each time (a freed block of megabytes goes back to the
/// system). Up to 64 buffers or 512 MB are kept.
enum BlockedStoragePool {
    nonisolated(unsafe) private static var spare: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var keptFloats = 0
    private static let lock = NSLock()

    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        let found = spare[count]?.popLast()
        if found != nil { keptFloats -= count }
        lock.unlock()
        if let found { return found }
        return UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
    }

    static func give(_ storage: UnsafeMutablePointer<Float>, count: Int) {
        lock.lock()
        let keep = keptFloats + count <= 1 << 27 && spare.values.reduce(0) { $0 + $1.count } < 64
        if keep { spare[count, default: []].append(storage); keptFloats += count }
        lock.unlock()
        if !keep { UnsafeMutableRawPointer(storage).deallocate() }
    }
}
