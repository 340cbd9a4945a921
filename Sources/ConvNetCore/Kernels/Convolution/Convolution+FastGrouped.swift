// The fast grouped convolution: a direct convolution for groups of few channels
// (ResNeXt's 32 groups of 4 channels, depthwise convolutions with one channel a group).
//
// Why not im2col + GEMM here: a group of Cg = 4 input and Og = 4 output channels with a
// 3x3 kernel is a GEMM with m = 4 and k = 36, far too small for a packed GEMM to pay
// for its packing and for the 36 x (H*W) column matrix, which costs 9 times the input
// in memory traffic for only 4 multiply-adds per copied element.
//
// The trick: compute every output channel of the group straight from the input, with
// the group's outputs in registers. Two rewrites make the hot loop free of bounds tests
// and of strides, so it is just vector loads, broadcasts and FMAs:
//
// 1. Polyphase, flattened input. Each input channel is copied, zero padding included,
//    into sh*sw "phase planes": plane (a, b) holds the padded input's rows a, a+sh,
//    a+2sh, ... and columns b, b+sw, ... (for stride 1 there is one plane: the padded
//    image). Every phase plane has the same row length L = outW + (kw-1)/sw, and rows
//    Hq = outH + (kh-1)/sh. Then kernel tap (u, v) of output (i, j) reads plane
//    (u % sh, v % sw) at row i + u/sh, column j + v/sw. Flattening the output with the
//    same row length L (position P = i*L + j), that read is at P + (u/sh)*L + v/sw:
//    ONE constant offset per tap (c, u, v), whatever the stride. So output positions
//    P, P+1, ..., P+15 read 16 consecutive input floats: a single unaligned vector load.
//    The price: the (kw-1)/sw columns j >= outW of every flattened output row are
//    computed and dropped (2 in 58 for ResNeXt's 56x56 rows), and a copy of the input.
//
// 2. Register blocking over output channels. The micro-kernel keeps 4 output channels x
//    64 positions (16 SIMD16 accumulators, half the 32 zmm registers of AVX-512) and runs
//    over the taps (c, u, v) of the group: per tap 4 vector loads of the input, 4
//    broadcast weights, 16 FMAs. Each loaded input vector serves the 4 output channels,
//    each weight 4 vectors. (MLAS's NCHWc direct convolution and oneDNN's blocked
//    layouts get the same reuse by putting 8 or 16 channels in the vector lanes instead;
//    with 4 channels a group that would leave lanes empty, so here the lanes run along
//    the image and the channels are unrolled in registers.)
//
// Backward, with the same planes:
// - dx is again a correlation, of the output gradient with the kernel (the transposed
//   convolution): phase plane (a, b) of dx_pad at P gets w[o, c, u, v] * dy[o] at
//   P - (u/sh)*L - v/sw, for the taps with u % sh = a and v % sw = b. dy is copied into
//   flattened planes of row length L with zeros in front, in the dropped columns and
//   after, so the same micro-kernel runs with "input" dy, "output" the dx channels, and
//   negative offsets; the phase planes of dx are then scattered back into dx.
// - dW[o, c, u, v] = sum_P dy[o][P] * x_plane[P + offset(c, u, v)]: dot products of
//   the flattened dy (zero in the dropped columns, so they add nothing) with the shifted
//   input planes, 4 output channels x 4 taps at a time (16 accumulators, 8 loads per 16
//   FMAs), summed across the lanes at the end.
//
// Memory: with 36 taps a group, the FMAs are few per byte moved, and the copies into the
// planes and out of the flattened rows (56-float rows for ResNeXt, each paying a loop
// and split unaligned stores) take about 40% of the forward time (perf, on a Sapphire
// Rapids core whose L2 streams about 40 bytes/ns). They are kept as cheap as possible:
// the zero padding of the planes (and the zeros around the flattened dy) never changes,
// so it is written once, when a thread's workspace is allocated, and the copies move
// only data; and the work slides down the image in steps of 256 positions, input rows
// copied in just before the first step that reads them and finished output rows copied
// out right after the step that completes them, so both sides of each copy are in L1.
//
// When: measured against the implicit GEMM (forward) and im2col + GEMM (backward) at
// batch 1 on one thread, the direct kernel wins by 1.8x to 8x for groups of 1 to 8 channels,
// still by about 1.5x at 16 channels on 14x14 and larger images, and loses at 32
// channels on 7x7 or with stride 2; so groups of up to 16 channels take this path.
//
// Threads: the work is a list of (image, group) items (32 per image for ResNeXt), split
// into contiguous runs over Parallelism.threadCount threads, each with its own
// workspace allocated once per call (and, for dW, its own partial sum). The backward
// pass takes the items group by group, so that dW's vector partial sums of one group
// run over all of a thread's images before the costly sums across the lanes.

/// The plan of one direct grouped convolution: sizes of the phase planes and the tap
/// offsets (internal to the fast kernels).
struct GroupedDirectConvolution {
    let s: Conv2DGeometry
    /// Channels per group (input `cg`, output `og`) and taps per output channel `k = cg*kh*kw`.
    let cg: Int, og: Int, k: Int
    let kh: Int, kw: Int, sh: Int, sw: Int
    /// Rows `Hq = outH + (kh-1)/sh` and row length `L = outW + (kw-1)/sw` of a phase plane.
    let rows: Int, width: Int
    /// Floats of one phase plane (`Hq*L`).
    let plane: Int
    /// The largest offset of a tap inside its phase plane, `(kh-1)/sh * L + (kw-1)/sw`.
    let reach: Int
    /// Flattened positions computed per output channel (`outH*L`) and per phase plane of
    /// dx (`Hq*L`), rounded up to the micro-kernel's 64.
    let outSpan: Int, inSpan: Int
    /// Floats of the input phase planes of one group, with zero slack after them.
    let xFloats: Int
    /// The zeros before the data in a flattened dy plane (at least `reach`, rounded up
    /// so that the data is 64-byte aligned), and the length of one plane.
    let dyFront: Int, dyPlane: Int
    /// Phase-plane rows `q` of row phase `a` that lie inside the image (`0 <= q*sh + a - ph < H`);
    /// likewise columns `t` of column phase `b`.
    let rowRange: [Range<Int>], columnRange: [Range<Int>]
    /// For stride-2 columns: the columns `t` moved 16 at a time, where both column phases
    /// are inside the image; and the columns of phase 0 and of phase 1 outside them.
    let pairedColumns: Range<Int>
    let evenEdges: (Range<Int>, Range<Int>), oddEdges: (Range<Int>, Range<Int>)
    /// Offset into the input phase planes of tap `(c, u, v)`, in the weight's order.
    let forwardTaps: [Int]
    /// Per phase `a*sw + b` of dx: the offsets into the flattened dy planes of its taps
    /// `(o, u, v)` (`u % sh = a`, `v % sw = b`), and the taps themselves.
    let inputTaps: [[Int]]
    let inputTapIndices: [[(o: Int, u: Int, v: Int)]]

    /// The largest channels per group for which `Fast.conv2d` uses this kernel instead
    /// of im2col + GEMM.
    static let maxChannelsPerGroup = 16

    /// Whether `Fast.conv2d` and its gradients take this path for `geometry`.
    static func applies(to geometry: Conv2DGeometry) -> Bool {
        geometry.groups > 1 && geometry.inChannelsPerGroup <= maxChannelsPerGroup
            && geometry.outChannelsPerGroup <= 4 * maxChannelsPerGroup
    }

    /// Positions per step of the sliding window (a multiple of the micro-kernels' 128).
    static let step = 256

    init(_ geometry: Conv2DGeometry) {
        let g = geometry
        let (cg, og) = (g.inChannelsPerGroup, g.outChannelsPerGroup)
        let (kh, kw, sh, sw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth)
        let rows = g.outHeight + (kh - 1) / sh
        let width = g.outWidth + (kw - 1) / sw
        let plane = rows * width
        let reach = (kh - 1) / sh * width + (kw - 1) / sw
        let dyFront = Self.roundUp(reach, 16)
        let dyPlane = Self.roundUp(dyFront + plane + 64, 16)
        s = g
        (self.cg, self.og, k) = (cg, og, cg * kh * kw)
        (self.kh, self.kw, self.sh, self.sw) = (kh, kw, sh, sw)
        (self.rows, self.width, self.plane, self.reach) = (rows, width, plane, reach)
        outSpan = Self.roundUp(g.outHeight * width, 64)
        inSpan = Self.roundUp(plane, 64)
        xFloats = Self.roundUp(cg * sh * sw * plane + width + 64, 16)
        (self.dyFront, self.dyPlane) = (dyFront, dyPlane)
        rowRange = (0..<sh).map {
            IM2ColConvolution.validRange(offset: $0 - g.paddingHeight, stride: sh, input: g.inHeight, output: rows)
        }
        columnRange = (0..<sw).map {
            IM2ColConvolution.validRange(offset: $0 - g.paddingWidth, stride: sw, input: g.inWidth, output: width)
        }
        let both = sw == 2 ? columnRange[0].clamped(to: columnRange[1]) : 0..<0
        let paired = both.lowerBound ..< both.lowerBound + both.count / 16 * 16
        func edges(_ r: Range<Int>) -> (Range<Int>, Range<Int>) {  // r without the paired columns
            let v0 = min(max(paired.lowerBound, r.lowerBound), r.upperBound)
            let v1 = min(max(paired.upperBound, r.lowerBound), r.upperBound)
            return (r.lowerBound..<v0, v1..<r.upperBound)
        }
        pairedColumns = paired
        (evenEdges, oddEdges) = sw == 2 ? (edges(columnRange[0]), edges(columnRange[1])) : ((0..<0, 0..<0), (0..<0, 0..<0))
        var taps: [Int] = []
        for c in 0..<cg {
            for u in 0..<kh {
                for v in 0..<kw { taps.append(((c * sh + u % sh) * sw + v % sw) * plane + u / sh * width + v / sw) }
            }
        }
        forwardTaps = taps
        var phaseTaps = [[(o: Int, u: Int, v: Int)]](repeating: [], count: sh * sw)
        for o in 0..<og {
            for u in 0..<kh {
                for v in 0..<kw { phaseTaps[u % sh * sw + v % sw].append((o, u, v)) }
            }
        }
        inputTapIndices = phaseTaps
        inputTaps = phaseTaps.map { $0.map { $0.o * dyPlane + dyFront - $0.u / sh * width - $0.v / sw } }
    }

    static func roundUp(_ n: Int, _ m: Int) -> Int { (n + m - 1) / m * m }

    /// Blocks of 4 channels, then single channels, covering `0..<count`.
    static func channelBlocks(_ count: Int) -> [(first: Int, lanes: Int)] {
        stride(from: 0, to: count / 4 * 4, by: 4).map { ($0, 4) } + (count / 4 * 4..<count).map { ($0, 1) }
    }

    /// Floats of one thread's stage: 4 channels of flattened outputs (or of the `sw`
    /// column phases of dx of one row phase).
    var stageFloats: Int { 4 * max(outSpan, sw * inSpan) }

    /// Runs `body(thread, items, workspace)` over contiguous runs of the `batch*groups`
    /// items, with a zeroed, 64-byte aligned workspace of `floats` floats per thread.
    func forEachItemRun(workspace floats: Int,
                        _ body: (_ thread: Int, _ items: Range<Int>, _ workspace: UnsafeMutablePointer<Float>) -> Void) {
        Parallelism.forEachChunk(s.batch * s.groups) { t, items in
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(floats, 1) * 4, alignment: 64)
            defer { raw.deallocate() }
            let workspace = raw.initializeMemory(as: Float.self, repeating: 0, count: max(floats, 1))
            body(t, items, workspace)
        }
    }

    // MARK: copies into and out of the phase planes

    /// Copies rows `rows` of the phase planes of the `cg` channels of one group (`x`
    /// points at its first channel): plane `(c, a, b)`, row `q`, column `t` gets
    /// `x[c, q*sh + a - ph, t*sw + b - pw]` where that lies inside the image. (The rest
    /// of the planes is zero padding, written once when the workspace was allocated.)
    func fillInputPlanes(_ x: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows wanted: Range<Int>) {
        let (inH, inW) = (s.inHeight, s.inWidth)
        for c in 0..<cg {
            let xc = x + c * inH * inW
            for a in 0..<sh {
                if sw == 2 {                                  // both column phases in one pass
                    deinterleaveRows(xc, into: dst + (c * sh + a) * 2 * plane, rowPhase: a, rows: wanted)
                    continue
                }
                for b in 0..<sw {
                    let p = dst + ((c * sh + a) * sw + b) * plane
                    let columns = columnRange[b]
                    for q in rowRange[a].clamped(to: wanted) {
                        let row = p + q * width
                        let src = xc + (q * sh + a - s.paddingHeight) * inW + b - s.paddingWidth  // src[t*sw]: column t
                        if sw == 1 {
                            Self.copy(src + columns.lowerBound, to: row + columns.lowerBound, count: columns.count)
                        } else {
                            for t in columns { row[t] = src[t * sw] }
                        }
                    }
                }
            }
        }
    }

    /// `fillInputPlanes` for stride-2 columns: splits each input row into its even and odd
    /// columns, the phase planes `b = 0` and `b = 1` of row phase `a` (at `dst` and
    /// `dst + plane`), 16 columns of each at a time from two vector loads.
    func deinterleaveRows(_ xc: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rowPhase a: Int, rows wanted: Range<Int>) {
        let inW = s.inWidth
        for q in rowRange[a].clamped(to: wanted) {
            let (row0, row1) = (dst + q * width, dst + plane + q * width)
            let src = xc + (q * sh + a - s.paddingHeight) * inW - s.paddingWidth  // column t of phase b: src[2t + b]
            for t in stride(from: pairedColumns.lowerBound, to: pairedColumns.upperBound, by: 16) {
                let (lo, hi) = (load16(src + 2 * t), load16(src + 2 * t + 16))
                store16(evenLanes(lo, hi), row0 + t)
                store16(oddLanes(lo, hi), row1 + t)
            }
            for t in evenEdges.0 { row0[t] = src[2 * t] }
            for t in evenEdges.1 { row0[t] = src[2 * t] }
            for t in oddEdges.0 { row1[t] = src[2 * t + 1] }
            for t in oddEdges.1 { row1[t] = src[2 * t + 1] }
        }
    }

    /// The inverse of `deinterleaveRows` for one row of dx: `dst[2t] = even[t]` and
    /// `dst[2t + 1] = odd[t]` for the columns inside the image, 16 of each at a time.
    @inline(__always)
    func interleaveRow(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        for t in stride(from: pairedColumns.lowerBound, to: pairedColumns.upperBound, by: 16) {
            let (e, o) = (load16(even + t), load16(odd + t))
            var lo = SIMD16<Float>(), hi = SIMD16<Float>()
            for i in 0..<8 {
                (lo[2 * i], lo[2 * i + 1]) = (e[i], o[i])
                (hi[2 * i], hi[2 * i + 1]) = (e[i + 8], o[i + 8])
            }
            store16(lo, dst + 2 * t)
            store16(hi, dst + 2 * t + 16)
        }
        for t in evenEdges.0 { dst[2 * t] = even[t] }
        for t in evenEdges.1 { dst[2 * t] = even[t] }
        for t in oddEdges.0 { dst[2 * t + 1] = odd[t] }
        for t in oddEdges.1 { dst[2 * t + 1] = odd[t] }
    }

    /// Copies rows `rows` of the `og` channels of one group's output gradient (`dy` points
    /// at its first channel) into flattened planes of row length L, `dyPlane` floats
    /// apart, after `dyFront` zeros (the dropped columns and the rest stay zero), and adds
    /// each channel's sum of those rows to `sums[o]` when given.
    func fillOutputGradientPlanes(_ dy: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>,
                                  sums: UnsafeMutablePointer<Float>?) {
        let (outH, outW) = (s.outHeight, s.outWidth)
        for o in 0..<og {
            let p = dst + o * dyPlane + dyFront
            let src = dy + o * outH * outW
            for i in rows { Self.copy(src + i * outW, to: p + i * width, count: outW) }
            if let sums { sums[o] += IM2ColConvolution.vectorSum(src + rows.lowerBound * outW, count: rows.count * outW) }
        }
    }

    // MARK: forward

    /// `weight` regrouped for the micro-kernel: per group and block of output channels,
    /// `[tap][lane]`, so that the block's weights of one tap are adjacent.
    func packForwardWeights(_ weight: UnsafePointer<Float>) -> [Float] {
        var packed = [Float](repeating: 0, count: s.weightCount)
        for g in 0..<s.groups {
            for (o0, lanes) in Self.channelBlocks(og) {
                let base = (g * og + o0) * k
                for t in 0..<k {
                    for lane in 0..<lanes { packed[base + t * lanes + lane] = weight[base + lane * k + t] }
                }
            }
        }
        return packed
    }

    /// `y = act(conv(x, w) + bias + residual)` (ReLU when `relu`): ``forward(x:weight:bias:y:)``,
    /// then one pass for the residual and the ReLU when there are any.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        forward(x: x, weight: weight, bias: bias, y: y)
        guard residual != nil || relu else { return }
        let count = s.outputShape.count
        // Chunks of 4096 values shared out from 64K values on; below that, one chunk.
        let chunk = count >= 1 << 16 ? 4096 : max(count, 1)
        Parallelism.forEachChunk((count + chunk - 1) / chunk) { _, chunks in
            let lo = chunks.lowerBound * chunk, hi = min(count, chunks.upperBound * chunk)
            ConvEpilogue.storeRow(y + lo, count: hi - lo, bias: 0, residual: residual.map { $0 + lo }, relu: relu, y + lo)
        }
    }

    /// `y = conv(x, w) + bias`; `y` is fully overwritten.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>) {
        let packed = packForwardWeights(weight)
        let blocks = Self.channelBlocks(og)
        let (inPlane, outPlane) = (s.inHeight * s.inWidth, s.outHeight * s.outWidth)
        let (outH, outW) = (s.outHeight, s.outWidth)
        packed.withUnsafeBufferPointer { packed in
            forwardTaps.withUnsafeBufferPointer { taps in
                let (packed, taps) = (packed.baseAddress!, taps.baseAddress!)
                forEachItemRun(workspace: xFloats + stageFloats) { _, items, workspace in
                    let (planes, stage) = (workspace, workspace + xFloats)
                    for item in items {
                        let (n, g) = item.quotientAndRemainder(dividingBy: s.groups)
                        let xg = x + (n * s.inChannels + g * cg) * inPlane
                        var filled = 0                                 // plane rows copied in so far
                        for (o0, lanes) in blocks {
                            let w = packed + (g * og + o0) * k
                            var done = 0                               // output rows copied out so far
                            for p in stride(from: 0, to: outSpan, by: Self.step) {
                                let count = min(Self.step, outSpan - p)
                                let needed = min(rows, (p + count - 1 + reach) / width + 1)
                                if filled < needed {
                                    fillInputPlanes(xg, into: planes, rows: filled..<needed)
                                    filled = needed
                                }
                                Self.correlate(lanes: lanes, input: planes + p, taps: taps, tapCount: k, weights: w,
                                               output: stage + p, stride: outSpan, count: count)
                                let finished = min(outH, (p + count) / width)
                                for lane in 0..<lanes {                // drop the extra columns, add the bias
                                    let o = g * og + o0 + lane
                                    let dst = y + (n * s.outChannels + o) * outPlane
                                    let b = bias?[o] ?? 0
                                    for i in done..<finished {
                                        Self.copy(stage + lane * outSpan + i * width, to: dst + i * outW, count: outW, adding: b)
                                    }
                                }
                                done = finished
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: backward

    /// `weight` regrouped for the dx micro-kernel: per phase, group and block of input
    /// channels, `[tap][lane]` over the phase's taps `(o, u, v)`.
    func packInputGradientWeights(_ weight: UnsafePointer<Float>) -> (packed: [Float], phaseBase: [Int]) {
        var packed = [Float](repeating: 0, count: s.weightCount)
        var phaseBase: [Int] = []
        var base = 0
        for phaseTaps in inputTapIndices {
            phaseBase.append(base)
            for g in 0..<s.groups {
                for (c0, lanes) in Self.channelBlocks(cg) {
                    for (t, tap) in phaseTaps.enumerated() {
                        for lane in 0..<lanes {
                            packed[base + c0 * phaseTaps.count + t * lanes + lane] =
                                weight[(((g * og + tap.o) * cg + c0 + lane) * kh + tap.u) * kw + tap.v]
                        }
                    }
                }
                base += phaseTaps.count * cg
            }
        }
        return (packed, phaseBase)
    }

    /// Positions of the flattened planes per chunk of the weight gradient (a multiple of 64).
    static let dwChunk = 1024

    /// The gradients of `L = sum(y * dy)`, each overwritten when given: `dx` (needs
    /// `weight`), `dw` (needs `x`) and the bias gradient `db` (the channel sums of `dy`).
    func backward(x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?, dy: UnsafePointer<Float>,
                  dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>? = nil) {
        precondition(dx == nil || weight != nil, "conv2d backward: the input gradient needs the weight")
        precondition(dw == nil || x != nil, "conv2d backward: the weight gradient needs the input")
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        let (inPlane, outPlane) = (inH * inW, outH * outW)
        let threads = max(1, min(Parallelism.threadCount, s.batch * s.groups))
        // dx positions that no phase plane reaches (beyond the last window), or only one
        // without taps (a stride larger than the kernel), stay zero.
        let reachesAll = inH + s.paddingHeight <= rows * sh && inW + s.paddingWidth <= width * sw
            && !inputTaps.contains(where: \.isEmpty)
        let (dxPacked, phaseBase) = dx != nil ? packInputGradientWeights(weight!) : ([], [])
        // Taps of dW padded to a multiple of 4 (the last one repeated; its results dropped).
        let dwTaps = forwardTaps + [Int](repeating: forwardTaps.last!, count: Self.roundUp(k, 4) - k)
        // Thread 0 accumulates into dw and db themselves, the others into partials
        // `[dw | db]` summed at the end.
        let (weightCount, sumsCount) = (dw != nil ? s.weightCount : 0, db != nil ? s.outChannels : 0)
        let partialCount = weightCount + sumsCount
        dw?.update(repeating: 0, count: weightCount)
        db?.update(repeating: 0, count: sumsCount)
        let threadPartials: UnsafeMutablePointer<Float>? =
            partialCount > 0 && threads > 1 ? .allocate(capacity: (threads - 1) * partialCount) : nil
        threadPartials?.initialize(repeating: 0, count: (threads - 1) * partialCount)
        defer { threadPartials?.deallocate() }
        let cBlocks = Self.channelBlocks(cg), oBlocks = Self.channelBlocks(og)
        // dW's vector partial sums: 16 vectors per block of output channels and block of 4 taps.
        let tapBlocks = (k + 3) / 4
        let (planesFloats, stageCount) = (dw != nil ? xFloats : 0, dx != nil ? stageFloats : 0)
        let chunkSums = dw != nil ? oBlocks.count * tapBlocks * 256 : 0

        // dx: every phase's taps in one array, and per row phase the column phases that
        // have taps and columns inside the image.
        let flatTaps = inputTaps.flatMap { $0 }
        let tapStart = inputTaps.indices.map { phase in inputTaps[..<phase].reduce(0) { $0 + $1.count } }
        let liveColumnPhases = (0..<sh).map { a in (0..<sw).filter { !inputTaps[a * sw + $0].isEmpty && !columnRange[$0].isEmpty } }

        dxPacked.withUnsafeBufferPointer { dxPacked in
          flatTaps.withUnsafeBufferPointer { flatTaps in
            dwTaps.withUnsafeBufferPointer { dwTaps in
                forEachItemRun(workspace: planesFloats + og * dyPlane + stageCount + chunkSums) { t, items, workspace in
                    let (planes, dyPlanes) = (workspace, workspace + planesFloats)
                    let stage = dyPlanes + og * dyPlane, partials = stage + stageCount
                    let threadPartial = t == 0 ? nil : threadPartials.map { $0 + (t - 1) * partialCount }
                    let dwThread = dw == nil ? nil : threadPartial ?? dw
                    let dbThread = db == nil ? nil : threadPartial.map { $0 + weightCount } ?? db
                    // Items run group by group (item = g*batch + n), so that dW's vector partial
                    // sums gather a group's images before they are summed across the lanes.
                    for item in items {
                        let (g, n) = item.quotientAndRemainder(dividingBy: s.batch)
                        let dyg = dy + (n * s.outChannels + g * og) * outPlane
                        var filledDY = 0                               // dy rows copied in so far
                        func fillDY(through position: Int) {           // the dy rows up to that position
                            let needed = min(outH, position / width + 1)
                            if filledDY < needed {
                                fillOutputGradientPlanes(dyg, into: dyPlanes, rows: filledDY..<needed, sums: dbThread.map { $0 + g * og })
                                filledDY = needed
                            }
                        }
                        if let dwThread, let x {
                            // dW[o, tap] += sum_P dy_flat[o][P] * planes[P + offset(tap)], a chunk of
                            // positions at a time into vector partial sums, summed across the
                            // lanes at the end.
                            let xg = x + (n * s.inChannels + g * cg) * inPlane
                            var filledX = 0
                            if item == items.lowerBound || n == 0 { partials.update(repeating: 0, count: chunkSums) }
                            for start in stride(from: 0, to: outSpan, by: Self.dwChunk) {
                                let count = min(Self.dwChunk, outSpan - start)
                                let neededX = min(rows, (start + count - 1 + reach) / width + 1)
                                if filledX < neededX {
                                    fillInputPlanes(xg, into: planes, rows: filledX..<neededX)
                                    filledX = neededX
                                }
                                fillDY(through: start + count - 1)
                                for (b, (o0, lanes)) in oBlocks.enumerated() {
                                    for t0 in stride(from: 0, to: k, by: 4) {
                                        Self.dots(lanes: lanes, dy: dyPlanes + o0 * dyPlane + dyFront, dyStride: dyPlane,
                                                  x: planes, taps: dwTaps.baseAddress! + t0, start: start, count: count,
                                                  partial: partials + (b * tapBlocks + t0 / 4) * 256)
                                    }
                                }
                            }
                            if item == items.upperBound - 1 || n == s.batch - 1 {  // the group's last image here
                                for (b, (o0, lanes)) in oBlocks.enumerated() {
                                    for t0 in stride(from: 0, to: k, by: 4) {
                                        let partial = partials + (b * tapBlocks + t0 / 4) * 256
                                        for lane in 0..<lanes {
                                            for t in 0..<min(4, k - t0) {
                                                dwThread[(g * og + o0 + lane) * k + t0 + t] += load16(partial + (lane * 4 + t) * 16).sum()
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        if let dx {
                            let dxg = dx + (n * s.inChannels + g * cg) * inPlane
                            if !reachesAll { dxg.update(repeating: 0, count: cg * inPlane) }
                            for a in 0..<sh where !rowRange[a].isEmpty {
                                let live = liveColumnPhases[a]
                                for (c0, lanes) in cBlocks {
                                    var done = 0                       // phase-plane rows scattered so far
                                    for p in stride(from: 0, to: inSpan, by: Self.step) {
                                        let count = min(Self.step, inSpan - p)
                                        fillDY(through: p + count - 1)
                                        for b in live {                // the phase planes (a, b) of 4 dx channels
                                            let phase = a * sw + b, tapCount = inputTaps[phase].count
                                            Self.correlate(lanes: lanes, input: dyPlanes + p, taps: flatTaps.baseAddress! + tapStart[phase],
                                                           tapCount: tapCount,
                                                           weights: dxPacked.baseAddress! + phaseBase[phase] + (g * cg + c0) * tapCount,
                                                           output: stage + b * 4 * inSpan + p, stride: inSpan, count: count)
                                        }
                                        let finished = min(rows, (p + count) / width)
                                        for lane in 0..<lanes {        // scatter the finished rows into dx
                                            let dxc = dxg + (c0 + lane) * inPlane
                                            for q in rowRange[a].clamped(to: done..<finished) {
                                                let src = stage + lane * inSpan + q * width   // phase b at src + b*4*inSpan
                                                let dst = dxc + (q * sh + a - s.paddingHeight) * inW - s.paddingWidth  // dst[t*sw + b]
                                                if sw == 2 && live.count == 2 {
                                                    interleaveRow(src, src + 4 * inSpan, into: dst)
                                                    continue
                                                }
                                                for b in live {
                                                    let (from, columns) = (src + b * 4 * inSpan, columnRange[b])
                                                    if sw == 1 {
                                                        Self.copy(from + columns.lowerBound, to: dst + columns.lowerBound, count: columns.count)
                                                    } else {
                                                        for t in columns { dst[t * sw + b] = from[t] }
                                                    }
                                                }
                                            }
                                        }
                                        done = finished
                                    }
                                }
                            }
                        }
                        if db != nil { fillDY(through: outSpan) }      // the bias gradient needs every row
                    }
                }
            }
        }
        }
        if let threadPartials {                                 // add the other threads' partials
            for t in 0..<threads - 1 {
                if let dw { IM2ColConvolution.addInPlace(dw, threadPartials + t * partialCount, count: weightCount) }
                if let db { IM2ColConvolution.addInPlace(db, threadPartials + t * partialCount + weightCount, count: sumsCount) }
            }
        }
    }
}

// MARK: micro-kernels

extension GroupedDirectConvolution {
    /// `dst[i] = src[i] + value` for `i < count`. (Rows are short, 56 floats for ResNeXt:
    /// an inline loop of 16-, 8- and 1-float steps beats a call to memmove.)
    @inline(__always)
    static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int, adding value: Float = 0) {
        let splat = SIMD16<Float>(repeating: value), splat8 = SIMD8<Float>(repeating: value)
        var i = 0
        while i + 16 <= count {
            store16(load16(src + i) + splat, dst + i)
            i += 16
        }
        if i + 8 <= count {
            store8(load8(src + i) + splat8, dst + i)
            i += 8
        }
        while i < count { dst[i] = src[i] + value; i += 1 }
    }


    /// `output[lane*stride + P] = sum_t weights[t*lanes + lane] * input[taps[t] + P]` for
    /// `P < count` (a multiple of 64) and `lanes` 4 or 1.
    @inline(__always)
    static func correlate(lanes: Int, input: UnsafePointer<Float>, taps: UnsafePointer<Int>, tapCount: Int,
                          weights: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stride: Int, count: Int) {
        if lanes == 4 {
            correlate4(input: input, taps: taps, tapCount: tapCount, weights: weights, output: output, stride: stride, count: count)
        } else {
            correlate1(input: input, taps: taps, tapCount: tapCount, weights: weights, output: output, count: count)
        }
    }

    /// The 4-channel micro-kernel: 4 channels x 64 positions in 16 accumulators.
    static func correlate4(input: UnsafePointer<Float>, taps: UnsafePointer<Int>, tapCount: Int,
                           weights: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stride: Int, count: Int) {
        var p = 0
        while p < count {
            var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c02 = SIMD16<Float>(), c03 = SIMD16<Float>()
            var c10 = SIMD16<Float>(), c11 = SIMD16<Float>(), c12 = SIMD16<Float>(), c13 = SIMD16<Float>()
            var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c22 = SIMD16<Float>(), c23 = SIMD16<Float>()
            var c30 = SIMD16<Float>(), c31 = SIMD16<Float>(), c32 = SIMD16<Float>(), c33 = SIMD16<Float>()
            let base = input + p
            var w = weights
            for t in 0..<tapCount {
                let src = base + taps[t]
                let x0 = load16(src), x1 = load16(src + 16), x2 = load16(src + 32), x3 = load16(src + 48)
                let w0 = SIMD16<Float>(repeating: w[0])
                c00.addProduct(x0, w0); c01.addProduct(x1, w0); c02.addProduct(x2, w0); c03.addProduct(x3, w0)
                let w1 = SIMD16<Float>(repeating: w[1])
                c10.addProduct(x0, w1); c11.addProduct(x1, w1); c12.addProduct(x2, w1); c13.addProduct(x3, w1)
                let w2 = SIMD16<Float>(repeating: w[2])
                c20.addProduct(x0, w2); c21.addProduct(x1, w2); c22.addProduct(x2, w2); c23.addProduct(x3, w2)
                let w3 = SIMD16<Float>(repeating: w[3])
                c30.addProduct(x0, w3); c31.addProduct(x1, w3); c32.addProduct(x2, w3); c33.addProduct(x3, w3)
                w += 4
            }
            let o0 = output + p, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride
            store16(c00, o0); store16(c01, o0 + 16); store16(c02, o0 + 32); store16(c03, o0 + 48)
            store16(c10, o1); store16(c11, o1 + 16); store16(c12, o1 + 32); store16(c13, o1 + 48)
            store16(c20, o2); store16(c21, o2 + 16); store16(c22, o2 + 32); store16(c23, o2 + 48)
            store16(c30, o3); store16(c31, o3 + 16); store16(c32, o3 + 32); store16(c33, o3 + 48)
            p += 64
        }
    }

    /// The 1-channel micro-kernel: 128 positions in 8 accumulators (64 at the end).
    static func correlate1(input: UnsafePointer<Float>, taps: UnsafePointer<Int>, tapCount: Int,
                           weights: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int) {
        var p = 0
        while p + 128 <= count {
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
            let base = input + p
            for t in 0..<tapCount {
                let src = base + taps[t]
                let w = SIMD16<Float>(repeating: weights[t])
                c0.addProduct(load16(src), w); c1.addProduct(load16(src + 16), w)
                c2.addProduct(load16(src + 32), w); c3.addProduct(load16(src + 48), w)
                c4.addProduct(load16(src + 64), w); c5.addProduct(load16(src + 80), w)
                c6.addProduct(load16(src + 96), w); c7.addProduct(load16(src + 112), w)
            }
            let o = output + p
            store16(c0, o); store16(c1, o + 16); store16(c2, o + 32); store16(c3, o + 48)
            store16(c4, o + 64); store16(c5, o + 80); store16(c6, o + 96); store16(c7, o + 112)
            p += 128
        }
        if p < count {                                          // count is a multiple of 64
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            let base = input + p
            for t in 0..<tapCount {
                let src = base + taps[t]
                let w = SIMD16<Float>(repeating: weights[t])
                c0.addProduct(load16(src), w); c1.addProduct(load16(src + 16), w)
                c2.addProduct(load16(src + 32), w); c3.addProduct(load16(src + 48), w)
            }
            let o = output + p
            store16(c0, o); store16(c1, o + 16); store16(c2, o + 32); store16(c3, o + 48)
        }
    }

    /// `partial[l*4 + t] += dy[l*dyStride + P] * x[taps[t] + P]` (vectors of 16 lanes,
    /// `partial` holding 16 of them) for `P` in `start ..< start + count` (`count` a
    /// multiple of 64), for the `lanes` (4 or 1) output channels and 4 taps.
    @inline(__always)
    static func dots(lanes: Int, dy: UnsafePointer<Float>, dyStride: Int, x: UnsafePointer<Float>, taps: UnsafePointer<Int>,
                     start: Int, count: Int, partial: UnsafeMutablePointer<Float>) {
        if lanes == 4 {
            dots4x4(dy: dy, dyStride: dyStride, x: x, taps: taps, start: start, count: count, partial: partial)
        } else {
            dots1x4(dy: dy, x: x, taps: taps, start: start, count: count, partial: partial)
        }
    }

    static func dots4x4(dy: UnsafePointer<Float>, dyStride: Int, x: UnsafePointer<Float>, taps: UnsafePointer<Int>,
                        start: Int, count: Int, partial: UnsafeMutablePointer<Float>) {
        let y0 = dy + start, y1 = y0 + dyStride, y2 = y1 + dyStride, y3 = y2 + dyStride
        let x0 = x + taps[0] + start, x1 = x + taps[1] + start, x2 = x + taps[2] + start, x3 = x + taps[3] + start
        let q = partial
        var a00 = load16(q), a01 = load16(q + 16), a02 = load16(q + 32), a03 = load16(q + 48)
        var a10 = load16(q + 64), a11 = load16(q + 80), a12 = load16(q + 96), a13 = load16(q + 112)
        var a20 = load16(q + 128), a21 = load16(q + 144), a22 = load16(q + 160), a23 = load16(q + 176)
        var a30 = load16(q + 192), a31 = load16(q + 208), a32 = load16(q + 224), a33 = load16(q + 240)
        var p = 0
        while p < count {
            let v0 = load16(x0 + p), v1 = load16(x1 + p), v2 = load16(x2 + p), v3 = load16(x3 + p)
            let d0 = load16(y0 + p)
            a00.addProduct(d0, v0); a01.addProduct(d0, v1); a02.addProduct(d0, v2); a03.addProduct(d0, v3)
            let d1 = load16(y1 + p)
            a10.addProduct(d1, v0); a11.addProduct(d1, v1); a12.addProduct(d1, v2); a13.addProduct(d1, v3)
            let d2 = load16(y2 + p)
            a20.addProduct(d2, v0); a21.addProduct(d2, v1); a22.addProduct(d2, v2); a23.addProduct(d2, v3)
            let d3 = load16(y3 + p)
            a30.addProduct(d3, v0); a31.addProduct(d3, v1); a32.addProduct(d3, v2); a33.addProduct(d3, v3)
            p += 16
        }
        store16(a00, q); store16(a01, q + 16); store16(a02, q + 32); store16(a03, q + 48)
        store16(a10, q + 64); store16(a11, q + 80); store16(a12, q + 96); store16(a13, q + 112)
        store16(a20, q + 128); store16(a21, q + 144); store16(a22, q + 160); store16(a23, q + 176)
        store16(a30, q + 192); store16(a31, q + 208); store16(a32, q + 224); store16(a33, q + 240)
    }

    static func dots1x4(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, taps: UnsafePointer<Int>,
                        start: Int, count: Int, partial: UnsafeMutablePointer<Float>) {
        let y = dy + start
        let x0 = x + taps[0] + start, x1 = x + taps[1] + start, x2 = x + taps[2] + start, x3 = x + taps[3] + start
        var a0 = load16(partial), a1 = load16(partial + 16), a2 = load16(partial + 32), a3 = load16(partial + 48)
        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
        var p = 0
        while p < count {                                       // two vectors of positions per step
            let d = load16(y + p), e = load16(y + p + 16)
            a0.addProduct(d, load16(x0 + p)); a1.addProduct(d, load16(x1 + p))
            a2.addProduct(d, load16(x2 + p)); a3.addProduct(d, load16(x3 + p))
            b0.addProduct(e, load16(x0 + p + 16)); b1.addProduct(e, load16(x1 + p + 16))
            b2.addProduct(e, load16(x2 + p + 16)); b3.addProduct(e, load16(x3 + p + 16))
            p += 32
        }
        store16(a0 + b0, partial); store16(a1 + b1, partial + 16); store16(a2 + b2, partial + 32); store16(a3 + b3, partial + 48)
    }
}
