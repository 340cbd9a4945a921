import ConvNetCore
import Foundation

// What the VGG lesson draws under --out besides receptive-fields.png (an ImageGrid of
// gradients, made in VGGLesson.swift): the held-out accuracy of the two small nets per
// epoch (SVG). The lesson's LessonRun writes it and shows it in index.html.

enum VGGPictures {
    /// Held-out accuracy per epoch, one line per net and seed (3x3 stacks solid, 5x5
    /// dashed, one colour per seed).
    static func heldOutCurves(_ curves: [(kind: DigitVGG.Kind, seed: UInt64, records: [EpochRecord])]) -> String {
        let values = curves.flatMap { $0.records.compactMap(\.validationAccuracy) }
        let lowest = values.min() ?? 0
        var chart = LineChart(title: "3x3 stacks vs 5x5 on MNIST-5k: held-out accuracy", xLabel: "epoch",
                              yLabel: "held-out accuracy (%)", yRange: (floor(lowest * 100) - 0.5)...100)
        let seeds = Array(Set(curves.map(\.seed))).sorted()
        for curve in curves {
            chart.series.append(.init(name: "\(curve.kind.rawValue), seed \(curve.seed)",
                                      points: curve.records.compactMap { r in r.validationAccuracy.map { (Double(r.epoch), 100 * $0) } },
                                      color: LineChart.palette[(seeds.firstIndex(of: curve.seed) ?? 0) % LineChart.palette.count],
                                      dashed: curve.kind == .fiveByFive))
        }
        return chart.svg
    }
}
