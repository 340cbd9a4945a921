import ConvNetCore
import Foundation

// The segmentation data: composites of MNIST-5k digits on a cluttered background, each
// pixel labelled with its digit's class (1 + the digit) or background (0).
//
//   - a side x side canvas of faint noise;
//   - clutter: a few small fragments cut from OTHER digits (strokes as bright as a digit's),
//     labelled background: thresholding the intensity cannot tell them from digits, only
//     a look at the surroundings can;
//   - one or two digits, each resized to a random size and placed in its own part of the
//     canvas (drawn over the clutter, brightest wins); a pixel belongs to a digit where
//     that digit's own ink is at least `inkThreshold`.
//
// Training composites are made from the training digits, held-out ones from the held-out
// digits (no digit image is in both), all from one seed.

/// Composites of digits for segmentation.
public enum DigitComposites {
    /// Background and the ten digits.
    public static let classes = 11

    public struct Settings: Sendable {
        public var side = 40
        public var digitsPerImage: ClosedRange<Int> = 1...2
        public var digitSize: ClosedRange<Int> = 22...28
        public var clutterPieces: ClosedRange<Int> = 3...5
        public var clutterSize: ClosedRange<Int> = 6...10
        public var noise: Float = 0.1
        public var inkThreshold: Float = 0.5
        public init() {}
    }

    /// `count` composites made from `digits` (`[N, 1, 28, 28]`, ink in [0, 1]).
    public static func make(from digits: LabeledImages, count: Int, settings s: Settings = Settings(), seed: UInt64) -> SegmentationSet {
        precondition(digits.count >= 2 && digits.images.shape[1] == 1, "DigitComposites: at least two one-channel digits")
        let side = s.side, dh = digits.images.shape[2], dw = digits.images.shape[3]
        var g = SeededGenerator(seed: seed)
        func uniform(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(g.next() % UInt64(r.count)) }
        func digitPixels(_ i: Int) -> [Float] { Array(digits.images.data[i * dh * dw..<(i + 1) * dh * dw]) }
        var images = [Float](repeating: 0, count: count * side * side)
        var labels = [Int](repeating: 0, count: count * side * side)
        for n in 0..<count {
            let base = n * side * side
            for p in 0..<(side * side) { images[base + p] = g.nextUniform() * s.noise }
            // Clutter: fragments of other digits, background.
            for _ in 0..<uniform(s.clutterPieces) {
                let source = digitPixels(Int(g.next() % UInt64(digits.count)))
                let f = uniform(s.clutterSize)
                let (sy, sx) = (uniform(4...(dh - 4 - f)), uniform(4...(dw - 4 - f)))
                let (ty, tx) = (uniform(0...(side - f)), uniform(0...(side - f)))
                let brightness = 0.7 + 0.3 * g.nextUniform()
                for y in 0..<f {
                    for x in 0..<f {
                        let v = source[(sy + y) * dw + sx + x] * brightness
                        images[base + (ty + y) * side + tx + x] = max(images[base + (ty + y) * side + tx + x], v)
                    }
                }
            }
            // Digits, each in its own slot of the canvas.
            let m = uniform(s.digitsPerImage)
            for k in 0..<m {
                let index = Int(g.next() % UInt64(digits.count))
                let size = uniform(s.digitSize)
                let resized = resize(digitPixels(index), from: dh, to: size)
                let slot = Double(side) / Double(m)
                let centreX = (Double(k) + 0.5) * slot + Double(uniform(0...6)) - 3
                let centreY = Double(side) / 2 + Double(uniform(0...max(0, side - size))) - Double(side - size) / 2
                let left = min(max(0, Int((centreX - Double(size) / 2).rounded())), side - size)
                let top = min(max(0, Int((centreY - Double(size) / 2).rounded())), side - size)
                for y in 0..<size {
                    for x in 0..<size {
                        let v = resized[y * size + x]
                        let p = base + (top + y) * side + left + x
                        images[p] = max(images[p], v)
                        if v >= s.inkThreshold { labels[p] = digits.labels[index] + 1 }
                    }
                }
            }
        }
        return SegmentationSet(images: Tensor(shape: [count, 1, side, side], data: images), labels: labels,
                               labelHeight: side, labelWidth: side)
    }

    /// A square image resampled from `from` x `from` to `to` x `to` by area averaging.
    static func resize(_ pixels: [Float], from: Int, to: Int) -> [Float] {
        LabeledImages(images: Tensor(shape: [1, 1, from, from], data: pixels), labels: [0]).resized(height: to, width: to).images.data
    }
}

/// The baseline a network must beat: a pixel is a digit where its intensity is at least a
/// threshold (the threshold that scores best on the training composites), and every digit
/// pixel gets the one class most frequent among the training composites' digit pixels.
public struct ThresholdBaseline: Sendable {
    public var threshold: Float
    public var guessedClass: Int

    /// Fitted on `training`: the most frequent digit class, and the threshold of
    /// 0.05, 0.10, ..., 0.95 with the best mean IoU.
    public init(fittedOn training: SegmentationSet, classes: Int) {
        var counts = [Int](repeating: 0, count: classes)
        for l in training.labels where l > 0 { counts[l] += 1 }
        guessedClass = counts.indices.dropFirst().max { counts[$0] < counts[$1] } ?? 1
        threshold = 0.5
        var best = -1.0
        for step in 1...19 {
            let t = Float(step) * 0.05
            let candidate = ThresholdBaseline(threshold: t, guessedClass: guessedClass)
            let score = SegmentationScores(predicted: candidate.predict(training), truth: training.labels, classes: classes).meanIoU
            if score > best { (best, threshold) = (score, t) }
        }
    }

    public init(threshold: Float, guessedClass: Int) {
        (self.threshold, self.guessedClass) = (threshold, guessedClass)
    }

    /// Every pixel's class (the images must be the size of the labels).
    public func predict(_ data: SegmentationSet) -> [Int] {
        data.images.data.map { $0 >= threshold ? guessedClass : 0 }
    }
}
