import ConvNetCore

// The DenseNet lesson's exercises: write these three functions, then run
//
//     swift test --filter DenseNetExercises
//
// `lesson exercise densenet --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise densenet --reset` puts them back. The graders
// (Tests/DenseNetLessonTests/DenseNetExercises.swift) check them against the core's dense
// block (DenseBlock in Sources/ConvNetCore/Models/Architectures/DenseNet.swift) and its
// DenseNet. Arrays are NCHW.

/// Exercise 1: the forward pass of a dense block, from its layers (`block.layers`, each a
/// layer you call, `layer(features)`, that returns only its `growthRate` NEW maps):
///     x_l = H_l([x_0, x_1, ..., x_{l-1}])
/// The result is the concatenation of x_0 (the block's input) and every layer's new maps,
/// `[N, C_0 + L * k, H, W]`.
/// Hint: keep one running `features` tensor: each layer reads all of it, and its output
/// is concatenated onto it (along the channels, after the old ones). `Naive.concatenateChannels`
/// joins flat NCHW arrays (`spatial` = H * W); `Tensor(shape:data:)` builds a tensor.
public func denseBlockForward(_ x: Tensor, _ block: DenseBlock) -> Tensor {
    // EXERCISE denseBlockForward BEGIN (stub: return x)
    var features = x
    let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
    for layer in block.layers {
        let new = layer(features)
        let channels = [features.shape[1], new.shape[1]]
        let joined = Naive.concatenateChannels([features.data, new.data], channels: channels, batch: n, spatial: h * w)
        features = Tensor(shape: [n, channels[0] + channels[1], h, w], data: joined)
    }
    return features
    // EXERCISE denseBlockForward END
}

/// Exercise 2: the backward pass of the same block, after `denseBlockForward`: given dL/d
/// (the block's output), return dL/dx (each layer's `backward` adds its parameters' gradients).
/// Hint: undo the concatenations in reverse order. The gradient of `features` after layer l
/// splits into the part for the old features (the first C_0 + (l - 1) k channels) and the
/// part for layer l's new maps; layer l's backward turns the new part into a gradient for
/// ITS input, which was the old features, so it is ADDED to the old part.
/// `Naive.concatenateChannelsBackward` splits, `Naive.add` adds flat arrays.
public func denseBlockBackward(_ dy: Tensor, _ block: DenseBlock) -> Tensor {
    // EXERCISE denseBlockBackward BEGIN (stub: return dy)
    var g = dy
    let (n, h, w) = (dy.shape[0], dy.shape[2], dy.shape[3])
    for layer in block.layers.reversed() {
        let old = g.shape[1] - block.growthRate
        let parts = Naive.concatenateChannelsBackward(outputGradient: g.data, channels: [old, block.growthRate], batch: n, spatial: h * w)
        let fromLayer = layer.backward(Tensor(shape: [n, block.growthRate, h, w], data: parts[1]))
        g = Tensor(shape: [n, old, h, w], data: Naive.add(parts[0], fromLayer.data))
    }
    return g
    // EXERCISE denseBlockBackward END
}

/// Exercise 3: the channel count of a DenseNet-BC: the channels coming out of each dense
/// block, given the stem's `initialFeatures` channels, the growth rate k and the number of
/// layers of each block; between two blocks a transition halves the channels (compression
/// 0.5, rounding down), after the last block there is none.
/// Hint: a block of L layers on C_0 channels outputs C_0 + L * k (the course's
/// k_0 + k (l - 1) input to layer l). DenseNet-121 (64, k = 32, [6, 12, 24, 16]):
/// 256, then 128 + 12 * 32 = 512, then 1024, and its classifier reads 1024 channels.
public func denseNetBlockChannels(initialFeatures: Int, growthRate: Int, blockConfig: [Int]) -> [Int] {
    // EXERCISE denseNetBlockChannels BEGIN (stub: return [])
    var channels = initialFeatures
    var result: [Int] = []
    for (i, layers) in blockConfig.enumerated() {
        channels += layers * growthRate
        result.append(channels)
        if i != blockConfig.count - 1 { channels /= 2 }
    }
    return result
    // EXERCISE denseNetBlockChannels END
}
