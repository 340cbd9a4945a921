import ConvNetCore
import Foundation

// The multi-crop lesson's exercises: write these three functions, then run
//
//     swift test --filter MultiCropExercises
//
// `lesson exercise multicrop --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise multicrop --reset` puts them back. The graders
// (Tests/MultiCropLessonTests/MultiCropExercises.swift) check them against the core's
// MultiCrop (Sources/ConvNetCore/Evaluation/MultiCropEvaluation.swift). Arrays are NCHW.

/// Exercise 1: AlexNet's 10 crops of an `height` x `width` image: the S x S crop at the
/// centre, at the 4 corners, and the same 5 mirrored left-right. A `CropView` is the crop's
/// top-left corner (`top`, `left`) and whether it is mirrored.
/// Hint: the centre crop starts at ((H - S) / 2, (W - S) / 2), rounding down; a corner
/// crop touches two edges, so its top is 0 or H - S and its left 0 or W - S (not H - S + 1:
/// the last row of the crop is top + S - 1). Order: centre, top-left, top-right,
/// bottom-left, bottom-right, then the mirrors in the same order.
public func tenCropViews(height: Int, width: Int, size: Int) -> [CropView] {
    // EXERCISE tenCropViews BEGIN (stub: return [])
    let centre = CropView(top: (height - size) / 2, left: (width - size) / 2)
    let (bottom, right) = (height - size, width - size)
    let five = [centre, CropView(top: 0, left: 0), CropView(top: 0, left: right),
                CropView(top: bottom, left: 0), CropView(top: bottom, left: right)]
    return five + five.map { CropView(top: $0.top, left: $0.left, mirrored: true) }
    // EXERCISE tenCropViews END
}

/// Exercise 2: the ensemble's prediction: given each net's logits `[N, classes]` for the
/// same N images, return the averaged class probabilities `[N, classes]`:
///     p[n, k] = (1/K) sum_i softmax(z_i[n, :])[k]
/// Hint: softmax EACH net's logits first (subtract the row's largest logit before exp,
/// so that nothing overflows), then average the probabilities. Averaging the logits and
/// taking one softmax is a different thing: a net with large logits then outvotes the
/// others, and the rows are not the mean of what the nets said.
public func ensembleProbabilities(_ logits: [Tensor]) -> Tensor {
    // EXERCISE ensembleProbabilities BEGIN (stub: return logits[0])
    let (n, classes) = (logits[0].shape[0], logits[0].shape[1])
    var sum = [Float](repeating: 0, count: n * classes)
    for z in logits {
        for row in 0..<n {
            let values = z.data[row * classes..<(row + 1) * classes]
            let m = values.max()!
            let e = values.map { exp($0 - m) }
            let total = e.reduce(0, +)
            for k in 0..<classes { sum[row * classes + k] += e[k] / total }
        }
    }
    return Tensor(shape: [n, classes], data: sum.map { $0 / Float(logits.count) })
    // EXERCISE ensembleProbabilities END
}

/// Exercise 3: the `size` x `size` crop of every image of `x` (`[N, C, H, W]`) at
/// `view`, mirrored left-right when `view.mirrored`: `[N, C, S, S]`.
/// Hint: y[n, c, i, j] = x[n, c, top + i, left + j], or x[n, c, top + i, left + S - 1 - j]
/// when mirrored: the crop is cut first, then flipped within itself (columns reversed,
/// rows kept). Flipping the rows is an upside-down image, not a mirror.
public func cropAndMirror(_ x: Tensor, view: CropView, size: Int) -> Tensor {
    // EXERCISE cropAndMirror BEGIN (stub: return x)
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var y = [Float](repeating: 0, count: n * c * size * size)
    for plane in 0..<(n * c) {
        for i in 0..<size {
            for j in 0..<size {
                let column = view.mirrored ? view.left + size - 1 - j : view.left + j
                y[(plane * size + i) * size + j] = x.data[(plane * h + view.top + i) * w + column]
            }
        }
    }
    return Tensor(shape: [n, c, size, size], data: y)
    // EXERCISE cropAndMirror END
}
