// The fast transposed convolution, built from the fast convolution's two GEMM paths.
//
// The trick: a transposed convolution IS the input gradient of its adjoint convolution
// (``ConvTranspose2DGeometry/adjointConvolution``: the same kernel, stride and padding,
// with input and output swapped, and the weight [C, O/groups, kh, kw] read as that
// convolution's [out, in/groups, kh, kw]). So
//
//     forward:       z  = col2im(W_g^T * x_g)          (the conv's data-gradient path, + bias)
//     input grad:    dx = conv(dz, W)                  (the conv's forward path: im2col + GEMM)
//     weight grad:   dW_g += x_g * im2col(dz)^T        (the conv's weight-gradient path)
//     bias grad:     sum of dz over n, h, w
//
// Each step is one GEMM per image and group running near the CPU's peak, instead of
// the scatter loops of the naive kernel (see Convolution+FastIm2col.swift for why, and for
// how the work is spread over threads). Output padding needs nothing special: it only
// makes the adjoint convolution's input larger, and its extra rows and columns receive
// whatever kernel taps reach them.

extension Fast {
    /// The transposed convolution of ``Naive/convTranspose2d(_:weight:bias:geometry:)``
    /// (same shapes and result), as the input gradient of the adjoint convolution.
    public static func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv_transpose2d")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv_transpose2d")
        if let bias { checkCount(bias.count, equals: s.outChannels, "bias [\(s.outChannels)]", in: "conv_transpose2d") }
        let adjoint = IM2ColConvolution(s.adjointConvolution)
        var z = [Float](repeating: 0, count: s.outputShape.count)
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                z.withUnsafeMutableBufferPointer { z in
                    IM2ColConvolution.withOptionalPointer(bias) { bias in
                        // x plays the adjoint convolution's output gradient, z its input gradient.
                        adjoint.backward(x: nil, weight: w.baseAddress!, dy: x.baseAddress!,
                                         dx: z.baseAddress!, dw: nil, dxBias: bias)
                    }
                }
            }
        }
        return z
    }

    /// The gradients of ``Naive/convTranspose2dBackward(_:weight:outputGradient:geometry:)``:
    /// `dx` is the adjoint convolution of `dz`, `dW` that convolution's weight gradient
    /// with input `dz` and output gradient `x`, `dbias` the channel sums of `dz`.
    public static func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dz: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) {
        let s = geometry
        s.validate()
        checkCount(x.count, equals: s.inputShape.count, "x \(s.inputShape.dimensions)", in: "conv_transpose2d backward")
        checkCount(weight.count, equals: s.weightCount, "weight \(s.weightShape)", in: "conv_transpose2d backward")
        checkCount(dz.count, equals: s.outputShape.count, "output gradient \(s.outputShape.dimensions)", in: "conv_transpose2d backward")
        let adjoint = IM2ColConvolution(s.adjointConvolution)
        var dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: weight.count)
        x.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                dz.withUnsafeBufferPointer { dz in
                    dx.withUnsafeMutableBufferPointer { dx in
                        dw.withUnsafeMutableBufferPointer { dw in
                            // dx = conv_adjoint(dz, W): the adjoint's forward pass.
                            adjoint.forward(x: dz.baseAddress!, weight: w.baseAddress!, bias: nil, y: dx.baseAddress!)
                            // dW: the adjoint's weight gradient, input dz, output gradient x.
                            adjoint.backward(x: dz.baseAddress!, weight: nil, dy: x.baseAddress!,
                                             dx: nil, dw: dw.baseAddress!)
                        }
                    }
                }
            }
        }
        let dbias = IM2ColConvolution.channelSums(dz, batch: s.batch, channels: s.outChannels, plane: s.outHeight * s.outWidth)
        return (dx, dw, dbias)
    }
}
