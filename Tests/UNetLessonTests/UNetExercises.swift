import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import UNetLesson

// The graders of Lessons/UNet/Exercises.swift. Each returns the problems it found (empty:
// right); the tests expect none from the learner's functions and some from typical wrong
// answers, so no grader can pass anything.

enum UNetGraders {
    /// What the core's UNet (valid convolutions) says from its layers' shapes: the output
    /// side and each level's crop, or nil when some 2x2 pool meets an odd size or a size runs out.
    static func expectedSizes(inputSize: Int, depth: Int) -> (outputSize: Int, cropOffsets: [Int])? {
        // A size that runs out cannot even be traced: walk the sizes (pools rounding down) first.
        var s = inputSize
        for _ in 0..<depth {
            s -= 4
            if s <= 0 { return nil }
            s /= 2
        }
        s -= 4
        if s <= 0 { return nil }
        for _ in 0..<depth {
            s = 2 * s - 4
            if s <= 0 { return nil }
        }
        let net = UNet(inChannels: 1, classes: 2, depth: depth, baseChannels: 1)
        let summary = net.summary(inputShape: [1, 1, inputSize, inputSize])
        let skips = (0..<depth).map { summary.blocks["enc\($0)"]!.output[2] }
        if skips.contains(where: { $0 % 2 != 0 }) { return nil }
        let ups = (0..<depth).map { i in summary.rows.first { $0.name == "up\(i)" }!.outputShape[2] }
        return (summary.outputShape[2], zip(skips, ups).map { ($0 - $1) / 2 })
    }

    static func sizes(_ answer: (Int, Int) -> (outputSize: Int, cropOffsets: [Int])?) -> [String] {
        var problems: [String] = []
        if let paper = answer(572, 4) {
            if paper.outputSize != 388 || paper.cropOffsets != [88, 40, 16, 4] {
                problems.append("unetSizes(572, depth 4) gave output \(paper.outputSize), crops \(paper.cropOffsets); the paper's U-Net: 388, [88, 40, 16, 4] (568 -> 392 at the top: two valid 3x3 convolutions take 4 pixels off a side, not 2)")
            }
        } else {
            problems.append("unetSizes(572, depth 4) gave nil, but the paper's 572x572 tile fits: 388x388 out, crops [88, 40, 16, 4]")
        }
        for (size, depth) in [(188, 3), (140, 2), (76, 2), (572, 3), (100, 1), (570, 4), (60, 3), (92, 3), (36, 2), (12, 1)] {
            let expected = expectedSizes(inputSize: size, depth: depth)
            let got = answer(size, depth)
            switch (expected, got) {
            case (nil, nil): continue
            case (nil, let got?):
                problems.append("unetSizes(\(size), depth \(depth)) gave \(got), but that tile does not fit (a 2x2 max pool meets an odd size, or a map shrinks to nothing): return nil")
            case (let e?, nil):
                problems.append("unetSizes(\(size), depth \(depth)) gave nil, but the core's U-Net maps it to \(e.outputSize)x\(e.outputSize) with crops \(e.cropOffsets)")
            case (let e?, let got?):
                if got.outputSize != e.outputSize || got.cropOffsets != e.cropOffsets {
                    problems.append("unetSizes(\(size), depth \(depth)) gave output \(got.outputSize), crops \(got.cropOffsets); the core's U-Net (its layers' shapes): \(e.outputSize), \(e.cropOffsets). Usual mistakes: one convolution per level instead of two, crops listed bottom level first, the whole difference instead of half of it")
                }
            }
        }
        return problems
    }

    static let transposedCases: [ConvTranspose2DGeometry] = [
        ConvTranspose2DGeometry(batch: 2, inChannels: 3, inHeight: 3, inWidth: 4, outChannels: 2, kernel: (2, 2), stride: (2, 2)),
        ConvTranspose2DGeometry(batch: 1, inChannels: 2, inHeight: 4, inWidth: 3, outChannels: 3, kernel: (3, 3), stride: (2, 2),
                                padding: (1, 1), outputPadding: (1, 1)),
        ConvTranspose2DGeometry(batch: 1, inChannels: 2, inHeight: 3, inWidth: 3, outChannels: 2, kernel: (3, 2), stride: (1, 3), padding: (0, 1)),
    ]

    static func transposed(_ answer: ([Double], [Double], [Double]?, ConvTranspose2DGeometry) -> [Double]) -> [String] {
        var problems: [String] = []
        let mistakes = "Usual mistakes: the output index without the stride (i + u instead of i*s + u), the padding added instead of subtracted, the weight read as [O, C, kh, kw] (it is [C, O, kh, kw]: input channels first), the bias left out."
        for (k, g) in transposedCases.enumerated() {
            let x: [Double] = randomArray(g.inputShape.count, seed: 900 + UInt64(k))
            let w: [Double] = randomArray(g.weightCount, seed: 910 + UInt64(k))
            let b: [Double] = randomArray(g.outChannels, seed: 920 + UInt64(k))
            let expected = Naive.convTranspose2d(x, weight: w, bias: b, geometry: g)
            if let p = Grading.check("transposedConvolution", on: "\(g)", got: answer(x, w, b, g), expected: expected,
                                     shape: g.outputShape.dimensions, tolerance: 1e-12, usualMistakes: mistakes) { problems.append(p) }
        }
        // PyTorch's conv_transpose2d on its fixtures (Fixtures/ops-public).
        for (name, stride, padding, outputPadding) in [("convT_2x2_s2", 2, 0, 0), ("convT_3x3_s2_p1_op1", 2, 1, 1)] {
            guard let x = try? Grading.fixture("\(name).inputs.x"), let w = try? Grading.fixture("\(name).inputs.weight"),
                  let b = try? Grading.fixture("\(name).inputs.bias"), let y = try? Grading.fixture("\(name).outputs.y") else {
                problems.append("the fixture \(name) is missing from Fixtures/ops-public")
                continue
            }
            let g = ConvTranspose2DGeometry(batch: x.shape[0], inChannels: x.shape[1], inHeight: x.shape[2], inWidth: x.shape[3],
                                            outChannels: w.shape[1], kernel: (w.shape[2], w.shape[3]), stride: (stride, stride),
                                            padding: (padding, padding), outputPadding: (outputPadding, outputPadding))
            if let p = Grading.check("transposedConvolution", on: "PyTorch's \(name)", got: answer(x.values, w.values, b.values, g),
                                     expected: y.values, shape: y.shape, tolerance: 1e-4, usualMistakes: mistakes) { problems.append(p) }
        }
        return problems
    }

    static func pixelLoss(_ answer: ([Double], [Int], Int, Int, [Double]) -> (loss: Double, gradient: [Double])) -> [String] {
        var problems: [String] = []
        for (k, (n, classes, h, w)) in [(2, 3, 3, 4), (1, 11, 5, 5), (3, 2, 2, 7)].enumerated() {
            var g = SeededGenerator(seed: 950 + UInt64(k))
            let logits: [Double] = randomArray(n * classes * h * w, seed: 960 + UInt64(k)).map { $0 * 4 }
            // Background (0) most frequent, weighted low, as in the lesson.
            let labels = (0..<(n * h * w)).map { _ in g.nextUniform() < 0.6 ? 0 : 1 + Int(g.next() % UInt64(classes - 1)) }
            let weights = (0..<classes).map { $0 == 0 ? 0.3 : 1 + Double(g.nextUniform()) * 2 }
            let expected = Naive.pixelCrossEntropy(logits: logits, labels: labels, classes: classes, spatial: h * w, classWeights: weights)
            let got = answer(logits, labels, classes, h * w, weights)
            let what = "\(n) images of \(classes) classes, \(h)x\(w)"
            if !(abs(got.loss - expected.loss) <= 1e-9 * max(1, abs(expected.loss))) {
                problems.append("weightedPixelLoss on \(what): the loss is \(got.loss), expected \(expected.loss). Usual mistakes: dividing by the number of pixels instead of the sum of the weights, the weight of the predicted class instead of the TRUE class, the scores of a pixel read as adjacent (they are H*W apart)")
            }
            if let p = Grading.check("weightedPixelLoss", on: "\(what): the gradient", got: got.gradient, expected: expected.logitsGradient,
                                     shape: [n, classes, h, w], tolerance: 1e-9,
                                     usualMistakes: "Usual mistakes: the gradient not multiplied by w(x) or not divided by the weights' sum, the one-hot subtracted at the wrong class.") {
                problems.append(p)
            }
            // And it must be the gradient of the learner's own loss.
            if k == 0 && got.gradient.count == logits.count {
                let numeric = numericalGradient(of: { answer($0, labels, classes, h * w, weights).loss }, at: logits)
                if relativeError(got.gradient, numeric) > 1e-6 {
                    problems.append("weightedPixelLoss on \(what): the gradient is not the derivative of the returned loss (finite differences differ by \(relativeError(got.gradient, numeric)))")
                }
            }
        }
        return problems
    }
}

@Suite("U-Net exercises")
struct UNetExercises {
    @Test("exercise 1: unetSizes walks a tile down and up the valid U-Net: 572 -> 388, crops 88, 40, 16, 4")
    func sizes() {
        let problems = UNetGraders.sizes { unetSizes(inputSize: $0, depth: $1) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "unetSizes"))")
    }

    @Test("exercise 2: transposedConvolution scatters a copy of the kernel from every input pixel")
    func transposed() {
        let problems = UNetGraders.transposed { transposedConvolution($0, weight: $1, bias: $2, geometry: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "transposedConvolution"))")
    }

    @Test("exercise 3: weightedPixelLoss weighs each pixel by its class and divides by the weights' sum")
    func pixelLoss() {
        let problems = UNetGraders.pixelLoss { weightedPixelLoss(logits: $0, labels: $1, classes: $2, spatial: $3, classWeights: $4) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "weightedPixelLoss"))")
    }
}

@Suite("U-Net graders refuse wrong answers")
struct UNetGradersRefuseWrongAnswers {
    @Test("sizes with one convolution per level (2 pixels instead of 4) fail the sizes grader")
    func oneConvolutionPerLevel() {
        let problems = UNetGraders.sizes { input, depth in
            var size = input, skips: [Int] = []
            for _ in 0..<depth { size -= 2; guard size > 0, size % 2 == 0 else { return nil }; skips.append(size); size /= 2 }
            size -= 2
            var crops = [Int](repeating: 0, count: depth)
            for level in (0..<depth).reversed() { size *= 2; crops[level] = (skips[level] - size) / 2; size -= 2 }
            return (size, crops)
        }
        #expect(!problems.isEmpty)
    }

    @Test("a transposed convolution that forgets the stride in the output index fails its grader")
    func strideForgotten() {
        let problems = UNetGraders.transposed { x, weight, bias, g in
            var z = [Double](repeating: 0, count: g.outputShape.count)
            let (outH, outW) = (g.outHeight, g.outWidth)
            for n in 0..<g.batch {
                for o in 0..<g.outChannels { for p in 0..<(outH * outW) { z[(n * g.outChannels + o) * outH * outW + p] = bias?[o] ?? 0 } }
                for c in 0..<g.inChannels { for i in 0..<g.inHeight { for j in 0..<g.inWidth {
                    for o in 0..<g.outChannels { for u in 0..<g.kernelHeight { for v in 0..<g.kernelWidth {
                        let h = i + u - g.paddingHeight, w = j + v - g.paddingWidth        // the stride is missing
                        guard h >= 0, h < outH, w >= 0, w < outW else { continue }
                        z[((n * g.outChannels + o) * outH + h) * outW + w] += x[((n * g.inChannels + c) * g.inHeight + i) * g.inWidth + j]
                            * weight[((c * g.outChannels + o) * g.kernelHeight + u) * g.kernelWidth + v]
                    } } }
                } } }
            }
            return z
        }
        #expect(!problems.isEmpty && problems.first?.contains("stride") == true)
    }

    @Test("a weighted loss divided by the number of pixels instead of the weights' sum fails its grader")
    func dividedByPixels() {
        let problems = UNetGraders.pixelLoss { logits, labels, classes, spatial, weights in
            let r = weightedPixelLoss(logits: logits, labels: labels, classes: classes, spatial: spatial, classWeights: weights)
            let weightSum = labels.reduce(0.0) { $0 + weights[$1] }
            let scale = weightSum / Double(labels.count)
            return (r.loss * scale, r.gradient.map { $0 * scale })
        }
        #expect(!problems.isEmpty && problems.first?.contains("sum of the weights") == true)
    }
}
