import ConvNetCore
import Foundation

// What the AlexNet lesson draws under --out: the training-error curves of the ReLU and
// tanh arms (SVG) and what LRN does to conv1's real output (PNG). The lesson's LessonRun
// writes them (atomically) and shows them in index.html.

enum AlexNetPictures {
    /// One training-error curve per arm and seed (ReLU solid, tanh dashed), each the
    /// moving average over `window` steps of the mini-batch error, and the threshold.
    static func trainingError(_ curves: [(activation: DigitNet.Activation, seed: UInt64, errors: [Double])],
                              window: Int, threshold: Double) -> String {
        var chart = LineChart(title: "ReLU vs tanh on MNIST-5k: training error (moving average of \(window) steps)",
                              xLabel: "step (mini-batch)", yLabel: "training error (%)")
        chart.logarithmicY = true
        let seeds = Array(Set(curves.map(\.seed))).sorted()
        for curve in curves {
            let smoothed = movingAverage(curve.errors, window: window)
            let color = LineChart.palette[(seeds.firstIndex(of: curve.seed) ?? 0) % LineChart.palette.count]
            chart.series.append(.init(name: "\(curve.activation.rawValue), seed \(curve.seed)",
                                      points: smoothed.enumerated().compactMap { i, e in
                                          e > 0 ? (Double(i + 1), 100 * e) : nil
                                      },
                                      color: color, dashed: curve.activation == .tanh))
        }
        let steps = curves.map(\.errors.count).max() ?? 1
        chart.series.append(.init(name: "threshold \(String(format: "%g", 100 * threshold))%",
                                  points: [(1, 100 * threshold), (Double(steps), 100 * threshold)], color: "#777777", dashed: true))
        return chart.svg
    }

    /// `result[i]` = the mean of `values[max(0, i + 1 - window) ... i]`.
    static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        var result: [Double] = []
        var sum = 0.0
        for (i, v) in values.enumerated() {
            sum += v
            if i >= window { sum -= values[i - window] }
            result.append(sum / Double(min(i + 1, window)))
        }
        return result
    }

    /// Three bands for `channels` of image `image` of conv1's output after ReLU, `a`
    /// (`[N, 96, 55, 55]`): the activations a (each tile scaled to its own range), the
    /// normalised b = LRN(a) (the same), and the factor b / a = D^-beta on one grey scale
    /// shared by the band (its smallest value black, its largest white), so that its
    /// variation across positions and channels shows.
    static func lrnEffect(before a: Tensor, after b: Tensor, factor: Tensor, image: Int, channels: [Int]) -> Image {
        func band(_ t: Tensor, shared: Bool) -> Image {
            let s = t.featureMapShape(for: "lrnEffect")
            var grid = ImageGrid(columns: channels.count, scale: 2, gap: 4, normalizeEachTile: !shared)
            for c in channels {
                let start = (image * s.channels + c) * s.spatial
                grid.append(width: s.width, height: s.height, values: Array(t.data[start..<start + s.spatial]))
            }
            return grid.image
        }
        return ImageGrid.stacked([band(a, shared: false), band(b, shared: false), band(factor, shared: true)])
    }

    /// The normalising factor `D_c^-beta` of LRN at every position of `a` (`[N, C, H, W]`):
    /// `D_c = k + alpha/size * sum of a_{c'}^2 over c' in [c - size/2, c + (size-1)/2]`,
    /// so that `LRN(a)_c = a_c * D_c^-beta`. A factor near `k^-beta` means "nothing to
    /// normalise here"; smaller factors mark positions where neighbouring maps are strong.
    static func normalisingFactor(_ a: Tensor, _ lrn: LocalResponseNorm) -> Tensor {
        let s = a.featureMapShape(for: "normalisingFactor")
        var factor = Tensor(shape: a.shape)
        for n in 0..<s.batch {
            for c in 0..<s.channels {
                let window = max(0, c - lrn.size / 2)...min(s.channels - 1, c + (lrn.size - 1) / 2)
                for p in 0..<s.spatial {
                    var sum: Float = 0
                    for c2 in window { let v = a.data[(n * s.channels + c2) * s.spatial + p]; sum += v * v }
                    let d = lrn.k + lrn.alpha / Float(lrn.size) * sum
                    factor.data[(n * s.channels + c) * s.spatial + p] = Foundation.pow(d, -lrn.beta)
                }
            }
        }
        return factor
    }
}
