import ConvNetCore
import Foundation

// How a crop becomes LeNet-5's input. LeNet-5 (lesson 1's network, reused here) reads
// 32x32 digits: MNIST's 28x28 padded by 2 (the 1998 paper's choice). A network trained on
// S x S crops sees each crop padded back to 32x32 with the background value, so that the
// same LeNet-5 runs on any crop size: a crop is the digit moved by (centre - origin)
// pixels with everything outside the S x S window blanked.

/// The digits' canvas, the crop size and the background: what turns a view of an image
/// into the network's `[N, 1, 32, 32]` input.
public struct CropInput: Sendable {
    /// Side of the images the crops are cut from (28: the digits; 32: padded by 2).
    public var canvas: Int
    /// Side S of the crops.
    public var size: Int
    /// The background value, after normalisation.
    public var fill: Float

    public init(canvas: Int, size: Int, fill: Float) {
        precondition(size <= canvas && size <= 32 && (32 - size) % 2 == 0, "CropInput: a \(size)x\(size) crop of \(canvas)x\(canvas) padded to 32")
        self.canvas = canvas
        self.size = size
        self.fill = fill
    }

    /// The crops differ by up to this many pixels from the centre crop, in each direction.
    public var room: Int { canvas - size }

    /// `x` (`[N, 1, canvas, canvas]`) cropped at `view` and padded to `[N, 1, 32, 32]`.
    public func input(_ x: Tensor, view: CropView) -> Tensor {
        MultiCrop.padded(MultiCrop.crop(x, view: view, size: size), by: (32 - size) / 2, fill: fill)
    }

    /// Every image of `x` cropped at its own random origin (top, left each uniform in
    /// 0...canvas - S), then padded to 32x32: the training augmentation.
    public func randomCrops(_ x: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let n = x.shape[0], per = x.count / max(n, 1)
        var out: [Float] = []
        out.reserveCapacity(n * 32 * 32)
        for i in 0..<n {
            let top = Int(generator.next() % UInt64(room + 1)), left = Int(generator.next() % UInt64(room + 1))
            let one = Tensor(shape: [1, 1, canvas, canvas], data: Array(x.data[i * per..<(i + 1) * per]))
            out += input(one, view: CropView(top: top, left: left)).data
        }
        return Tensor(shape: [n, 1, 32, 32], data: out)
    }

    /// The five standard crop sets of the lesson, by name.
    public func views(_ scheme: CropScheme) -> [CropView] {
        switch scheme {
        case .centre: [MultiCrop.centre(height: canvas, width: canvas, size: size)]
        case .five: MultiCrop.fiveCrops(height: canvas, width: canvas, size: size)
        case .ten: MultiCrop.tenCrops(height: canvas, width: canvas, size: size)
        case .grid3: MultiCrop.grid(height: canvas, width: canvas, size: size, perSide: 3)
        case .grid5: MultiCrop.grid(height: canvas, width: canvas, size: size, perSide: 5)
        }
    }
}

/// The crop sets the lesson evaluates.
public enum CropScheme: String, CaseIterable, Sendable {
    case centre, five, ten, grid3, grid5

    public var label: String {
        switch self {
        case .centre: "1 (centre)"
        case .five: "5 (4 corners + centre)"
        case .ten: "10 (5 + their mirrors)"
        case .grid3: "9 (3x3 grid)"
        case .grid5: "25 (5x5 grid)"
        }
    }
}
