/// The sizes of a 2-D convolution, as PyTorch's `nn.Conv2d` takes them.
///
/// Input `x` is `[batch, inChannels, inHeight, inWidth]`, weight is
/// `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`, bias `[outChannels]`,
/// output `y` is `[batch, outChannels, outHeight, outWidth]` with
/// `outHeight = (inHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1`
/// (integer division) and the same for the width. Padding is zeros on both sides.
public struct Conv2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    public var groups: Int

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernel: (height: Int, width: Int), stride: (height: Int, width: Int) = (1, 1),
                padding: (height: Int, width: Int) = (0, 0), groups: Int = 1) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernel.height
        self.kernelWidth = kernel.width
        self.strideHeight = stride.height
        self.strideWidth = stride.width
        self.paddingHeight = padding.height
        self.paddingWidth = padding.width
        self.groups = groups
    }

    /// A square kernel, stride and padding: `Conv2DGeometry(input:, outChannels: 64, kernel: 3, stride: 1, padding: 1)`.
    public init(input: FeatureMapShape, outChannels: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, groups: Int = 1) {
        self.init(batch: input.batch, inChannels: input.channels, inHeight: input.height,
                  inWidth: input.width, outChannels: outChannels, kernel: (kernel, kernel),
                  stride: (stride, stride), padding: (padding, padding), groups: groups)
    }

    public var outHeight: Int { (inHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    public var outWidth: Int { (inWidth + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// Input channels seen by each output channel (`inChannels / groups`).
    public var inChannelsPerGroup: Int { inChannels / groups }
    /// Output channels produced by each group (`outChannels / groups`).
    public var outChannelsPerGroup: Int { outChannels / groups }

    public var inputShape: FeatureMapShape { FeatureMapShape(batch: batch, channels: inChannels, height: inHeight, width: inWidth) }
    public var outputShape: FeatureMapShape { FeatureMapShape(batch: batch, channels: outChannels, height: outHeight, width: outWidth) }
    public var weightShape: [Int] { [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth] }
    public var weightCount: Int { weightShape.reduce(1, *) }

    /// Multiply-accumulates of one forward pass over the whole batch.
    public var macs: Int { outputShape.count * inChannelsPerGroup * kernelHeight * kernelWidth }

    /// Why these sizes cannot describe a convolution, or nil when they can.
    public var problem: String? {
        if [batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
            strideHeight, strideWidth, groups].contains(where: { $0 <= 0 }) || paddingHeight < 0 || paddingWidth < 0 {
            return "conv2d: sizes must be positive (and padding non-negative): \(self)"
        }
        if inChannels % groups != 0 || outChannels % groups != 0 {
            return "conv2d: \(inChannels) input and \(outChannels) output channels are not divisible by groups \(groups)"
        }
        // (A negative span divided by the stride truncates toward zero: check the span itself.)
        if inHeight + 2 * paddingHeight < kernelHeight || inWidth + 2 * paddingWidth < kernelWidth || outHeight <= 0 || outWidth <= 0 {
            return "conv2d: a \(kernelHeight)x\(kernelWidth) kernel does not fit the padded \(inHeight)x\(inWidth) input"
        }
        return nil
    }

    /// Traps with `problem` when the sizes are invalid.
    public func validate() {
        if let problem { preconditionFailure(problem) }
    }

    public var description: String {
        "conv2d(x [\(batch), \(inChannels), \(inHeight), \(inWidth)] -> \(outChannels) channels, "
            + "kernel \(kernelHeight)x\(kernelWidth), stride \(strideHeight)x\(strideWidth), "
            + "padding \(paddingHeight)x\(paddingWidth), groups \(groups))"
    }
}

/// The sizes of a transposed convolution, as PyTorch's `nn.ConvTranspose2d` takes them.
///
/// Input `x` is `[batch, inChannels, inHeight, inWidth]`, weight is
/// `[inChannels, outChannels / groups, kernelHeight, kernelWidth]`, bias `[outChannels]`,
/// output is `[batch, outChannels, outHeight, outWidth]` with
/// `outHeight = (inHeight - 1) * strideHeight - 2 * paddingHeight + kernelHeight + outputPaddingHeight`.
/// It is the gradient of a convolution with respect to its input: each input pixel
/// scatters a weighted copy of the kernel into the output.
public struct ConvTranspose2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    public var outputPaddingHeight: Int
    public var outputPaddingWidth: Int
    public var groups: Int

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernel: (height: Int, width: Int), stride: (height: Int, width: Int) = (1, 1),
                padding: (height: Int, width: Int) = (0, 0),
                outputPadding: (height: Int, width: Int) = (0, 0), groups: Int = 1) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernel.height
        self.kernelWidth = kernel.width
        self.strideHeight = stride.height
        self.strideWidth = stride.width
        self.paddingHeight = padding.height
        self.paddingWidth = padding.width
        self.outputPaddingHeight = outputPadding.height
        self.outputPaddingWidth = outputPadding.width
        self.groups = groups
    }

    public var outHeight: Int { (inHeight - 1) * strideHeight - 2 * paddingHeight + kernelHeight + outputPaddingHeight }
    public var outWidth: Int { (inWidth - 1) * strideWidth - 2 * paddingWidth + kernelWidth + outputPaddingWidth }

    public var inputShape: FeatureMapShape { FeatureMapShape(batch: batch, channels: inChannels, height: inHeight, width: inWidth) }
    public var outputShape: FeatureMapShape { FeatureMapShape(batch: batch, channels: outChannels, height: outHeight, width: outWidth) }
    public var weightShape: [Int] { [inChannels, outChannels / groups, kernelHeight, kernelWidth] }
    public var weightCount: Int { weightShape.reduce(1, *) }
    public var macs: Int { inputShape.count * (outChannels / groups) * kernelHeight * kernelWidth }

    /// The convolution whose input gradient this transposed convolution computes:
    /// its input is this one's output and its output is this one's input.
    public var adjointConvolution: Conv2DGeometry {
        Conv2DGeometry(batch: batch, inChannels: outChannels, inHeight: outHeight, inWidth: outWidth,
                       outChannels: inChannels, kernel: (kernelHeight, kernelWidth),
                       stride: (strideHeight, strideWidth), padding: (paddingHeight, paddingWidth),
                       groups: groups)
    }

    public var problem: String? {
        if [batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth,
            strideHeight, strideWidth, groups].contains(where: { $0 <= 0 })
            || paddingHeight < 0 || paddingWidth < 0 || outputPaddingHeight < 0 || outputPaddingWidth < 0 {
            return "conv_transpose2d: sizes must be positive (and paddings non-negative): \(self)"
        }
        if inChannels % groups != 0 || outChannels % groups != 0 {
            return "conv_transpose2d: \(inChannels) input and \(outChannels) output channels are not divisible by groups \(groups)"
        }
        if outputPaddingHeight >= strideHeight || outputPaddingWidth >= strideWidth {
            return "conv_transpose2d: output padding must be smaller than the stride"
        }
        if outHeight <= 0 || outWidth <= 0 {
            return "conv_transpose2d: the output would be empty: \(self)"
        }
        return nil
    }

    public func validate() {
        if let problem { preconditionFailure(problem) }
    }

    public var description: String {
        "conv_transpose2d(x [\(batch), \(inChannels), \(inHeight), \(inWidth)] -> \(outChannels) channels, "
            + "kernel \(kernelHeight)x\(kernelWidth), stride \(strideHeight)x\(strideWidth), "
            + "padding \(paddingHeight)x\(paddingWidth), output padding \(outputPaddingHeight)x\(outputPaddingWidth), groups \(groups))"
    }
}

/// The sizes of a max or average pooling window sliding over a feature map, with
/// PyTorch's rules for padding and `ceil_mode`.
///
/// `outHeight = floor_or_ceil((inHeight + 2 * paddingHeight - kernelHeight) / strideHeight) + 1`,
/// and in ceil mode the last window is dropped when it would start beyond the input and
/// its left padding (`(out - 1) * stride >= in + padding`). Padding may be at most half
/// the kernel.
public struct Pool2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var input: FeatureMapShape
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    public var ceilMode: Bool

    public init(input: FeatureMapShape, kernel: (height: Int, width: Int), stride: (height: Int, width: Int),
                padding: (height: Int, width: Int) = (0, 0), ceilMode: Bool = false) {
        self.input = input
        self.kernelHeight = kernel.height
        self.kernelWidth = kernel.width
        self.strideHeight = stride.height
        self.strideWidth = stride.width
        self.paddingHeight = padding.height
        self.paddingWidth = padding.width
        self.ceilMode = ceilMode
    }

    /// A square window: `Pool2DGeometry(input:, kernel: 3, stride: 2, padding: 1)`.
    public init(input: FeatureMapShape, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false) {
        self.init(input: input, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding), ceilMode: ceilMode)
    }

    static func outputExtent(input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
        let span = input + 2 * padding - kernel
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= input + padding { out -= 1 }
        return out
    }

    public var outHeight: Int {
        Self.outputExtent(input: input.height, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight, ceilMode: ceilMode)
    }
    public var outWidth: Int {
        Self.outputExtent(input: input.width, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth, ceilMode: ceilMode)
    }
    public var outputShape: FeatureMapShape {
        FeatureMapShape(batch: input.batch, channels: input.channels, height: outHeight, width: outWidth)
    }

    public var problem: String? {
        if [input.batch, input.channels, input.height, input.width, kernelHeight, kernelWidth, strideHeight, strideWidth]
            .contains(where: { $0 <= 0 }) || paddingHeight < 0 || paddingWidth < 0 {
            return "pool2d: sizes must be positive (and padding non-negative): \(self)"
        }
        if 2 * paddingHeight > kernelHeight || 2 * paddingWidth > kernelWidth {
            return "pool2d: padding should be at most half the kernel: \(self)"
        }
        if input.height + 2 * paddingHeight < kernelHeight || input.width + 2 * paddingWidth < kernelWidth
            || outHeight <= 0 || outWidth <= 0 {
            return "pool2d: the window does not fit the input: \(self)"
        }
        return nil
    }

    public func validate() {
        if let problem { preconditionFailure(problem) }
    }

    public var description: String {
        "pool2d(x \(input), kernel \(kernelHeight)x\(kernelWidth), stride \(strideHeight)x\(strideWidth), "
            + "padding \(paddingHeight)x\(paddingWidth), ceil_mode \(ceilMode))"
    }
}
