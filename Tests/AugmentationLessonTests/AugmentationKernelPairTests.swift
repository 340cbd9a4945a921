import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import AugmentationLesson

/// The two forms of every distortion: the per-row fast form gives the per-pixel naive
/// form's numbers on random shapes and draws, and each distortion keeps what it must.
@Suite("Augmentation: naive and fast distortions")
struct AugmentationKernelPairTests {
    static let shapes: [(c: Int, h: Int, w: Int)] = [(1, 1, 1), (1, 7, 5), (3, 8, 8), (2, 13, 21), (3, 17, 40), (1, 32, 32), (3, 5, 33)]

    @Test("fast == naive for every distortion on random shapes, images and draws (odd sizes, 1x1, rows shorter and longer than 16)",
          arguments: Distortion.allCases)
    func fastMatchesNaive(_ distortion: Distortion) {
        var g = SeededGenerator(seed: 0xA11 &+ UInt64(distortion.rawValue.count))
        for shape in Self.shapes where distortion != .pca || shape.c == 3 {
            for trial in 0..<3 {
                let x = (0..<shape.c * shape.h * shape.w).map { _ in g.nextUniform() }
                var strength = DistortionStrength.photographs(side: max(shape.h, shape.w))
                if trial == 1 { strength = .digits() }
                strength.pcaWeighting = trial == 2 ? .eigenvalue : .standardDeviation
                let draw = DistortionDraw.draw(distortion, height: shape.h, width: shape.w, channels: shape.c, strength: strength, using: &g)
                let fill: Float = trial == 0 ? 0 : -0.42
                let naive = NaiveDistortions.apply(draw, to: x, channels: shape.c, height: shape.h, width: shape.w, fill: fill, weighting: strength.pcaWeighting)
                let fast = FastDistortions.apply(draw, to: x, channels: shape.c, height: shape.h, width: shape.w, fill: fill, weighting: strength.pcaWeighting)
                let error = relativeError(fast, naive)
                #expect(error < 1e-5, "\(distortion) on \(shape), trial \(trial): relative error \(error)")
                // And the Float naive form agrees with the Double one.
                let double = NaiveDistortions.apply(draw, to: x.map(Double.init), channels: shape.c, height: shape.h, width: shape.w,
                                                    fill: Double(fill), weighting: strength.pcaWeighting)
                #expect(relativeError(naive.map(Double.init), double) < 1e-5, "\(distortion) on \(shape): Float against Double")
            }
        }
    }

    @Test("bilinear sampling at a pixel's own position returns that pixel, and halfway between two pixels their mean")
    func bilinearAtPixels() {
        var g = SeededGenerator(seed: 3)
        let plane = (0..<6 * 7).map { _ in Double(g.nextUniform()) }
        for r in 0..<6 {
            for q in 0..<7 {
                #expect(NaiveDistortions.bilinear(plane[...], height: 6, width: 7, y: Double(r), x: Double(q), fill: 9) == plane[r * 7 + q])
                if q < 6 {
                    let half = NaiveDistortions.bilinear(plane[...], height: 6, width: 7, y: Double(r), x: Double(q) + 0.5, fill: 9)
                    #expect(abs(half - (plane[r * 7 + q] + plane[r * 7 + q + 1]) / 2) < 1e-12)
                }
            }
        }
        #expect(NaiveDistortions.bilinear(plane[...], height: 6, width: 7, y: -3, x: 2, fill: 9) == 9)
        #expect(abs(NaiveDistortions.bilinear(plane[...], height: 6, width: 7, y: -0.5, x: 0, fill: 1) - (1 + plane[0]) / 2) < 1e-12)
    }

    @Test("identities: mirroring twice, rotating by 0, shearing by 0, the whole-image crop, a zero elastic field and a zero colour shift change nothing")
    func identities() {
        var g = SeededGenerator(seed: 5)
        let (c, h, w) = (3, 9, 20)
        let x = (0..<c * h * w).map { _ in g.nextUniform() }
        func fast(_ draw: DistortionDraw, _ v: [Float]) -> [Float] { FastDistortions.apply(draw, to: v, channels: c, height: h, width: w, fill: 7) }
        #expect(fast(.mirror, fast(.mirror, x)) == x)
        #expect(fast(.rotation(radians: 0), x) == x)
        #expect(fast(.shear(0), x) == x)
        #expect(fast(.crop(top: 0, left: 0, height: Double(h), width: Double(w)), x) == x)
        #expect(fast(.elastic(dy: .init(repeating: 0, count: h * w), dx: .init(repeating: 0, count: h * w)), x) == x)
        #expect(fast(.colour([0, 0, 0]), x) == x)
        #expect(fast(.mirror, x)[5] == x[w - 1 - 5])
    }

    @Test("a crop of the image's own size moved by whole pixels is a shift, the uncovered pixels the fill")
    func cropIsShift() {
        let (h, w) = (6, 8)
        let x = (0..<h * w).map { Float($0) }
        let y = FastDistortions.apply(.crop(top: 2, left: -1, height: Double(h), width: Double(w)), to: x, channels: 1, height: h, width: w, fill: -1)
        for i in 0..<h {
            for j in 0..<w {
                let (r, q) = (i + 2, j - 1)
                #expect(y[i * w + j] == (r < h && q >= 0 ? x[r * w + q] : -1))
            }
        }
    }

    @Test("a quarter turn of a square image takes out(i, j) from in(j, W - 1 - i): the top-right corner goes to the top-left, counter-clockwise")
    func quarterTurn() {
        let n = 7
        let x = (0..<n * n).map { Float($0) }
        let y = FastDistortions.apply(.rotation(radians: .pi / 2), to: x, channels: 1, height: n, width: n, fill: -1)
        for i in 0..<n {
            for j in 0..<n {
                // out(i, j) comes from x = c - v, y = c + u: the source row j, column n - 1 - i.
                #expect(abs(y[i * n + j] - x[j * n + (n - 1 - i)]) < 1e-4, "(\(i), \(j))")
            }
        }
    }

    @Test("random draws are seeded: the same seed gives the same parameters, and crops of digits are whole-pixel shifts of at most 3")
    func drawsAreSeeded() {
        for distortion in Distortion.allCases {
            var a = SeededGenerator(seed: 11), b = SeededGenerator(seed: 11)
            let x = DistortionDraw.draw(distortion, height: 12, width: 10, channels: 3, strength: .digits(), using: &a)
            let y = DistortionDraw.draw(distortion, height: 12, width: 10, channels: 3, strength: .digits(), using: &b)
            #expect(String(describing: x) == String(describing: y))
        }
        var g = SeededGenerator(seed: 2)
        for _ in 0..<100 {
            guard case .crop(let top, let left, let h, let w) = DistortionDraw.draw(.crop, height: 32, width: 32, channels: 1, strength: .digits(), using: &g) else {
                Issue.record("not a crop"); return
            }
            #expect(h == 32 && w == 32 && abs(top) <= 3 && abs(left) <= 3 && top == top.rounded() && left == left.rounded())
        }
    }
}
