import ConvNetCore
import Foundation

// The race: the naive and the fast valid convolution on one real layer of the trained
// network, C3, with a real batch. C3's input is what S2 made of real held-out digits, and
// its upstream gradient is what the loss sends back through S4, tanh and the layers
// above, so both kernels see exactly what they see in training. They must give the same
// numbers (forward, and all three gradients); then each is timed (the median of several
// runs; the naive one fewer times, it is slow), and the core's general convolution
// (im2col + GEMM) runs beside them for comparison.

/// What the race measured, in seconds per call on the whole batch.
public struct KernelRaceResult: Sendable {
    public var shape: ValidConvolutionShape
    public var naiveForward: Double, naiveBackward: Double
    public var fastForward: Double, fastBackward: Double
    public var im2colForward: Double, im2colBackward: Double
    /// The largest relative difference between the naive and the fast results (y, dx, dw, db).
    public var maxRelativeDifference: Double

    public var naiveTotal: Double { naiveForward + naiveBackward }
    public var fastTotal: Double { fastForward + fastBackward }
    public var im2colTotal: Double { im2colForward + im2colBackward }
    /// How many times faster the fast kernel is than the naive one, forward + backward.
    public var speedup: Double { naiveTotal / fastTotal }

    /// The race as a small table.
    public var table: String {
        func ms(_ s: Double) -> String { String(format: s < 0.01 ? "%8.3f ms" : "%8.2f ms", s * 1e3) }
        func rate(_ s: Double) -> String { String(format: "%6.1f GFLOP/s", 3 * 2 * Double(shape.macs) / s / 1e9) }
        return """
        kernel                                forward     backward        total   rate (y, dx and dw: 3 x MACs)
        naive: seven loops                 \(ms(naiveForward))  \(ms(naiveBackward))  \(ms(naiveTotal))  \(rate(naiveTotal))
        fast: direct, SIMD over columns    \(ms(fastForward))  \(ms(fastBackward))  \(ms(fastTotal))  \(rate(fastTotal))
        core's general: im2col + GEMM      \(ms(im2colForward))  \(ms(im2colBackward))  \(ms(im2colTotal))  \(rate(im2colTotal))
        the fast kernel is \(String(format: "%.1f", speedup))x faster than the naive one (\(String(format: "%.1f", im2colTotal / fastTotal))x faster than im2col + GEMM here); \
        same numbers: largest relative difference \(String(format: "%.1e", maxRelativeDifference))
        """
    }
}

/// Races the naive and the fast valid convolution on C3 of `model`, for the batch
/// `images` (`[N, 1, 32, 32]`) with `labels`. `quick` times fewer repetitions.
public func raceOnC3(_ model: LeNet5, images: Tensor, labels: [Int], quick: Bool) -> KernelRaceResult {
    // C3's real input, and its real upstream gradient (the loss's, sent back through the layers above it).
    let layers = model.children
    guard let c3Index = layers.firstIndex(where: { $0.name == "c3" }), let c3 = layers[c3Index].layer as? Conv2d else {
        preconditionFailure("LeNet-5 has no convolution named c3")
    }
    var inputs: [Tensor] = []
    var y = images
    for (_, layer) in layers {
        inputs.append(y)
        y = layer(y)
    }
    var gradient = Loss.crossEntropy(y, targets: labels).gradient
    for (_, layer) in layers[(c3Index + 1)...].reversed() { gradient = layer.backward(gradient) }
    let x = inputs[c3Index].data, dy = gradient.data
    let weight = c3.weight.value.data, bias = c3.bias?.value.data
    let shape = LeNetKernels.validShape(c3.geometry(for: inputs[c3Index].shape))!

    // The same numbers?
    let naiveY = Naive.validConvolution(x, weight: weight, bias: bias, shape: shape)
    let fastY = Fast.validConvolution(x, weight: weight, bias: bias, shape: shape)
    let naiveG = Naive.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape)
    let fastG = Fast.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape)
    let difference = [relativeDifference(fastY, naiveY), relativeDifference(fastG.input, naiveG.input),
                      relativeDifference(fastG.weight, naiveG.weight), relativeDifference(fastG.bias, naiveG.bias)].max()!

    // The times.
    let (slow, fast) = quick ? (1, 3) : (3, 7)
    let target = quick ? 0.02 : 0.1
    let g = shape.geometry
    return KernelRaceResult(
        shape: shape,
        naiveForward: Stopwatch.medianSeconds(samples: slow, target: 0) { _ = Naive.validConvolution(x, weight: weight, bias: bias, shape: shape) },
        naiveBackward: Stopwatch.medianSeconds(samples: slow, target: 0) { _ = Naive.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape) },
        fastForward: Stopwatch.medianSeconds(samples: fast, target: target) { _ = Fast.validConvolution(x, weight: weight, bias: bias, shape: shape) },
        fastBackward: Stopwatch.medianSeconds(samples: fast, target: target) { _ = Fast.validConvolutionBackward(x, weight: weight, outputGradient: dy, shape: shape) },
        im2colForward: Stopwatch.medianSeconds(samples: slow, target: target) { _ = Fast.conv2d(x, weight: weight, bias: bias, geometry: g) },
        im2colBackward: Stopwatch.medianSeconds(samples: slow, target: target) { _ = Fast.conv2dBackward(x, weight: weight, outputGradient: dy, geometry: g) },
        maxRelativeDifference: difference)
}

/// `max|a - b| / max|b|`: how far `a` is from the reference `b`.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    var difference = 0.0, scale = 0.0
    for (u, v) in zip(a, b) {
        difference = max(difference, abs(Double(u) - Double(v)))
        scale = max(scale, abs(Double(v)))
    }
    return difference / max(scale, 1e-30)
}
