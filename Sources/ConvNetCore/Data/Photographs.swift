import Foundation

/// The photographs of `Fixtures/photos` (binary PPM) as network inputs, two ways:
/// - ``load(_:side:)``: as the ImageNet networks of the papers saw their input: the
///   shorter side scaled to 256 (bilinear), the centre `side` x `side` square (AlexNet
///   227, VGG and ResNet 224), pixel values on the 0-255 scale with the mean ImageNet
///   pixel subtracted (AlexNet subtracted the mean of each pixel, VGG the mean RGB value);
/// - ``centreCrops(fixtures:names:size:)``: torchvision's way, the centre crop at the
///   file's own scale, in [0, 1] normalised with ImageNet's channel means and deviations
///   (`Normalize`): what a lesson feeds a ResNet or a GoogLeNet for a real activation.
public enum Photographs {
    /// The mean RGB pixel of ImageNet's training set on the 0-255 scale (the values the
    /// Caffe and VGG releases subtract).
    public static let meanPixel: [Float] = [123.68, 116.78, 103.94]
    /// torchvision's ImageNet normalisation: `(x - mean[c]) / std[c]` per RGB channel.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

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

    /// The centre `size` x `size` crops of `Fixtures/photos/<name>.ppm` for each name, as one
    /// `[names.count, 3, size, size]` batch, ImageNet-normalised. Throws a `LessonError` naming
    /// the file when it is missing, unreadable, not RGB or smaller than the crop.
    public static func centreCrops(fixtures: URL, names: [String], size: Int = 224) throws -> Tensor {
        var data: [Float] = []
        data.reserveCapacity(names.count * 3 * size * size)
        for name in names {
            let url = fixtures.appendingPathComponent("photos/\(name).ppm")
            let image: Image
            do { image = try PPM.read(url) } catch { throw LessonError("cannot read the photograph \(url.path): \(error)") }
            guard image.channels == 3, image.width >= size, image.height >= size else {
                throw LessonError("\(url.path) is \(image.width)x\(image.height)x\(image.channels); a \(size)x\(size) RGB crop is needed")
            }
            let t = image.centerCropped(side: size).tensor.data
            for c in 0..<3 {
                data += t[c * size * size..<(c + 1) * size * size].map { ($0 - imageNetMean[c]) / imageNetStd[c] }
            }
        }
        return Tensor(shape: [names.count, 3, size, size], data: data)
    }
}
