import Testing
@testable import ConvNetCore

/// The router of Convolution+Fast.swift: which kernel runs for which geometry on this CPU,
/// and that every kernel it routes to gives the seven loops' numbers.
@Suite("Convolution router")
struct ConvolutionRouterTests {
    /// A geometry and the kernels expected for it: forward (training, and with weights
    /// packed once), input gradient, weight gradient.
    struct Route: Sendable, CustomStringConvertible {
        var name: String
        var c: ConvCase
        var forward: ConvolutionMethod, prepacked: ConvolutionMethod
        var input: ConvolutionMethod, weight: ConvolutionMethod
        var description: String { "\(name): \(c)" }
    }

    static let avx512 = CPUFeatures.hasAVX512F

    /// One geometry for every branch of the map (on AVX-512; elsewhere the AVX-512 kernels
    /// give way to the implicit GEMM, and the RGB image's strided input gradient to im2col).
    static let routes: [Route] = [
        Route(name: "ResNeXt's 32 groups of 4 channels",
              c: ConvCase(1, 32, 10, 9, out: 32, kernel: (3, 3), padding: (1, 1), groups: 8, bias: true),
              forward: .grouped, prepacked: .grouped, input: .grouped, weight: .grouped),
        Route(name: "3x3 on 36 x 36 pixels: enough to pack the weights on the call",
              c: ConvCase(1, 16, 36, 36, out: 32, kernel: (3, 3), padding: (1, 1), bias: true),
              forward: avx512 ? .direct : .implicitGEMM, prepacked: avx512 ? .direct : .implicitGEMM,
              input: avx512 ? .direct : .implicitGEMM, weight: .directWeightGradient),
        Route(name: "3x3 on a map 32 wide, at most 32 channels: Winograd with tiles in the lanes (training)",
              c: ConvCase(2, 12, 5, 32, out: 20, kernel: (3, 3), padding: (1, 1), bias: true),
              forward: avx512 ? .winogradLanes : .implicitGEMM, prepacked: avx512 ? .direct : .implicitGEMM,
              input: avx512 ? .winogradLanes : .implicitGEMM, weight: .directWeightGradient),
        Route(name: "the same with 32 channels in and out: its weight gradient by Winograd too",
              c: ConvCase(2, 32, 3, 16, out: 32, kernel: (3, 3), padding: (1, 1), bias: true),
              forward: avx512 ? .winogradLanes : .implicitGEMM, prepacked: avx512 ? .direct : .implicitGEMM,
              input: avx512 ? .winogradLanes : .implicitGEMM, weight: avx512 ? .winogradLanes : .directWeightGradient),
        Route(name: "1x1 with stride 1: the input is the GEMM's matrix",
              c: ConvCase(2, 48, 6, 7, out: 24, kernel: (1, 1), bias: true),
              forward: .implicitGEMM, prepacked: .implicitGEMM, input: .implicitGEMM, weight: .directWeightGradient),
        Route(name: "an RGB image with stride 2",
              c: ConvCase(1, 3, 64, 64, out: 16, kernel: (7, 7), stride: (2, 2), padding: (3, 3), bias: true),
              forward: avx512 ? .blockedImage : .implicitGEMM, prepacked: avx512 ? .blockedImage : .implicitGEMM,
              input: avx512 ? .stridedInput : .im2colGEMM, weight: .directWeightGradient),
        Route(name: "stride 2 on 4 channels: few pixels, few channels",
              c: ConvCase(2, 4, 16, 15, out: 8, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: true),
              forward: .implicitGEMM, prepacked: avx512 ? .blockedImage : .implicitGEMM,
              input: .im2colGEMM, weight: .implicitWeightGradient),
        Route(name: "stride 2 on 32 channels to 64",
              c: ConvCase(2, 32, 12, 12, out: 64, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: true),
              forward: .implicitGEMM, prepacked: avx512 ? .blocked : .implicitGEMM,
              input: .stridedInput, weight: .directWeightGradient),
        Route(name: "3x3 on 8 x 8 pixels to 96 channels",
              c: ConvCase(1, 16, 8, 8, out: 96, kernel: (3, 3), padding: (1, 1), bias: true),
              forward: .implicitGEMM, prepacked: avx512 ? .blocked : .implicitGEMM,
              input: avx512 ? .direct : .implicitGEMM, weight: .implicitWeightGradient),
        Route(name: "2 groups of 32 channels to 8: dense, but its input gradient is grouped",
              c: ConvCase(1, 64, 8, 8, out: 16, kernel: (3, 3), padding: (1, 1), groups: 2),
              forward: .implicitGEMM, prepacked: avx512 ? .direct : .implicitGEMM,
              input: .grouped, weight: .implicitWeightGradient),
    ]

    @Test("the router names the expected kernel for each geometry on this CPU", arguments: routes)
    func methods(_ r: Route) {
        let g = r.c.geometry
        #expect(Fast.conv2dMethod(for: g) == r.forward)
        #expect(Fast.conv2dMethod(for: g, prepacked: true) == r.prepacked)
        let backward = Fast.conv2dBackwardMethods(for: g)
        #expect(backward.input == r.input)
        #expect(backward.weight == r.weight)
    }

    @Test("the geometries above reach every branch of the router on this CPU")
    func everyBranchIsReached() {
        let forward = Set(Self.routes.flatMap { [$0.forward, $0.prepacked] })
        let input = Set(Self.routes.map(\.input)), weight = Set(Self.routes.map(\.weight))
        if Self.avx512 {
            #expect(forward == [.grouped, .blocked, .blockedImage, .direct, .winogradLanes, .implicitGEMM])
            #expect(input == [.grouped, .direct, .winogradLanes, .implicitGEMM, .stridedInput, .im2colGEMM])
        } else {
            #expect(forward == [.grouped, .implicitGEMM])
            #expect(input == [.grouped, .implicitGEMM, .stridedInput, .im2colGEMM])
        }
        #expect(weight == (Self.avx512 ? [.grouped, .winogradLanes, .directWeightGradient, .implicitWeightGradient]
                                        : [.grouped, .directWeightGradient, .implicitWeightGradient]))
    }

    @Test("each routed kernel equals the seven loops: forward, with packed weights, and both gradients", arguments: routes)
    func routedKernelsEqualNaive(_ r: Route) {
        let g = r.c.geometry
        let (x, w, b, dy) = ConvolutionTests.data(r.c, seed: 140)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: g)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: g), naive) < 1e-5, "\(r.forward)")
        let packed = PackedConvolutionWeights(weight: w, geometry: g)
        let prepacked = BlockedConvolutionTests.conv2d(x, weight: w, packed: packed, bias: b, geometry: g, residual: nil,
                                                       relu: false)
        #expect(relativeError(prepacked, naive) < 1e-5, "\(r.prepacked)")
        let naiveBack = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        let fast = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        #expect(relativeError(fast.input, naiveBack.input) < 1e-5, "\(r.input)")
        #expect(relativeError(fast.weight, naiveBack.weight) < 1e-5, "\(r.weight)")
        #expect(relativeError(fast.bias, naiveBack.bias) < 1e-5)
    }

    @Test("blocked inference: Winograd for 3x3 stride 1 with tiles enough, the blocked direct kernel otherwise; both equal the seven loops",
          arguments: [(ConvCase(1, 16, 14, 14, out: 32, kernel: (3, 3), padding: (1, 1), bias: true), ConvolutionMethod.winograd),
                      (ConvCase(1, 16, 14, 14, out: 32, kernel: (3, 3), stride: (2, 2), padding: (1, 1), bias: true), .blocked),
                      (ConvCase(2, 24, 9, 9, out: 40, kernel: (1, 1), bias: true), .blocked)])
    func blockedInference(_ c: ConvCase, _ expected: ConvolutionMethod) {
        let g = c.geometry
        #expect(Fast.conv2dBlockedMethod(for: g) == (Self.avx512 ? expected : .blocked))
        guard Self.avx512 else { return }                       // no blocked path without AVX-512
        let conv = Conv2d(g.inChannels, g.outChannels, kernel: (g.kernelHeight, g.kernelWidth),
                          stride: (g.strideHeight, g.strideWidth), padding: (g.paddingHeight, g.paddingWidth))
            .initialize(seed: 150)
        conv.eval()
        let x: [Float] = randomArray(g.inputShape.count, seed: 151)
        let naive = Naive.conv2d(x, weight: conv.weight.value.data, bias: conv.bias?.value.data, geometry: g)
        let y = conv.inferBlocked(BlockedConvolutionTests.blocked(x, g.inputShape, border: 1), batchNorm: nil, relu: false)
        #expect(relativeError(y.tensor().data, naive) < 1e-5)
    }

    @Test("each method has a title and names its file")
    func titles() {
        for method in ConvolutionMethod.allCases {
            #expect(!method.title.isEmpty)
            #expect(method.file.hasPrefix("Convolution+Fast") && method.file.hasSuffix(".swift"))
        }
        #expect(ConvolutionMethod.direct.title == "direct, 6 px x 64 ch register tiles (AVX-512)")
    }
}
