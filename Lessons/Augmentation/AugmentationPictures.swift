import ConvNetCore
import Foundation

/// What the augmentation lesson draws: the contact sheet of the distortions on the
/// photographs, and the held-out accuracy of each training arm.
enum AugmentationPictures {
    /// The photographs of `directory` as `[3 * side * side]` RGB planes in [0, 1] (shorter
    /// side scaled to `side`, centre square), with their names.
    static func photographs(_ directory: URL, side: Int) throws -> [(name: String, rgb: [Float])] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".ppm") }.sorted()
        guard !files.isEmpty else { throw LessonError("no .ppm photographs in \(directory.path)") }
        return try files.map { file in
            let image = try PPM.read(directory.appendingPathComponent(file)).resized(shorterSide: side).centerCropped(side: side)
            guard image.channels == 3 else { throw LessonError("\(directory.path)/\(file) is not an RGB photograph") }
            return (String(file.dropLast(4)), image.tensor.data)
        }
    }

    /// RGB tiles (`[3 * side * side]` each, values in [0, 1]) laid out in rows, `gap`
    /// pixels of mid-grey between them, a wider gap between photographs.
    static func sheet(rows: [[[Float]]], side: Int, groupSize: Int, gap: Int = 4) -> (image: Image, rowTops: [Int]) {
        let columns = rows.map(\.count).max() ?? 1
        let groups = (columns + groupSize - 1) / groupSize
        let width = columns * side + (columns + 1) * gap + (groups - 1) * 3 * gap
        let height = rows.count * side + (rows.count + 1) * gap
        var pixels = [UInt8](repeating: 128, count: width * height * 3)
        var tops: [Int] = []
        for (r, row) in rows.enumerated() {
            let y0 = gap + r * (side + gap)
            tops.append(y0)
            for (c, tile) in row.enumerated() {
                let x0 = gap + c * (side + gap) + (c / groupSize) * 3 * gap
                let image = Image(tensor: Tensor(shape: [3, side, side], data: tile))
                for y in 0..<side {
                    for x in 0..<side {
                        for k in 0..<3 { pixels[((y0 + y) * width + x0 + x) * 3 + k] = image.pixels[(y * side + x) * 3 + k] }
                    }
                }
            }
        }
        return (Image(width: width, height: height, channels: 3, pixels: pixels), tops)
    }

    /// Training loss after each epoch (on the distorted digits), mean over the seeds, one line per arm.
    static func lossCurves(_ arms: [(name: String, perEpoch: [Double])]) -> String {
        var chart = LineChart(title: "LeNet-5 on a small digit subset: training loss with each augmentation", xLabel: "epoch", yLabel: "training loss (mean over seeds)")
        chart.logarithmicY = true
        for arm in arms {
            chart.series.append(.init(name: arm.name, points: arm.perEpoch.enumerated().map { (Double($0 + 1), $1) },
                                      dashed: arm.name == "none"))
        }
        return chart.svg
    }
}
