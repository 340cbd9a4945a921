import Dispatch
import Foundation

// The direct convolution on channel-blocked activations (BlockedActivations.swift): what
// a network's inference runs between its first and last layer, as ONNX Runtime does with
// MLAS's NCHWc kernels.
//
// The register tiles are the direct kernel's (Convolution+FastDirect.swift): P output
// pixels x 16V output channels of accumulators, one weight vector load per 16 channels
// and one broadcast per pixel for each step t of the reduction. Only the addressing
// changes:
//
//     step t = (input block cb, tap u, tap v, lane c):  c runs fastest, so 16 steps in a row
//              broadcast from the same 64-byte line (pixel (i*sh + u, j*sw + v), block cb)
//     pixel p of the tile:  16 * sw floats after pixel p - 1 (one pixel of the input row)
//     output:  pixel p, channel block l at y.pixel(n, block + l, i, j0 + p), a whole vector
//
// so, unlike the NCHW direct kernel, there is no phase-plane copy before (the border is
// the padding) and no transpose after (each accumulator is stored as it is, with bias,
// residual and ReLU applied on the last depth block). The weights are packed once in the
// same step order, [channel block][t][16V], with zeros for the lanes of input channels
// past the last one. (Split into one stream per 16 output channels, [block][V][t][16], as
// MLAS lays out its NCHWc filters, ResNet-18's last stages, whose 2.4-9.4 MB of weights a
// layer stream from memory at batch 1, ran 4-5% faster; but the tile then addresses its
// V weight vectors with a runtime stride, and LLVM hoisted the six broadcasts above the
// FMAs, spilling accumulators, which lost as much everywhere else.)
//
// The first convolution of a network reads an NCHW image with 3 channels: blocking it to
// 16 lanes would do 5 times the work. It reads the image's planes (copied with their zero
// padding, row by row), steps t = (c, u, v), pixels `sw` floats apart, and writes blocked
// output. (Reading the planes at stride 2 was 3% faster on ResNet-18's 7 x 7 / 2 than the
// NCHW kernel's phase planes, whose copy gathers every other float.)
//
// Pieces: (16V-channel block, chunk of output rows of about 256 pixels) per image; each
// chunk's sums, accumulated depth block after depth block in y, stay in L2, and each
// depth block's weights (see `depthBlockFloats`) are reused by all the chunk's tiles. Threads
// take whole images, or, with fewer images than threads, share one image's pieces.

/// A convolution's weights (and bias) packed for ``Fast/conv2dBlocked(_:weights:geometry:residual:relu:into:)``.
/// Build it once per weight tensor and keep it: a model in inference mode keeps one per
/// convolution.
public final class BlockedConvolutionWeights {
    /// The shape the weights were packed for (batch and spatial size may differ).
    public var outChannels: Int { packed.outChannels }
    public var inChannels: Int { packed.inChannelsPerGroup }
    public var kernelHeight: Int { packed.kernelHeight }
    public var kernelWidth: Int { packed.kernelWidth }
    /// Whether the input is blocked (steps (cb, u, v, c)) or an NCHW image (steps (c, u, v)).
    public let blockedInput: Bool
    let packed: PackedConvolutionWeights
    /// Bias per output channel, zero-padded to a multiple of 64 (zeros without a bias).
    let bias: [Float]

    /// Packs `weight` (`[outChannels, inChannels, kh, kw]`, groups 1) and `bias` for
    /// `geometry`, for a blocked input or, with `blockedInput` false, an NCHW one.
    public init(weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry, blockedInput: Bool) {
        precondition(g.groups == 1, "BlockedConvolutionWeights: groups must be 1, got \(g.groups)")
        checkCount(weight.count, equals: g.weightCount, "weight \(g.weightShape)", in: "BlockedConvolutionWeights")
        if let bias { checkCount(bias.count, equals: g.outChannels, "bias [\(g.outChannels)]", in: "BlockedConvolutionWeights") }
        self.blockedInput = blockedInput
        if blockedInput {
            packed = PackedConvolutionWeights(weight: weight, geometry: g, steps: Self.blockedInputSteps(g))
        } else {
            packed = PackedConvolutionWeights(weight: weight, geometry: g)
        }
        self.bias = IM2ColConvolution.withOptionalPointer(bias) { Self.paddedBias($0, count: g.outChannels) }
    }

    /// `count` bias values (zeros without a bias), zero-padded to a multiple of 64.
    static func paddedBias(_ bias: UnsafePointer<Float>?, count: Int) -> [Float] {
        var padded = [Float](repeating: 0, count: (count + 63) / 64 * 64)
        if let bias { for o in 0..<count { padded[o] = bias[o] } }
        return padded
    }

    /// The reduction's steps for a blocked input: step t = ((cb * taps + tap) * 16 + lane)
    /// reads input channel cb * 16 + lane at tap (-1: a padded lane).
    static func blockedInputSteps(_ g: Conv2DGeometry) -> [Int] {
        let taps = g.kernelHeight * g.kernelWidth
        let blocks = (g.inChannels + 15) / 16
        var steps = [Int](repeating: -1, count: blocks * taps * 16)
        for cb in 0..<blocks {
            for tap in 0..<taps {
                for lane in 0..<16 where cb * 16 + lane < g.inChannels {
                    steps[(cb * taps + tap) * 16 + lane] = (cb * 16 + lane) * taps + tap
                }
            }
        }
        return steps
    }

    /// Weights already packed, in the step order of `blockedInput` (an NCHW image's order
    /// is the NCHW direct kernel's), with `bias` (`outChannels` values) or none.
    init(packed: PackedConvolutionWeights, bias: UnsafePointer<Float>?, blockedInput: Bool = false) {
        precondition(packed.groups == 1, "BlockedConvolutionWeights: groups must be 1, got \(packed.groups)")
        self.packed = packed
        self.blockedInput = blockedInput
        self.bias = Self.paddedBias(bias, count: packed.outChannels)
    }

    /// Whether these weights fit `geometry` with an input of this kind.
    public func fits(_ g: Conv2DGeometry, blockedInput: Bool) -> Bool {
        self.blockedInput == blockedInput && packed.fits(g)
    }
}

/// The blocked direct convolution of one geometry; see the header.
struct BlockedConvolution {
    let s: Conv2DGeometry
    let blockedInput: Bool
    /// Steps of the reduction.
    let k: Int
    /// Chunks of whole output rows, about 256 pixels each.
    let chunks: Int
    /// For an NCHW input: the padded copy's row width and plane size (no copy without padding).
    let paddedWidth: Int, paddedPlane: Int

    /// Forces the schedule in tests.
    var threadsOverride: Int? = nil
    var wholeImagesOverride: Bool? = nil

    init(_ g: Conv2DGeometry, blockedInput: Bool) {
        s = g
        self.blockedInput = blockedInput
        k = blockedInput ? (g.inChannels + 15) / 16 * 16 * g.kernelHeight * g.kernelWidth
                         : g.inChannels * g.kernelHeight * g.kernelWidth
        paddedWidth = g.inWidth + 2 * g.paddingWidth
        paddedPlane = (g.inHeight + 2 * g.paddingHeight) * paddedWidth
        let rowsPerChunk = max(1, min(g.outHeight, 256 / g.outWidth))
        chunks = (g.outHeight + rowsPerChunk - 1) / rowsPerChunk
    }

    /// Weights per depth block: 48 KiB for rows of 14 pixels or more, 32 KiB below. Larger
    /// than the NCHW direct kernel's 16 KiB: each tile call stores its 24 accumulators
    /// (adding to what is in y) once per depth block, and with 64 steps per call that was
    /// a tenth of the time. Measured in ResNet-18 against 16 KiB: 4-8% faster at 56 and
    /// 28 pixels, 3-4% at 14 and 7; 72 KiB and whole-K sweeps were slower at 7 (layer 4's
    /// 9.4 MB of weights stream from memory, and larger blocks wait longer for them).
    var depthBlockFloats: Int { s.outWidth >= 14 ? 12288 : 8192 }

    /// Whether the blocked kernel runs `g`: AVX-512 (as the NCHW direct kernel) and one group.
    static func applies(to g: Conv2DGeometry) -> Bool { CPUFeatures.hasAVX512F && g.groups == 1 }

    /// Pieces go block after block when the packed weights do not stay in L2 (as in
    /// DirectConvolution): each block's weights are then read once for all images of a run.
    var blockMajor: Bool { s.outChannels * k * 4 > 3 << 19 }

    func rows(ofChunk c: Int) -> Range<Int> { s.outHeight * c / chunks ..< s.outHeight * (c + 1) / chunks }

    /// Where image n's input is read: the first tap of output pixel (0, 0), and the floats
    /// between output rows, between the pixels of a row, and per step.
    struct Source {
        var origin: UnsafePointer<Float>
        var rowStride: Int
        var pixelStride: Int
        var offsets: UnsafePointer<Int>
    }

    /// `offsets[t]` for a blocked input laid out as `x`: t = (cb, u, v, lane).
    func blockedOffsets(_ x: BlockedActivations) -> [Int] {
        let (kh, kw) = (s.kernelHeight, s.kernelWidth)
        var offsets = [Int](repeating: 0, count: k)
        var t = 0
        for cb in 0..<(s.inChannels + 15) / 16 {
            for u in 0..<kh {
                for v in 0..<kw {
                    for lane in 0..<16 { offsets[t] = cb * x.blockFloats + u * x.rowFloats + v * 16 + lane; t += 1 }
                }
            }
        }
        return offsets
    }

    /// Where the sums go: blocked activations (with a blocked residual), or NCHW `y` (with
    /// an NCHW residual), each piece's sums then made in a per-thread scratch and transposed
    /// into `y` as soon as the piece is done, while they are still in cache.
    enum Output {
        case blocked(BlockedActivations, residual: BlockedActivations?, relu: Bool)
        case nchw(UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool)
    }

    /// Floats of the scratch of one piece with an NCHW output: 64 channels of a chunk's pixels.
    var chunkScratchFloats: Int { 64 * ((s.outHeight + chunks - 1) / chunks) * s.outWidth }

    /// The piece (block b's channels, chunk's rows, image n) = epilogue(W x), into `output`.
    func run(block b: Int, chunk: Int, image n: Int, source: Source, weights: BlockedConvolutionWeights, output: Output) {
        let (c0, lanes, _) = weights.packed.block(b)
        switch output {
        case let .blocked(y, residual, relu):
            accumulate(block: b, chunk: chunk, source: source, weights: weights, relu: relu) { i in
                (y.pixel(n, c0 / 16, i, 0), y.blockFloats,
                 residual.map { (UnsafePointer($0.pixel(n, c0 / 16, i, 0)), $0.blockFloats) })
            }
        case let .nchw(y, residual, relu):
            let rows = rows(ofChunk: chunk)
            let pixels = rows.count * s.outWidth
            ConvWorkspaces.with(chunkScratchFloats) { scratch in
                accumulate(block: b, chunk: chunk, source: source, weights: weights, relu: false) { i in
                    (scratch + (i - rows.lowerBound) * s.outWidth * 16, pixels * 16, nil)
                }
                let plane = s.outHeight * s.outWidth
                for c in stride(from: c0, to: min(c0 + lanes, s.outChannels), by: 16) {
                    let first = (n * s.outChannels + c) * plane + rows.lowerBound * s.outWidth
                    storeRunNCHW(scratch + (c - c0) * pixels, pixels: pixels, lanes: min(16, s.outChannels - c),
                                 into: y + first, plane: plane, residual: residual.map { $0 + first }, relu: relu)
                }
            }
        }
    }

    /// The sums of block b's channels over the chunk's rows, depth block after depth block:
    /// row i's 16-channel vectors at `target(i).base + 16 j + l * target(i).blockStride`
    /// (pixel j, channel block l), with the bias, `target(i).residual` (blocked, at the same
    /// offsets with its own block stride) and ReLU on the last depth block.
    private func accumulate(block b: Int, chunk: Int, source: Source, weights: BlockedConvolutionWeights, relu: Bool,
                            target: (Int) -> (base: UnsafeMutablePointer<Float>, blockStride: Int,
                                              residual: (UnsafePointer<Float>, blockStride: Int)?)) {
        let (c0, lanes, w) = weights.packed.block(b)
        let outW = s.outWidth
        let kcMax = DirectConvolution.depthBlock(lanes: lanes, k: k, floats: depthBlockFloats)
        let maxWidth = maximumTileWidth(lanes: lanes)
        let tiles = (outW + maxWidth - 1) / maxWidth
        weights.bias.withUnsafeBufferPointer { bias in
            var t0 = 0
            while t0 < k {
                let kc = min(kcMax, k - t0)
                for i in rows(ofChunk: chunk) {
                    let row = target(i)
                    var out = TileOutput(base: row.base, pixelStride: 16, blockStride: row.blockStride, accumulate: t0 > 0)
                    if t0 + kc == k {
                        out.bias = bias.baseAddress! + c0
                        if let residual = row.residual {
                            out.residual = residual.0
                            out.residualPixelStride = 16
                            out.residualBlockStride = residual.blockStride
                        }
                        out.relu = relu
                    }
                    let x = source.origin + i * source.rowStride
                    var j = 0
                    for tile in 0..<tiles {
                        let width = outW * (tile + 1) / tiles - j
                        runDirectTile(lanes: lanes, width: width, kc: kc, x: x + j * source.pixelStride,
                                      pixelStride: source.pixelStride, offsets: source.offsets + t0, w: w + t0 * lanes,
                                      out: out.advanced(by: j))
                        j += width
                    }
                }
                t0 += kc
            }
        }
    }

    /// Whether an NCHW input is copied with its padding (else read in place).
    var copiesImage: Bool { s.paddingHeight > 0 || s.paddingWidth > 0 }
    /// Floats of one image's padded copy (NCHW input).
    var paddedFloats: Int { blockedInput || !copiesImage ? 0 : s.inChannels * paddedPlane }

    /// `offsets[t]` for an NCHW input, t = (c, u, v), in planes `plane` floats apart with
    /// rows `width` wide.
    func imageOffsets(width: Int, plane: Int) -> [Int] {
        var offsets: [Int] = []
        for c in 0..<s.inChannels {
            for u in 0..<s.kernelHeight {
                for v in 0..<s.kernelWidth { offsets.append(c * plane + u * width + v) }
            }
        }
        return offsets
    }

    /// Image n's channels with zero padding around each plane, rows copied whole; each
    /// plane cut into `parts` runs of rows, spread over the threads when `parts` > 1 (an
    /// image has as few as 3 planes).
    func copyPadded(_ image: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, parts: Int = 1) {
        let (h, w, ph, pw) = (s.inHeight, s.inWidth, s.paddingHeight, s.paddingWidth)
        let rows = h + 2 * ph
        let copy = { (item: Int) in
            let (c, part) = item.quotientAndRemainder(dividingBy: parts)
            let plane = dst + c * paddedPlane
            for r in rows * part / parts ..< rows * (part + 1) / parts {
                let row = plane + r * paddedWidth
                let i = r - ph
                guard i >= 0 && i < h else { row.update(repeating: 0, count: paddedWidth); continue }
                row.update(repeating: 0, count: pw)
                (row + pw).update(from: image + (c * h + i) * w, count: w)
                (row + pw + w).update(repeating: 0, count: pw)
            }
        }
        if parts > 1 { Parallelism.forEach(s.inChannels * parts, copy) } else { for item in 0..<s.inChannels { copy(item) } }
    }

    /// `y = act(conv(x) + bias + residual)`: x blocked (`blocked`) or NCHW (`image`).
    func forward(blocked x: BlockedActivations?, image: UnsafePointer<Float>?, weights: BlockedConvolutionWeights,
                 into output: Output) {
        let blocks = weights.packed.blocks.count
        let piecesPerImage = blocks * chunks
        var threads = threadsOverride ?? Parallelism.threadCount
        if s.macs < 1 << 21 && threadsOverride == nil { threads = 1 }
        let offsets: [Int] = x.map(blockedOffsets)
            ?? (copiesImage ? imageOffsets(width: paddedWidth, plane: paddedPlane)
                            : imageOffsets(width: s.inWidth, plane: s.inHeight * s.inWidth))
        offsets.withUnsafeBufferPointer { offsets in
            /// The source of image n: the blocked input in place, or the image (its padded copy in `ws`).
            func source(_ n: Int, ws: UnsafeMutablePointer<Float>?, copyParts: Int = 1) -> Source {
                if let x {
                    let origin = x.pixel(n, 0, -s.paddingHeight, -s.paddingWidth)
                    return Source(origin: origin, rowStride: s.strideHeight * x.rowFloats,
                                  pixelStride: s.strideWidth * 16, offsets: offsets.baseAddress!)
                }
                let xn = image! + n * s.inChannels * s.inHeight * s.inWidth
                guard copiesImage else {               // no padding: the image is read in place
                    return Source(origin: xn, rowStride: s.strideHeight * s.inWidth, pixelStride: s.strideWidth,
                                  offsets: offsets.baseAddress!)
                }
                copyPadded(xn, into: ws!, parts: copyParts)
                return Source(origin: ws!, rowStride: s.strideHeight * paddedWidth, pixelStride: s.strideWidth,
                              offsets: offsets.baseAddress!)
            }
            /// Images `images`, all their pieces, on this thread.
            func whole(_ images: Range<Int>, ws: UnsafeMutablePointer<Float>?) {
                if blockMajor && x != nil {
                    let sources = images.map { source($0, ws: nil) }
                    for b in 0..<blocks {
                        for (r, n) in images.enumerated() {
                            for c in 0..<chunks {
                                run(block: b, chunk: c, image: n, source: sources[r], weights: weights, output: output)
                            }
                        }
                    }
                    return
                }
                for n in images {
                    let src = source(n, ws: ws)
                    for piece in 0..<piecesPerImage {
                        let (c, b) = piece.quotientAndRemainder(dividingBy: blocks)
                        run(block: b, chunk: c, image: n, source: src, weights: weights, output: output)
                    }
                }
            }
            func withImageCopy(_ body: (UnsafeMutablePointer<Float>?) -> Void) {
                if paddedFloats > 0 { ConvWorkspaces.with(paddedFloats) { body($0) } } else { body(nil) }
            }
            let batch = s.batch
            if threads <= 1 {
                withImageCopy { whole(0..<batch, ws: $0) }
                return
            }
            if wholeImagesOverride ?? Parallelism.takesWholeItems(batch, threads: threads) {
                Parallelism.run(threads) { t in
                    let images = batch * t / threads ..< batch * (t + 1) / threads
                    if !images.isEmpty { withImageCopy { whole(images, ws: $0) } }
                }
                return
            }
            // Fewer images than threads: share each image's pieces (the padded copy of an
            // NCHW image is made once, before).
            for n in 0..<batch {
                withImageCopy { ws in
                    let src = source(n, ws: ws, copyParts: threads)
                    Parallelism.run(threads) { t in
                        for piece in piecesPerImage * t / threads ..< piecesPerImage * (t + 1) / threads {
                            let (b, c) = blockMajor ? piece.quotientAndRemainder(dividingBy: chunks)
                                                    : (piece % blocks, piece / blocks)
                            run(block: b, chunk: c, image: n, source: src, weights: weights, output: output)
                        }
                    }
                }
            }
        }
    }
}

extension BlockedConvolution {
    /// Whether an NCHW convolution (``Fast/conv2d(_:weight:packed:bias:geometry:residual:relu:into:)``)
    /// runs through the image entry here and a transpose into NCHW: an image-like input (at
    /// most 4 channels), a stride of 2 or more, groups 1, AVX-512. The NCHW direct kernel
    /// would first copy the image into stride phase planes (16 of them per channel at
    /// stride 4), gathering every fourth float; this reads the padded planes at the stride.
    /// Measured at batch 1 / 8, one thread: AlexNet's conv1 (11 x 11 / 4) 0.87 / 7.1 ms
    /// for the convolution alone against the direct kernel's 1.04 / 9.0.
    static func runsImage(_ g: Conv2DGeometry) -> Bool {
        applies(to: g) && g.inChannels <= 4 && (g.strideHeight > 1 || g.strideWidth > 1)
    }

    /// `y` (NCHW) = act(conv(x) + bias + residual) for an NCHW image `x`: each piece's
    /// sums with the bias in a scratch, transposed into `y` with the residual and ReLU.
    static func forwardImage(_ x: UnsafePointer<Float>, packed: PackedConvolutionWeights, bias: UnsafePointer<Float>?,
                             geometry g: Conv2DGeometry, residual: UnsafePointer<Float>?, relu: Bool,
                             into y: UnsafeMutablePointer<Float>) {
        BlockedConvolution(g, blockedInput: false).forward(blocked: nil, image: x,
                                                            weights: BlockedConvolutionWeights(packed: packed, bias: bias),
                                                            into: .nchw(y, residual: residual, relu: relu))
    }

    /// Whether an NCHW convolution with prepacked weights runs blocked: converted to
    /// NCHW16c (16 x 16 register transposes), convolved here, and transposed back piece
    /// by piece (see ``Output``), as ONNX
    /// Runtime runs a Conv node (a reorder each side of its NCHWc kernel). At least 16
    /// input channels (images take the image entry) and 64 output channels, groups 1,
    /// AVX-512; not a 1x1 with stride 1 and no padding, whose input is already the
    /// implicit GEMM's matrix. Measured on one thread at batch 1, the convolution alone
    /// against the NCHW direct kernel: ResNet's 3x3 on 64 channels 1.38 ms (1.59), its
    /// 3x3/2 128 -> 256 2.76 ms (3.14), VGG's 3x3 on 512 channels 5.77 ms (6.15); the
    /// conversions 0.02-0.1 ms. With the conversions, in the bench (two runs, alternating
    /// with the binary before): ResNet's 3x3 1.45-1.53 ms (1.54-1.58), its 3x3/2 2.93-3.13
    /// (3.24), VGG's even; Inception's 5x5 to 32 channels was 1-6% slower, so it stays NCHW.
    /// Then each piece's sums transposed while still in cache (not a whole blocked output
    /// written and read back), and the input's transposes running across row ends (VGG's
    /// rows of 14 went one value at a time; its conversion fell from 0.11 to 0.02 ms), three
    /// runs alternating with the binary before: VGG 5.45-5.62 ms (5.63-5.81), 3x3/2
    /// 2.84-2.89 (2.88-2.98), ResNet's 3x3 even.
    static func runsNCHW(_ g: Conv2DGeometry) -> Bool {
        let pointwise = g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && g.paddingHeight == 0 && g.paddingWidth == 0
        return applies(to: g) && g.inChannels >= 16 && g.outChannels >= 64 && !pointwise
    }

    /// `y` (NCHW) = act(conv(x) + bias + residual) for NCHW `x`, through the blocked layout;
    /// `packed` is the direct kernel's packing, which keeps the blocked one beside it.
    static func forwardNCHW(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedConvolutionWeights,
                            bias: UnsafePointer<Float>?, geometry g: Conv2DGeometry, residual: UnsafePointer<Float>?,
                            relu: Bool, into y: UnsafeMutablePointer<Float>) {
        let input = BlockedActivations(nchw: x, batch: g.batch, channels: g.inChannels, height: g.inHeight, width: g.inWidth,
                                       border: max(g.paddingHeight, g.paddingWidth))
        let weights = BlockedConvolutionWeights(packed: packed.forBlockedInput(weight, geometry: g), bias: bias, blockedInput: true)
        BlockedConvolution(g, blockedInput: true).forward(blocked: input, image: nil, weights: weights,
                                                           into: .nchw(y, residual: residual, relu: relu))
    }
}

extension Fast {
    /// `y = act(conv(x) + bias + residual)` with x, y (and the residual) blocked:
    /// `x` has at least the convolution's padding as border; y and residual have the
    /// geometry's output shape (any border). Groups 1; AVX-512 only
    /// (``BlockedConvolution/applies(to:)``).
    public static func conv2dBlocked(_ x: BlockedActivations, weights: BlockedConvolutionWeights, geometry g: Conv2DGeometry,
                                     residual: BlockedActivations? = nil, relu: Bool = false, into y: BlockedActivations) {
        checkBlocked(g, weights: weights, blockedInput: true, residual: residual, y: y)
        precondition(x.shape == g.inputShape.dimensions, "conv2dBlocked: input \(x.shape), geometry wants \(g.inputShape.dimensions)")
        precondition(x.border >= g.paddingHeight && x.border >= g.paddingWidth,
                     "conv2dBlocked: input border \(x.border) is less than the padding (\(g.paddingHeight), \(g.paddingWidth))")
        BlockedConvolution(g, blockedInput: true).forward(blocked: x, image: nil, weights: weights,
                                                           into: .blocked(y, residual: residual, relu: relu))
    }

    /// The same from an NCHW image `x` (`[batch, inChannels, h, w]`) to blocked y: a
    /// network's first convolution.
    public static func conv2dBlocked(image x: UnsafeBufferPointer<Float>, weights: BlockedConvolutionWeights,
                                     geometry g: Conv2DGeometry, residual: BlockedActivations? = nil, relu: Bool = false,
                                     into y: BlockedActivations) {
        checkBlocked(g, weights: weights, blockedInput: false, residual: residual, y: y)
        checkCount(x.count, equals: g.inputShape.count, "x \(g.inputShape.dimensions)", in: "conv2dBlocked")
        BlockedConvolution(g, blockedInput: false).forward(blocked: nil, image: x.baseAddress!, weights: weights,
                                                            into: .blocked(y, residual: residual, relu: relu))
    }

    private static func checkBlocked(_ g: Conv2DGeometry, weights: BlockedConvolutionWeights, blockedInput: Bool,
                                     residual: BlockedActivations?, y: BlockedActivations) {
        precondition(BlockedConvolution.applies(to: g), "conv2dBlocked: needs AVX-512 and groups 1 (\(g))")
        precondition(weights.fits(g, blockedInput: blockedInput), "conv2dBlocked: weights packed for another shape or input kind")
        precondition(y.shape == g.outputShape.dimensions, "conv2dBlocked: output \(y.shape), geometry gives \(g.outputShape.dimensions)")
        if let residual {
            precondition(residual.shape == y.shape, "conv2dBlocked: residual \(residual.shape), output \(y.shape)")
        }
    }
}

