import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import AugmentationLesson

// The graders of Lessons/Augmentation/Exercises.swift. Each returns the problems it found
// (empty: right); the tests expect none from the learner's functions and some from typical
// wrong answers, so no grader can pass anything.

enum AugmentationGraders {
    static func randomImage(_ count: Int, seed: UInt64) -> [Double] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Double(g.nextUniform()) }
    }

    /// Against the naive bilinear sampler, at pixels, between them, on the border and outside.
    static func bilinear(_ answer: ([Double], Int, Int, Double, Double, Double) -> Double) -> [String] {
        var problems: [String] = []
        let (h, w) = (5, 7)
        let plane = randomImage(h * w, seed: 31)
        var g = SeededGenerator(seed: 32)
        var points: [(Double, Double)] = [(0, 0), (2, 3), (1.5, 2.25), (4, 6), (3.7, 0.2), (-0.5, 2), (2, -0.25), (4.5, 6.5), (-3, -3), (0.25, 5.75)]
        for _ in 0..<30 { points.append((Double(g.nextUniform()) * 7 - 1, Double(g.nextUniform()) * 9 - 1)) }
        for (y, x) in points {
            let expected = NaiveDistortions.bilinear(plane[...], height: h, width: w, y: y, x: x, fill: -2)
            let got = answer(plane, h, w, y, x, -2)
            guard abs(got - expected) <= 1e-12 else {
                let inside = y >= 0 && x >= 0 && y <= Double(h - 1) && x <= Double(w - 1)
                problems.append("bilinearSample at (y \(y), x \(x)) of a \(h)x\(w) plane, fill -2: got \(got), expected \(expected)."
                                + (inside ? " Usual mistakes: the weights swapped (the nearer pixel must weigh MORE: 1 - f for the lower one), x and y swapped (p[r, q] = plane[r * width + q]), nearest-neighbour rounding."
                                          : " This point is near or outside the border: taps outside the image are `fill`, and floor(-0.5) is -1 (Int(-0.5) truncates to 0)."))
                return problems
            }
        }
        return problems
    }

    /// Against the naive rotation, on a square and a non-square image, several angles.
    static func rotation(_ answer: ([Double], Int, Int, Int, Double, Double) -> [Double]) -> [String] {
        var problems: [String] = []
        for (k, shape) in [(1, 9, 9), (3, 6, 11), (2, 10, 7)].enumerated() {
            let image = randomImage(shape.0 * shape.1 * shape.2, seed: 40 + UInt64(k))
            for radians in [0.3, -1.1, Double.pi / 2] {
                let expected = NaiveDistortions.rotate(image, channels: shape.0, height: shape.1, width: shape.2, radians: radians, fill: 0.5)
                let got = answer(image, shape.0, shape.1, shape.2, radians, 0.5)
                if let p = Grading.check("rotated", on: "a \(shape.0)x\(shape.1)x\(shape.2) image turned by \(radians) rad", got: got, expected: expected,
                                         shape: [shape.0, shape.1, shape.2], tolerance: 1e-9,
                                         usualMistakes: "Usual mistakes: the angle's sign (the picture must turn counter-clockwise on screen: with rows going DOWN, that is x = c_x + cos u - sin v), mapping input pixels forwards instead of output pixels backwards, turning about the corner (0, 0) instead of the centre ((W - 1) / 2, (H - 1) / 2), height and width swapped for the centre.") {
                    problems.append(p)
                    return problems
                }
            }
        }
        return problems
    }

    /// Against ColourPCA: the paper's offset sum_k alpha_k lambda_k p_k on every pixel.
    static func pca(_ answer: ([Double], Int, Int, [Double]) -> [Double]) -> [String] {
        var problems: [String] = []
        // A real photograph and a random image with correlated channels.
        var images: [(String, [Double], Int)] = []
        if let photo = try? AugmentationPictures.photographs(FixtureLocator.root.appendingPathComponent("photos"), side: 24).first {
            images.append(("the photograph \(photo.name) at 24x24", photo.rgb.map(Double.init), 24))
        } else {
            problems.append("cannot read Fixtures/photos")
        }
        let base = randomImage(16 * 16, seed: 50), noise = randomImage(3 * 16 * 16, seed: 51)
        var correlated = [Double](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for p in 0..<256 { correlated[c * 256 + p] = base[p] * Double(c + 1) * 40 + noise[c * 256 + p] * 30 }
        }
        images.append(("a random 16x16 image", correlated, 16))
        for (what, image, side) in images {
            for alphas in [[0.1, -0.05, 0.2], [-0.3, 0.12, 0.07]] {
                let expected = NaiveDistortions.pcaColour(image, height: side, width: side, alphas: alphas, weighting: .eigenvalue).image
                let got = answer(image, side, side, alphas)
                if let p = Grading.check("pcaColourShift", on: "\(what), alphas \(alphas)", got: got, expected: expected, shape: [3, side, side],
                                         tolerance: 1e-9,
                                         usualMistakes: "Usual mistakes: sqrt(lambda) instead of lambda (the paper multiplies by the eigenvalue), the covariance without subtracting the means, eigenvectors read as rows of a matrix whose columns they are (vectors[k] IS p_k), a different offset per pixel.") {
                    problems.append(p)
                    return problems
                }
            }
        }
        return problems
    }
}

@Suite("Augmentation exercises")
struct AugmentationExercises {
    @Test("exercise 1: bilinearSample weighs the four nearest pixels by their nearness, fill outside")
    func bilinear() {
        let problems = AugmentationGraders.bilinear { bilinearSample($0, height: $1, width: $2, y: $3, x: $4, fill: $5) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "bilinearSample"))")
    }

    @Test("exercise 2: rotated maps each output pixel back to its source about the centre")
    func rotation() {
        let problems = AugmentationGraders.rotation { rotated($0, channels: $1, height: $2, width: $3, radians: $4, fill: $5) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "rotated"))")
    }

    @Test("exercise 3: pcaColourShift adds sum_k alpha_k lambda_k p_k of the image's own colour covariance to every pixel")
    func pca() {
        let problems = AugmentationGraders.pca { pcaColourShift($0, height: $1, width: $2, alphas: $3) }
        #expect(problems.isEmpty, "\(Grading.report(problems, exercise: "pcaColourShift"))")
    }
}

@Suite("Augmentation graders refuse wrong answers")
struct AugmentationGradersRefuseWrongAnswers {
    @Test("bilinear weights swapped (the farther pixel weighing more) fail the sampler's grader")
    func swappedWeights() {
        let problems = AugmentationGraders.bilinear { plane, h, w, y, x, fill in
            let (y0, x0) = (y.rounded(.down), x.rounded(.down))
            let (fy, fx) = (y - y0, x - x0)
            func p(_ r: Int, _ q: Int) -> Double { r >= 0 && r < h && q >= 0 && q < w ? plane[r * w + q] : fill }
            let (r, q) = (Int(y0), Int(x0))
            return fy * (fx * p(r, q) + (1 - fx) * p(r, q + 1)) + (1 - fy) * (fx * p(r + 1, q) + (1 - fx) * p(r + 1, q + 1))
        }
        #expect(!problems.isEmpty && problems[0].contains("weights swapped"))
    }

    @Test("truncating instead of flooring fails the sampler's grader just outside the border")
    func truncation() {
        let problems = AugmentationGraders.bilinear { plane, h, w, y, x, fill in
            let (r, q) = (Int(y), Int(x))
            let (fy, fx) = (y - Double(r), x - Double(q))
            func p(_ r: Int, _ q: Int) -> Double { r >= 0 && r < h && q >= 0 && q < w ? plane[r * w + q] : fill }
            return (1 - fy) * ((1 - fx) * p(r, q) + fx * p(r, q + 1)) + fy * ((1 - fx) * p(r + 1, q) + fx * p(r + 1, q + 1))
        }
        #expect(!problems.isEmpty)
    }

    @Test("a rotation with the angle's sign flipped (clockwise on screen) fails its grader")
    func clockwise() {
        let problems = AugmentationGraders.rotation { image, c, h, w, t, fill in
            NaiveDistortions.rotate(image, channels: c, height: h, width: w, radians: -t, fill: fill)
        }
        #expect(!problems.isEmpty && problems[0].contains("sign"))
    }

    @Test("a rotation about the corner instead of the centre fails its grader")
    func aboutTheCorner() {
        let problems = AugmentationGraders.rotation { image, c, h, w, t, fill in
            var out = [Double](repeating: 0, count: image.count)
            for k in 0..<c {
                let plane = Array(image[k * h * w..<(k + 1) * h * w])
                for i in 0..<h {
                    for j in 0..<w {
                        out[(k * h + i) * w + j] = NaiveDistortions.bilinear(plane[...], height: h, width: w, y: sin(t) * Double(j) + cos(t) * Double(i),
                                                                             x: cos(t) * Double(j) - sin(t) * Double(i), fill: fill)
                    }
                }
            }
            return out
        }
        #expect(!problems.isEmpty)
    }

    @Test("a PCA shift by sqrt(lambda) instead of lambda fails its grader")
    func squareRoot() {
        let problems = AugmentationGraders.pca { image, h, w, alphas in
            NaiveDistortions.pcaColour(image, height: h, width: w, alphas: alphas, weighting: .standardDeviation).image
        }
        #expect(!problems.isEmpty && problems[0].contains("sqrt(lambda)"))
    }

    @Test("a PCA covariance without the means subtracted fails its grader")
    func uncentred() {
        let problems = AugmentationGraders.pca { image, h, w, alphas in
            let n = h * w
            var covariance = [[Double]](repeating: [0, 0, 0], count: 3)
            for a in 0..<3 { for b in 0..<3 { covariance[a][b] = (0..<n).reduce(0.0) { $0 + image[a * n + $1] * image[b * n + $1] } / Double(n) } }
            let (values, vectors) = symmetricEigen(covariance)
            var out = image
            for c in 0..<3 {
                let offset = (0..<3).reduce(0.0) { $0 + alphas[$1] * values[$1] * vectors[$1][c] }
                for p in 0..<n { out[c * n + p] += offset }
            }
            return out
        }
        #expect(!problems.isEmpty)
    }
}
