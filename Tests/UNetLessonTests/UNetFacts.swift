import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import UNetLesson

/// Facts about U-Net, its transposed convolutions and the lesson's data, each a test that fails when the fact is false.
@Suite("U-Net: facts")
struct UNetFacts {
    @Test("the lesson counts the paper's network as Figure 1 draws it: 23 conv layers, 18 of them 3x3, 4 up-convolutions, one 1x1")
    func paperLayers() {
        let layers = UNetModels.convolutionLayers(UNet.paper())
        #expect(layers.total == UNetPaper.convolutionLayers)
        #expect(layers.threeByThree == 18 && layers.upConvolutions == 4 && layers.oneByOne == 1)
        let tile = UNetTile(inputSize: UNetPaper.inputSize, depth: 4, padding: 0)
        #expect(tile?.encoderSizes == UNetPaper.encoderSizes && tile?.upSizes == UNetPaper.upSizes
                && tile?.outputSize == UNetPaper.outputSize && tile?.bottomSize == UNetPaper.bottomSize)
    }

    @Test("U-Net's 2x2 stride-2 up-convolution puts one scaled copy of the kernel at each input pixel, without overlap")
    func upConvolutionScatters() {
        let g = ConvTranspose2DGeometry(batch: 1, inChannels: 1, inHeight: 2, inWidth: 2, outChannels: 1, kernel: (2, 2), stride: (2, 2))
        let z = Naive.convTranspose2d([1, 2, 3, 4] as [Double], weight: [1, 10, 100, 1000], bias: nil, geometry: g)
        #expect(z == [1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000])
    }

    @Test("the composites: every pixel labelled background or 1 + digit, digit pixels are ink, background dominates, the seed repeats them")
    func composites() throws {
        let (train, _) = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: 200, validationCount: 10, seed: 3)
        let a = DigitComposites.make(from: train, count: 20, seed: 4)
        let b = DigitComposites.make(from: train, count: 20, seed: 4)
        #expect(a.images.data == b.images.data && a.labels == b.labels)
        #expect(a.images.shape == [20, 1, 40, 40] && a.labelHeight == 40)
        #expect(a.labels.allSatisfy { (0..<DigitComposites.classes).contains($0) })
        for (v, l) in zip(a.images.data, a.labels) where l > 0 { #expect(v >= 0.5) }
        let background = a.classFrequencies(classes: DigitComposites.classes)[0]
        #expect(background > 0.6 && background < 0.98)
        // Clutter: bright pixels labelled background exist (thresholding cannot be perfect).
        #expect(zip(a.images.data, a.labels).contains { $0.0 >= 0.5 && $0.1 == 0 })
    }

    @Test("class weights (1/f)^1 give every class the same total weight, and the average pixel weighs 1")
    func balancingWeights() {
        let f = [0.82, 0.1, 0.05, 0.03]
        let w = SegmentationTrainer.balancingWeights(frequencies: f, power: 1)
        let totals = zip(w, f).map { Double($0) * $1 }
        #expect(totals.allSatisfy { abs($0 - totals[0]) < 1e-6 })
        #expect(abs(totals.reduce(0, +) - 1) < 1e-6)
        let none = SegmentationTrainer.balancingWeights(frequencies: f, power: 0)
        #expect(none.allSatisfy { abs($0 - 1) < 1e-6 })
    }

    @Test("predicting background everywhere scores the background's share in pixel accuracy and share / 11 in mean IoU")
    func allBackgroundScores() {
        let truth = [0, 0, 0, 0, 0, 0, 3, 3, 5, 0]
        let s = SegmentationScores(predicted: [Int](repeating: 0, count: truth.count), truth: truth, classes: 11)
        #expect(abs(s.pixelAccuracy - 0.7) < 1e-12)
        #expect(abs(s.meanIoU - 0.7 / 11) < 1e-12)
        let perfect = SegmentationScores(predicted: truth, truth: truth, classes: 11)
        #expect(perfect.pixelAccuracy == 1 && perfect.iou[3] == 1 && perfect.iou[1] == 0)
    }

    @Test("the threshold baseline is fitted on training composites and gives one digit class above its threshold")
    func baseline() throws {
        let (train, _) = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: 200, validationCount: 10, seed: 3)
        let data = DigitComposites.make(from: train, count: 16, seed: 5)
        let b = ThresholdBaseline(fittedOn: data, classes: DigitComposites.classes)
        #expect(b.threshold > 0 && b.threshold < 1 && (1...10).contains(b.guessedClass))
        let predicted = b.predict(data)
        #expect(Set(predicted).isSubset(of: [0, b.guessedClass]))
    }

    @Test("a short training run of the small U-Net lowers its weighted per-pixel loss")
    func trainingLowersLoss() throws {
        let (train, _) = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: 200, validationCount: 10, seed: 3)
        let data = DigitComposites.make(from: train, count: 48, seed: 6)
        let net = UNetModels.digits(width: 4, skips: true, seed: 1)
        var settings = SegmentationSettings(epochs: 3, batchSize: 8, learningRate: 0.005)
        settings.classWeights = SegmentationTrainer.balancingWeights(frequencies: data.classFrequencies(classes: 11), power: 0.5)
        let history = try SegmentationTrainer(settings).train(net, on: data, classes: 11, seed: 1, console: Console(showsProgress: false))
        let losses = history.stepLosses
        #expect(losses.suffix(3).reduce(0, +) < losses.prefix(3).reduce(0, +))
    }
}
