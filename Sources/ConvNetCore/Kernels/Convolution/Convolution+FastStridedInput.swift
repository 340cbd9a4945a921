import Dispatch

// The input gradient of a strided convolution, computed directly, one stride phase of dx
// at a time.
//
// With stride s, row p of the padded input is read by kernel rows u = p - i*s, so only
// the taps u with p's phase (u = p mod s) ever meet it:
//
//     dx_pad[c, P*sh + a, Q*sw + b] = sum over o, t, t' of
//         w[o, c, a + sh*t, b + sw*t'] * dy[o, P - t, Q - t']
//
// For each phase (a, b) that is a "full" stride-1 correlation of dy with the taps
// a, a + sh, ... (2x2, 2x1, 1x2 and 1x1 for a 3x3 kernel with stride 2: nine taps in all,
// as many multiply-adds as the forward pass). The textbook route (Convolution+FastIm2col.swift)
// computes the column-matrix gradient W^T dY instead (kh*kw times the size of dx) and
// scatter-adds it back with col2im; a 16- or 32-channel dx gives that product few rows
// for every packed panel, and col2im reads and writes dx once per tap.
//
// * dy on a grid: each plane of dy is copied once per image into a zero-padded grid of
//   width Wz (T-1 zeros on each side), so for output pixel g = P*Wz + Q of any phase,
//   dy[o, P - t, Q - t'] = grid[offset(o, t, t') + g]: one table of offsets per phase,
//   and every row of the virtual "im2col" matrix is a contiguous run of the grid.
// * Register tile: 8 channels of dx x 48 grid pixels (three SIMD16 vectors), 24
//   accumulators. Per row r = (o, t, t') it loads three vectors of the grid in place (no
//   packing) and broadcasts 8 weights (the weights of a phase are laid out [c][r] once per
//   call), 24 FMAs for 11 loads. The grid's extra columns are computed and dropped.
// * One pass interleaves the phases of an image into dx while they are in cache (phases
//   without taps, as the odd rows of a 1x1 convolution with stride 2, give 0).
// * An image's gradient (3 channels: AlexNet's and ResNet's first layers) would leave five
//   of the tile's eight rows empty. Phases with the same taps read the grid at the same
//   offsets, so there the rows are 2 phases x 3 channels and the tile 6 x 64 (four grid
//   vectors, six weights broadcast, 24 FMAs, as the forward kernel's ratio): the phases
//   are sorted by their taps and paired in that order, a pair computed with the taps of
//   both (zero weights fill in; AlexNet's 16 phases: 4% more multiply-adds). A 3 x 128
//   tile instead (eight grid loads per 24 FMAs) ran at 56% of the forward kernel's rate
//   per multiply-add; the pairs run at 97%. AlexNet's conv1 input gradient, batch 1, one
//   thread: 1.13-1.21 ms against 1.23-1.33 by im2col's GEMM and col2im, alternating; two
//   threads at batch 8: 4.35-4.42 ms against 5.55-5.73.
// * With stride 2 or 4 across, a row of dx interleaves its phases 16 columns at a time in
//   registers.
//
// Without AVX-512 the tile is 6 channels x 16 pixels (two SIMD8 vectors, 12 accumulators).
// Threads take whole images; with fewer images than threads they split each phase's
// channel tiles, or, with fewer tiles than threads (an image's gradient has one), each
// phase's pixel chunks and then the rows of dx.

/// A register tile `C[0..<mr, 0..<nr] (+)= A B` over `k` steps: A read in place (row i at
/// `a + i*lda`), row r of B at `b + offsets[r]` (nr contiguous floats); added to C when
/// `accumulate`.
protocol InPlaceTileKernel {
    static var mr: Int { get }
    static var nr: Int { get }
    static func run(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool)
}

/// 8 x 48 in 24 SIMD16 accumulators (AVX-512).
enum InPlaceKernel8x48: InPlaceTileKernel {
    static var mr: Int { 8 }
    static var nr: Int { 48 }

    @inline(never)
    static func run(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD16<Float>
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        var c40 = V(), c41 = V(), c42 = V(), c50 = V(), c51 = V(), c52 = V()
        var c60 = V(), c61 = V(), c62 = V(), c70 = V(), c71 = V(), c72 = V()
        var a0 = a, a4 = a + 4 &* lda
        let l1 = lda, l2 = 2 &* lda, l3 = 3 &* lda
        var off = offsets
        for _ in 0..<k {
            let p = b + off[0]
            let b0 = load16(p), b1 = load16(p + 16), b2 = load16(p + 32)
            var s = V(repeating: a0[0]); c00.addProduct(s, b0); c01.addProduct(s, b1); c02.addProduct(s, b2)
            s = V(repeating: a0[l1]); c10.addProduct(s, b0); c11.addProduct(s, b1); c12.addProduct(s, b2)
            s = V(repeating: a0[l2]); c20.addProduct(s, b0); c21.addProduct(s, b1); c22.addProduct(s, b2)
            s = V(repeating: a0[l3]); c30.addProduct(s, b0); c31.addProduct(s, b1); c32.addProduct(s, b2)
            s = V(repeating: a4[0]); c40.addProduct(s, b0); c41.addProduct(s, b1); c42.addProduct(s, b2)
            s = V(repeating: a4[l1]); c50.addProduct(s, b0); c51.addProduct(s, b1); c52.addProduct(s, b2)
            s = V(repeating: a4[l2]); c60.addProduct(s, b0); c61.addProduct(s, b1); c62.addProduct(s, b2)
            s = V(repeating: a4[l3]); c70.addProduct(s, b0); c71.addProduct(s, b1); c72.addProduct(s, b2)
            a0 += 1
            a4 += 1
            off += 1
        }
        @inline(__always) func store(_ row: Int, _ x: V, _ y: V, _ z: V) {
            let p = c + row &* ldc
            if accumulate {
                store16(x + load16(p), p); store16(y + load16(p + 16), p + 16); store16(z + load16(p + 32), p + 32)
            } else {
                store16(x, p); store16(y, p + 16); store16(z, p + 32)
            }
        }
        store(0, c00, c01, c02); store(1, c10, c11, c12); store(2, c20, c21, c22); store(3, c30, c31, c32)
        store(4, c40, c41, c42); store(5, c50, c51, c52); store(6, c60, c61, c62); store(7, c70, c71, c72)
    }
}

/// 6 x 64 in 24 SIMD16 accumulators (AVX-512), for the gradient of an image's 3 channels:
/// its 6 rows are 2 stride phases computed with the same taps x 3 channels (the phases
/// read the grid at the same offsets, so each loaded vector serves both). Per row of the
/// reduction: 4 grid vectors loaded, 6 weights broadcast, 24 FMAs.
enum InPlaceKernel6x64: InPlaceTileKernel {
    static var mr: Int { 6 }
    static var nr: Int { 64 }

    @inline(never)
    static func run(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD16<Float>
        var c00 = V(), c01 = V(), c02 = V(), c03 = V(), c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V(), c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var c40 = V(), c41 = V(), c42 = V(), c43 = V(), c50 = V(), c51 = V(), c52 = V(), c53 = V()
        var a0 = a, a3 = a + 3 &* lda
        let l1 = lda, l2 = 2 &* lda
        var off = offsets
        for _ in 0..<k {
            let p = b + off[0]
            let b0 = load16(p), b1 = load16(p + 16), b2 = load16(p + 32), b3 = load16(p + 48)
            var s = V(repeating: a0[0]); c00.addProduct(s, b0); c01.addProduct(s, b1); c02.addProduct(s, b2); c03.addProduct(s, b3)
            s = V(repeating: a0[l1]); c10.addProduct(s, b0); c11.addProduct(s, b1); c12.addProduct(s, b2); c13.addProduct(s, b3)
            s = V(repeating: a0[l2]); c20.addProduct(s, b0); c21.addProduct(s, b1); c22.addProduct(s, b2); c23.addProduct(s, b3)
            s = V(repeating: a3[0]); c30.addProduct(s, b0); c31.addProduct(s, b1); c32.addProduct(s, b2); c33.addProduct(s, b3)
            s = V(repeating: a3[l1]); c40.addProduct(s, b0); c41.addProduct(s, b1); c42.addProduct(s, b2); c43.addProduct(s, b3)
            s = V(repeating: a3[l2]); c50.addProduct(s, b0); c51.addProduct(s, b1); c52.addProduct(s, b2); c53.addProduct(s, b3)
            a0 += 1
            a3 += 1
            off += 1
        }
        @inline(__always) func store(_ row: Int, _ w: V, _ x: V, _ y: V, _ z: V) {
            let p = c + row &* ldc
            if accumulate {
                store16(w + load16(p), p); store16(x + load16(p + 16), p + 16)
                store16(y + load16(p + 32), p + 32); store16(z + load16(p + 48), p + 48)
            } else {
                store16(w, p); store16(x, p + 16); store16(y, p + 32); store16(z, p + 48)
            }
        }
        store(0, c00, c01, c02, c03); store(1, c10, c11, c12, c13); store(2, c20, c21, c22, c23)
        store(3, c30, c31, c32, c33); store(4, c40, c41, c42, c43); store(5, c50, c51, c52, c53)
    }
}

/// 6 x 16 in 12 SIMD8 accumulators: for CPUs without AVX-512.
enum InPlaceKernel6x16: InPlaceTileKernel {
    static var mr: Int { 6 }
    static var nr: Int { 16 }

    @inline(never)
    static func run(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD8<Float>
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var a0 = a, a3 = a + 3 &* lda
        let l1 = lda, l2 = 2 &* lda
        var off = offsets
        for _ in 0..<k {
            let p = b + off[0]
            let b0 = load8(p), b1 = load8(p + 8)
            var s = V(repeating: a0[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
            s = V(repeating: a0[l1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
            s = V(repeating: a0[l2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
            s = V(repeating: a3[0]); c30.addProduct(s, b0); c31.addProduct(s, b1)
            s = V(repeating: a3[l1]); c40.addProduct(s, b0); c41.addProduct(s, b1)
            s = V(repeating: a3[l2]); c50.addProduct(s, b0); c51.addProduct(s, b1)
            a0 += 1
            a3 += 1
            off += 1
        }
        @inline(__always) func store(_ row: Int, _ x: V, _ y: V) {
            let p = c + row &* ldc
            if accumulate {
                store8(x + load8(p), p); store8(y + load8(p + 8), p + 8)
            } else {
                store8(x, p); store8(y, p + 8)
            }
        }
        store(0, c00, c01); store(1, c10, c11); store(2, c20, c21); store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
    }
}

struct StridedInputGradient {
    let s: Conv2DGeometry
    /// How the phases are cut into register tiles.
    enum Tile {
        /// AVX-512: 8 channels of dx x 48 grid pixels (InPlaceKernel8x48), tile after tile
        /// of each phase's channels.
        case rows8x48
        /// Without AVX-512: 6 channels x 16 pixels.
        case rows6x16
        /// AVX-512, an image's 3 channels (groups 1): phases paired, 2 phases x 3 channels
        /// x 64 pixels (InPlaceKernel6x64).
        case imageChannels
    }
    let tile: Tile
    let mr: Int, nr: Int
    /// Zero padding of dy's grid (the most taps of any phase, minus one) and its size.
    let padTop: Int, padLeft: Int
    let gridHeight: Int, gridWidth: Int
    /// Floats of one image's grid (all output channels, with slack) and of its phase outputs.
    let gridCount: Int, phaseOutputCount: Int
    /// Input channels of one group, rounded up to whole tiles.
    let paddedChannels: Int
    /// One stride phase (a, b) with taps.
    struct Phase {
        /// The phase, its taps (ta x tb), and the taps it is computed with (`computedTaps`:
        /// more, with zero weights, where the image tiles pair it with a phase of more taps).
        let a: Int, b: Int, ta: Int, tb: Int
        let computedTaps: (rows: Int, columns: Int)
        /// Output rows and columns of its full correlation (`outH + ta - 1`, `outW + tb - 1`).
        let rows: Int, columns: Int
        /// Grid pixels computed (its computed rows times Wz, rounded up to a tile) and where its output starts.
        let pixels: Int, outputStart: Int
        /// Rows r = (o, t, t') of its virtual matrix (`og` x the computed taps) and their grid offsets.
        let k: Int
        /// Floats between the packed weight rows of two channels: k and 16 more, so that the
        /// tile's 8 rows are not a multiple of 4 KB apart (at k = 1024 all eight fell in one
        /// L1 set).
        var rowStride: Int { k + 16 }
        let offsets: [Int]
        /// Where its weights [groups][paddedChannels][k] start in the packed weights.
        let weightStart: Int
    }
    let phases: [Phase?]
    let packedWeightCount: Int
    /// With `imageChannels`: the index in `phases` of the first phase of each pair (the
    /// second follows it in the weights and outputs).
    let pairs: [Int]
    /// With `imageChannels` and an odd number of phases: where the 3 zero weight rows that
    /// stand in for the last phase's partner start.
    let ghostWeightStart: Int?

    var threadsOverride: Int? = nil

    /// Whether this path is the one to take: a stride above 1 in either direction, and at
    /// least 8 input channels per group, or, on AVX-512, an image's 3 channels (the
    /// `imageChannels` tiles). With 4-7 channels most rows of the 8-row tile would stay
    /// empty. Measured, one thread: 1.5-2.1x on CIFAR ResNet's strided layers, 1.3x on
    /// ResNet-50's 3x3 stride-2 128-channel one; the 1x1 stride-2 projection on 32
    /// channels is even.
    static func applies(to s: Conv2DGeometry) -> Bool {
        (s.strideHeight > 1 || s.strideWidth > 1) && (s.inChannelsPerGroup >= 8 || imageTiles(s))
    }

    /// Whether `g`'s gradient takes the `imageChannels` tiles: AVX-512, 3 input channels, groups 1.
    static func imageTiles(_ g: Conv2DGeometry) -> Bool {
        CPUFeatures.hasAVX512F && g.inChannels == 3 && g.groups == 1
    }

    /// The kernel of `g`, with `tile` (tests) or the one for `g` on this CPU.
    init(_ g: Conv2DGeometry, tile: Tile? = nil) {
        s = g
        self.tile = tile ?? (!CPUFeatures.hasAVX512F ? .rows6x16 : Self.imageTiles(g) ? .imageChannels : .rows8x48)
        switch self.tile {
        case .rows8x48: (mr, nr) = (InPlaceKernel8x48.mr, InPlaceKernel8x48.nr)
        case .rows6x16: (mr, nr) = (InPlaceKernel6x16.mr, InPlaceKernel6x16.nr)
        case .imageChannels: (mr, nr) = (3, InPlaceKernel6x64.nr)
        }
        precondition(self.tile != .imageChannels || (g.inChannels == 3 && g.groups == 1),
                     "StridedInputGradient: the image tiles need 3 input channels and groups 1")
        let (kh, kw, sh, sw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth)
        let maxTa = (kh + sh - 1) / sh, maxTb = (kw + sw - 1) / sw
        padTop = maxTa - 1
        padLeft = maxTb - 1
        gridHeight = g.outHeight + 2 * padTop
        gridWidth = g.outWidth + 2 * padLeft
        let plane = gridHeight * gridWidth
        gridCount = (g.outChannelsPerGroup * plane + gridWidth + nr + 16 + 15) / 16 * 16
        paddedChannels = (g.inChannelsPerGroup + mr - 1) / mr * mr
        // The phases with taps, then their places in the packed weights and the outputs, in
        // layout order: phase order, or for the image tiles by taps (most first), paired in
        // that order, each pair computed with the taps of both (a phase of 2 x 3 taps beside
        // one of 3 x 3 gets a row of zero weights); an odd one out is paired with zero weights.
        var shapes: [(a: Int, b: Int, ta: Int, tb: Int)] = []
        for a in 0..<sh {
            for b in 0..<sw {
                let ta = a < kh ? (kh - a + sh - 1) / sh : 0, tb = b < kw ? (kw - b + sw - 1) / sw : 0
                if ta > 0 && tb > 0 { shapes.append((a, b, ta, tb)) }
            }
        }
        let pairsUp = self.tile == .imageChannels
        if pairsUp { shapes.sort { ($0.ta, $0.tb, -($0.a * sw + $0.b)) > ($1.ta, $1.tb, -($1.a * sw + $1.b)) } }
        var phases = [Phase?](repeating: nil, count: sh * sw)
        var pairs: [Int] = []
        var ghostWeightStart: Int? = nil
        var outputStart = 0, weightStart = 0
        for (i, shape) in shapes.enumerated() {
            let (a, b, ta, tb) = shape
            var taps = (rows: ta, columns: tb)
            if pairsUp {
                let partner = shapes[i % 2 == 0 ? min(i + 1, shapes.count - 1) : i - 1]
                taps = (max(ta, partner.ta), max(tb, partner.tb))
                if i % 2 == 0 { pairs.append(a * sw + b) }
            }
            let pixels = ((g.outHeight + taps.rows - 1) * gridWidth + nr - 1) / nr * nr
            let k = g.outChannelsPerGroup * taps.rows * taps.columns
            var offsets = [Int](repeating: 0, count: k)
            for o in 0..<g.outChannelsPerGroup {
                for t in 0..<taps.rows {
                    for t2 in 0..<taps.columns {
                        offsets[(o * taps.rows + t) * taps.columns + t2] = o * plane + (padTop - t) * gridWidth + padLeft - t2
                    }
                }
            }
            phases[a * sw + b] = Phase(a: a, b: b, ta: ta, tb: tb, computedTaps: taps, rows: g.outHeight + ta - 1,
                                       columns: g.outWidth + tb - 1, pixels: pixels, outputStart: outputStart, k: k,
                                       offsets: offsets, weightStart: weightStart)
            outputStart += paddedChannels * pixels
            weightStart += g.groups * paddedChannels * (k + 16)
            if pairsUp && i == shapes.count - 1 && i % 2 == 0 {         // the odd one out's zero partner
                ghostWeightStart = weightStart
                outputStart += paddedChannels * pixels
                weightStart += paddedChannels * (k + 16)
            }
        }
        self.phases = phases
        self.pairs = pairs
        self.ghostWeightStart = ghostWeightStart
        phaseOutputCount = outputStart
        packedWeightCount = max(weightStart, 1)
    }

    /// Floats of one thread's workspace: dy's grid and the phase outputs of one image and group.
    var workspaceCount: Int { gridCount + phaseOutputCount + 16 }

    /// The weights of every phase, `[groups][paddedChannels][rowStride]` (rows past cg
    /// zero): W_ab[g][c][(o, t, t')] = w[g*og + o, c, a + sh*t, b + sw*t'].
    /// Output channel by output channel, reading each one's weights in order, spread over
    /// the threads for large weights: each tap (u, v) goes to the row of its phase
    /// (u mod sh, v mod sw) at (o, u / sh, v / sw). (Packing input channel by input channel
    /// instead read w at the stride of a whole filter; this order made ResNet's 128 -> 256
    /// stride-2 input gradient at batch 1 3% faster on one thread, 3.76-3.94 ms against
    /// 3.79-4.02 alternating, and was even on two.)
    func packWeights(_ w: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let (kh, kw, sh, sw) = (s.kernelHeight, s.kernelWidth, s.strideHeight, s.strideWidth)
        let (cg, og, taps) = (s.inChannelsPerGroup, s.outChannelsPerGroup, s.kernelHeight * s.kernelWidth)
        // Rows not written whole below: channels past cg, and phases computed with more taps than they have.
        for case let phase? in phases {
            let padded = phase.computedTaps != (phase.ta, phase.tb)
            for g in 0..<s.groups {
                for c in (padded ? 0 : cg)..<paddedChannels {
                    (dst + phase.weightStart + (g * paddedChannels + c) * phase.rowStride).update(repeating: 0, count: phase.k)
                }
            }
        }
        // Per tap (u, v): where its value for (g, c, o) goes, `start + (g * paddedChannels + c) * rowStride + o * perO`.
        var start = [Int](repeating: 0, count: taps), rowStride = start, perO = start
        for u in 0..<kh {
            for v in 0..<kw {
                let phase = phases[(u % sh) * sw + v % sw]!
                let (_, tb) = phase.computedTaps
                start[u * kw + v] = phase.weightStart + (u / sh) * tb + v / sw
                rowStride[u * kw + v] = phase.rowStride
                perO[u * kw + v] = phase.computedTaps.rows * tb
            }
        }
        start.withUnsafeBufferPointer { start in
            rowStride.withUnsafeBufferPointer { rowStride in
                perO.withUnsafeBufferPointer { perO in
                    let pack = { (item: Int) in
                        let (g, o) = item.quotientAndRemainder(dividingBy: og)
                        let src = w + (g * og + o) * cg * taps
                        for tap in 0..<taps {
                            let out = dst + start[tap] + g * paddedChannels * rowStride[tap] + o * perO[tap]
                            let stride = rowStride[tap]
                            for c in 0..<cg { out[c * stride] = src[c * taps + tap] }
                        }
                    }
                    let items = s.groups * og
                    if s.weightCount >= 1 << 16 { Parallelism.forEach(items, pack) } else { for item in 0..<items { pack(item) } }
                }
            }
        }
        // The odd phase's partner: its sums go to an output nobody reads, but from zeros, not
        // from whatever the workspace held (a NaN or a denormal there would slow the FMAs).
        if let ghostWeightStart { (dst + ghostWeightStart).update(repeating: 0, count: packedWeightCount - ghostWeightStart) }
    }

    /// Copies dy of image n, group g onto the zero-padded grid (only the padding is zeroed),
    /// spread over the threads when `parallel`.
    func buildGrid(dy: UnsafePointer<Float>, image n: Int, group g: Int, grid: UnsafeMutablePointer<Float>,
                   parallel: Bool = false) {
        let (outH, outW, og) = (s.outHeight, s.outWidth, s.outChannelsPerGroup)
        let (wz, plane) = (gridWidth, gridHeight * gridWidth)
        let copy = { (o: Int) in
            let src = dy + ((n * s.outChannels + g * og + o) * outH) * outW
            let dst = grid + o * plane
            dst.update(repeating: 0, count: padTop * wz + padLeft)                  // top rows, first left pad
            for i in 0..<outH {
                let row = dst + (padTop + i) * wz + padLeft
                var j = 0
                while j + 16 <= outW { store16(load16(src + i * outW + j), row + j); j += 16 }
                while j < outW { row[j] = src[i * outW + j]; j += 1 }
                // right pad of this row and left pad of the next (the last row's: bottom rows)
                (row + outW).update(repeating: 0, count: i + 1 < outH ? 2 * padLeft : wz - outW - padLeft)
            }
            (dst + (padTop + outH) * wz).update(repeating: 0, count: padTop * wz)    // bottom rows
        }
        if parallel { Parallelism.forEach(og, copy) } else { for o in 0..<og { copy(o) } }
        (grid + og * plane).update(repeating: 0, count: gridCount - og * plane)    // slack
    }

    /// Rows of the grid per depth block: `depthBlockFloats / nr` rows of one pixel chunk
    /// (24 KB with the 48-pixel tile), which stay in L1 while every channel tile uses them,
    /// instead of each tile reading the whole grid (about 1 MB at 256 output channels) from
    /// L2. With the padded weight rows: 4% faster on ResNet's 3x3/2 128 -> 256 input
    /// gradient at batch 1 (4.33 ms against 4.52-4.54, same binary otherwise).
    static let depthBlockFloats = 6144

    /// The tiles `tiles` (channel tile x pixel chunk, numbered per phase) of every phase of
    /// one image and group: `out` holds the phase outputs.
    /// With `pixelPart` (part, parts), only that share of each phase's pixel chunks.
    func computePhases(weights: UnsafePointer<Float>, group g: Int, grid: UnsafePointer<Float>,
                       out: UnsafeMutablePointer<Float>, channelTiles: Range<Int>, pixelPart: (Int, Int) = (0, 1)) {
        switch tile {
        case .rows8x48:
            computePhases(InPlaceKernel8x48.self, weights: weights, group: g, grid: grid, out: out, channelTiles: channelTiles,
                          pixelPart: pixelPart)
        case .rows6x16:
            computePhases(InPlaceKernel6x16.self, weights: weights, group: g, grid: grid, out: out, channelTiles: channelTiles,
                          pixelPart: pixelPart)
        case .imageChannels:
            computePairs(weights: weights, grid: grid, out: out, pixelPart: pixelPart)
        }
    }

    /// The first pixels of `part.part`'s share (of `part.parts`) of a phase's chunks of `width` pixels.
    private func pixelChunks(of phase: Phase, width: Int, part: (part: Int, parts: Int)) -> StrideTo<Int> {
        let chunks = phase.pixels / width
        return stride(from: chunks * part.part / part.parts * width, to: chunks * (part.part + 1) / part.parts * width,
                      by: width)
    }

    /// The image tiles: each pair of phases over its share of pixel chunks, the whole
    /// reduction in one call (one tile of rows: no depth block of the grid would be reused
    /// by another).
    private func computePairs(weights: UnsafePointer<Float>, grid: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                              pixelPart: (part: Int, parts: Int)) {
        for first in pairs {
            let phase = phases[first]!
            phase.offsets.withUnsafeBufferPointer { offsets in
                for p0 in pixelChunks(of: phase, width: nr, part: pixelPart) {
                    InPlaceKernel6x64.run(k: phase.k, a: weights + phase.weightStart, lda: phase.rowStride, b: grid + p0,
                                          offsets: offsets.baseAddress!, c: out + phase.outputStart + p0, ldc: phase.pixels,
                                          accumulate: false)
                }
            }
        }
    }

    @inline(__always)
    private func computePhases<K: InPlaceTileKernel>(_ kernel: K.Type, weights: UnsafePointer<Float>, group g: Int,
                                                     grid: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                                                     channelTiles: Range<Int>, pixelPart: (part: Int, parts: Int)) {
        for case let phase? in phases {
            phase.offsets.withUnsafeBufferPointer { offsets in
                let w = weights + phase.weightStart + g * paddedChannels * phase.rowStride
                let kcMax = DirectConvolution.depthBlock(lanes: K.nr, k: phase.k, floats: Self.depthBlockFloats)
                for p0 in pixelChunks(of: phase, width: K.nr, part: pixelPart) {
                    var r0 = 0
                    while r0 < phase.k {
                        let kc = min(kcMax, phase.k - r0)
                        for tile in channelTiles {
                            let c0 = tile * K.mr
                            K.run(k: kc, a: w + c0 * phase.rowStride + r0, lda: phase.rowStride, b: grid + p0,
                                  offsets: offsets.baseAddress! + r0, c: out + phase.outputStart + c0 * phase.pixels + p0,
                                  ldc: phase.pixels, accumulate: r0 > 0)
                        }
                        r0 += kc
                    }
                }
            }
        }
    }

    /// `dx[n, g*cg + c, p, q]` for c in `channels` = phase ((p+ph) mod sh, (q+pw) mod sw)
    /// at ((p+ph)/sh, (q+pw)/sw) of the phase outputs `out`, or 0 where it has no value.
    /// Only `rows` of dx when given.
    func scatter(_ out: UnsafePointer<Float>, image n: Int, group g: Int, channels: Range<Int>,
                 rows: Range<Int>? = nil, dx: UnsafeMutablePointer<Float>) {
        let (h, w, sh, sw, ph, pw) = (s.inHeight, s.inWidth, s.strideHeight, s.strideWidth, s.paddingHeight, s.paddingWidth)
        let cg = s.inChannelsPerGroup
        for c in channels {
            let dst = dx + (n * s.inChannels + g * cg + c) * h * w
            for p in rows ?? 0..<h {
                let (pp, a) = (p + ph).quotientAndRemainder(dividingBy: sh)
                let row = dst + p * w
                if sw == 2 || sw == 4 {
                    scatterInterleaved(out, channel: c, phaseRow: pp, phase: a, row: row)
                    continue
                }
                for b in 0..<sw {
                    let q0 = ((b - pw) % sw + sw) % sw              // the first column of phase b
                    guard q0 < w else { continue }
                    let count = (w - q0 + sw - 1) / sw
                    let qq0 = (q0 + pw) / sw
                    var filled = 0
                    if let phase = phases[a * sw + b], pp < phase.rows, qq0 < phase.columns {
                        let src = out + phase.outputStart + c * phase.pixels + pp * gridWidth + qq0
                        filled = min(count, phase.columns - qq0)
                        if sw == 1 {
                            (row + q0).update(from: src, count: filled)
                        } else {
                            for i in 0..<filled { row[q0 + i * sw] = src[i] }
                        }
                    }
                    for i in filled..<count { row[q0 + i * sw] = 0 }
                }
            }
        }
    }

    /// One row of dx with stride 2 or 4 across: column q comes from phase (a, (q + pw) mod
    /// sw), so `sw` phases are interleaved, sixteen columns of each at a time in registers
    /// (zeros for a phase without taps), the ragged end one value at a time.
    @inline(__always)
    private func scatterInterleaved(_ out: UnsafePointer<Float>, channel c: Int, phaseRow pp: Int, phase a: Int,
                                    row: UnsafeMutablePointer<Float>) {
        let (w, pw, sw) = (s.inWidth, s.paddingWidth, s.strideWidth)
        // For columns q = sw * i + e: the source run of phase ((e + pw) mod sw) and how much of it holds values.
        func source(_ e: Int) -> (UnsafePointer<Float>?, filled: Int) {
            guard e < sw else { return (nil, 0) }
            let b = (e + pw) % sw, qq0 = (e + pw) / sw
            guard let phase = phases[a * sw + b], pp < phase.rows, qq0 < phase.columns else { return (nil, 0) }
            return (out + phase.outputStart + c * phase.pixels + pp * gridWidth + qq0, phase.columns - qq0)
        }
        let sources = (source(0), source(1), source(2), source(3))
        @inline(__always)
        func at(_ e: Int) -> (UnsafePointer<Float>?, filled: Int) {
            switch e { case 0: sources.0; case 1: sources.1; case 2: sources.2; default: sources.3 }
        }
        var vectorEnd = w / sw
        for e in 0..<sw where at(e).0 != nil { vectorEnd = min(vectorEnd, at(e).filled) }
        @inline(__always)
        func load(_ e: Int, _ i: Int) -> SIMD16<Float> { at(e).0.map { load16($0 + i) } ?? SIMD16<Float>() }
        // Sixteen columns of each phase at a time, the last group shorter (a row of 16 at
        // stride 2 is one group of 8): its loads run past the phase's values into the
        // workspace (which has 16 floats of slack past the last phase), and only the
        // `sw * count` interleaved values that hold them are stored.
        var i = 0
        while i < vectorEnd {
            let count = min(16, vectorEnd - i), stored = sw * count
            if sw == 2 {
                let (lo, hi) = interleaveLanes(load(0, i), load(1, i))
                store16(lo, row + 2 * i, count: stored)
                if stored > 16 { store16(hi, row + 2 * i + 16, count: stored - 16) }
            } else {
                let (a0, a1) = interleaveLanes(load(0, i), load(2, i))
                let (b0, b1) = interleaveLanes(load(1, i), load(3, i))
                let (c0, c1) = interleaveLanes(a0, b0), (c2, c3) = interleaveLanes(a1, b1)
                store16(c0, row + 4 * i, count: stored)
                if stored > 16 { store16(c1, row + 4 * i + 16, count: stored - 16) }
                if stored > 32 { store16(c2, row + 4 * i + 32, count: stored - 32) }
                if stored > 48 { store16(c3, row + 4 * i + 48, count: stored - 48) }
            }
            i += count
        }
        for q in sw * i ..< w {
            let (i, e) = q.quotientAndRemainder(dividingBy: sw)
            let (source, filled) = at(e)
            row[q] = source != nil && i < filled ? source![i] : 0
        }
    }

    /// `dx` (overwritten) of `L = sum(y * dy)`.
    func inputGradient(weight: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let items = s.batch * s.groups
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        let tiles = paddedChannels / mr
        let wsCount = workspaceCount
        ConvWorkspaces.with(packedWeightCount) { weights in
            packWeights(weight, into: weights)
            let weights = UnsafePointer(weights)
            if threads <= 1 || items >= threads {
                let threads = max(1, min(threads, items))
                let body = { (t: Int) in
                    ConvWorkspaces.with(wsCount) { ws in
                        let (grid, out) = (ws, ws + gridCount)
                        for item in items * t / threads ..< items * (t + 1) / threads {
                            let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                            buildGrid(dy: dy, image: n, group: g, grid: grid)
                            computePhases(weights: weights, group: g, grid: grid, out: out, channelTiles: 0..<tiles)
                            scatter(out, image: n, group: g, channels: 0..<s.inChannelsPerGroup, dx: dx)
                        }
                    }
                }
                if threads == 1 { body(0) } else { Parallelism.run(threads, body) }
                return
            }
            // Fewer items than threads: one grid per item, its channel tiles split among the
            // threads, or with fewer tiles than threads (the image tiles: one), each phase's
            // pixel chunks, then dx's rows.
            ConvWorkspaces.with(wsCount) { ws in
                let (grid, out) = (ws, ws + gridCount)
                for item in 0..<items {
                    let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                    buildGrid(dy: dy, image: n, group: g, grid: grid, parallel: true)
                    if tiles < threads {
                        Parallelism.run(threads) { t in
                            computePhases(weights: weights, group: g, grid: grid, out: out, channelTiles: 0..<tiles,
                                          pixelPart: (t, threads))
                        }
                        Parallelism.run(threads) { t in
                            scatter(out, image: n, group: g, channels: 0..<s.inChannelsPerGroup,
                                    rows: s.inHeight * t / threads ..< s.inHeight * (t + 1) / threads, dx: dx)
                        }
                        continue
                    }
                    let used = min(threads, tiles)
                    Parallelism.run(used) { t in
                        let part = tiles * t / used ..< tiles * (t + 1) / used
                        computePhases(weights: weights, group: g, grid: grid, out: out, channelTiles: part)
                        let channels = min(part.lowerBound * mr, s.inChannelsPerGroup) ..< min(part.upperBound * mr, s.inChannelsPerGroup)
                        scatter(out, image: n, group: g, channels: channels, dx: dx)
                    }
                }
            }
        }
    }
}
