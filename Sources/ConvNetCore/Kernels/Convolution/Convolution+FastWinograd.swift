import Foundation

// Winograd's minimal filtering, F(2 x 2, 3 x 3), on channel-blocked activations: how the
// 3 x 3 stride-1 convolutions of a ResNet's inference do 2.25 times fewer multiplications.
//
// Lavin and Gray ("Fast Algorithms for Convolutional Neural Networks", 2016) apply
// Winograd's algorithm for short correlations to convnets. A 2 x 2 block of outputs of a
// 3 x 3 filter g reads a 4 x 4 patch d of the input; directly that is 4 * 9 = 36
// multiplications, but
//
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A                       (⊙: elementwise, 4 x 4)
//
//          [1  0 -1  0]         [ 1    0    0 ]
//     Bᵀ = [0  1  1  0]     G = [1/2  1/2  1/2]     Aᵀ = [1  1  1  0]
//          [0 -1  1  0]         [1/2 -1/2  1/2]          [0  1 -1 -1]
//          [0  1  0 -1]         [ 0    0    1 ]
//
// does it with 16, and the transforms are only additions (and halvings, done once, on the
// weights). Over C input channels the elementwise product becomes a sum, which is what
// makes it a convolution algorithm: for each of the 16 positions ξ of the 4 x 4 patch,
//
//     M[ξ][tile][o] = Σ_c  V[ξ][tile][c] · U[ξ][c][o]      V = Bᵀ d B per (tile, c)
//                                                          U = G g Gᵀ per (c, o), once
//
// sixteen independent matrix products, (tiles x C) times (C x K), and then Y = Aᵀ M A per
// (tile, o). The products carry 16/36 of the direct convolution's multiply-adds; the
// transforms cost a few additions per input and output value, and moving V and M through
// the cache.
//
// The pieces here:
// - input transform: for each tile (2 x 2 outputs at row 2ti, column 2tj) and block of 16
//   channels, the 4 x 4 patch of 16-lane vectors starts at pixel (2ti - 1, 2tj - 1) of the
//   blocked input, whose zero border is the padding; 32 vector additions make V's 16
//   vectors, stored V[ξ][channel block][tile][16];
// - the products: for each ξ, `V[ξ]` is read as a 1 x 1 convolution's blocked input
//   whose "pixels" are the tiles (16 floats apart), and the direct kernel's register tiles
//   (Convolution+FastDirect.swift: 6 tiles x 64 output channels, one weight vector load
//   per 16 channels, one broadcast per tile) multiply it by U[ξ], packed once as that 1 x 1
//   convolution's weights, into M[ξ][output block][tile][16];
// - output transform: 16 vectors of M per tile and output block, 24 additions, bias,
//   residual and ReLU, four vectors stored straight into the blocked output.
//
// A chunk of tiles goes through all three steps before the next one, so that its V and M
// (16 (C + K) floats per tile) stay in L2: 1.5 MB per chunk, at most (196 tiles at 64
// channels, 48 at 256). Each chunk streams all of U (16 C K floats: 256 KB at 64
// channels, 4 MB at 256), so chunks are as large as that budget allows. Threads take
// whole images, or share one image's chunks, or, when U is the larger operand (ResNet's
// 14 x 14 and 7 x 7 stages at batch 1), its output channels: each thread then reads only
// its share of U.
//
// Where it runs: 3 x 3 kernels, stride 1, padding 1, groups 1, AVX-512 (the register
// tiles' condition). An odd output size has a last row and column of tiles half outside:
// their input patch is copied with zeros past the border, and only their inside outputs
// are stored (at 7 x 7, 16 tiles compute 64 outputs for 49). The results differ from the
// direct convolution's by rounding only: the transforms' coefficients are 0, ±1 and
// ±1/2, exact in binary, and their sums have a few terms (the tests hold it to 1e-5
// relative to the naive kernel). F(4 x 4, 3 x 3) would cut the multiplications to 1/4 of
// direct, but its transform coefficients (up to 8 and 1/24) lose more bits.

/// A 3 x 3 convolution's weights transformed and packed for
/// ``Fast/conv2dWinograd(_:weights:geometry:residual:relu:into:)``: for each of the 16
/// positions ξ, `U[ξ] = (G g Gᵀ)[ξ]` for every (output, input) channel pair, packed as a
/// 1 x 1 convolution's weights with input channels padded to blocks of 16. Build it once
/// per weight tensor and keep it; a model in inference mode keeps one per convolution.
public final class WinogradConvolutionWeights {
    public let outChannels: Int, inChannels: Int
    /// U[ξ] packed for the direct kernel's tiles, steps t = input channel (zeros past `inChannels`).
    let positions: [PackedConvolutionWeights]
    /// Bias per output channel, zero-padded to a multiple of 64 (zeros without a bias).
    let bias: [Float]

    /// Transforms `weight` (`[outChannels, inChannels, 3, 3]`) and packs it with `bias`.
    public init(weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry) {
        precondition(g.kernelHeight == 3 && g.kernelWidth == 3 && g.groups == 1,
                     "WinogradConvolutionWeights: needs a 3 x 3 kernel and groups 1, got \(g)")
        checkCount(weight.count, equals: g.weightCount, "weight \(g.weightShape)", in: "WinogradConvolutionWeights")
        if let bias { checkCount(bias.count, equals: g.outChannels, "bias [\(g.outChannels)]", in: "WinogradConvolutionWeights") }
        let (k, c) = (g.outChannels, g.inChannels)
        outChannels = k; inChannels = c
        // u[ξ][o][c] = (G g Gᵀ)[ξ] of filter (o, c), computed in Double.
        var u = [[Float]](repeating: [Float](repeating: 0, count: k * c), count: 16)
        for o in 0..<k {
            for i in 0..<c {
                let f = (o * c + i) * 9
                let t = winogradFilterTransform { r, v in Double(weight[f + 3 * r + v]) }
                for xi in 0..<16 { u[xi][o * c + i] = Float(t[xi]) }
            }
        }
        let product = Conv2DGeometry(batch: 1, inChannels: c, inHeight: 1, inWidth: 1, outChannels: k, kernel: (1, 1))
        let steps = (0..<(c + 15) / 16 * 16).map { $0 < c ? $0 : -1 }
        positions = u.map { PackedConvolutionWeights(weight: $0, geometry: product, steps: steps) }
        var padded = [Float](repeating: 0, count: (k + 63) / 64 * 64)
        if let bias { for o in 0..<k { padded[o] = bias[o] } }
        self.bias = padded
    }

    /// Whether these weights fit `geometry`.
    public func fits(_ g: Conv2DGeometry) -> Bool {
        g.outChannels == outChannels && g.inChannels == inChannels && g.kernelHeight == 3 && g.kernelWidth == 3
            && g.groups == 1
    }
}

/// F(2 x 2, 3 x 3) of one geometry on blocked activations; see the header.
struct WinogradConvolution {
    let s: Conv2DGeometry
    /// Tiles (2 x 2 outputs, the last row and column of tiles half outside an odd size)
    /// per row and per image.
    let tileColumns: Int, tiles: Int
    /// Input and output channels padded to blocks of 16.
    let inBlocks: Int, outBlocks: Int
    /// Chunks of the batch's tiles (numbered image after image), and the most tiles in
    /// one (V and M are laid out for that many).
    let chunks: Int, chunkTiles: Int
    let threads: Int
    /// Whether the threads share each chunk's output channels rather than the chunks;
    /// see `init`.
    let splitsChannels: Bool

    /// Floats of V and M per chunk budgeted to stay in L2 (1.5 MB).
    static let chunkFloats = 3 << 17

    /// Whether the Winograd kernel runs `g`: 3 x 3, stride 1, padding 1, groups 1, AVX-512.
    static func applies(to g: Conv2DGeometry) -> Bool {
        CPUFeatures.hasAVX512F && g.groups == 1 && g.kernelHeight == 3 && g.kernelWidth == 3
            && g.strideHeight == 1 && g.strideWidth == 1 && g.paddingHeight == 1 && g.paddingWidth == 1
    }

    /// Whether Winograd is faster than the direct kernel for `g` (which it must apply to):
    /// unless there are fewer than 32 tiles in the batch and U is larger than L2. U is 16/9
    /// the size of the direct kernel's weights and each of its floats serves one
    /// multiply-add per tile, so with few tiles it streams from memory: ResNet-18's 7 x 7
    /// stage at batch 1 (16 tiles, 16 MB of U per convolution) ran at 2.2 ms by Winograd
    /// and 2.07 by the direct kernel on one thread, 1.22 and 0.97 on two; at batch 2 (32
    /// tiles) Winograd took 3.25 ms to the direct kernel's 3.7.
    static func pays(for g: Conv2DGeometry) -> Bool {
        let tiles = g.batch * ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
        let (c, k) = ((g.inChannels + 15) / 16 * 16, (g.outChannels + 15) / 16 * 16)
        return tiles >= 32 || 16 * c * k * 4 <= 2 << 20
    }

    /// `threads`, `splitsChannels` and `tilesPerChunk` force the schedule in tests.
    init(_ g: Conv2DGeometry, threads: Int? = nil, splitsChannels: Bool? = nil, tilesPerChunk: Int? = nil) {
        s = g
        tileColumns = (g.outWidth + 1) / 2
        tiles = (g.outHeight + 1) / 2 * tileColumns
        inBlocks = (g.inChannels + 15) / 16
        outBlocks = (g.outChannels + 15) / 16
        var threads = threads ?? Parallelism.threadCount
        if g.macs < 1 << 21 { threads = min(threads, 1) }
        self.threads = threads
        let (c, k, total) = (inBlocks * 16, outBlocks * 16, g.batch * tiles)
        // Chunk size: every chunk reads all of U (16 C K floats), and each tile adds V and M
        // (16 (C + K) floats). A chunk's V and M fit L2 up to `chunkFloats`; past that they go
        // to L3 and back, 32 (C + K) floats per tile, which pays while U's share per tile is
        // larger: up to C K / (2 (C + K)) tiles (128 at 512 channels, 64 at 256).
        let inL2 = max(1, Self.chunkFloats / (16 * (c + k)))
        let size = tilesPerChunk ?? max(inL2, c * k / (2 * (c + k)))
        var chunks = (total + size - 1) / size
        // Threads split whichever operand is larger: the tiles (their V and M) or U. At
        // 14 x 14 and 256 channels, batch 1 (49 tiles, 4 MB of U), two threads taking half
        // the tiles each would both stream all of U; they take half the output channels.
        let channelBlocks = PackedConvolutionWeights.channelBlocks(g.outChannels).count
        self.splitsChannels = splitsChannels ?? (threads > 1 && channelBlocks >= threads && c * k > (c + k) * total)
        if threads > 1 && !self.splitsChannels {
            chunks = min(total, (chunks + threads - 1) / threads * threads)      // split evenly
        }
        self.chunks = chunks
        chunkTiles = (total + chunks - 1) / chunks
    }

    /// Floats of one thread's workspace (all threads' when they split channels): V, M and
    /// a 4 x 4 patch per thread for the tiles at an odd edge.
    var workspaceFloats: Int { 16 * 16 * (inBlocks + outBlocks) * chunkTiles + 256 * threads }

    /// Where one chunk's V and M are: `v[ξ][cb][tile][16]`, `m[ξ][ob][tile][16]`.
    struct Chunk {
        var first: Int, count: Int
        var v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>
        /// Room for thread t's edge patch at `patches + 256 t`.
        var patches: UnsafeMutablePointer<Float>
    }

    func chunk(_ c: Int, workspace: UnsafeMutablePointer<Float>) -> Chunk {
        let total = s.batch * tiles, first = total * c / chunks
        let v = workspace, m = v + 16 * inBlocks * chunkTiles * 16, patches = m + 16 * outBlocks * chunkTiles * 16
        return Chunk(first: first, count: total * (c + 1) / chunks - first, v: v, m: m, patches: patches)
    }

    /// Image, first output row and column of tile `tile` of the batch.
    @inline(__always)
    func place(_ tile: Int) -> (n: Int, i: Int, j: Int) {
        let (n, t) = tile.quotientAndRemainder(dividingBy: tiles)
        let (ti, tj) = t.quotientAndRemainder(dividingBy: tileColumns)
        return (n, 2 * ti, 2 * tj)
    }

    /// 1. V[ξ][cb][tile] = Bᵀ d B for items `items` of the chunk, item = cb * count + tile,
    /// on thread `thread`.
    func transformInputs(_ c: Chunk, items: Range<Int>, x: BlockedActivations, thread: Int = 0) {
        let vPosition = inBlocks * chunkTiles * 16
        let patch = c.patches + 256 * thread
        for item in items {
            let (cb, tile) = item.quotientAndRemainder(dividingBy: c.count)
            let (n, i, j) = place(c.first + tile)
            let v = c.v + (cb * chunkTiles + tile) * 16
            if i + 2 < s.inHeight + x.border && j + 2 < s.inWidth + x.border {
                transformInput(x.pixel(n, cb, i - 1, j - 1), rowFloats: x.rowFloats, into: v, positionStride: vPosition)
            } else {
                // A tile at the bottom or right of an odd size reaches past the border: its
                // patch, with zeros there, is copied first.
                for u in 0..<4 {
                    for w in 0..<4 {
                        let inside = i - 1 + u < s.inHeight + x.border && j - 1 + w < s.inWidth + x.border
                        let dst = patch + (u * 4 + w) * 16
                        if inside { dst.update(from: x.pixel(n, cb, i - 1 + u, j - 1 + w), count: 16) }
                        else { dst.update(repeating: 0, count: 16) }
                    }
                }
                transformInput(patch, rowFloats: 64, into: v, positionStride: vPosition)
            }
        }
    }

    /// 2. M[ξ] = V[ξ] U[ξ] for the output channels of packed blocks `blocks`: a 1 x 1
    /// convolution over the chunk's tiles per position.
    func multiply(_ c: Chunk, blocks: Range<Int>, weights: WinogradConvolutionWeights, offsets: UnsafePointer<Int>) {
        let vPosition = inBlocks * chunkTiles * 16, mPosition = outBlocks * chunkTiles * 16
        let k = inBlocks * 16
        for xi in 0..<16 {
            let packed = weights.positions[xi]
            for b in blocks {
                let (o0, lanes, w) = packed.block(b)
                let kcMax = DirectConvolution.depthBlock(lanes: lanes, k: k, floats: 12288)
                let maxWidth = maximumTileWidth(lanes: lanes)
                let widths = (c.count + maxWidth - 1) / maxWidth
                var t0 = 0
                while t0 < k {
                    let kc = min(kcMax, k - t0)
                    let out = TileOutput(base: c.m + xi * mPosition + o0 / 16 * chunkTiles * 16, pixelStride: 16,
                                         blockStride: chunkTiles * 16, accumulate: t0 > 0)
                    var j = 0
                    for piece in 0..<widths {
                        let width = c.count * (piece + 1) / widths - j
                        runDirectTile(lanes: lanes, width: width, kc: kc, x: c.v + xi * vPosition + j * 16, pixelStride: 16,
                                      offsets: offsets + t0, w: w + t0 * lanes, out: out.advanced(by: j))
                        j += width
                    }
                    t0 += kc
                }
            }
        }
    }

    /// 3. Y = Aᵀ M A with the epilogue, into y's output blocks `blocks`.
    func transformOutputs(_ c: Chunk, blocks: Range<Int>, bias: UnsafePointer<Float>, residual: BlockedActivations?,
                          relu: Bool, y: BlockedActivations) {
        let mPosition = outBlocks * chunkTiles * 16
        for ob in blocks {
            let b = load16(bias + ob * 16)
            for tile in 0..<c.count {
                let (n, i, j) = place(c.first + tile)
                let r = residual.map { UnsafePointer($0.pixel(n, ob, i, j)) }
                transformOutput(c.m + (ob * chunkTiles + tile) * 16, positionStride: mPosition, bias: b,
                                residual: r, residualRowFloats: residual?.rowFloats ?? 0, relu: relu,
                                into: y.pixel(n, ob, i, j), rowFloats: y.rowFloats,
                                rows: min(2, s.outHeight - i), columns: min(2, s.outWidth - j))
            }
        }
    }

    /// `y = act(conv(x) + bias + residual)`, x with a border of at least 1.
    func forward(_ x: BlockedActivations, weights: WinogradConvolutionWeights, residual: BlockedActivations?,
                 relu: Bool, into y: BlockedActivations) {
        // Step t of the products reads channel t of a tile: block t/16, lane t%16.
        let offsets = (0..<inBlocks * 16).map { ($0 / 16) * chunkTiles * 16 + $0 % 16 }
        let packedBlocks = weights.positions[0].blocks
        offsets.withUnsafeBufferPointer { offsets in
            weights.bias.withUnsafeBufferPointer { bias in
                let (offsets, bias) = (offsets.baseAddress!, bias.baseAddress!)
                if splitsChannels {
                    // Chunk by chunk: the threads transform a share of the input each, then
                    // (once all are done) multiply and transform back a share of the output blocks.
                    ConvWorkspaces.with(workspaceFloats) { ws in
                        for ci in 0..<chunks {
                            let c = chunk(ci, workspace: ws)
                            let items = inBlocks * c.count
                            Parallelism.run(threads) { t in
                                transformInputs(c, items: items * t / threads ..< items * (t + 1) / threads, x: x, thread: t)
                            }
                            Parallelism.run(threads) { t in
                                let mine = packedBlocks.count * t / threads ..< packedBlocks.count * (t + 1) / threads
                                guard let last = mine.last else { return }
                                multiply(c, blocks: mine, weights: weights, offsets: offsets)
                                let o0 = packedBlocks[mine.first!].channel / 16
                                let o1 = min(outBlocks, (packedBlocks[last].channel + packedBlocks[last].lanes) / 16)
                                transformOutputs(c, blocks: o0..<o1, bias: bias, residual: residual, relu: relu, y: y)
                            }
                        }
                    }
                    return
                }
                /// Chunks `range`, each through its three steps with all its channels, on this thread.
                func runChunks(_ range: Range<Int>) {
                    guard !range.isEmpty else { return }
                    ConvWorkspaces.with(workspaceFloats) { ws in
                        for ci in range {
                            let c = chunk(ci, workspace: ws)
                            transformInputs(c, items: 0..<inBlocks * c.count, x: x)
                            multiply(c, blocks: packedBlocks.indices, weights: weights, offsets: offsets)
                            transformOutputs(c, blocks: 0..<outBlocks, bias: bias, residual: residual, relu: relu, y: y)
                        }
                    }
                }
                if threads <= 1 { runChunks(0..<chunks); return }
                let parts = min(threads, chunks)
                Parallelism.run(parts) { t in runChunks(chunks * t / parts ..< chunks * (t + 1) / parts) }
            }
        }
    }
}

/// V = Bᵀ d B for one tile and 16 channels: d is the 4 x 4 patch of vectors at `p` (rows
/// `rowFloats` apart, pixels 16), V[ξ] goes to `v + ξ * positionStride`.
@inline(__always)
private func transformInput(_ p: UnsafePointer<Float>, rowFloats: Int, into v: UnsafeMutablePointer<Float>,
                            positionStride: Int) {
    @inline(__always)
    func row(_ i: Int) -> WinogradPatchRow {
        let r = p + i * rowFloats
        return (load16(r), load16(r + 16), load16(r + 32), load16(r + 48))
    }
    storeWinogradInputTransform((row(0), row(1), row(2), row(3)), into: v, positionStride: positionStride)
}

/// (G g Gᵀ) of one 3 x 3 filter (`tap(r, v)`), its 16 positions ξ = 4 * row + column, in
/// Double: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. Shared by both Winograd kernels;
/// a value, not an array, since training transforms every filter on every call.
func winogradFilterTransform(_ tap: (Int, Int) -> Double) -> SIMD16<Double> {
    /// G applied to three values: (a, b, d) -> (a, (a + b + d) / 2, (a - b + d) / 2, d).
    func g3(_ a: Double, _ b: Double, _ d: Double) -> (Double, Double, Double, Double) {
        (a, (a + b + d) / 2, (a - b + d) / 2, d)
    }
    // G g (4 x 3), column by column: G applied to each column v of the filter.
    let c0 = g3(tap(0, 0), tap(1, 0), tap(2, 0)), c1 = g3(tap(0, 1), tap(1, 1), tap(2, 1))
    let c2 = g3(tap(0, 2), tap(1, 2), tap(2, 2))
    // (G g) Gᵀ, row by row: G applied to each row r of G g.
    let r0 = g3(c0.0, c1.0, c2.0), r1 = g3(c0.1, c1.1, c2.1), r2 = g3(c0.2, c1.2, c2.2), r3 = g3(c0.3, c1.3, c2.3)
    return SIMD16(r0.0, r0.1, r0.2, r0.3, r1.0, r1.1, r1.2, r1.3, r2.0, r2.1, r2.2, r2.3, r3.0, r3.1, r3.2, r3.3)
}

/// One row of a 4 x 4 input patch, its four columns as vectors (of channels, or of tiles).
typealias WinogradPatchRow = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

/// V = Bᵀ d B of a 4 x 4 patch of vectors `d` (four rows of four columns), V[ξ] stored at
/// `v + ξ * positionStride`: 32 additions. Shared by both Winograd kernels (the lanes are
/// 16 channels in this file's, 16 tiles in Convolution+FastWinogradLanes.swift's).
@inline(__always)
func storeWinogradInputTransform(_ d: (WinogradPatchRow, WinogradPatchRow, WinogradPatchRow, WinogradPatchRow),
                                 into v: UnsafeMutablePointer<Float>, positionStride: Int) {
    typealias V = SIMD16<Float>
    // Bᵀ d, column by column: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3.
    @inline(__always)
    func bt(_ a: V, _ b: V, _ c: V, _ e: V) -> (V, V, V, V) { (a - c, b + c, c - b, b - e) }
    let (d0, d1, d2, d3) = d
    let e0 = bt(d0.0, d1.0, d2.0, d3.0), e1 = bt(d0.1, d1.1, d2.1, d3.1)
    let e2 = bt(d0.2, d1.2, d2.2, d3.2), e3 = bt(d0.3, d1.3, d2.3, d3.3)
    // (Bᵀ d) B, row by row: columns f0 - f2, f1 + f2, f2 - f1, f1 - f3.
    @inline(__always)
    func put(_ i: Int, _ f0: V, _ f1: V, _ f2: V, _ f3: V) {
        store16(f0 - f2, v + (4 * i) * positionStride)
        store16(f1 + f2, v + (4 * i + 1) * positionStride)
        store16(f2 - f1, v + (4 * i + 2) * positionStride)
        store16(f1 - f3, v + (4 * i + 3) * positionStride)
    }
    put(0, e0.0, e1.0, e2.0, e3.0)
    put(1, e0.1, e1.1, e2.1, e3.1)
    put(2, e0.2, e1.2, e2.2, e3.2)
    put(3, e0.3, e1.3, e2.3, e3.3)
}

/// Y = Aᵀ M A for one tile and 16 channels, + bias (+ residual), ReLU, stored as 2 x 2
/// pixels at `y` (rows `rowFloats` apart; only `rows` x `columns` of them at an odd
/// edge); M[ξ] is at `m + ξ * positionStride`.
@inline(__always)
private func transformOutput(_ m: UnsafePointer<Float>, positionStride: Int, bias: SIMD16<Float>,
                             residual: UnsafePointer<Float>?, residualRowFloats: Int, relu: Bool,
                             into y: UnsafeMutablePointer<Float>, rowFloats: Int, rows: Int, columns: Int) {
    // Aᵀ M, column by column: rows m0 + m1 + m2, m1 - m2 - m3.
    @inline(__always)
    func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        let m0 = load16(m + j * positionStride), m1 = load16(m + (4 + j) * positionStride)
        let m2 = load16(m + (8 + j) * positionStride), m3 = load16(m + (12 + j) * positionStride)
        return (m0 + m1 + m2, m1 - m2 - m3)
    }
    let f0 = column(0), f1 = column(1), f2 = column(2), f3 = column(3)
    @inline(__always)
    func put(_ v: SIMD16<Float>, _ i: Int, _ j: Int) {
        if i >= rows || j >= columns { return }          // past an odd edge
        var v = v + bias
        if let residual { v += load16(residual + i * residualRowFloats + j * 16) }
        if relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
        store16(v, y + i * rowFloats + j * 16)
    }
    // (Aᵀ M) A, row by row: columns f0 + f1 + f2, f1 - f2 - f3.
    put(f0.0 + f1.0 + f2.0, 0, 0); put(f1.0 - f2.0 - f3.0, 0, 1)
    put(f0.1 + f1.1 + f2.1, 1, 0); put(f1.1 - f2.1 - f3.1, 1, 1)
}

extension Fast {
    /// Whether blocked inference runs its 3 x 3 stride-1 convolutions with Winograd's
    /// F(2 x 2, 3 x 3) where it applies (true), or all with the direct kernel. `lesson
    /// bench --direct` sets it to false to time the direct kernels alone.
    nonisolated(unsafe) public static var usesWinograd = true

    /// Whether training's forward and input-gradient passes run the 3 x 3 stride-1
    /// convolutions of at most 32 channels on maps a multiple of 32 wide by Winograd's
    /// F(2 x 2, 3 x 3) with tiles in the lanes (Convolution+FastWinogradLanes.swift; true),
    /// or by the direct kernel. `lesson bench --direct` sets it to false.
    nonisolated(unsafe) public static var trainsByWinograd = true

    /// `y = act(conv(x) + bias + residual)` by Winograd's F(2 x 2, 3 x 3), x, y (and the
    /// residual) blocked: 3 x 3 kernel, stride 1, padding 1, groups 1
    /// (``WinogradConvolution/applies(to:)``); `x` has a border of at least 1.
    public static func conv2dWinograd(_ x: BlockedActivations, weights: WinogradConvolutionWeights,
                                      geometry g: Conv2DGeometry, residual: BlockedActivations? = nil, relu: Bool = false,
                                      into y: BlockedActivations) {
        conv2dWinograd(x, weights: weights, geometry: g, residual: residual, relu: relu, into: y, threads: nil)
    }

    static func conv2dWinograd(_ x: BlockedActivations, weights: WinogradConvolutionWeights, geometry g: Conv2DGeometry,
                               residual: BlockedActivations?, relu: Bool, into y: BlockedActivations, threads: Int?,
                               splitsChannels: Bool? = nil, tilesPerChunk: Int? = nil) {
        precondition(WinogradConvolution.applies(to: g),
                     "conv2dWinograd: needs AVX-512, a 3 x 3 kernel, stride 1, padding 1 and groups 1 (\(g))")
        precondition(weights.fits(g), "conv2dWinograd: weights transformed for another shape")
        precondition(x.shape == g.inputShape.dimensions, "conv2dWinograd: input \(x.shape), geometry wants \(g.inputShape.dimensions)")
        precondition(x.border >= 1, "conv2dWinograd: input border \(x.border) is less than the padding 1")
        precondition(y.shape == g.outputShape.dimensions, "conv2dWinograd: output \(y.shape), geometry gives \(g.outputShape.dimensions)")
        if let residual { precondition(residual.shape == y.shape, "conv2dWinograd: residual \(residual.shape), output \(y.shape)") }
        WinogradConvolution(g, threads: threads, splitsChannels: splitsChannels, tilesPerChunk: tilesPerChunk).forward(x, weights: weights, residual: residual, relu: relu, into: y)
    }
}
