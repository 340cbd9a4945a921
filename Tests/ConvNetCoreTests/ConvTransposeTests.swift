import Testing
@testable import ConvNetCore

/// A transposed convolution to test: its sizes and whether it has a bias.
struct ConvTransposeCase: Sendable, CustomStringConvertible {
    var geometry: ConvTranspose2DGeometry
    var bias: Bool
    var description: String { "\(geometry)\(bias ? " + bias" : "")" }

    init(_ n: Int, _ c: Int, _ h: Int, _ w: Int, out: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
         padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = false) {
        geometry = ConvTranspose2DGeometry(batch: n, inChannels: c, inHeight: h, inWidth: w, outChannels: out,
                                           kernel: kernel, stride: stride, padding: padding,
                                           outputPadding: outputPadding, groups: groups)
        self.bias = bias
    }
}

@Suite("Transposed convolution")
struct ConvTransposeTests {
    static let cases: [ConvTransposeCase] = [
        ConvTransposeCase(1, 3, 4, 5, out: 2, kernel: (3, 3), stride: (2, 2), padding: (1, 1), outputPadding: (1, 1), bias: true),
        ConvTransposeCase(3, 4, 5, 4, out: 6, kernel: (3, 2), stride: (2, 3), padding: (1, 0), outputPadding: (1, 2), groups: 2),
        ConvTransposeCase(2, 4, 3, 3, out: 4, kernel: (4, 4), stride: (2, 2), padding: (1, 1), groups: 4, bias: true), // depthwise
        ConvTransposeCase(3, 6, 4, 4, out: 3, kernel: (1, 1), groups: 3, bias: true),                                // 1x1: no col2im
        ConvTransposeCase(1, 2, 3, 4, out: 3, kernel: (5, 5), stride: (3, 3), padding: (2, 2), outputPadding: (2, 1)),
        ConvTransposeCase(3, 5, 6, 6, out: 4, kernel: (3, 3), padding: (1, 1), bias: true),
        ConvTransposeCase(2, 8, 7, 5, out: 4, kernel: (2, 2), stride: (2, 2), groups: 2),                            // U-Net upsampling
        ConvTransposeCase(1, 2, 9, 17, out: 3, kernel: (3, 3), bias: true),                                          // rows wider than a SIMD16
        ConvTransposeCase(1, 1, 1, 1, out: 1, kernel: (1, 1)),
    ]

    static func data(_ c: ConvTransposeCase, seed: UInt64) -> (x: [Float], w: [Float], b: [Float]?, dz: [Float]) {
        let g = c.geometry
        return (randomArray(g.inputShape.count, seed: seed), randomArray(g.weightCount, seed: seed + 1),
                c.bias ? randomArray(g.outChannels, seed: seed + 2) : nil, randomArray(g.outputShape.count, seed: seed + 3))
    }

    @Test("fast conv_transpose2d equals the scatter loops", arguments: cases)
    func fastForwardEqualsNaive(_ c: ConvTransposeCase) {
        let (x, w, b, _) = Self.data(c, seed: 110)
        let naive = Naive.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry)
        let fast = Fast.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(naive.count == c.geometry.outputShape.count)
        #expect(relativeError(fast, naive) < 1e-5)
    }

    @Test("fast conv_transpose2d backward equals the scatter loops' chain rule", arguments: cases)
    func fastBackwardEqualsNaive(_ c: ConvTransposeCase) {
        let (x, w, _, dz) = Self.data(c, seed: 120)
        let naive = Naive.convTranspose2dBackward(x, weight: w, outputGradient: dz, geometry: c.geometry)
        let fast = Fast.convTranspose2dBackward(x, weight: w, outputGradient: dz, geometry: c.geometry)
        #expect(relativeError(fast.input, naive.input) < 1e-5)
        #expect(relativeError(fast.weight, naive.weight) < 1e-5)
        #expect(relativeError(fast.bias, naive.bias) < 1e-5)
    }

    @Test("naive conv_transpose2d backward equals finite differences for x, weight and bias",
          arguments: [ConvTransposeCase(2, 3, 3, 4, out: 2, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                        outputPadding: (1, 1), bias: true),
                      ConvTransposeCase(1, 4, 3, 3, out: 4, kernel: (2, 3), stride: (1, 2), padding: (0, 1),
                                        outputPadding: (0, 1), groups: 2, bias: true)])
    func backwardMatchesFiniteDifferences(_ c: ConvTransposeCase) {
        let g = c.geometry
        let x: [Double] = randomArray(g.inputShape.count, seed: 140)
        let w: [Double] = randomArray(g.weightCount, seed: 141)
        let b: [Double] = randomArray(g.outChannels, seed: 142)
        let dz: [Double] = randomArray(g.outputShape.count, seed: 143)
        let analytic = Naive.convTranspose2dBackward(x, weight: w, outputGradient: dz, geometry: g)
        let dx = numericalGradient(of: { dot(Naive.convTranspose2d($0, weight: w, bias: b, geometry: g), dz) }, at: x)
        let dw = numericalGradient(of: { dot(Naive.convTranspose2d(x, weight: $0, bias: b, geometry: g), dz) }, at: w)
        let db = numericalGradient(of: { dot(Naive.convTranspose2d(x, weight: w, bias: $0, geometry: g), dz) }, at: b)
        #expect(relativeError(analytic.input, dx) < 1e-6)
        #expect(relativeError(analytic.weight, dw) < 1e-6)
        #expect(relativeError(analytic.bias, db) < 1e-6)
    }

    @Test("a transposed convolution is the input gradient of its adjoint convolution",
          arguments: [cases[0], cases[1], cases[4]])
    func forwardIsAdjointBackwardData(_ c: ConvTransposeCase) {
        let g = c.geometry
        let adjoint = g.adjointConvolution
        #expect(adjoint.inputShape == g.outputShape)
        #expect(adjoint.outputShape == g.inputShape)
        #expect(adjoint.weightShape == g.weightShape)
        let x: [Double] = randomArray(g.inputShape.count, seed: 150)
        let w: [Double] = randomArray(g.weightCount, seed: 151)
        let anyInput: [Double] = randomArray(adjoint.inputShape.count, seed: 152)
        let viaConv = Naive.conv2dBackward(anyInput, weight: w, outputGradient: x, geometry: adjoint).input
        #expect(relativeError(Naive.convTranspose2d(x, weight: w, bias: nil, geometry: g), viaConv) < 1e-12)
        let fastViaConv = Fast.conv2dBackward(floats(anyInput), weight: floats(w), outputGradient: floats(x), geometry: adjoint).input
        #expect(relativeError(Fast.convTranspose2d(floats(x), weight: floats(w), bias: nil, geometry: g), fastViaConv) < 1e-6)
    }

    @Test("a stride-2, 2x2 transposed convolution pastes one scaled kernel per input pixel, without overlap")
    func upsamplingPastesKernels() {
        let g = ConvTranspose2DGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 3, outChannels: 1,
                                        kernel: (2, 2), stride: (2, 2))
        let x: [Double] = [1, 2, 3, 4, 5, 6]
        let w: [Double] = [1, 10, 100, 1000]
        let z = Naive.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        #expect(z == [1, 10, 2, 20, 3, 30,
                      100, 1000, 200, 2000, 300, 3000,
                      4, 40, 5, 50, 6, 60,
                      400, 4000, 500, 5000, 600, 6000])
        #expect(Fast.convTranspose2d(floats(x), weight: floats(w), bias: nil, geometry: g) == floats(z))
    }
}
