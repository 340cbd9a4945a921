import Foundation

/// Images with one class label each: what the shared ``Trainer`` trains on and
/// ``Trainer/evaluate(_:on:batchSize:)`` measures. The lessons load the 5,000 MNIST digits of
/// `Fixtures/mnist-5k` with ``loadDigits(directory:padding:)``.
public struct LabeledImages {
    /// `[count, channels, height, width]`; digits: ink scaled to [0, 1] (then normalised if asked).
    public var images: Tensor
    public var labels: [Int]

    public var count: Int { labels.count }

    public init(images: Tensor, labels: [Int]) {
        precondition(images.rank == 4 && images.shape[0] == labels.count,
                     "LabeledImages: \(labels.count) labels for images of shape \(images.shape)")
        self.images = images
        self.labels = labels
    }

    /// The MNIST digits of `directory` (`Fixtures/mnist-5k`: 500 per class, stored sorted by
    /// class): `images.npy` uint8 `[N, 28, 28]` (0 background, 255 ink) and `labels.npy`
    /// uint8 `[N]`. Scales pixels to [0, 1] and zero-pads each side by `padding` (2 gives
    /// LeNet-5's 32x32, as the 1998 paper did).
    ///
    /// A directory with fewer than `minimumCount` images (the lessons split 4,000 + 1,000),
    /// empty images or labels outside 0...9 is an error naming the file.
    public static func loadDigits(directory: URL, padding: Int = 0, minimumCount: Int = 5_000) throws -> LabeledImages {
        let imageURL = directory.appendingPathComponent("images.npy")
        let labelURL = directory.appendingPathComponent("labels.npy")
        let raw = try NumPy.read(imageURL)
        guard raw.shape.count == 3 else {
            throw FileFormatError(path: imageURL.path, reason: "expected images of shape [N, H, W], got \(raw.shape)")
        }
        let labels = try NumPy.read(labelURL).integers
        guard labels.count == raw.shape[0] else {
            throw FileFormatError(path: labelURL.path, reason: "\(labels.count) labels for \(raw.shape[0]) images")
        }
        guard labels.allSatisfy({ (0...9).contains($0) }) else {
            throw FileFormatError(path: labelURL.path, reason: "labels outside 0...9")
        }
        let (n, h, w) = (raw.shape[0], raw.shape[1], raw.shape[2])
        guard n >= minimumCount, h > 0, w > 0, h <= 1 << 12, w <= 1 << 12 else {
            throw FileFormatError(path: imageURL.path, reason: "expected at least \(minimumCount) images of at most 4096x4096 pixels, got shape \(raw.shape)")
        }
        let pixels = raw.floats
        let (ph, pw) = (h + 2 * padding, w + 2 * padding)
        var data = [Float](repeating: 0, count: n * ph * pw)
        for i in 0..<n {
            for y in 0..<h {
                for x in 0..<w {
                    data[(i * ph + y + padding) * pw + x + padding] = pixels[(i * h + y) * w + x] / 255
                }
            }
        }
        return LabeledImages(images: Tensor(shape: [n, 1, ph, pw], data: data), labels: labels)
    }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> LabeledImages {
        let per = images.count / max(count, 1)
        var data = [Float]()
        data.reserveCapacity(indices.count * per)
        for i in indices { data.append(contentsOf: images.data[i * per..<(i + 1) * per]) }
        var shape = images.shape
        shape[0] = indices.count
        return LabeledImages(images: Tensor(shape: shape, data: data), labels: indices.map { labels[$0] })
    }

    /// A seeded shuffle split into a training set of `trainCount` and a held-out set of
    /// `validationCount` (the data are sorted by class, so never split without shuffling).
    public func split(trainCount: Int, validationCount: Int, seed: UInt64) -> (train: LabeledImages, validation: LabeledImages) {
        precondition(trainCount + validationCount <= count,
                     "split: \(trainCount) + \(validationCount) examples asked of \(count)")
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<count)
        order.shuffle(using: &generator)
        return (subset(Array(order[0..<trainCount])), subset(Array(order[trainCount..<trainCount + validationCount])))
    }

    /// The lessons' split of `Fixtures/mnist-5k` (in `fixtures`): the 5,000 digits shuffled
    /// with `seed` into 4,000 for training and 1,000 held out, of which the first
    /// `trainCount` and `validationCount` are kept (so a `--quick` run's digits are a subset
    /// of a full run's). Pixels in [0, 1], each side zero-padded by `padding`.
    public static func mnist5k(fixtures: URL, trainCount: Int = 4_000, validationCount: Int = 1_000, seed: UInt64,
                               padding: Int = 0) throws -> (train: LabeledImages, validation: LabeledImages) {
        let digits = try loadDigits(directory: fixtures.appendingPathComponent("mnist-5k"), padding: padding)
        guard digits.count >= 5_000 else { throw LessonError("mnist-5k holds \(digits.count) digits, 5,000 expected") }
        precondition(trainCount <= 4_000 && validationCount <= 1_000,
                     "mnist5k: at most 4,000 training and 1,000 held-out digits, asked \(trainCount) and \(validationCount)")
        let (training, validation) = digits.split(trainCount: 4_000, validationCount: 1_000, seed: seed)
        return (training.subset(Array(0..<trainCount)), validation.subset(Array(0..<validationCount)))
    }

    /// Subtracts `mean` and divides by `std` (per pixel, in place).
    public mutating func normalize(mean: Float, std: Float) {
        for i in images.data.indices { images.data[i] = (images.data[i] - mean) / std }
    }
}

extension LabeledImages {
    /// Every image resampled to `height x width` by area averaging: each output pixel is
    /// the mean of the input area it covers, partly covered pixels weighted by the
    /// fraction covered (PIL's box filter). 28x28 digits -> 16x16 for the small nets of
    /// the ResNet lesson, without the aliasing of picking every 1.75th pixel.
    public func resized(height: Int, width: Int) -> LabeledImages {
        precondition(height > 0 && width > 0, "resized: \(height)x\(width)")
        let s = images.featureMapShape(for: "resized")
        /// For each output index, the input indices it covers and their weights (summing to 1).
        func weights(_ inSize: Int, _ outSize: Int) -> [[(index: Int, weight: Float)]] {
            let scale = Double(inSize) / Double(outSize)
            return (0..<outSize).map { o in
                let start = Double(o) * scale, end = Double(o + 1) * scale
                var taps: [(Int, Float)] = []
                var i = Int(start.rounded(.down))
                while Double(i) < end && i < inSize {
                    let covered = min(end, Double(i + 1)) - max(start, Double(i))
                    if covered > 1e-12 { taps.append((i, Float(covered / scale))) }
                    i += 1
                }
                return taps
            }
        }
        let rows = weights(s.height, height), columns = weights(s.width, width)
        var data = [Float](repeating: 0, count: s.batch * s.channels * height * width)
        for plane in 0..<(s.batch * s.channels) {
            let source = plane * s.spatial, target = plane * height * width
            for (oy, rowTaps) in rows.enumerated() {
                for (ox, columnTaps) in columns.enumerated() {
                    var sum: Float = 0
                    for (iy, wy) in rowTaps {
                        for (ix, wx) in columnTaps { sum += wy * wx * images.data[source + iy * s.width + ix] }
                    }
                    data[target + oy * width + ox] = sum
                }
            }
        }
        return LabeledImages(images: Tensor(shape: [s.batch, s.channels, height, width], data: data), labels: labels)
    }

    /// The mean and standard deviation of every pixel of every image (for normalising
    /// held-out images with the training set's statistics).
    public var pixelStatistics: (mean: Float, std: Float) {
        let n = Double(max(images.data.count, 1))
        let mean = images.data.reduce(0.0) { $0 + Double($1) } / n
        let variance = images.data.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return (Float(mean), Float(variance.squareRoot()))
    }
}

extension LabeledImages {
    /// The small-digit setting of the lessons that train CIFAR-style nets: `mnist-5k`
    /// (4,000 / 1,000 split with `seed`), the first `trainCount` training digits and
    /// `validationCount` held-out ones, each 28x28 digit averaged down to `side` x `side`,
    /// both normalised with the training digits' mean and deviation (returned too).
    public static func smallDigits(directory: URL, trainCount: Int, validationCount: Int, side: Int, seed: UInt64)
        throws -> (train: LabeledImages, validation: LabeledImages, mean: Float, std: Float) {
        let digits = try loadDigits(directory: directory)
        guard digits.count >= 5_000 else { throw FileFormatError(path: directory.path, reason: "\(digits.count) digits, 5,000 expected") }
        var (training, validation) = digits.split(trainCount: 4_000, validationCount: 1_000, seed: seed)
        training = training.subset(Array(0..<min(trainCount, training.count))).resized(height: side, width: side)
        validation = validation.subset(Array(0..<min(validationCount, validation.count))).resized(height: side, width: side)
        let (mean, std) = training.pixelStatistics
        training.normalize(mean: mean, std: std)
        validation.normalize(mean: mean, std: std)
        return (training, validation, mean, std)
    }
}
