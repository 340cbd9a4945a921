import ConvNetCore
import Foundation
import LeNetLesson
import Testing
import TestSupport
@testable import MultiCropLesson

/// Facts about multi-crop evaluation and the lesson's kernel pair, each a test that fails when the fact is false.
@Suite("MultiCrop: facts")
struct MultiCropFacts {
    @Test("the 10 crops of a 28x28 digit at S = 24: centre (2, 2), corners (0, 0), (0, 4), (4, 0), (4, 4), then the same mirrored")
    func tenCropCoordinates() {
        let ten = MultiCrop.tenCrops(height: 28, width: 28, size: 24)
        let five = [(2, 2), (0, 0), (0, 4), (4, 0), (4, 4)]
        #expect(ten.map { [$0.top, $0.left] } == (five + five).map { [$0.0, $0.1] })
        #expect(ten.map(\.mirrored) == [Bool](repeating: false, count: 5) + [Bool](repeating: true, count: 5))
        // AlexNet's 224 of 256: corners at 0 and 32, centre at 16.
        #expect(MultiCrop.fiveCrops(height: 256, width: 256, size: 224).map { [$0.top, $0.left] } == [[16, 16], [0, 0], [0, 32], [32, 0], [32, 32]])
    }

    @Test("the 3x3 and 5x5 grids hold the 5 crops when the margins are even, and 25 distinct crops of a 28x28 digit at S = 24")
    func grids() {
        for (h, w, s) in [(28, 28, 24), (32, 32, 24), (32, 28, 20)] {
            let five = Set(MultiCrop.fiveCrops(height: h, width: w, size: s))
            for side in [3, 5] {
                let grid = MultiCrop.grid(height: h, width: w, size: s, perSide: side)
                #expect(grid.count == side * side && Set(grid).count == side * side)
                #expect(five.isSubset(of: Set(grid)), "\(h)x\(w), S = \(s), \(side)x\(side)")
                #expect(grid.allSatisfy { $0.top >= 0 && $0.left >= 0 && $0.top + s <= h && $0.left + s <= w })
            }
        }
        #expect(Set(MultiCrop.grid(height: 28, width: 28, size: 24, perSide: 5).map { $0.top }) == Set(0...4))
    }

    @Test("a crop is y[n, c, i, j] = x[n, c, top + i, left + j], mirrored: left + S - 1 - j; mirroring a crop twice gives it back")
    func cropFormula() {
        var g = SeededGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 3, 9, 7], using: &g)
        for view in [CropView(top: 1, left: 2), CropView(top: 3, left: 0, mirrored: true)] {
            let y = MultiCrop.crop(x, view: view, size: 5)
            #expect(y.shape == [2, 3, 5, 5])
            for n in 0..<2 { for c in 0..<3 { for i in 0..<5 { for j in 0..<5 {
                let column = view.mirrored ? view.left + 4 - j : view.left + j
                #expect(y[n, c, i, j] == x[n, c, view.top + i, column])
            } } } }
        }
        let once = MultiCrop.crop(x, view: CropView(top: 2, left: 1, mirrored: true), size: 6)
        #expect(MultiCrop.crop(once, view: CropView(top: 0, left: 0, mirrored: true), size: 6) == MultiCrop.crop(x, view: CropView(top: 2, left: 1), size: 6))
    }

    @Test("padding puts the crop in the middle of a canvas of the background value")
    func padding() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let y = MultiCrop.padded(x, by: 1, fill: -0.5)
        #expect(y.shape == [1, 1, 4, 4])
        #expect(y.data == [-0.5, -0.5, -0.5, -0.5, -0.5, 1, 2, -0.5, -0.5, 3, 4, -0.5, -0.5, -0.5, -0.5, -0.5])
    }

    @Test("softmax rows sum to 1 and ignore a constant added to the row; averaged probabilities still sum to 1")
    func probabilities() {
        var g = SeededGenerator(seed: 6)
        let z = Tensor.randomNormal([4, 10], std: 5, using: &g)
        var shifted = z
        for i in shifted.data.indices { shifted.data[i] += 100 }
        let p = MultiCrop.softmax(z)
        #expect(relativeError(p.data, MultiCrop.softmax(shifted).data) < 1e-5)
        let q = MultiCrop.averageProbabilities([p, MultiCrop.softmax(Tensor.randomNormal([4, 10], using: &g))])
        for n in 0..<4 { #expect(abs(q.data[n * 10..<(n + 1) * 10].reduce(0, +) - 1) < 1e-5) }
    }

    @Test("the kernel pair: ten passes of one crop and one batch of the crops give the same probabilities, on random nets and crop settings")
    func kernelPairAgrees() {
        var g = SeededGenerator(seed: 7)
        for (k, (canvas, size)) in [(28, 24), (32, 24), (28, 20), (32, 28), (28, 16)].enumerated() {
            let net = LeNet5.lesson(seed: 70 + UInt64(k))
            let crops = CropInput(canvas: canvas, size: size, fill: -0.1)
            let image = Tensor.randomUniform([1, 1, canvas, canvas], low: -0.1, high: 1.2, using: &g)
            for views in [MultiCrop.tenCrops(height: canvas, width: canvas, size: size), MultiCrop.grid(height: canvas, width: canvas, size: size, perSide: 3)] {
                let naive = Naive.multiCropProbabilities(net, image: image, views: views, crops: crops)
                let fast = Fast.multiCropProbabilities(net, image: image, views: views, crops: crops)
                #expect(naive.count == 10 && relativeError(fast, naive) < 1e-5, "canvas \(canvas), S = \(size), \(views.count) views")
                #expect(abs(naive.reduce(0, +) - 1) < 1e-5)
            }
            // One view: the probabilities of that crop alone.
            let centre = [MultiCrop.centre(height: canvas, width: canvas, size: size)]
            let alone = MultiCrop.softmax(net(crops.input(image, view: centre[0]))).data
            #expect(relativeError(Naive.multiCropProbabilities(net, image: image, views: centre, crops: crops), alone) < 1e-6)
        }
    }

    @Test("a random training crop is one of the (canvas - S + 1)^2 crops padded to 32x32, and the same seed draws the same crops")
    func randomCrops() {
        var g = SeededGenerator(seed: 8)
        let x = Tensor.randomNormal([6, 1, 28, 28], using: &g)
        let crops = CropInput(canvas: 28, size: 24, fill: -0.1)
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let y = crops.randomCrops(x, using: &a)
        #expect(y == crops.randomCrops(x, using: &b))
        #expect(y.shape == [6, 1, 32, 32])
        let all = MultiCrop.grid(height: 28, width: 28, size: 24, perSide: 5)
        for n in 0..<6 {
            let one = gatherRows(x, [n]), got = gatherRows(y, [n])
            #expect(all.contains { crops.input(one, view: $0) == got }, "digit \(n)")
        }
    }

    @Test("GoogLeNet's Table 3 as printed: cost = models x crops, the error falls with both, 6.67% at 7 models x 144 crops")
    func googLeNetTable() {
        let t = GoogLeNetPaper.table3
        #expect(t.allSatisfy { $0.cost == $0.models * $0.crops })
        #expect(t.first?.top5Error == 10.07 && t.last?.top5Error == 6.67)
        #expect(zip(t, t.dropFirst()).filter { $0.0.models == $0.1.models }.allSatisfy { $0.1.top5Error < $0.0.top5Error })
    }
}
