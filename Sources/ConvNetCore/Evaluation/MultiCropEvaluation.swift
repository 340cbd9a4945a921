import Foundation

// Multi-crop evaluation and ensembles: the course's "test-time" tricks.
//
// A network trained on random S x S crops of H x W images sees, at test time, one or
// more crops of each test image; their softmax probabilities are averaged. AlexNet
// (2012) averaged 10 crops: the 4 corners and the centre, and the mirror images of the
// five. GoogLeNet (2014, Table 3) averaged up to 144 crops per image and 7 networks.
// An ensemble averages the probabilities of independently trained networks, each of
// which may itself average several crops.
//
//     views = MultiCrop.tenCrops(height: 28, width: 28, size: 24)   // 10 CropViews
//     x' = MultiCrop.crop(x, view: views[k], size: 24)             // [N, C, 24, 24]
//     p  = MultiCrop.averageProbabilities([softmax(f(x'_1)), ..., softmax(f(x'_V))])
//
// Costs: V crops of one net cost V forward passes per image; K nets with V crops each,
// K V passes.

/// One view of an image for multi-crop evaluation: the top-left corner (`top`, `left`)
/// of an S x S crop, and whether the crop is mirrored left-right after cropping.
public struct CropView: Hashable, Sendable, CustomStringConvertible {
    public var top: Int
    public var left: Int
    public var mirrored: Bool

    public init(top: Int, left: Int, mirrored: Bool = false) {
        self.top = top
        self.left = left
        self.mirrored = mirrored
    }

    public var description: String { "(\(top), \(left))" + (mirrored ? " mirrored" : "") }
}

/// Where the crops go, how to cut them, and how to average what a network says of them.
public enum MultiCrop {
    /// The centre crop of an `height` x `width` image: top = (H - S) / 2 and left =
    /// (W - S) / 2, rounding down.
    public static func centre(height: Int, width: Int, size: Int) -> CropView {
        precondition(size <= height && size <= width, "MultiCrop: a \(size)x\(size) crop of a \(height)x\(width) image")
        return CropView(top: (height - size) / 2, left: (width - size) / 2)
    }

    /// The 5 crops: the centre, then the top-left, top-right, bottom-left and bottom-right
    /// corners (top or left 0, or H - S, W - S: the crop touches the image's edge).
    public static func fiveCrops(height: Int, width: Int, size: Int) -> [CropView] {
        let c = centre(height: height, width: width, size: size)
        let (bottom, right) = (height - size, width - size)
        return [c, CropView(top: 0, left: 0), CropView(top: 0, left: right),
                CropView(top: bottom, left: 0), CropView(top: bottom, left: right)]
    }

    /// AlexNet's 10 crops: the 5 crops, then the same 5 mirrored left-right.
    public static func tenCrops(height: Int, width: Int, size: Int) -> [CropView] {
        let five = fiveCrops(height: height, width: width, size: size)
        return five + five.map { CropView(top: $0.top, left: $0.left, mirrored: true) }
    }

    /// A `perSide` x `perSide` grid of crops, evenly spaced from one edge to the other:
    /// top_i = round(i (H - S) / (perSide - 1)) (perSide = 1: the centre). With perSide 3
    /// and 5 the grid contains the 5 crops when H - S and W - S are even.
    public static func grid(height: Int, width: Int, size: Int, perSide: Int) -> [CropView] {
        precondition(perSide >= 1)
        if perSide == 1 { return [centre(height: height, width: width, size: size)] }
        let position = { (i: Int, room: Int) in Int((Double(i * room) / Double(perSide - 1)).rounded()) }
        return (0..<perSide).flatMap { i in
            (0..<perSide).map { j in CropView(top: position(i, height - size), left: position(j, width - size)) }
        }
    }

    /// The `size` x `size` crop of every image of `x` (`[N, C, H, W]`) at `view`, mirrored
    /// left-right if the view says so: `[N, C, S, S]` with
    ///     y[n, c, i, j] = x[n, c, top + i, left + j]            (not mirrored)
    ///     y[n, c, i, j] = x[n, c, top + i, left + S - 1 - j]    (mirrored)
    public static func crop(_ x: Tensor, view: CropView, size: Int) -> Tensor {
        let s = x.featureMapShape(for: "MultiCrop.crop")
        precondition(view.top >= 0 && view.left >= 0 && view.top + size <= s.height && view.left + size <= s.width,
                     "MultiCrop.crop: a \(size)x\(size) crop at \(view) of \(s)")
        var y = [Float](repeating: 0, count: s.batch * s.channels * size * size)
        for plane in 0..<(s.batch * s.channels) {
            for i in 0..<size {
                let source = plane * s.spatial + (view.top + i) * s.width + view.left
                let target = (plane * size + i) * size
                if view.mirrored {
                    for j in 0..<size { y[target + j] = x.data[source + size - 1 - j] }
                } else {
                    for j in 0..<size { y[target + j] = x.data[source + j] }
                }
            }
        }
        return Tensor(shape: [s.batch, s.channels, size, size], data: y)
    }

    /// Every image of `x` (`[N, C, H, W]`) with `padding` pixels of `fill` on each side:
    /// `[N, C, H + 2p, W + 2p]` (a crop placed in the middle of a network's input).
    public static func padded(_ x: Tensor, by padding: Int, fill: Float) -> Tensor {
        let s = x.featureMapShape(for: "MultiCrop.padded")
        let (h, w) = (s.height + 2 * padding, s.width + 2 * padding)
        var y = [Float](repeating: fill, count: s.batch * s.channels * h * w)
        for plane in 0..<(s.batch * s.channels) {
            for i in 0..<s.height {
                let source = plane * s.spatial + i * s.width, target = (plane * h + i + padding) * w + padding
                for j in 0..<s.width { y[target + j] = x.data[source + j] }
            }
        }
        return Tensor(shape: [s.batch, s.channels, h, w], data: y)
    }

    /// Row-wise softmax of `logits` (`[N, classes]`): p[n, k] = exp(z[n, k] - m) / sum_j exp(z[n, j] - m),
    /// m the row's largest logit (so that no exp overflows).
    public static func softmax(_ logits: Tensor) -> Tensor {
        precondition(logits.rank == 2, "MultiCrop.softmax: expected [N, classes], got \(logits.shape)")
        let classes = logits.shape[1]
        var p = logits.data
        for n in 0..<logits.shape[0] {
            let row = n * classes..<(n + 1) * classes
            let m = p[row].max() ?? 0
            var sum: Float = 0
            for k in row { p[k] = exp(p[k] - m); sum += p[k] }
            for k in row { p[k] /= sum }
        }
        return Tensor(shape: logits.shape, data: p)
    }

    /// The mean of several `[N, classes]` probability tensors (one per crop, or per net):
    /// p[n, k] = (1/V) sum_v p_v[n, k]. Each row still sums to 1.
    public static func averageProbabilities(_ probabilities: [Tensor]) -> Tensor {
        precondition(!probabilities.isEmpty, "MultiCrop.averageProbabilities: nothing to average")
        var sum = [Float](repeating: 0, count: probabilities[0].count)
        for p in probabilities {
            precondition(p.shape == probabilities[0].shape, "MultiCrop.averageProbabilities: shapes \(p.shape) and \(probabilities[0].shape)")
            for i in sum.indices { sum[i] += p.data[i] }
        }
        let scale = 1 / Float(probabilities.count)
        return Tensor(shape: probabilities[0].shape, data: sum.map { $0 * scale })
    }

    /// How many rows of `scores` (`[N, classes]`: probabilities or logits) do not have
    /// their label as the arg-max.
    public static func errors(_ scores: Tensor, labels: [Int]) -> Int {
        zip(Metrics.predictions(scores), labels).filter { $0 != $1 }.count
    }
}
