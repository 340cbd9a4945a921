import ConvNetCore
import Foundation

// What the lesson draws (SVG line charts from the core's LineChart): the training error of
// every net per epoch, and the gradient norm of every convolution at initialisation on a
// log scale. LessonRun writes them and shows them in index.html.

enum ResNetPictures {
    /// Training error (%) per epoch, mean over the seeds, one line per net: plain nets
    /// dashed, residual ones solid, deeper nets darker.
    static func errorCurves(_ arms: [ResNetLesson.Arm], title: String) -> String {
        var chart = LineChart(title: title, xLabel: "epoch", yLabel: "training error (%), measured while training", yRange: 0...100)
        let colours: [NetKind: (String, String)] = [.plain: ("#f4a261", "#c0392b"), .residual: ("#74a9cf", "#045a8d"),
                                                    .scaled: ("#b39ddb", "#5e35b1"), .preActivation: ("#81c784", "#1b5e20")]
        let depths = Set(arms.map(\.depth))
        for arm in arms {
            let epochs = arm.histories.map(\.epochs.count).min() ?? 0
            let points = (0..<epochs).map { e in
                (Double(e + 1), 100 * mean(arm.histories.map { 1 - $0.epochs[e].trainAccuracy }))
            }
            let (light, dark) = colours[arm.kind] ?? ("#888888", "#333333")
            chart.series.append(.init(name: arm.label, points: points,
                                      color: arm.depth == depths.max() ? dark : light, dashed: arm.kind == .plain))
        }
        return chart.svg
    }

    /// The gradient norm of each convolution (first to last) at initialisation, log scale.
    static func gradientNorms(plain: [Double], residual: [Double], depth: Int) -> String {
        var chart = LineChart(title: "Gradient norm per layer at initialisation, \(depth) layers",
                              xLabel: "convolution (1 = first, next to the input)", yLabel: "|dLoss/dW| (log scale)")
        chart.logarithmicY = true
        chart.series = [
            .init(name: "plain-\(depth)", points: plain.enumerated().map { (Double($0.offset + 1), $0.element) }, color: "#c0392b", dashed: true),
            .init(name: "res-\(depth)", points: residual.enumerated().map { (Double($0.offset + 1), $0.element) }, color: "#045a8d"),
        ]
        return chart.svg
    }
}
