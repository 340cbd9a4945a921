import Foundation

/// The colour photographs of `Fixtures/photos/` (binary PPM) as network inputs: centre
/// crops, scaled to [0, 1] and normalised with ImageNet's channel means and deviations
/// (torchvision's `Normalize`), which is what a lesson feeds a ResNet or a GoogLeNet when it
/// wants a real activation instead of random numbers.
public enum Photographs {
    /// torchvision's ImageNet normalisation: `(x - mean[c]) / std[c]` per RGB channel.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

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
            let (left, top) = ((image.width - size) / 2, (image.height - size) / 2)
            for c in 0..<3 {
                for i in 0..<size {
                    for j in 0..<size {
                        let v = Float(image.pixels[((top + i) * image.width + left + j) * 3 + c]) / 255
                        data.append((v - imageNetMean[c]) / imageNetStd[c])
                    }
                }
            }
        }
        return Tensor(shape: [names.count, 3, size, size], data: data)
    }
}
