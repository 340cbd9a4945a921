/// A dense, contiguous, row-major array of `Float`, the value every layer passes on.
///
/// Feature maps are NCHW: `shape == [batch, channels, height, width]`, and element
/// `(n, c, h, w)` lives at `((n * C + c) * H + h) * W + w`. Weights keep PyTorch's
/// layouts (`[out, in/groups, kh, kw]` for a convolution, `[out, in]` for a linear
/// layer), so they move to and from torchvision `state_dict`s unchanged.
public struct Tensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor of `shape` holding `data` (row-major). Traps with a message naming both
    /// counts when they disagree.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        let count = shape.reduce(1, *)
        precondition(count == data.count,
                     "Tensor: shape \(shape) holds \(count) elements but \(data.count) were given")
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` with every element equal to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of `shape` filled with zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// The number of elements.
    public var count: Int { data.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let count = newShape.reduce(1, *)
        precondition(count == data.count,
                     "reshape: cannot view \(shape) (\(data.count) elements) as \(newShape) (\(count))")
        return Tensor(shape: newShape, data: data)
    }

    /// The NCHW extents of a rank-4 tensor; traps naming `layer` otherwise.
    public func featureMapShape(for layer: String = "tensor") -> FeatureMapShape {
        precondition(rank == 4, "\(layer): expected an NCHW tensor of rank 4, got shape \(shape)")
        return FeatureMapShape(batch: shape[0], channels: shape[1], height: shape[2], width: shape[3])
    }

    /// The element at a multi-index (slow; for tests and printing).
    public subscript(index: Int...) -> Float {
        get { data[offset(of: index)] }
        set { data[offset(of: index)] = newValue }
    }

    private func offset(of index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var offset = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "index \(index) out of range for shape \(shape)")
            offset = offset * extent + i
        }
        return offset
    }
}

/// The four extents of an NCHW feature map.
public struct FeatureMapShape: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(batch: Int, channels: Int, height: Int, width: Int) {
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// `height * width`: the elements of one channel of one image.
    public var spatial: Int { height * width }
    /// All elements: `batch * channels * height * width`.
    public var count: Int { batch * channels * height * width }
    /// `[batch, channels, height, width]`, as a `Tensor` shape.
    public var dimensions: [Int] { [batch, channels, height, width] }

    public var description: String { "[\(batch), \(channels), \(height), \(width)]" }
}

/// Checks that two shapes agree, with a message naming the layer and both shapes.
@inlinable
public func checkShape(_ actual: [Int], equals expected: [Int], in layer: String) {
    precondition(actual == expected, "\(layer): expected shape \(expected), got \(actual)")
}

/// Checks an element count, with a message naming the layer, the argument and both counts.
@inlinable
public func checkCount(_ actual: Int, equals expected: Int, _ argument: String, in layer: String) {
    precondition(actual == expected,
                 "\(layer): \(argument) has \(actual) elements, expected \(expected)")
}
