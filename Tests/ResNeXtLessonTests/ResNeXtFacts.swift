import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import ResNeXtLesson

/// Facts about ResNeXt and the grouped convolution, each a test that fails when the fact is false.
@Suite("ResNeXt: facts")
struct ResNeXtFacts {
    /// Every output and gradient of forms (b) and (c) against form (a): the largest relative difference of each.
    static func formDifferences(_ forms: ResNeXtForms, _ x: Tensor, _ dy: Tensor) -> [String: Double] {
        let reference = forms.run(.summedPaths, x, dy)
        var worst: [String: Double] = [:]
        for form in [BlockForm.concatenated, .grouped] {
            let other = forms.run(form, x, dy)
            #expect(other.map(\.name) == reference.map(\.name))
            for (a, b) in zip(reference, other) { worst[a.name] = max(worst[a.name] ?? 0, relativeError(b.values, a.values)) }
        }
        return worst
    }

    @Test("ResNeXt-50 (32x4d) has 25,028,904 parameters against ResNet-50's 25,557,032, and both have torchvision's MACs")
    func counts() throws {
        let published = PublishedCounts.all(fixtures: FixtureLocator.root)
        let x = ResNet.resnext50_32x4d().summary(inputShape: [1, 3, 224, 224])
        let r = ResNet.resnet50().summary(inputShape: [1, 3, 224, 224])
        #expect(x.parameters == 25_028_904 && r.parameters == 25_557_032)
        #expect(x.macs == 4_230_479_872 && r.macs == 4_089_184_256)
        let px = try #require(published["resnext50_32x4d"]), pr = try #require(published["resnet50"])
        #expect(px.parameters == x.parameters && px.macs == x.macs && pr.parameters == r.parameters && pr.macs == r.macs)
    }

    @Test("a block of 32 paths of 4 channels has 70,144 convolution weights, one path of 64 has 69,632: twice the width for the same weights")
    func blockWeights() throws {
        let resnext = try ResNeXtLesson.block("layer1.1", of: ResNet.resnext50_32x4d())
        let resnet = try ResNeXtLesson.block("layer1.1", of: ResNet.resnet50())
        #expect(ResNeXtNets.blockWeights(resnext) == 32 * (256 * 4 + 9 * 4 * 4 + 4 * 256))
        #expect(ResNeXtNets.blockWeights(resnext) == 70_144 && ResNeXtNets.blockWeights(resnet) == 69_632)
        #expect(resnext.conv2.outChannels == 128 && resnet.conv2.outChannels == 64 && resnext.conv2.groups == 32)
    }

    @Test("a 3x3 convolution of 128 channels in 32 groups has 1/32 of the dense one's weights")
    func groupedWeights() {
        let grouped = Conv2d(128, 128, kernel: 3, padding: 1, groups: 32, bias: false)
        let dense = Conv2d(128, 128, kernel: 3, padding: 1, bias: false)
        #expect(grouped.weight.shape == [128, 4, 3, 3])
        #expect(grouped.weight.count * 32 == dense.weight.count)
    }

    @Test("the three forms of a block (paths summed, early concatenation, grouped) give the same outputs and gradients on random inputs")
    func formsAgreeOnRandomInputs() {
        for (c, planes, baseWidth, stride) in [(8, 16, 16, 1), (4, 8, 32, 1), (16, 16, 8, 1)] {
            let block = Bottleneck(planes * 4, planes, stride: stride, groups: c, baseWidth: baseWidth)
            block.initialize(seed: UInt64(c))
            let forms = ResNeXtForms(block)
            #expect(forms.cardinality == c && forms.pathWidth * c == block.conv2.outChannels)
            var g = SeededGenerator(seed: 7)
            let x = Tensor.randomNormal([2, planes * 4, 9, 7], using: &g)
            let dy = Tensor.randomNormal([2, planes * 4, 9, 7], using: &g)
            for (name, error) in Self.formDifferences(forms, x, dy) {
                #expect(error < 1e-4, "C = \(c): \(name) differs by \(error)")
            }
        }
    }

    @Test("on real activations (a photograph through ResNeXt-50's stem and first block) the three forms of block layer1.1 agree")
    func formsAgreeOnRealInputs() throws {
        let net = ResNet.resnext50_32x4d()
        let stem = try ResNeXtLesson.stemAndFirstBlock(of: net)
        stem.initialize(seed: 1)
        let block = try ResNeXtLesson.block("layer1.1", of: net)
        block.initialize(seed: 2)
        let photo = try ResNeXtLesson.photographs(FixtureLocator.root, count: 1)
        #expect(photo.images.shape == [1, 3, 224, 224])
        let x = stem(photo.images)
        #expect(x.shape == [1, 256, 56, 56])
        var g = SeededGenerator(seed: 3)
        let dy = Tensor.randomNormal(x.shape, using: &g)
        let differences = Self.formDifferences(ResNeXtForms(block), x, dy)
        #expect(differences.count == 11)
        for (name, error) in differences { #expect(error < 1e-4, "\(name) differs by \(error)") }
    }

    @Test("forms (a) and (b) hold exactly the grouped block's parameters, split into 32 paths")
    func formsHaveTheSameParameters() {
        let block = Bottleneck(256, 64, groups: 32, baseWidth: 4)
        block.initialize(seed: 1)
        let forms = ResNeXtForms(block)
        #expect(forms.layer(.summedPaths).parameterCount == block.parameterCount)
        #expect(forms.layer(.concatenated).parameterCount == block.parameterCount)
        #expect(forms.layer(.summedPaths).namedParameters().filter { $0.name.hasSuffix("conv2.weight") }.count == 32)
    }

    @Test("the same grouped layer done as one convolution per group gives the grouped kernel's outputs and gradients")
    func separateConvolutionsAgree() {
        let conv = Conv2d(32, 32, kernel: 3, padding: 1, groups: 8, bias: false)
        conv.initialize(seed: 5)
        var g = SeededGenerator(seed: 6)
        let x = Tensor.randomNormal([2, 32, 11, 9], using: &g)
        let race = ResNeXtLesson.raceGroupedConvolution(conv, input: x, quick: true, seed: 1)
        #expect(race.rows.count == 3)
        #expect(race.rows.allSatisfy { $0.maxRelativeDifference < 1e-4 }, "\(race.rows.map(\.maxRelativeDifference))")
    }

    @Test("ResNeXt-29 on CIFAR has 34,426,698 parameters at 8x64d and 68,155,210 at 16x64d (the paper: 34.4M and 68.1M)")
    func resnext29() {
        let a = CifarResNeXt(depth: 29, cardinality: 8, bottleneckWidth: 64)
        let b = CifarResNeXt(depth: 29, cardinality: 16, bottleneckWidth: 64)
        #expect(a.parameterCount == 34_426_698 && b.parameterCount == 68_155_210)
        let rows = a.summary(inputShape: [1, 3, 32, 32]).rows
        #expect(rows.first { $0.name == "layer1.0.conv2" }?.outputShape == [1, 512, 32, 32])
        #expect(rows.first { $0.name == "layer3.2.conv3" }?.outputShape == [1, 1024, 8, 8])
        #expect(a.outputShape(for: [2, 3, 32, 32]) == [2, 10])
    }

    @Test("the lesson's ResNeXt 8x4d and its ResNet 1x17d differ by under 0.1% in parameters; cardinality 1 has no grouped convolution")
    func lessonNets() {
        let (stem, widths) = (ResNeXtLesson.stem, ResNeXtLesson.widths)
        let d = ResNeXtNets.matchingResNetWidth(depth: 11, cardinality: 8, width: 4, stem: stem, widths: widths)
        #expect(d == 17)
        let resnext = ResNeXtNets.digits(depth: 11, cardinality: 8, width: 4, stem: stem, widths: widths, seed: 1)
        let resnet = ResNeXtNets.digits(depth: 11, cardinality: 1, width: d, stem: stem, widths: widths, seed: 1)
        #expect(abs(resnext.parameterCount - resnet.parameterCount) * 1_000 < resnext.parameterCount)
        let convs = resnet.namedLayers().compactMap { $0.layer as? Conv2d }
        #expect(convs.allSatisfy { $0.groups == 1 })
        let grouped = resnext.namedLayers().compactMap { $0.layer as? Conv2d }.filter { $0.groups == 8 }
        #expect(grouped.map(\.outChannels) == [32, 64, 128])
        #expect(resnext.outputShape(for: [3, 1, 16, 16]) == [3, 10])
    }
}
