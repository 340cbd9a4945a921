import ConvNetCore
import Foundation

extension Fast {
    /// Multi-crop evaluation of ONE image with one forward pass: the V crops stacked into
    /// a batch `[V, 1, 32, 32]`, one pass gives logits `[V, classes]`, a softmax per row,
    /// and the mean over the V rows:
    ///     p = (1/V) sum_v softmax(f(crop_v(image)))
    /// The same numbers as `Naive.multiCropProbabilities` (to rounding: the batched kernels
    /// may sum in another order); faster because each layer reads its weights once for all
    /// V crops and the kernels work on bigger matrices.
    public static func multiCropProbabilities(_ model: Layer, image: Tensor, views: [CropView], crops: CropInput) -> [Float] {
        precondition(image.rank == 4 && image.shape[0] == 1, "Fast.multiCropProbabilities: one image [1, 1, H, W], got \(image.shape)")
        var batch: [Float] = []
        batch.reserveCapacity(views.count * 32 * 32)
        for view in views { batch += crops.input(image, view: view).data }
        let logits = model(Tensor(shape: [views.count, 1, 32, 32], data: batch))
        let p = MultiCrop.softmax(logits)
        let classes = p.shape[1]
        var mean = [Float](repeating: 0, count: classes)
        for v in 0..<views.count {
            for k in 0..<classes { mean[k] += p.data[v * classes + k] }
        }
        let scale = 1 / Float(views.count)
        return mean.map { $0 * scale }
    }
}
