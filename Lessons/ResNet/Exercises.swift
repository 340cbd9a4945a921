import ConvNetCore

// The ResNet lesson's exercises: write these three functions, then run
//
//     swift test --filter ResNetExercises
//
// `lesson exercise resnet --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise resnet --reset` puts them back. The graders
// (Tests/ResNetLessonTests/ResNetExercises.swift) check them against the core's block
// (CifarBlock in Sources/ConvNetCore/Models/Architectures/CifarResNet.swift), the naive
// convolution and the PyTorch fixture that applies.

/// Exercise 1: the forward pass of a post-activation residual block, from its layers:
///     a1 = relu1(bn1(conv1(x)));  z2 = bn2(conv2(a1));  y = relu2(z2 + shortcut(x))
/// where shortcut(x) is `block.downsample` (a 1x1 convolution and batch norm) when the
/// block changes the shape, and x itself otherwise. Call the layers themselves
/// (`block.conv1(x)`): each remembers its input for the backward pass.
/// Hint: the course's a[l+2] = g(z[l+2] + a[l]): add the shortcut BEFORE the last ReLU.
/// `Naive.add(a.data, b.data)` adds two tensors' values.
public func residualBlockForward(_ x: Tensor, _ block: CifarBlock) -> Tensor {
    // EXERCISE residualBlockForward BEGIN (stub: return x)
    let a1 = block.relu1(block.bn1(block.conv1(x)))
    let z2 = block.bn2(block.conv2(a1))
    let shortcut = block.downsample?.forward(x) ?? x
    return block.relu2(Tensor(shape: z2.shape, data: Naive.add(z2.data, shortcut.data)))
    // EXERCISE residualBlockForward END
}

/// Exercise 2: the backward pass of the same block, after `residualBlockForward`: given
/// dL/dy, return dL/dx (each layer's `backward` adds its parameters' gradients).
/// Hint: go through the layers in reverse. The sum z2 + shortcut(x) sends the same
/// gradient to both branches, and x feeds both the main path and the shortcut, so dL/dx
/// is the SUM of the two paths' gradients: this is why the shortcut carries the gradient
/// straight back.
public func residualBlockBackward(_ dy: Tensor, _ block: CifarBlock) -> Tensor {
    // EXERCISE residualBlockBackward BEGIN (stub: return dy)
    let dSum = block.relu2.backward(dy)
    let dA1 = block.conv2.backward(block.bn2.backward(dSum))
    let dMain = block.conv1.backward(block.bn1.backward(block.relu1.backward(dA1)))
    let dShortcut = block.downsample?.backward(dSum) ?? dSum
    return Tensor(shape: dMain.shape, data: Naive.add(dMain.data, dShortcut.data))
    // EXERCISE residualBlockBackward END
}

/// Exercise 3: the projection shortcut's convolution (the paper's option B): a 1x1
/// convolution with stride s and no padding from `shape` = [m, n_C, n_H, n_W] to
/// `outChannels` channels, `weight` `[n_C', n_C]` (the 1x1 filters), no bias. The
/// result is `[m, n_C', (n_H - 1) / s + 1, (n_W - 1) / s + 1]`.
/// Hint: y[n, o, i, j] = sum over c of w[o, c] * x[n, c, s * i, s * j]: a fully connected
/// layer at every s-th pixel (odd sizes keep their last row: (7 - 1) / 2 + 1 = 4).
public func projectionShortcut(_ x: [Double], weight: [Double], shape: FeatureMapShape, outChannels: Int, stride: Int) -> [Double] {
    // EXERCISE projectionShortcut BEGIN (stub: return [])
    let outHeight = (shape.height - 1) / stride + 1, outWidth = (shape.width - 1) / stride + 1
    var y = [Double](repeating: 0, count: shape.batch * outChannels * outHeight * outWidth)
    for n in 0..<shape.batch {
        for o in 0..<outChannels {
            for i in 0..<outHeight {
                for j in 0..<outWidth {
                    var sum = 0.0
                    for c in 0..<shape.channels {
                        sum += weight[o * shape.channels + c] * x[((n * shape.channels + c) * shape.height + stride * i) * shape.width + stride * j]
                    }
                    y[((n * outChannels + o) * outHeight + i) * outWidth + j] = sum
                }
            }
        }
    }
    return y
    // EXERCISE projectionShortcut END
}
