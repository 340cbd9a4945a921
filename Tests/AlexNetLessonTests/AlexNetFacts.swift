import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import AlexNetLesson

// Facts about AlexNet, each a test that fails when the fact does not hold. Read them as
// exercises: change the architecture (Classic.swift) or a kernel and see which fact breaks.

@Suite("Facts about AlexNet")
struct AlexNetFacts {
    func parameters(_ variant: AlexNet.Variant) -> Int { AlexNet(variant).parameterCount }

    @Test("the paper's two-tower AlexNet has 60,965,224 parameters, one tower 62,378,344, torchvision's 61,100,840")
    func parameterCounts() {
        #expect(parameters(.paper(towers: 2)) == 60_965_224)
        #expect(parameters(.paper(towers: 1)) == 62_378_344)
        #expect(parameters(.torchvision) == 61_100_840)
    }

    @Test("the towers save 1,413,120 weights, all in conv2, conv4 and conv5, each of which has half its weights")
    func whereTheTowersSave() {
        let two = AlexNet(.paper(towers: 2)), one = AlexNet(.paper(towers: 1))
        #expect(one.parameterCount - two.parameterCount == 1_413_120)
        for name in AlexNet.paperFeatureNames {
            let (p2, p1) = (two.paperLayer(name).parameterCount, one.paperLayer(name).parameterCount)
            switch name {
            case "conv2", "conv4", "conv5":
                let bias = (two.paperLayer(name) as! Conv2d).outChannels
                #expect(p2 - bias == (p1 - bias) / 2, "\(name)")
            default:
                #expect(p2 == p1, "\(name)")
            }
        }
        #expect(two.paperLayer("conv2").parameterCount == 256 * 48 * 5 * 5 + 256)     // 307,456
        #expect(one.paperLayer("conv2").parameterCount == 256 * 96 * 5 * 5 + 256)     // 614,656
    }

    @Test("on 227x227: 55x55x96, pools to 27x27x96, 27x27x256, 13x13x256, 13x13x384 twice, 13x13x256, 6x6x256 = 9,216 into fc6")
    func shapes() {
        let net = AlexNet(.paper(towers: 2))
        let rows = net.summary(inputShape: [1] + AlexNet.paperInputShape).rows
        let shapes = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.outputShape) })
        func shape(_ name: String) -> [Int]? { shapes["features.\(AlexNet.paperFeatureNames.firstIndex(of: name)!)"] }
        #expect(shape("conv1") == [1, 96, 55, 55])
        #expect(shape("pool1") == [1, 96, 27, 27])
        #expect(shape("conv2") == [1, 256, 27, 27])
        #expect(shape("pool2") == [1, 256, 13, 13])
        #expect(shape("conv3") == [1, 384, 13, 13])
        #expect(shape("conv4") == [1, 384, 13, 13])
        #expect(shape("conv5") == [1, 256, 13, 13])
        #expect(shape("pool5") == [1, 256, 6, 6])
        #expect(rows.last?.outputShape == [1, 1000])
    }

    @Test("the paper's input is 227, not the 224 of its Figure 2: at 224 conv1 gives 54x54 and pool5 5x5, which does not fit fc6")
    func inputIs227() {
        let conv1 = AlexNet(.paper(towers: 2)).paperLayer("conv1")
        #expect(conv1.outputShape(for: [1, 3, 227, 227]) == [1, 96, 55, 55])        // (227 - 11) / 4 + 1 = 55
        #expect(conv1.outputShape(for: [1, 3, 224, 224]) == [1, 96, 54, 54])        // floor(213 / 4) + 1 = 54
        let features = AlexNet(.paper(towers: 2)).features
        #expect(features.outputShape(for: [1, 3, 224, 224]) == [1, 256, 5, 5])      // 6,400 values, not 9,216
    }

    @Test("the pools overlap: 3x3 windows every 2 pixels, so neighbouring windows share a row or a column")
    func poolsOverlap() throws {
        let pool = try #require(AlexNet(.paper(towers: 2)).paperLayer("pool1") as? MaxPool2d)
        #expect(pool.kernelSize.height > pool.stride.height)
        // One bright pixel on the shared row is the maximum of two vertically neighbouring windows.
        var x = Tensor(shape: [1, 1, 5, 3])
        x.data[2 * 3 + 1] = 1                                         // row 2, the row windows 0 and 1 share
        let y = pool(x)
        #expect(y.shape == [1, 1, 2, 1])
        #expect(y.data == [1, 1])
    }

    @Test("two towers equal two half-width convolutions side by side with shared weights: bit for bit on the naive kernels")
    func towersAreSideBySideConvolutions() {
        var g = SeededGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 96, 9, 9], using: &g)
        let conv2 = AlexNet(.paper(towers: 2)).initialize(seed: 3).paperLayer("conv2") as! Conv2d
        conv2.kernels = .naive
        #expect(Towers.sideBySide(conv2, x).data == conv2(x).data)
        conv2.kernels = .fast
        #expect(relativeError(Towers.sideBySide(conv2, x).data, conv2(x).data) < 1e-5)
    }

    @Test("a tower sees only its own GPU's maps: changing tower 1's input leaves tower 2's output as it was")
    func towersDoNotTalk() {
        var g = SeededGenerator(seed: 6)
        let x = Tensor.randomNormal([1, 96, 7, 7], using: &g)
        var changed = x
        for i in 0..<(48 * 49) { changed.data[i] += 1 }               // channels 0..<48: tower 1's input
        let conv2 = AlexNet(.paper(towers: 2)).initialize(seed: 3).paperLayer("conv2") as! Conv2d
        let (before, after) = (conv2(x), conv2(changed))
        let half = 128 * 49
        #expect(Array(before.data[half...]) == Array(after.data[half...]))   // tower 2: channels 128..<256
        #expect(Array(before.data[..<half]) != Array(after.data[..<half]))
    }

    @Test("LRN divides each activation by (2 + 1e-4 * the sum of the 5 neighbouring squares)^0.75, the paper's constants")
    func lrnFormula() throws {
        let lrn = try #require(AlexNet(.paper(towers: 2)).paperLayer("lrn1") as? LocalResponseNorm)
        lrn.kernels = .naive
        var g = SeededGenerator(seed: 7)
        let x = Tensor.randomNormal([1, 96, 2, 2], using: &g).data.map { $0 * 50 }
        let y = lrn(Tensor(shape: [1, 96, 2, 2], data: x))
        for c in [0, 1, 47, 94, 95] {
            let window = max(0, c - 2)...min(95, c + 2)
            let sum = window.reduce(0.0) { $0 + Double(x[$1 * 4]) * Double(x[$1 * 4]) }
            let expected = Double(x[c * 4]) / Foundation.pow(2 + 1e-4 * sum, 0.75)
            #expect(abs(Double(y.data[c * 4]) - expected) <= 1e-5 * abs(expected), "channel \(c)")
        }
    }

    @Test("the ReLU and tanh arms start from the same weights: only the nonlinearity differs; 162,122 parameters")
    func pairedArms() {
        let relu = DigitNet.make(.relu, seed: 4), tanh = DigitNet.make(.tanh, seed: 4)
        #expect(relu.parameterCount == 162_122)
        let (a, b) = (relu.namedParameters(), tanh.namedParameters())
        #expect(a.map(\.name) == b.map(\.name))
        for (p, q) in zip(a, b) { #expect(p.parameter.value == q.parameter.value, "\(p.name)") }
        #expect(DigitNet.make(.relu, seed: 5).namedParameters()[0].parameter.value != a[0].parameter.value)
    }

    @Test("steps to a threshold: the first full window whose mean error is at most the threshold")
    func stepsToThreshold() {
        let errors = [0.9, 0.5, 0.3, 0.1, 0.1, 0.1]
        #expect(AlexNetLesson.stepsToReach(0.2, errors: errors, window: 2) == 4)     // (0.1 + 0.3) / 2 = 0.2 at step 4
        #expect(AlexNetLesson.stepsToReach(0.05, errors: errors, window: 2) == nil)
        #expect(AlexNetLesson.stepsToReach(0.95, errors: errors, window: 3) == 3)    // not before a full window
    }
}
