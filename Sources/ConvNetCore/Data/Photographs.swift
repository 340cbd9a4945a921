import Foundation

/// The photographs of `Fixtures/photos` (binary PPM), as the ImageNet networks saw their
/// input: the shorter side scaled to 256 (bilinear), the centre `side` x `side` square cut
/// out (AlexNet 227, VGG and ResNet 224), pixel values on the 0-255 scale with the mean
/// ImageNet pixel subtracted (the paper's "mean activity over the training set"; AlexNet
/// subtracted the mean of each pixel, VGG the mean RGB value).
public enum Photographs {
    /// The mean RGB pixel of ImageNet's training set on the 0-255 scale (the values the
    /// Caffe and VGG releases subtract).
    public static let meanPixel: [Float] = [123.68, 116.78, 103.94]

    /// `[N, 3, side, side]`, one image per `.ppm` file of `directory`, in name order, with
    /// the names (file names without `.ppm`). Throws a `LessonError` when there are none,
    /// a `FileFormatError` for a malformed file.
    public static func load(_ directory: URL, side: Int) throws -> (names: [String], images: Tensor) {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".ppm") }.sorted()
        guard !files.isEmpty else { throw LessonError("no .ppm photographs in \(directory.path)") }
        var data: [Float] = []
        for file in files {
            let image = try PPM.read(directory.appendingPathComponent(file)).resized(shorterSide: 256).centerCropped(side: side)
            guard image.channels == 3 else { throw LessonError("\(directory.path)/\(file) is not an RGB photograph") }
            let t = image.tensor.data
            for c in 0..<3 {
                data += t[c * side * side..<(c + 1) * side * side].map { $0 * 255 - meanPixel[c] }
            }
        }
        return (files.map { String($0.dropLast(4)) }, Tensor(shape: [files.count, 3, side, side], data: data))
    }
}
