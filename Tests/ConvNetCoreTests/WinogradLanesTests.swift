import Testing
import TestSupport
@testable import ConvNetCore

/// Winograd's F(2 x 2, 3 x 3) with 16 tiles in the lanes (Convolution+FastWinogradLanes.swift):
/// training's forward pass and input gradient against the seven loops, on the shapes
/// that reach every edge of it (odd heights, a last band with a row below the map, two
/// groups of 32 columns, channel counts that are not multiples of the 8-channel tile).
@Suite("Winograd, tiles in the lanes")
struct WinogradLanesTests {
    static let avx512 = CPUFeatures.hasAVX512F

    /// (batch, in channels, height, width, out channels).
    static let shapes: [(Int, Int, Int, Int, Int)] = [
        (1, 1, 1, 32, 1), (2, 3, 2, 32, 8), (1, 16, 5, 32, 16), (2, 12, 7, 64, 20),
        (3, 32, 4, 32, 32), (1, 5, 9, 96, 9), (2, 17, 3, 32, 31), (1, 8, 32, 32, 24),
        // 16 wide: two tile rows per vector (the second, or both of a band's second vector, below odd maps).
        (2, 32, 16, 16, 32), (1, 7, 3, 16, 12), (1, 4, 6, 16, 5), (2, 3, 1, 16, 8), (1, 9, 10, 16, 16),
        // 8 wide, C K > 16 (C + K): four tile rows per vector, bands of two vector rows across images
        // (an odd count over the batch, odd and taller maps).
        (3, 64, 8, 8, 64), (2, 40, 8, 8, 56), (1, 48, 12, 8, 48), (2, 33, 5, 8, 64), (1, 64, 3, 8, 40),
    ]

    static func geometry(_ s: (Int, Int, Int, Int, Int)) -> Conv2DGeometry {
        Conv2DGeometry(batch: s.0, inChannels: s.1, inHeight: s.2, inWidth: s.3, outChannels: s.4,
                       kernel: (3, 3), stride: (1, 1), padding: (1, 1))
    }

    @Test("it applies to 3x3 stride 1 padding 1 on maps 16 or a multiple of 32 wide (at most 32 channels) or 8 wide (at most 64, C K > 16 (C + K)), on AVX-512")
    func applies() {
        #expect(WinogradLaneConvolution.applies(to: Self.geometry((1, 16, 32, 32, 16))) == Self.avx512)
        #expect(WinogradLaneConvolution.applies(to: Self.geometry((1, 16, 16, 16, 16))) == Self.avx512)  // 16 wide
        #expect(WinogradLaneConvolution.applies(to: Self.geometry((1, 64, 8, 8, 64))) == Self.avx512)    // 8 wide
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 32, 8, 8, 32))))        // 8 wide, C K = 16 (C + K)
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 16, 32, 4, 16))))       // 4 wide
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 16, 32, 48, 16))))      // 48 wide
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 64, 32, 32, 16))))      // 64 channels in
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 16, 32, 32, 48))))      // 48 out
        #expect(!WinogradLaneConvolution.applies(to: Self.geometry((1, 96, 8, 8, 96))))        // 96 on 8 wide
        let strided = Conv2DGeometry(batch: 1, inChannels: 16, inHeight: 32, inWidth: 32, outChannels: 16,
                                     kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        #expect(!WinogradLaneConvolution.applies(to: strided))
    }

    @Test("forward with bias, residual and ReLU equals the seven loops", arguments: 0..<shapes.count)
    func forward(_ index: Int) {
        guard Self.avx512 else { return }                       // AVX-512 only (the router takes the direct or implicit kernels elsewhere)
        let g = Self.geometry(Self.shapes[index])
        let seed = UInt64(300 + 10 * index)
        let x: [Float] = randomArray(g.inputShape.count, seed: seed), w: [Float] = randomArray(g.weightCount, seed: seed + 1)
        let b: [Float] = randomArray(g.outChannels, seed: seed + 2), r: [Float] = randomArray(g.outputShape.count, seed: seed + 3)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        let expected = zip(naive, r).map { max($0 + $1, 0) }
        for threads in [1, 2] {
            var conv = WinogradLaneConvolution(g)
            conv.threadsOverride = threads
            let u = conv.transformedWeights { o, i, rr, v in Double(w[(o * g.inChannels + i) * 9 + 3 * rr + v]) }
            var y = [Float](repeating: .nan, count: g.outputShape.count)
            x.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { b in
                    r.withUnsafeBufferPointer { r in
                        y.withUnsafeMutableBufferPointer { y in
                            conv.forward(x: x.baseAddress!, u: u, y: y.baseAddress!,
                                         epilogue: ConvEpilogue(bias: b.baseAddress, residual: r.baseAddress, relu: true))
                        }
                    }
                }
            }
            #expect(relativeError(y, expected) < 1e-5, "threads \(threads)")
        }
        // The router's entries: forward without epilogue, and the input gradient.
        #expect(Fast.conv2dMethod(for: g) == .winogradLanes)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: g), naive) < 1e-5)
    }

    @Test("the input gradient (the turned kernel) equals the seven loops", arguments: 0..<shapes.count)
    func inputGradient(_ index: Int) {
        guard Self.avx512 else { return }                       // AVX-512 only (the router takes the direct or implicit kernels elsewhere)
        let g = Self.geometry(Self.shapes[index])
        let seed = UInt64(400 + 10 * index)
        let w: [Float] = randomArray(g.weightCount, seed: seed), dy: [Float] = randomArray(g.outputShape.count, seed: seed + 1)
        #expect(Fast.conv2dBackwardMethods(for: g).input == .winogradLanes)
        let naive = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
        #expect(relativeError(Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g), naive) < 1e-5)
    }

    @Test("the weight gradient (Gᵀ [Σ Z ⊙ V] G) equals the seven loops, on one thread and two", arguments: 0..<shapes.count)
    func weightGradient(_ index: Int) {
        guard Self.avx512 else { return }
        let g = Self.geometry(Self.shapes[index])
        let seed = UInt64(500 + 10 * index)
        let x: [Float] = randomArray(g.inputShape.count, seed: seed), dy: [Float] = randomArray(g.outputShape.count, seed: seed + 1)
        let pays = g.inWidth != 8 && g.inChannels * g.outChannels >= 16 * (g.inChannels + g.outChannels)
        #expect((Fast.conv2dBackwardMethods(for: g).weight == .winogradLanes) == pays)
        let naive = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: g)
        #expect(relativeError(Fast.conv2dBackwardWeight(x, outputGradient: dy, geometry: g).weight, naive.weight) < 1e-5)
        guard g.inWidth != 8 else { return }                    // no Winograd weight gradient on 8-wide maps
        for threads in [1, 2] {
            var conv = WinogradLaneConvolution(g)
            conv.threadsOverride = threads
            var dw = [Float](repeating: .nan, count: g.weightCount)
            x.withUnsafeBufferPointer { x in
                dy.withUnsafeBufferPointer { dy in
                    dw.withUnsafeMutableBufferPointer { conv.weightGradient(x: x.baseAddress!, dy: dy.baseAddress!, dw: $0.baseAddress!) }
                }
            }
            #expect(relativeError(dw, naive.weight) < 1e-5, "threads \(threads)")
        }
    }

    @Test("on 8-wide maps it replaces the plane kernel only where C K > 16 (C + K)")
    func replacesPlanes() {
        guard Self.avx512 else { return }
        for (c, k, replaces) in [(64, 64, true), (48, 48, true), (32, 64, true), (32, 32, false), (16, 16, false), (64, 16, false)] {
            let g = Self.geometry((2, c, 8, 8, k))
            #expect(WinogradLaneConvolution.replacesPlanes(for: g) == replaces, "\(c) -> \(k)")
            #expect(Fast.conv2dKernelName(g).contains("Winograd") == replaces, "\(c) -> \(k)")
            #expect(PlaneConvolution.appliesForward(to: g) == !replaces, "\(c) -> \(k)")
            #expect(PlaneConvolution.appliesInputGradient(to: g) == !replaces, "\(c) -> \(k)")
        }
    }

    @Test("the filter transform is G g Gᵀ: a filter that is one tap shows G's columns")
    func filterTransform() {
        // g = e(1,1) (the centre tap): G g Gᵀ = G[:,1] G[:,1]ᵀ with G[:,1] = (0, 1/2, -1/2, 0).
        let t = winogradFilterTransform { r, v in r == 1 && v == 1 ? 1 : 0 }
        let column = [0, 0.5, -0.5, 0]
        for i in 0..<4 { for j in 0..<4 { #expect(t[4 * i + j] == column[i] * column[j]) } }
    }
}
