import ConvNetCore
import Foundation

/// What the transfer lesson draws.
enum TransferPictures {
    /// Held-out accuracy (%) against labels per class, one line per arm (means over the seeds).
    static func accuracyChart(labelCounts: [Int], means: [[Double]], titles: [String]) -> String {
        var chart = LineChart(title: "Digits 5-9 from few labels, after pretraining on 0-4", xLabel: "labels per class",
                              yLabel: "held-out accuracy (%)")
        for (i, title) in titles.enumerated() {
            chart.series.append(LineChart.Series(name: title, points: zip(labelCounts, means[i]).map { (Double($0), 100 * $1) },
                                                 color: LineChart.palette[i % LineChart.palette.count], dashed: i == 2))
        }
        return chart.svg
    }
}
