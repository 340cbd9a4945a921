import Dispatch
import Foundation

// The direct convolution: output channels in the vector lanes, the input broadcast.
//
// The implicit GEMM (Convolution+FastImplicit.swift) puts output PIXELS in the vector
// lanes, so the input has to be copied into packed panels, 32 pixels wide, for every
// convolution: the copy is as large as the column matrix (kh*kw times the input), and it
// is shared only by the output channels of one group. With 64 or 32 output channels that
// copy is a tenth to a quarter of the time.
//
// Turn it around, as MLAS's NCHWc convolution and oneDNN's blocked kernels do: put 16
// OUTPUT CHANNELS in a vector and broadcast one input value into all lanes. A register
// tile is P output pixels x V vectors of 16 channels (P x V accumulators), and one step
// of the reduction over (c, u, v) is
//
//     load V weight vectors  W[o0 ..< o0+16V, c, u, v]            (packed once, below)
//     for each pixel p:  broadcast x[c, i*sh + u - ph, (j0+p)*sw + v - pw]
//                        and multiply-add it into the V accumulators of pixel p.
//
// A broadcast reads one float at any address, so the input needs no packing at all:
// with the phase planes of the implicit GEMM (the image padded and cut by stride phase),
// the P pixels of a tile within one output row sit at P consecutive addresses,
// planes + offset(c, u, v) + i*Wq + j0 + p. The only packed operand is the weight,
// [o-block][c, u, v][16V], which is small and, for inference, packed once and kept
// (``PackedConvolutionWeights``; ONNX Runtime also reorders its weights once, when the
// session is created).
//
// Tiles, for AVX-512's 32 zmm registers: V = 4 (64 channels) x P <= 6 pixels, or
// V = 2 x P <= 12, or V = 1 x P <= 16; 24 accumulators, V weight vectors and a broadcast.
// One step is V + P loads for V*P FMAs: 10 loads for 24 FMAs at V = 4 (two FMAs and two
// loads per cycle). A row of outW pixels is cut into tiles of nearly equal width (56 =
// 6x6 + 4x5, 7 = 4 + 3), never below 2 pixels where a row allows it: at one pixel the V
// accumulators would wait on the FMA latency. The tile widths are types, so each width
// compiles to its own kernel with exactly its accumulators. (On AVX-512 the
// loop of DirectTile64<Width6> is, in `objdump -d`: one offset load, 4 vmovups of weights, and
// 6 times a vbroadcastss from the input followed by 4 vfmadd231ps on zmm registers; no
// spills.)
//
// Blocking. The reduction k = cg*kh*kw is cut into depth blocks of 16 KiB of weights
// (KC x 16V floats: 64 steps at 64 channels), which stay in L1 while every tile of a
// chunk of output rows (about 256 pixels) uses them; the chunk's partial sums,
// [pixels][16V], are accumulated block after block (in L2: 64 KiB at 64 channels). When
// the chunk is complete it is transposed, 16 x 16 in registers, into y's NCHW rows, with
// the epilogue (bias, residual, ReLU) applied on the way: one pass over y. (Measured on
// ResNet-18's layers: 3-8% faster than 32 KiB blocks with 64-pixel chunks whose sums stay
// in L1: the weights, reloaded from L2 for every chunk, are the scarcer traffic.)
//
// Threads take whole images when there are enough; otherwise one image's phase planes
// are built once (channels split among the threads) and the (channel block, row chunk)
// pieces of its output are shared out.
//
// Only on CPUs with AVX-512 (24 SIMD16 accumulators are 48 registers on AVX2 or NEON,
// which would spill); elsewhere the implicit GEMM runs.

// MARK: - Packed weights

/// The weights of a convolution packed for the direct kernel: for each group, output
/// channel blocks of 64, 32 or 16 channels (`lanes`), each stored `[k][lanes]` with
/// k = (c, u, v) = `inChannelsPerGroup * kh * kw` and zeros in lanes past the group's
/// channels. Build it once per weight tensor and pass it to
/// ``Fast/conv2d(_:packedWeight:bias:geometry:residual:relu:into:)``: a model in
/// inference mode keeps one per convolution, as ONNX Runtime reorders its weights once.
public final class PackedConvolutionWeights {
    /// The shape the weights were packed for.
    public let outChannels: Int, inChannelsPerGroup: Int, kernelHeight: Int, kernelWidth: Int, groups: Int
    /// Per group: the channel blocks, as (first channel within the group, lanes 16/32/64).
    let blocks: [(channel: Int, lanes: Int)]
    /// Float offset of each block within a group's packed data.
    let blockOffsets: [Int]
    let groupFloats: Int
    let k: Int
    let storage: UnsafeMutablePointer<Float>
    /// The same weights packed for a blocked input, made on first use (``forBlockedInput(_:geometry:)``).
    private var blockedInputPacking: PackedConvolutionWeights?
    private let blockedInputLock = NSLock()

    /// Channel blocks for `og` channels: 64s, then 32 and/or 16 (the last zero-padded).
    static func channelBlocks(_ og: Int) -> [(channel: Int, lanes: Int)] {
        var blocks: [(channel: Int, lanes: Int)] = []
        var c = 0
        while og - c > 48 { blocks.append((c, 64)); c += 64 }
        let rest = og - c
        if rest > 32 { blocks.append((c, 32)); blocks.append((c + 32, 16)) }
        else if rest > 16 { blocks.append((c, 32)) }
        else if rest > 0 { blocks.append((c, 16)) }
        return blocks
    }

    /// Packs `weight` (`[outChannels, inChannels/groups, kh, kw]`) for `geometry`.
    public convenience init(weight: UnsafeBufferPointer<Float>, geometry: Conv2DGeometry) {
        checkCount(weight.count, equals: geometry.weightCount, "weight \(geometry.weightShape)", in: "PackedConvolutionWeights")
        self.init(weight.baseAddress!, geometry: geometry)
    }

    /// Packs `weight` (`[outChannels, inChannels/groups, kh, kw]`) for `geometry`.
    public convenience init(weight: [Float], geometry: Conv2DGeometry) {
        checkCount(weight.count, equals: geometry.weightCount, "weight \(geometry.weightShape)", in: "PackedConvolutionWeights")
        self.init(layoutFor: geometry)
        weight.withUnsafeBufferPointer { pack($0.baseAddress!, geometry: geometry) }
    }

    convenience init(_ weight: UnsafePointer<Float>, geometry g: Conv2DGeometry) {
        self.init(layoutFor: g)
        pack(weight, geometry: g)
    }

    /// The weights of ``ImplicitGEMMConvolution/inputGradientGeometry(of:)`` packed straight
    /// from the forward weights `weight` of `s`, turned by 180 degrees with the channel axes
    /// swapped (`W'[c, o, t'] = W[o, c, taps-1-t']`), without writing the turned copy first.
    static func turned(_ weight: UnsafePointer<Float>, forward s: Conv2DGeometry) -> PackedConvolutionWeights {
        let (cg, og, taps) = (s.inChannelsPerGroup, s.outChannelsPerGroup, s.kernelHeight * s.kernelWidth)
        // Step t' = (o, tt) of output channel c reads W[o, c, taps-1-tt] = c*taps + o*cg*taps + taps-1-tt.
        var steps = [Int](repeating: 0, count: og * taps)
        for o in 0..<og {
            for tt in 0..<taps { steps[o * taps + tt] = o * cg * taps + taps - 1 - tt }
        }
        let g = ImplicitGEMMConvolution.inputGradientGeometry(of: s)
        let packed = PackedConvolutionWeights(layoutFor: g)
        packed.pack(weight, geometry: g, channelStride: taps, groupStride: og * cg * taps, steps: steps)
        return packed
    }

    /// Packs `weight` (`[outChannels, inChannels/groups, kh, kw]`, groups 1) in the step
    /// order `steps`: step t of output channel o is `weight[o, steps[t]]` (flat index within
    /// the channel's weights), or zero where `steps[t]` is -1.
    convenience init(weight: [Float], geometry g: Conv2DGeometry, steps: [Int]) {
        precondition(g.groups == 1, "PackedConvolutionWeights: steps need groups 1")
        checkCount(weight.count, equals: g.weightCount, "weight \(g.weightShape)", in: "PackedConvolutionWeights")
        self.init(layoutFor: g, steps: steps.count)
        let perChannel = g.inChannelsPerGroup * g.kernelHeight * g.kernelWidth
        weight.withUnsafeBufferPointer {
            pack($0.baseAddress!, geometry: g, channelStride: perChannel, groupStride: g.outChannels * perChannel, steps: steps)
        }
    }

    /// These weights (`weight` as given to the initializer) packed in the step order of a
    /// blocked input (``BlockedConvolutionWeights/blockedInputSteps(_:)``), kept after the
    /// first call.
    func forBlockedInput(_ weight: UnsafePointer<Float>, geometry g: Conv2DGeometry) -> PackedConvolutionWeights {
        blockedInputLock.lock()
        defer { blockedInputLock.unlock() }
        if let blockedInputPacking { return blockedInputPacking }
        let steps = BlockedConvolutionWeights.blockedInputSteps(g)
        let packed = PackedConvolutionWeights(layoutFor: g, steps: steps.count)
        packed.pack(weight, geometry: g, channelStride: k, groupStride: g.outChannels * k, steps: steps)
        blockedInputPacking = packed
        return packed
    }

    /// The blocks and storage for `g`'s weights (`steps` steps per output channel, by
    /// default `inChannelsPerGroup * kh * kw`), not yet written.
    init(layoutFor g: Conv2DGeometry, steps: Int? = nil) {
        outChannels = g.outChannels
        inChannelsPerGroup = g.inChannelsPerGroup
        kernelHeight = g.kernelHeight
        kernelWidth = g.kernelWidth
        groups = g.groups
        k = steps ?? g.inChannelsPerGroup * g.kernelHeight * g.kernelWidth
        blocks = Self.channelBlocks(g.outChannelsPerGroup)
        var offsets: [Int] = []
        var total = 0
        for b in blocks { offsets.append(total); total += b.lanes * k }
        blockOffsets = offsets
        groupFloats = total
        let count = max(16, total * g.groups)
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    /// Packs `weight` as laid out in memory: `[outChannels, inChannels/groups, kh, kw]`.
    private func pack(_ weight: UnsafePointer<Float>, geometry g: Conv2DGeometry) {
        pack(weight, geometry: g, channelStride: k, groupStride: g.outChannelsPerGroup * k, steps: Array(0..<k))
    }

    /// Packs the weights where output channel o (within group `group`), step t of the
    /// reduction, is `weight[group*groupStride + o*channelStride + steps[t]]` (zero where
    /// `steps[t]` is negative).
    private func pack(_ weight: UnsafePointer<Float>, geometry g: Conv2DGeometry, channelStride: Int, groupStride: Int,
                      steps: [Int]) {
        let (og, k) = (g.outChannelsPerGroup, self.k)
        precondition(steps.count == k, "PackedConvolutionWeights: \(steps.count) steps for k = \(k)")
        let (blocks, offsets, storage, groupFloats) = (self.blocks, blockOffsets, self.storage, self.groupFloats)
        // dst[t*lanes + l] = W(c0 + l, t), written in order: the reads walk `lanes` weight
        // rows side by side, each line of each row used for several steps of t (writing one
        // row at a time instead would touch a new cache line of dst on every write).
        let body = { (piece: Int) in
            let (group, b) = piece.quotientAndRemainder(dividingBy: blocks.count)
            let (c0, lanes) = blocks[b]
            let dst = storage + group * groupFloats + offsets[b]
            let rows = min(lanes, og - c0)
            let src = weight + group * groupStride + c0 * channelStride
            dst.update(repeating: 0, count: k * lanes)
            steps.withUnsafeBufferPointer { steps in
                for t in 0..<k {
                    if steps[t] < 0 { continue }      // dst is zeroed
                    let d = dst + t &* lanes, s = src + steps[t]
                    for l in 0..<rows { d[l] = s[l &* channelStride] }
                }
            }
        }
        let pieces = g.groups * blocks.count
        if g.weightCount >= 1 << 16 {
            Parallelism.forEach(pieces, body)
        } else {
            for piece in 0..<pieces { body(piece) }
        }
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }

    /// Channel block b of group g: its first channel within the group, its lanes, and its
    /// packed weights, `[k][lanes]`.
    func block(_ b: Int, group g: Int = 0) -> (channel: Int, lanes: Int, weights: UnsafePointer<Float>) {
        (blocks[b].channel, blocks[b].lanes, UnsafePointer(storage + g * groupFloats + blockOffsets[b]))
    }

    /// Whether these weights were packed for `geometry`'s weight shape.
    public func fits(_ geometry: Conv2DGeometry) -> Bool {
        outChannels == geometry.outChannels && inChannelsPerGroup == geometry.inChannelsPerGroup
            && kernelHeight == geometry.kernelHeight && kernelWidth == geometry.kernelWidth && groups == geometry.groups
    }
}

// MARK: - Register tiles

// Each tile: acc[p][0 ..< 16V] (+)= sum_t w[t][0 ..< 16V] * x[offsets[t] + p], for
// p < P, over t < kc; `acc` rows are 16V floats apart. The width is a type (Width1 ...
// Width16), so the compiler specializes one kernel per width with only its accumulators
// (the `if P.value > n` tests vanish at compile time). (Value generics, `<let P: Int>`,
// would say it more directly, but need a macOS 26 runtime.)

/// Where a register tile's sums go: the 16-lane vector of pixel p and channel block l
/// (16 channels) at `base + p * pixelStride + l * blockStride`, added to what is there
/// when `accumulate`; on the last depth block, the epilogue on the way: + bias (16 lanes
/// per block, `bias + 16 l`), + residual (at `residual + p * residualPixelStride + l *
/// residualBlockStride`), then ReLU. The stores run once per tile call, after its whole
/// reduction, so these runtime strides and tests cost nothing in the loop.
struct TileOutput {
    var base: UnsafeMutablePointer<Float>
    var pixelStride: Int
    var blockStride: Int
    var accumulate: Bool
    var bias: UnsafePointer<Float>? = nil
    var residual: UnsafePointer<Float>? = nil
    var residualPixelStride = 0
    var residualBlockStride = 0
    var relu = false

    /// Sums `[pixels][lanes]`, rows `lanes` floats apart, no epilogue.
    init(sums: UnsafeMutablePointer<Float>, lanes: Int, accumulate: Bool) {
        base = sums; pixelStride = lanes; blockStride = 16; self.accumulate = accumulate
    }

    init(base: UnsafeMutablePointer<Float>, pixelStride: Int, blockStride: Int, accumulate: Bool) {
        self.base = base; self.pixelStride = pixelStride; self.blockStride = blockStride; self.accumulate = accumulate
    }

    /// The same output `pixels` pixels further along the row.
    @inline(__always)
    func advanced(by pixels: Int) -> TileOutput {
        var o = self
        o.base += pixels &* pixelStride
        o.residual = residual.map { $0 + pixels &* residualPixelStride }
        return o
    }

    /// How a tile's sums are stored, decided once per tile call (not per vector): over
    /// what is there, added to it, or added with the epilogue.
    enum Mode { case write, add, epilogue }

    var mode: Mode {
        if bias != nil || residual != nil || relu { return .epilogue }
        return accumulate ? .add : .write
    }

    @inline(__always)
    func store(_ v: SIMD16<Float>, pixel p: Int, block l: Int, _ mode: Mode) {
        let r = base + p &* pixelStride + l &* blockStride
        switch mode {
        case .write: store16(v, r)
        case .add: store16(v + load16(r), r)
        case .epilogue:
            var v = v
            if accumulate { v += load16(r) }
            if let bias { v += load16(bias + 16 &* l) }
            if let residual { v += load16(residual + p &* residualPixelStride + l &* residualBlockStride) }
            if relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
            store16(v, r)
        }
    }
}

/// A tile width known at compile time.
protocol TileWidth { static var value: Int { get } }
enum Width1: TileWidth { static var value: Int { 1 } }
enum Width2: TileWidth { static var value: Int { 2 } }
enum Width3: TileWidth { static var value: Int { 3 } }
enum Width4: TileWidth { static var value: Int { 4 } }
enum Width5: TileWidth { static var value: Int { 5 } }
enum Width6: TileWidth { static var value: Int { 6 } }
enum Width7: TileWidth { static var value: Int { 7 } }
enum Width8: TileWidth { static var value: Int { 8 } }
enum Width9: TileWidth { static var value: Int { 9 } }
enum Width10: TileWidth { static var value: Int { 10 } }
enum Width11: TileWidth { static var value: Int { 11 } }
enum Width12: TileWidth { static var value: Int { 12 } }
enum Width13: TileWidth { static var value: Int { 13 } }
enum Width14: TileWidth { static var value: Int { 14 } }
enum Width15: TileWidth { static var value: Int { 15 } }
enum Width16: TileWidth { static var value: Int { 16 } }

/// 64 channels x P <= 6 pixels: 24 accumulators.
enum DirectTile64<P: TileWidth> {
    @inline(never)
    static func run(kc: Int, x: UnsafePointer<Float>, pixelStride ps: Int, offsets: UnsafePointer<Int>,
                    w: UnsafePointer<Float>, out: TileOutput) {
        let out = out       // a local copy: its fields stay in registers across the stores
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c02 = SIMD16<Float>(), c03 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>(), c12 = SIMD16<Float>(), c13 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c22 = SIMD16<Float>(), c23 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>(), c32 = SIMD16<Float>(), c33 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c42 = SIMD16<Float>(), c43 = SIMD16<Float>()
        var c50 = SIMD16<Float>(), c51 = SIMD16<Float>(), c52 = SIMD16<Float>(), c53 = SIMD16<Float>()
        var w = w
        for t in 0..<kc {
            let xp = x + offsets[t]
            let w0 = load16(w), w1 = load16(w + 16), w2 = load16(w + 32), w3 = load16(w + 48)
            var b = SIMD16<Float>(repeating: xp[0])
            c00.addProduct(b, w0); c01.addProduct(b, w1); c02.addProduct(b, w2); c03.addProduct(b, w3)
            if P.value > 1 {
                b = SIMD16<Float>(repeating: xp[1 &* ps])
                c10.addProduct(b, w0); c11.addProduct(b, w1); c12.addProduct(b, w2); c13.addProduct(b, w3)
            }
            if P.value > 2 {
                b = SIMD16<Float>(repeating: xp[2 &* ps])
                c20.addProduct(b, w0); c21.addProduct(b, w1); c22.addProduct(b, w2); c23.addProduct(b, w3)
            }
            if P.value > 3 {
                b = SIMD16<Float>(repeating: xp[3 &* ps])
                c30.addProduct(b, w0); c31.addProduct(b, w1); c32.addProduct(b, w2); c33.addProduct(b, w3)
            }
            if P.value > 4 {
                b = SIMD16<Float>(repeating: xp[4 &* ps])
                c40.addProduct(b, w0); c41.addProduct(b, w1); c42.addProduct(b, w2); c43.addProduct(b, w3)
            }
            if P.value > 5 {
                b = SIMD16<Float>(repeating: xp[5 &* ps])
                c50.addProduct(b, w0); c51.addProduct(b, w1); c52.addProduct(b, w2); c53.addProduct(b, w3)
            }
            w += 64
        }
        @inline(__always)
        func put(_ p: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>,
                 _ mode: TileOutput.Mode) {
            out.store(a, pixel: p, block: 0, mode); out.store(b, pixel: p, block: 1, mode)
            out.store(c, pixel: p, block: 2, mode); out.store(d, pixel: p, block: 3, mode)
        }
        let mode = out.mode
        put(0, c00, c01, c02, c03, mode)
        if P.value > 1 { put(1, c10, c11, c12, c13, mode) }
        if P.value > 2 { put(2, c20, c21, c22, c23, mode) }
        if P.value > 3 { put(3, c30, c31, c32, c33, mode) }
        if P.value > 4 { put(4, c40, c41, c42, c43, mode) }
        if P.value > 5 { put(5, c50, c51, c52, c53, mode) }
    }
}

/// 32 channels x P <= 12 pixels: 24 accumulators.
enum DirectTile32<P: TileWidth> {
    @inline(never)
    static func run(kc: Int, x: UnsafePointer<Float>, pixelStride ps: Int, offsets: UnsafePointer<Int>,
                    w: UnsafePointer<Float>, out: TileOutput) {
        let out = out       // a local copy: its fields stay in registers across the stores
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        var c80 = SIMD16<Float>(), c81 = SIMD16<Float>(), c90 = SIMD16<Float>(), c91 = SIMD16<Float>()
        var ca0 = SIMD16<Float>(), ca1 = SIMD16<Float>(), cb0 = SIMD16<Float>(), cb1 = SIMD16<Float>()
        var w = w
        for t in 0..<kc {
            let xp = x + offsets[t]
            let w0 = load16(w), w1 = load16(w + 16)
            var b = SIMD16<Float>(repeating: xp[0]); c00.addProduct(b, w0); c01.addProduct(b, w1)
            if P.value > 1 { b = SIMD16<Float>(repeating: xp[1 &* ps]); c10.addProduct(b, w0); c11.addProduct(b, w1) }
            if P.value > 2 { b = SIMD16<Float>(repeating: xp[2 &* ps]); c20.addProduct(b, w0); c21.addProduct(b, w1) }
            if P.value > 3 { b = SIMD16<Float>(repeating: xp[3 &* ps]); c30.addProduct(b, w0); c31.addProduct(b, w1) }
            if P.value > 4 { b = SIMD16<Float>(repeating: xp[4 &* ps]); c40.addProduct(b, w0); c41.addProduct(b, w1) }
            if P.value > 5 { b = SIMD16<Float>(repeating: xp[5 &* ps]); c50.addProduct(b, w0); c51.addProduct(b, w1) }
            if P.value > 6 { b = SIMD16<Float>(repeating: xp[6 &* ps]); c60.addProduct(b, w0); c61.addProduct(b, w1) }
            if P.value > 7 { b = SIMD16<Float>(repeating: xp[7 &* ps]); c70.addProduct(b, w0); c71.addProduct(b, w1) }
            if P.value > 8 { b = SIMD16<Float>(repeating: xp[8 &* ps]); c80.addProduct(b, w0); c81.addProduct(b, w1) }
            if P.value > 9 { b = SIMD16<Float>(repeating: xp[9 &* ps]); c90.addProduct(b, w0); c91.addProduct(b, w1) }
            if P.value > 10 { b = SIMD16<Float>(repeating: xp[10 &* ps]); ca0.addProduct(b, w0); ca1.addProduct(b, w1) }
            if P.value > 11 { b = SIMD16<Float>(repeating: xp[11 &* ps]); cb0.addProduct(b, w0); cb1.addProduct(b, w1) }
            w += 32
        }
        @inline(__always)
        func put(_ p: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ mode: TileOutput.Mode) {
            out.store(a, pixel: p, block: 0, mode); out.store(b, pixel: p, block: 1, mode)
        }
        let mode = out.mode
        put(0, c00, c01, mode)
        if P.value > 1 { put(1, c10, c11, mode) }
        if P.value > 2 { put(2, c20, c21, mode) }
        if P.value > 3 { put(3, c30, c31, mode) }
        if P.value > 4 { put(4, c40, c41, mode) }
        if P.value > 5 { put(5, c50, c51, mode) }
        if P.value > 6 { put(6, c60, c61, mode) }
        if P.value > 7 { put(7, c70, c71, mode) }
        if P.value > 8 { put(8, c80, c81, mode) }
        if P.value > 9 { put(9, c90, c91, mode) }
        if P.value > 10 { put(10, ca0, ca1, mode) }
        if P.value > 11 { put(11, cb0, cb1, mode) }
    }
}

/// 16 channels x P <= 16 pixels: 16 accumulators.
enum DirectTile16<P: TileWidth> {
    @inline(never)
    static func run(kc: Int, x: UnsafePointer<Float>, pixelStride ps: Int, offsets: UnsafePointer<Int>,
                    w: UnsafePointer<Float>, out: TileOutput) {
        let out = out       // a local copy: its fields stay in registers across the stores
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
        var c8 = SIMD16<Float>(), c9 = SIMD16<Float>(), ca = SIMD16<Float>(), cb = SIMD16<Float>()
        var cc = SIMD16<Float>(), cd = SIMD16<Float>(), ce = SIMD16<Float>(), cf = SIMD16<Float>()
        var w = w
        for t in 0..<kc {
            let xp = x + offsets[t]
            let w0 = load16(w)
            c0.addProduct(SIMD16<Float>(repeating: xp[0]), w0)
            if P.value > 1 { c1.addProduct(SIMD16<Float>(repeating: xp[1 &* ps]), w0) }
            if P.value > 2 { c2.addProduct(SIMD16<Float>(repeating: xp[2 &* ps]), w0) }
            if P.value > 3 { c3.addProduct(SIMD16<Float>(repeating: xp[3 &* ps]), w0) }
            if P.value > 4 { c4.addProduct(SIMD16<Float>(repeating: xp[4 &* ps]), w0) }
            if P.value > 5 { c5.addProduct(SIMD16<Float>(repeating: xp[5 &* ps]), w0) }
            if P.value > 6 { c6.addProduct(SIMD16<Float>(repeating: xp[6 &* ps]), w0) }
            if P.value > 7 { c7.addProduct(SIMD16<Float>(repeating: xp[7 &* ps]), w0) }
            if P.value > 8 { c8.addProduct(SIMD16<Float>(repeating: xp[8 &* ps]), w0) }
            if P.value > 9 { c9.addProduct(SIMD16<Float>(repeating: xp[9 &* ps]), w0) }
            if P.value > 10 { ca.addProduct(SIMD16<Float>(repeating: xp[10 &* ps]), w0) }
            if P.value > 11 { cb.addProduct(SIMD16<Float>(repeating: xp[11 &* ps]), w0) }
            if P.value > 12 { cc.addProduct(SIMD16<Float>(repeating: xp[12 &* ps]), w0) }
            if P.value > 13 { cd.addProduct(SIMD16<Float>(repeating: xp[13 &* ps]), w0) }
            if P.value > 14 { ce.addProduct(SIMD16<Float>(repeating: xp[14 &* ps]), w0) }
            if P.value > 15 { cf.addProduct(SIMD16<Float>(repeating: xp[15 &* ps]), w0) }
            w += 16
        }
        let mode = out.mode
        out.store(c0, pixel: 0, block: 0, mode)
        if P.value > 1 { out.store(c1, pixel: 1, block: 0, mode) }
        if P.value > 2 { out.store(c2, pixel: 2, block: 0, mode) }
        if P.value > 3 { out.store(c3, pixel: 3, block: 0, mode) }
        if P.value > 4 { out.store(c4, pixel: 4, block: 0, mode) }
        if P.value > 5 { out.store(c5, pixel: 5, block: 0, mode) }
        if P.value > 6 { out.store(c6, pixel: 6, block: 0, mode) }
        if P.value > 7 { out.store(c7, pixel: 7, block: 0, mode) }
        if P.value > 8 { out.store(c8, pixel: 8, block: 0, mode) }
        if P.value > 9 { out.store(c9, pixel: 9, block: 0, mode) }
        if P.value > 10 { out.store(ca, pixel: 10, block: 0, mode) }
        if P.value > 11 { out.store(cb, pixel: 11, block: 0, mode) }
        if P.value > 12 { out.store(cc, pixel: 12, block: 0, mode) }
        if P.value > 13 { out.store(cd, pixel: 13, block: 0, mode) }
        if P.value > 14 { out.store(ce, pixel: 14, block: 0, mode) }
        if P.value > 15 { out.store(cf, pixel: 15, block: 0, mode) }
    }
}

/// Runs the tile of `lanes` channels and `width` pixels (width <= the lanes' maximum).
@inline(__always)
func runDirectTile(lanes: Int, width: Int, kc: Int, x: UnsafePointer<Float>, pixelStride: Int,
                   offsets: UnsafePointer<Int>, w: UnsafePointer<Float>, out: TileOutput) {
    switch lanes {
    case 64:
        switch width {
        case 6: DirectTile64<Width6>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 5: DirectTile64<Width5>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 4: DirectTile64<Width4>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 3: DirectTile64<Width3>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 2: DirectTile64<Width2>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        default: DirectTile64<Width1>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        }
    case 32:
        switch width {
        case 12: DirectTile32<Width12>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 11: DirectTile32<Width11>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 10: DirectTile32<Width10>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 9: DirectTile32<Width9>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 8: DirectTile32<Width8>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 7: DirectTile32<Width7>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 6: DirectTile32<Width6>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 5: DirectTile32<Width5>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 4: DirectTile32<Width4>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 3: DirectTile32<Width3>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 2: DirectTile32<Width2>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        default: DirectTile32<Width1>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        }
    default:
        switch width {
        case 16: DirectTile16<Width16>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 15: DirectTile16<Width15>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 14: DirectTile16<Width14>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 13: DirectTile16<Width13>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 12: DirectTile16<Width12>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 11: DirectTile16<Width11>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 10: DirectTile16<Width10>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 9: DirectTile16<Width9>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 8: DirectTile16<Width8>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 7: DirectTile16<Width7>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 6: DirectTile16<Width6>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 5: DirectTile16<Width5>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 4: DirectTile16<Width4>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 3: DirectTile16<Width3>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        case 2: DirectTile16<Width2>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        default: DirectTile16<Width1>.run(kc: kc, x: x, pixelStride: pixelStride, offsets: offsets, w: w, out: out)
        }
    }
}

/// The widest tile for `lanes` channels.
@inline(__always)
func maximumTileWidth(lanes: Int) -> Int { lanes == 64 ? 6 : lanes == 32 ? 12 : 16 }

// MARK: - Transposing the partial sums into y

/// `dst[r*ldDst + p] = act(src[p*ld + r] + bias[r] + residual[r*ldDst + p])` for r, p < 16:
/// sixteen pixels of sixteen channels become sixteen channel rows, transposed in registers
/// by four rounds of interleaving row r with row r + 8, with the epilogue on the way.
@inline(never)
func transposeStore16(_ src: UnsafePointer<Float>, ld: Int, _ dst: UnsafeMutablePointer<Float>, ldDst: Int,
                              bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool) {
    var v = (load16(src), load16(src + ld), load16(src + 2 &* ld), load16(src + 3 &* ld),
             load16(src + 4 &* ld), load16(src + 5 &* ld), load16(src + 6 &* ld), load16(src + 7 &* ld),
             load16(src + 8 &* ld), load16(src + 9 &* ld), load16(src + 10 &* ld), load16(src + 11 &* ld),
             load16(src + 12 &* ld), load16(src + 13 &* ld), load16(src + 14 &* ld), load16(src + 15 &* ld))
    for _ in 0..<4 {
        let (a0, a1) = interleaveLanes(v.0, v.8), (a2, a3) = interleaveLanes(v.1, v.9)
        let (a4, a5) = interleaveLanes(v.2, v.10), (a6, a7) = interleaveLanes(v.3, v.11)
        let (a8, a9) = interleaveLanes(v.4, v.12), (a10, a11) = interleaveLanes(v.5, v.13)
        let (a12, a13) = interleaveLanes(v.6, v.14), (a14, a15) = interleaveLanes(v.7, v.15)
        v = (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
    }
    let zero = SIMD16<Float>()
    @inline(__always)
    func put(_ r: Int, _ value: SIMD16<Float>) {
        var value = value
        if let bias { value += SIMD16<Float>(repeating: bias[r]) }
        if let residual { value += load16(residual + r &* ldDst) }
        if relu { value = value.replacing(with: zero, where: value .< zero) }
        store16(value, dst + r &* ldDst)
    }
    put(0, v.0); put(1, v.1); put(2, v.2); put(3, v.3); put(4, v.4); put(5, v.5); put(6, v.6); put(7, v.7)
    put(8, v.8); put(9, v.9); put(10, v.10); put(11, v.11); put(12, v.12); put(13, v.13); put(14, v.14); put(15, v.15)
}

// MARK: - The convolution

struct DirectConvolution {
    /// The geometry, phase planes and offsets table (shared with the implicit GEMM).
    let planes: ImplicitGEMMConvolution
    var s: Conv2DGeometry { planes.s }
    /// Output rows per chunk: about 256 pixels (whole rows), whose partial sums, 64 KiB at
    /// 64 channels, stay in L2. (For rows of more than 256 pixels, one row; see `segmentsPerRow`.)
    let rowsPerChunk: Int
    /// Rows wider than 256 pixels are cut into this many column segments, one chunk each.
    let segmentsPerRow: Int
    let chunks: Int
    /// The depth block per lane count: KC x lanes floats of weights, 16 KiB (L1 holds them
    /// beside the input lines the tiles broadcast from; measured on ResNet-18's layers,
    /// 16 KiB blocks with 256-pixel chunks beat 32 KiB blocks with 64-pixel chunks by 3-8%).
    static func depthBlock(lanes: Int, k: Int, floats: Int = 4096) -> Int {
        let target = floats / lanes
        let blocks = max(1, (k + target - 1) / target)
        return (k + blocks - 1) / blocks
    }

    /// Forces the schedule in tests, as in ImplicitGEMMConvolution, and the order of the
    /// pieces (`true`: block after block).
    var wholeItemsOverride: Bool? = nil
    var threadsOverride: Int? = nil
    var blockMajorOverride: Bool? = nil
    var itemsPerRunOverride: Int? = nil

    init(_ g: Conv2DGeometry) {
        planes = ImplicitGEMMConvolution(g, gridMode: false)
        let outW = g.outWidth
        rowsPerChunk = max(1, min(g.outHeight, 256 / outW))
        segmentsPerRow = (outW + 255) / 256
        chunks = segmentsPerRow > 1 ? g.outHeight * segmentsPerRow : (g.outHeight + rowsPerChunk - 1) / rowsPerChunk
    }

    /// Whether the direct kernel runs `s`: AVX-512, at least 8 output channels per group,
    /// and not a 1 x 1 convolution with stride 1 (the implicit GEMM reads its input in
    /// place and was 3-5% faster on `bottleneck_1x1_256_64`). Without packed weights
    /// (`prepacked` false), also only where packing them on the call costs little next to
    /// the convolution: at least 1,024 output pixels per weight (a VGG layer at 14 x 14
    /// and batch 1 would spend a third of its time packing).
    static func applies(to s: Conv2DGeometry, prepacked: Bool) -> Bool {
        guard CPUFeatures.hasAVX512F && s.outChannelsPerGroup >= 8 else { return false }
        if s.kernelHeight == 1 && s.kernelWidth == 1 && s.strideHeight == 1 && s.strideWidth == 1
            && s.paddingHeight == 0 && s.paddingWidth == 0 { return false }
        return prepacked || s.batch * s.outHeight * s.outWidth >= 1024
    }

    /// Whether pieces go block after block (each block's weights read once, then every
    /// chunk of every item of a run through them): when the packed weights do not stay in
    /// L2 (VGG's 9.4 MB, ResNet-18's last stage). Otherwise chunk after chunk with all blocks
    /// of each, so that each chunk's input is read once, not once per block (5% on
    /// `resnet_3x3_s2_128_256`).
    var blockMajor: Bool { blockMajorOverride ?? (s.outChannelsPerGroup * planes.k * 4 > 3 << 19) }

    /// Piece i of a run of `items` items as (channel block, item within the run, row chunk).
    func decompose(_ i: Int, blocks: Int, items: Int) -> (block: Int, item: Int, chunk: Int) {
        if blockMajor {
            let (b, rest) = i.quotientAndRemainder(dividingBy: items * chunks)
            let (item, c) = rest.quotientAndRemainder(dividingBy: chunks)
            return (b, item, c)
        }
        let (item, rest) = i.quotientAndRemainder(dividingBy: chunks * blocks)
        let (c, b) = rest.quotientAndRemainder(dividingBy: blocks)
        return (b, item, c)
    }

    /// Items whose phase planes are built together, so that block-major pieces read each
    /// block's weights once per run, not once per image (up to 8 MB of planes). Chunk-major
    /// pieces gain nothing from it and lose the planes' stay in L2: one item per run.
    var itemsPerRun: Int {
        if let itemsPerRunOverride { return itemsPerRunOverride }
        guard blockMajor else { return 1 }
        return planes.copiesInput ? max(1, min(16, (2 << 20) / max(phaseFloats, 1))) : 16
    }

    /// Floats of the phase planes (with slack) when they are a copy.
    var phaseFloats: Int { planes.copiesInput ? (planes.phaseCount + planes.wq + s.kernelWidth + 16 + 15) & ~15 : 0 }
    /// Floats of one chunk's partial sums, and of them transposed (each with 16 x 16 of slack).
    var chunkFloats: Int { 2 * (rowsPerChunk * min(s.outWidth, 256) * 64 + 16 * 64) }

    /// The output rows and columns of a chunk: whole rows (shared out evenly: 28 rows in 4
    /// chunks of 7, not 9 + 9 + 9 + 1, since the pieces are what threads share), or one
    /// column segment of a row.
    func extent(ofChunk chunk: Int) -> (rows: Range<Int>, cols: Range<Int>) {
        let outW = s.outWidth
        if segmentsPerRow > 1 {
            let (i, segment) = chunk.quotientAndRemainder(dividingBy: segmentsPerRow)
            return (i..<i + 1, outW * segment / segmentsPerRow ..< outW * (segment + 1) / segmentsPerRow)
        }
        return (s.outHeight * chunk / chunks ..< s.outHeight * (chunk + 1) / chunks, 0..<outW)
    }

    /// `y[chunk rows, block channels] = epilogue(W x)` for one image and group, from the
    /// phase planes (or image) at `src`.
    func run(piece b: Int, chunk: Int, src: UnsafePointer<Float>, packed: PackedConvolutionWeights,
             group g: Int, image n: Int, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue,
             sums: UnsafeMutablePointer<Float>) {
        let k = planes.k, og = planes.og, outW = s.outWidth, wq = planes.wq, outPlane = planes.outPlane
        let (c0, lanes, weights) = packed.block(b, group: g)
        let (rows, cols) = extent(ofChunk: chunk)
        let width = cols.count
        let kcMax = Self.depthBlock(lanes: lanes, k: k)
        let maxWidth = maximumTileWidth(lanes: lanes)
        // Tiles of nearly equal width per row.
        let tiles = (width + maxWidth - 1) / maxWidth
        planes.offsets.withUnsafeBufferPointer { offsets in
            var t0 = 0
            while t0 < k {
                let kc = min(kcMax, k - t0)
                let add = t0 > 0
                let off = offsets.baseAddress! + t0
                let w = weights + t0 * lanes
                for (r, i) in rows.enumerated() {
                    let rowSums = sums + r * width * lanes
                    let x = src + i * wq + cols.lowerBound
                    var j = 0
                    for tile in 0..<tiles {
                        let tileWidth = (width * (tile + 1)) / tiles - j
                        runDirectTile(lanes: lanes, width: tileWidth, kc: kc, x: x + j, pixelStride: 1, offsets: off,
                                      w: w, out: TileOutput(sums: rowSums + j * lanes, lanes: lanes, accumulate: add))
                        j += tileWidth
                    }
                }
                t0 += kc
            }
        }
        // y[c0 + l, pixel] = act(sums[pixel][l] + bias + residual), 16 x 16 blocks.
        let pixels = rows.count * width
        let first = rows.lowerBound * outW + cols.lowerBound      // the chunk's pixels are contiguous in y
        let yBase = y + (n * s.outChannels + g * og + c0) * outPlane + first
        let resBase = epilogue.residual.map { $0 + (n * s.outChannels + g * og + c0) * outPlane + first }
        let biasBase = epilogue.bias.map { $0 + g * og + c0 }
        // The sums, [pixels][lanes], transposed in 16 x 16 blocks: whole blocks straight
        // into y with the epilogue; the blocks at the edges (fewer than 16 pixels or
        // channels) into [lanes][pixels rounded up to 16] after the sums in the workspace (a
        // short block reads the slack), then written to y's channel rows with the epilogue.
        let channels = min(lanes, og - c0)
        let fullPixels = pixels & ~15, fullChannels = channels & ~15
        let ldT = (pixels + 15) & ~15
        let transposed = sums + chunkFloats / 2
        var p0 = 0
        while p0 < pixels {
            var l0 = 0
            while l0 < channels {
                if p0 < fullPixels && l0 < fullChannels {
                    transposeStore16(sums + p0 * lanes + l0, ld: lanes, yBase + l0 * outPlane + p0, ldDst: outPlane,
                                     bias: biasBase.map { $0 + l0 }, residual: resBase.map { $0 + l0 * outPlane + p0 },
                                     relu: epilogue.relu)
                } else {
                    transposeStore16(sums + p0 * lanes + l0, ld: lanes, transposed + l0 * ldT + p0, ldDst: ldT,
                                     bias: nil, residual: nil, relu: false)
                }
                l0 += 16
            }
            p0 += 16
        }
        if fullPixels == pixels && fullChannels == channels { return }
        for l in 0..<channels {
            let from = l < fullChannels ? fullPixels : 0
            if from == pixels { continue }
            ConvEpilogue.storeRow(transposed + l * ldT + from, count: pixels - from, bias: biasBase?[l] ?? 0,
                     residual: resBase.map { $0 + l * outPlane + from }, relu: epilogue.relu, yBase + l * outPlane + from)
        }
    }

    /// `y = epilogue(conv(x, w))`, y fully overwritten.
    func forward(x: UnsafePointer<Float>, packed: PackedConvolutionWeights, y: UnsafeMutablePointer<Float>,
                 epilogue: ConvEpilogue) {
        precondition(packed.fits(s), "conv2d: weights packed for another shape")
        let items = s.batch * s.groups
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        let blockCount = packed.blocks.count
        let pieces = blockCount * chunks
        let (cg, inPlane) = (planes.cg, planes.inPlane)
        func item(_ i: Int) -> (Int, Int) { i.quotientAndRemainder(dividingBy: s.groups) }
        let perRun = itemsPerRun
        let wsCount = perRun * phaseFloats + chunkFloats
        /// Items `items`, all of them, on this thread, in runs of `perRun`.
        func whole(_ items: Range<Int>, ws: UnsafeMutablePointer<Float>) {
            var start = items.lowerBound
            while start < items.upperBound {
                let run = start..<min(items.upperBound, start + perRun)
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: run.count) { sources in
                    for (r, i) in run.enumerated() {
                        let (n, g) = item(i)
                        let xg = x + (n * s.inChannels + g * cg) * inPlane
                        if planes.copiesInput {
                            planes.buildPhases(x: xg, dst: ws + r * phaseFloats)
                            sources[r] = UnsafePointer(ws + r * phaseFloats)
                        } else {
                            sources[r] = xg
                        }
                    }
                    for piece in 0..<run.count * pieces {
                        let (b, r, c) = decompose(piece, blocks: blockCount, items: run.count)
                        let (n, g) = item(run.lowerBound + r)
                        self.run(piece: b, chunk: c, src: sources[r], packed: packed, group: g, image: n, y: y,
                                 epilogue: epilogue, sums: ws + run.count * phaseFloats)
                    }
                }
                start = run.upperBound
            }
        }
        if threads <= 1 {
            ConvWorkspaces.with(wsCount) { ws in whole(0..<items, ws: ws) }
            return
        }
        let wholeItems = wholeItemsOverride ?? Parallelism.takesWholeItems(items, threads: threads)
        if wholeItems {
            Parallelism.run(threads) { t in
                let run = items * t / threads ..< items * (t + 1) / threads
                if run.isEmpty { return }
                ConvWorkspaces.with(wsCount) { ws in whole(run, ws: ws) }
            }
            return
        }
        // Each item shared out: each thread takes a run of its (block, chunk) pieces and
        // builds, in its own workspace, only the plane rows those pieces read (no barrier
        // between building and reading, no plane read from the other core's cache).
        let (sh, kh, hq) = (s.strideHeight, s.kernelHeight, planes.hq)
        for i in 0..<items {
            let (n, g) = item(i)
            let xg = x + (n * s.inChannels + g * cg) * inPlane
            Parallelism.run(threads) { t in
                let part = pieces * t / threads ..< pieces * (t + 1) / threads
                if part.isEmpty { return }
                ConvWorkspaces.with(phaseFloats + chunkFloats) { ws in
                    let src: UnsafePointer<Float>
                    if planes.copiesInput {
                        // Output rows i read plane rows i ..< i + ceil(kh / sh).
                        var first = s.outHeight, last = 0
                        for piece in part {
                            let rows = extent(ofChunk: decompose(piece, blocks: blockCount, items: 1).chunk).rows
                            first = min(first, rows.lowerBound)
                            last = max(last, rows.upperBound)
                        }
                        planes.buildPhases(x: xg, dst: ws, rows: first ..< min(hq, last + (kh + sh - 1) / sh))
                        src = UnsafePointer(ws)
                    } else {
                        src = xg
                    }
                    for piece in part {
                        let (b, _, c) = decompose(piece, blocks: blockCount, items: 1)
                        run(piece: b, chunk: c, src: src, packed: packed, group: g, image: n, y: y,
                            epilogue: epilogue, sums: ws + phaseFloats)
                    }
                }
            }
        }
    }
}
