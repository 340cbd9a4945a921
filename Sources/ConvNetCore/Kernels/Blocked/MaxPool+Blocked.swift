// Max pooling on channel-blocked activations (BlockedActivations.swift).
//
// Each output pixel is the lane-wise maximum of its window's 16-lane vectors: one vector
// max per tap for 16 channels at once, and the window's pixels are 16 floats apart, so
// no gather and no transpose. The window is clipped to the input (padding counts as
// minus infinity, as PyTorch has it), so the zero border is never read as a value.

extension Fast {
    /// `y = maxpool(x)` on blocked activations: y has `geometry`'s output shape (any border).
    public static func maxPool2dBlocked(_ x: BlockedActivations, geometry g: Pool2DGeometry, into y: BlockedActivations) {
        precondition(x.shape == g.input.dimensions, "maxPool2dBlocked: input \(x.shape), geometry wants \(g.input.dimensions)")
        precondition(y.shape == g.outputShape.dimensions, "maxPool2dBlocked: output \(y.shape), geometry gives \(g.outputShape.dimensions)")
        let (outH, outW) = (g.outHeight, g.outWidth)
        Parallelism.forEach(x.batch * x.channelBlocks) { item in
            let (n, cb) = item.quotientAndRemainder(dividingBy: x.channelBlocks)
            let plane = UnsafePointer(x.pixel(n, cb, 0, 0))
            for i in 0..<outH {
                let top = i * g.strideHeight - g.paddingHeight
                let (r0, r1) = (max(0, top), min(x.height, top + g.kernelHeight))
                let dst = y.pixel(n, cb, i, 0)
                for j in 0..<outW {
                    let left = j * g.strideWidth - g.paddingWidth
                    let (c0, c1) = (max(0, left), min(x.width, left + g.kernelWidth))
                    var m = SIMD16<Float>(repeating: -.infinity)
                    var r = r0
                    while r < r1 {
                        var src = plane + r &* x.rowFloats + c0 &* 16
                        for _ in c0..<c1 {
                            let v = load16(src)
                            m = m.replacing(with: v, where: v .> m)
                            src += 16
                        }
                        r += 1
                    }
                    store16(m, dst + j &* 16)
                }
            }
        }
    }
}
