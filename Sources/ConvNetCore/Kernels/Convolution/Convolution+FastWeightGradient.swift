import Dispatch

// The weight gradient of a dense convolution, computed directly on the pixel grid with
// the output channels in the vector lanes.
//
//     dW[o, (c, u, v)] = sum over images n and output pixels (i, j) of
//                        dy[n, o, i, j] * x_pad[n, c, i*sh + u, j*sw + v]
//
// Each weight is a dot product as long as the batch has output pixels. The implicit GEMM
// (``ImplicitWeightGradient``, Convolution+FastImplicit.swift) runs it as a GEMM with the
// pixels as its depth, so it transposes 32 rows of the virtual im2col matrix into every
// packed panel; with ResNet's 16 to 64 output channels each panel then feeds only two to
// eight register tiles, and the transposes cost nearly as much as the multiply-adds.
// Here the roles are turned around so that nothing of x is packed:
//
// * Phase planes, as in the implicit GEMM: the image is padded and cut by stride phase,
//   so the row r = (c, u, v) of the virtual im2col matrix is a contiguous run per output
//   row, x_pad[c, i*sh + u, j*sw + v] = planes[offset(r) + i*Wq + j].
// * dy is transposed once per image to dyT[i*outW + j][o] (pixel-major, the channels
//   padded to a whole vector with zeros): a small copy, since each value then meets
//   k = cg*kh*kw rows. Only real pixels are visited (the loop steps over the phase
//   planes' extra columns), which matters on CIFAR's 8 x 8 planes (10 wide when padded).
// * Register tile: 32 output channels (two SIMD16 vectors, the lanes are channels) x 9
//   rows r (for a 3x3 kernel: the 9 taps of one input channel): 18 accumulators. Per
//   pixel it loads the two vectors of dyT[q], broadcasts x at the 9 rows, and issues 18
//   FMAs: no horizontal sums, no packing, and x is read in place, each cache line for 16
//   pixels in a row. With 16 channels or fewer left it is 16 x 9.
// * The tile's sums are added into dW^T [k][og] (a vector add per row) once per block of
//   images (the accumulators stay in registers across them), and dW^T is transposed into
//   dW at the end.
// * Rows past k in the last row block read row 0 and their sums are dropped.
//
// Without AVX-512 the tile is 8 channels (one SIMD8) x 9 rows.
//
// Threads take contiguous runs of images, each with its own dW^T (summed at the end); with
// fewer images than twice the threads, they split the rows (c, u, v) of dW^T instead, each
// laying out the phase planes of only the input channels its rows read (with the output
// channel tiles split instead, every thread would lay out every image). At batch 1 on two
// threads, against the implicit GEMM that ran there before: the 1x1 256 -> 64 layer's dW
// 0.60 ms (was 0.77), Inception's 5x5 0.85 (1.24), AlexNet's conv1 0.65 (0.81).

/// A register tile of the direct weight gradient: `width` output channels x 9 rows.
protocol DirectWeightGradientKernel {
    /// Output channels of the tile (a multiple of the vector width).
    static var width: Int { get }
    /// `acc[r * ldacc + o] += sum over images b and output pixels (i, j) of
    /// dyT[b][i*outColumns + j][o] * x[b][r][i*rowStride + j]` for r < 9 and o < width,
    /// where `dyT[b][p] = dy + b*dyImage + p*ldd` and `x[b][r] = x + b*xImage + rows[r]`.
    static func run(images: Int, outRows: Int, outColumns: Int, rowStride: Int,
                    x: UnsafePointer<Float>, xImage: Int, rows: UnsafePointer<Int>,
                    dy: UnsafePointer<Float>, dyImage: Int, ldd: Int,
                    acc: UnsafeMutablePointer<Float>, ldacc: Int)
}

/// 32 channels (2 x SIMD16) x 9 rows: 18 zmm accumulators.
enum DirectWeightGradient32x9: DirectWeightGradientKernel {
    static var width: Int { 32 }

    @inline(never)
    static func run(images: Int, outRows: Int, outColumns: Int, rowStride: Int,
                    x: UnsafePointer<Float>, xImage: Int, rows: UnsafePointer<Int>,
                    dy: UnsafePointer<Float>, dyImage: Int, ldd: Int,
                    acc: UnsafeMutablePointer<Float>, ldacc: Int) {
        typealias V = SIMD16<Float>
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V(), a8 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V(), b8 = V()
        var xb = x, db = dy
        for _ in 0..<images {
            let x0 = xb + rows[0], x1 = xb + rows[1], x2 = xb + rows[2], x3 = xb + rows[3], x4 = xb + rows[4]
            let x5 = xb + rows[5], x6 = xb + rows[6], x7 = xb + rows[7], x8 = xb + rows[8]
            var d = db, q0 = 0
            for _ in 0..<outRows {
            for q in q0..<q0 + outColumns {
                let g0 = load16(d), g1 = load16(d + 16)
                var v = V(repeating: x0[q]); a0.addProduct(g0, v); b0.addProduct(g1, v)
                v = V(repeating: x1[q]); a1.addProduct(g0, v); b1.addProduct(g1, v)
                v = V(repeating: x2[q]); a2.addProduct(g0, v); b2.addProduct(g1, v)
                v = V(repeating: x3[q]); a3.addProduct(g0, v); b3.addProduct(g1, v)
                v = V(repeating: x4[q]); a4.addProduct(g0, v); b4.addProduct(g1, v)
                v = V(repeating: x5[q]); a5.addProduct(g0, v); b5.addProduct(g1, v)
                v = V(repeating: x6[q]); a6.addProduct(g0, v); b6.addProduct(g1, v)
                v = V(repeating: x7[q]); a7.addProduct(g0, v); b7.addProduct(g1, v)
                v = V(repeating: x8[q]); a8.addProduct(g0, v); b8.addProduct(g1, v)
                d += ldd
            }
            q0 += rowStride
            }
            xb += xImage
            db += dyImage
        }
        @inline(__always) func flush(_ r: Int, _ a: V, _ b: V) {
            let p = acc + r * ldacc
            store16(load16(p) + a, p)
            store16(load16(p + 16) + b, p + 16)
        }
        flush(0, a0, b0); flush(1, a1, b1); flush(2, a2, b2); flush(3, a3, b3); flush(4, a4, b4)
        flush(5, a5, b5); flush(6, a6, b6); flush(7, a7, b7); flush(8, a8, b8)
    }
}

/// One vector of channels (`V`: SIMD16 on AVX-512, SIMD8 elsewhere, 11 of AVX2's 16 ymm
/// registers) x 9 rows. The compiler specializes it for each vector type.
enum DirectWeightGradientRows9<V: SIMD>: DirectWeightGradientKernel where V.Scalar == Float {
    static var width: Int { V.scalarCount }

    @inline(never)
    static func run(images: Int, outRows: Int, outColumns: Int, rowStride: Int,
                    x: UnsafePointer<Float>, xImage: Int, rows: UnsafePointer<Int>,
                    dy: UnsafePointer<Float>, dyImage: Int, ldd: Int,
                    acc: UnsafeMutablePointer<Float>, ldacc: Int) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V(), a8 = V()
        var xb = x, db = dy
        for _ in 0..<images {
            let x0 = xb + rows[0], x1 = xb + rows[1], x2 = xb + rows[2], x3 = xb + rows[3], x4 = xb + rows[4]
            let x5 = xb + rows[5], x6 = xb + rows[6], x7 = xb + rows[7], x8 = xb + rows[8]
            var d = db, q0 = 0
            for _ in 0..<outRows {
            for q in q0..<q0 + outColumns {
                let g = load(d)
                a0.addProduct(g, V(repeating: x0[q])); a1.addProduct(g, V(repeating: x1[q]))
                a2.addProduct(g, V(repeating: x2[q])); a3.addProduct(g, V(repeating: x3[q]))
                a4.addProduct(g, V(repeating: x4[q])); a5.addProduct(g, V(repeating: x5[q]))
                a6.addProduct(g, V(repeating: x6[q])); a7.addProduct(g, V(repeating: x7[q]))
                a8.addProduct(g, V(repeating: x8[q]))
                d += ldd
            }
            q0 += rowStride
            }
            xb += xImage
            db += dyImage
        }
        @inline(__always) func flush(_ r: Int, _ a: V) {
            let p = acc + r * ldacc
            UnsafeMutableRawPointer(p).storeBytes(of: load(p) + a, as: V.self)
        }
        flush(0, a0); flush(1, a1); flush(2, a2); flush(3, a3); flush(4, a4)
        flush(5, a5); flush(6, a6); flush(7, a7); flush(8, a8)
    }
}



/// The direct weight gradient of a convolution (any kernel, stride, padding and groups).
struct DirectWeightGradient {
    /// The phase planes and row offsets of the implicit GEMM (its forward pass is not used).
    let conv: ImplicitGEMMConvolution
    var s: Conv2DGeometry { conv.s }
    /// SIMD16 tiles of 32 and 16 channels (AVX-512), or SIMD8 tiles of 8.
    let wide: Bool
    /// Output channels padded to whole vectors (the lanes of dyT and dW^T), and rows
    /// padded to whole blocks of 9.
    let ogPadded: Int, kPadded: Int
    /// Floats of one image's phase planes (with slack) and of its dyT.
    let phaseStride: Int, dyStride: Int
    /// Images whose sums stay in registers together (about `pixelsPerBlock` pixels in all).
    let imagesPerBlock: Int

    /// How threads share the work: each its own images (and its own dW^T, summed at the
    /// end), its own output channel tiles (every thread prepares every image), or its own
    /// rows (c, u, v) of dW^T (each prepares the phase planes of its input channels only).
    enum Schedule { case images, outputChannels, rows }

    var threadsOverride: Int? = nil
    var scheduleOverride: Schedule? = nil

    static let pixelsPerBlock = 1024
    static let rowBlock = 9

    init(_ g: Conv2DGeometry, narrowKernel: Bool = false, pixelsPerBlock: Int = DirectWeightGradient.pixelsPerBlock) {
        conv = ImplicitGEMMConvolution(g, alwaysCopyInput: true, gridMode: false)
        wide = CPUFeatures.hasAVX512F && !narrowKernel
        let lanes = wide ? 16 : 8
        ogPadded = (g.outChannelsPerGroup + lanes - 1) / lanes * lanes
        kPadded = (conv.k + Self.rowBlock - 1) / Self.rowBlock * Self.rowBlock
        phaseStride = (conv.phaseCount + conv.wq + g.kernelWidth + 16 + 15) / 16 * 16
        dyStride = (conv.outPlane * ogPadded + 15) / 16 * 16
        imagesPerBlock = max(1, min(g.batch, pixelsPerBlock / conv.outPlane))
    }

    /// The channel tiles: (first channel, kernel width) covering `0..<ogPadded`.
    var tiles: [(start: Int, width: Int)] {
        var result: [(Int, Int)] = []
        var o = 0
        while o < ogPadded {
            let width = !wide ? 8 : ogPadded - o >= 32 ? 32 : 16
            result.append((o, width))
            o += width
        }
        return result
    }

    /// Floats of one thread's workspace: the images of a block, its dW^T, and a plane of
    /// zeros (the rows of dy past og).
    /// (dW^T has a block of 9 rows to spare: a thread's rows may end mid-block.)
    var workspaceCount: Int {
        imagesPerBlock * (phaseStride + dyStride) + (kPadded + Self.rowBlock) * ogPadded + conv.outPlane + 32
    }

    /// Lays images `images` of group `g` into the workspace: phase planes at `planes` (of
    /// input channels `channels` of the group, all by default), dyT at `dyT`.
    private func prepare(images: Range<Int>, group g: Int, channels: Range<Int>?, x: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, planes: UnsafeMutablePointer<Float>, dyT: UnsafeMutablePointer<Float>,
                         zeros: UnsafePointer<Float>) {
        let (og, cg, ldd) = (conv.og, conv.cg, ogPadded)
        let outPlane = conv.outPlane
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 16) { rowBuffer in
            let rows = rowBuffer.baseAddress!
            for (b, n) in images.enumerated() {
                conv.buildPhases(x: x + (n * s.inChannels + g * cg) * conv.inPlane, dst: planes + b * phaseStride,
                                 channels: channels)
                let dst = dyT + b * dyStride
                let src = dy + (n * s.outChannels + g * og) * outPlane
                var o0 = 0
                while o0 < ldd {
                    for t in 0..<16 { rows[t] = o0 + t < og ? src + (o0 + t) * outPlane : zeros }
                    let lanes = min(16, ldd - o0)          // 8 for the last channels of SIMD8 padding
                    var p = 0
                    if lanes == 16 {
                        while p + 16 <= outPlane { transpose16(rows, p, dst + p * ldd + o0, ldd); p += 16 }
                    }
                    while p < outPlane {
                        let d = dst + p * ldd + o0
                        for t in 0..<lanes { d[t] = rows[t][p] }
                        p += 1
                    }
                    o0 += 16
                }
            }
        }
    }

    /// `dwT[rows, tiles] += dW^T` of images `images` of group `g` (rows in blocks of 9 from
    /// `rows.lowerBound`; the last block's rows past the range read its first row, and
    /// their sums land in dwT rows that are not stored).
    private func accumulate(images: Range<Int>, group g: Int, tiles: ArraySlice<(start: Int, width: Int)>, rows rowRange: Range<Int>,
                            x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dwT: UnsafeMutablePointer<Float>,
                            ws: UnsafeMutablePointer<Float>, zeros: UnsafePointer<Float>) {
        let planes = ws, dyT = ws + images.count * phaseStride
        let taps = s.kernelHeight * s.kernelWidth
        let channels = rowRange == 0..<conv.k ? nil : rowRange.lowerBound / taps ..< (rowRange.upperBound - 1) / taps + 1
        prepare(images: images, group: g, channels: channels, x: x, dy: dy, planes: planes, dyT: dyT, zeros: zeros)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.rowBlock) { rowBuffer in
            let rows = rowBuffer.baseAddress!
            conv.offsets.withUnsafeBufferPointer { offsets in
                for (o0, width) in tiles {
                    var r0 = rowRange.lowerBound
                    while r0 < rowRange.upperBound {
                        for r in 0..<Self.rowBlock { rows[r] = offsets[r0 + r < rowRange.upperBound ? r0 + r : rowRange.lowerBound] }
                        let a = dwT + r0 * ogPadded + o0, d = UnsafePointer(dyT + o0)
                        switch width {
                        case 32:
                            DirectWeightGradient32x9.run(images: images.count, outRows: s.outHeight, outColumns: s.outWidth,
                                     rowStride: conv.wq, x: planes, xImage: phaseStride,
                                                         rows: rows, dy: d, dyImage: dyStride, ldd: ogPadded, acc: a, ldacc: ogPadded)
                        case 16:
                            DirectWeightGradientRows9<SIMD16<Float>>.run(images: images.count, outRows: s.outHeight, outColumns: s.outWidth,
                                     rowStride: conv.wq, x: planes, xImage: phaseStride,
                                                         rows: rows, dy: d, dyImage: dyStride, ldd: ogPadded, acc: a, ldacc: ogPadded)
                        default:
                            DirectWeightGradientRows9<SIMD8<Float>>.run(images: images.count, outRows: s.outHeight, outColumns: s.outWidth,
                                    rowStride: conv.wq, x: planes, xImage: phaseStride,
                                                        rows: rows, dy: d, dyImage: dyStride, ldd: ogPadded, acc: a, ldacc: ogPadded)
                        }
                        r0 += Self.rowBlock
                    }
                }
            }
        }
    }

    /// dW^T of images `run`, channel tiles `tiles`, rows `rows` (all by default), group
    /// `g`, into `dwT` (overwritten).
    private func accumulate(images run: Range<Int>, group g: Int, tiles: ArraySlice<(start: Int, width: Int)>,
                            rows: Range<Int>? = nil,
                            x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dwT: UnsafeMutablePointer<Float>,
                            ws: UnsafeMutablePointer<Float>) {
        dwT.update(repeating: 0, count: (kPadded + Self.rowBlock) * ogPadded)
        let zeros = ws + imagesPerBlock * (phaseStride + dyStride) + (kPadded + Self.rowBlock) * ogPadded
        zeros.update(repeating: 0, count: conv.outPlane + 16)
        var n0 = run.lowerBound
        while n0 < run.upperBound {
            let block = n0..<min(n0 + imagesPerBlock, run.upperBound)
            accumulate(images: block, group: g, tiles: tiles, rows: rows ?? 0..<conv.k, x: x, dy: dy, dwT: dwT, ws: ws,
                       zeros: zeros)
            n0 = block.upperBound
        }
    }

    /// `dw[g][o][r] (+)= dwT[r][o]` for the channels `channels` and rows `rows` (all by default).
    private func store(_ dwT: UnsafePointer<Float>, group g: Int, channels: Range<Int>, rows: Range<Int>? = nil,
                       into dw: UnsafeMutablePointer<Float>, add: Bool) {
        let k = conv.k
        let dwg = dw + g * conv.og * k
        for o in channels {
            let row = dwg + o * k
            if add {
                for r in rows ?? 0..<k { row[r] += dwT[r * ogPadded + o] }
            } else {
                for r in rows ?? 0..<k { row[r] = dwT[r * ogPadded + o] }
            }
        }
    }

    /// `dw` (overwritten) = the weight gradient of `L = sum(y * dy)`.
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>) {
        let tiles = self.tiles
        let og = conv.og
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        let wsCount = workspaceCount
        let dwTOffset = imagesPerBlock * (phaseStride + dyStride)
        if threads <= 1 {
            ConvWorkspaces.with(wsCount) { ws in
                for g in 0..<s.groups {
                    accumulate(images: 0..<s.batch, group: g, tiles: tiles[...], x: x, dy: dy, dwT: ws + dwTOffset, ws: ws)
                    store(ws + dwTOffset, group: g, channels: 0..<og, into: dw, add: false)
                }
            }
            return
        }
        let blocks = kPadded / Self.rowBlock
        let schedule = scheduleOverride
            ?? (s.batch >= 2 * threads ? .images : blocks >= 2 * threads ? .rows : tiles.count >= threads ? .outputChannels : .images)
        if schedule == .rows {
            // Few images: each thread takes its own blocks of rows (c, u, v) of dW^T and lays
            // out the phase planes of only the input channels they read (a boundary channel
            // by both), then stores its rows of dw.
            let threads = min(threads, blocks)
            ConvWorkspaces.with(threads * wsCount) { wsAll in
                for g in 0..<s.groups {
                    Parallelism.run(threads) { t in
                        let rows = Self.rowBlock * (blocks * t / threads) ..< min(conv.k, Self.rowBlock * (blocks * (t + 1) / threads))
                        guard !rows.isEmpty else { return }
                        let ws = wsAll + t * wsCount
                        accumulate(images: 0..<s.batch, group: g, tiles: tiles[...], rows: rows, x: x, dy: dy,
                                   dwT: ws + dwTOffset, ws: ws)
                        store(ws + dwTOffset, group: g, channels: 0..<og, rows: rows, into: dw, add: false)
                    }
                }
            }
            return
        }
        if schedule == .images {
            let threads = min(threads, s.batch)
            // Each thread its own dW^T; thread 0 writes dw, then the others add theirs in turn.
            ConvWorkspaces.with(threads * wsCount) { wsAll in
                for g in 0..<s.groups {
                    Parallelism.run(threads) { t in
                        let run = s.batch * t / threads ..< s.batch * (t + 1) / threads
                        let ws = wsAll + t * wsCount
                        accumulate(images: run, group: g, tiles: tiles[...], x: x, dy: dy, dwT: ws + dwTOffset, ws: ws)
                    }
                    Parallelism.forEachChunk(og) { _, channels in
                        for t in 0..<threads {
                            store(wsAll + t * wsCount + dwTOffset, group: g, channels: channels, into: dw, add: t > 0)
                        }
                    }
                }
            }
            return
        }
        // Few images: each thread takes its own channel tiles (disjoint rows of dW).
        let threadsUsed = min(threads, tiles.count)
        for g in 0..<s.groups {
            Parallelism.run(threadsUsed) { t in
                let part = tiles[tiles.count * t / threadsUsed ..< tiles.count * (t + 1) / threadsUsed]
                ConvWorkspaces.with(wsCount) { ws in
                    accumulate(images: 0..<s.batch, group: g, tiles: part, x: x, dy: dy, dwT: ws + dwTOffset, ws: ws)
                    let channels = part.first!.start ..< min(og, part.last!.start + part.last!.width)
                    store(ws + dwTOffset, group: g, channels: channels, into: dw, add: false)
                }
            }
        }
    }
}

extension DirectWeightGradient {
    /// Whether the direct kernel beats the implicit GEMM: output channels 16 to 64 per group
    /// (fewer would leave vector lanes empty; with more, the GEMM's packed panels feed
    /// enough tiles to pay for themselves, and dyT no longer stays in L2). Measured with one
    /// thread: 1.3-2.7x on CIFAR ResNet's layers and ResNet-50's 64-channel ones; 0.3-0.6x
    /// with 256 or 512 channels.
    static func applies(to s: Conv2DGeometry) -> Bool {
        s.outChannelsPerGroup >= 16 && s.outChannelsPerGroup <= 64
    }
}
