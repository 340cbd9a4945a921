import Foundation

/// A line chart written as SVG, readable in any browser: a few named series of (x, y)
/// points on shared axes with ticks, grid lines, axis titles and a legend. Used for
/// training curves (loss and accuracy per epoch, train against held-out). With
/// `logarithmicY` the y axis is logarithmic (for quantities that span decades, such as
/// gradient norms per layer).
public struct LineChart {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// A CSS colour; nil picks one from the palette.
        public var color: String?
        public var dashed: Bool
        public init(name: String, points: [(x: Double, y: Double)], color: String? = nil, dashed: Bool = false) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// Fixed y range (e.g. 0...1 for accuracy); nil fits the data.
    public var yRange: ClosedRange<Double>?
    public var width = 640.0
    /// A logarithmic y axis: ticks at powers of ten (and light grid lines at 2x ... 9x
    /// between them when the axis spans at most six decades); points whose y is zero or
    /// negative cannot be drawn there and are skipped. A `yRange` applies when its lower
    /// bound is positive; otherwise the axis spans the decades of the data.
    public var logarithmicY = false
    public var height = 400.0

    public init(title: String, xLabel: String, yLabel: String, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.yRange = yRange
    }

    /// The colours series take in turn when they name none.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// "Nice" tick positions covering `low...high` (steps of 1, 2 or 5 times a power of ten).
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var values: [Double] = []
        var v = ceil(low / step) * step
        while v <= high + step * 1e-9 {
            values.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return values
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        return String(format: abs(v) < 0.01 ? "%.1e" : "%.3g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The chart as an SVG document.
    public var svg: String {
        let left = 70.0, right = 20.0, top = 40.0, bottom = 55.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.points).filter(drawable)
        var xLow = all.map(\.x).min() ?? 0, xHigh = all.map(\.x).max() ?? 1
        if xHigh <= xLow { xHigh = xLow + 1 }
        // The y axis runs from yLow to yHigh in axis units: y itself, or log10(y).
        var yLow: Double, yHigh: Double
        if logarithmicY {
            (yLow, yHigh) = logarithmicRange(all.map(\.y))
        } else {
            yLow = yRange?.lowerBound ?? all.map(\.y).min() ?? 0
            yHigh = yRange?.upperBound ?? all.map(\.y).max() ?? 1
            if yHigh <= yLow { yHigh = yLow + 1 }
            if yRange == nil {
                let pad = (yHigh - yLow) * 0.05
                yLow -= pad
                yHigh += pad
                if yLow < 0 && (all.map(\.y).min() ?? 0) >= 0 { yLow = 0 }
            }
        }
        if xLow == xHigh { xLow -= 1 }
        func px(_ x: Double) -> Double { left + (x - xLow) / (xHigh - xLow) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yLow) / (yHigh - yLow)) * plotH }
        /// A data value's height, held inside the plot.
        func pointY(_ y: Double) -> Double { py(min(max(logarithmicY ? log10(y) : y, yLow), yHigh)) }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(Self.escape(title))</text>

        """
        if logarithmicY {
            for t in Self.minorDecadeTicks(yLow, yHigh) {
                out += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + plotW)\" y2=\"\(py(t))\" stroke=\"#f3f3f3\"/>\n"
            }
        }
        for t in logarithmicY ? Self.decadeTicks(yLow, yHigh) : Self.ticks(yLow, yHigh) {
            let y = py(t)
            out += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(logarithmicY ? Self.powerOfTenLabel(t) : Self.label(t))</text>\n"
        }
        for t in Self.ticks(xLow, xHigh) {
            let x = px(t)
            out += "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(top + plotH)\" stroke=\"#f0f0f0\"/>\n"
            out += "<text x=\"\(x)\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#444\"/>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        out += "<text transform=\"translate(18 \(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = s.color ?? Self.palette[i % Self.palette.count]
            let pts = s.points.filter(drawable)
            let path = pts.map { "\(px($0.x)),\(pointY($0.y))" }.joined(separator: " ")
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            for p in pts where pts.count <= 60 {
                out += "<circle cx=\"\(px(p.x))\" cy=\"\(pointY(p.y))\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
            let ly = top + 14 + Double(i) * 18
            out += "<line x1=\"\(left + plotW - 150)\" y1=\"\(ly - 4)\" x2=\"\(left + plotW - 128)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            out += "<text x=\"\(left + plotW - 122)\" y=\"\(ly)\">\(Self.escape(s.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// Whether a point can be drawn: finite, and above zero on a logarithmic axis.
    func drawable(_ point: (x: Double, y: Double)) -> Bool {
        point.x.isFinite && point.y.isFinite && (!logarithmicY || point.y > 0)
    }

    /// The logarithmic axis in decades (log10 units): `yRange` when its lower bound is
    /// positive, else from the decade below the smallest value to the one above the largest.
    func logarithmicRange(_ values: [Double]) -> (low: Double, high: Double) {
        if let range = yRange, range.lowerBound > 0 {
            let low = log10(range.lowerBound), high = log10(range.upperBound)
            return high > low ? (low, high) : (low, low + 1)
        }
        guard let smallest = values.min(), let largest = values.max() else { return (0, 1) }
        let low = floor(log10(smallest)), high = ceil(log10(largest))
        return high > low ? (low, high) : (low, low + 1)
    }

    /// The whole powers of ten in `low...high` (log10 units), every one or, over many
    /// decades, every second, fifth, ... so that at most about eight are labelled.
    static func decadeTicks(_ low: Double, _ high: Double) -> [Double] {
        let first = ceil(low - 1e-9), last = floor(high + 1e-9)
        guard last >= first else { return [] }
        let step = max(1, ceil((last - first) / 8))
        return Array(stride(from: first, through: last, by: step))
    }

    /// log10 of 2, 3, ..., 9 times each power of ten inside `low...high`, when the axis
    /// spans at most six decades.
    static func minorDecadeTicks(_ low: Double, _ high: Double) -> [Double] {
        guard high - low <= 6 else { return [] }
        var values: [Double] = []
        for decade in stride(from: floor(low), through: ceil(high), by: 1) {
            for m in 2...9 {
                let t = decade + log10(Double(m))
                if t > low && t < high { values.append(t) }
            }
        }
        return values
    }

    /// 10^k as a tick label: `0.01`, `1`, `1000` near one, `10` with a superscript beyond.
    static func powerOfTenLabel(_ exponent: Double) -> String {
        let k = Int(exponent.rounded())
        switch k {
        case 0...3: return "1" + String(repeating: "0", count: k)
        case -3 ..< 0: return "0." + String(repeating: "0", count: -k - 1) + "1"
        default: return "10<tspan dy=\"-6\" font-size=\"9\">\(k < 0 ? "\u{2212}" : "")\(abs(k))</tspan>"
        }
    }

    /// Writes the SVG atomically (a temporary file, then a rename).
    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(svg.utf8).write(to: url, options: .atomic)
    }
}
