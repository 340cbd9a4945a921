import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import MultiCropLesson

// The graders of Lessons/MultiCrop/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum MultiCropGraders {
    /// Against MultiCrop.tenCrops, in its order, on square and oblong images, even and odd margins.
    static func tenCrops(_ answer: (Int, Int, Int) -> [CropView]) -> [String] {
        var problems: [String] = []
        for (h, w, s) in [(28, 28, 24), (32, 32, 24), (256, 256, 224), (27, 31, 20), (10, 12, 10)] {
            let expected = MultiCrop.tenCrops(height: h, width: w, size: s)
            let got = answer(h, w, s)
            guard got.count == 10 else {
                problems.append("tenCropViews(\(h)x\(w), S = \(s)) gave \(got.count) crops, expected 10: centre, 4 corners, and the mirrors of those 5")
                continue
            }
            for (k, (g, e)) in zip(got, expected).enumerated() where g != e {
                let role = ["centre", "top-left", "top-right", "bottom-left", "bottom-right"][k % 5] + (k >= 5 ? ", mirrored" : "")
                problems.append("tenCropViews(\(h)x\(w), S = \(s)): crop \(k) (\(role)) is \(g), expected \(e)."
                                + " A corner crop starts at 0 or H - S (W - S); the centre at ((H - S) / 2, (W - S) / 2); crops 5-9 are crops 0-4 mirrored.")
                break
            }
        }
        return problems
    }

    /// Logits whose scales differ from net to net (so that averaging logits and averaging
    /// probabilities disagree), and one row with large logits (so that a softmax without
    /// the max subtracted overflows).
    static func logits(nets: Int, rows: Int, classes: Int, seed: UInt64) -> [Tensor] {
        var g = SeededGenerator(seed: seed)
        return (0..<nets).map { k in
            var t = Tensor.randomNormal([rows, classes], std: Float(1 + 3 * k), using: &g)
            for c in 0..<classes { t.data[c] += 90 }
            return t
        }
    }

    static func ensemble(_ answer: ([Tensor]) -> Tensor) -> [String] {
        var problems: [String] = []
        for (nets, rows, classes, seed) in [(3, 6, 10, UInt64(31)), (5, 4, 7, 32), (2, 3, 4, 33)] {
            let z = logits(nets: nets, rows: rows, classes: classes, seed: seed)
            let expected = MultiCrop.averageProbabilities(z.map(MultiCrop.softmax))
            let got = answer(z)
            if let p = Grading.check("ensembleProbabilities", on: "\(nets) nets, logits [\(rows), \(classes)]",
                                     got: got.data.map(Double.init), expected: expected.data.map(Double.init), shape: expected.shape,
                                     tolerance: 1e-5,
                                     usualMistakes: "Usual mistakes: the logits averaged and ONE softmax taken (a net with large logits outvotes the others), no softmax at all, exp without subtracting the row's largest logit (overflow to inf, then NaN), the sum over nets not divided by K.") {
                problems.append(p)
            }
        }
        return problems
    }

    static func crop(_ answer: (Tensor, CropView, Int) -> Tensor) -> [String] {
        var problems: [String] = []
        var g = SeededGenerator(seed: 41)
        for (shape, view, size) in [([2, 1, 28, 28], CropView(top: 4, left: 0, mirrored: true), 24),
                                    ([1, 3, 9, 11], CropView(top: 1, left: 3, mirrored: true), 6),
                                    ([2, 2, 8, 8], CropView(top: 2, left: 1), 5),
                                    ([1, 1, 7, 10], CropView(top: 0, left: 4, mirrored: true), 5)] {
            let x = Tensor.randomNormal(shape, using: &g)
            let expected = MultiCrop.crop(x, view: view, size: size)
            let got = answer(x, view, size)
            let what = "x \(shape), a \(size)x\(size) crop at \(view)"
            guard got.shape == expected.shape else {
                problems.append("cropAndMirror on \(what): the result has shape \(got.shape), expected \(expected.shape)")
                continue
            }
            if let p = Grading.check("cropAndMirror", on: what, got: got.data.map(Double.init), expected: expected.data.map(Double.init),
                                     shape: expected.shape, tolerance: 0,
                                     usualMistakes: "Usual mistakes: the rows flipped instead of the columns (upside down is not a mirror), the whole image mirrored and then cropped at the same (top, left) (a different window), top and left swapped.") {
                problems.append(p)
            }
        }
        return problems
    }
}

@Suite("MultiCrop exercises")
struct MultiCropExercises {
    @Test("exercise 1: tenCropViews gives the centre, the 4 corners and their mirrors")
    func tenCrops() {
        let problems = MultiCropGraders.tenCrops { tenCropViews(height: $0, width: $1, size: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "tenCropViews"))")
    }

    @Test("exercise 2: ensembleProbabilities averages the nets' probabilities, not their logits")
    func ensemble() {
        let problems = MultiCropGraders.ensemble { ensembleProbabilities($0) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "ensembleProbabilities"))")
    }

    @Test("exercise 3: cropAndMirror cuts the crop, then reverses its columns")
    func crop() {
        let problems = MultiCropGraders.crop { cropAndMirror($0, view: $1, size: $2) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "cropAndMirror"))")
    }
}

@Suite("MultiCrop graders refuse wrong answers")
struct MultiCropGradersRefuseWrongAnswers {
    @Test("corners one pixel too far (H - S + 1) fail the 10-crop grader")
    func offByOneCorners() {
        let problems = MultiCropGraders.tenCrops { h, w, s in
            let five = [CropView(top: (h - s) / 2, left: (w - s) / 2), CropView(top: 0, left: 0), CropView(top: 0, left: w - s + 1),
                        CropView(top: h - s + 1, left: 0), CropView(top: h - s + 1, left: w - s + 1)]
            return five + five.map { CropView(top: $0.top, left: $0.left, mirrored: true) }
        }
        #expect(!problems.isEmpty && problems.first?.contains("top-right") == true)
    }

    @Test("ten crops without the mirrors (the five twice) fail the 10-crop grader")
    func noMirrors() {
        let problems = MultiCropGraders.tenCrops { h, w, s in
            let five = MultiCrop.fiveCrops(height: h, width: w, size: s)
            return five + five
        }
        #expect(!problems.isEmpty && problems.first?.contains("mirrored") == true)
    }

    @Test("averaging logits and taking one softmax fails the ensemble grader")
    func averagedLogits() {
        let problems = MultiCropGraders.ensemble { logits in
            let mean = MultiCrop.averageProbabilities(logits)    // the mean of the logits: the same arithmetic
            return MultiCrop.softmax(mean)
        }
        #expect(!problems.isEmpty)
    }

    @Test("a softmax without the largest logit subtracted overflows and fails the ensemble grader")
    func overflowingSoftmax() {
        let problems = MultiCropGraders.ensemble { logits in
            let classes = logits[0].shape[1]
            let probabilities = logits.map { z -> Tensor in
                var p = z
                for n in 0..<z.shape[0] {
                    let e = (0..<classes).map { exp(z.data[n * classes + $0]) }
                    let total = e.reduce(0, +)
                    for k in 0..<classes { p.data[n * classes + k] = e[k] / total }
                }
                return p
            }
            return MultiCrop.averageProbabilities(probabilities)
        }
        #expect(!problems.isEmpty)
    }

    @Test("flipping the rows instead of the columns fails the crop grader")
    func upsideDown() {
        let problems = MultiCropGraders.crop { x, view, size in
            let plain = MultiCrop.crop(x, view: CropView(top: view.top, left: view.left), size: size)
            guard view.mirrored else { return plain }
            var y = plain
            let planes = plain.count / (size * size)
            for p in 0..<planes {
                for i in 0..<size { for j in 0..<size { y.data[(p * size + i) * size + j] = plain.data[(p * size + size - 1 - i) * size + j] } }
            }
            return y
        }
        #expect(!problems.isEmpty && problems.first?.contains("upside down") == true)
    }

    @Test("mirroring the whole image, then cropping at the same corner, fails the crop grader")
    func mirrorThenCrop() {
        let problems = MultiCropGraders.crop { x, view, size in
            guard view.mirrored else { return MultiCrop.crop(x, view: view, size: size) }
            let w = x.shape[3]
            // The whole H x W image mirrored, then cut at (top, left).
            var flipped = x
            let (planes, h) = (x.shape[0] * x.shape[1], x.shape[2])
            for p in 0..<planes { for i in 0..<h { for j in 0..<w { flipped.data[(p * h + i) * w + j] = x.data[(p * h + i) * w + w - 1 - j] } } }
            return MultiCrop.crop(flipped, view: CropView(top: view.top, left: view.left), size: size)
        }
        #expect(!problems.isEmpty)
    }
}
