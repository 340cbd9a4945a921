import Foundation

// The 3x3 "same" convolutions of small networks on small maps (8-64 channels, 32x32 down
// to 4x4, a batch of images), forward, input gradient and weight gradient: where the
// lessons train (the CIFAR ResNets, the degradation nets on 16x16 digits).
//
// Why a kernel of its own: the other kernels put 16 or 64 output channels in a vector
// and a few pixels in registers, which leaves most lanes or registers idle with 8 or 16
// channels; and a 4x4 or 8x8 map has too few pixels per row to fill a vector of pixels.
// Here a vector holds 16 consecutive positions of a "shared-border" layout of the whole
// batch: each channel is one long plane in which the images follow one another, every row
// is W values then p = 1 zero, and every image H rows then one zero row. The zero after
// a row is the left border of the next row, the zero row after an image the top border
// of the next, so a tap (ky, kx) of every output position q is the input at q + (ky - 1)
// * (W + 1) + (kx - 1): one unaligned vector load, whatever the image, row or column, with
// no branches and no copies per tap. The positions on borders are computed too and thrown
// away: 11% of the work at 16x16, 21% at 8x8, 36% at 4x4.
//
// - forward: 8 output channels x 48 positions in 24 zmm accumulators; per input channel
//   and tap, three vector loads of the input and eight broadcast weights (24 FMAs);
// - input gradient: the same kernel on dy with the weights turned by 180 degrees and
//   their two channel axes swapped (stride 1: dx is the forward convolution of dy);
// - weight gradient: 3 output channels x 9 taps of one input channel in 27 accumulators,
//   each a dot product of a dy plane and a shifted x plane over every position of the
//   batch (dy is zero on the borders, so they add nothing), in blocks of positions that
//   stay in L2, reduced to scalars at the end of each block.
// Threads share positions (forward, dx) or blocks of positions with a partial dW each.
// Layout conversions cost a copy of each tensor each way, a few percent of the work.

/// The shared-border layout and the three kernels of a 3x3, stride-1, padding-1
/// convolution of groups 1 (see the file's header).
struct SmallConvolution {
    typealias V = SIMD16<Float>
    let s: Conv2DGeometry
    /// W + 1: floats per row (W values, one zero).
    let rowStride: Int
    /// (H + 1) * rowStride: floats per image.
    let imageStride: Int
    /// Positions of the whole batch: batch * imageStride.
    let positions: Int
    /// Positions rounded up to whole chunks of the forward kernel.
    let paddedPositions: Int
    /// Where position 0 is in a plane (the top border of the first image before it).
    let lead: Int
    /// Floats per channel plane (a multiple of 16).
    let planeStride: Int
    /// Positions per forward tile.
    static let chunk = 48

    /// What the kernels can compute: 3x3, stride 1, padding 1, groups 1 on AVX-512, at
    /// most 64 channels each way and maps of at most 32x32, 8, 16, ... output channels
    /// (the forward kernel's tile).
    static func fits(_ s: Conv2DGeometry) -> Bool {
        CPUFeatures.hasAVX512F && s.groups == 1 && s.kernelHeight == 3 && s.kernelWidth == 3
            && s.strideHeight == 1 && s.strideWidth == 1 && s.paddingHeight == 1 && s.paddingWidth == 1
            && s.inChannels <= 64 && s.outChannels <= 64 && s.outChannels % 8 == 0
            && s.inHeight <= 32 && s.inWidth <= 32
    }

    /// Where the router runs them: where they fit and were measured faster than the
    /// kernels they replace, at most 16 channels each way on maps of at most 256 pixels
    /// (batch 64, one thread, Zen 5: 8 channels at 16x16 3.5-5.5x, 16 at 8x8 1.1-1.3x
    /// in forward, dx and dW; 32 channels at 4x4 even; 16 at 32x32 and 32 at 16x16 at
    /// batch 128 0.6-0.7x, their layout planes outgrowing L2).
    static func applies(to s: Conv2DGeometry) -> Bool {
        Fast.usesSmallConvolution && fits(s) && max(s.inChannels, s.outChannels) <= 16 && s.inHeight * s.inWidth <= 256
    }

    /// Whether its backward pass can give the gradients asked for (dx needs input
    /// channels in eights, as the forward kernel's output channels).
    static func backwardApplies(to s: Conv2DGeometry, input: Bool) -> Bool {
        applies(to: s) && (!input || s.inChannels % 8 == 0)
    }

    init(_ geometry: Conv2DGeometry) {
        s = geometry
        rowStride = s.inWidth + 1
        imageStride = (s.inHeight + 1) * rowStride
        positions = s.batch * imageStride
        paddedPositions = (positions + Self.chunk - 1) / Self.chunk * Self.chunk
        lead = (rowStride + 1 + 15) & ~15
        planeStride = (lead + paddedPositions + rowStride + 1 + 16 + 15) & ~15
    }

    /// The input offsets of the nine taps, row-major (ky, kx).
    var offsets: [Int] {
        (0..<9).map { t in (t / 3 - 1) * rowStride + (t % 3 - 1) }
    }

    /// Layout planes for one call, from ``SmallConvolutionScratch`` (reused: a fresh
    /// allocation of this size is a fresh mapping, whose page faults cost as much as the
    /// convolution of a 4x4 map).
    func withPlanes<R>(_ channels: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let count = channels * planeStride
        let buffer = SmallConvolutionScratch.take(count)
        defer { SmallConvolutionScratch.give(buffer) }
        return body(buffer.pointer)
    }

    // MARK: Layout

    /// NCHW `src` of `channels` channels into shared-border planes at `dst`.
    ///
    /// Threads split the images, as the kernels that read the planes split positions and
    /// ``fromLayout(_:channels:into:bias:residual:relu:)`` splits its output: each thread
    /// writes the part of every plane that it will read itself, so the planes do not move
    /// between the cores' caches (on a host that puts the two cores on different chiplets
    /// a cache line takes 0.3-0.5 microseconds to cross).
    func toLayout(_ src: UnsafePointer<Float>, channels: Int, _ dst: UnsafeMutablePointer<Float>) {
        let h = s.inHeight, w = s.inWidth, batch = s.batch
        Parallelism.forEachChunk(batch) { _, images in
            for c in 0..<channels {
                let plane = dst + c * planeStride
                if images.lowerBound == 0 { plane.update(repeating: 0, count: lead) }
                for n in images {
                    let image = plane + lead + n * imageStride
                    let from = src + (n * channels + c) * h * w
                    for r in 0..<h {
                        copyFloats(from: from + r * w, to: image + r * rowStride, count: w)
                        image[r * rowStride + w] = 0
                    }
                    (image + h * rowStride).update(repeating: 0, count: rowStride)
                }
                if images.upperBound == batch {
                    (plane + lead + positions).update(repeating: 0, count: planeStride - lead - positions)
                }
            }
        }
    }

    /// Planes at `src` (`channels` of them) into NCHW `dst`: act(value + bias + residual).
    func fromLayout(_ src: UnsafePointer<Float>, channels: Int, into dst: UnsafeMutablePointer<Float>,
                    bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil, relu: Bool = false) {
        let h = s.inHeight, w = s.inWidth
        Parallelism.forEachChunk(s.batch * channels) { _, range in
            for item in range {
                let (n, c) = item.quotientAndRemainder(dividingBy: channels)
                let image = src + c * planeStride + lead + n * imageStride
                let out = dst + item * h * w
                let res = residual.map { $0 + item * h * w }
                let b = bias?[c] ?? 0
                for r in 0..<h {
                    let row = image + r * rowStride, o = out + r * w
                    if let res {
                        let rr = res + r * w
                        if relu { for i in 0..<w { o[i] = max(row[i] + b + rr[i], 0) } }
                        else { for i in 0..<w { o[i] = row[i] + b + rr[i] } }
                    } else if relu {
                        for i in 0..<w { o[i] = max(row[i] + b, 0) }
                    } else if bias != nil {
                        for i in 0..<w { o[i] = row[i] + b }
                    } else {
                        copyFloats(from: row, to: o, count: w)
                    }
                }
            }
        }
    }

    // MARK: Forward (and input gradient)

    /// `out` planes (`outChannels`, in eights) = the 3x3 correlation of `input` planes
    /// (`inChannels`) with `packed` weights, [block][input channel][tap][8].
    func correlate(_ input: UnsafePointer<Float>, inChannels: Int, packed: UnsafePointer<Float>, outChannels: Int,
                   _ out: UnsafeMutablePointer<Float>) {
        let blocks = outChannels / 8, planeStride = planeStride, lead = lead
        offsets.withUnsafeBufferPointer { offsets in
            let off = offsets.baseAddress!
            Parallelism.forEachChunk(paddedPositions / Self.chunk) { _, chunks in
                for chunk in chunks {
                    let q = lead + chunk * Self.chunk
                    for b in 0..<blocks {
                        Self.tile8x48(input + q, channels: inChannels, planeStride: planeStride, offsets: off,
                                      weights: packed + b * inChannels * 72, out: out + b * 8 * planeStride + q,
                                      outStride: planeStride)
                    }
                }
            }
        }
    }

    /// 8 output channels x 48 positions: sum over channels and taps of weight x input.
    @inline(__always)
    static func tile8x48(_ x: UnsafePointer<Float>, channels: Int, planeStride: Int, offsets: UnsafePointer<Int>,
                         weights: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V()
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V()
        var w = weights, plane = x
        for _ in 0..<channels {
            for t in 0..<9 {
                let p = plane + offsets[t]
                let x0 = load16(p), x1 = load16(p + 16), x2 = load16(p + 32)
                var v = V(repeating: w[0]); a0.addProduct(x0, v); b0.addProduct(x1, v); c0.addProduct(x2, v)
                v = V(repeating: w[1]); a1.addProduct(x0, v); b1.addProduct(x1, v); c1.addProduct(x2, v)
                v = V(repeating: w[2]); a2.addProduct(x0, v); b2.addProduct(x1, v); c2.addProduct(x2, v)
                v = V(repeating: w[3]); a3.addProduct(x0, v); b3.addProduct(x1, v); c3.addProduct(x2, v)
                v = V(repeating: w[4]); a4.addProduct(x0, v); b4.addProduct(x1, v); c4.addProduct(x2, v)
                v = V(repeating: w[5]); a5.addProduct(x0, v); b5.addProduct(x1, v); c5.addProduct(x2, v)
                v = V(repeating: w[6]); a6.addProduct(x0, v); b6.addProduct(x1, v); c6.addProduct(x2, v)
                v = V(repeating: w[7]); a7.addProduct(x0, v); b7.addProduct(x1, v); c7.addProduct(x2, v)
                w += 8
            }
            plane += planeStride
        }
        @inline(__always) func put(_ o: Int, _ a: V, _ b: V, _ c: V) {
            let p = out + o * outStride
            store16(a, p); store16(b, p + 16); store16(c, p + 32)
        }
        put(0, a0, b0, c0); put(1, a1, b1, c1); put(2, a2, b2, c2); put(3, a3, b3, c3)
        put(4, a4, b4, c4); put(5, a5, b5, c5); put(6, a6, b6, c6); put(7, a7, b7, c7)
    }

    /// `y` (NCHW) = act(conv(x) + bias + residual).
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        withPlanes(s.inChannels) { xl in
            withPlanes(s.outChannels) { yl in
                toLayout(x, channels: s.inChannels, xl)
                // [out / 8][in][tap][8], as the forward tiles read them.
                let packed = PlaneConvolution.pack(weight, outChannels: s.outChannels, inChannels: s.inChannels, lanes: 8, turned: false)
                packed.withUnsafeBufferPointer {
                    correlate(xl, inChannels: s.inChannels, packed: $0.baseAddress!, outChannels: s.outChannels, yl)
                }
                fromLayout(yl, channels: s.outChannels, into: y, bias: bias, residual: residual, relu: relu)
            }
        }
    }

    // MARK: Backward

    /// The gradients asked for, as ``Fast/convolutionBackward``: dx (needs `weight`),
    /// dW and dbias (need `x`; dbias only where `bias`).
    func backward(x: [Float]?, weight: [Float]?, dy: [Float], input: Bool, weightAndBias: Bool,
                  bias: Bool) -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        withPlanes(s.outChannels) { dyl in
            backward(x: x, weight: weight, dyl: dyl, dy: dy, input: input, weightAndBias: weightAndBias, bias: bias)
        }
    }

    private func backward(x: [Float]?, weight: [Float]?, dyl: UnsafeMutablePointer<Float>, dy: [Float], input: Bool,
                          weightAndBias: Bool, bias: Bool) -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        dy.withUnsafeBufferPointer { toLayout($0.baseAddress!, channels: s.outChannels, dyl) }
        var dx: [Float]? = nil, dw: [Float]? = nil, db: [Float]? = nil
        if input, let weight {
            let packed = weight.withUnsafeBufferPointer {
                PlaneConvolution.pack($0.baseAddress!, outChannels: s.outChannels, inChannels: s.inChannels, lanes: 8, turned: true)
            }
            dx = withPlanes(s.inChannels) { dxl in
                packed.withUnsafeBufferPointer {
                    correlate(dyl, inChannels: s.outChannels, packed: $0.baseAddress!, outChannels: s.inChannels, dxl)
                }
                return [Float](unsafeUninitializedCapacity: s.inputShape.count) { buffer, initialized in
                    fromLayout(dxl, channels: s.inChannels, into: buffer.baseAddress!)
                    initialized = s.inputShape.count
                }
            }
        }
        if weightAndBias, let x {
            dw = withPlanes(s.inChannels) { xl in
                x.withUnsafeBufferPointer { toLayout($0.baseAddress!, channels: s.inChannels, xl) }
                return weightGradient(x: xl, dy: dyl)
            }
            if bias {
                db = (0..<s.outChannels).map { o in
                    var sum = V()
                    let plane = dyl + o * planeStride + lead
                    var q = 0
                    while q + 16 <= positions { sum += load16(plane + q); q += 16 }
                    var total = sum.sum()
                    while q < positions { total += plane[q]; q += 1 }
                    return total
                }
            }
        }
        return (dx, dw, db)
    }

    /// Positions per block of the weight gradient (each thread's partial sums are reduced
    /// to scalars after each block).
    static let gradientBlock = 4096

    /// dW[o][c][t] = sum over positions q of dy[o][q] x[c][q + offset t], from layout planes.
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>) -> [Float] {
        let cin = s.inChannels, cout = s.outChannels, count = cout * cin * 9
        let vectors = (positions + 15) / 16
        let threads = max(1, min(Parallelism.threadCount, vectors / 16))
        // Each thread's partial sums on cache lines of their own.
        let stride = roundUp16(count)
        let partials = UnsafeMutableRawPointer.allocate(byteCount: threads * stride * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: threads * stride)
        defer { partials.deallocate() }
        let planeStride = planeStride, lead = lead
        offsets.withUnsafeBufferPointer { offsets in
            let off = offsets.baseAddress!
            Parallelism.run(threads) { t in
                let dw = partials + t * stride
                dw.update(repeating: 0, count: count)
                let first = vectors * t / threads * 16, end = vectors * (t + 1) / threads * 16
                var q0 = first
                while q0 < end {
                    let q1 = min(end, q0 + Self.gradientBlock)
                    for c in 0..<cin {
                        let xc = x + c * planeStride + lead
                        var o = 0
                        while o < cout {
                            let rows = min(3, cout - o)
                            let d0 = dy + o * planeStride + lead
                            // Fewer than 3 rows left: the missing ones repeat row 0 (their sums are not stored).
                            let d1 = rows > 1 ? d0 + planeStride : d0
                            let d2 = rows > 2 ? d0 + 2 * planeStride : d0
                            Self.gradientTile(x: xc, d0, d1, d2, range: q0..<q1, offsets: off,
                                              dw: dw + (o * cin + c) * 9, rowStride: cin * 9, rows: rows)
                            o += 3
                        }
                    }
                    q0 = q1
                }
            }
        }
        var result = [Float](repeating: 0, count: count)
        for t in 0..<threads {
            let p = partials + t * stride
            for i in 0..<count { result[i] += p[i] }
        }
        return result
    }

    /// 3 output channels x 9 taps of one input channel over positions `range` (a multiple
    /// of 16 long), added into dw[row * rowStride + tap] for the first `rows` rows.
    @inline(__always)
    static func gradientTile(x: UnsafePointer<Float>, _ d0: UnsafePointer<Float>, _ d1: UnsafePointer<Float>,
                             _ d2: UnsafePointer<Float>, range: Range<Int>, offsets: UnsafePointer<Int>,
                             dw: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V(), a8 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V(), b8 = V()
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V(), c8 = V()
        let o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4]
        let o5 = offsets[5], o6 = offsets[6], o7 = offsets[7], o8 = offsets[8]
        var q = range.lowerBound
        while q < range.upperBound {
            let g0 = load16(d0 + q), g1 = load16(d1 + q), g2 = load16(d2 + q)
            let p = x + q
            var v = load16(p + o0); a0.addProduct(g0, v); b0.addProduct(g1, v); c0.addProduct(g2, v)
            v = load16(p + o1); a1.addProduct(g0, v); b1.addProduct(g1, v); c1.addProduct(g2, v)
            v = load16(p + o2); a2.addProduct(g0, v); b2.addProduct(g1, v); c2.addProduct(g2, v)
            v = load16(p + o3); a3.addProduct(g0, v); b3.addProduct(g1, v); c3.addProduct(g2, v)
            v = load16(p + o4); a4.addProduct(g0, v); b4.addProduct(g1, v); c4.addProduct(g2, v)
            v = load16(p + o5); a5.addProduct(g0, v); b5.addProduct(g1, v); c5.addProduct(g2, v)
            v = load16(p + o6); a6.addProduct(g0, v); b6.addProduct(g1, v); c6.addProduct(g2, v)
            v = load16(p + o7); a7.addProduct(g0, v); b7.addProduct(g1, v); c7.addProduct(g2, v)
            v = load16(p + o8); a8.addProduct(g0, v); b8.addProduct(g1, v); c8.addProduct(g2, v)
            q += 16
        }
        @inline(__always) func flush(_ row: UnsafeMutablePointer<Float>, _ s: (V, V, V, V, V, V, V, V, V)) {
            row[0] += s.0.sum(); row[1] += s.1.sum(); row[2] += s.2.sum(); row[3] += s.3.sum(); row[4] += s.4.sum()
            row[5] += s.5.sum(); row[6] += s.6.sum(); row[7] += s.7.sum(); row[8] += s.8.sum()
        }
        flush(dw, (a0, a1, a2, a3, a4, a5, a6, a7, a8))
        if rows > 1 { flush(dw + rowStride, (b0, b1, b2, b3, b4, b5, b6, b7, b8)) }
        if rows > 2 { flush(dw + 2 * rowStride, (c0, c1, c2, c3, c4, c5, c6, c7, c8)) }
    }
}

extension Fast {
    /// The hook of the forward router (`conv2dFused`): runs the plane kernel
    /// (Convolution+FastPlanes.swift) or the shared-border one where they apply and
    /// returns true, else returns false.
    static func smallConvolutionForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                        geometry s: Conv2DGeometry, residual: UnsafePointer<Float>?, relu: Bool,
                                        into y: UnsafeMutablePointer<Float>) -> Bool {
        if PlaneConvolution.appliesForward(to: s) {
            PlaneConvolution(s).forward(x: x, weight: weight, bias: bias, residual: residual, relu: relu, y: y)
            return true
        }
        guard SmallConvolution.applies(to: s) else { return false }
        SmallConvolution(s).forward(x: x, weight: weight, bias: bias, residual: residual, relu: relu, y: y)
        return true
    }

    /// The hook of the backward router (`convolutionBackward`): the gradients by the
    /// small-map kernels where they apply, or nil when none does. Each gradient's kernel
    /// depends on the layer alone, not on which others are asked for (a network's first
    /// layer skips dx and must get the same dW): dx by the plane kernel, else by the
    /// shared-border one, else by the router's own; dW by the shared-border one, else by
    /// the router's own.
    static func smallConvolutionBackward(_ s: Conv2DGeometry, x: [Float]?, weight: [Float]?, dy: [Float],
                                         input: Bool, weightAndBias: Bool, bias: Bool) -> (input: [Float]?, weight: [Float]?, bias: [Float]?)? {
        let small = SmallConvolution.applies(to: s)
        let dxByPlanes = input && weight != nil && PlaneConvolution.appliesInputGradient(to: s)
        let dxByLayout = input && !dxByPlanes && small && s.inChannels % 8 == 0
        let dwByLayout = weightAndBias && small
        guard dxByPlanes || dxByLayout || dwByLayout else { return nil }
        var result: (input: [Float]?, weight: [Float]?, bias: [Float]?) = (nil, nil, nil)
        if dxByLayout || dwByLayout {
            result = SmallConvolution(s).backward(x: x, weight: weight, dy: dy, input: dxByLayout,
                                                  weightAndBias: dwByLayout, bias: bias)
        }
        // The router's own kernels for the rest (these calls do not come back here).
        if weightAndBias && !dwByLayout {
            let g = convolutionBackward(s, x: x, weight: nil, dy: dy, input: false, weightAndBias: true, bias: bias)
            (result.weight, result.bias) = (g.weight, g.bias)
        }
        if input && !dxByPlanes && !dxByLayout {
            result.input = convolutionBackward(s, x: nil, weight: weight, dy: dy, input: true, weightAndBias: false).input
        }
        if dxByPlanes, let weight { result.input = PlaneConvolution(s).inputGradient(weight: weight, dy: dy) }
        return result
    }
}

extension Fast {
    /// Whether the small-map kernels of Convolution+FastSmall.swift run where they apply
    /// (`lesson bench --no-small` turns them off to time the kernels they replace).
    nonisolated(unsafe) public static var usesSmallConvolution = true
}

/// Buffers of layout planes kept between calls (a training step makes hundreds of such
/// calls with the same few sizes), 64-byte aligned; any thread may take one.
enum SmallConvolutionScratch {
    final class Buffer {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
        init(_ capacity: Int) {
            self.capacity = capacity
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: capacity)
        }
        deinit { pointer.deallocate() }
    }
    nonisolated(unsafe) private static var free: [Buffer] = []
    private static let lock = NSLock()

    /// A buffer of at least `count` floats: the smallest free one that fits, else a new one.
    static func take(_ count: Int) -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        if let i = free.indices.filter({ free[$0].capacity >= count }).min(by: { free[$0].capacity < free[$1].capacity }) {
            return free.remove(at: i)
        }
        return Buffer(count)
    }

    /// Returns a buffer for reuse (at most 8 are kept: the largest).
    static func give(_ buffer: Buffer) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        if free.count > 8 {
            free.sort { $0.capacity > $1.capacity }
            free.removeLast()
        }
    }
}
