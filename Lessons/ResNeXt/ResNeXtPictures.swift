import ConvNetCore
import Foundation

// What the lesson draws: the held-out error of each net per epoch (mean over the seeds),
// an SVG line chart from the core's LineChart, which LessonRun writes into index.html.

enum ResNeXtPictures {
    static func heldOutCurves(_ arms: [ResNeXtLesson.Arm]) -> String {
        var chart = LineChart(title: "Held-out error per epoch (mean over seeds)", xLabel: "epoch",
                              yLabel: "held-out error (%)")
        let colours = ["#045a8d", "#c0392b"]
        for (i, arm) in arms.enumerated() {
            let epochs = arm.histories.map(\.epochs.count).min() ?? 0
            let points = (0..<epochs).map { e in
                (Double(e + 1), 100 * mean(arm.histories.map { 1 - ($0.epochs[e].validationAccuracy ?? 0) }))
            }
            chart.series.append(.init(name: arm.label, points: points, color: colours[i % colours.count], dashed: i > 0))
        }
        return chart.svg
    }
}
