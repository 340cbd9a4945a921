import ConvNetCore

// The Inception lesson's exercises: write these three functions, then run
//
//     swift test --filter InceptionExercises
//
// `lesson exercise inception --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise inception --reset` puts them back. The graders
// (Tests/InceptionLessonTests/InceptionExercises.swift) check them against the core's
// concatenation kernels and its Inception module (Sources/ConvNetCore/Models/Architectures/
// GoogLeNet.swift). Arrays are NCHW.

/// Exercise 1: the depth concatenation that joins the branches: `parts[b]` is branch b's
/// output `[N, channels[b], H, W]` (flat, NCHW), all of the same N, H and W
/// (`spatial` = H * W); the result is `[N, sum of channels, H, W]`.
/// Hint: the channels of one image are contiguous, the images are not: for each image n,
/// copy branch 0's `channels[0] * spatial` values of image n, then branch 1's, and so on.
/// Appending whole arrays one after the other is a concatenation along the batch.
public func concatenateChannels(_ parts: [[Double]], channels: [Int], batch: Int, spatial: Int) -> [Double] {
    // EXERCISE concatenateChannels BEGIN (stub: return [])
    var y: [Double] = []
    y.reserveCapacity(batch * channels.reduce(0, +) * spatial)
    for n in 0..<batch {
        for (part, c) in zip(parts, channels) {
            y.append(contentsOf: part[(n * c * spatial)..<((n + 1) * c * spatial)])
        }
    }
    return y
    // EXERCISE concatenateChannels END
}

/// Exercise 2: its backward pass: dL/dy `[N, sum of channels, H, W]` back into one
/// gradient per branch, `[N, channels[b], H, W]` each.
/// Hint: the concatenation only moves numbers, so its backward moves them back: branch b's
/// gradient is the slice of dy its output was copied into, channels
/// `channels[0] + ... + channels[b - 1]` up to the next branch's, in every image.
public func concatenationBackward(_ dy: [Double], channels: [Int], batch: Int, spatial: Int) -> [[Double]] {
    // EXERCISE concatenationBackward BEGIN (stub: return [])
    let total = channels.reduce(0, +)
    var parts: [[Double]] = channels.map { _ in [] }
    for n in 0..<batch {
        var first = 0
        for (b, c) in channels.enumerated() {
            let start = (n * total + first) * spatial
            parts[b].append(contentsOf: dy[start..<(start + c * spatial)])
            first += c
        }
    }
    return parts
    // EXERCISE concatenationBackward END
}

/// Exercise 3: the Inception module's forward pass, from its four branches
/// (`module.branches`: 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1), each a
/// layer you call on the module's input (`module.branches[0](x)`); the result is their
/// outputs concatenated along the channels, `[N, sum of the branches' channels, H, W]`.
/// Hint: "do them all in parallel": every branch reads the same x (not the previous
/// branch's output), all keep n_H and n_W, and your `concatenateChannels` joins them in
/// branch order. `Tensor(shape:data:)` builds the result from Float values.
public func inceptionModuleForward(_ x: Tensor, _ module: InceptionModule) -> Tensor {
    // EXERCISE inceptionModuleForward BEGIN (stub: return x)
    let outputs = module.branches.map { $0(x) }
    let channels = outputs.map { $0.shape[1] }
    let (n, h, w) = (x.shape[0], outputs[0].shape[2], outputs[0].shape[3])
    let joined = concatenateChannels(outputs.map { $0.data.map(Double.init) }, channels: channels, batch: n, spatial: h * w)
    return Tensor(shape: [n, channels.reduce(0, +), h, w], data: joined.map { Float($0) })
    // EXERCISE inceptionModuleForward END
}
