// The definition of a 2-D transposed convolution ("deconvolution", the upsampling layer
// of U-Net): every input pixel scatters a weighted copy of the kernel into the output.
// Seven nested loops, generic over the scalar type. The fast twin is ConvTranspose+Fast.swift.

extension Naive {
    /// A 2-D transposed convolution as PyTorch's `conv_transpose2d` computes it.
    ///
    /// Shapes: `x` is `[N, C, H, W]`, `weight` is `[C, O/groups, kh, kw]` (input channels
    /// first), `bias` is `[O]` (or nil), and the result `z` is `[N, O, outH, outW]` with
    /// `outH = (H - 1)*sh - 2*ph + kh + output_padding_h` (see ``ConvTranspose2DGeometry``).
    /// With `Cg = C/groups` and `Og = O/groups`, input channel `c` belongs to group
    /// `g = c / Cg` and writes to output channels `g*Og ..< (g+1)*Og`:
    ///
    ///     z[n, g*Og + o, i*sh + u - ph, j*sw + v - pw] += x[n, c, i, j] * w[c, o, u, v]
    ///
    /// for every `n, c, i, j` and `o < Og, u < kh, v < kw`, on top of `z[n, o, :, :] = bias[o]`;
    /// targets outside the output (cut off by the padding) are dropped. It is the
    /// gradient with respect to the input of the convolution ``ConvTranspose2DGeometry/adjointConvolution``.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func convTranspose2d<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, geometry: ConvTranspose2DGeometry) -> [T] {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv_transpose2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv_transpose2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv_transpose2d") }
        let (cg, og) = (s.inChannels / s.groups, s.outChannels / s.groups)
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        var z = [T](repeating: 0, count: s.outputShape.count)
        if let bias {                                           // z[n, o, :, :] = bias[o]
            for n in 0..<s.batch {
                for o in 0..<s.outChannels {
                    for p in 0..<(outH * outW) { z[(n * s.outChannels + o) * outH * outW + p] = bias[o] }
                }
            }
        }
        for n in 0..<s.batch {                                  // n: image of the batch
            for c in 0..<s.inChannels {                         // c: input channel
                let g = c / cg                                  // g: the group of c
                for i in 0..<inH {                              // i: input row
                    for j in 0..<inW {                          // j: input column
                        let xValue = x[((n * s.inChannels + c) * inH + i) * inW + j]
                        for o in 0..<og {                       // o: output channel of the group
                            for u in 0..<s.kernelHeight {       // u: kernel row
                                for v in 0..<s.kernelWidth {    // v: kernel column
                                    let h = i * s.strideHeight + u - s.paddingHeight
                                    let w = j * s.strideWidth + v - s.paddingWidth
                                    if h < 0 || h >= outH || w < 0 || w >= outW { continue } // cut by padding
                                    let zIndex = ((n * s.outChannels + g * og + o) * outH + h) * outW + w
                                    let wIndex = ((c * og + o) * s.kernelHeight + u) * s.kernelWidth + v
                                    z[zIndex] += xValue * weight[wIndex]  // x[n, c, i, j] * w[c, o, u, v]
                                }
                            }
                        }
                    }
                }
            }
        }
        return z
    }

    /// The gradients of `L = sum(z * dz)`, where `z = convTranspose2d(x, weight, bias)`,
    /// with respect to `x`, `weight` and `bias` (the bias gradient is always returned).
    ///
    /// The same loops as ``convTranspose2d(_:weight:bias:geometry:)`` with the chain rule
    /// applied to `z[n, g*Og + o, h, w] += x[n, c, i, j] * w[c, o, u, v]`:
    ///
    ///     dx[n, c, i, j] += w[c, o, u, v] * dz[n, g*Og + o, h, w]
    ///     dw[c, o, u, v] += x[n, c, i, j] * dz[n, g*Og + o, h, w]
    ///     dbias[o]       += dz[n, o, h, w]                  (from `z[n, o, :, :] = bias[o]`)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func convTranspose2dBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dz: [T], geometry: ConvTranspose2DGeometry) -> (input: [T], weight: [T], bias: [T]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv_transpose2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv_transpose2d backward")
        checkCount(dz.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv_transpose2d backward")
        let (cg, og) = (s.inChannels / s.groups, s.outChannels / s.groups)
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        var dx = [T](repeating: 0, count: x.count)
        var dw = [T](repeating: 0, count: weight.count)
        var dbias = [T](repeating: 0, count: s.outChannels)
        for n in 0..<s.batch {                                  // dbias[o] = sum over n, h, w of dz[n, o, h, w]
            for o in 0..<s.outChannels {
                for p in 0..<(outH * outW) { dbias[o] += dz[(n * s.outChannels + o) * outH * outW + p] }
            }
        }
        for n in 0..<s.batch {                                  // n: image of the batch
            for c in 0..<s.inChannels {                         // c: input channel
                let g = c / cg                                  // g: the group of c
                for i in 0..<inH {                              // i: input row
                    for j in 0..<inW {                          // j: input column
                        let xIndex = ((n * s.inChannels + c) * inH + i) * inW + j
                        for o in 0..<og {                       // o: output channel of the group
                            for u in 0..<s.kernelHeight {       // u: kernel row
                                for v in 0..<s.kernelWidth {    // v: kernel column
                                    let h = i * s.strideHeight + u - s.paddingHeight
                                    let w = j * s.strideWidth + v - s.paddingWidth
                                    if h < 0 || h >= outH || w < 0 || w >= outW { continue } // dropped: no gradient
                                    let zIndex = ((n * s.outChannels + g * og + o) * outH + h) * outW + w
                                    let wIndex = ((c * og + o) * s.kernelHeight + u) * s.kernelWidth + v
                                    dx[xIndex] += weight[wIndex] * dz[zIndex]
                                    dw[wIndex] += x[xIndex] * dz[zIndex]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, dbias)
    }
}
