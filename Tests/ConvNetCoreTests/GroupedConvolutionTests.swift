import Testing
@testable import ConvNetCore

@Suite("Grouped convolution (direct kernel)")
struct GroupedConvolutionTests {
    /// Chosen geometries: ResNeXt-like groups of 4, depthwise (with and without a channel
    /// multiplier), odd sizes, strides 1/2/3 and unequal, padding 0/1/2, kernels 1/3/5 and
    /// rectangular, batch 1 and 3, rows longer than one 64-wide block.
    static let chosen: [ConvCase] = [
        ConvCase(1, 16, 9, 11, out: 16, kernel: (3, 3), padding: (1, 1), groups: 4, bias: true),      // ResNeXt-like
        ConvCase(3, 8, 13, 10, out: 8, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 2, bias: true),
        ConvCase(1, 6, 7, 9, out: 6, kernel: (3, 3), padding: (1, 1), groups: 6, bias: true),         // depthwise
        ConvCase(3, 5, 11, 8, out: 5, kernel: (5, 5), stride: (2, 2), padding: (2, 2), groups: 5),    // depthwise 5x5 s2
        ConvCase(1, 3, 9, 9, out: 6, kernel: (3, 3), stride: (2, 2), padding: (0, 0), groups: 3),     // multiplier 2
        ConvCase(3, 8, 12, 7, out: 12, kernel: (1, 1), groups: 4, bias: true),                        // grouped 1x1
        ConvCase(1, 8, 9, 10, out: 8, kernel: (1, 1), stride: (2, 2), groups: 2),                     // 1x1 stride 2: phases without taps
        ConvCase(1, 6, 8, 9, out: 4, kernel: (2, 3), stride: (3, 2), padding: (1, 2), groups: 2, bias: true),
        ConvCase(3, 4, 5, 6, out: 8, kernel: (5, 3), stride: (1, 2), padding: (2, 0), groups: 2),
        ConvCase(1, 4, 3, 4, out: 4, kernel: (3, 3), padding: (2, 2), groups: 4, bias: true),         // more padding than image
        ConvCase(1, 12, 6, 6, out: 12, kernel: (3, 3), stride: (3, 3), padding: (2, 2), groups: 3),
        ConvCase(1, 4, 1, 1, out: 4, kernel: (1, 1), groups: 4),
        ConvCase(1, 10, 4, 70, out: 10, kernel: (3, 3), padding: (1, 1), groups: 2, bias: true),      // a 72-wide row
        ConvCase(2, 4, 7, 75, out: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 4, bias: true), // stride-2 rows in vectors
        ConvCase(1, 4, 6, 68, out: 6, kernel: (5, 4), stride: (2, 2), padding: (0, 2), groups: 2),   // and an even kernel
        ConvCase(3, 32, 5, 5, out: 64, kernel: (3, 3), padding: (1, 1), groups: 2),                   // 16 channels a group
        ConvCase(1, 14, 7, 7, out: 21, kernel: (3, 3), padding: (1, 1), groups: 7, bias: true),       // 2 -> 3 channels a group
    ]

    /// Random grouped and depthwise geometries (seeded): 1 to 6 channels per group,
    /// odd sizes, kernels 1/3/5, strides 1/2, padding 0/1/2, batch 1/3.
    static let random: [ConvCase] = {
        var g = SeededGenerator(seed: 2024)
        func pick<T>(_ values: [T]) -> T { values[Int(g.next() % UInt64(values.count))] }
        var cases: [ConvCase] = []
        while cases.count < 30 {
            let groups = pick([2, 3, 4, 5])
            let (cg, og) = (pick([1, 1, 2, 3, 4, 5]), pick([1, 2, 3, 4, 5, 6]))
            let kernel = (pick([1, 3, 5]), pick([1, 3, 5]))
            let stride = pick([(1, 1), (2, 2), (1, 2), (2, 1)])
            let padding = (pick([0, 1, 2]), pick([0, 1, 2]))
            let c = ConvCase(pick([1, 3]), groups * cg, pick([3, 5, 7, 8, 11, 13]), pick([4, 5, 9, 10, 17]),
                             out: groups * og, kernel: kernel, stride: stride, padding: padding, groups: groups,
                             bias: pick([true, false]))
            if c.geometry.problem == nil { cases.append(c) }
        }
        return cases
    }()

    static let cases = chosen + random

    /// Runs the direct kernel itself (whatever `Fast.conv2d` dispatches to).
    static func direct(_ c: ConvCase, x: [Float], w: [Float], b: [Float]?, dy: [Float])
        -> (y: [Float], dx: [Float], dw: [Float]) {
        let g = c.geometry
        let conv = GroupedDirectConvolution(g)
        var y = [Float](repeating: .nan, count: g.outputShape.count)
        var dx = [Float](repeating: .nan, count: x.count)
        var dw = [Float](repeating: .nan, count: w.count)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    IM2ColConvolution.withOptionalPointer(b) { b in
                        y.withUnsafeMutableBufferPointer { y in
                            conv.forward(x: x.baseAddress!, weight: w.baseAddress!, bias: b, y: y.baseAddress!)
                        }
                    }
                    dx.withUnsafeMutableBufferPointer { dx in
                        dw.withUnsafeMutableBufferPointer { dw in
                            conv.backward(x: x.baseAddress!, weight: w.baseAddress!, dy: dy.baseAddress!,
                                          dx: dx.baseAddress!, dw: dw.baseAddress!)
                        }
                    }
                }
            }
        }
        return (y, dx, dw)
    }

    @Test("the direct grouped kernel's forward, dx and dW equal the seven loops", arguments: cases)
    func directEqualsNaive(_ c: ConvCase) {
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 80)
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let naiveBack = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let direct = Self.direct(c, x: x, w: w, b: b, dy: dy)
        #expect(relativeError(direct.y, naive) < 1e-5)
        #expect(relativeError(direct.dx, naiveBack.input) < 1e-5)
        #expect(relativeError(direct.dw, naiveBack.weight) < 1e-5)
    }

    @Test("the direct kernel also computes an ungrouped convolution of few channels",
          arguments: [ConvCase(3, 3, 9, 10, out: 5, kernel: (3, 3), padding: (1, 1), bias: true),
                      ConvCase(1, 2, 11, 13, out: 4, kernel: (5, 5), stride: (2, 2), padding: (2, 2))])
    func directUngrouped(_ c: ConvCase) {
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 85)
        let naiveBack = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let direct = Self.direct(c, x: x, w: w, b: b, dy: dy)
        #expect(relativeError(direct.y, Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)) < 1e-5)
        #expect(relativeError(direct.dx, naiveBack.input) < 1e-5)
        #expect(relativeError(direct.dw, naiveBack.weight) < 1e-5)
    }

    @Test("Fast.conv2d and its gradients take the direct path for groups of few channels and equal the seven loops",
          arguments: chosen)
    func fastDispatchEqualsNaive(_ c: ConvCase) {
        #expect(GroupedDirectConvolution.applies(to: c.geometry))
        let (x, w, b, dy) = ConvolutionTests.data(c, seed: 90)
        let naiveBack = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        let fastBack = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: c.geometry)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: c.geometry),
                              Naive.conv2d(x, weight: w, bias: b, geometry: c.geometry)) < 1e-5)
        #expect(relativeError(fastBack.input, naiveBack.input) < 1e-5)
        #expect(relativeError(fastBack.weight, naiveBack.weight) < 1e-5)
        #expect(relativeError(fastBack.bias, naiveBack.bias) < 1e-5)
    }

    @Test("ResNeXt's 32 groups of 4 channels and a depthwise 3x3 take the direct path; dense layers do not")
    func dispatch() {
        let resnext = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 128, height: 56, width: 56),
                                     outChannels: 128, kernel: 3, padding: 1, groups: 32)
        let depthwise = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 32, height: 28, width: 28),
                                       outChannels: 32, kernel: 3, stride: 2, padding: 1, groups: 32)
        let dense = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 64, height: 56, width: 56),
                                   outChannels: 64, kernel: 3, padding: 1)
        #expect(GroupedDirectConvolution.applies(to: resnext))
        #expect(GroupedDirectConvolution.applies(to: depthwise))
        #expect(!GroupedDirectConvolution.applies(to: dense))
    }
}

@Suite("Convolution backward, split into input and weight gradients")
struct ConvolutionBackwardSplitTests {
    static let cases = ConvolutionTests.cases + GroupedConvolutionTests.chosen

    @Test("naive conv2dBackwardInput and conv2dBackwardWeight are the parts of conv2dBackward", arguments: cases)
    func naiveSplitEqualsWhole(_ c: ConvCase) {
        let g = c.geometry
        let x: [Double] = randomArray(g.inputShape.count, seed: 100)
        let w: [Double] = randomArray(g.weightCount, seed: 101)
        let dy: [Double] = randomArray(g.outputShape.count, seed: 102)
        let whole = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        let input = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
        let weight = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: g)
        #expect(relativeError(input, whole.input) < 1e-12)
        #expect(relativeError(weight.weight, whole.weight) < 1e-12)
        #expect(relativeError(weight.bias, whole.bias) < 1e-12)
    }

    @Test("fast conv2dBackwardInput and conv2dBackwardWeight are the parts of conv2dBackward and equal the naive ones",
          arguments: cases)
    func fastSplitEqualsWhole(_ c: ConvCase) {
        let (x, w, _, dy) = ConvolutionTests.data(c, seed: 110)
        let g = c.geometry
        let whole = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: g)
        let input = Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)
        let weight = Fast.conv2dBackwardWeight(x, outputGradient: dy, geometry: g)
        #expect(relativeError(input, whole.input) < 1e-6)
        #expect(relativeError(weight.weight, whole.weight) < 1e-6)
        #expect(relativeError(weight.bias, whole.bias) < 1e-6)
        #expect(relativeError(input, Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: g)) < 1e-5)
        let naiveWeight = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: g)
        #expect(relativeError(weight.weight, naiveWeight.weight) < 1e-5)
        #expect(relativeError(weight.bias, naiveWeight.bias) < 1e-5)
    }
}
