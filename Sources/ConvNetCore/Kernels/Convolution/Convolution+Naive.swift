// The definition of a 2-D convolution: seven nested loops, one per index of the formula.
// Written to be read, generic over the scalar type so that tests can check the backward
// pass against finite differences in Double. The fast twin is Convolution+Fast.swift.
// (`@_specialize` only asks the compiler for Float and Double copies, so that timing the
// naive kernel measures its loops, not generic dispatch.)

extension Naive {
    /// A 2-D convolution as PyTorch's `conv2d` computes it (a cross-correlation: the
    /// kernel is not flipped).
    ///
    /// Shapes: `x` is `[N, C, H, W]`, `weight` is `[O, C/groups, kh, kw]`, `bias` is `[O]`
    /// (or nil), and the result `y` is `[N, O, outH, outW]` (see ``Conv2DGeometry``).
    /// With `Cg = C/groups` input and `Og = O/groups` output channels per group, output
    /// channel `o` belongs to group `g = o / Og` and sees input channels `g*Cg ..< (g+1)*Cg`:
    ///
    ///     y[n, o, i, j] = bias[o] + sum_{c < Cg, u < kh, v < kw}
    ///                     w[o, c, u, v] * x[n, g*Cg + c, i*sh + u - ph, j*sw + v - pw]
    ///
    /// where `x` reads as zero outside the image (zero padding on both sides).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func conv2d<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, geometry: Conv2DGeometry) -> [T] {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv2d") }
        let (cg, og) = (s.inChannelsPerGroup, s.outChannelsPerGroup)
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        var y = [T](repeating: 0, count: s.outputShape.count)
        for n in 0..<s.batch {                                  // n: image of the batch
            for o in 0..<s.outChannels {                        // o: output channel
                let g = o / og                                  // g: the group of o
                for i in 0..<outH {                             // i: output row
                    for j in 0..<outW {                         // j: output column
                        var sum: T = bias?[o] ?? 0              // bias[o] +
                        for c in 0..<cg {                       // sum over c: input channel of the group
                            for u in 0..<s.kernelHeight {       //         u: kernel row
                                for v in 0..<s.kernelWidth {    //         v: kernel column
                                    let h = i * s.strideHeight + u - s.paddingHeight
                                    let w = j * s.strideWidth + v - s.paddingWidth
                                    if h < 0 || h >= inH || w < 0 || w >= inW { continue } // zero padding
                                    let xIndex = ((n * s.inChannels + g * cg + c) * inH + h) * inW + w
                                    let wIndex = ((o * cg + c) * s.kernelHeight + u) * s.kernelWidth + v
                                    sum += weight[wIndex] * x[xIndex]  // w[o, c, u, v] * x[n, g*Cg + c, h, w]
                                }
                            }
                        }
                        y[((n * s.outChannels + o) * outH + i) * outW + j] = sum
                    }
                }
            }
        }
        return y
    }

    /// The gradients of `L = sum(y * dy)`, where `y = conv2d(x, weight, bias)`, with
    /// respect to `x`, `weight` and `bias` (shaped like them; the bias gradient is
    /// returned whether or not the layer has a bias).
    ///
    /// The same seven loops as ``conv2d(_:weight:bias:geometry:)``, with the chain rule
    /// applied to its one line `sum += w[o, c, u, v] * x[n, g*Cg + c, h, w]`:
    ///
    ///     dx[n, g*Cg + c, h, w] += w[o, c, u, v] * dy[n, o, i, j]
    ///     dw[o, c, u, v]        += x[n, g*Cg + c, h, w] * dy[n, o, i, j]
    ///     dbias[o]              += dy[n, o, i, j]          (from `sum = bias[o]`)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func conv2dBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], geometry: Conv2DGeometry) -> (input: [T], weight: [T], bias: [T]) {
        checkCount(x.count, equals: geometry.inputShape.count, "x \(geometry.inputShape.dimensions)", in: "conv2d backward")
        // The two lines of the chain rule, each in its own copy of the seven loops (below).
        let dx = conv2dBackwardInput(weight: weight, outputGradient: dy, geometry: geometry)
        let (dw, dbias) = conv2dBackwardWeight(x, outputGradient: dy, geometry: geometry)
        return (dx, dw, dbias)
    }
}

// The two halves of the backward pass on their own, so that the input gradient (what a
// layer sends back to the layer below) and the weight gradient (what the optimizer
// needs) can be computed, and timed, separately. Each is the seven loops of `conv2d`
// keeping only its own line of the chain rule; `conv2dBackward` runs both.

extension Naive {
    /// The input gradient of `L = sum(y * dy)`, `y = conv2d(x, weight, bias)`: the first
    /// result of ``conv2dBackward(_:weight:outputGradient:geometry:)``, without needing `x`.
    ///
    /// Shapes: `weight` `[O, C/groups, kh, kw]`, `dy` `[N, O, outH, outW]`, result `[N, C, H, W]`:
    ///
    ///     dx[n, g*Cg + c, h, w] = sum over (o in group g, i, j, u, v) with
    ///                             h = i*sh + u - ph, w = j*sw + v - pw  of  w[o, c, u, v] * dy[n, o, i, j]
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func conv2dBackwardInput<T: BinaryFloatingPoint>(weight: [T], outputGradient dy: [T], geometry: Conv2DGeometry) -> [T] {
        let s = geometry
        s.validate()
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv2d backward input")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward input")
        let (cg, og) = (s.inChannelsPerGroup, s.outChannelsPerGroup)
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        var dx = [T](repeating: 0, count: s.inputShape.count)
        for n in 0..<s.batch {                                  // n: image of the batch
            for o in 0..<s.outChannels {                        // o: output channel
                let g = o / og                                  // g: the group of o
                for i in 0..<outH {                             // i: output row
                    for j in 0..<outW {                         // j: output column
                        let upstream = dy[((n * s.outChannels + o) * outH + i) * outW + j]
                        for c in 0..<cg {                       // c: input channel of the group
                            for u in 0..<s.kernelHeight {       // u: kernel row
                                for v in 0..<s.kernelWidth {    // v: kernel column
                                    let h = i * s.strideHeight + u - s.paddingHeight
                                    let w = j * s.strideWidth + v - s.paddingWidth
                                    if h < 0 || h >= inH || w < 0 || w >= inW { continue } // padding: no gradient
                                    let xIndex = ((n * s.inChannels + g * cg + c) * inH + h) * inW + w
                                    let wIndex = ((o * cg + c) * s.kernelHeight + u) * s.kernelWidth + v
                                    dx[xIndex] += weight[wIndex] * upstream
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// The weight and bias gradients of `L = sum(y * dy)`, `y = conv2d(x, weight, bias)`:
    /// the last two results of ``conv2dBackward(_:weight:outputGradient:geometry:)``,
    /// without needing the weight.
    ///
    /// Shapes: `x` `[N, C, H, W]`, `dy` `[N, O, outH, outW]`, results `[O, C/groups, kh, kw]` and `[O]`:
    ///
    ///     dw[o, c, u, v] = sum over (n, i, j) of x[n, g*Cg + c, i*sh + u - ph, j*sw + v - pw] * dy[n, o, i, j]
    ///     dbias[o]       = sum over (n, i, j) of dy[n, o, i, j]
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func conv2dBackwardWeight<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T], geometry: Conv2DGeometry) -> (weight: [T], bias: [T]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv2d backward weight")
        checkCount(dy.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv2d backward weight")
        let (cg, og) = (s.inChannelsPerGroup, s.outChannelsPerGroup)
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        var dw = [T](repeating: 0, count: s.weightCount)
        var dbias = [T](repeating: 0, count: s.outChannels)
        for n in 0..<s.batch {                                  // n: image of the batch
            for o in 0..<s.outChannels {                        // o: output channel
                let g = o / og                                  // g: the group of o
                for i in 0..<outH {                             // i: output row
                    for j in 0..<outW {                         // j: output column
                        let upstream = dy[((n * s.outChannels + o) * outH + i) * outW + j]
                        dbias[o] += upstream                    // d(bias[o] + ...) / d bias[o] = 1
                        for c in 0..<cg {                       // c: input channel of the group
                            for u in 0..<s.kernelHeight {       // u: kernel row
                                for v in 0..<s.kernelWidth {    // v: kernel column
                                    let h = i * s.strideHeight + u - s.paddingHeight
                                    let w = j * s.strideWidth + v - s.paddingWidth
                                    if h < 0 || h >= inH || w < 0 || w >= inW { continue } // padding: no gradient
                                    let xIndex = ((n * s.inChannels + g * cg + c) * inH + h) * inW + w
                                    let wIndex = ((o * cg + c) * s.kernelHeight + u) * s.kernelWidth + v
                                    dw[wIndex] += x[xIndex] * upstream
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dw, dbias)
    }
}
