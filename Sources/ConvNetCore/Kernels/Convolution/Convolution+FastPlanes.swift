// The 3x3 "same" convolution (stride 1, padding 1) of maps whose rows divide a vector:
// 4, 8 or 16 pixels wide, so that a SIMD16 holds 4, 2 or 1 whole rows of one image's
// channel plane, read straight from NCHW. Used for the forward pass and the input
// gradient of small nets on small maps (the degradation nets' 16 channels at 8x8 and 32
// at 4x4), where a vector of output channels (the direct kernel) has too few pixels per
// row to fill its registers, and the shared-border layout (Convolution+FastSmall.swift)
// computes a third of its positions on borders at 4x4.
//
// Each tap (ky, kx) of a vector of output pixels is one unaligned load of the input
// plane shifted by (ky - 1) * W + (kx - 1): the plane is copied once per image with 32
// zeros before and after it (the rows above the first and below the last), in three
// versions, as is, with its last column zeroed (read by the kx = 0 taps: what they read
// past a row's start is the previous row's last pixel) and with its first column zeroed
// (read by the kx = 2 taps). No masks, no junk: every multiply-add is a real one. The
// register tile is 16 output channels x one vector (or 8 x two), 16 accumulators; each
// weight is broadcast from memory inside its FMA (`vfmadd231ps zmm, zmm, [w]{1to16}`).
// The epilogue (bias, residual, ReLU) is applied as the tile is stored. Threads share
// the images.

/// The plane kernel of a 3x3, stride-1, padding-1 convolution of groups 1 (see above).
struct PlaneConvolution {
    typealias V = SIMD16<Float>
    let s: Conv2DGeometry
    /// H * W.
    let plane: Int
    /// Floats of a plane copy with its margins.
    let padded: Int
    /// Zeros before and after a plane copy (at least a row and a pixel).
    static let margin = 32

    /// What it computes: AVX-512, 3x3, stride 1, padding 1, groups 1, rows of 4, 8 or 16
    /// pixels, whole vectors per plane, output channels in sixteens (or in eights with an
    /// even number of vectors per plane).
    static func fits(_ s: Conv2DGeometry, outChannels: Int) -> Bool {
        CPUFeatures.hasAVX512F && s.groups == 1 && s.kernelHeight == 3 && s.kernelWidth == 3
            && s.strideHeight == 1 && s.strideWidth == 1 && s.paddingHeight == 1 && s.paddingWidth == 1
            && [4, 8, 16].contains(s.inWidth) && (s.inHeight * s.inWidth) % 16 == 0
            && s.inChannels <= 64 && s.outChannels <= 64
            && (outChannels % 16 == 0 || (outChannels % 8 == 0 && (s.inHeight * s.inWidth / 16) % 2 == 0))
    }

    /// Where the router runs it (forward): measured faster than the kernels it replaces;
    /// not where Winograd with tiles in the lanes takes 8-wide maps of many channels
    /// (``WinogradLaneConvolution/replacesPlanes(for:)``, measured faster still).
    static func appliesForward(to s: Conv2DGeometry) -> Bool {
        Fast.usesSmallConvolution && fits(s, outChannels: s.outChannels) && s.inHeight * s.inWidth <= 64
            && !WinogradLaneConvolution.replacesPlanes(for: s)
    }

    /// Where the router runs it for the input gradient (dx's channels are the outputs).
    static func appliesInputGradient(to s: Conv2DGeometry) -> Bool {
        Fast.usesSmallConvolution && fits(s, outChannels: s.inChannels) && s.inHeight * s.inWidth <= 64
            && !WinogradLaneConvolution.replacesPlanes(for: s)
    }

    init(_ geometry: Conv2DGeometry) {
        s = geometry
        plane = s.inHeight * s.inWidth
        padded = Self.margin + plane + Self.margin
    }

    /// The three copies of one image's `channels` planes at `src`: [copy][channel][padded].
    func buildCopies(_ src: UnsafePointer<Float>, channels: Int, _ dst: UnsafeMutablePointer<Float>) {
        let w = s.inWidth, m = Self.margin
        for copy in 0..<3 {
            for c in 0..<channels {
                let p = dst + (copy * channels + c) * padded
                for i in 0..<m / 16 { store16(V(), p + 16 * i); store16(V(), p + m + plane + 16 * i) }
                var i = 0
                while i < plane { store16(load16(src + c * plane + i), p + m + i); i += 16 }
                if copy == 0 { var r = w - 1; while r < plane { p[m + r] = 0; r += w } }
                if copy == 2 { var r = 0; while r < plane { p[m + r] = 0; r += w } }
            }
        }
    }

    /// The nine taps' offsets from a channel's plane start in copy 0 (copy kx for tap kx).
    func offsets(channels: Int) -> [Int] {
        (0..<9).map { t in (t % 3) * channels * padded + Self.margin + (t / 3 - 1) * s.inWidth + (t % 3 - 1) }
    }

    /// Weights [out][in][3][3] packed [out / lanes][in][tap][lanes]; `turned`: the input
    /// gradient's, W'[c][o][t] = W[o][c][8 - t] (outputs are then the input channels).
    static func pack(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, lanes: Int, turned: Bool) -> [Float] {
        let (rows, cols) = turned ? (inChannels, outChannels) : (outChannels, inChannels)
        var packed = [Float](repeating: 0, count: rows * cols * 9)
        for r in 0..<rows {
            for c in 0..<cols {
                for t in 0..<9 {
                    let value = turned ? weight[(c * inChannels + r) * 9 + 8 - t] : weight[(r * inChannels + c) * 9 + t]
                    packed[((r / lanes * cols + c) * 9 + t) * lanes + r % lanes] = value
                }
            }
        }
        return packed
    }

    /// `y` (NCHW, `outChannels`) = act(correlation of `x` (NCHW, `inChannels`) + bias + residual).
    func correlate(_ x: UnsafePointer<Float>, inChannels: Int, packed: UnsafePointer<Float>, outChannels: Int,
                   bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool, _ y: UnsafeMutablePointer<Float>) {
        let lanes = outChannels % 16 == 0 ? 16 : 8
        let vectors = plane / 16, plane = plane, padded = padded
        let tapOffsets = offsets(channels: inChannels)
        tapOffsets.withUnsafeBufferPointer { offsets in
            let off = offsets.baseAddress!
            Parallelism.forEachChunk(s.batch) { _, images in
                let copies = UnsafeMutableRawPointer.allocate(byteCount: 3 * inChannels * padded * 4, alignment: 64)
                    .bindMemory(to: Float.self, capacity: 3 * inChannels * padded)
                defer { copies.deallocate() }
                for n in images {
                    buildCopies(x + n * inChannels * plane, channels: inChannels, copies)
                    let yImage = y + n * outChannels * plane
                    let rImage = residual.map { $0 + n * outChannels * plane }
                    for b in 0..<outChannels / lanes {
                        let w = packed + b * inChannels * 9 * lanes
                        @inline(__always) func put(_ o: Int, _ v: Int, _ acc: V) {
                            let channel = b * lanes + o
                            var value = acc
                            if let bias { value += V(repeating: bias[channel]) }
                            if let rImage { value += load16(rImage + channel * plane + v * 16) }
                            if relu { value = value.replacing(with: 0, where: value .< 0) }
                            store16(value, yImage + channel * plane + v * 16)
                        }
                        if lanes == 16 {
                            for v in 0..<vectors {
                                Self.tile16x1(copies + v * 16, channels: inChannels, padded: padded, offsets: off, weights: w) { put($0, v, $1) }
                            }
                        } else {
                            var v = 0
                            while v < vectors {
                                Self.tile8x2(copies + v * 16, channels: inChannels, padded: padded, offsets: off, weights: w) { o, j, acc in
                                    put(o, v + j, acc)
                                }
                                v += 2
                            }
                        }
                    }
                }
            }
        }
    }

    /// 16 output channels x one vector of pixels.
    @inline(__always)
    static func tile16x1(_ x: UnsafePointer<Float>, channels: Int, padded: Int, offsets: UnsafePointer<Int>,
                         weights: UnsafePointer<Float>, _ put: (Int, V) -> Void) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
        var a8 = V(), a9 = V(), a10 = V(), a11 = V(), a12 = V(), a13 = V(), a14 = V(), a15 = V()
        var w = weights, base = x
        for _ in 0..<channels {
            for t in 0..<9 {
                let v = load16(base + offsets[t])
                a0.addProduct(v, V(repeating: w[0])); a1.addProduct(v, V(repeating: w[1]))
                a2.addProduct(v, V(repeating: w[2])); a3.addProduct(v, V(repeating: w[3]))
                a4.addProduct(v, V(repeating: w[4])); a5.addProduct(v, V(repeating: w[5]))
                a6.addProduct(v, V(repeating: w[6])); a7.addProduct(v, V(repeating: w[7]))
                a8.addProduct(v, V(repeating: w[8])); a9.addProduct(v, V(repeating: w[9]))
                a10.addProduct(v, V(repeating: w[10])); a11.addProduct(v, V(repeating: w[11]))
                a12.addProduct(v, V(repeating: w[12])); a13.addProduct(v, V(repeating: w[13]))
                a14.addProduct(v, V(repeating: w[14])); a15.addProduct(v, V(repeating: w[15]))
                w += 16
            }
            base += padded
        }
        put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
        put(8, a8); put(9, a9); put(10, a10); put(11, a11); put(12, a12); put(13, a13); put(14, a14); put(15, a15)
    }

    /// 8 output channels x two vectors of pixels.
    @inline(__always)
    static func tile8x2(_ x: UnsafePointer<Float>, channels: Int, padded: Int, offsets: UnsafePointer<Int>,
                        weights: UnsafePointer<Float>, _ put: (Int, Int, V) -> Void) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V()
        var w = weights, base = x
        for _ in 0..<channels {
            for t in 0..<9 {
                let p = base + offsets[t]
                let u = load16(p), v = load16(p + 16)
                var k = V(repeating: w[0]); a0.addProduct(u, k); b0.addProduct(v, k)
                k = V(repeating: w[1]); a1.addProduct(u, k); b1.addProduct(v, k)
                k = V(repeating: w[2]); a2.addProduct(u, k); b2.addProduct(v, k)
                k = V(repeating: w[3]); a3.addProduct(u, k); b3.addProduct(v, k)
                k = V(repeating: w[4]); a4.addProduct(u, k); b4.addProduct(v, k)
                k = V(repeating: w[5]); a5.addProduct(u, k); b5.addProduct(v, k)
                k = V(repeating: w[6]); a6.addProduct(u, k); b6.addProduct(v, k)
                k = V(repeating: w[7]); a7.addProduct(u, k); b7.addProduct(v, k)
                w += 8
            }
            base += padded
        }
        put(0, 0, a0); put(1, 0, a1); put(2, 0, a2); put(3, 0, a3); put(4, 0, a4); put(5, 0, a5); put(6, 0, a6); put(7, 0, a7)
        put(0, 1, b0); put(1, 1, b1); put(2, 1, b2); put(3, 1, b3); put(4, 1, b4); put(5, 1, b5); put(6, 1, b6); put(7, 1, b7)
    }

    /// The forward pass: `y` = act(conv(x) + bias + residual).
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        let lanes = s.outChannels % 16 == 0 ? 16 : 8
        let packed = Self.pack(weight, outChannels: s.outChannels, inChannels: s.inChannels, lanes: lanes, turned: false)
        packed.withUnsafeBufferPointer {
            correlate(x, inChannels: s.inChannels, packed: $0.baseAddress!, outChannels: s.outChannels,
                      bias: bias, residual: residual, relu: relu, y)
        }
    }

    /// The input gradient: the correlation of dy with the turned weights.
    func inputGradient(weight: [Float], dy: [Float]) -> [Float] {
        let lanes = s.inChannels % 16 == 0 ? 16 : 8
        let packed = weight.withUnsafeBufferPointer {
            Self.pack($0.baseAddress!, outChannels: s.outChannels, inChannels: s.inChannels, lanes: lanes, turned: true)
        }
        return [Float](unsafeUninitializedCapacity: s.inputShape.count) { dx, initialized in
            packed.withUnsafeBufferPointer { packed in
                dy.withUnsafeBufferPointer { dy in
                    correlate(dy.baseAddress!, inChannels: s.outChannels, packed: packed.baseAddress!, outChannels: s.inChannels,
                              bias: nil, residual: nil, relu: false, dx.baseAddress!)
                }
            }
            initialized = s.inputShape.count
        }
    }
}
