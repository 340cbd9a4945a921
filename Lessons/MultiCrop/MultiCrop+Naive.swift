import ConvNetCore
import Foundation

extension Naive {
    /// Multi-crop evaluation of ONE image the readable way: one forward pass per view.
    ///
    /// `image` is `[1, 1, canvas, canvas]`; for each of the V views, `crops.input(image,
    /// view:)` (`[1, 1, 32, 32]`) goes through `model` alone, its logits `[1, classes]`
    /// through a softmax, and the V probability rows are averaged:
    ///     p = (1/V) sum_v softmax(f(crop_v(image)))
    /// Returns p (`classes` values). V passes of a batch of 1: each pass re-reads every
    /// weight of the network for one small image.
    public static func multiCropProbabilities(_ model: Layer, image: Tensor, views: [CropView], crops: CropInput) -> [Float] {
        precondition(image.rank == 4 && image.shape[0] == 1, "Naive.multiCropProbabilities: one image [1, 1, H, W], got \(image.shape)")
        var perView: [Tensor] = []
        for view in views {
            perView.append(MultiCrop.softmax(model(crops.input(image, view: view))))
        }
        return MultiCrop.averageProbabilities(perView).data
    }
}
