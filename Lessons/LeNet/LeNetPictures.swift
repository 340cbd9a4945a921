import ConvNetCore
import Foundation

// What the lesson draws under --out: the training curves (SVG), the learned C1 filters
// and the feature maps of one digit at every stage (PNG). The lesson's LessonRun writes
// them (atomically) and shows them in index.html.

enum LeNetPictures {
    /// Two charts side by side in one SVG: loss per epoch and accuracy per epoch, each
    /// for the training digits (measured while training) and the held-out digits.
    static func trainingCurves(_ records: [EpochRecord], title: String) -> String {
        var loss = LineChart(title: "\(title): loss", xLabel: "epoch", yLabel: "cross-entropy loss")
        loss.series = [
            .init(name: "training", points: records.map { (Double($0.epoch), $0.trainLoss) }),
            .init(name: "held-out", points: records.compactMap { r in r.validationLoss.map { (Double(r.epoch), $0) } }, dashed: true),
        ]
        let lowest = records.flatMap { [$0.trainAccuracy, $0.validationAccuracy ?? $0.trainAccuracy] }.min() ?? 0
        var accuracy = LineChart(title: "\(title): accuracy", xLabel: "epoch", yLabel: "accuracy (%)",
                                 yRange: (floor(lowest * 20) * 5)...100)
        accuracy.series = [
            .init(name: "training", points: records.map { (Double($0.epoch), 100 * $0.trainAccuracy) }),
            .init(name: "held-out", points: records.compactMap { r in r.validationAccuracy.map { (Double(r.epoch), 100 * $0) } }, dashed: true),
        ]
        let (w, h) = (Int(loss.width), Int(loss.height))
        let left = loss.svg.replacingOccurrences(of: "<svg ", with: "<svg x=\"0\" y=\"0\" ", options: .anchored)
        let right = accuracy.svg.replacingOccurrences(of: "<svg ", with: "<svg x=\"\(w)\" y=\"0\" ", options: .anchored)
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(2 * w)" height="\(h)" viewBox="0 0 \(2 * w) \(h)">
        \(left)\(right)</svg>

        """
    }

    /// The six 5x5 filters of C1, each scaled to its own range (black: most negative
    /// weight, white: most positive), enlarged 16 times.
    static func firstLayerFilters(_ model: LeNet5) -> Image {
        guard let c1 = model.children.first(where: { $0.name == "c1" })?.layer as? Conv2d else {
            preconditionFailure("LeNet-5 has no convolution named c1")
        }
        var grid = ImageGrid(columns: 6, scale: 16, gap: 4)
        let w = c1.weight.value
        grid.appendChannels(of: w.reshaped([1, w.shape[0], w.shape[2], w.shape[3]]))
        return grid.image
    }

    /// One band per stage, top to bottom: the input digit, the 6 maps of C1 (after
    /// tanh), the 6 of S2, the 16 of C3, the 16 of S4, C5's 120 values (as a 12x10 tile),
    /// F6's 84 (12x7) and the 10 class probabilities (10x1), each band named on its left.
    /// Tiles are enlarged to about 84 pixels so each band is about as wide as the others.
    static func featureMaps(_ model: LeNet5, digit: Tensor) -> LabeledImage {
        model.eval()
        defer { model.train() }
        let outputs = Dictionary(uniqueKeysWithValues: model.activations(of: digit).map { ($0.name, $0.output) })
        let names = ["tanh1": "C1", "s2": "S2", "tanh3": "C3", "s4": "S4", "tanh5": "C5", "tanh6": "F6", "output": "output"]
        var bands: [(String, Image)] = [("input", band([digit], columns: 1))]
        for stage in LeNet5.stages {
            guard var t = outputs[stage] else { continue }
            switch stage {
            case "tanh5": t = t.reshaped([1, 1, 10, 12])      // 120 values
            case "tanh6": t = t.reshaped([1, 1, 7, 12])       // 84 values
            case "output":                                     // 10 scores, as probabilities
                let e = t.data.map { Foundation.exp(Double($0)) }
                t = Tensor(shape: [1, 1, 1, 10], data: e.map { Float($0 / e.reduce(0, +)) })
            default: break
            }
            bands.append((names[stage] ?? stage, band([t], columns: t.shape[1] > 8 ? 8 : t.shape[1], shared: stage == "output")))
        }
        var labels: [(text: String, top: Int, height: Int)] = []
        var top = 0
        for (name, image) in bands {
            labels.append((name, top, image.height))
            top += image.height
        }
        return LabeledImage(image: ImageGrid.stacked(bands.map(\.1)), labels: labels)
    }

    /// The channels of `tensors` (`[1, C, H, W]`) as one grid band.
    private static func band(_ tensors: [Tensor], columns: Int, shared: Bool = false) -> Image {
        let side = max(tensors[0].shape[2], tensors[0].shape[3])
        var grid = ImageGrid(columns: columns, scale: max(1, 84 / side), gap: 4, normalizeEachTile: !shared)
        for t in tensors { grid.appendChannels(of: t) }
        return grid.image
    }
}
