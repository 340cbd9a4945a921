import Dispatch

// The fast convolution: im2col + GEMM.
//
// (Where each path runs now: the dense forward pass and the stride-1 input gradient run
// the implicit GEMM of Convolution+FastImplicit.swift, which packs the column matrix
// straight into the GEMM's panels instead of storing it; the weight gradient runs the
// direct kernel of Convolution+FastWeightGradient.swift for 16-64 output channels and the
// implicit GEMM otherwise; the input gradient of a strided convolution runs one direct
// stride-1 pass per stride phase (Convolution+FastStridedInput.swift); groups of few
// channels run Convolution+FastGrouped.swift. The explicit im2col + GEMM below is the
// textbook form of the same idea and still computes the input gradient of strided
// convolutions on fewer than 8 channels (W^T dY, then col2im) and the transposed
// convolution.)
//
// The trick: copy every receptive field of the input into a column of a matrix (im2col:
// row (c, u, v), column (i, j) holds x[c, i*sh + u - ph, j*sw + v - pw], zero in the
// padding), so that the whole convolution of one image and one group becomes ONE matrix
// product
//
//     Y_g[o, (i, j)] = sum_{(c, u, v)} W_g[o, (c, u, v)] * col[(c, u, v), (i, j)]
//     m = out channels per group, n = outH*outW, k = (in channels per group)*kh*kw.
//
// Why that is faster than the seven loops: the seven loops do the same multiply-adds
// but stream through x and w in a cache- and vector-hostile order (a short kh*kw inner
// loop, bounds tests in it, each weight reloaded for every pixel). A GEMM reuses every
// element it loads m or n times, and Fast.gemm exploits that: it packs panels of A and
// B into contiguous, cache-sized blocks and runs a register-blocked SIMD micro-kernel,
// reaching a large fraction of the CPU's peak FMA rate. The copy costs O(k*n) memory
// traffic against O(m*k*n) arithmetic. Its price is memory: the full column matrix is
// kh*kw times the size of the input image (for stride 1). Here it is built a band of
// output rows at a time (about 1 MB per band, so it stays in the L2 cache between im2col
// writing it and the GEMM reading it) into one workspace per thread, reused for every
// band, group and image.
//
// A 1x1 convolution with stride 1 and no padding needs no copy at all: its column
// matrix IS the input image ([C, H*W], row-major), so the GEMM runs straight on x.
//
// Backward (per image and group, with dY_g = [Og, outH*outW]):
//     dW_g += dY_g * col^T                 (accumulated over bands and the batch)
//     dcol  = W_g^T * dY_g, then col2im    (scatter-add each column back to its window)
// and the bias gradient is the sum of dy over n, h, w.
//
// Threads: the work is a list of (image, group) items. When there are at least as many
// items as threads (a batch, or many groups) each thread takes a contiguous run of
// items with its own workspace (and its own dW partial, summed at the end); the GEMMs
// inside are then small and run best single-threaded. Fast.gemm spreads over
// Parallelism.threadCount threads through Parallelism.run, which runs a call nested
// inside a running one serially on the calling thread, so the inner GEMM is
// single-threaded there. With fewer
// items than threads (batch 1, groups 1) the items run in turn and each GEMM, im2col and
// col2im is spread over the threads instead.

/// The sizes and loops of one im2col + GEMM convolution (internal to the fast kernels;
/// the transposed convolution reuses them through its adjoint convolution).
struct IM2ColConvolution {
    let s: Conv2DGeometry
    /// Channels per group (input `cg`, output `og`), and the GEMM's `k = cg*kh*kw`.
    let cg: Int, og: Int, k: Int
    /// Pixels of one input plane (`H*W`) and one output plane (`outH*outW`).
    let inPlane: Int, outPlane: Int
    /// 1x1, stride 1, no padding: the input is its own column matrix.
    let isPointwise: Bool
    /// For each kernel column v: the output columns j whose input column j*sw + v - pw
    /// lies inside the image, `columnRange[v] = j0..<j1`; likewise `rowRange[u]` for rows.
    let columnRange: [Range<Int>]
    let rowRange: [Range<Int>]
    /// Output rows per band of the column matrix.
    let bandRows: Int

    /// The default size of one band of the column matrix, in floats (1 MB).
    static let bandFloats = 1 << 18

    /// `bandFloats` bounds the workspace (tests make it tiny to exercise many bands).
    init(_ geometry: Conv2DGeometry, bandFloats: Int = IM2ColConvolution.bandFloats) {
        let g = geometry
        s = g
        cg = g.inChannelsPerGroup
        og = g.outChannelsPerGroup
        k = cg * g.kernelHeight * g.kernelWidth
        inPlane = g.inHeight * g.inWidth
        outPlane = g.outHeight * g.outWidth
        isPointwise = g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && g.paddingHeight == 0 && g.paddingWidth == 0
        columnRange = (0..<g.kernelWidth).map {
            Self.validRange(offset: $0 - g.paddingWidth, stride: g.strideWidth, input: g.inWidth, output: g.outWidth)
        }
        rowRange = (0..<g.kernelHeight).map {
            Self.validRange(offset: $0 - g.paddingHeight, stride: g.strideHeight, input: g.inHeight, output: g.outHeight)
        }
        bandRows = isPointwise ? g.outHeight : min(g.outHeight, max(1, bandFloats / (k * g.outWidth)))
    }

    /// The outputs `j` in `0..<output` with `0 <= j*stride + offset < input`.
    static func validRange(offset: Int, stride: Int, input: Int, output: Int) -> Range<Int> {
        func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
        let start = min(max(ceilDiv(-offset, stride), 0), output)
        let end = min(max(ceilDiv(input - offset, stride), start), output)
        return start..<end
    }

    /// Floats of one thread's workspace: one band `[k, bandRows*outW]` of the column matrix.
    var workspaceCount: Int { isPointwise ? 0 : k * bandRows * s.outWidth }

    /// The bands of output rows, `0..<outH` cut into runs of `bandRows`.
    var bands: StrideTo<Int> { stride(from: 0, to: s.outHeight, by: bandRows) }

    // MARK: im2col / col2im

    /// Writes the `kh*kw` rows of input channel `c` of the column matrix of output rows
    /// `band`: row `(c, u, v)`, column `(i - band.lowerBound, j)` holds
    /// `x[c, i*sh + u - ph, j*sw + v - pw]`, or 0 in the padding. `x` points at the
    /// group's first channel of one image; the rows of `col` are `band.count*outW` long.
    @inline(__always)
    func im2col(channel c: Int, band: Range<Int>, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
        let (kh, kw, sh, sw) = (s.kernelHeight, s.kernelWidth, s.strideHeight, s.strideWidth)
        let (inW, outW) = (s.inWidth, s.outWidth)
        let n = band.count * outW
        let xc = x + c * inPlane
        for u in 0..<kh {
            let rows = rowRange[u].clamped(to: band)
            for v in 0..<kw {
                let row = col + ((c * kh + u) * kw + v) * n
                let columns = columnRange[v]
                let shift = v - s.paddingWidth
                // Padding rows above and below the image: zeros.
                if rows.isEmpty {
                    row.update(repeating: 0, count: n)
                    continue
                }
                row.update(repeating: 0, count: (rows.lowerBound - band.lowerBound) * outW)
                (row + (rows.upperBound - band.lowerBound) * outW)
                    .update(repeating: 0, count: (band.upperBound - rows.upperBound) * outW)
                for i in rows {
                    let dst = row + (i - band.lowerBound) * outW
                    let src = xc + (i * sh + u - s.paddingHeight) * inW + shift
                    dst.update(repeating: 0, count: columns.lowerBound)      // left padding
                    if sw == 1 {                                              // a contiguous run of the input row
                        (dst + columns.lowerBound).update(from: src + columns.lowerBound, count: columns.count)
                    } else {                                                  // every sw-th element
                        for j in columns { dst[j] = src[j * sw] }
                    }
                    (dst + columns.upperBound).update(repeating: 0, count: outW - columns.upperBound) // right padding
                }
            }
        }
    }

    /// The adjoint of im2col for input channel `c` and output rows `band`: adds every
    /// element of the band of the column matrix onto the input pixel it was copied from
    /// (padding entries are dropped).
    @inline(__always)
    func col2im(channel c: Int, band: Range<Int>, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                inputRows: Range<Int>? = nil) {
        let (kh, kw, sh, sw) = (s.kernelHeight, s.kernelWidth, s.strideHeight, s.strideWidth)
        /// The output rows i of `band` whose kernel row u lands in `inputRows` (all by default).
        func outputRows(_ u: Int) -> Range<Int> {
            let rows = rowRange[u].clamped(to: band)
            guard let inputRows else { return rows }
            // i * sh + u - ph in inputRows
            let first = max(0, inputRows.lowerBound + s.paddingHeight - u + sh - 1) / sh
            let end = max(0, inputRows.upperBound + s.paddingHeight - u + sh - 1) / sh
            return rows.clamped(to: min(first, end)..<end)
        }
        let (inW, outW) = (s.inWidth, s.outWidth)
        let n = band.count * outW
        let dxc = dx + c * inPlane
        if (sw == 2 || sw == 4) && kw >= sw {
            // Stride 2 or 4 across: the sw sums (as below) are interleaved in registers into
            // one row, R[m*sw + t] = acc_t[m], and added to dx's row with vector adds, where
            // the strided scatter below does one scalar read-modify-write per value
            // (AlexNet conv1's input gradient at batch 1: 1.35 ms, was 1.37-1.41, on one
            // thread; 0.78 ms, was 0.82-0.89, on two).
            let longest = outW + (kw - 1) / sw
            let padded = (longest + 15) / 16 * 16
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (sw + sw) * padded) { buffer in
                let acc = buffer.baseAddress!, row = acc + sw * padded
                for u in 0..<kh {
                    for i in outputRows(u) {
                        acc.update(repeating: 0, count: sw * padded)
                        for v in 0..<kw {
                            let src = col + ((c * kh + u) * kw + v) * n + (i - band.lowerBound) * outW
                            Self.addInPlace(acc + (v % sw) * padded + v / sw, src, count: outW)
                        }
                        Self.interleave(acc, rows: sw, length: padded, into: row)
                        // dx column q gets R[q + pw].
                        let first = max(0, -s.paddingWidth), end = min(inW, sw * padded - s.paddingWidth)
                        if first < end {
                            let dstRow = dxc + (i * sh + u - s.paddingHeight) * inW
                            Self.addInPlace(dstRow + first, row + first + s.paddingWidth, count: end - first)
                        }
                    }
                }
            }
            return
        }
        if sw > 1 {
            // Strided: the kernel columns v = t, t + sw, t + 2sw, ... land on the same input
            // pixels, one output column apart. Sum them in a row buffer first (contiguous
            // vector adds, acc[m] for input pixel m*sw + t - pw), then scatter each of the sw
            // sums once: sw strided scatters per row instead of kw.
            let longest = outW + (kw - 1) / sw
            withUnsafeTemporaryAllocation(of: Float.self, capacity: longest) { acc in
                let acc = acc.baseAddress!
                for u in 0..<kh {
                    for i in outputRows(u) {
                        let dstRow = dxc + (i * sh + u - s.paddingHeight) * inW
                        for t in 0..<min(sw, kw) {
                            let count = outW + (kw - 1 - t) / sw
                            acc.update(repeating: 0, count: count)
                            var v = t
                            while v < kw {
                                let src = col + ((c * kh + u) * kw + v) * n + (i - band.lowerBound) * outW
                                Self.addInPlace(acc + (v - t) / sw, src, count: outW)
                                v += sw
                            }
                            let valid = Self.validRange(offset: t - s.paddingWidth, stride: sw, input: inW, output: count)
                            let dst = dstRow + (t - s.paddingWidth)
                            for m in valid { dst[m &* sw] += acc[m] }
                        }
                    }
                }
            }
            return
        }
        for u in 0..<kh {
            let rows = outputRows(u)
            for v in 0..<kw {
                let row = col + ((c * kh + u) * kw + v) * n
                let columns = columnRange[v]
                let shift = v - s.paddingWidth
                for i in rows {
                    let src = row + (i - band.lowerBound) * outW
                    let dst = dxc + (i * sh + u - s.paddingHeight) * inW + shift
                    if sw == 1 {
                        Self.addInPlace(dst + columns.lowerBound, src + columns.lowerBound, count: columns.count)
                    } else {
                        for j in columns { dst[j * sw] += src[j] }
                    }
                }
            }
        }
    }

    /// im2col of all channels of a group, spread over the threads when `parallel`.
    func im2col(band: Range<Int>, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, parallel: Bool) {
        if parallel {
            Parallelism.forEach(cg) { c in im2col(channel: c, band: band, x: x, col: col) }
        } else {
            for c in 0..<cg { im2col(channel: c, band: band, x: x, col: col) }
        }
    }

    /// col2im of all channels of a group (channels write disjoint planes, so they can run in parallel).
    /// (In parallel, each channel's rows of dx are cut into as many ranges as there are
    /// threads, each gathering what lands in it: with AlexNet's 3 input channels, a split
    /// by channels alone gave one of two threads twice the other's work.)
    func col2im(band: Range<Int>, col: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, parallel: Bool) {
        if parallel {
            let parts = Parallelism.threadCount, h = s.inHeight
            Parallelism.forEach(cg * parts) { item in
                let (c, part) = item.quotientAndRemainder(dividingBy: parts)
                col2im(channel: c, band: band, col: col, dx: dx, inputRows: h * part / parts ..< h * (part + 1) / parts)
            }
        } else {
            for c in 0..<cg { col2im(channel: c, band: band, col: col, dx: dx) }
        }
    }

    // MARK: scheduling

    /// Forces the number of threads that take (image, group) items (tests use it to run
    /// every schedule on any machine); nil lets ``itemThreads`` decide.
    var itemThreadsOverride: Int? = nil

    /// How many threads take (image, group) items; 1 means the items run in turn with
    /// the parallelism inside each GEMM instead.
    var itemThreads: Int {
        if let itemThreadsOverride { return itemThreadsOverride }
        let items = s.batch * s.groups
        let threads = Parallelism.threadCount
        guard threads > 1, items >= threads else { return 1 }
        return Parallelism.takesWholeItems(items, threads: threads) ? threads : 1
    }

    /// Runs `body(thread, items)` over contiguous runs of the `batch*groups` items.
    func forEachItemRun(threads: Int, _ body: (_ thread: Int, _ items: Range<Int>) -> Void) {
        let items = s.batch * s.groups
        if threads == 1 { body(0, 0..<items); return }
        withoutActuallyEscaping(body) { body in
            Parallelism.run(threads) { t in
                body(t, items * t / threads ..< items * (t + 1) / threads)
            }
        }
    }

    // MARK: forward

    /// `y = conv(x, w) + bias`; `y` is fully overwritten.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>) {
        let threads = itemThreads
        let inner = threads == 1 && Parallelism.threadCount > 1
        let outW = s.outWidth
        forEachItemRun(threads: threads) { _, items in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: max(workspaceCount, 1))
            defer { col.deallocate() }
            for item in items {
                let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                let xg = x + (n * s.inChannels + g * cg) * inPlane
                let yg = y + (n * s.outChannels + g * og) * outPlane
                for top in bands {
                    let band = top..<min(top + bandRows, s.outHeight)
                    let (p0, width) = (top * outW, band.count * outW)
                    // Y_g[:, band] [og, width] = W_g [og, k] * col [k, width]
                    if isPointwise {
                        Fast.gemm(m: og, n: width, k: k, a: weight + g * og * k, lda: k,
                                  b: xg + p0, ldb: inPlane, c: yg + p0, ldc: outPlane)
                    } else {
                        im2col(band: band, x: xg, col: col, parallel: inner)
                        Fast.gemm(m: og, n: width, k: k, a: weight + g * og * k, lda: k,
                                  b: col, ldb: width, c: yg + p0, ldc: outPlane)
                    }
                }
                if let bias {                                   // epilogue: + bias[o] on each row
                    for o in 0..<og { Self.addScalar(bias[g * og + o], to: yg + o * outPlane, count: outPlane) }
                }
            }
        }
    }

    // MARK: backward

    /// The gradients of `L = sum(y * dy)`: `dx` (overwritten, when given: needs `weight`)
    /// and `dw` (overwritten, when given: needs `x`). `dxBias`, when given, is added to
    /// every plane of `dx` (the bias of a transposed convolution, whose forward pass is this
    /// data gradient).
    func backward(x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?, dy: UnsafePointer<Float>,
                  dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
                  dxBias: UnsafePointer<Float>? = nil) {
        precondition(dx == nil || weight != nil, "conv2d backward: the input gradient needs the weight")
        precondition(dw == nil || x != nil, "conv2d backward: the weight gradient needs the input")
        let threads = itemThreads
        let inner = threads == 1 && Parallelism.threadCount > 1
        if inner, dw == nil, let dx, let weight, !isPointwise, s.outHeight >= 2 * Parallelism.threadCount {
            backwardInputSplittingRows(weight: weight, dy: dy, dx: dx, dxBias: dxBias)
            return
        }
        let outW = s.outWidth
        let weightCount = s.weightCount
        if let dx, !isPointwise { dx.update(repeating: 0, count: s.inputShape.count) } // col2im adds
        if let dw { dw.update(repeating: 0, count: weightCount) }
        // Thread 0 accumulates into dw itself, the others into partials summed at the end.
        let partials: UnsafeMutablePointer<Float>? =
            dw != nil && threads > 1 ? .allocate(capacity: (threads - 1) * weightCount) : nil
        partials?.update(repeating: 0, count: (threads - 1) * weightCount)
        defer { partials?.deallocate() }

        forEachItemRun(threads: threads) { t, items in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: max(workspaceCount, 1))
            defer { col.deallocate() }
            let dwThread = t == 0 ? dw : partials.map { $0 + (t - 1) * weightCount }
            for item in items {
                let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                let dyg = dy + (n * s.outChannels + g * og) * outPlane
                let xOffset = (n * s.inChannels + g * cg) * inPlane
                for top in bands {
                    let band = top..<min(top + bandRows, s.outHeight)
                    let (p0, width) = (top * outW, band.count * outW)
                    if let dwThread, let x {
                        // dW_g [og, k] += dY_g[:, band] [og, width] * col^T [width, k]
                        let (b, ldb) = isPointwise ? (x + xOffset + p0, inPlane) : (UnsafePointer(col), width)
                        if !isPointwise { im2col(band: band, x: x + xOffset, col: col, parallel: inner) }
                        Fast.gemm(m: og, n: k, k: width, a: dyg + p0, lda: outPlane,
                                  b: b, ldb: ldb, transposeB: true,
                                  c: dwThread + g * og * k, ldc: k, accumulate: true)
                    }
                    if let dx, let weight {
                        // dcol [k, width] = W_g^T [k, og] * dY_g[:, band] [og, width], then col2im.
                        if isPointwise {
                            Fast.gemm(m: k, n: width, k: og, a: weight + g * og * k, lda: k, transposeA: true,
                                      b: dyg + p0, ldb: outPlane, c: dx + xOffset + p0, ldc: inPlane)
                        } else {
                            Fast.gemm(m: k, n: width, k: og, a: weight + g * og * k, lda: k, transposeA: true,
                                      b: dyg + p0, ldb: outPlane, c: col, ldc: width)
                            col2im(band: band, col: col, dx: dx + xOffset, parallel: inner)
                        }
                    }
                }
                if let dx, let dxBias { addInputBias(dxBias, to: dx, image: n, group: g) }
            }
        }
        if let dw, let partials {                               // dw += the other threads' partials
            let others = threads - 1
            Parallelism.forEachChunk(weightCount) { _, range in
                for t in 0..<others {
                    Self.addInPlace(dw + range.lowerBound, partials + t * weightCount + range.lowerBound, count: range.count)
                }
            }
        }
    }
}

extension IM2ColConvolution {
    /// dx alone with fewer images than threads: each thread takes its own output rows of
    /// every item, runs their bands' GEMMs (single-threaded) and col2im into its own copy
    /// of dx (the rows of dx that neighbouring bands share get sums from both), and the
    /// copies are added at the end. Splitting each band's GEMM and col2im over the threads
    /// instead scaled AlexNet's conv1 input gradient (3 channels, 11 x 11, stride 4) by
    /// 1.37 on two threads: its GEMMs are 363 x 715 x 64, too small to share. (That layer
    /// now takes the stride-phase kernel of Convolution+FastStridedInput.swift; this serves
    /// the strided layers it leaves, with 1, 2 or 4-7 input channels per group.)
    private func backwardInputSplittingRows(weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                            dx: UnsafeMutablePointer<Float>, dxBias: UnsafePointer<Float>?) {
        let threads = min(Parallelism.threadCount, s.outHeight)
        let count = s.inputShape.count, outW = s.outWidth, inW = s.inWidth
        let planes = s.batch * s.inChannels
        /// Thread t's output rows, and the rows of dx they reach.
        func outputRows(_ t: Int) -> Range<Int> { s.outHeight * t / threads ..< s.outHeight * (t + 1) / threads }
        func inputRows(_ t: Int) -> Range<Int> {
            let rows = outputRows(t)
            return max(0, rows.lowerBound * s.strideHeight - s.paddingHeight)
                ..< min(s.inHeight, (rows.upperBound - 1) * s.strideHeight - s.paddingHeight + s.kernelHeight)
        }
        ConvWorkspaces.with((threads - 1) * count + threads * max(workspaceCount, 1)) { ws in
            let partials = ws, cols = ws + (threads - 1) * count
            Parallelism.run(threads) { t in
                // Thread 0 adds into dx (zeroed whole), the others into their own copies,
                // zeroed and later summed only over the rows they reach.
                let target = t == 0 ? dx : partials + (t - 1) * count
                if t == 0 {
                    dx.update(repeating: 0, count: count)
                } else {
                    let reach = inputRows(t)
                    for plane in 0..<planes {
                        (target + plane * inPlane + reach.lowerBound * inW).update(repeating: 0, count: reach.count * inW)
                    }
                }
                let col = cols + t * max(workspaceCount, 1)
                let rows = outputRows(t)
                // The thread's rows in bands of equal height (27 rows as 14 + 13, not 13 + 13 + 1).
                let bands = (rows.count + bandRows - 1) / bandRows
                for item in 0..<s.batch * s.groups {
                    let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                    let dyg = dy + (n * s.outChannels + g * og) * outPlane
                    let xOffset = (n * s.inChannels + g * cg) * inPlane
                    for b in 0..<bands {
                        let band = rows.lowerBound + rows.count * b / bands ..< rows.lowerBound + rows.count * (b + 1) / bands
                        let top = band.lowerBound
                        Fast.gemm(m: k, n: band.count * outW, k: og, a: weight + g * og * k, lda: k, transposeA: true,
                                  b: dyg + top * outW, ldb: outPlane, c: col, ldc: band.count * outW)
                        col2im(band: band, col: col, dx: target + xOffset, parallel: false)
                    }
                }
            }
            for t in 1..<threads {
                let reach = inputRows(t), partial = partials + (t - 1) * count
                Parallelism.forEach(planes * threads) { item in
                    let (plane, part) = item.quotientAndRemainder(dividingBy: threads)
                    let lo = reach.lowerBound + reach.count * part / threads, hi = reach.lowerBound + reach.count * (part + 1) / threads
                    let offset = plane * inPlane + lo * inW
                    Self.addInPlace(dx + offset, partial + offset, count: (hi - lo) * inW)
                }
            }
        }
        if let dxBias {
            for item in 0..<s.batch * s.groups {
                let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                addInputBias(dxBias, to: dx, image: n, group: g)
            }
        }
    }

    /// `dx[n, channels of group g] += dxBias` (one value per channel, over its plane).
    private func addInputBias(_ dxBias: UnsafePointer<Float>, to dx: UnsafeMutablePointer<Float>, image n: Int, group g: Int) {
        let xOffset = (n * s.inChannels + g * cg) * inPlane
        for c in 0..<cg { Self.addScalar(dxBias[g * cg + c], to: dx + xOffset + c * inPlane, count: inPlane) }
    }
}

// MARK: small vector loops (internal to the convolution kernels)

extension IM2ColConvolution {
    /// `dst[m * rows + t] = src[t * length + m]` for t < `rows` (2 or 4) and m < `length`
    /// (a multiple of 16): rows interleaved, 16 columns at a time in registers.
    static func interleave(_ src: UnsafePointer<Float>, rows: Int, length: Int, into dst: UnsafeMutablePointer<Float>) {
        var m = 0
        while m < length {
            if rows == 2 {
                let (lo, hi) = interleaveLanes(load16(src + m), load16(src + length + m))
                store16(lo, dst + 2 * m); store16(hi, dst + 2 * m + 16)
            } else {
                // Two rounds: (r0, r2) and (r1, r3) pairwise, then those two together.
                let (a0, a1) = interleaveLanes(load16(src + m), load16(src + 2 * length + m))
                let (b0, b1) = interleaveLanes(load16(src + length + m), load16(src + 3 * length + m))
                let (c0, c1) = interleaveLanes(a0, b0), (c2, c3) = interleaveLanes(a1, b1)
                store16(c0, dst + 4 * m); store16(c1, dst + 4 * m + 16)
                store16(c2, dst + 4 * m + 32); store16(c3, dst + 4 * m + 48)
            }
            m += 16
        }
    }

    /// `dst[i] += src[i]` for `i < count`, sixteen lanes at a time.
    @inline(__always)
    static func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(load16(dst + i) + load16(src + i), dst + i)
            i += 16
        }
        while i < count { dst[i] += src[i]; i += 1 }
    }

    /// `dst[i] += value` for `i < count`.
    @inline(__always)
    static func addScalar(_ value: Float, to dst: UnsafeMutablePointer<Float>, count: Int) {
        let splat = SIMD16<Float>(repeating: value)
        var i = 0
        while i + 16 <= count {
            store16(load16(dst + i) + splat, dst + i)
            i += 16
        }
        while i < count { dst[i] += value; i += 1 }
    }

    /// `sum(src[0..<count])`, with sixteen running partial sums.
    @inline(__always)
    static func vectorSum(_ src: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc += load16(src + i)
            i += 16
        }
        var total = acc.sum()
        while i < count { total += src[i]; i += 1 }
        return total
    }

    /// `sums[c] = sum over n and the plane of g[n, c, :]` for an NCHW gradient: the bias gradient.
    static func channelSums(_ g: [Float], batch: Int, channels: Int, plane: Int) -> [Float] {
        var sums = [Float](repeating: 0, count: channels)
        g.withUnsafeBufferPointer { g in
            sums.withUnsafeMutableBufferPointer { sums in
                let (g, sums) = (g.baseAddress!, sums.baseAddress!)
                let body = { (c: Int) in
                    var total: Float = 0
                    for n in 0..<batch { total += Self.vectorSum(g + (n * channels + c) * plane, count: plane) }
                    sums[c] = total
                }
                if batch * channels * plane >= 1 << 16 {
                    Parallelism.forEach(channels, body)
                } else {
                    for c in 0..<channels { body(c) }
                }
            }
        }
        return sums
    }

    /// Calls `body` with a pointer to the elements of `array`, or with nil.
    @inline(__always)
    static func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension Fast {
    /// The convolution of ``Naive/conv2d(_:weight:bias:geometry:)`` (same shapes and
    /// result), by the kernel ``conv2d(_:weight:bias:geometry:residual:relu:into:)`` picks
    /// (the direct kernel of Convolution+FastDirect.swift, the implicit GEMM of
    /// Convolution+FastImplicit.swift or the grouped kernel of Convolution+FastGrouped.swift).
    /// To write into an existing buffer, or fuse a residual add and ReLU, use that entry.
    public static func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv2d") }
        return [Float](unsafeUninitializedCapacity: s.outputShape.count) { y, initialized in
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    IM2ColConvolution.withOptionalPointer(bias) { bias in
                        conv2dFused(x.baseAddress!, weight: w.baseAddress!, bias: bias, geometry: s, residual: nil,
                                    relu: false, into: y.baseAddress!)
                    }
                }
            }
            initialized = s.outputShape.count
        }
    }

    /// The gradients of ``Naive/conv2dBackward(_:weight:outputGradient:geometry:)``:
    /// `dW += dY col^T` and `dx = col2im(W^T dY)` per image and group, `dbias = sum dy`
    /// (or the direct kernels of Convolution+FastGrouped.swift for groups of few channels).
    public static func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward")
        let g = convolutionBackward(s, x: x, weight: weight, dy: dy, input: true, weightAndBias: true)
        return (g.input!, g.weight!, g.bias!)
    }

    /// The gradients of ``conv2dBackward(_:weight:outputGradient:geometry:)`` that are asked
    /// for: the input gradient only when `inputGradient` (not for a network's first layer),
    /// the bias gradient (a pass over dy) only when `biasGradient`.
    public static func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry,
                                      inputGradient: Bool, biasGradient: Bool) -> (input: [Float]?, weight: [Float], bias: [Float]?) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward")
        let g = convolutionBackward(s, x: x, weight: weight, dy: dy, input: inputGradient, weightAndBias: true,
                                    bias: biasGradient)
        return (g.input, g.weight!, g.bias)
    }

    /// The input gradient alone: ``Naive/conv2dBackwardInput(weight:outputGradient:geometry:)``,
    /// the first result of ``conv2dBackward(_:weight:outputGradient:geometry:)``.
    public static func conv2dBackwardInput(weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> [Float] {
        let s = geometry
        s.validate()
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward input")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward input")
        return convolutionBackward(s, x: nil, weight: weight, dy: dy, input: true, weightAndBias: false).input!
    }

    /// The weight and bias gradients alone: ``Naive/conv2dBackwardWeight(_:outputGradient:geometry:)``,
    /// the last two results of ``conv2dBackward(_:weight:outputGradient:geometry:)``.
    public static func conv2dBackwardWeight(_ x: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (weight: [Float], bias: [Float]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward weight")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward weight")
        let g = convolutionBackward(s, x: x, weight: nil, dy: dy, input: false, weightAndBias: true)
        return (g.weight!, g.bias!)
    }

    /// Runs the backward kernel that suits `s` for the gradients asked for (the input
    /// gradient needs `weight`, the weight gradient `x`).
    /// (`bias: false` skips the bias gradient, a pass over dy, where `weightAndBias` asks for
    /// the weight's alone; the grouped kernel computes it anyway.)
    static func convolutionBackward(_ s: Conv2DGeometry, x: [Float]?, weight: [Float]?, dy: [Float],
                                    input: Bool, weightAndBias: Bool, bias: Bool = true) -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        if let small = smallConvolutionBackward(s, x: x, weight: weight, dy: dy, input: input, weightAndBias: weightAndBias, bias: bias) { return small }
        let grouped = GroupedDirectConvolution.applies(to: s) ? GroupedDirectConvolution(s) : nil
        // Every kernel overwrites its outputs (the im2col path zeroes dx itself before
        // col2im adds into it): no zero-fill pass here.
        func uninitialized(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                body(buffer.baseAddress!)
                initialized = count
            }
        }
        func withOptionalOutput(_ wanted: Bool, count: Int, _ body: (UnsafeMutablePointer<Float>?) -> Void) -> [Float]? {
            guard wanted else { body(nil); return nil }
            var result: [Float]? = nil
            result = uninitialized(count) { body($0) }
            return result
        }
        var dx: [Float]? = nil, dw: [Float]? = nil, db: [Float]? = nil
        IM2ColConvolution.withOptionalPointer(x) { x in
            IM2ColConvolution.withOptionalPointer(weight) { w in
                dy.withUnsafeBufferPointer { dyBuffer in
                    let dyp = dyBuffer.baseAddress!
                    dx = withOptionalOutput(input, count: s.inputShape.count) { dxp in
                        dw = withOptionalOutput(weightAndBias, count: s.weightCount) { dwp in
                            db = withOptionalOutput(weightAndBias && grouped != nil, count: s.outChannels) { dbp in
                                if let grouped {
                                    grouped.backward(x: x, weight: w, dy: dyp, dx: dxp, dw: dwp, db: dbp)
                                } else {
                                    // dW on the pixel grid: the direct kernel of Convolution+FastWeightGradient.swift
                                    // for 16-64 channels, else the implicit GEMM (Convolution+FastImplicit.swift).
                                    if let dwp, let x {
                                        DirectWeightGradient.weightGradient(geometry: s, x: x, dy: dyp, dw: dwp)
                                    }
                                    // dx: with stride 1, the forward convolution of dy by the turned kernel;
                                    // strided, one such convolution per stride phase
                                    // (Convolution+FastStridedInput.swift); otherwise W^T dY by GEMM, then col2im.
                                    if let dxp, let w {
                                        if ImplicitGEMMConvolution.backwardInputApplies(to: s) {
                                            ImplicitGEMMConvolution.backwardInput(geometry: s, weight: w, dy: dyp, dx: dxp)
                                        } else if StridedInputGradient.applies(to: s) {
                                            StridedInputGradient(s).inputGradient(weight: w, dy: dyp, dx: dxp)
                                        } else {
                                            IM2ColConvolution(s).backward(x: nil, weight: w, dy: dyp, dx: dxp, dw: nil)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if weightAndBias && bias && db == nil {
            db = IM2ColConvolution.channelSums(dy, batch: s.batch, channels: s.outChannels, plane: s.outHeight * s.outWidth)
        }
        return (dx, dw, db)
    }
}
