// The fast crop-and-concatenate of U-Net (see CropConcat+Naive.swift for the definition).
//
// Trick: nothing is computed, only moved, so the work is memory traffic. The upsampled
// part of each image is one contiguous block of Cu * H * W floats in both places: one
// memcpy. The cropped skip part is a set of rows: each output row is W contiguous floats
// of a skip row starting at column `left`, one memcpy per row instead of an index
// computation per element; backward writes the same rows back (after zeroing only the
// border the crop cut off, not the whole map). Channel planes are shared among threads.

extension Fast {
    /// ``Naive/cropConcat(skip:up:geometry:)`` for `Float`.
    public static func cropConcat(skip: [Float], up: [Float], geometry s: CropConcatGeometry) -> [Float] {
        checkCount(skip.count, equals: s.skipShape.reduce(1, *), "skip \(s.skipShape)", in: "cropConcat")
        checkCount(up.count, equals: s.upShape.reduce(1, *), "up \(s.upShape)", in: "cropConcat")
        let (h, w, c) = (s.height, s.width, s.outChannels)
        let plane = h * w, skipPlane = s.skipHeight * s.skipWidth
        let count = s.outputShape.reduce(1, *)
        return [Float](unsafeUninitializedCapacity: count) { y, initialized in
            skip.withUnsafeBufferPointer { skip in
                up.withUnsafeBufferPointer { up in
                    let py = y.baseAddress!, ps = skip.baseAddress!, pu = up.baseAddress!
                    // One item per output channel plane: a skip plane's rows, or an up plane.
                    Parallelism.forEach(s.batch * c) { item in
                        let (n, ch) = (item / c, item % c)
                        let out = py + item * plane
                        if ch < s.skipChannels {
                            let source = ps + (n * s.skipChannels + ch) * skipPlane + s.top * s.skipWidth + s.left
                            for i in 0..<h { (out + i * w).initialize(from: source + i * s.skipWidth, count: w) }
                        } else {
                            out.initialize(from: pu + (n * s.upChannels + ch - s.skipChannels) * plane, count: plane)
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// ``Naive/cropConcatBackward(outputGradient:geometry:)`` for `Float`.
    public static func cropConcatBackward(outputGradient dy: [Float], geometry s: CropConcatGeometry) -> (skip: [Float], up: [Float]) {
        checkCount(dy.count, equals: s.outputShape.reduce(1, *), "output gradient \(s.outputShape)", in: "cropConcat backward")
        let (h, w, c) = (s.height, s.width, s.outChannels)
        let plane = h * w, skipPlane = s.skipHeight * s.skipWidth
        let cropped = s.top > 0 || s.left > 0 || s.skipHeight > h || s.skipWidth > w
        // Zero-filled only where the crop cut something off; otherwise every element is written.
        var dSkip = cropped ? [Float](repeating: 0, count: s.skipShape.reduce(1, *)) : [Float](unsafeUninitializedCapacity: s.skipShape.reduce(1, *)) { $1 = $0.count }
        var dUp = [Float](unsafeUninitializedCapacity: s.upShape.reduce(1, *)) { $1 = $0.count }
        dy.withUnsafeBufferPointer { dy in
            dSkip.withUnsafeMutableBufferPointer { dSkip in
                dUp.withUnsafeMutableBufferPointer { dUp in
                    let pd = dy.baseAddress!, ps = dSkip.baseAddress!, pu = dUp.baseAddress!
                    Parallelism.forEach(s.batch * c) { item in
                        let (n, ch) = (item / c, item % c)
                        let source = pd + item * plane
                        if ch < s.skipChannels {
                            let target = ps + (n * s.skipChannels + ch) * skipPlane + s.top * s.skipWidth + s.left
                            for i in 0..<h { (target + i * s.skipWidth).update(from: source + i * w, count: w) }
                        } else {
                            (pu + (n * s.upChannels + ch - s.skipChannels) * plane).update(from: source, count: plane)
                        }
                    }
                }
            }
        }
        return (dSkip, dUp)
    }
}
