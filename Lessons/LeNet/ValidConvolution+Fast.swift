import ConvNetCore

// The fast valid convolution: direct, vectorised over output columns.
//
// The trick. Sixteen adjacent outputs of one row, y[n, o, i, j ..< j+16], need the same
// filter tap w[o, c, u, v] times sixteen ADJACENT inputs x[n, c, i+u, j+v ..< j+v+16]:
// one unaligned SIMD16 load and one fused multiply-add per tap computes sixteen outputs
// at once. Around that:
//  - Register blocking: each loaded input vector is used by four filters at once (four
//    accumulators, four broadcast taps), so a load feeds four FMAs; the filters are
//    packed once per call as [filter block][c][u][v][4] so the taps stream in order.
//  - Branch-free edges: each image is first copied into rows padded with zeros to a
//    multiple of 16 outputs plus f - 1, so every load stays inside its row and there is
//    no bounds test in the loop; lanes past n_W' are computed and not stored.
//  - The filter size is a constant where it matters: the loops are written once and
//    inlined twice, for f = 5 (LeNet's, so the compiler unrolls the 5 x 5 taps) and for
//    any other f.
//  - Threads take whole images (each with its own scratch rows, allocated once).
//
// Why direct instead of im2col + GEMM (the core's general `Fast.conv2d`) here: LeNet's
// channel counts are tiny. C1 has n_C = 1 input channel and 6 filters, C3 has 6 and 16.
// im2col copies every input value f*f = 25 times into a column matrix, then multiplies
// it by a matrix of only 6 or 16 rows: one copied value per 6 to 16 multiply-adds, and a
// GEMM micro-kernel blocked for large matrices running partly empty on a 6- or 16-row
// operand. The direct loop reads each input row from L1 (a LeNet image is a few KB),
// does four FMAs per load and copies nothing but the padding. Measured on LeNet's layers
// with a batch of 64 on 2 threads, against the packed GEMM: about 2x faster forward and
// 1.3x backward on C1 and C3, and 10x on C5 (below). For wide layers (VGG's 64 to 512
// channels) it is the other way round, which is why the core uses im2col + GEMM in
// general. `lesson run lenet` races the two on C3.
//
// C5 is the exception: its 5x5 filters are as large as its 5x5 input, so each output is
// 1x1 and vectorising over output columns would fill 1 lane in 16. When f = n_H = n_W a
// valid convolution IS a fully connected layer: y[n, o] = b[o] + sum_k w[o, k] x[n, k]
// over the k = f*f*n_C values of the image (the same memory order in x and in w). So that
// case runs as three small matrix products instead, vectorised over k (or over k and
// four images or four filters at once), and its input gradient costs 48,000 MACs per image
// instead of a full convolution of a 9x9x120 padded gradient.
//
// Backward, with the same loop:
//  - dx is the FULL convolution of dy with the filters rotated by 180 degrees:
//        dx[n, c, h, w] = sum_{o, u, v} w[o, c, u, v] * dy[n, o, h - u, w - v]
//    i.e. a valid correlation of dy padded by f - 1 on every side with the filters
//    w'[c, o, u, v] = w[o, c, f-1-u, f-1-v]: the forward loop, with the roles of n_C and
//    n_C' swapped (and the filter rows that would only meet the zero margin above or
//    below dy skipped: a fifth of the work for C3).
//  - dw[o, c, u, v] = sum_{n, i, j} dy[n, o, i, j] * x[n, c, i+u, j+v]: sixteen columns
//    j at a time; for f = 5, four filters at once with their 4 x 5 vector sums in
//    registers, so each loaded row of x feeds four FMAs; the images are the innermost
//    loop and the lanes are summed once at the end; each thread accumulates its images
//    into its own dw, and the threads' dw are added at the end.
//  - db[o] = sum of dy over n, i, j.

fileprivate typealias V16 = SIMD16<Float>

// load16, store16(_:_:count:), roundUp16 and withOptionalPointer are the core's (VectorMemory.swift).

/// One valid correlation of `channels` planes of `height x width` with `filters` filters
/// of `f x f`, on images copied into zero-padded rows: the loop of the forward pass, and
/// of the input gradient (with dy as the image and the rotated filters).
fileprivate struct DirectValidCorrelation {
    let channels: Int, height: Int, width: Int, filters: Int, f: Int
    let outHeight: Int, outWidth: Int
    /// Floats per padded row: every SIMD16 block of outputs plus the f - 1 taps to its right.
    let rowStride: Int
    /// Filters in blocks of four (the last block padded with zero filters).
    let blocks: Int
    /// The rows of each padded plane that can be non-zero: all of them for an image; for
    /// dy padded by f - 1 above and below, only its own rows, so the filter rows that would
    /// meet the zero margin are skipped.
    let liveRows: Range<Int>

    init(channels: Int, height: Int, width: Int, filters: Int, f: Int, liveRows: Range<Int>? = nil) {
        self.liveRows = liveRows ?? 0..<height
        self.channels = channels
        self.height = height
        self.width = width
        self.filters = filters
        self.f = f
        outHeight = height - f + 1
        outWidth = width - f + 1
        rowStride = roundUp16(outWidth) + f - 1
        blocks = (filters + 3) / 4
    }

    /// Floats of one padded image.
    var paddedImageCount: Int { channels * height * rowStride }

    /// The filters `w[filters, channels, f, f]` as `[block][c][u][v][4]`. With `rotated`,
    /// `w` is `[channels', filters', f, f]` of the FORWARD layer and the packed filter
    /// `(o, c)` is `w[c, o]` turned by 180 degrees (the input-gradient correlation).
    func packFilters(_ w: UnsafePointer<Float>, rotated: Bool) -> [Float] {
        var packed = [Float](repeating: 0, count: blocks * channels * f * f * 4)
        for o in 0..<filters {
            for c in 0..<channels {
                for u in 0..<f {
                    for v in 0..<f {
                        let value = rotated ? w[((c * filters + o) * f + f - 1 - u) * f + f - 1 - v]
                                            : w[((o * channels + c) * f + u) * f + v]
                        packed[((((o / 4) * channels + c) * f + u) * f + v) * 4 + o % 4] = value
                    }
                }
            }
        }
        return packed
    }

    /// Copies one image (`channels` planes of `innerHeight x innerWidth`, contiguous) into
    /// the padded rows of `padded` at row and column offset `margin`. Cells outside it are
    /// never written, so they keep the zeros the buffer was created with.
    func place(_ image: UnsafePointer<Float>, innerHeight: Int, innerWidth: Int, margin: Int,
               into padded: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for r in 0..<innerHeight {
                (padded + (c * height + r + margin) * rowStride + margin)
                    .update(from: image + (c * innerHeight + r) * innerWidth, count: innerWidth)
            }
        }
    }

    /// `y[o, i, j] = bias[o] + sum_{c, u, v} packed(o, c, u, v) * padded[c, i+u, j+v]` for
    /// one image; `y` is `[filters, outHeight, outWidth]`.
    func run(padded: UnsafePointer<Float>, packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             y: UnsafeMutablePointer<Float>) {
        if f == 5 {
            correlate(taps: 5, padded: padded, packed: packed, bias: bias, y: y)   // LeNet: unrolled 5x5
        } else {
            correlate(taps: f, padded: padded, packed: packed, bias: bias, y: y)
        }
    }

    @inline(__always)
    private func correlate(taps f: Int, padded: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let plane = outHeight * outWidth
        for block in 0..<blocks {
            let o = block * 4
            let live = min(4, filters - o)                     // real filters in this block
            let b0 = bias.map { $0[o] } ?? 0
            let b1 = live > 1 ? bias.map { $0[o + 1] } ?? 0 : 0
            let b2 = live > 2 ? bias.map { $0[o + 2] } ?? 0 : 0
            let b3 = live > 3 ? bias.map { $0[o + 3] } ?? 0 : 0
            let blockTaps = packed + block * channels * f * f * 4
            for i in 0..<outHeight {
                // The filter rows u whose input row i + u can be non-zero.
                let u0 = max(0, liveRows.lowerBound - i), u1 = min(f, liveRows.upperBound - i)
                for j in stride(from: 0, to: outWidth, by: 16) {
                    var a0 = V16(repeating: b0), a1 = V16(repeating: b1)
                    var a2 = V16(repeating: b2), a3 = V16(repeating: b3)
                    for c in 0..<channels {
                        var row = padded + (c * height + i + u0) * rowStride + j
                        var tap = blockTaps + (c * f + u0) * f * 4
                        for _ in u0..<u1 {                       // u: filter row
                            for v in 0..<f {                     // v: filter column
                                let xv = load16(row + v)         // x[c, i+u, j+v ..< j+v+16]
                                a0 = a0.addingProduct(xv, tap[0])
                                a1 = a1.addingProduct(xv, tap[1])
                                a2 = a2.addingProduct(xv, tap[2])
                                a3 = a3.addingProduct(xv, tap[3])
                                tap += 4
                            }
                            row += rowStride
                        }
                    }
                    let out = y + o * plane + i * outWidth + j
                    let count = outWidth - j
                    store16(a0, out, count: count)
                    if live > 1 { store16(a1, out + plane, count: count) }
                    if live > 2 { store16(a2, out + 2 * plane, count: count) }
                    if live > 3 { store16(a3, out + 3 * plane, count: count) }
                }
            }
        }
    }
}

/// `dw[o, c, u, v] += sum_{n, i, j} dy[n, o, i, j] * x[n, c, i+u, j+v]` over `images`
/// images, with each `x` in padded rows of `xStride` (`xImage` floats apart) and each `dy`
/// in rows of `dyStride` (a multiple of 16, zero past the real `outWidth` columns, so the
/// extra lanes add nothing; `dyImage` floats apart). The images are the innermost loop,
/// so the vector sums of a filter row are reduced across lanes once, not per image.
fileprivate func accumulateWeightGradient(f: Int, channels: Int, filters: Int, height: Int,
                                          outHeight: Int, outWidth: Int, images: Int,
                                          x: UnsafePointer<Float>, xStride: Int, xImage: Int,
                                          dy: UnsafePointer<Float>, dyStride: Int, dyImage: Int,
                                          dw: UnsafeMutablePointer<Float>) {
    let plane = outHeight * dyStride                              // one dy plane, padded
    for c in 0..<channels {
        for u in 0..<f {                                          // u: filter row
            if f == 5 {
                // LeNet: four filters at a time, their 4 x 5 sums in registers, so each
                // loaded row of x feeds four FMAs.
                for o in stride(from: 0, to: filters, by: 4) {
                    let live = min(4, filters - o)                // real filters of the block
                    let (q1, q2, q3) = (min(1, live - 1) * plane, min(2, live - 1) * plane, min(3, live - 1) * plane)
                    var a = FiveSums(), b = FiveSums(), e = FiveSums(), h = FiveSums()
                    for n in 0..<images {
                        let g0 = dy + n * dyImage + o * plane     // dy[n, o]
                        let x0 = x + n * xImage + (c * height + u) * xStride
                        for i in 0..<outHeight {
                            let g = g0 + i * dyStride, row = x0 + i * xStride
                            for j in stride(from: 0, to: outWidth, by: 16) {
                                a.add(load16(g + j), row + j)           // dy[n, o + 0, i, j ..< j+16]
                                b.add(load16(g + q1 + j), row + j)      // ... o + 1
                                e.add(load16(g + q2 + j), row + j)      // ... o + 2
                                h.add(load16(g + q3 + j), row + j)      // ... o + 3
                            }
                        }
                    }
                    let w = dw + ((o * channels + c) * f + u) * f, filterStride = channels * f * f
                    a.addLaneSums(to: w)
                    if live > 1 { b.addLaneSums(to: w + filterStride) }
                    if live > 2 { e.addLaneSums(to: w + 2 * filterStride) }
                    if live > 3 { h.addLaneSums(to: w + 3 * filterStride) }
                }
            } else {
                // Any other f: one filter at a time, one vector sum per filter column v.
                withUnsafeTemporaryAllocation(of: V16.self, capacity: f) { sums in
                    let sums = sums.baseAddress!
                    for o in 0..<filters {
                        for v in 0..<f { sums[v] = V16() }
                        for n in 0..<images {
                            let g0 = dy + n * dyImage + o * plane
                            let x0 = x + n * xImage + (c * height + u) * xStride
                            for i in 0..<outHeight {
                                let g = g0 + i * dyStride, row = x0 + i * xStride
                                for j in stride(from: 0, to: outWidth, by: 16) {
                                    let d = load16(g + j)
                                    for v in 0..<f { sums[v] = sums[v].addingProduct(d, load16(row + j + v)) }
                                }
                            }
                        }
                        let w = dw + ((o * channels + c) * f + u) * f
                        for v in 0..<f { w[v] += sums[v].sum() }
                    }
                }
            }
        }
    }
}

/// The five vector sums of one filter row of width 5: `s_v += d * x[v ..< v+16]`.
fileprivate struct FiveSums {
    var s0 = V16(), s1 = V16(), s2 = V16(), s3 = V16(), s4 = V16()

    @inline(__always)
    mutating func add(_ d: V16, _ x: UnsafePointer<Float>) {
        s0 = s0.addingProduct(d, load16(x))
        s1 = s1.addingProduct(d, load16(x + 1))
        s2 = s2.addingProduct(d, load16(x + 2))
        s3 = s3.addingProduct(d, load16(x + 3))
        s4 = s4.addingProduct(d, load16(x + 4))
    }

    /// `w[v] += sum of the lanes of s_v`.
    @inline(__always)
    func addLaneSums(to w: UnsafeMutablePointer<Float>) {
        w[0] += s0.sum(); w[1] += s1.sum(); w[2] += s2.sum(); w[3] += s3.sum(); w[4] += s4.sum()
    }
}

/// The valid convolution whose filters cover the whole input (`f = n_H = n_W`, output
/// 1x1): a fully connected layer from the `k = n_C*f*f` values of each image to the
/// `n_C'` outputs. `x` is `[m, k]`, `w` `[n_C', k]`, `y` and `dy` `[m, n_C']`.
fileprivate enum WholeImageFilters {
    /// Stores the first `live` of four vectors at `p`, `p + rowStride`, ...
    @inline(__always)
    static func storeRows(_ a0: V16, _ a1: V16, _ a2: V16, _ a3: V16, live: Int,
                          _ p: UnsafeMutablePointer<Float>, rowStride: Int) {
        store16(a0, p, count: 16)
        if live > 1 { store16(a1, p + rowStride, count: 16) }
        if live > 2 { store16(a2, p + 2 * rowStride, count: 16) }
        if live > 3 { store16(a3, p + 3 * rowStride, count: 16) }
    }

    /// `y[n, o] = bias[o] + sum_k w[o, k] x[n, k]`: four filters per loaded input vector.
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                        _ y: UnsafeMutablePointer<Float>, images: Int, filters: Int, k: Int) {
        let vectorEnd = k & ~15
        Parallelism.forEachChunk(images) { _, range in
            for n in range {
                let xn = x + n * k
                for o in stride(from: 0, to: filters, by: 4) {
                    // Rows of the block past the last filter repeat it and are not stored.
                    let w0 = w + o * k, w1 = w + min(o + 1, filters - 1) * k
                    let w2 = w + min(o + 2, filters - 1) * k, w3 = w + min(o + 3, filters - 1) * k
                    var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16()
                    for i in stride(from: 0, to: vectorEnd, by: 16) {
                        let xv = load16(xn + i)
                        a0 = a0.addingProduct(xv, load16(w0 + i))
                        a1 = a1.addingProduct(xv, load16(w1 + i))
                        a2 = a2.addingProduct(xv, load16(w2 + i))
                        a3 = a3.addingProduct(xv, load16(w3 + i))
                    }
                    var (s0, s1, s2, s3) = (a0.sum(), a1.sum(), a2.sum(), a3.sum())
                    for i in vectorEnd..<k {
                        s0 += xn[i] * w0[i]; s1 += xn[i] * w1[i]
                        s2 += xn[i] * w2[i]; s3 += xn[i] * w3[i]
                    }
                    let out = y + n * filters + o, live = min(4, filters - o)
                    out[0] = s0 + (bias?[o] ?? 0)
                    if live > 1 { out[1] = s1 + (bias?[o + 1] ?? 0) }
                    if live > 2 { out[2] = s2 + (bias?[o + 2] ?? 0) }
                    if live > 3 { out[3] = s3 + (bias?[o + 3] ?? 0) }
                }
            }
        }
    }

    /// `dx[n, k] = sum_o dy[n, o] w[o, k]`: four images per loaded filter vector.
    static func inputGradient(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                              images: Int, filters: Int, k: Int) {
        let vectorEnd = k & ~15
        Parallelism.forEachChunk((images + 3) / 4) { _, blocks in
            for block in blocks {
                let n = block * 4
                let live = min(4, images - n)
                let g0 = dy + n * filters, g1 = dy + (n + min(1, live - 1)) * filters
                let g2 = dy + (n + min(2, live - 1)) * filters, g3 = dy + (n + min(3, live - 1)) * filters
                for i in stride(from: 0, to: vectorEnd, by: 16) {
                    var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16()
                    for o in 0..<filters {
                        let wv = load16(w + o * k + i)
                        a0 = a0.addingProduct(wv, g0[o])
                        a1 = a1.addingProduct(wv, g1[o])
                        a2 = a2.addingProduct(wv, g2[o])
                        a3 = a3.addingProduct(wv, g3[o])
                    }
                    storeRows(a0, a1, a2, a3, live: live, dx + n * k + i, rowStride: k)
                }
                for i in vectorEnd..<k {
                    for j in 0..<live {
                        var sum: Float = 0
                        for o in 0..<filters { sum += dy[(n + j) * filters + o] * w[o * k + i] }
                        dx[(n + j) * k + i] = sum
                    }
                }
            }
        }
    }

    /// `dw[o, k] = sum_n dy[n, o] x[n, k]`: four filters per loaded input vector; threads
    /// take blocks of filters, so each writes its own rows of `dw`.
    static func weightGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                               images: Int, filters: Int, k: Int) {
        let vectorEnd = k & ~15
        Parallelism.forEachChunk((filters + 3) / 4) { _, blocks in
            for block in blocks {
                let o = block * 4
                let live = min(4, filters - o)
                let (r0, r1, r2, r3) = (o, o + min(1, live - 1), o + min(2, live - 1), o + min(3, live - 1))
                for i in stride(from: 0, to: vectorEnd, by: 16) {
                    var a0 = V16(), a1 = V16(), a2 = V16(), a3 = V16()
                    for n in 0..<images {
                        let xv = load16(x + n * k + i), g = dy + n * filters
                        a0 = a0.addingProduct(xv, g[r0])
                        a1 = a1.addingProduct(xv, g[r1])
                        a2 = a2.addingProduct(xv, g[r2])
                        a3 = a3.addingProduct(xv, g[r3])
                    }
                    storeRows(a0, a1, a2, a3, live: live, dw + o * k + i, rowStride: k)
                }
                for i in vectorEnd..<k {
                    for j in 0..<live {
                        var sum: Float = 0
                        for n in 0..<images { sum += dy[n * filters + o + j] * x[n * k + i] }
                        dw[(o + j) * k + i] = sum
                    }
                }
            }
        }
    }
}

extension Fast {
    /// The valid convolution of ``Naive/validConvolution(_:weight:bias:shape:)`` (same
    /// shapes, same numbers up to rounding), computed directly with SIMD over output
    /// columns and four filters per loaded input vector.
    public static func validConvolution(_ x: [Float], weight: [Float], bias: [Float]?,
                                        shape s: ValidConvolutionShape) -> [Float] {
        checkCount(x.count, equals: s.input.count, "x \(s.input)", in: "valid convolution")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "valid convolution")
        if let bias { checkCount(bias.count, equals: s.filters, "bias [\(s.filters)]", in: "valid convolution") }
        if s.outHeight == 1 && s.outWidth == 1 {                  // C5: a fully connected layer
            return [Float](unsafeUninitializedCapacity: s.output.count) { y, initialized in
                x.withUnsafeBufferPointer { x in
                    weight.withUnsafeBufferPointer { w in
                        withOptionalPointer(bias) { bias in
                            WholeImageFilters.forward(x.baseAddress!, w.baseAddress!, bias, y.baseAddress!,
                                                      images: s.input.batch, filters: s.filters, k: s.input.count / s.input.batch)
                        }
                    }
                }
                initialized = s.output.count
            }
        }
        let loop = DirectValidCorrelation(channels: s.input.channels, height: s.input.height, width: s.input.width,
                                          filters: s.filters, f: s.kernel)
        let packed = weight.withUnsafeBufferPointer { loop.packFilters($0.baseAddress!, rotated: false) }
        let imageIn = s.input.channels * s.input.spatial
        let imageOut = s.filters * s.outHeight * s.outWidth
        return [Float](unsafeUninitializedCapacity: s.output.count) { y, initialized in
            x.withUnsafeBufferPointer { x in
                packed.withUnsafeBufferPointer { packed in
                    withOptionalPointer(bias) { bias in
                        Parallelism.forEachChunk(s.input.batch) { _, images in
                            let padded = UnsafeMutablePointer<Float>.allocate(capacity: loop.paddedImageCount)
                            padded.initialize(repeating: 0, count: loop.paddedImageCount)
                            defer { padded.deallocate() }
                            for n in images {
                                loop.place(x.baseAddress! + n * imageIn, innerHeight: s.input.height,
                                           innerWidth: s.input.width, margin: 0, into: padded)
                                loop.run(padded: padded, packed: packed.baseAddress!, bias: bias,
                                         y: y.baseAddress! + n * imageOut)
                            }
                        }
                    }
                }
            }
            initialized = s.output.count
        }
    }

    /// The gradients of ``Naive/validConvolutionBackward(_:weight:outputGradient:shape:)``:
    /// `dx` as the full convolution of `dy` with the rotated filters (the forward loop on
    /// `dy` padded by f - 1), `dw` sixteen columns at a time, `db` the sums of `dy`.
    public static func validConvolutionBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float],
                                                shape s: ValidConvolutionShape) -> (input: [Float], weight: [Float], bias: [Float]) {
        checkCount(x.count, equals: s.input.count, "x \(s.input)", in: "valid convolution backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "valid convolution backward")
        checkCount(dy.count, equals: s.output.count, "output gradient \(s.output)", in: "valid convolution backward")
        let f = s.kernel
        let (nC, nH, nW, nC2, nH2, nW2) = (s.input.channels, s.input.height, s.input.width,
                                          s.filters, s.outHeight, s.outWidth)
        if nH2 == 1 && nW2 == 1 {                                 // C5: a fully connected layer
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: weight.count)
            let k = nC * nH * nW
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    dy.withUnsafeBufferPointer { dy in
                        dx.withUnsafeMutableBufferPointer { dx in
                            WholeImageFilters.inputGradient(dy.baseAddress!, w.baseAddress!, dx.baseAddress!,
                                                            images: s.input.batch, filters: nC2, k: k)
                        }
                        dw.withUnsafeMutableBufferPointer { dw in
                            WholeImageFilters.weightGradient(dy.baseAddress!, x.baseAddress!, dw.baseAddress!,
                                                             images: s.input.batch, filters: nC2, k: k)
                        }
                    }
                }
            }
            var db = [Float](repeating: 0, count: nC2)
            for n in 0..<s.input.batch { for o in 0..<nC2 { db[o] += dy[n * nC2 + o] } }
            return (dx, dw, db)
        }
        // The input gradient: a valid correlation of dy (n_C' planes, padded by f - 1) with
        // n_C filters of n_C' channels, giving n_H x n_W.
        let full = DirectValidCorrelation(channels: nC2, height: nH2 + 2 * (f - 1), width: nW2 + 2 * (f - 1),
                                          filters: nC, f: f, liveRows: (f - 1)..<(f - 1 + nH2))
        // The weight gradient reads x in padded rows and dy in rows of a multiple of 16.
        let xRows = DirectValidCorrelation(channels: nC, height: nH, width: nW, filters: nC2, f: f)
        let dyStride = roundUp16(nW2)
        let rotated = weight.withUnsafeBufferPointer { full.packFilters($0.baseAddress!, rotated: true) }
        let (imageIn, imageOut) = (nC * nH * nW, nC2 * nH2 * nW2)
        let threads = max(1, min(Parallelism.threadCount, s.input.batch))
        var dx = [Float](repeating: 0, count: x.count)
        var dwPartials = [Float](repeating: 0, count: threads * s.weightCount)
        x.withUnsafeBufferPointer { x in
            dy.withUnsafeBufferPointer { dy in
                rotated.withUnsafeBufferPointer { rotated in
                    dx.withUnsafeMutableBufferPointer { dx in
                        dwPartials.withUnsafeMutableBufferPointer { partials in
                            let (x, dy, dx, partials) = (x.baseAddress!, dy.baseAddress!, dx.baseAddress!, partials.baseAddress!)
                            Parallelism.forEachChunk(s.input.batch) { t, images in
                                // Scratch of this thread, zeroed once: one padded dy, and the
                                // padded x and the dy rows of all its images.
                                let count = images.count
                                let xImage = xRows.paddedImageCount, dyImage = nC2 * nH2 * dyStride
                                let dyPadded = UnsafeMutablePointer<Float>.allocate(capacity: full.paddedImageCount)
                                let xPadded = UnsafeMutablePointer<Float>.allocate(capacity: count * xImage)
                                let dyRows = UnsafeMutablePointer<Float>.allocate(capacity: count * dyImage)
                                dyPadded.initialize(repeating: 0, count: full.paddedImageCount)
                                xPadded.initialize(repeating: 0, count: count * xImage)
                                dyRows.initialize(repeating: 0, count: count * dyImage)
                                defer { dyPadded.deallocate(); xPadded.deallocate(); dyRows.deallocate() }
                                for (k, n) in images.enumerated() {
                                    let dyImageIn = dy + n * imageOut
                                    // dx[n] = full convolution of dy[n] with the rotated filters.
                                    full.place(dyImageIn, innerHeight: nH2, innerWidth: nW2, margin: f - 1, into: dyPadded)
                                    full.run(padded: dyPadded, packed: rotated.baseAddress!, bias: nil, y: dx + n * imageIn)
                                    // The operands of dw: x[n] in padded rows, dy[n] in rows of 16s.
                                    xRows.place(x + n * imageIn, innerHeight: nH, innerWidth: nW, margin: 0,
                                                into: xPadded + k * xImage)
                                    for r in 0..<(nC2 * nH2) {
                                        (dyRows + k * dyImage + r * dyStride).update(from: dyImageIn + r * nW2, count: nW2)
                                    }
                                }
                                // dw (this thread's share) = sum over its images of dy[n] (x) x[n].
                                accumulateWeightGradient(f: f, channels: nC, filters: nC2, height: nH,
                                                         outHeight: nH2, outWidth: nW2, images: count,
                                                         x: xPadded, xStride: xRows.rowStride, xImage: xImage,
                                                         dy: dyRows, dyStride: dyStride, dyImage: dyImage,
                                                         dw: partials + t * s.weightCount)
                            }
                        }
                    }
                }
            }
        }
        // Sum the threads' weight gradients, and the bias gradient.
        var dw = [Float](repeating: 0, count: s.weightCount)
        for t in 0..<threads {
            for k in 0..<s.weightCount { dw[k] += dwPartials[t * s.weightCount + k] }
        }
        var db = [Float](repeating: 0, count: nC2)
        let plane = nH2 * nW2
        for n in 0..<s.input.batch {
            for o in 0..<nC2 {
                let start = (n * nC2 + o) * plane
                var sum: Float = 0
                for k in start..<start + plane { sum += dy[k] }
                db[o] += sum
            }
        }
        return (dx, dw, db)
    }
}
