import ConvNetCore
import Foundation

// What the lesson measures: real feature maps (photographs through the first layers of a
// seeded ResNet-50 and GoogLeNet), the time of the course's 5x5 convolution with and
// without its 1x1 bottleneck, and the race of the 1x1 convolution's kernels.

enum OneByOneProbes {
    /// The photographs of Fixtures/photos large enough for a 224x224 centre crop.
    static let photos = ["chelsea", "astronaut"]

    /// ResNet-50's first 256 -> 64 1x1 convolution (`layer1.1.conv1`) and its real input:
    /// `photos` through conv1, bn1, relu, maxpool and block layer1.0 of a ResNet-50
    /// He-initialised from `seed`, in inference mode (batch norms at their initial
    /// statistics).
    static func resnet50Layer(_ photos: Tensor, seed: UInt64) -> (name: String, x: Tensor, conv: Conv2d) {
        let net = ResNet.resnet50()
        net.initialize(seed: seed)
        net.eval()
        var x = photos
        for (name, layer) in net.children {
            if name == "layer1", let stage = layer as? Sequential, let block = stage.layers[1] as? Bottleneck {
                return ("layer1.1.conv1", stage.layers[0](x), block.conv1)
            }
            x = layer(x)
        }
        preconditionFailure("ResNet-50 has no layer1.1")
    }

    /// The top-left `size` x `size` window of the first image of `x` (all channels), as an array.
    static func window(_ x: Tensor, size: Int) -> [Float] {
        let s = x.featureMapShape()
        precondition(size <= s.height && size <= s.width, "window: \(size) is larger than \(s)")
        var out: [Float] = []
        out.reserveCapacity(s.channels * size * size)
        for c in 0..<s.channels {
            for i in 0..<size { out += x.data[(c * s.height + i) * s.width..<((c * s.height + i) * s.width + size)] }
        }
        return out
    }

    /// GoogLeNet's input to inception 3a (28x28x192, the course's example): `photos` through
    /// conv1, maxpool1, conv2, conv3 and maxpool2 of a GoogLeNet He-initialised from `seed`,
    /// in inference mode.
    static func inception3aInput(_ photos: Tensor, seed: UInt64) -> Tensor {
        let net = GoogLeNet()
        net.initialize(seed: seed)
        net.eval()
        var x = photos
        for layer in net.trunk.prefix(5) { x = layer(x) }
        return x
    }

    /// One path of the course's example timed on the fast kernels.
    struct PathTiming {
        var label: String
        var layers: [(geometry: Conv2DGeometry, forward: String, backward: String)]
        var macs: Int
        var forwardSeconds: Double
        var backwardSeconds: Double
        /// Each layer's forward alone, and the path's forward on one thread.
        var layerForwardSeconds: [Double] = []
        var forwardSecondsOneThread = 0.0
        var forwardGFLOPs: Double { 2 * Double(macs) / forwardSeconds / 1e9 }
        var backwardGFLOPs: Double { 4 * Double(macs) / backwardSeconds / 1e9 }
    }

    /// The course's 28x28x192 -> 28x28x32 with a 5x5 convolution, directly and through a
    /// 16-channel 1x1 bottleneck, on the real `x` ([N, 192, 28, 28]); weights He-initialised
    /// from `seed`, the upstream gradient seeded random numbers. Forward: the convolutions
    /// only (no bias, no ReLU, as the course counts them). Backward: every input and weight
    /// gradient down to x.
    static func timeCourseExample(_ x: Tensor, seed: UInt64, quick: Bool) -> (direct: PathTiming, bottleneck: PathTiming) {
        let g = courseGeometries(batch: x.shape[0])
        let c = OneByOnePaper.course
        let wDirect = Conv2d(c.inChannels, c.outChannels, kernel: c.kernel, padding: c.kernel / 2, bias: false).initialize(seed: seed).weight.value.data
        let wReduce = Conv2d(c.inChannels, c.bottleneck, kernel: 1, bias: false).initialize(seed: seed + 1).weight.value.data
        let wWide = Conv2d(c.bottleneck, c.outChannels, kernel: c.kernel, padding: c.kernel / 2, bias: false).initialize(seed: seed + 2).weight.value.data
        var generator = SeededGenerator(seed: seed + 3)
        let dy = Tensor.randomNormal(g.direct.outputShape.dimensions, using: &generator).data
        let input = x.data
        let reduced = Fast.conv2d(input, weight: wReduce, bias: nil, geometry: g.reduce)
        let (samples, target) = quick ? (3, 0.02) : (7, 0.1)
        func names(_ s: Conv2DGeometry) -> (geometry: Conv2DGeometry, forward: String, backward: String) {
            let b = Fast.conv2dBackwardMethods(for: s)
            return (s, Fast.conv2dMethod(for: s).title, "dx: \(b.input.title); dW: \(b.weight.title)")
        }
        let directForward = Stopwatch.medianSeconds(samples: samples, target: target) {
            _ = Fast.conv2d(input, weight: wDirect, bias: nil, geometry: g.direct)
        }
        let directBackward = Stopwatch.medianSeconds(samples: samples, target: target) {
            _ = Fast.conv2dBackward(input, weight: wDirect, outputGradient: dy, geometry: g.direct)
        }
        let bottleneckForward = Stopwatch.medianSeconds(samples: samples, target: target) {
            let r = Fast.conv2d(input, weight: wReduce, bias: nil, geometry: g.reduce)
            _ = Fast.conv2d(r, weight: wWide, bias: nil, geometry: g.wide)
        }
        let bottleneckBackward = Stopwatch.medianSeconds(samples: samples, target: target) {
            let d = Fast.conv2dBackward(reduced, weight: wWide, outputGradient: dy, geometry: g.wide)
            _ = Fast.conv2dBackward(input, weight: wReduce, outputGradient: d.input, geometry: g.reduce)
        }
        var direct = PathTiming(label: "5x5 conv, 32, on 192 channels", layers: [names(g.direct)], macs: g.direct.macs,
                                forwardSeconds: directForward, backwardSeconds: directBackward)
        var bottleneck = PathTiming(label: "1x1 conv, 16, then 5x5 conv, 32", layers: [names(g.reduce), names(g.wide)],
                                    macs: g.reduce.macs + g.wide.macs, forwardSeconds: bottleneckForward, backwardSeconds: bottleneckBackward)
        direct.layerForwardSeconds = [directForward]
        bottleneck.layerForwardSeconds = [
            Stopwatch.medianSeconds(samples: samples, target: target) { _ = Fast.conv2d(input, weight: wReduce, bias: nil, geometry: g.reduce) },
            Stopwatch.medianSeconds(samples: samples, target: target) { _ = Fast.conv2d(reduced, weight: wWide, bias: nil, geometry: g.wide) },
        ]
        // The same forward passes on one thread: no waiting for a second thread to wake.
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        direct.forwardSecondsOneThread = Stopwatch.medianSeconds(samples: samples, target: target) {
            _ = Fast.conv2d(input, weight: wDirect, bias: nil, geometry: g.direct)
        }
        bottleneck.forwardSecondsOneThread = Stopwatch.medianSeconds(samples: samples, target: target) {
            let r = Fast.conv2d(input, weight: wReduce, bias: nil, geometry: g.reduce)
            _ = Fast.conv2d(r, weight: wWide, bias: nil, geometry: g.wide)
        }
        Parallelism.threadCount = threads
        return (direct, bottleneck)
    }

    /// The race of the 1x1 convolution `conv` on its real input `x`: the seven loops (with
    /// a 1x1 kernel, one dot product over the channels per output pixel), a fully connected
    /// layer on pixel rows (`Fast.linear`, transposes included), and the router's fast
    /// convolution (one GEMM reading the NCHW maps in place, no im2col). Forward, then
    /// backward (dx and dW) for a seeded random upstream gradient.
    static func race(_ conv: Conv2d, on x: Tensor, seed: UInt64, quick: Bool) -> (result: RaceResult, geometry: Conv2DGeometry, kernel: String) {
        let s = x.featureMapShape(for: "race")
        let g = Conv2DGeometry(input: s, outChannels: conv.outChannels, kernel: 1)
        let w = conv.weight.value.data, input = x.data
        var generator = SeededGenerator(seed: seed)
        let dy = Tensor.randomNormal(g.outputShape.dimensions, using: &generator).data
        let b = Fast.conv2dBackwardMethods(for: g)
        let kernel = "Fast.conv2d: \(Fast.conv2dMethod(for: g).title); backward dx: \(b.input.title), dW: \(b.weight.title)"
        // On one thread, every entrant alike: on a machine shared with other jobs, waiting
        // for a second thread to wake swamps calls of this size and makes the times noise.
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        defer { Parallelism.threadCount = threads }
        let result = KernelRace.run([
            RaceEntrant(name: "naive: a dot product per pixel", kernel: "Naive.conv2d, Naive.conv2dBackward (seven loops, kh = kw = 1)",
                        isSlow: true,
                        forward: { [Naive.conv2d(input, weight: w, bias: nil, geometry: g)] },
                        backward: { let d = Naive.conv2dBackward(input, weight: w, outputGradient: dy, geometry: g); return [d.input, d.weight] }),
            RaceEntrant(name: "fully connected on pixel rows", kernel: "NCHW -> rows, Fast.linear (blocked GEMM), rows -> NCHW",
                        forward: { [fastPixelwiseFullyConnected(input, weight: w, bias: nil, shape: s, outChannels: g.outChannels)] },
                        backward: {
                            let d = fastPixelwiseFullyConnectedBackward(input, weight: w, outputGradient: dy, shape: s, outChannels: g.outChannels)
                            return [d.input, d.weight]
                        }),
            RaceEntrant(name: "fast: one GEMM, no im2col", kernel: kernel,
                        forward: { [Fast.conv2d(input, weight: w, bias: nil, geometry: g)] },
                        backward: { let d = Fast.conv2dBackward(input, weight: w, outputGradient: dy, geometry: g); return [d.input, d.weight] }),
        ], quick: quick, forwardFlops: 2 * Double(g.macs), backwardFlops: 4 * Double(g.macs))
        return (result, g, kernel)
    }

    /// The parameters and MACs of `net` at `inputShape` that sit in 1x1 convolutions.
    static func oneByOneShare(_ net: Layer, inputShape: [Int]) -> (parameters: Int, macs: Int, total: ModelSummary) {
        let summary = net.summary(inputShape: inputShape)
        let names = Set(net.namedLayers().compactMap { entry -> String? in
            guard let conv = entry.layer as? Conv2d, conv.kernelSize.height == 1, conv.kernelSize.width == 1 else { return nil }
            return entry.name
        })
        let rows = summary.rows.filter { names.contains($0.name) && !$0.trainingOnly }
        return (rows.reduce(0) { $0 + $1.parameters }, rows.reduce(0) { $0 + $1.macs }, summary)
    }
}
