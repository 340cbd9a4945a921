import ConvNetCore
import Foundation

// What the lesson draws: the bytes a dense block keeps from forward to backward against
// its number of layers, naive and with the shared buffer (an SVG line chart from the
// core's LineChart, which LessonRun writes into index.html).

enum DenseNetPictures {
    static func memory(depths: [Int], naive: [Int], shared: [Int], heapNaive: [Int], heapShared: [Int]) -> String {
        var chart = LineChart(title: "Activations kept for backward by one dense block", xLabel: "layers in the block (L)",
                              yLabel: "MB (10^6 bytes)")
        func points(_ bytes: [Int]) -> [(x: Double, y: Double)] {
            zip(depths, bytes).filter { $0.1 >= 0 }.map { (Double($0.0), Double($0.1) / 1e6) }
        }
        chart.series = [
            .init(name: "naive concatenation (counted)", points: points(naive), color: "#c0392b"),
            .init(name: "shared buffer (counted)", points: points(shared), color: "#045a8d"),
            .init(name: "naive (malloc)", points: points(heapNaive), color: "#f4a261", dashed: true),
            .init(name: "shared (malloc)", points: points(heapShared), color: "#74a9cf", dashed: true),
        ]
        return chart.svg
    }
}
