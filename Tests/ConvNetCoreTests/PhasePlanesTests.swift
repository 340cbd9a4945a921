import Testing
import TestSupport
@testable import ConvNetCore

@Suite("Phase planes: the padded input cut by stride phase, as the direct kernels read it")
struct PhasePlanesTests {
    /// Stride 1 (its own loop), stride 2 with phase rows of 16 or more (both phases from one
    /// copy, 16 columns at a time) and fewer, stride 3 and unequal strides (the general loop);
    /// padding 0 to 3.
    static let cases: [ConvCase] = [
        ConvCase(1, 3, 32, 32, out: 16, kernel: (3, 3), padding: (1, 1)),
        ConvCase(1, 2, 7, 11, out: 8, kernel: (3, 3), padding: (2, 2)),
        ConvCase(1, 3, 32, 32, out: 16, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(1, 2, 9, 33, out: 16, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(1, 2, 6, 64, out: 8, kernel: (7, 7), stride: (2, 2), padding: (3, 3)),
        ConvCase(1, 2, 5, 40, out: 8, kernel: (3, 3), stride: (1, 2), padding: (0, 0)),
        ConvCase(1, 2, 8, 14, out: 8, kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
        ConvCase(1, 2, 10, 12, out: 8, kernel: (5, 5), stride: (3, 3), padding: (2, 2)),
        ConvCase(1, 2, 10, 12, out: 8, kernel: (3, 3), stride: (2, 1), padding: (1, 1)),
    ]

    /// planes[(c, a, b)][i][j] = x[c, i*sh + a - ph, j*sw + b - pw], 0 outside x.
    static func expected(_ x: [Float], _ g: Conv2DGeometry, hq: Int, wq: Int) -> [Float] {
        let (sh, sw, ph, pw) = (g.strideHeight, g.strideWidth, g.paddingHeight, g.paddingWidth)
        var planes: [Float] = []
        for c in 0..<g.inChannels { for a in 0..<sh { for b in 0..<sw { for i in 0..<hq { for j in 0..<wq {
            let (y, xx) = (i * sh + a - ph, j * sw + b - pw)
            planes.append(y >= 0 && y < g.inHeight && xx >= 0 && xx < g.inWidth ? x[(c * g.inHeight + y) * g.inWidth + xx] : 0)
        } } } } }
        return planes
    }

    @Test("every plane, all rows or some, all channels or some, equals the definition", arguments: cases)
    func planesEqualDefinition(_ c: ConvCase) {
        let g = c.geometry
        let conv = ImplicitGEMMConvolution(g, alwaysCopyInput: true)
        let x: [Float] = randomArray(g.inputShape.count, seed: 370)
        let want = Self.expected(x, g, hq: conv.hq, wq: conv.wq)
        let perChannel = g.strideHeight * g.strideWidth * conv.hq * conv.wq
        let slack = conv.wq + g.kernelWidth + 16
        let subsets: [(channels: Range<Int>?, rows: Range<Int>?)] = [(nil, nil), (1..<2, nil), (nil, 1..<conv.hq - 1)]
        for (channels, rows) in subsets {
            var planes = [Float](repeating: .nan, count: conv.phaseCount + slack)
            x.withUnsafeBufferPointer { x in planes.withUnsafeMutableBufferPointer { p in
                conv.buildPhases(x: x.baseAddress!, dst: p.baseAddress!, channels: channels, rows: rows)
            } }
            for ci in channels ?? 0..<g.inChannels {
                for phase in 0..<g.strideHeight * g.strideWidth {
                    for i in rows ?? 0..<conv.hq {
                        let start = ci * perChannel + (phase * conv.hq + i) * conv.wq
                        #expect(Array(planes[start ..< start + conv.wq]) == Array(want[start ..< start + conv.wq]),
                                "channel \(ci), phase \(phase), row \(i), channels \(String(describing: channels)), rows \(String(describing: rows))")
                    }
                }
            }
            if channels == nil {
                #expect(planes[conv.phaseCount...].allSatisfy { $0 == 0 }, "the slack past the last plane is zero")
            }
        }
    }
}
