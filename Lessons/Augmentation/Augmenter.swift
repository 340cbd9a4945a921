import ConvNetCore
import Foundation

/// A training-time augmentation: for each image of a batch, each of `distortions` in turn
/// with probability `probability`, its parameters drawn for that image, applied with the
/// fast form. What the shared ``Trainer``'s `augment` hook and a ``BatchPlan`` call.
public struct Augmenter: Sendable {
    public var distortions: [Distortion]
    public var probability: Double
    public var strength: DistortionStrength
    /// The value of a pixel coming from outside the image (the normalised background).
    public var fill: Float

    public init(_ distortions: [Distortion], probability: Double = 1, strength: DistortionStrength, fill: Float) {
        self.distortions = distortions
        self.probability = probability
        self.strength = strength
        self.fill = fill
    }

    /// The batch `x` (`[N, C, H, W]`) with every image distorted by its own draws.
    public func callAsFunction(_ x: Tensor, _ g: inout SeededGenerator) -> Tensor {
        guard !distortions.isEmpty else { return x }
        let s = x.featureMapShape(for: "Augmenter")
        let per = s.channels * s.spatial
        var current = x.data
        var scratch = [Float](repeating: 0, count: per)
        for n in 0..<s.batch {
            for distortion in distortions {
                guard probability >= 1 || Double(g.nextUniform()) < probability else { continue }
                let draw = DistortionDraw.draw(distortion, height: s.height, width: s.width, channels: s.channels, strength: strength, using: &g)
                current.withUnsafeMutableBufferPointer { buffer in
                    scratch.withUnsafeMutableBufferPointer { out in
                        let image = buffer.baseAddress! + n * per
                        FastDistortions.apply(draw, UnsafePointer(image), out.baseAddress!, channels: s.channels, height: s.height,
                                              width: s.width, fill: fill, weighting: strength.pcaWeighting)
                        image.update(from: out.baseAddress!, count: per)
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: current)
    }
}
