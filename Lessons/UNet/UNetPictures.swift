import ConvNetCore
import Foundation

// What the lesson draws: held-out composites one per row, with the true labels and the
// predictions of each model beside them, every pixel coloured by its class (background
// black, each digit its own colour; a legend row shows a real digit of each class in its
// colour), and the training losses of the two nets as an SVG chart.

enum UNetPictures {
    /// Background black, then the ten digits' colours (the ten of matplotlib's tab10).
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (255, 255, 255),
    ]

    /// Rows of tiles: `columns[j].maps` are label maps (or nil for the grey input), each
    /// composite `side x side`, enlarged `scale` times, a gap of 4 pixels between tiles,
    /// then a legend row: `legendDigits` (class 1...10's digit, 28x28 ink) in their colours.
    static func comparison(images: Tensor, columns: [[Int]?], rows: [Int], side: Int, scale: Int = 4,
                           legendDigits: [[Float]]) -> Image {
        let gap = 4, tile = side * scale
        let width = columns.count * (tile + gap) + gap
        let legendTile = 28 * 2
        let legendHeight = legendTile + 2 * gap
        let height = rows.count * (tile + gap) + gap + legendHeight
        var pixels = [UInt8](repeating: 96, count: width * height * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            let p = (y * width + x) * 3
            (pixels[p], pixels[p + 1], pixels[p + 2]) = c
        }
        for (r, n) in rows.enumerated() {
            let y0 = gap + r * (tile + gap)
            for (j, maps) in columns.enumerated() {
                let x0 = gap + j * (tile + gap)
                for y in 0..<tile {
                    for x in 0..<tile {
                        let p = n * side * side + (y / scale) * side + x / scale
                        if let maps {
                            put(x0 + x, y0 + y, palette[maps[p] % palette.count])
                        } else {
                            let v = UInt8(max(0, min(255, (images.data[p] * 255).rounded())))
                            put(x0 + x, y0 + y, (v, v, v))
                        }
                    }
                }
            }
        }
        let legendTop = gap + rows.count * (tile + gap) + gap
        for (k, digit) in legendDigits.enumerated() where k + 1 < palette.count {
            let x0 = gap + k * (legendTile + gap)
            guard x0 + legendTile <= width else { break }
            let colour = palette[k + 1]
            for y in 0..<legendTile {
                for x in 0..<legendTile {
                    let v = digit[(y / 2) * 28 + x / 2]
                    func mix(_ c: UInt8) -> UInt8 { UInt8((Float(c) * v).rounded()) }
                    put(x0 + x, legendTop + y, (mix(colour.0), mix(colour.1), mix(colour.2)))
                }
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// The loss of every training step, one line per net.
    static func losses(_ series: [(name: String, losses: [Double])]) -> String {
        var chart = LineChart(title: "Weighted per-pixel cross-entropy while training", xLabel: "step", yLabel: "loss (log scale)")
        chart.logarithmicY = true
        chart.series = series.enumerated().map { i, s in
            // A running mean over 10 steps, so the two lines can be told apart.
            let smoothed = s.losses.indices.map { j -> (x: Double, y: Double) in
                let window = s.losses[max(0, j - 9)...j]
                return (Double(j + 1), window.reduce(0, +) / Double(window.count))
            }
            return .init(name: s.name, points: smoothed, color: LineChart.palette[i % LineChart.palette.count])
        }
        return chart.svg
    }
}
