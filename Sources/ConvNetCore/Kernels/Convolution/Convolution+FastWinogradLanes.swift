// Winograd's F(2 x 2, 3 x 3) on NCHW tensors, sixteen tiles in the vector lanes: how
// training runs the 3 x 3 stride-1 convolutions of few channels on 16- and 32-pixel-wide
// maps (CIFAR ResNet's first two stages), and those of 48-64 channels on 8-wide maps (its
// third; see "Maps 8 wide" at the end of the file).
//
// The algorithm is the one of Convolution+FastWinograd.swift (Lavin and Gray, 2016): a
// 2 x 2 block of outputs of a 3 x 3 filter g from the 4 x 4 input patch d around it,
//
//     Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
//
// 16 multiply-adds per input channel where the direct kernel does 36. That file keeps 16
// CHANNELS in a vector (NCHW16c activations, inference). Training's tensors are NCHW, and
// CIFAR ResNet's first stage has 16 channels on 32 x 32 maps: copying them into and out
// of the blocked layout costs as much as Winograd saves there (measured: no gain). Here
// the lanes hold 16 TILES instead, the 16 tiles of one tile row of a 32-pixel-wide map
// (or of 32 columns of a wider one), or on a 16-wide map the 8 tiles of two tile rows
// (lanes 0-7 and 8-15; their input rows are 2 apart, their outputs 2 rows apart):
//
// * Input transform, read in place: the four rows of x under a tile row are loaded as two
//   vectors each; their even and odd columns (one two-source permute each) are the patch
//   columns 0 and 1 of the 16 tiles (columns 2j and 2j + 1), and the same shifted one lane
//   (the zero padding, or the neighbouring value, moved in) are columns -1 and 2. Rows
//   above and below the map are zeros: no padded copy of x is made. 32 additions give the
//   16 vectors V[ξ] of one channel (ξ the 16 positions of the 4 x 4 patch).
// * The 16 products, per position ξ a matrix product over the channels,
//   M[ξ][o] = Σ_c U[ξ][c][o] V[ξ][c]: a register tile of 8 output channels x 2 tile rows
//   (16 accumulators); per input channel it loads the two V vectors and broadcasts 8
//   values of U, 16 FMAs for 10 loads. U = G g Gᵀ is made once per call ([ξ][c][o], the
//   output channels padded to 8 with zeros).
// * Output transform: Aᵀ M A, 24 additions, gives each tile's 2 x 2 outputs as four
//   vectors; interleaving the two columns of a row gives 32 consecutive pixels of y, which
//   are stored straight into y's NCHW rows with the bias, residual and ReLU: no transpose.
//
// Work goes in bands of two vector rows per 32 columns: V for one band is 2 KB per input
// channel, M 16 KB per block of 8 output channels, both in L1/L2. Tile rows past the map
// (an odd height, or a band's second vector row below it) read zeros and store nothing.
// Threads take whole images (or, with fewer images than threads, bands). (Making all of
// an image's V first, channel by channel, so that each plane is read as one stream,
// measured even on ResNet-20's step: 344-366 ms against 354-369, alternating.)
//
// Where it runs (``WinogradLaneConvolution/applies(to:)``): AVX-512, a 3 x 3 kernel with
// stride 1 and padding 1, groups 1, a map 16 or a multiple of 32 wide, and at most 32
// input and output channels (the sizes it was measured on: ResNet-20's 16- and
// 32-channel stages; see BENCHMARKS.md), or a map 8 wide with at most 64 channels and
// C K > 16 (C + K) (forward and input gradient only). Training's forward pass and its input gradient
// (the convolution of dy by the turned kernel, the same geometry) take it, and its weight
// gradient where that pays (below). The results differ from the direct kernel's by
// rounding only: the transforms' coefficients are 0, ±1 and ±1/2 (the tests hold every
// output within 1e-5 of the naive kernel, relative to the largest).

/// F(2 x 2, 3 x 3) of one geometry with 16 tiles in the lanes; see the header.
struct WinogradLaneConvolution {
    let s: Conv2DGeometry
    /// Output channels padded to the register tile's 8.
    let paddedOut: Int
    /// Whether the map is 16 wide: a vector's 16 tiles are then two tile rows of 8 (lanes
    /// 0-7 and 8-15), the input rows under them 2 apart.
    let halves: Bool
    /// Rows of 16 tiles (tile rows, or pairs of them when `halves`), bands of two of them,
    /// and groups of 32 columns per row.
    let vectorRows: Int, bands: Int, groups: Int
    var threadsOverride: Int? = nil

    /// Output channels of the register tile, and vector rows of a band.
    static let tileChannels = 8, bandRows = 2

    init(_ g: Conv2DGeometry) {
        s = g
        paddedOut = (g.outChannels + 7) / 8 * 8
        halves = g.outWidth == 16
        let tileRows = (g.outHeight + 1) / 2
        vectorRows = halves ? (tileRows + 1) / 2 : tileRows
        bands = (vectorRows + 1) / 2
        groups = halves ? 1 : g.outWidth / 32
    }

    /// Whether this kernel runs `g`: see the header. `Fast.trainsByWinograd` turns it off.
    static func applies(to g: Conv2DGeometry) -> Bool {
        Fast.trainsByWinograd && CPUFeatures.hasAVX512F && g.groups == 1
            && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
            && g.paddingHeight == 1 && g.paddingWidth == 1
            && ((g.inWidth % 32 == 0 || g.inWidth == 16) && g.inChannels <= 32 && g.outChannels <= 32
                || g.inWidth == 8 && g.inChannels <= 64 && g.outChannels <= 64
                    && g.inChannels * g.outChannels > 16 * (g.inChannels + g.outChannels))
    }

    /// U[ξ][c][o] = (G g Gᵀ)[ξ] of filter (o, c), `filter(o, c, r, v)` its tap (r, v);
    /// output channels past `outChannels` zero.
    func transformedWeights(_ filter: (Int, Int, Int, Int) -> Double) -> [Float] {
        let (k, c) = (s.outChannels, s.inChannels)
        var u = [Float](repeating: 0, count: 16 * c * paddedOut)
        for o in 0..<k {
            for i in 0..<c {
                let t = winogradFilterTransform { r, v in filter(o, i, r, v) }
                for xi in 0..<16 { u[(xi * c + i) * paddedOut + o] = Float(t[xi]) }
            }
        }
        return u
    }

    /// Floats of one thread's workspace: V of a band (16 positions x C x 2 rows x 16
    /// lanes) and M of one block of output channels (16 x 8 x 2 x 16).
    var workspaceFloats: Int { 16 * s.inChannels * 32 + 16 * Self.tileChannels * 32 }

    /// `y = act(conv(x) + bias + residual)`, NCHW, `u` from ``transformedWeights(_:)``.
    func forward(x: UnsafePointer<Float>, u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                 epilogue: ConvEpilogue) {
        if quarters { return forwardQuarters(x: x, u: u, y: y, epilogue: epilogue) }
        let units = bands * groups
        let items = s.batch * units
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        threads = max(1, min(threads, items))
        // Whole images per thread when they split evenly enough, else runs of bands.
        let perImage = Parallelism.takesWholeItems(s.batch, threads: threads)
        Parallelism.run(threads) { t in
            ConvWorkspaces.with(workspaceFloats) { ws in
                let share = perImage
                    ? s.batch * t / threads * units ..< s.batch * (t + 1) / threads * units
                    : items * t / threads ..< items * (t + 1) / threads
                for item in share {
                    let (n, unit) = item.quotientAndRemainder(dividingBy: units)
                    let (band, group) = unit.quotientAndRemainder(dividingBy: groups)
                    run(image: n, band: band, group: group, x: x, u: u, y: y, epilogue: epilogue, ws: ws)
                }
            }
        }
    }

    /// One band (two vector rows of 16 tiles each) of image `n` and of column group `group`
    /// (32 columns), all output channels.
    private func run(image n: Int, band: Int, group: Int, x: UnsafePointer<Float>, u: UnsafePointer<Float>,
                     y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue, ws: UnsafeMutablePointer<Float>) {
        let (c, k, h, w) = (s.inChannels, s.outChannels, s.inHeight, s.inWidth)
        let plane = h * w
        let v = ws, m = ws + 16 * c * 32
        let tileRowsPerVector = halves ? 2 : 1
        /// The first tile row of vector row `row` of the band.
        func tileRow(_ row: Int) -> Int { (band * Self.bandRows + row) * tileRowsPerVector }
        // 1. V[ξ][c][row][16 tiles], vector rows 0 and 1 of the band.
        for ch in 0..<c {
            let xc = x + (n * c + ch) * plane + group * 32
            for row in 0..<Self.bandRows {
                let top = 2 * tileRow(row) - 1          // the first input row under the (first) tile row
                transformInputRow(xc, top: top, height: h, width: w, group: group, halves: halves,
                                  into: v + (ch * 2 + row) * 16, positionStride: c * 32)
            }
        }
        // 2. and 3. per block of 8 output channels: M, then Y into y.
        var o0 = 0
        while o0 < k {
            multiply(v: v, u: u + o0, channels: c, uStride: paddedOut, into: m)
            for o in o0..<min(o0 + Self.tileChannels, k) {
                let bias = epilogue.bias?[o] ?? 0
                let yo = (n * k + o) * plane + group * 32
                for row in 0..<Self.bandRows {
                    let outRow = 2 * tileRow(row)
                    guard outRow < h else { break }
                    transformOutput(m + ((o - o0) * 2 + row) * 16, positionStride: Self.tileChannels * 32,
                                    bias: bias, rows: h - outRow, halves: halves, y: y + yo + outRow * w,
                                    residual: epilogue.residual.map { $0 + yo + outRow * w }, rowFloats: w,
                                    relu: epilogue.relu)
                }
            }
            o0 += Self.tileChannels
        }
    }
}

/// Column j - 1 of 32 columns of a row as 16 lanes: `(first, v[0], ..., v[14])`.
@inline(__always)
private func shiftedUp(_ v: SIMD16<Float>, inserting first: Float) -> SIMD16<Float> {
    SIMD16(first, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14])
}

/// `(v[1], ..., v[15], last)`.
@inline(__always)
private func shiftedDown(_ v: SIMD16<Float>, appending last: Float) -> SIMD16<Float> {
    SIMD16(v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], last)
}

/// V = Bᵀ d B of one channel for the 16 tiles of one vector row, whose patches start at
/// input row `top` (rows outside 0..<height are zeros) and column 32 * group - 1; `xc`
/// points at column 32 * group of the channel's row 0. With `halves` (a map 16 wide),
/// lanes 8-15 are the next tile row, whose patches start at row `top + 2`. V[ξ] goes to
/// `v + ξ * positionStride`.
@inline(__always)
private func transformInputRow(_ xc: UnsafePointer<Float>, top: Int, height: Int, width: Int, group: Int, halves: Bool,
                               into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    typealias V = SIMD16<Float>
    @inline(__always)
    func row(_ r: Int) -> UnsafePointer<Float>? { r >= 0 && r < height ? xc + r * width : nil }
    /// The patch columns -1, 0, 1, 2 of input row `r` for the 16 tiles.
    @inline(__always)
    func columns(_ r: Int) -> (V, V, V, V) {
        if halves {
            // Rows r and r + 2, 16 columns each: their even and odd columns side by side,
            // shifted within each half with the zero padding moved in.
            let a = row(r).map { load16($0) } ?? V(), b = row(r + 2).map { load16($0) } ?? V()
            let even = evenLanes(a, b), odd = oddLanes(a, b)
            return (SIMD16(0, odd[0], odd[1], odd[2], odd[3], odd[4], odd[5], odd[6],
                           0, odd[8], odd[9], odd[10], odd[11], odd[12], odd[13], odd[14]), even, odd,
                    SIMD16(even[1], even[2], even[3], even[4], even[5], even[6], even[7], 0,
                           even[9], even[10], even[11], even[12], even[13], even[14], even[15], 0))
        }
        guard let p = row(r) else { return (V(), V(), V(), V()) }
        let a = load16(p), b = load16(p + 16)
        let even = evenLanes(a, b), odd = oddLanes(a, b)
        let before: Float = group > 0 ? p[-1] : 0
        let after: Float = 32 * (group + 1) < width ? p[32] : 0
        return (shiftedUp(odd, inserting: before), even, odd, shiftedDown(even, appending: after))
    }
    storeWinogradInputTransform((columns(top), columns(top + 1), columns(top + 2), columns(top + 3)),
                                into: v, positionStride: positionStride)
}

/// M[ξ][o][row] = Σ_c U[ξ][c][o] V[ξ][c][row] for 8 output channels (U at `u`, rows
/// `uStride` apart per channel, `channels * uStride` per position) and the band's two tile
/// rows: 16 accumulators, per channel two V loads and eight broadcasts. M goes to
/// `m[(ξ * 8 + o) * 32 + row * 16]`.
@inline(never)
private func multiply(v: UnsafePointer<Float>, u: UnsafePointer<Float>, channels: Int, uStride: Int,
                      into m: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    for xi in 0..<16 {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V()
        var vp = v + xi * channels * 32, up = u + xi * channels * uStride
        for _ in 0..<channels {
            let r0 = load16(vp), r1 = load16(vp + 16)
            var s = V(repeating: up[0]); a0.addProduct(s, r0); b0.addProduct(s, r1)
            s = V(repeating: up[1]); a1.addProduct(s, r0); b1.addProduct(s, r1)
            s = V(repeating: up[2]); a2.addProduct(s, r0); b2.addProduct(s, r1)
            s = V(repeating: up[3]); a3.addProduct(s, r0); b3.addProduct(s, r1)
            s = V(repeating: up[4]); a4.addProduct(s, r0); b4.addProduct(s, r1)
            s = V(repeating: up[5]); a5.addProduct(s, r0); b5.addProduct(s, r1)
            s = V(repeating: up[6]); a6.addProduct(s, r0); b6.addProduct(s, r1)
            s = V(repeating: up[7]); a7.addProduct(s, r0); b7.addProduct(s, r1)
            vp += 32
            up += uStride
        }
        let out = m + xi * 8 * 32
        store16(a0, out); store16(b0, out + 16); store16(a1, out + 32); store16(b1, out + 48)
        store16(a2, out + 64); store16(b2, out + 80); store16(a3, out + 96); store16(b3, out + 112)
        store16(a4, out + 128); store16(b4, out + 144); store16(a5, out + 160); store16(b5, out + 176)
        store16(a6, out + 192); store16(b6, out + 208); store16(a7, out + 224); store16(b7, out + 240)
    }
}

/// Y = Aᵀ M A for the 16 tiles of one vector row and one output channel (M[ξ] at
/// `m + ξ * positionStride`), + bias (+ residual), ReLU, stored at `y` (rows `rowFloats`
/// apart): 2 rows of 32 pixels, or with `halves` 2 rows of 16 pixels for lanes 0-7 and
/// the 2 rows below them for lanes 8-15; only the first `rows` rows (those inside the map).
@inline(__always)
private func transformOutput(_ m: UnsafePointer<Float>, positionStride: Int, bias: Float, rows: Int, halves: Bool,
                             y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, rowFloats: Int,
                             relu: Bool) {
    typealias V = SIMD16<Float>
    // Aᵀ M, column by column: rows m0 + m1 + m2, m1 - m2 - m3.
    @inline(__always)
    func column(_ j: Int) -> (V, V) {
        let m0 = load16(m + j * positionStride), m1 = load16(m + (4 + j) * positionStride)
        let m2 = load16(m + (8 + j) * positionStride), m3 = load16(m + (12 + j) * positionStride)
        return (m0 + m1 + m2, m1 - m2 - m3)
    }
    let f0 = column(0), f1 = column(1), f2 = column(2), f3 = column(3)
    let b = V(repeating: bias), zero = V()
    /// 16 pixels of output row `row`, with the epilogue.
    @inline(__always)
    func store(_ v: V, row: Int, column: Int) {
        var v = v
        if let residual { v += load16(residual + row * rowFloats + column) }
        if relu { v = v.replacing(with: zero, where: v .< zero) }
        store16(v, y + row * rowFloats + column)
    }
    @inline(__always)
    func put(_ row: Int, _ left: V, _ right: V) {
        // Columns 2j and 2j + 1 of the 16 tiles, interleaved: 32 consecutive pixels of one
        // row, or (halves) 16 of this tile row's and 16 of the next one's.
        let (lo, hi) = interleaveLanes(left + b, right + b)
        if halves {
            if row < rows { store(lo, row: row, column: 0) }
            if row + 2 < rows { store(hi, row: row + 2, column: 0) }
        } else if row < rows {
            store(lo, row: row, column: 0); store(hi, row: row, column: 16)
        }
    }
    // (Aᵀ M) A, row by row: columns f0 + f1 + f2, f1 - f2 - f3.
    put(0, f0.0 + f1.0 + f2.0, f1.0 - f2.0 - f3.0)
    put(1, f0.1 + f1.1 + f2.1, f1.1 - f2.1 - f3.1)
}

extension WinogradLaneConvolution {
    /// The forward convolution of training: `y = act(conv(x, weight) + bias + residual)`.
    static func forward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: Conv2DGeometry,
                        epilogue: ConvEpilogue, into y: UnsafeMutablePointer<Float>) {
        let conv = WinogradLaneConvolution(g)
        let c = g.inChannels
        let u = conv.transformedWeights { o, i, r, v in Double(weight[(o * c + i) * 9 + 3 * r + v]) }
        u.withUnsafeBufferPointer { conv.forward(x: x, u: $0.baseAddress!, y: y, epilogue: epilogue) }
    }

    /// The input gradient of the 3 x 3 stride-1 padding-1 convolution `s` (weights `weight`,
    /// `[O, C, 3, 3]`): the convolution of dy by the kernel turned 180 degrees with the
    /// channel axes swapped, `W'[c, o, r, v] = W[o, c, 2 - r, 2 - v]`.
    static func inputGradient(weight: UnsafePointer<Float>, dy: UnsafePointer<Float>, forward s: Conv2DGeometry,
                              into dx: UnsafeMutablePointer<Float>) {
        let conv = WinogradLaneConvolution(ImplicitGEMMConvolution.inputGradientGeometry(of: s))
        let c = s.inChannels
        let u = conv.transformedWeights { i, o, r, v in Double(weight[(o * c + i) * 9 + 3 * (2 - r) + (2 - v)]) }
        u.withUnsafeBufferPointer {
            conv.forward(x: dy, u: $0.baseAddress!, y: dx, epilogue: ConvEpilogue(bias: nil, residual: nil, relu: false))
        }
    }
}

// MARK: - The weight gradient

// The same algorithm turned around (Lavin and Gray, section 4): with M = U ⊙ V and
// Y = Aᵀ M A, the gradient of M is Z = A dY Aᵀ (a 2 x 2 block of dy spread over 4 x 4),
// and the weight gradient of filter (o, c) is
//
//     dW[o, c] = Gᵀ [ Σ_tiles Z[o] ⊙ V[c] ] G                   (3 x 3 from 4 x 4)
//
// V is the forward's input transform of x. Per position ξ the sum over the batch's tiles
// is a matrix product whose depth is the tiles: with 16 tiles in the lanes, a register
// tile of 4 output x 4 input channels keeps 16 vectors of partial sums (lane l the sum
// over the tiles in lane l), loading 4 vectors of Z and 4 of V per 16 FMAs. V and Z of a
// block of images (about 32 vector rows) are made first, so the partial sums, kept in
// memory between blocks, are read and written once per block, not once per tile row.
// At the end the lanes are added, in Double, and Gᵀ S G (coefficients 0, ±1/2, 1) made.

extension WinogradLaneConvolution {
    /// Whether the weight gradient of `g` (which ``applies(to:)``) runs here rather than
    /// directly: the transforms cost in proportion to C + K per tile, the products to C K,
    /// so it pays from C K >= 16 (C + K): ResNet-20's 32-channel layer at batch 128, one
    /// thread, 6.1-7.5 ms against the direct kernel's 7.6-7.9; its 16-channel one 8.8-10.0
    /// against 7.7-8.7 (alternating runs).
    static func weightGradientPays(for g: Conv2DGeometry) -> Bool {
        g.inWidth != 8 && g.inChannels * g.outChannels >= 16 * (g.inChannels + g.outChannels)
    }

    /// Input and output channels padded to the weight gradient's 4 x 4 register tile.
    var paddedChannels: (c: Int, k: Int) { ((s.inChannels + 3) / 4 * 4, (s.outChannels + 3) / 4 * 4) }
    /// Vector rows of one image (both band rows of every band, every group of columns).
    var imageVectorRows: Int { bands * Self.bandRows * groups }
    /// Images whose V and Z are made before the partial sums are updated: as many as keep
    /// V and Z within 512 KB (16 x 16 floats per vector row and channel), so that they
    /// are read back from L2 (one image of 16 channels on 32 x 32 maps, two of 32 on 16 x 16).
    var imagesPerBlock: Int {
        let (cp, kp) = paddedChannels
        return max(1, min(s.batch, (1 << 17) / (256 * (cp + kp)) / imageVectorRows))
    }

    /// `dw` (`[O, C, 3, 3]`, overwritten) of `L = sum(y * dy)` for the forward convolution `s`.
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>) {
        precondition(!quarters, "Winograd lanes: no weight gradient on 8-wide maps")
        let (cp, kp) = paddedChannels
        let rowsPerBlock = imagesPerBlock * imageVectorRows
        let vFloats = 16 * cp * rowsPerBlock * 16, zFloats = 16 * kp * rowsPerBlock * 16
        let sumFloats = 16 * kp * cp * 16
        let blocks = (s.batch + imagesPerBlock - 1) / imagesPerBlock
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        threads = max(1, min(threads, blocks))
        // Each thread's lane sums, added in Double at the end (in thread order).
        var totals = [Double](repeating: 0, count: 16 * kp * cp)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: threads * sumFloats)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: threads * sumFloats)
        Parallelism.run(threads) { t in
            ConvWorkspaces.with(vFloats + zFloats) { ws in
                let (v, z) = (ws, ws + vFloats)
                let sums = partials + t * sumFloats
                for block in blocks * t / threads ..< blocks * (t + 1) / threads {
                    let images = block * imagesPerBlock ..< min(s.batch, (block + 1) * imagesPerBlock)
                    let rows = images.count * imageVectorRows
                    transformBlock(images: images, x: x, dy: dy, v: v, z: z, rowStride: rowsPerBlock * 16)
                    accumulate(v: v, z: z, rows: rows, rowStride: rowsPerBlock * 16, into: sums)
                }
            }
        }
        for t in 0..<threads {
            let sums = partials + t * sumFloats
            for i in 0..<16 * kp * cp { totals[i] += Double(load16(sums + i * 16).sum()) }
        }
        // dW[o, c] = Gᵀ S G, S[ξ] = totals[(ξ * kp + o) * cp + c].
        let (k, c) = (s.outChannels, s.inChannels)
        for o in 0..<k {
            for i in 0..<c {
                func sum(_ r: Int, _ q: Int) -> Double { totals[((4 * r + q) * kp + o) * cp + i] }
                /// Gᵀ applied to four values: (a, b, d, e) -> (a + (b + d)/2, (b - d)/2, (b + d)/2 + e).
                func gt(_ a: Double, _ b: Double, _ d: Double, _ e: Double) -> (Double, Double, Double) {
                    (a + (b + d) / 2, (b - d) / 2, (b + d) / 2 + e)
                }
                // Gᵀ S (3 x 4), column by column, then (Gᵀ S) G, row by row.
                let c0 = gt(sum(0, 0), sum(1, 0), sum(2, 0), sum(3, 0)), c1 = gt(sum(0, 1), sum(1, 1), sum(2, 1), sum(3, 1))
                let c2 = gt(sum(0, 2), sum(1, 2), sum(2, 2), sum(3, 2)), c3 = gt(sum(0, 3), sum(1, 3), sum(2, 3), sum(3, 3))
                let rows = [gt(c0.0, c1.0, c2.0, c3.0), gt(c0.1, c1.1, c2.1, c3.1), gt(c0.2, c1.2, c2.2, c3.2)]
                let out = dw + (o * c + i) * 9
                for (r, row) in rows.enumerated() {
                    out[3 * r] = Float(row.0); out[3 * r + 1] = Float(row.1); out[3 * r + 2] = Float(row.2)
                }
            }
        }
    }

    /// V[ξ][c][row] (x) and Z[ξ][o][row] (dy) of `images`, rows numbered image after image,
    /// (band, band row, group) within one; padded channels are zeros. Channel after
    /// channel, each plane read top to bottom (one stream at a time: with every channel's
    /// rows of a band in turn, the 32 planes' streams missed in cache).
    private func transformBlock(images: Range<Int>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                v: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>, rowStride: Int) {
        let (c, k, h, w) = (s.inChannels, s.outChannels, s.inHeight, s.inWidth)
        let (cp, kp) = paddedChannels
        let plane = h * w, tileRowsPerVector = halves ? 2 : 1
        /// `body(r, top tile row, group)` for every vector row of image b of the block.
        @inline(__always)
        func forEachRow(_ b: Int, _ body: (Int, Int, Int) -> Void) {
            for band in 0..<bands {
                for row in 0..<Self.bandRows {
                    for group in 0..<groups {
                        body(((b * bands + band) * Self.bandRows + row) * groups + group,
                             (band * Self.bandRows + row) * tileRowsPerVector, group)
                    }
                }
            }
        }
        for (b, n) in images.enumerated() {
            for ch in 0..<cp {
                forEachRow(b) { r, tileRow, group in
                    let vr = v + ch * rowStride + r * 16
                    if ch >= c { for xi in 0..<16 { store16(SIMD16(), vr + xi * cp * rowStride) }; return }
                    transformInputRow(x + (n * c + ch) * plane + group * 32, top: 2 * tileRow - 1, height: h,
                                      width: w, group: group, halves: halves, into: vr, positionStride: cp * rowStride)
                }
            }
            for o in 0..<kp {
                forEachRow(b) { r, tileRow, group in
                    let zr = z + o * rowStride + r * 16
                    if o >= k { for xi in 0..<16 { store16(SIMD16(), zr + xi * kp * rowStride) }; return }
                    transformGradientRow(dy + (n * k + o) * plane + group * 32, top: 2 * tileRow, height: h,
                                         width: w, halves: halves, into: zr, positionStride: kp * rowStride)
                }
            }
        }
    }

    /// sums[ξ][o][c][16] += Σ_rows Z[ξ][o][row] ⊙ V[ξ][c][row], 4 x 4 channels at a time.
    private func accumulate(v: UnsafePointer<Float>, z: UnsafePointer<Float>, rows: Int, rowStride: Int,
                            into sums: UnsafeMutablePointer<Float>) {
        let (cp, kp) = paddedChannels
        for xi in 0..<16 {
            for o0 in stride(from: 0, to: kp, by: 4) {
                for c0 in stride(from: 0, to: cp, by: 4) {
                    accumulateTile(v: v + (xi * cp + c0) * rowStride, z: z + (xi * kp + o0) * rowStride, rows: rows,
                                   rowStride: rowStride, sums: sums + ((xi * kp + o0) * cp + c0) * 16, ldSums: cp * 16)
                }
            }
        }
    }
}

/// Z = A dy Aᵀ of one output channel for the 16 tiles of one vector row, whose 2 x 2
/// blocks of dy start at row `top` (rows at or past `height` are zeros; with `halves`,
/// lanes 8-15 start at row `top + 2`); `dyc` points at column 32 * group of the channel's
/// row 0. A = [1 0; 1 1; 1 -1; 0 -1]. Z[ξ] goes to `z + ξ * positionStride`.
@inline(__always)
private func transformGradientRow(_ dyc: UnsafePointer<Float>, top: Int, height: Int, width: Int, halves: Bool,
                                  into z: UnsafeMutablePointer<Float>, positionStride: Int) {
    typealias V = SIMD16<Float>
    @inline(__always)
    func load(_ r: Int, _ column: Int) -> V { r < height ? load16(dyc + r * width + column) : V() }
    /// Columns 2j and 2j + 1 of dy row `r` (and, with halves, of row r + 2 in lanes 8-15).
    @inline(__always)
    func columns(_ r: Int) -> (V, V) {
        let (a, b) = halves ? (load(r, 0), load(r + 2, 0)) : (load(r, 0), load(r, 16))
        return (evenLanes(a, b), oddLanes(a, b))
    }
    let d0 = columns(top), d1 = columns(top + 1)
    /// A applied to two values: (a, b) -> (a, a + b, a - b, -b).
    @inline(__always)
    func a4(_ a: V, _ b: V) -> (V, V, V, V) { (a, a + b, a - b, V() - b) }
    // A dy (4 x 2), column by column, then (A dy) Aᵀ, row by row.
    let q0 = a4(d0.0, d1.0), q1 = a4(d0.1, d1.1)
    @inline(__always)
    func put(_ i: Int, _ e0: V, _ e1: V) {
        let row = a4(e0, e1)
        store16(row.0, z + (4 * i) * positionStride); store16(row.1, z + (4 * i + 1) * positionStride)
        store16(row.2, z + (4 * i + 2) * positionStride); store16(row.3, z + (4 * i + 3) * positionStride)
    }
    put(0, q0.0, q1.0); put(1, q0.1, q1.1); put(2, q0.2, q1.2); put(3, q0.3, q1.3)
}

/// sums[o][c] (+)= Σ_r z[o][r] ⊙ v[c][r] for 4 x 4 channels (rows `rowStride` apart per
/// channel, vectors of 16 per r; sums rows `ldSums` apart, 16 floats per c): 16
/// accumulators, 8 loads per 16 FMAs.
@inline(never)
private func accumulateTile(v: UnsafePointer<Float>, z: UnsafePointer<Float>, rows: Int, rowStride: Int,
                            sums: UnsafeMutablePointer<Float>, ldSums: Int) {
    typealias V = SIMD16<Float>
    @inline(__always) func at(_ o: Int, _ c: Int) -> UnsafeMutablePointer<Float> { sums + o * ldSums + c * 16 }
    var a00 = load16(at(0, 0)), a01 = load16(at(0, 1)), a02 = load16(at(0, 2)), a03 = load16(at(0, 3))
    var a10 = load16(at(1, 0)), a11 = load16(at(1, 1)), a12 = load16(at(1, 2)), a13 = load16(at(1, 3))
    var a20 = load16(at(2, 0)), a21 = load16(at(2, 1)), a22 = load16(at(2, 2)), a23 = load16(at(2, 3))
    var a30 = load16(at(3, 0)), a31 = load16(at(3, 1)), a32 = load16(at(3, 2)), a33 = load16(at(3, 3))
    let (s1, s2, s3) = (rowStride, 2 * rowStride, 3 * rowStride)
    var vp = v, zp = z
    for _ in 0..<rows {
        let v0 = load16(vp), v1 = load16(vp + s1), v2 = load16(vp + s2), v3 = load16(vp + s3)
        var q = load16(zp)
        a00.addProduct(q, v0); a01.addProduct(q, v1); a02.addProduct(q, v2); a03.addProduct(q, v3)
        q = load16(zp + s1)
        a10.addProduct(q, v0); a11.addProduct(q, v1); a12.addProduct(q, v2); a13.addProduct(q, v3)
        q = load16(zp + s2)
        a20.addProduct(q, v0); a21.addProduct(q, v1); a22.addProduct(q, v2); a23.addProduct(q, v3)
        q = load16(zp + s3)
        a30.addProduct(q, v0); a31.addProduct(q, v1); a32.addProduct(q, v2); a33.addProduct(q, v3)
        vp += 16
        zp += 16
    }
    store16(a00, at(0, 0)); store16(a01, at(0, 1)); store16(a02, at(0, 2)); store16(a03, at(0, 3))
    store16(a10, at(1, 0)); store16(a11, at(1, 1)); store16(a12, at(1, 2)); store16(a13, at(1, 3))
    store16(a20, at(2, 0)); store16(a21, at(2, 1)); store16(a22, at(2, 2)); store16(a23, at(2, 3))
    store16(a30, at(3, 0)); store16(a31, at(3, 1)); store16(a32, at(3, 2)); store16(a33, at(3, 3))
}

// MARK: - Maps 8 wide: four tile rows in a vector

// On an 8-wide map a tile row has 4 tiles, so a vector holds four tile rows, lanes 4q to
// 4q + 3 the q-th (on an 8 x 8 map all 16 tiles of an image); their input rows are 2
// apart, and so are their outputs. A band's two vector rows are counted over the batch
// (two images of an 8 x 8 map). The products are the same `multiply`; the transforms
// read four rows of 8 into one vector and write 8 pixels of four rows. Only the forward
// pass and the input gradient run here, and only where the products outweigh the
// transforms more than at the weight gradient's threshold, C K > 16 (C + K): the plane
// kernel (Convolution+FastPlanes.swift) keeps the rest. ResNet-20's 64-channel input
// gradient at batch 128, one thread, alternating: 4.1-4.4 ms against the planes'
// 5.6-5.8; 48 channels 2.47-2.50 against 3.15-3.23; 32 channels (C K = 16 (C + K))
// even, 1.46-1.49 against 1.43-1.45. The weight gradient stays direct: an image is one
// vector row here, so a block of V and Z within L2 holds few rows and the partial sums
// are read and written every few of them (ResNet-20's 64-channel layer measured no
// faster, 6.2-9.1 ms against 6.6-7.2 over blocks of 4 to 64 rows). This path is kept
// apart from the 16- and 32-wide one: making that one's transforms take the number of
// tile rows a vector as a parameter slowed its 32-channel input gradient by 15%
// (4.5-4.8 ms against 3.7-4.1), even with one copy of the body per layout.

extension WinogradLaneConvolution {
    /// Whether the map is 8 wide: four tile rows in a vector.
    var quarters: Bool { s.outWidth == 8 }
    /// Vector rows of one image on an 8-wide map.
    var quarterRows: Int { ((s.outHeight + 1) / 2 + 3) / 4 }

    /// Whether it runs `g` (a forward convolution, or the turned one of an input gradient:
    /// C and K swapped, the same test) in place of the plane kernel: see above.
    static func replacesPlanes(for g: Conv2DGeometry) -> Bool {
        g.inWidth == 8 && applies(to: g)
    }

    private func forwardQuarters(x: UnsafePointer<Float>, u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                 epilogue: ConvEpilogue) {
        let items = (s.batch * quarterRows + 1) / 2
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        threads = max(1, min(threads, items))
        Parallelism.run(threads) { t in
            ConvWorkspaces.with(workspaceFloats) { ws in
                for band in items * t / threads ..< items * (t + 1) / threads {
                    runQuarters(band: band, x: x, u: u, y: y, epilogue: epilogue, ws: ws)
                }
            }
        }
    }

    /// Band `band`: vector rows 2 band and 2 band + 1 of the batch, all output channels.
    private func runQuarters(band: Int, x: UnsafePointer<Float>, u: UnsafePointer<Float>,
                             y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue, ws: UnsafeMutablePointer<Float>) {
        let (c, k, h) = (s.inChannels, s.outChannels, s.inHeight)
        let plane = h * 8
        let v = ws, m = ws + 16 * c * 32
        /// The image and first tile row of the band's vector row `row`, nil past the batch.
        func location(_ row: Int) -> (image: Int, tileRow: Int)? {
            let r = band * Self.bandRows + row
            guard r < s.batch * quarterRows else { return nil }
            let (n, q) = r.quotientAndRemainder(dividingBy: quarterRows)
            return (n, 4 * q)
        }
        let rows = (location(0), location(1))
        for ch in 0..<c {
            for row in 0..<Self.bandRows {
                let into = v + (ch * 2 + row) * 16
                guard let at = row == 0 ? rows.0 : rows.1 else {
                    for xi in 0..<16 { store16(SIMD16(), into + xi * c * 32) }
                    continue
                }
                transformQuarterInputRow(x + (at.image * c + ch) * plane, top: 2 * at.tileRow - 1, height: h,
                                         into: into, positionStride: c * 32)
            }
        }
        var o0 = 0
        while o0 < k {
            multiply(v: v, u: u + o0, channels: c, uStride: paddedOut, into: m)
            for o in o0..<min(o0 + Self.tileChannels, k) {
                let bias = epilogue.bias?[o] ?? 0
                for row in 0..<Self.bandRows {
                    guard let at = row == 0 ? rows.0 : rows.1 else { break }
                    let outRow = 2 * at.tileRow
                    let yo = (at.image * k + o) * plane + outRow * 8
                    transformQuarterOutput(m + ((o - o0) * 2 + row) * 16, positionStride: Self.tileChannels * 32,
                                           bias: bias, rows: h - outRow, y: y + yo,
                                           residual: epilogue.residual.map { $0 + yo }, relu: epilogue.relu)
                }
            }
            o0 += Self.tileChannels
        }
    }
}

/// V = Bᵀ d B of one channel of an 8-wide map (`xc` its plane) for the 16 tiles of four
/// tile rows, whose patches start at input rows `top`, `top + 2`, `top + 4`, `top + 6`
/// (rows outside 0..<height are zeros) and column -1. V[ξ] goes to `v + ξ * positionStride`.
@inline(__always)
private func transformQuarterInputRow(_ xc: UnsafePointer<Float>, top: Int, height: Int,
                                      into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    typealias V = SIMD16<Float>
    @inline(__always)
    func eight(_ r: Int) -> SIMD8<Float> { r >= 0 && r < height ? load8(xc + 8 * r) : SIMD8() }
    /// The patch columns -1, 0, 1, 2 of input row `r` and the rows 2, 4 and 6 below it.
    @inline(__always)
    func columns(_ r: Int) -> (V, V, V, V) {
        let a = V(lowHalf: eight(r), highHalf: eight(r + 2)), b = V(lowHalf: eight(r + 4), highHalf: eight(r + 6))
        let e = evenLanes(a, b), o = oddLanes(a, b)
        // Shifted one lane within each tile row, the zero padding moved in at its ends.
        return (SIMD16(0, o[0], o[1], o[2], 0, o[4], o[5], o[6], 0, o[8], o[9], o[10], 0, o[12], o[13], o[14]), e, o,
                SIMD16(e[1], e[2], e[3], 0, e[5], e[6], e[7], 0, e[9], e[10], e[11], 0, e[13], e[14], e[15], 0))
    }
    storeWinogradInputTransform((columns(top), columns(top + 1), columns(top + 2), columns(top + 3)),
                                into: v, positionStride: positionStride)
}

/// Y = Aᵀ M A for the 16 tiles of four tile rows of an 8-wide map and one output channel
/// (M[ξ] at `m + ξ * positionStride`), + bias (+ residual), ReLU: 8 pixels of output rows
/// 0, 1 (the first tile row), 2, 3, ..., 7 from `y`, only the first `rows` of them.
@inline(__always)
private func transformQuarterOutput(_ m: UnsafePointer<Float>, positionStride: Int, bias: Float, rows: Int,
                                    y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool) {
    typealias V = SIMD16<Float>
    @inline(__always)
    func column(_ j: Int) -> (V, V) {
        let m0 = load16(m + j * positionStride), m1 = load16(m + (4 + j) * positionStride)
        let m2 = load16(m + (8 + j) * positionStride), m3 = load16(m + (12 + j) * positionStride)
        return (m0 + m1 + m2, m1 - m2 - m3)
    }
    let f0 = column(0), f1 = column(1), f2 = column(2), f3 = column(3)
    let b = V(repeating: bias)
    /// Output row `row` of 8 pixels, with the epilogue.
    @inline(__always)
    func store(_ v: SIMD8<Float>, row: Int) {
        guard row < rows else { return }
        var v = v
        if let residual { v += load8(residual + 8 * row) }
        if relu { v = v.replacing(with: SIMD8(), where: v .< SIMD8()) }
        store8(v, y + 8 * row)
    }
    @inline(__always)
    func put(_ row: Int, _ left: V, _ right: V) {
        // Columns 2j and 2j + 1 interleaved: 8 pixels of each of the four tile rows.
        let (lo, hi) = interleaveLanes(left + b, right + b)
        store(lo.lowHalf, row: row); store(lo.highHalf, row: row + 2)
        store(hi.lowHalf, row: row + 4); store(hi.highHalf, row: row + 6)
    }
    put(0, f0.0 + f1.0 + f2.0, f1.0 - f2.0 - f3.0)
    put(1, f0.1 + f1.1 + f2.1, f1.1 - f2.1 - f3.1)
}
