// The reference Exercises.swift of every lesson, carried by the `lesson` tool so that
// `lesson exercise NAME --reset` works outside git. Written by
// `lesson exercise --write-references`; LessonCatalogTests checks it matches the files.

/// Lesson folder -> the text of its Exercises.swift with the reference solutions.
public let exerciseReferences: [String: String] = [
    "LeNet": ##"""
import ConvNetCore

// The LeNet lesson's exercises: write these three functions, then run
//
//     swift test --filter LeNetExercises
//
// `lesson exercise lenet --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise lenet --reset` puts them back. The graders
// (Tests/LeNetLessonTests/LeNetExercises.swift) check each against the naive kernel, the
// PyTorch fixtures and finite differences, on several shapes, odd ones included.
// Arrays are NCHW, row-major: x[n, c, i, j] is x[((n * n_C + c) * n_H + i) * n_W + j].

/// Exercise 1: the valid convolution, forward (stride 1, no padding: C1, C3, C5).
/// `x` is `[m, n_C, n_H, n_W]`, `weight` `[n_C', n_C, f, f]`, `bias` `[n_C']`; the result
/// `[m, n_C', n_H - f + 1, n_W - f + 1]` (`shape.output`).
/// Hint: y[n, o, i, j] = b[o] + sum over c < n_C, u < f, v < f of w[o, c, u, v] * x[n, c, i + u, j + v].
/// PyTorch's conv2d is a cross-correlation: do not flip the filter.
public func convolutionForward(_ x: [Double], weight: [Double], bias: [Double], shape: ValidConvolutionShape) -> [Double] {
    // EXERCISE convolutionForward BEGIN (stub: return [])
    let (nC, nH, nW, f) = (shape.input.channels, shape.input.height, shape.input.width, shape.kernel)
    let (nC2, nH2, nW2) = (shape.filters, shape.outHeight, shape.outWidth)
    var y = [Double](repeating: 0, count: shape.output.count)
    for n in 0..<shape.input.batch {
        for o in 0..<nC2 {
            for i in 0..<nH2 {
                for j in 0..<nW2 {
                    var z = bias[o]
                    for c in 0..<nC {
                        for u in 0..<f {
                            for v in 0..<f {
                                z += weight[((o * nC + c) * f + u) * f + v] * x[((n * nC + c) * nH + i + u) * nW + j + v]
                            }
                        }
                    }
                    y[((n * nC2 + o) * nH2 + i) * nW2 + j] = z
                }
            }
        }
    }
    return y
    // EXERCISE convolutionForward END
}

/// Exercise 2: the valid convolution's input gradient, dL/dx for L = sum(y * dy).
/// `dy` is `[m, n_C', n_H', n_W']`; the result is shaped like x, `[m, n_C, n_H, n_W]`.
/// Hint: every x[n, c, i + u, j + v] was multiplied by w[o, c, u, v] in y[n, o, i, j], so
/// dx[n, c, i + u, j + v] += w[o, c, u, v] * dy[n, o, i, j]: scatter, and ADD (an input
/// value feeds up to f * f outputs of every filter). Equivalently a full convolution of dy
/// with the filters turned by 180 degrees.
public func convolutionInputGradient(weight: [Double], outputGradient dy: [Double], shape: ValidConvolutionShape) -> [Double] {
    // EXERCISE convolutionInputGradient BEGIN (stub: return [])
    let (nC, nH, nW, f) = (shape.input.channels, shape.input.height, shape.input.width, shape.kernel)
    let (nC2, nH2, nW2) = (shape.filters, shape.outHeight, shape.outWidth)
    var dx = [Double](repeating: 0, count: shape.input.count)
    for n in 0..<shape.input.batch {
        for o in 0..<nC2 {
            for i in 0..<nH2 {
                for j in 0..<nW2 {
                    let g = dy[((n * nC2 + o) * nH2 + i) * nW2 + j]
                    for c in 0..<nC {
                        for u in 0..<f {
                            for v in 0..<f {
                                dx[((n * nC + c) * nH + i + u) * nW + j + v] += weight[((o * nC + c) * f + u) * f + v] * g
                            }
                        }
                    }
                }
            }
        }
    }
    return dx
    // EXERCISE convolutionInputGradient END
}

/// Exercise 3: 2x2 average pooling with stride 2, backward (S2, S4). `dy` is
/// `[m, n_C, n_H / 2, n_W / 2]`; the result is shaped like the pool's input `shape`.
/// Hint: y[n, c, i, j] is the mean of the four x[n, c, 2i + u, 2j + v] (u, v in 0...1), so
/// each of them gets dy[n, c, i, j] / 4. An odd last row or column is not in any window:
/// its gradient is 0.
public func averagePoolingBackward(outputGradient dy: [Double], shape: FeatureMapShape) -> [Double] {
    // EXERCISE averagePoolingBackward BEGIN (stub: return [])
    let (oh, ow) = (shape.height / 2, shape.width / 2)
    var dx = [Double](repeating: 0, count: shape.count)
    for n in 0..<shape.batch {
        for c in 0..<shape.channels {
            for i in 0..<oh {
                for j in 0..<ow {
                    let share = dy[((n * shape.channels + c) * oh + i) * ow + j] / 4
                    for u in 0..<2 {
                        for v in 0..<2 {
                            dx[((n * shape.channels + c) * shape.height + 2 * i + u) * shape.width + 2 * j + v] += share
                        }
                    }
                }
            }
        }
    }
    return dx
    // EXERCISE averagePoolingBackward END
}

"""##,
    "ResNet": ##"""
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

"""##,
]
