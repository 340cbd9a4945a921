// The memory-efficient dense block (Pleiss, Chen, Huang, Li, van der Maaten and
// Weinberger 2017, "Memory-efficient implementation of DenseNets").
//
// Naively (DenseBlock.forward), layer l concatenates [x_0, x_1, ..., x_{l-1}] into a NEW
// tensor of c_0 + l k channels, and its first batch norm keeps that tensor and its own
// output (the ReLU's mask and the 1x1 convolution's input) until backward: a block of L
// layers keeps about sum_l 2 (c_0 + l k) channels, quadratic in L.
//
// Here (`memoryEfficient = true`, training mode):
// - the block's features live in ONE buffer of c_0 + L k channels, allocated once per
//   pass: x_0 is copied in, and each layer writes its k new channels into its own slice;
// - layer l's concatenated input is the first c_0 + l k channels of that buffer, copied
//   into a temporary; its batch norm, ReLU and 1x1 convolution run on it, and then their
//   kept activations are dropped, so the temporary dies with the layer;
// - backward recomputes them, layer by layer just before they are needed (the running
//   statistics are restored after the second batch norm pass), and accumulates the
//   gradient of the features in one buffer too.
// What is kept per layer is the bottleneck's 4k channels (norm2's input and output) and
// the k new ones in the shared buffer: linear in L. The price is the concatenation,
// norm1 and conv1 run twice (Pleiss et al. measured 15-20% more time on a GPU). The
// kernels are the same, on the same numbers, so outputs and gradients equal the naive
// block's bit for bit.

extension DenseLayer {
    var norm1: BatchNorm2d { layers[0] as! BatchNorm2d }
    var conv1: Conv2d { layers[2] as! Conv2d }
    var norm2: BatchNorm2d { layers[3] as! BatchNorm2d }
    var conv2: Conv2d { layers[5] as! Conv2d }
}

extension DenseBlock {
    /// Copies channels `first ..< first + count` of each image of `source` (`total` channels)
    /// into a new `[N, count, spatial]` array.
    static func channels(_ source: [Float], _ first: Int, _ count: Int, total: Int, batch: Int, spatial: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * count * spatial)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for n in 0..<batch {
                    let from = src.baseAddress! + (n * total + first) * spatial
                    (dst.baseAddress! + n * count * spatial).update(from: from, count: count * spatial)
                }
            }
        }
        return out
    }

    /// Writes (or, with `adding`, adds) `part` `[N, count, spatial]` into channels
    /// `first ..< first + count` of `target` (`total` channels).
    static func store(_ part: [Float], into target: inout [Float], at first: Int, total: Int, batch: Int, spatial: Int, adding: Bool) {
        let count = part.count / (batch * spatial)
        part.withUnsafeBufferPointer { src in
            target.withUnsafeMutableBufferPointer { dst in
                for n in 0..<batch {
                    let to = dst.baseAddress! + (n * total + first) * spatial, from = src.baseAddress! + n * count * spatial
                    if adding {
                        for i in 0..<(count * spatial) { to[i] = to[i] + from[i] }
                    } else {
                        to.update(from: from, count: count * spatial)
                    }
                }
            }
        }
    }

    /// Layer `layer`'s norm1, ReLU and conv1 on the concatenated input `input`.
    private static func head(_ layer: DenseLayer, _ input: Tensor) -> Tensor {
        layer.conv1(layer.norm1.forward(input, residual: nil, relu: true))
    }

    func forwardSharedBuffer(_ x: Tensor) -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let spatial = h * w, total = outChannels
        var features = [Float](repeating: 0, count: n * total * spatial)        // the shared buffer
        Self.store(x.data, into: &features, at: 0, total: total, batch: n, spatial: spatial, adding: false)
        for (l, layer) in layers.enumerated() {
            let c = inChannels + l * growthRate
            let input = Tensor(shape: [n, c, h, w], data: Self.channels(features, 0, c, total: total, batch: n, spatial: spatial))
            let bottleneck = Self.head(layer, input)
            layer.norm1.releaseActivations()
            layer.conv1.releaseActivations()
            let new = layer.conv2(layer.norm2.forward(bottleneck, residual: nil, relu: true))
            Self.store(new.data, into: &features, at: c, total: total, batch: n, spatial: spatial, adding: false)
        }
        let y = Tensor(shape: [n, total, h, w], data: features)
        sharedFeatures = y
        return y
    }

    func backwardSharedBuffer(_ outputGradient: Tensor, features: Tensor) -> Tensor {
        checkShape(outputGradient.shape, equals: features.shape, in: "\(description) backward")
        let (n, h, w) = (features.shape[0], features.shape[2], features.shape[3])
        let spatial = h * w, total = outChannels
        var g = outputGradient.data                                               // dLoss/dfeatures, accumulated
        for (l, layer) in layers.enumerated().reversed() {
            let c = inChannels + l * growthRate
            let new = Tensor(shape: [n, growthRate, h, w], data: Self.channels(g, c, growthRate, total: total, batch: n, spatial: spatial))
            var d = layer.norm2.backwardFused(layer.conv2.backward(new)).input
            // Recompute the concatenation, norm1 and conv1 (norm1's running statistics as they were).
            let kept = (layer.norm1.runningMean.value, layer.norm1.runningVariance.value, layer.norm1.batchesTracked.value)
            let input = Tensor(shape: [n, c, h, w], data: Self.channels(features.data, 0, c, total: total, batch: n, spatial: spatial))
            _ = Self.head(layer, input)
            (layer.norm1.runningMean.value, layer.norm1.runningVariance.value, layer.norm1.batchesTracked.value) = kept
            d = layer.norm1.backwardFused(layer.conv1.backward(d)).input
            layer.norm1.releaseActivations()
            layer.conv1.releaseActivations()
            Self.store(d.data, into: &g, at: 0, total: total, batch: n, spatial: spatial, adding: true)
        }
        return Tensor(shape: [n, inChannels, h, w], data: Self.channels(g, 0, inChannels, total: total, batch: n, spatial: spatial))
    }
}

extension DenseBlock {
    /// The bytes of the activations the block keeps between a training forward pass and
    /// its backward pass: every distinct buffer its batch norms and convolutions hold (a
    /// ReLU's output and the next convolution's input are one buffer), and the shared
    /// feature buffer when memory-efficient. Naive: 4 N H W (sum_l 2 (c_0 + l k) + 8 k L)
    /// bytes; shared: 4 N H W (c_0 + L k + 8 k L).
    public var keptActivationBytes: Int {
        var tensors: [Tensor] = sharedFeatures.map { [$0] } ?? []
        for layer in layers {
            tensors += layer.norm1.keptActivations + layer.conv1.keptActivations
                + layer.norm2.keptActivations + layer.conv2.keptActivations
        }
        var seen = Set<UnsafeRawPointer>(), bytes = 0
        for t in tensors {
            t.data.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress, seen.insert(UnsafeRawPointer(base)).inserted else { return }
                bytes += p.count * MemoryLayout<Float>.stride
            }
        }
        return bytes
    }
}
