import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import OneByOneLesson

/// Facts about 1x1 convolutions, each a test that fails when the fact is false.
@Suite("1x1 convolutions: facts")
struct OneByOneFacts {
    /// Random shapes with odd sizes: (batch, channels in, channels out, height, width).
    static let shapes = [(1, 1, 1, 1, 1), (2, 3, 5, 4, 7), (3, 16, 8, 5, 5), (1, 7, 13, 9, 2), (2, 32, 4, 3, 11)]

    @Test("a 1x1 convolution IS a fully connected layer applied at every pixel: forward, bit for bit, on random shapes (Double and Float)")
    func forwardEquivalence() {
        for (k, (n, c, o, h, w)) in Self.shapes.enumerated() {
            let s = FeatureMapShape(batch: n, channels: c, height: h, width: w)
            let g = Conv2DGeometry(input: s, outChannels: o, kernel: 1)
            let x: [Double] = randomArray(s.count, seed: UInt64(10 + k))
            let weight: [Double] = randomArray(o * c, seed: UInt64(20 + k))
            let bias: [Double] = randomArray(o, seed: UInt64(30 + k))
            #expect(Naive.conv2d(x, weight: weight, bias: bias, geometry: g)
                    == pixelwiseFullyConnected(x, weight: weight, bias: bias, shape: s, outChannels: o), "shape \(s) -> \(o)")
            let xf = x.map(Float.init), wf = weight.map(Float.init), bf = bias.map(Float.init)
            #expect(Naive.conv2d(xf, weight: wf, bias: bf, geometry: g)
                    == pixelwiseFullyConnected(xf, weight: wf, bias: bf, shape: s, outChannels: o), "Float, shape \(s) -> \(o)")
        }
    }

    @Test("and backward: the fully connected layer's dx, dW and bias gradient on pixel rows are the convolution's, bit for bit")
    func backwardEquivalence() {
        for (k, (n, c, o, h, w)) in Self.shapes.enumerated() {
            let s = FeatureMapShape(batch: n, channels: c, height: h, width: w)
            let g = Conv2DGeometry(input: s, outChannels: o, kernel: 1)
            let x: [Double] = randomArray(s.count, seed: UInt64(40 + k))
            let weight: [Double] = randomArray(o * c, seed: UInt64(50 + k))
            let dy: [Double] = randomArray(g.outputShape.count, seed: UInt64(60 + k))
            let conv = Naive.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: g)
            let fc = pixelwiseFullyConnectedBackward(x, weight: weight, outputGradient: dy, shape: s, outChannels: o)
            #expect(conv.input == fc.input, "dx, shape \(s)")
            #expect(conv.weight == fc.weight, "dW, shape \(s)")
            #expect(conv.bias == fc.bias, "bias gradient, shape \(s)")
        }
    }

    @Test("the fully connected layer's backward pass is the gradient: it matches finite differences in Double")
    func fullyConnectedGradientIsRight() {
        let s = FeatureMapShape(batch: 2, channels: 3, height: 2, width: 3)
        let o = 4
        let x: [Double] = randomArray(s.count, seed: 1), weight: [Double] = randomArray(o * 3, seed: 2)
        let dy: [Double] = randomArray(2 * o * 6, seed: 3)
        let g = pixelwiseFullyConnectedBackward(x, weight: weight, outputGradient: dy, shape: s, outChannels: o)
        let dx = numericalGradient(of: { dot(pixelwiseFullyConnected($0, weight: weight, bias: nil, shape: s, outChannels: o), dy) }, at: x)
        let dw = numericalGradient(of: { dot(pixelwiseFullyConnected(x, weight: $0, bias: nil, shape: s, outChannels: o), dy) }, at: weight)
        #expect(relativeError(g.input, dx) < 1e-8)
        #expect(relativeError(g.weight, dw) < 1e-8)
    }

    @Test("on a real feature map (digits through a seeded NiN-small's first conv and ReLU), the 1x1 layer cccp1 equals a Linear layer on its pixels, forward and backward, exactly")
    func realFeatureMap() throws {
        var data = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k"))
        data = data.split(trainCount: 8, validationCount: 0, seed: 1).train.resized(height: 16, width: 16)
        let net = SmallNet.nin.build(size: 16, seed: 3)
        let conv1 = try #require(net.children.first { $0.name == "conv1" }?.layer as? Conv2d)
        let cccp1 = try #require(net.children.first { $0.name == "cccp1" }?.layer as? Conv2d)
        #expect(cccp1.kernelSize.height == 1 && cccp1.kernelSize.width == 1)
        conv1.kernels = .naive
        let x = ReLU()(conv1(data.images))                                     // [8, 16, 16, 16]: a real map
        let s = x.featureMapShape()
        let fc = Linear(16, 16)
        fc.weight.value = Tensor(shape: [16, 16], data: cccp1.weight.value.data)   // [16, 16, 1, 1] is [16, 16]
        fc.bias!.value = cccp1.bias!.value
        for layer in [cccp1, fc] as [Layer] { layer.kernels = .naive }
        let yConv = cccp1(x)
        let yFC = fc(Tensor(shape: [s.batch * s.spatial, 16], data: PixelRows.rows(x.data, s)))
        #expect(yConv.data == PixelRows.maps(yFC.data, yConv.featureMapShape()))
        var generator = SeededGenerator(seed: 9)
        let dy = Tensor.randomNormal(yConv.shape, using: &generator)
        cccp1.zeroGradients(); fc.zeroGradients()
        let dxConv = cccp1.backward(dy)
        let dxFC = fc.backward(Tensor(shape: yFC.shape, data: PixelRows.rows(dy.data, dy.featureMapShape())))
        #expect(dxConv.data == PixelRows.maps(dxFC.data, s))
        #expect(cccp1.weight.gradient.data == fc.weight.gradient.data)
        #expect(cccp1.bias!.gradient.data == fc.bias!.gradient.data)
    }

    @Test("the course's example: 28x28x192 -> 5x5, 32 costs 120,422,400 multiplies; through a 16-channel 1x1 bottleneck 2,408,448 + 10,035,200 = 12,443,648")
    func courseMultiplies() {
        let g = courseGeometries()
        #expect(g.direct.macs == 28 * 28 * 32 * 5 * 5 * 192)
        #expect(g.direct.macs == OneByOnePaper.courseMultipliesDirect && g.direct.macs == 120_422_400)
        #expect(g.reduce.macs == 2_408_448 && g.wide.macs == 10_035_200)
        #expect(g.reduce.macs + g.wide.macs == OneByOnePaper.courseMultipliesBottleneck.total)
        #expect(g.direct.outputShape == g.wide.outputShape && g.direct.outputShape.dimensions == [1, 32, 28, 28])
        #expect(g.reduce.outputShape.dimensions == [1, 16, 28, 28])
        // The bottleneck's 5x5 filters are 5x5x16 instead of 5x5x192: 12x fewer weights there.
        #expect(g.direct.weightCount == 12 * g.wide.weightCount)
    }

    @Test("the course's example is GoogLeNet's inception 3a: its input is 28x28x192 and its 5x5 branch reduces to 16 channels, then makes 32")
    func courseExampleIsInception3a() {
        let rows = GoogLeNet().summary(inputShape: [1, 3, 224, 224]).rows
        #expect(rows.first { $0.name == "maxpool2" }?.outputShape == [1, 192, 28, 28])
        #expect(rows.first { $0.name == "inception3a.branch3.0.conv" }?.outputShape == [1, 16, 28, 28])
        #expect(rows.first { $0.name == "inception3a.branch3.1.conv" }?.outputShape == [1, 32, 28, 28])
    }

    @Test("ResNet-50's layer1.1.conv1 is a 1x1 convolution 256 -> 64 on 56x56 maps, and the fast router runs it as implicit GEMM (no im2col)")
    func resnetLayer() {
        let net = ResNet.resnet50()
        let layer = net.namedLayers().first { $0.name == "layer1.1.conv1" }?.layer as? Conv2d
        #expect(layer?.inChannels == 256 && layer?.outChannels == 64 && layer?.kernelSize.height == 1 && layer?.kernelSize.width == 1)
        #expect(net.summary(inputShape: [1, 3, 224, 224]).rows.first { $0.name == "layer1.1.conv1" }?.outputShape == [1, 64, 56, 56])
        let g = Conv2DGeometry(input: FeatureMapShape(batch: 1, channels: 256, height: 56, width: 56), outChannels: 64, kernel: 1)
        #expect(Fast.conv2dMethod(for: g) == .implicitGEMM)
        #expect(g.macs == 56 * 56 * 64 * 256)
    }

    @Test("NiN-small has no fully connected layer and about the plain net's parameters (within 10%)")
    func smallNets() {
        let nin = SmallNet.nin.build(size: 16, seed: 1), plain = SmallNet.plain.build(size: 16, seed: 1)
        #expect(!nin.namedLayers().contains { $0.layer is Linear })
        #expect(plain.namedLayers().filter { $0.layer is Linear }.count == 1)
        let ones = nin.namedLayers().compactMap { $0.layer as? Conv2d }.filter { $0.kernelSize.height == 1 }
        #expect(ones.count == 6, "two 1x1 convolutions per mlpconv layer")
        #expect(abs(Double(nin.parameterCount) / Double(plain.parameterCount) - 1) < 0.1)
        #expect(nin.outputShape(for: [3, 1, 16, 16]) == [3, 10] && plain.outputShape(for: [3, 1, 16, 16]) == [3, 10])
        #expect(SmallNet.nin.build(size: 28, seed: 1).outputShape(for: [2, 1, 28, 28]) == [2, 10])
    }

    @Test("pixel rows and maps are inverse layouts")
    func pixelRowsRoundTrip() {
        let s = FeatureMapShape(batch: 2, channels: 3, height: 4, width: 5)
        let x: [Float] = randomArray(s.count, seed: 4)
        #expect(PixelRows.maps(PixelRows.rows(x, s), s) == x)
        // Row (n = 1, p = 7) holds the three channels of pixel 7 of image 1.
        let r = PixelRows.rows(x, s)
        #expect(Array(r[(20 + 7) * 3..<(20 + 7) * 3 + 3]) == [x[(3 + 0) * 20 + 7], x[(3 + 1) * 20 + 7], x[(3 + 2) * 20 + 7]])
    }
}
