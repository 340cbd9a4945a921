import Foundation
import Testing
import TestSupport
@testable import ConvNetCore

/// The photographs as the ImageNet networks saw them, and the small pieces of the lesson
/// kit the classic lessons added (resizing and cropping, the lessons' MNIST split, the
/// layer table with activation memory, which convolution kernel runs).
@Suite("Photographs and the classic lessons' kit")
struct PhotographTests {
    /// A 4 x 2 grey ramp: pixel (x, y) = 10 x + 100 y.
    let ramp = Image(width: 4, height: 2, channels: 1, pixels: [0, 10, 20, 30, 100, 110, 120, 130])

    @Test("resizing to the same size changes nothing; the shorter side becomes the one asked, the aspect ratio kept")
    func resizeSizes() {
        #expect(ramp.resized(width: 4, height: 2) == ramp)
        let tall = Image(width: 300, height: 451, channels: 3, pixels: [UInt8](repeating: 7, count: 300 * 451 * 3))
        let scaled = tall.resized(shorterSide: 256)
        #expect(scaled.width == 256 && scaled.height == 385)              // 451 * 256 / 300 = 384.9
        #expect(scaled.pixels.allSatisfy { $0 == 7 })                     // a flat image stays flat
    }

    @Test("bilinear halving averages neighbouring pairs (pixel centres aligned as PyTorch's align_corners=False)")
    func resizeValues() {
        let half = ramp.resized(width: 2, height: 1)
        // Output pixel 0 samples x = 0.5, y = 0.5: the mean of (0, 10, 100, 110) = 55.
        #expect(half.pixels == [55, 75])
    }

    @Test("the centre crop takes the middle square")
    func centreCrop() {
        let crop = ramp.centerCropped(side: 2)
        #expect(crop.width == 2 && crop.height == 2)
        #expect(crop.pixels == [10, 20, 110, 120])
    }

    @Test("the three photographs load as [3, 3, 227, 227] with the mean ImageNet pixel subtracted")
    func photographs() throws {
        let photos = try Photographs.load(FixtureLocator.url("photos"), side: 227)
        #expect(photos.names == ["astronaut", "chelsea", "coffee"])
        #expect(photos.images.shape == [3, 3, 227, 227])
        let low = photos.images.data.min()!, high = photos.images.data.max()!
        #expect(low >= -123.68 - 1e-3 && high <= 255 - 103.94 + 1e-3)
        #expect(low < -50 && high > 50)                                    // real photographs, not blank
    }

    @Test("the lessons' MNIST split: a quick run's digits are the first of a full run's, with the same seed")
    func mnistSplit() throws {
        let full = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, seed: 4)
        let quick = try LabeledImages.mnist5k(fixtures: FixtureLocator.root, trainCount: 100, validationCount: 20, seed: 4)
        #expect(full.train.count == 4_000 && full.validation.count == 1_000)
        #expect(quick.train.labels == Array(full.train.labels.prefix(100)))
        #expect(quick.validation.images.data == Array(full.validation.images.data.prefix(20 * 28 * 28)))
    }

    @Test("the layer table with activation memory: 4 bytes per output value, summed in the totals row")
    func activationMemory() {
        let net = Sequential(Conv2d(3, 8, kernel: 3, padding: 1), ReLU(), MaxPool2d(kernel: 2, stride: 2))
        let summary = net.summary(inputShape: [1, 3, 8, 8])
        #expect(summary.activationBytes == 4 * (8 * 64 + 8 * 64 + 8 * 16))
        let table = summary.reportTable(activationMemory: true)
        #expect(table.headers.last == "activations")
        #expect(table.rows.count == 4)
        #expect(table.rows.last?.last == ModelSummary.bytes(4 * (8 * 64 + 8 * 64 + 8 * 16)))
        #expect(ModelSummary.bytes(812) == "812 B" && ModelSummary.bytes(12_845_056) == "12.2 MiB")
    }

    @Test("the kernel a convolution runs is named: grouped convolutions the grouped kernel, dense ones a dense kernel")
    func kernelNames() {
        let grouped = Conv2DGeometry(batch: 1, inChannels: 64, inHeight: 8, inWidth: 8, outChannels: 64,
                                     kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: 32)
        let dense = Conv2DGeometry(batch: 1, inChannels: 512, inHeight: 14, inWidth: 14, outChannels: 512,
                                   kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: 1)
        #expect(Fast.conv2dKernelName(grouped).hasPrefix("grouped"))
        #expect(!Fast.conv2dKernelName(dense).hasPrefix("grouped"))
        if !CPUFeatures.hasAVX512F { #expect(Fast.conv2dKernelName(dense).hasPrefix("implicit GEMM")) }
    }

    @Test("a network's stage by name: features is a Sequential; a missing name is not looked up silently")
    func stageByName() {
        let vgg = VGG(.A)
        #expect(vgg.sequentialChild("features").layers.count == 21)
        #expect(vgg.sequentialChild("classifier").layers.count == 7)
    }
}
