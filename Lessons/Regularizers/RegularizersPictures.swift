import ConvNetCore
import Foundation

// What the lesson draws (SVG line charts from the core's LineChart, shown in index.html):
// the survival probability of each block, the thin nets' final training loss against
// depth, and the mean transform gate of each layer of a trained highway net.

enum RegularizersPictures {
    static func survival(_ p: [Double], depth: Int) -> String {
        var chart = LineChart(title: "Stochastic depth: survival probability of each block, res-\(depth)",
                              xLabel: "block l (1 = next to the input)", yLabel: "p_l = 1 - (l/L)(1 - p_L)", yRange: 0...1)
        chart.series = [.init(name: "p_l", points: p.enumerated().map { (Double($0.offset + 1), $0.element) }, color: "#045a8d")]
        return chart.svg
    }

    /// Diverged nets (NaN) have no point.
    static func highwayLosses(depths: [Int], plain: [Double], highway: [Double], residual: [Double]) -> String {
        var chart = LineChart(title: "Final training loss against depth (thin nets, MNIST-5k)", xLabel: "layers",
                              yLabel: "training-set cross-entropy (log scale)")
        chart.logarithmicY = true
        func points(_ losses: [Double]) -> [(x: Double, y: Double)] {
            zip(depths, losses).filter { $0.1.isFinite && $0.1 > 0 }.map { (Double($0.0), $0.1) }
        }
        chart.series = [
            .init(name: "plain (71 units)", points: points(plain), color: "#c0392b", dashed: true),
            .init(name: "highway (50 units)", points: points(highway), color: "#045a8d"),
            .init(name: "residual, no normalisation (50 units)", points: points(residual), color: "#2ca02c", dashed: true),
        ]
        return chart.svg
    }

    static func gates(_ means: [Double], depth: Int, initial: Double) -> String {
        var chart = LineChart(title: "Highway-\(depth) after training: mean transform gate per layer", xLabel: "highway layer",
                              yLabel: "mean T(x) over 500 digits", yRange: 0...1)
        chart.series = [
            .init(name: "trained", points: means.enumerated().map { (Double($0.offset + 1), $0.element) }, color: "#045a8d"),
            .init(name: "at initialisation, sigmoid(b_T)", points: [(1, initial), (Double(means.count), initial)], color: "#888888", dashed: true),
        ]
        return chart.svg
    }
}
