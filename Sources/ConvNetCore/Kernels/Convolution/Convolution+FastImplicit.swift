import Dispatch
import Foundation

// The fast dense convolution: an implicit GEMM with a fused epilogue.
//
// im2col + GEMM (Convolution+FastIm2col.swift) writes the column matrix to memory, then the
// GEMM reads it back only to copy it once more into its packed panels. Here the copy into
// the panels IS the im2col: the GEMM's B operand is a virtual matrix that is never stored,
//
//     B[(c, u, v), (i, j)] = x[c, i*sh + u - ph, j*sw + v - pw]   (0 in the padding),
//
// and the packing routine reads it straight from the image into NR-column panels. That
// saves one full write and one full read of a matrix kh*kw times the size of the input.
//
// Two facts make the virtual matrix cheap to read:
//
// * Phase planes. Pad the image (zeros around it) and cut it by stride phase: phase
//   (a, b) of channel c holds x_pad[c, i'*sh + a, j'*sw + b] on a grid of Hq x Wq. Then
//   the row (c, u, v) of B, restricted to output row i, is a CONTIGUOUS run of phase
//   (u % sh, v % sw): it starts at offset(c, u, v) + i*Wq and is outW long, where
//   offset(c, u, v) = plane(c, u % sh, v % sw) + (u / sh)*Wq + v / sw. One table of k
//   offsets and one formula for the pixel, q(i, j) = i*Wq + j, describe the whole
//   matrix. (For a convolution with stride 1 and no padding, the phase plane is the image
//   itself and nothing is copied; otherwise the copy costs one pass over the input, which
//   is kh*kw/(sh*sw) times smaller than the column matrix.) MLAS and oneDNN reach the same
//   end (unit-stride, vector-friendly reads for any stride and padding) with blocked
//   layouts (NCHWc: the channel split into blocks of 8 or 16 that become the vector
//   lanes), at the price of converting every tensor to that layout; here the tensors stay
//   NCHW and only the packing knows the geometry.
// * Segments. An NR-column panel of B (NR = 32 output pixels) crosses at most a few output
//   rows; the pieces of each panel that lie within one output row are contiguous in
//   the phase plane, the same for every row (c, u, v) of B. They are computed once per
//   call, so packing a row of a panel is a handful of short vector copies.
//
// The rest is the GEMM of GEMM+Fast.swift (8 x 32 register tile of 16 zmm accumulators
// on AVX-512, 6 x 16 elsewhere; depth blocks of KC = 256; packed B block in L2), with two
// changes:
//
// * A, the weight [Og, k], is read in place: the micro-kernel broadcasts from 8 rows of
//   the weight, lda apart. The 8 rows x KC of one depth block (8 KiB) stay in L1 across
//   every column panel, and no time is spent packing the weight on every call (at batch
//   1 packing a VGG weight would cost a sixth of the convolution).
// * The epilogue is fused: after the last depth block, each 8 x 32 tile of y, still in L1,
//   gets its bias, optionally a residual (y += r, the shortcut of a ResNet block) and a
//   ReLU before the kernel moves on. The layer needs no second pass over its output.
//
// Threads. With at least as many (image, group) items as threads (batch 8 on 2 cores),
// each thread takes a contiguous run of whole items with its own workspace: no
// synchronisation but the final join, and no operand is packed twice. With fewer items
// (batch 1), each item is cut among the threads: by output pixels when there are enough
// column panels (each thread packs only its own B columns; the weight is shared, read in
// place), else by output channels (each thread packs the same B; cheap next to the
// multiply-adds when channels are many, as in VGG's 512).
//
// Workspaces (panel buffers, phase planes) come from a small pool and are reused across
// calls: nothing is allocated in the loops.

// MARK: - Micro-kernels reading A in place

/// A register tile `C[0..<mr, 0..<nr] (+)= A B` over `kc` steps, with A read in place
/// (row r at `a + r*lda`) and B packed (`nr` values per step).
protocol ConvMicroKernel {
    static var mr: Int { get }
    static var nr: Int { get }
    static func run(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool)
    /// Whether ``runHalf(kc:a:lda:b:c:ldc:accumulate:)`` exists: the tile's first `nr/2`
    /// columns only (B panels still `nr` wide), for the last, narrow panel of a row.
    static var hasHalf: Bool { get }
    static func runHalf(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool)
}

@inline(__always)
private func storeTileRow(_ p: UnsafeMutablePointer<Float>, _ add: Bool, _ x0: SIMD16<Float>, _ x1: SIMD16<Float>) {
    if add {
        store16(x0 + load16(p), p)
        store16(x1 + load16(p + 16), p + 16)
    } else {
        store16(x0, p)
        store16(x1, p + 16)
    }
}

/// 8 x 32 tile in 16 `SIMD16<Float>` accumulators (AVX-512: 32 zmm registers).
enum ConvKernel8x32: ConvMicroKernel {
    static var mr: Int { 8 }
    static var nr: Int { 32 }

    @inline(never)
    static func run(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
        var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>()
        var c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        // Rows 0-3 from a0, rows 4-7 from a4 (base + index*{1,2} addressing covers them).
        var a0 = a, a4 = a + 4 &* lda
        let l1 = lda, l2 = 2 &* lda, l3 = 3 &* lda
        var b = b
        for _ in 0..<kc {
            let b0 = load16(b), b1 = load16(b + 16)
            var s = SIMD16<Float>(repeating: a0[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a0[l1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a0[l2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a0[l3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a4[0]); c40.addProduct(s, b0); c41.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a4[l1]); c50.addProduct(s, b0); c51.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a4[l2]); c60.addProduct(s, b0); c61.addProduct(s, b1)
            s = SIMD16<Float>(repeating: a4[l3]); c70.addProduct(s, b0); c71.addProduct(s, b1)
            a0 += 1
            a4 += 1
            b += 32
        }
        storeTileRow(c, accumulate, c00, c01)
        storeTileRow(c + ldc, accumulate, c10, c11)
        storeTileRow(c + 2 &* ldc, accumulate, c20, c21)
        storeTileRow(c + 3 &* ldc, accumulate, c30, c31)
        storeTileRow(c + 4 &* ldc, accumulate, c40, c41)
        storeTileRow(c + 5 &* ldc, accumulate, c50, c51)
        storeTileRow(c + 6 &* ldc, accumulate, c60, c61)
        storeTileRow(c + 7 &* ldc, accumulate, c70, c71)
    }

    static var hasHalf: Bool { true }

    /// 8 x 16: half the FMAs per broadcast, so only for an edge of at most 16 columns
    /// (VGG's 14 x 14 = 6 x 32 + 4 pixels would otherwise compute 224 for 196).
    @inline(never)
    static func runHalf(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
        var a0 = a, a4 = a + 4 &* lda
        let l1 = lda, l2 = 2 &* lda, l3 = 3 &* lda
        var b = b
        for _ in 0..<kc {
            let b0 = load16(b)
            c0.addProduct(SIMD16<Float>(repeating: a0[0]), b0)
            c1.addProduct(SIMD16<Float>(repeating: a0[l1]), b0)
            c2.addProduct(SIMD16<Float>(repeating: a0[l2]), b0)
            c3.addProduct(SIMD16<Float>(repeating: a0[l3]), b0)
            c4.addProduct(SIMD16<Float>(repeating: a4[0]), b0)
            c5.addProduct(SIMD16<Float>(repeating: a4[l1]), b0)
            c6.addProduct(SIMD16<Float>(repeating: a4[l2]), b0)
            c7.addProduct(SIMD16<Float>(repeating: a4[l3]), b0)
            a0 += 1
            a4 += 1
            b += 32
        }
        for (r, v) in [c0, c1, c2, c3, c4, c5, c6, c7].enumerated() {
            let p = c + r &* ldc
            store16(accumulate ? v + load16(p) : v, p)
        }
    }
}

/// 6 x 16 tile in 6 `SIMD16<Float>` accumulators: for CPUs without AVX-512 (AVX2, NEON).
enum ConvKernel6x16: ConvMicroKernel {
    static var mr: Int { 6 }
    static var nr: Int { 16 }

    @inline(never)
    static func run(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>()
        var c3 = SIMD16<Float>(), c4 = SIMD16<Float>(), c5 = SIMD16<Float>()
        var a0 = a, a3 = a + 3 &* lda
        let l1 = lda, l2 = 2 &* lda
        var b = b
        for _ in 0..<kc {
            let b0 = load16(b)
            c0.addProduct(SIMD16<Float>(repeating: a0[0]), b0)
            c1.addProduct(SIMD16<Float>(repeating: a0[l1]), b0)
            c2.addProduct(SIMD16<Float>(repeating: a0[l2]), b0)
            c3.addProduct(SIMD16<Float>(repeating: a3[0]), b0)
            c4.addProduct(SIMD16<Float>(repeating: a3[l1]), b0)
            c5.addProduct(SIMD16<Float>(repeating: a3[l2]), b0)
            a0 += 1
            a3 += 1
            b += 16
        }
        for (r, v) in [c0, c1, c2, c3, c4, c5].enumerated() {
            let p = c + r &* ldc
            store16(accumulate ? v + load16(p) : v, p)
        }
    }

    static var hasHalf: Bool { false }
    static func runHalf(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        fatalError("ConvKernel6x16 has no half tile")
    }
}

// MARK: - Workspaces

/// Float buffers kept between calls (fresh megabytes from malloc would be fresh pages,
/// page faults, on every call).
enum ConvWorkspaces {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var spare: [UnsafeMutableBufferPointer<Float>] = []

    /// A 64-byte aligned buffer of at least `floats` values: the smallest spare that is
    /// large enough (so that the large ones stay free for large requests), else the largest
    /// spare replaced by a new buffer with a quarter more room than asked (so that a
    /// network's layers, each asking a little more than the last, soon stop allocating:
    /// fresh pages fault in on first use).
    static func take(_ floats: Int) -> UnsafeMutableBufferPointer<Float> {
        let floats = max(floats, 16)
        lock.lock()
        var found: UnsafeMutableBufferPointer<Float>? = nil
        var best: Int? = nil
        for (i, b) in spare.enumerated() where b.count >= floats && (best == nil || b.count < spare[best!].count) { best = i }
        if let best {
            found = spare.remove(at: best)
        } else if let largest = spare.indices.max(by: { spare[$0].count < spare[$1].count }) {
            found = spare.remove(at: largest)
        }
        lock.unlock()
        if let found, found.count >= floats { return found }
        if let found { UnsafeMutableRawPointer(found.baseAddress!).deallocate() }
        let count = floats + floats / 4
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: count), count: count)
    }

    /// Returns a buffer from `take` (a few are kept).
    static func give(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.lock()
        let keep = spare.count < 8
        if keep { spare.append(buffer) }
        lock.unlock()
        if !keep { UnsafeMutableRawPointer(buffer.baseAddress!).deallocate() }
    }

    @inline(__always)
    static func with<R>(_ floats: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let buffer = take(floats)
        defer { give(buffer) }
        return body(buffer.baseAddress!)
    }
}

// MARK: - The implicit-GEMM convolution

/// The fused epilogue applied to every finished tile of y: `y = act(y + bias + residual)`.
struct ConvEpilogue {
    /// Per output channel (all `outChannels`), or nil.
    var bias: UnsafePointer<Float>?
    /// Same shape as y, or nil.
    var residual: UnsafePointer<Float>?
    var relu: Bool

    var isEmpty: Bool { bias == nil && residual == nil && !relu }

    /// `dst[p] = act(src[p] + bias + residual[p])` for p < count (ReLU when `relu`): one
    /// row of output through the epilogue, 16 lanes at a time. `src` may be `dst`. Every
    /// convolution kernel ends its rows here.
    @inline(__always)
    static func storeRow(_ src: UnsafePointer<Float>, count: Int, bias: Float, residual: UnsafePointer<Float>?,
                         relu: Bool, _ dst: UnsafeMutablePointer<Float>) {
        let b = SIMD16<Float>(repeating: bias), zero = SIMD16<Float>()
        var p = 0
        while p + 16 <= count {
            var v = load16(src + p) + b
            if let residual { v += load16(residual + p) }
            if relu { v = v.replacing(with: zero, where: v .< zero) }
            store16(v, dst + p)
            p += 16
        }
        while p < count {
            var e = src[p] + bias
            if let residual { e += residual[p] }
            if relu && e < 0 { e = 0 }
            dst[p] = e
            p += 1
        }
    }
}

struct ImplicitGEMMConvolution {
    let s: Conv2DGeometry
    let cg: Int, og: Int, k: Int
    let inPlane: Int, outPlane: Int
    /// Grid mode: the GEMM's columns are the pixels of the phase-plane grid (outH x Wq, the
    /// columns j >= outW computed and dropped), so every panel row of B is one contiguous
    /// run; the tiles go to a block buffer and are copied to y (with the epilogue) per
    /// column block. Worth it when few output channels share each packed panel and the
    /// grid is barely wider than the output (see ``init``).
    let gridMode: Bool
    /// The GEMM's columns: `outPlane`, or `outH * Wq` in grid mode.
    let panelPixels: Int
    /// The phase planes are a copy (padding or stride), or the image itself.
    let copiesInput: Bool
    /// Phase plane height and width (`Hq`, `Wq`) and the floats of one group's planes.
    let hq: Int, wq: Int
    let phaseCount: Int
    /// `offsets[r]` for r = (c, u, v): where row r of B starts in the phase planes.
    let offsets: [Int]
    /// Per column panel p of the output plane, its pieces within single output rows:
    /// `segments[segmentStart[p]..<segmentStart[p+1]]`, each (lane, q, count).
    let segments: [(lane: Int32, q: Int32, count: Int32)]
    let segmentStart: [Int]
    let mr: Int, nr: Int
    let wide: Bool
    let rowPanels: Int, colPanels: Int
    let kcMax: Int, kBlocks: Int
    /// Column panels per block of packed B.
    let ncPanels: Int

    static let depthBlock = 256
    /// Floats of the packed B block (about a quarter of a 2 MiB L2).
    static let packedBFloats = 1 << 17

    init(_ g: Conv2DGeometry, narrowKernel: Bool = false, depthBlock: Int = ImplicitGEMMConvolution.depthBlock,
         packedBFloats: Int = ImplicitGEMMConvolution.packedBFloats, alwaysCopyInput: Bool = false,
         gridMode: Bool? = nil) {
        s = g
        cg = g.inChannelsPerGroup
        og = g.outChannelsPerGroup
        let (kh, kw, sh, sw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth)
        k = cg * kh * kw
        inPlane = g.inHeight * g.inWidth
        outPlane = g.outHeight * g.outWidth
        // Grid mode when output rows are shorter than a panel (so each panel row would be
        // packed in 2-3 pieces) and few channels share each packed panel (the packing is
        // then a large part of the work), and the dropped columns are at most 15%
        // (Inception's 28 of 32). Measured: 10% faster on inception_5x5_192_32; no gain at
        // ResNet's 56 of 58, where a panel row is mostly one piece already.
        let gridWidth = (g.inWidth + 2 * g.paddingWidth + sw - 1) / sw
        let outW0 = g.outWidth
        self.gridMode = gridMode ?? (g.outChannelsPerGroup <= 96 && outW0 < 32 && gridWidth > outW0
                                     && (gridWidth - outW0) * 100 <= 15 * outW0)
        copiesInput = alwaysCopyInput || self.gridMode || !(sh == 1 && sw == 1 && g.paddingHeight == 0 && g.paddingWidth == 0)
        if copiesInput {
            hq = (g.inHeight + 2 * g.paddingHeight + sh - 1) / sh
            wq = (g.inWidth + 2 * g.paddingWidth + sw - 1) / sw
            phaseCount = cg * sh * sw * hq * wq
        } else {
            hq = g.inHeight
            wq = g.inWidth
            phaseCount = 0
        }
        var offsets = [Int](repeating: 0, count: k)
        let (hq, wq) = (hq, wq)
        for c in 0..<cg {
            for u in 0..<kh {
                for v in 0..<kw {
                    let plane = ((c * sh + u % sh) * sw + v % sw) * hq * wq
                    offsets[(c * kh + u) * kw + v] = plane + (u / sh) * wq + v / sw
                }
            }
        }
        self.offsets = offsets
        wide = CPUFeatures.hasAVX512F && !narrowKernel
        mr = wide ? ConvKernel8x32.mr : ConvKernel6x16.mr
        nr = wide ? ConvKernel8x32.nr : ConvKernel6x16.nr
        rowPanels = (og + mr - 1) / mr
        panelPixels = self.gridMode ? g.outHeight * wq : outPlane
        colPanels = (panelPixels + nr - 1) / nr
        // Segments of every column panel.
        var segments: [(lane: Int32, q: Int32, count: Int32)] = []
        var segmentStart = [0]
        let outW = g.outWidth
        for p in 0..<colPanels {
            var n = p * nr
            let end = min(n + nr, panelPixels)
            if self.gridMode {                      // one run per panel
                segments.append((0, Int32(n), Int32(end - n)))
                segmentStart.append(segments.count)
                continue
            }
            while n < end {
                let (i, j) = n.quotientAndRemainder(dividingBy: outW)
                let count = min(end - n, outW - j)
                segments.append((Int32(n - p * nr), Int32(i * wq + j), Int32(count)))
                n += count
            }
            segmentStart.append(segments.count)
        }
        self.segments = segments
        self.segmentStart = segmentStart
        kBlocks = max(1, (k + depthBlock - 1) / depthBlock)
        kcMax = (k + kBlocks - 1) / kBlocks
        ncPanels = max(1, min(colPanels, packedBFloats / (kcMax * nr)))
    }

    /// Floats of one thread's workspace: phase planes (+ slack), packed B, a tile, a row panel of A.
    var workspaceCount: Int {
        let phase = copiesInput ? phaseCount + wq + s.kernelWidth + 16 : 0
        let block = gridMode ? rowPanels * mr * ncPanels * nr : 0
        return phase + kcMax * ncPanels * nr + mr * nr + mr * k + block + 128
    }

    // MARK: phase planes

    /// Writes the phase planes of the `cg` channels at `x` (one image, one group) into `dst`
    /// (only those of `channels`, when given: threads can share the work).
    /// With `rows`, only those rows of every phase plane are written (a thread that
    /// computes some output rows needs only the plane rows they read).
    func buildPhases(x: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>, channels: Range<Int>? = nil,
                     rows: Range<Int>? = nil) {
        let channels = channels ?? 0..<cg, rows = rows ?? 0..<hq
        if s.strideHeight == 1 && s.strideWidth == 1 {
            buildStrideOnePlanes(x: x, dst: dst, channels: channels, rows: rows)
        } else if s.strideWidth == 2 {
            buildColumnPhasePairs(x: x, dst: dst, channels: channels, rows: rows)
        } else {
            buildAnyPhases(x: x, dst: dst, channels: channels, rows: rows)
        }
        // Slack past the last plane: the garbage columns of the last panel row may read it.
        if channels.upperBound == cg {
            zeroFloats(dst + phaseCount, count: wq + s.kernelWidth + 16)
        }
    }

    /// Stride 1: one phase, ph rows of zeros, rows of pw zeros + w values + pw zeros, ph
    /// rows of zeros (wq = w + 2 pw, hq = h + 2 ph). Without the general loop's per-row
    /// phase arithmetic, library calls and range clamps: 16 channels of 32 x 32 at batch
    /// 128 laid out in 0.77-0.80 ms instead of 1.25-1.33 (Zen 4, one thread).
    private func buildStrideOnePlanes(x: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>,
                                      channels: Range<Int>, rows: Range<Int>) {
        let (ph, pw, h, w) = (s.paddingHeight, s.paddingWidth, s.inHeight, s.inWidth)
        for c in channels {
            let xc = x + c * inPlane, out = dst + c * hq * wq
            for i in rows {
                let row = out + i * wq, y = i - ph
                if y < 0 || y >= h {
                    zeroFloats(row, count: wq)
                } else {
                    zeroFloats(row, count: pw)
                    copyFloats(from: xc + y * w, to: row + pw, count: w)
                    zeroFloats(row + pw + w, count: pw)
                }
            }
        }
    }

    /// Column stride 2: both column phases of a row from one zero-bordered copy of it.
    /// Phase b's column j is padded[2j + b], so 16 columns of each come from two vectors of
    /// the copy (`evenLanes`, `oddLanes`) instead of 32 scalar moves. The copy is a small
    /// buffer whose borders stay zero; the last 16 columns overlap the ones before (a row
    /// under 16 columns is stored lane by lane). ResNet-20's 16 -> 32 stride-2 layer, batch
    /// 128, one thread, Zen 4: forward 6.04-7.06 -> 5.56-5.88 ms, weight gradient 6.33-7.34
    /// -> 5.31-6.23 (four or five runs each).
    private func buildColumnPhasePairs(x: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>,
                                       channels: Range<Int>, rows: Range<Int>) {
        let (sh, ph, pw, h, w) = (s.strideHeight, s.paddingHeight, s.paddingWidth, s.inHeight, s.inWidth)
        let plane = hq * wq, paddedCount = 2 * wq + 32
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCount) { buffer in
            let padded = buffer.baseAddress!
            padded.initialize(repeating: 0, count: paddedCount)
            for c in channels {
                let xc = x + c * inPlane
                for a in 0..<sh {
                    let even = dst + (c * sh + a) * 2 * plane, odd = even + plane
                    for i in rows {
                        let e = even + i * wq, o = odd + i * wq
                        let y = i * sh + a - ph
                        if y < 0 || y >= h {
                            zeroFloats(e, count: wq)
                            zeroFloats(o, count: wq)
                            continue
                        }
                        copyFloats(from: xc + y * w, to: padded + pw, count: w)
                        var j = 0
                        while true {
                            let j0 = max(0, min(j, wq - 16))
                            let v0 = load16(padded + 2 * j0), v1 = load16(padded + 2 * j0 + 16)
                            store16(evenLanes(v0, v1), e + j0, count: wq - j0)
                            store16(oddLanes(v0, v1), o + j0, count: wq - j0)
                            if j0 + 16 >= wq { break }
                            j += 16
                        }
                    }
                }
            }
        }
    }

    /// Any other strides: phase by phase, each row's valid columns (j' with 0 <= j'*sw + b
    /// - pw < w) copied or gathered, zeros around them.
    private func buildAnyPhases(x: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>,
                                channels: Range<Int>, rows: Range<Int>) {
        let (sh, sw, ph, pw, h, w) = (s.strideHeight, s.strideWidth, s.paddingHeight, s.paddingWidth, s.inHeight, s.inWidth)
        let plane = hq * wq
        for c in channels {
            let xc = x + c * inPlane
            for a in 0..<sh {
                for b in 0..<sw {
                    let out = dst + ((c * sh + a) * sw + b) * plane
                    let cols = IM2ColConvolution.validRange(offset: b - pw, stride: sw, input: w, output: wq)
                    for i in rows {
                        let row = out + i * wq
                        let y = i * sh + a - ph
                        if y < 0 || y >= h {
                            zeroFloats(row, count: wq)
                            continue
                        }
                        let src = xc + y * w + (b - pw)
                        zeroFloats(row, count: cols.lowerBound)
                        if sw == 1 {
                            copyFloats(from: src + cols.lowerBound, to: row + cols.lowerBound, count: cols.count)
                        } else {
                            for j in cols { row[j] = src[j &* sw] }
                        }
                        zeroFloats(row + cols.upperBound, count: wq - cols.upperBound)
                    }
                }
            }
        }
    }

    // MARK: packing

    /// Packs rows `r0..<r0+kc` of B, column panels `panels`, from the phase planes at
    /// `src`: panel p's row t at `dst + (p - panels.lowerBound)*kc*nr + t*nr`.
    @inline(__always)
    func packB(src: UnsafePointer<Float>, r0: Int, kc: Int, panels: Range<Int>, dst: UnsafeMutablePointer<Float>) {
        let nr = self.nr
        offsets.withUnsafeBufferPointer { offsets in
            segments.withUnsafeBufferPointer { segments in
                segmentStart.withUnsafeBufferPointer { segmentStart in
                    let off = offsets.baseAddress! + r0
                    for p in panels {
                        let panel = dst + (p - panels.lowerBound) * kc * nr
                        let s0 = segmentStart[p], s1 = segmentStart[p + 1]
                        let filled = p * nr + nr <= panelPixels ? nr : panelPixels - p * nr
                        if s1 - s0 == 1 && filled == nr {
                            // One run across the whole panel: nr/16 vector copies per row.
                            let q = Int(segments[s0].q)
                            for t in 0..<kc {
                                let from = src + (off[t] &+ q), to = panel + t &* nr
                                var l = 0
                                while l < nr { store16(load16(from + l), to + l); l += 16 }
                            }
                        } else {
                            for t in 0..<kc {
                                let base = src + off[t], to = panel + t &* nr
                                for sIndex in s0..<s1 {
                                    let seg = segments[sIndex]
                                    copyFloats(from: base + Int(seg.q), to: to + Int(seg.lane), count: Int(seg.count))
                                }
                                if filled < nr { (to + filled).update(repeating: 0, count: nr - filled) }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: one item

    /// `y[rows, cols] = epilogue(W_g x_g)` for one image and group, over row panels `rows`
    /// and column panels `cols`; `ws` is this thread's workspace.
    func run(image n: Int, group g: Int, rows: Range<Int>, cols: Range<Int>,
             x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
             epilogue: ConvEpilogue, ws: UnsafeMutablePointer<Float>) {
        if wide {
            run(ConvKernel8x32.self, image: n, group: g, rows: rows, cols: cols, x: x, weight: weight, y: y, epilogue: epilogue, ws: ws)
        } else {
            run(ConvKernel6x16.self, image: n, group: g, rows: rows, cols: cols, x: x, weight: weight, y: y, epilogue: epilogue, ws: ws)
        }
    }

    @inline(__always)
    func run<K: ConvMicroKernel>(_ kernel: K.Type, image n: Int, group g: Int, rows: Range<Int>, cols: Range<Int>,
                                 x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                 epilogue: ConvEpilogue, ws: UnsafeMutablePointer<Float>) {
        let (mr, nr) = (K.mr, K.nr)
        let xg = x + (n * s.inChannels + g * cg) * inPlane
        let yg = y + (n * s.outChannels + g * og) * outPlane
        let wg = weight + g * og * k
        let residual = epilogue.residual.map { $0 + (n * s.outChannels + g * og) * outPlane }
        let bias = epilogue.bias.map { $0 + g * og }
        // Workspace layout.
        var cursor = ws
        let src: UnsafePointer<Float>
        if copiesInput {
            buildPhases(x: xg, dst: cursor)
            src = UnsafePointer(cursor)
            cursor += (phaseCount + wq + s.kernelWidth + 16 + 15) & ~15
        } else {
            src = xg
        }
        let packed = cursor
        cursor += (kcMax * ncPanels * nr + 15) & ~15
        let tile = cursor
        cursor += mr * nr
        // The last row panel, when og is not a multiple of mr: its rows, zero-padded.
        let lastRows = og - (rowPanels - 1) * mr
        let paddedA = cursor
        cursor += (mr * k + 15) & ~15
        let blockC = cursor                     // grid mode: [rowPanels*mr, ncPanels*nr]
        let ldBlock = ncPanels * nr
        if lastRows < mr && rows.contains(rowPanels - 1) {
            for r in 0..<mr {
                if r < lastRows {
                    (paddedA + r * k).update(from: wg + ((rowPanels - 1) * mr + r) * k, count: k)
                } else {
                    (paddedA + r * k).update(repeating: 0, count: k)
                }
            }
        }

        var jc = cols.lowerBound
        while jc < cols.upperBound {
            let panels = jc..<min(jc + ncPanels, cols.upperBound)
            var pc = 0
            while pc < k {
                let kc = min(kcMax, k - pc)
                let add = pc > 0
                let last = pc + kc == k
                packB(src: src, r0: pc, kc: kc, panels: panels, dst: packed)
                if gridMode {
                    for ir in rows {
                        let height = min(mr, og - ir * mr)
                        let a = height == mr ? wg + ir * mr * k + pc : UnsafePointer(paddedA) + pc
                        for jr in panels {
                            K.run(kc: kc, a: a, lda: k, b: UnsafePointer(packed + (jr - panels.lowerBound) * kc * nr),
                                  c: blockC + ir * mr * ldBlock + (jr - panels.lowerBound) * nr, ldc: ldBlock, accumulate: add)
                        }
                    }
                    if last {
                        copyOut(block: blockC, ld: ldBlock, rows: rows.lowerBound * mr..<min(og, rows.upperBound * mr),
                                pixels: panels.lowerBound * nr..<min(panels.upperBound * nr, panelPixels),
                                y: yg, bias: bias, residual: residual, relu: epilogue.relu)
                    }
                    pc += kc
                    continue
                }
                for ir in rows {
                    let height = min(mr, og - ir * mr)
                    let a = height == mr ? wg + ir * mr * k + pc : UnsafePointer(paddedA) + pc
                    for jr in panels {
                        let width = min(nr, outPlane - jr * nr)
                        let b = UnsafePointer(packed + (jr - panels.lowerBound) * kc * nr)
                        let c = yg + ir * mr * outPlane + jr * nr
                        let half = K.hasHalf && width <= nr / 2
                        if height == mr && width == nr {
                            K.run(kc: kc, a: a, lda: k, b: b, c: c, ldc: outPlane, accumulate: add)
                        } else if height == mr && half && width == nr / 2 {
                            K.runHalf(kc: kc, a: a, lda: k, b: b, c: c, ldc: outPlane, accumulate: add)
                        } else {
                            // An edge tile: through the scratch tile.
                            if add {
                                for r in 0..<height { (tile + r * nr).update(from: c + r * outPlane, count: width) }
                            }
                            if half {
                                K.runHalf(kc: kc, a: a, lda: k, b: b, c: tile, ldc: nr, accumulate: add)
                            } else {
                                K.run(kc: kc, a: a, lda: k, b: b, c: tile, ldc: nr, accumulate: add)
                            }
                            for r in 0..<height { (c + r * outPlane).update(from: tile + r * nr, count: width) }
                        }
                        if last && !epilogue.isEmpty {
                            applyEpilogue(c: c, row0: ir * mr, col0: jr * nr, height: height, width: width,
                                          bias: bias, residual: residual, relu: epilogue.relu)
                        }
                    }
                }
                pc += kc
            }
            jc = panels.upperBound
        }
    }

    /// Grid mode: copies the rows `rows` (relative to `block`'s row 0 = channel 0) and grid
    /// pixels `pixels` of a block of C to y, dropping the grid columns j >= outW, with the
    /// epilogue `act(c + bias + residual)`.
    func copyOut(block: UnsafePointer<Float>, ld: Int, rows: Range<Int>, pixels: Range<Int>,
                 y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool) {
        let outW = s.outWidth
        for o in rows {
            let src = block + o * ld - pixels.lowerBound
            let dst = y + o * outPlane
            let res = residual.map { $0 + o * outPlane }
            var i = pixels.lowerBound / wq
            while i * wq < pixels.upperBound {
                let j0 = max(pixels.lowerBound - i * wq, 0), j1 = min(pixels.upperBound - i * wq, outW)
                if j0 < j1 {
                    ConvEpilogue.storeRow(src + i * wq + j0, count: j1 - j0, bias: bias?[o] ?? 0,
                                          residual: res.map { $0 + i * outW + j0 }, relu: relu, dst + i * outW + j0)
                }
                i += 1
            }
        }
    }

    /// `c[r, q] = act(c[r, q] + bias[row0 + r] + residual[row0 + r, col0 + q])` on one tile.
    @inline(__always)
    func applyEpilogue(c: UnsafeMutablePointer<Float>, row0: Int, col0: Int, height: Int, width: Int,
                       bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool) {
        for r in 0..<height {
            let row = c + r * outPlane
            ConvEpilogue.storeRow(row, count: width, bias: bias?[row0 + r] ?? 0,
                                  residual: residual.map { $0 + (row0 + r) * outPlane + col0 }, relu: relu, row)
        }
    }

    // MARK: scheduling

    /// Forces the schedule in tests: `true` = threads take whole items, `false` = each
    /// item is cut among the threads; nil decides by the shape.
    var wholeItemsOverride: Bool? = nil
    /// Forces the thread count (tests); nil uses `Parallelism.threadCount`.
    var threadsOverride: Int? = nil

    /// `y = epilogue(conv(x, w))`, y fully overwritten.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                 epilogue: ConvEpilogue) {
        let items = s.batch * s.groups
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        let wsCount = workspaceCount
        func item(_ i: Int) -> (Int, Int) { i.quotientAndRemainder(dividingBy: s.groups) }
        if threads <= 1 {
            ConvWorkspaces.with(wsCount) { ws in
                for i in 0..<items {
                    let (n, g) = item(i)
                    run(image: n, group: g, rows: 0..<rowPanels, cols: 0..<colPanels, x: x, weight: weight, y: y,
                        epilogue: epilogue, ws: ws)
                }
            }
            return
        }
        let whole = wholeItemsOverride ?? Parallelism.takesWholeItems(items, threads: threads)
        if whole {
            Parallelism.run(threads) { t in
                let run = items * t / threads ..< items * (t + 1) / threads
                if run.isEmpty { return }
                ConvWorkspaces.with(wsCount) { ws in
                    for i in run {
                        let (n, g) = item(i)
                        self.run(image: n, group: g, rows: 0..<rowPanels, cols: 0..<colPanels, x: x, weight: weight, y: y,
                                 epilogue: epilogue, ws: ws)
                    }
                }
            }
            return
        }
        // Each item cut among the threads: by column panels when there are enough.
        let byColumns = colPanels >= 4 * threads || colPanels >= rowPanels
        for i in 0..<items {
            let (n, g) = item(i)
            Parallelism.run(threads) { t in
                let count = byColumns ? colPanels : rowPanels
                let part = count * t / threads ..< count * (t + 1) / threads
                if part.isEmpty { return }
                ConvWorkspaces.with(wsCount) { ws in
                    self.run(image: n, group: g, rows: byColumns ? 0..<rowPanels : part, cols: byColumns ? part : 0..<colPanels,
                             x: x, weight: weight, y: y, epilogue: epilogue, ws: ws)
                }
            }
        }
    }
}

// MARK: - The input gradient as a forward convolution

// With stride 1, the input gradient is itself a convolution, of dy, padded by kh-1-ph
// and kw-1-pw, with the kernel turned by 180 degrees and its two channel axes swapped:
//
//     dx[c, h, w] = sum_{o, u, v} W[o, c, u, v] * dy[o, h + ph - u, w + pw - v]
//                 = sum_{o, u', v'} W'[c, o, u', v'] * dy_pad[o, h + u', w + v'],
//     W'[c, o, u', v'] = W[o, c, kh-1-u', kw-1-v'].
//
// So it runs at the forward pass's speed, instead of a GEMM into a column-matrix gradient
// kh*kw times the size of dx, followed by col2im's scatter-add over it. (With stride > 1
// it would be a convolution of a dy dilated by zeros, wasting sh*sw of its multiply-adds;
// those cases take the stride phases of Convolution+FastStridedInput.swift or im2col +
// GEMM.) The router (Convolution+Fast.swift) runs the turned convolution on the direct
// kernel where that applies (the weights packed turned in one pass,
// ``PackedConvolutionWeights/turned(_:forward:)``), else through ``backwardInput``.
extension ImplicitGEMMConvolution {
    /// Whether ``backwardInput(geometry:weight:dy:dx:)`` applies: stride 1, padding < kernel.
    static func backwardInputApplies(to s: Conv2DGeometry) -> Bool {
        s.strideHeight == 1 && s.strideWidth == 1 && s.paddingHeight < s.kernelHeight && s.paddingWidth < s.kernelWidth
    }

    /// The convolution whose forward pass is the input gradient of `s`.
    static func inputGradientGeometry(of s: Conv2DGeometry) -> Conv2DGeometry {
        Conv2DGeometry(batch: s.batch, inChannels: s.outChannels, inHeight: s.outHeight, inWidth: s.outWidth,
                       outChannels: s.inChannels, kernel: (s.kernelHeight, s.kernelWidth), stride: (1, 1),
                       padding: (s.kernelHeight - 1 - s.paddingHeight, s.kernelWidth - 1 - s.paddingWidth),
                       groups: s.groups)
    }

    /// `dx` (overwritten) of `L = sum(y * dy)` for the convolution `s` with stride 1: the
    /// weights turned into a copy, then the turned convolution by the forward router
    /// (``Fast/conv2dFused``). The backward router calls this where the direct kernel does
    /// not take the turned convolution, so it runs on the implicit GEMM above, or on the
    /// grouped kernel where the turned convolution's groups have few channels.
    static func backwardInput(geometry s: Conv2DGeometry, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>) {
        let (cg, og, taps) = (s.inChannelsPerGroup, s.outChannelsPerGroup, s.kernelHeight * s.kernelWidth)
        let turnedGeometry = inputGradientGeometry(of: s)
        ConvWorkspaces.with(s.weightCount) { turned in
            // W'[g*cg + c, o, t'] = W[g*og + o, c, taps-1-t'] (t' = u'*kw + v' turned by 180 degrees).
            // Written in order (c outer), spread over the threads: at batch 1 a VGG weight
            // (2.4 M values) turned one value at a time would cost a third of the convolution.
            let body = { (gc: Int) in
                let (g, c) = gc.quotientAndRemainder(dividingBy: cg)
                var dst = turned + gc * og * taps
                for o in 0..<og {
                    let src = weight + ((g * og + o) * cg + c) * taps
                    for t in 0..<taps { dst[t] = src[taps - 1 - t] }
                    dst += taps
                }
            }
            if s.weightCount >= 1 << 16 {
                Parallelism.forEach(s.groups * cg, body)
            } else {
                for gc in 0..<s.groups * cg { body(gc) }
            }
            Fast.conv2dFused(dy, weight: turned, bias: nil, geometry: turnedGeometry, residual: nil,
                             relu: false, into: dx)
        }
    }
}

// MARK: - The weight gradient on the pixel grid

// dW_g[o, (c, u, v)] = sum over images and pixels of dy[o, pixel] * B[(c, u, v), pixel]:
// a GEMM whose depth is the pixels. On the phase-plane grid (pixels q = i*Wq + j, with
// j running past outW up to Wq), row (c, u, v) of B is ONE contiguous run,
// planes + offset(c, u, v) + q, so a depth block of B is read with unit stride. The
// grid's extra columns must add nothing: dy is copied onto the grid with zeros there
// (a pass over dy, which also pads its rows to a whole register tile). Then
//
//   * A = dy on the grid, read in place by the micro-kernel (rows of dy, lda = grid size);
//   * B's panels are 32 rows of the virtual matrix, transposed 16 x 16 in registers
//     (each panel step holds one pixel of 32 rows (c, u, v));
//   * C = dW, accumulated over depth blocks and images.
//
// Threads take whole images (each its own dW partial, summed at the end) when there are
// images enough; otherwise they split dW's columns (c, u, v), which needs no reduction.

/// `dst[p * dstStride + t] = rows[t][p0 + p]` for t, p < 16: sixteen rows of sixteen,
/// transposed in registers by four rounds of interleaving row t with row t + 8 (also the
/// direct weight gradient's, Convolution+FastWeightGradient.swift).
@inline(__always)
func transpose16(_ rows: UnsafePointer<UnsafePointer<Float>>, _ p0: Int,
                 _ dst: UnsafeMutablePointer<Float>, _ dstStride: Int) {
    var v = (load16(rows[0] + p0), load16(rows[1] + p0), load16(rows[2] + p0), load16(rows[3] + p0),
             load16(rows[4] + p0), load16(rows[5] + p0), load16(rows[6] + p0), load16(rows[7] + p0),
             load16(rows[8] + p0), load16(rows[9] + p0), load16(rows[10] + p0), load16(rows[11] + p0),
             load16(rows[12] + p0), load16(rows[13] + p0), load16(rows[14] + p0), load16(rows[15] + p0))
    for _ in 0..<4 {
        let (a0, a1) = interleaveLanes(v.0, v.8), (a2, a3) = interleaveLanes(v.1, v.9)
        let (a4, a5) = interleaveLanes(v.2, v.10), (a6, a7) = interleaveLanes(v.3, v.11)
        let (a8, a9) = interleaveLanes(v.4, v.12), (a10, a11) = interleaveLanes(v.5, v.13)
        let (a12, a13) = interleaveLanes(v.6, v.14), (a14, a15) = interleaveLanes(v.7, v.15)
        v = (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
    }
    store16(v.0, dst); store16(v.1, dst + dstStride); store16(v.2, dst + 2 &* dstStride); store16(v.3, dst + 3 &* dstStride)
    store16(v.4, dst + 4 &* dstStride); store16(v.5, dst + 5 &* dstStride); store16(v.6, dst + 6 &* dstStride)
    store16(v.7, dst + 7 &* dstStride); store16(v.8, dst + 8 &* dstStride); store16(v.9, dst + 9 &* dstStride)
    store16(v.10, dst + 10 &* dstStride); store16(v.11, dst + 11 &* dstStride); store16(v.12, dst + 12 &* dstStride)
    store16(v.13, dst + 13 &* dstStride); store16(v.14, dst + 14 &* dstStride); store16(v.15, dst + 15 &* dstStride)
}

struct ImplicitWeightGradient {
    let conv: ImplicitGEMMConvolution
    var s: Conv2DGeometry { conv.s }
    /// Pixels of the grid (`outH * Wq`) and rows of dy on it (og rounded up to mr).
    let grid: Int, dyRows: Int
    let kPanels: Int, kcMax: Int, ncPanels: Int

    var threadsOverride: Int? = nil
    var wholeItemsOverride: Bool? = nil

    init(_ g: Conv2DGeometry, narrowKernel: Bool = false, depthBlock: Int = ImplicitGEMMConvolution.depthBlock,
         packedBFloats: Int = ImplicitGEMMConvolution.packedBFloats) {
        conv = ImplicitGEMMConvolution(g, narrowKernel: narrowKernel, alwaysCopyInput: true, gridMode: false)
        grid = g.outHeight * conv.wq
        dyRows = conv.rowPanels * conv.mr
        kPanels = (conv.k + conv.nr - 1) / conv.nr
        let blocks = max(1, (grid + depthBlock - 1) / depthBlock)
        kcMax = (grid + blocks - 1) / blocks
        ncPanels = max(1, min(kPanels, packedBFloats / (kcMax * conv.nr)))
    }

    var workspaceCount: Int {
        (conv.phaseCount + conv.wq + s.kernelWidth + 16 + 15) / 16 * 16 + dyRows * grid + 16
            + kcMax * ncPanels * conv.nr + conv.mr * conv.nr + 64
    }

    /// `dw[g-th block, rows, kPanels cols] += dW` of image n, group g.
    func run(image n: Int, group g: Int, cols: Range<Int>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
             dw: UnsafeMutablePointer<Float>, ws: UnsafeMutablePointer<Float>) {
        if conv.wide {
            run(ConvKernel8x32.self, image: n, group: g, cols: cols, x: x, dy: dy, dw: dw, ws: ws)
        } else {
            run(ConvKernel6x16.self, image: n, group: g, cols: cols, x: x, dy: dy, dw: dw, ws: ws)
        }
    }

    @inline(__always)
    func run<K: ConvMicroKernel>(_ kernel: K.Type, image n: Int, group g: Int, cols: Range<Int>,
                                 x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                 dw: UnsafeMutablePointer<Float>, ws: UnsafeMutablePointer<Float>) {
        let (mr, nr, k, og, wq) = (K.mr, K.nr, conv.k, conv.og, conv.wq)
        let outW = s.outWidth, outPlane = conv.outPlane
        var cursor = ws
        conv.buildPhases(x: x + (n * s.inChannels + g * conv.cg) * conv.inPlane, dst: cursor)
        let src = UnsafePointer(cursor)
        cursor += (conv.phaseCount + wq + s.kernelWidth + 16 + 15) / 16 * 16
        // dy of this image and group on the grid, zero in the extra columns and rows.
        let dyg = cursor
        let dySrc = dy + (n * s.outChannels + g * og) * outPlane
        for o in 0..<dyRows {
            let row = dyg + o * grid
            if o >= og { row.update(repeating: 0, count: grid); continue }
            if wq == outW {
                row.update(from: dySrc + o * outPlane, count: outPlane)
            } else {
                for i in 0..<s.outHeight {
                    (row + i * wq).update(from: dySrc + o * outPlane + i * outW, count: outW)
                    (row + i * wq + outW).update(repeating: 0, count: wq - outW)
                }
            }
        }
        cursor += (dyRows * grid + 16 + 15) / 16 * 16
        let packed = cursor
        cursor += kcMax * ncPanels * nr
        let tile = cursor
        let dwg = dw + g * og * k
        let zero = UnsafePointer(tile)   // a row of zeros for B rows past k (tile is cleared below)
        conv.offsets.withUnsafeBufferPointer { offsets in
            let off = offsets.baseAddress!
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 16) { rowPointers in
                let rows = rowPointers.baseAddress!
                var jc = cols.lowerBound
                while jc < cols.upperBound {
                    let panels = jc..<min(jc + ncPanels, cols.upperBound)
                    var q0 = 0
                    while q0 < grid {
                        let kc = min(kcMax, grid - q0)
                        // Pack B: panel t, step p = the grid pixel q0 + p of row (jr*nr + t).
                        tile.update(repeating: 0, count: mr * nr)
                        for jr in panels {
                            let panel = packed + (jr - panels.lowerBound) * kc * nr
                            var h = 0
                            while h < nr {
                                for t in 0..<16 {
                                    let r = jr * nr + h + t
                                    rows[t] = r < k ? src + (off[r] + q0) : zero
                                }
                                var p = 0
                                // (Rows past k read the zero tile: at most 16 values, so only whole
                                // blocks of 16 steps go through registers when the panel has such rows.)
                                let allReal = jr * nr + h + 16 <= k
                                if allReal {
                                    while p + 16 <= kc { transpose16(rows, p, panel + p * nr + h, nr); p += 16 }
                                }
                                while p < kc {
                                    let d = panel + p * nr + h
                                    for t in 0..<16 { d[t] = allReal || jr * nr + h + t < k ? rows[t][p] : 0 }
                                    p += 1
                                }
                                h += 16
                            }
                        }
                        for ir in 0..<conv.rowPanels {
                            let height = min(mr, og - ir * mr)
                            let a = UnsafePointer(dyg + ir * mr * grid + q0)
                            for jr in panels {
                                let width = min(nr, k - jr * nr)
                                let b = UnsafePointer(packed + (jr - panels.lowerBound) * kc * nr)
                                let c = dwg + ir * mr * k + jr * nr
                                if height == mr && width == nr {
                                    K.run(kc: kc, a: a, lda: grid, b: b, c: c, ldc: k, accumulate: true)
                                } else {
                                    K.run(kc: kc, a: a, lda: grid, b: b, c: tile, ldc: nr, accumulate: false)
                                    for r in 0..<height {
                                        for q in 0..<width { c[r * k + q] += tile[r * nr + q] }
                                    }
                                    tile.update(repeating: 0, count: mr * nr)
                                }
                            }
                        }
                        q0 += kc
                    }
                    jc = panels.upperBound
                }
            }
        }
    }

    /// `dw` (overwritten) = the weight gradient of `L = sum(y * dy)`.
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>) {
        let items = s.batch * s.groups
        let weightCount = s.weightCount
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        dw.update(repeating: 0, count: weightCount)
        func item(_ i: Int) -> (Int, Int) { i.quotientAndRemainder(dividingBy: s.groups) }
        let wsCount = workspaceCount
        if threads <= 1 {
            ConvWorkspaces.with(wsCount) { ws in
                for i in 0..<items {
                    let (n, g) = item(i)
                    run(image: n, group: g, cols: 0..<kPanels, x: x, dy: dy, dw: dw, ws: ws)
                }
            }
            return
        }
        let whole = wholeItemsOverride ?? Parallelism.takesWholeItems(items, threads: threads)
        if whole {
            // Thread 0 accumulates into dw, the others into partials summed at the end.
            ConvWorkspaces.with((threads - 1) * weightCount) { partials in
                partials.update(repeating: 0, count: (threads - 1) * weightCount)
                Parallelism.run(threads) { t in
                    let run = items * t / threads ..< items * (t + 1) / threads
                    let target = t == 0 ? dw : partials + (t - 1) * weightCount
                    ConvWorkspaces.with(wsCount) { ws in
                        for i in run {
                            let (n, g) = item(i)
                            self.run(image: n, group: g, cols: 0..<kPanels, x: x, dy: dy, dw: target, ws: ws)
                        }
                    }
                }
                Parallelism.forEachChunk(weightCount) { _, range in
                    for t in 0..<threads - 1 {
                        IM2ColConvolution.addInPlace(dw + range.lowerBound, partials + t * weightCount + range.lowerBound,
                                                     count: range.count)
                    }
                }
            }
            return
        }
        // Each item cut among the threads by columns of dW: disjoint writes, no reduction.
        for i in 0..<items {
            let (n, g) = item(i)
            Parallelism.run(threads) { t in
                let part = kPanels * t / threads ..< kPanels * (t + 1) / threads
                if part.isEmpty { return }
                ConvWorkspaces.with(wsCount) { ws in
                    self.run(image: n, group: g, cols: part, x: x, dy: dy, dw: dw, ws: ws)
                }
            }
        }
    }
}
