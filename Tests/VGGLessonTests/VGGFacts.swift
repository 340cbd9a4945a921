import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import VGGLesson

// Facts about VGG, each a test that fails when the fact does not hold. Read them as
// exercises: change the architecture (Classic.swift) or a kernel and see which fact breaks.

@Suite("Facts about VGG")
struct VGGFacts {
    @Test("VGG-11, 13, 16, 19 have 132,863,336, 133,047,848, 138,357,544 and 143,667,240 parameters")
    func parameterCounts() {
        #expect(VGG(.A).parameterCount == 132_863_336)
        #expect(VGG(.B).parameterCount == 133_047_848)
        #expect(VGG(.D).parameterCount == 138_357_544)
        #expect(VGG(.E).parameterCount == 143_667_240)
    }

    @Test("VGG-16 does 15,470,264,320 multiply-accumulates on one 224x224 image, as torchvision counts them")
    func multiplyAccumulates() throws {
        let summary = VGG(.D).summary(inputShape: [1] + VGG.paperInputShape)
        #expect(summary.macs == 15_470_264_320)
        let data = try Data(contentsOf: FixtureLocator.url("torchvision-counts.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        for depth in [11, 13, 16, 19] {
            let entry = (json?["models"] as? [String: Any])?["vgg\(depth)"] as? [String: Any]
            let config = VGG.Configuration.allCases.first { $0.depth == depth }!
            let counted = VGG(config).summary(inputShape: [1] + VGG.paperInputShape)
            #expect((entry?["parameters"] as? NSNumber)?.intValue == counted.parameters, "vgg\(depth)")
            #expect((entry?["macs"] as? NSNumber)?.intValue == counted.macs, "vgg\(depth)")
        }
    }

    @Test("VGG-16's stages: 224x224x64, 112x112x128, 56x56x256, 28x28x512, 14x14x512, then 7x7x512 into the classifier")
    func stageShapes() {
        let vgg = VGG(.D)
        let rows = vgg.summary(inputShape: [1] + VGG.paperInputShape).rows
        let shapes = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.outputShape) })
        func shape(_ name: String) -> [Int]? { shapes["features.\(vgg.featureIndex(name))"] }
        #expect(shape("conv1_2") == [1, 64, 224, 224])
        #expect(shape("conv2_2") == [1, 128, 112, 112])
        #expect(shape("conv3_3") == [1, 256, 56, 56])
        #expect(shape("conv4_3") == [1, 512, 28, 28])
        #expect(shape("conv5_3") == [1, 512, 14, 14])
        #expect(shape("pool5") == [1, 512, 7, 7])
        // Only 3x3 convolutions of stride 1 and padding 1, and 2x2 pools of stride 2.
        for layer in vgg.features.layers {
            if let conv = layer as? Conv2d { #expect(conv.kernelSize == (3, 3) && conv.stride == (1, 1) && conv.padding == (1, 1)) }
            if let pool = layer as? MaxPool2d { #expect(pool.kernelSize == (2, 2) && pool.stride == (2, 2)) }
        }
    }

    @Test("89% of VGG-16's parameters are in its three fully connected layers")
    func whereTheParametersAre() {
        let summary = VGG(.D).summary(inputShape: [1] + VGG.paperInputShape)
        let fc = summary.rows.filter { $0.name.hasPrefix("classifier") }.reduce(0) { $0 + $1.parameters }
        #expect(fc == 123_642_856)
        #expect(Double(fc) / Double(summary.parameters) > 0.89 && Double(fc) / Double(summary.parameters) < 0.90)
    }

    @Test("VGG-16's first convolution writes 12,845,056 bytes per image (64 x 224 x 224 floats); the total is the sum over its layers")
    func activationMemory() {
        let summary = VGG(.D).summary(inputShape: [1] + VGG.paperInputShape)
        #expect(ModelSummary.activationBytes(summary.rows[0].outputShape) == 64 * 224 * 224 * 4)
        #expect(summary.activationBytes == summary.rows.reduce(0) { $0 + 4 * $1.outputShape.reduce(1, *) })
    }

    @Test("two 3x3 convolutions see a 5x5 window with 28% fewer weights (18 C² vs 25 C²); three see 7x7 with 27 C² vs 49 C²")
    func stackedWindowsComputed() {
        #expect(ReceptiveField.computed([(3, 1), (3, 1)]) == [3, 5])
        #expect(ReceptiveField.computed([(3, 1), (3, 1), (3, 1)]) == [3, 5, 7])
        let c = 64
        let two = Conv2d(c, c, kernel: 3, bias: false).parameterCount * 2
        let five = Conv2d(c, c, kernel: 5, bias: false).parameterCount
        #expect(two == 18 * c * c && five == 25 * c * c)
        #expect(Int((1 - Double(two) / Double(five)) * 100) == 28)
        let three = Conv2d(c, c, kernel: 3, bias: false).parameterCount * 3
        let seven = Conv2d(c, c, kernel: 7, bias: false).parameterCount
        #expect(three == 27 * c * c && seven == 49 * c * c)
        // The saving holds where a convolution keeps its width: 9 of VGG-16's 13 do.
        #expect(VGGLesson.widthKeeping(VGG(.D)) == 9)
    }

    @Test("measured by back-propagating from one output pixel: 1, 2, 3 stacked 3x3 convolutions see 3x3, 5x5, 7x7; one 5x5 sees 5x5")
    func stackedWindowsMeasured() {
        #expect(ReceptiveField.measured(convolutions: 1, kernel: 3).side == 3)
        #expect(ReceptiveField.measured(convolutions: 2, kernel: 3).side == 5)
        #expect(ReceptiveField.measured(convolutions: 3, kernel: 3).side == 7)
        #expect(ReceptiveField.measured(convolutions: 1, kernel: 5).side == 5)
        #expect(ReceptiveField.measured(convolutions: 1, kernel: 7).side == 7)
        // The gradient is nonzero on the whole square, not just its border.
        let m = ReceptiveField.measured(convolutions: 2, kernel: 3)
        #expect(m.gradient.filter { $0 != 0 }.count == 25)
    }

    @Test("VGG-16's receptive field: conv1_2 5, pool1 6, conv2_2 14, conv3_3 40, conv4_3 92, conv5_3 196, pool5 212")
    func vgg16ReceptiveField() {
        let vgg = VGG(.D)
        let fields = ReceptiveField.computed(ReceptiveField.geometry(of: vgg.features.layers))
        let expected = ["conv1_2": 5, "pool1": 6, "conv2_2": 14, "pool2": 16, "conv3_3": 40, "pool3": 44,
                        "conv4_3": 92, "pool4": 100, "conv5_3": 196, "pool5": 212]
        for (name, field) in expected { #expect(fields[vgg.featureIndex(name)] == field, "\(name)") }
    }

    @Test("the small nets: 3x3 stacks 32,058 parameters, 5x5 28,938; both map a 28x28 digit to 10 scores through 7x7x32")
    func smallNets() {
        let three = DigitVGG.make(.threeByThree, seed: 1), five = DigitVGG.make(.fiveByFive, seed: 1)
        #expect(three.parameterCount == 32_058)
        #expect(five.parameterCount == 28_938)
        for net in [three, five] {
            let rows = net.summary(inputShape: [2] + DigitVGG.inputShape).rows
            #expect(rows.first { $0.name == "pool2" }?.outputShape == [2, 32, 7, 7])
            #expect(rows.last?.outputShape == [2, 10])
        }
    }

    @Test("every fast 3x3 kernel of the race equals the naive loops on a 512-channel 14x14 layer (64 output channels)")
    func raceKernelsAgree() {
        var g = SeededGenerator(seed: 9)
        let geometry = Conv2DGeometry(batch: 1, inChannels: 512, inHeight: 14, inWidth: 14, outChannels: 64,
                                      kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: 1)
        let x = Tensor.randomNormal([1, 512, 14, 14], using: &g).data
        let w = Tensor.randomNormal([64, 512, 3, 3], using: &g).data.map { $0 * 0.02 }
        let b = Tensor.randomNormal([64], using: &g).data
        let naive = Naive.conv2d(x, weight: w, bias: b, geometry: geometry)
        #expect(relativeError(Fast.conv2d(x, weight: w, bias: b, geometry: geometry), naive) < 1e-4)
        #expect(!Fast.conv2dKernelName(geometry).isEmpty)
    }
}
