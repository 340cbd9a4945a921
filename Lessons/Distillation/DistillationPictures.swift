import ConvNetCore
import Foundation

// What the lesson draws: the teacher's soft targets for a few real digits (a PNG: each
// digit, then one bar chart of its ten class probabilities per temperature), and held-out
// accuracy against the temperature (an SVG line chart from the core's LineChart).

enum DistillationPictures {
    /// A 3x5 pixel font for the labels of the PNG: digits, "T" and "=".
    static let glyphs: [Character: [String]] = [
        "0": ["###", "#.#", "#.#", "#.#", "###"], "1": [".#.", "##.", ".#.", ".#.", "###"],
        "2": ["###", "..#", "###", "#..", "###"], "3": ["###", "..#", "###", "..#", "###"],
        "4": ["#.#", "#.#", "###", "..#", "..#"], "5": ["###", "#..", "###", "..#", "###"],
        "6": ["###", "#..", "###", "#.#", "###"], "7": ["###", "..#", ".#.", ".#.", ".#."],
        "8": ["###", "#.#", "###", "#.#", "###"], "9": ["###", "#.#", "###", "..#", "###"],
        "T": ["###", ".#.", ".#.", ".#.", ".#."], "=": ["...", "###", "...", "###", "..."],
    ]

    /// An RGB canvas.
    struct Canvas {
        let width: Int, height: Int
        var pixels: [UInt8]
        init(width: Int, height: Int, background: (UInt8, UInt8, UInt8)) {
            self.width = width
            self.height = height
            pixels = [UInt8](repeating: 0, count: width * height * 3)
            fill(x: 0, y: 0, w: width, h: height, background)
        }
        mutating func fill(x: Int, y: Int, w: Int, h: Int, _ color: (UInt8, UInt8, UInt8)) {
            for row in max(0, y)..<min(height, y + h) {
                for column in max(0, x)..<min(width, x + w) {
                    let i = (row * width + column) * 3
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = color
                }
            }
        }
        /// `text` in the 3x5 font, each font pixel `scale` x `scale`, one blank column between glyphs.
        mutating func write(_ text: String, x: Int, y: Int, scale: Int, _ color: (UInt8, UInt8, UInt8)) {
            for (k, character) in text.enumerated() {
                guard let glyph = glyphs[character] else { continue }
                for (row, line) in glyph.enumerated() {
                    for (column, mark) in line.enumerated() where mark == "#" {
                        fill(x: x + (k * 4 + column) * scale, y: y + row * scale, w: scale, h: scale, color)
                    }
                }
            }
        }
        static func textWidth(_ text: String, scale: Int) -> Int { (text.count * 4 - 1) * scale }
        var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }
    }

    /// One row per digit of `indices`: the 28x28 digit, then for each temperature a bar
    /// chart of softmax(z / T) over the classes 0-9 (the true class blue, the others
    /// orange; full height = probability 1), class numbers under the bars and "T=..."
    /// above each column of charts.
    static func softTargets(images: Tensor, indices: [Int], labels: [Int], logits: Tensor, temperatures: [Double]) -> Image {
        let scale = 3, side = 28 * scale, margin = 12, header = 22
        let barWidth = 10, barGap = 4, classes = logits.shape[1]
        let chartWidth = classes * (barWidth + barGap) - barGap, chartHeight = side, labelHeight = 16
        let rowHeight = chartHeight + labelHeight + margin
        let width = margin + side + temperatures.count * (margin * 2 + chartWidth) + margin
        let height = header + margin + indices.count * rowHeight
        var canvas = Canvas(width: width, height: height, background: (255, 255, 255))
        let ink: (UInt8, UInt8, UInt8) = (40, 40, 40), axis: (UInt8, UInt8, UInt8) = (170, 170, 170)
        let trueColor: (UInt8, UInt8, UInt8) = (31, 119, 180), wrongColor: (UInt8, UInt8, UInt8) = (255, 127, 14)
        let per = images.count / max(images.shape[0], 1)
        for (c, t) in temperatures.enumerated() {
            let x0 = margin + side + margin * 2 + c * (margin * 2 + chartWidth)
            let title = "T=" + String(Int(t))
            canvas.write(title, x: x0 + (chartWidth - Canvas.textWidth(title, scale: 3)) / 2, y: 4, scale: 3, ink)
        }
        for (r, n) in indices.enumerated() {
            let y0 = header + margin + r * rowHeight
            // The digit, ink dark on white.
            for y in 0..<side {
                for x in 0..<side {
                    let v = images.data[n * per + (y / scale) * 28 + x / scale]
                    let level = UInt8(max(0, min(255, (255 * (1 - v)).rounded())))
                    canvas.fill(x: margin + x, y: y0 + y, w: 1, h: 1, (level, level, level))
                }
            }
            let row = gatherRows(logits, [n])
            for (c, t) in temperatures.enumerated() {
                let p = SoftTargets.probabilities(logits: row, temperature: Float(t)).data
                let x0 = margin + side + margin * 2 + c * (margin * 2 + chartWidth)
                canvas.fill(x: x0 - 2, y: y0 + chartHeight, w: chartWidth + 4, h: 1, axis)       // the zero line
                canvas.fill(x: x0 - 2, y: y0, w: chartWidth + 4, h: 1, (230, 230, 230))         // probability 1
                for k in 0..<classes {
                    let x = x0 + k * (barWidth + barGap)
                    let h = Int((Double(p[k]) * Double(chartHeight)).rounded())
                    canvas.fill(x: x, y: y0 + chartHeight - h, w: barWidth, h: h, k == labels[n] ? trueColor : wrongColor)
                    canvas.write(String(k), x: x + (barWidth - 6) / 2, y: y0 + chartHeight + 4, scale: 2, k == labels[n] ? trueColor : ink)
                }
            }
        }
        return canvas.image
    }

    /// Held-out accuracy of the distilled student at each T, with the small model (trained
    /// on the labels) and the teacher as flat lines.
    static func accuracyAgainstTemperature(temperatures: [Double], accuracies: [Double], small: Double, teacher: Double, seed: Int) -> String {
        var chart = LineChart(title: "Distilled student: held-out accuracy against the temperature (seed \(seed))",
                              xLabel: "temperature T", yLabel: "held-out accuracy (%)")
        let (low, high) = (temperatures.min() ?? 1, temperatures.max() ?? 1)
        chart.series = [
            .init(name: "distilled small model", points: zip(temperatures, accuracies).map { ($0, 100 * $1) }, color: "#1f77b4"),
            .init(name: "small model, labels only", points: [(low, 100 * small), (high, 100 * small)], color: "#d62728", dashed: true),
            .init(name: "teacher", points: [(low, 100 * teacher), (high, 100 * teacher)], color: "#2ca02c", dashed: true),
        ]
        return chart.svg
    }
}
