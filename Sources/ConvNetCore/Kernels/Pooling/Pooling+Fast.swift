// Fast pooling: separable windows, SIMD across output columns, threads across planes.
//
// The trick. A kh x kw window reduction (max or sum) is separable: reduce the window's
// kh input rows column by column (the "column pass"), then each window's kw columns of
// that row of column results (the "row pass"). That costs kh + kw operations per output
// instead of kh * kw.
//  - Max pooling's forward, output row by output row: the column pass reads the window's
//    rows of x straight from the tensor (contiguous vectors, the row range clipped once
//    per output row, outside the inner loop) into a row buffer that already holds the
//    padding (-infinity, so padding never wins) on both sides and past the end (the
//    overhang of ceil-mode windows); the row pass then reads whole windows from it with no
//    bounds tests. (Rows first, each input row copied into the buffer and reduced once,
//    did less arithmetic on overlapping windows but paid a copy and two calls per input
//    row: AlexNet's 3x3/2 pool of 64 x 112 x 112 ran 1.9-2.6x slower.) A max is exact in
//    any order, so the results are the same either way.
//  - Average pooling's forward keeps the rows-first order (each input row copied into the
//    padded buffer, 0 as padding, and reduced over the windows' columns; then kh row
//    results summed per output): a sum's rounding depends on its order, and the lessons'
//    runs were measured with this one.
//  - SIMD over output positions: the row pass computes 16 adjacent outputs at a time.
//    For stride 1 the inputs of lane i at window column j are the 16 contiguous floats
//    at `q + j`; for stride 2 they are the even lanes of the 32 floats at `2q + j`
//    (`evenLanes` of two vector loads, one permute). Other strides use a scalar loop.
//  - Max is computed with a compare-and-select (`vmaxps`), not the IEEE `maximum`
//    function; fast kernels assume NaN-free inputs (the naive ones propagate NaN).
//  - Average pooling's divisor factorises, D(oh, ow) = Dh(oh) * Dw(ow) in both of
//    PyTorch's modes, so it becomes two precomputed reciprocal tables.
//  - Threads: the N*C planes are independent; `Parallelism.forEachChunk` gives each
//    thread a contiguous run of planes and one set of scratch buffers, allocated once.
// Backward passes follow the same plan: max pooling re-finds the argmax of 16 windows at
// once on a -infinity-padded copy of the plane (a value vector and an index vector,
// updated by compare-and-select in window order) and scatters dy into its own plane (no
// atomics); average pooling scatters dy / D through the transposed column pass, then the
// transposed row pass.

fileprivate typealias V16 = SIMD16<Float>

/// p[0], p[2], ..., p[30]: two loads and one permute.
@inline(__always) fileprivate func loadEven16(_ p: UnsafePointer<Float>) -> V16 {
    evenLanes(load16(p), load16(p + 16))
}

/// The reduction of a pooling window: its padding value and how two values combine.
fileprivate protocol WindowReduction {
    static var padding: Float { get }
    static func combine(_ a: V16, _ b: V16) -> V16
    static func combine(_ a: Float, _ b: Float) -> Float
}

fileprivate enum MaxReduction: WindowReduction {
    static var padding: Float { -.infinity }
    @inline(__always) static func combine(_ a: V16, _ b: V16) -> V16 { a.replacing(with: b, where: b .> a) }
    @inline(__always) static func combine(_ a: Float, _ b: Float) -> Float { b > a ? b : a }
}

fileprivate enum SumReduction: WindowReduction {
    static var padding: Float { 0 }
    @inline(__always) static func combine(_ a: V16, _ b: V16) -> V16 { a + b }
    @inline(__always) static func combine(_ a: Float, _ b: Float) -> Float { a + b }
}

/// The length of a padded row buffer: the padded input row, and everything the row pass
/// may read (full SIMD blocks of outputs, SIMD32 loads for stride 2).
fileprivate func rowBufferLength(_ g: Pool2DGeometry) -> Int {
    max(g.input.width + 2 * g.paddingWidth, g.strideWidth * roundUp16(g.outWidth) + g.kernelWidth + 32)
}

/// The row pass: `out[q] = combine_{j < kw} buffer[q * sw + j]` for `q < roundUp16(ow)`.
@inline(__always)
fileprivate func reduceRow<R: WindowReduction>(_: R.Type, _ buffer: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                               outWidth ow: Int, stride sw: Int, kernel kw: Int) {
    let owp = roundUp16(ow)
    if sw == 1 {
        for q in Swift.stride(from: 0, to: owp, by: 16) {
            var v = load16(buffer + q)
            for j in 1..<max(kw, 1) { v = R.combine(v, load16(buffer + q + j)) }
            store16(v, out + q)
        }
    } else if sw == 2 {
        for q in Swift.stride(from: 0, to: owp, by: 16) {
            var v = loadEven16(buffer + 2 * q)
            for j in 1..<max(kw, 1) { v = R.combine(v, loadEven16(buffer + 2 * q + j)) }
            store16(v, out + q)
        }
    } else {
        for q in 0..<ow {
            let base = buffer + q * sw
            var v = base[0]
            for j in 1..<max(kw, 1) { v = R.combine(v, base[j]) }
            out[q] = v
        }
    }
}

/// The `N*C*oh*ow` outputs of a pooling of `x`, every one written by `body(x, y)` (the
/// array is not zeroed first: that would be one more full write of it through the caches).
fileprivate func pooledOutput(_ x: [Float], _ g: Pool2DGeometry,
                              _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    let count = g.outputShape.count
    return [Float](unsafeUninitializedCapacity: count) { yb, initialized in
        x.withUnsafeBufferPointer { xb in body(xb.baseAddress!, yb.baseAddress!) }
        initialized = count
    }
}

/// Separable forward pooling, columns first (see the file's header): max pooling runs it
/// (a max is exact in any order, so its results are those of the rows-first order).
fileprivate func poolForwardColumnsFirst<R: WindowReduction>(_ r: R.Type, _ x: [Float], _ g: Pool2DGeometry) -> [Float] {
    let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
    let (kh, kw, sh, sw, ph, pw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                                    g.paddingHeight, g.paddingWidth)
    let planes = g.input.batch * g.input.channels
    let owp = roundUp16(ow)
    let bufferLength = rowBufferLength(g)
    return pooledOutput(x, g) { xp, yp in
        Parallelism.forEachChunk(planes) { _, range in
            // Scratch, once per thread: the padded row of column results and one
            // row of outputs (whole vectors).
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferLength)
            buffer.initialize(repeating: R.padding, count: bufferLength)
            let outRow = UnsafeMutablePointer<Float>.allocate(capacity: owp)
            defer { buffer.deallocate(); outRow.deallocate() }
            let columns = buffer + pw
            for plane in range {
                let xPlane = xp + plane * h * w, yPlane = yp + plane * oh * ow
                for orow in 0..<oh {
                    // Column pass: the window's real rows, reduced per input column,
                    // straight from x into the padded row.
                    let top = orow * sh - ph
                    let r0 = max(top, 0), r1 = min(top + kh, h)
                    if r1 <= r0 {
                        columns.update(repeating: R.padding, count: w)
                    } else {
                        let first = xPlane + r0 * w
                        var c = 0
                        while c + 16 <= w {
                            var v = load16(first + c)
                            var ih = r0 + 1
                            while ih < r1 { v = R.combine(v, load16(xPlane + ih * w + c)); ih += 1 }
                            store16(v, columns + c)
                            c += 16
                        }
                        while c < w {
                            var v = first[c]
                            var ih = r0 + 1
                            while ih < r1 { v = R.combine(v, xPlane[ih * w + c]); ih += 1 }
                            columns[c] = v
                            c += 1
                        }
                    }
                    // Row pass: each window's columns, 16 outputs at a time.
                    reduceRow(R.self, buffer, outRow, outWidth: ow, stride: sw, kernel: kw)
                    let out = yPlane + orow * ow
                    for q in Swift.stride(from: 0, to: owp, by: 16) {
                        store16(load16(outRow + q), out + q, count: ow - q)
                    }
                }
            }
        }
    }
}

/// Separable forward pooling, rows first: each input row copied into the padded row buffer
/// and reduced over each window's columns, then kh of those row results per output row.
/// Average pooling runs this order (its sums are the ones every lesson's runs were
/// measured with; a sum's rounding depends on its order); `rowScale`/`colScale` (its
/// reciprocal divisors, `colScale` padded to a multiple of 16) multiply the window results.
fileprivate func poolForwardRowsFirst<R: WindowReduction>(_ r: R.Type, _ x: [Float], _ g: Pool2DGeometry,
                                                 rowScale: [Float]?, colScale: [Float]?) -> [Float] {
    let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
    let (kh, kw, sh, sw, ph, pw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                                    g.paddingHeight, g.paddingWidth)
    let planes = g.input.batch * g.input.channels
    let owp = roundUp16(ow)
    let bufferLength = rowBufferLength(g)
    return pooledOutput(x, g) { xp, yp in
        let rowScale = rowScale ?? [], colScale = colScale ?? []
        let scaled = !colScale.isEmpty
        rowScale.withUnsafeBufferPointer { rs in
            colScale.withUnsafeBufferPointer { cs in
                Parallelism.forEachChunk(planes) { _, range in
                    // Scratch, once per thread: the padded row and the row-pass results.
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferLength)
                    buffer.initialize(repeating: R.padding, count: bufferLength)
                    let rows = UnsafeMutablePointer<Float>.allocate(capacity: h * owp)
                    rows.initialize(repeating: 0, count: h * owp)
                    defer { buffer.deallocate(); rows.deallocate() }
                    for plane in range {
                        let xPlane = xp + plane * h * w, yPlane = yp + plane * oh * ow
                        // Row pass: every input row, reduced over each window's columns.
                        for ih in 0..<h {
                            (buffer + pw).update(from: xPlane + ih * w, count: w)
                            reduceRow(R.self, buffer, rows + ih * owp, outWidth: ow, stride: sw, kernel: kw)
                        }
                        // Column pass: reduce the window's real rows, 16 outputs at a time.
                        for orow in 0..<oh {
                            let top = orow * sh - ph
                            let r0 = max(top, 0), r1 = min(top + kh, h)
                            let out = yPlane + orow * ow
                            for q in Swift.stride(from: 0, to: owp, by: 16) {
                                var v = load16(rows + r0 * owp + q)
                                var ih = r0 + 1
                                while ih < r1 { v = R.combine(v, load16(rows + ih * owp + q)); ih += 1 }
                                if scaled { v *= rs[orow] * load16(cs.baseAddress! + q) }
                                store16(v, out + q, count: ow - q)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Average pooling's reciprocal divisors along one axis (see `Naive.avgPoolWindow`),
/// padded with zeros to `padTo` entries.
fileprivate func reciprocalCounts(outputs: Int, input: Int, kernel: Int, stride: Int, padding: Int,
                                  countIncludePad: Bool, padTo: Int) -> [Float] {
    var result = [Float](repeating: 0, count: max(padTo, outputs))
    for o in 0..<outputs {
        let count = Naive.avgPoolWindow(o, input: input, kernel: kernel, stride: stride, padding: padding,
                                        countIncludePad: countIncludePad).count
        result[o] = count > 0 ? 1 / Float(count) : 0
    }
    return result
}

extension Fast {
    /// Max pooling, the twin of ``Naive/maxPool2d(_:geometry:)``: separable row-max then
    /// column-max with SIMD over output columns, parallel over planes.
    public static func maxPool2d(_ x: [Float], geometry g: Pool2DGeometry) -> [Float] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "max_pool2d")
        return poolForwardColumnsFirst(MaxReduction.self, x, g)
    }

    /// The gradient of max pooling, twin of ``Naive/maxPool2dBackward(_:outputGradient:geometry:)``:
    /// each window's first maximum (row-major) receives its `dy`. The argmax of 16
    /// adjacent windows is found at once, on a copy of the plane padded with -infinity:
    /// a vector of the best values and a vector of their input indices, updated by
    /// compare-and-select (strictly greater, in the window's row-major order, so ties go to
    /// the first cell as in PyTorch); then each lane adds its dy at its index.
    public static func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry g: Pool2DGeometry) -> [Float] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "max_pool2d backward")
        checkCount(dy.count, equals: g.outputShape.count, "dy", in: "max_pool2d backward")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        let (kh, kw, sh, sw, ph, pw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                                        g.paddingHeight, g.paddingWidth)
        let planes = g.input.batch * g.input.channels
        let owp = roundUp16(ow)
        let rowLength = rowBufferLength(g)
        var lanes = SIMD16<Int32>()
        for i in 0..<16 { lanes[i] = Int32(i) }
        let laneOffsets = lanes
        var dx = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            dy.withUnsafeBufferPointer { dyb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    let (xp, dyp, dxp) = (xb.baseAddress!, dyb.baseAddress!, dxb.baseAddress!)
                    Parallelism.forEachChunk(planes) { _, range in
                        // The plane, each row padded with -infinity (borders written once).
                        let padded = UnsafeMutablePointer<Float>.allocate(capacity: h * rowLength)
                        padded.initialize(repeating: -.infinity, count: h * rowLength)
                        defer { padded.deallocate() }
                        for plane in range {
                            let xPlane = xp + plane * h * w, dxPlane = dxp + plane * h * w
                            let dyPlane = dyp + plane * oh * ow
                            for ih in 0..<h { (padded + ih * rowLength + pw).update(from: xPlane + ih * w, count: w) }
                            for orow in 0..<oh {
                                let top = orow * sh - ph
                                let r0 = max(top, 0), r1 = min(top + kh, h)
                                for q in Swift.stride(from: 0, to: owp, by: 16) {
                                    // Input column of window column 0, per lane; the first real
                                    // cell is the index a window of -infinity keeps (as PyTorch).
                                    let left = (laneOffsets &+ Int32(q)) &* Int32(sw) &- Int32(pw)
                                    var bestIndex = Int32(r0 * w) &+ left.replacing(with: 0, where: left .< 0)
                                    var best = V16(repeating: -.infinity)
                                    for ih in r0..<r1 {
                                        let row = padded + ih * rowLength
                                        let rowIndex = Int32(ih * w) &+ left
                                        for j in 0..<kw {
                                            let v: V16
                                            if sw == 1 {
                                                v = load16(row + q + j)
                                            } else if sw == 2 {
                                                v = loadEven16(row + 2 * q + j)
                                            } else {
                                                var gathered = V16()
                                                for i in 0..<16 { gathered[i] = row[(q + i) * sw + j] }
                                                v = gathered
                                            }
                                            let better = v .> best
                                            best.replace(with: v, where: better)
                                            bestIndex.replace(with: rowIndex &+ Int32(j), where: better)
                                        }
                                    }
                                    let gradients = dyPlane + orow * ow + q
                                    for i in 0..<min(16, ow - q) { dxPlane[Int(bestIndex[i])] += gradients[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Average pooling, the twin of ``Naive/avgPool2d(_:geometry:countIncludePad:)``:
    /// separable row sums then column sums, scaled by factorised reciprocal divisors.
    public static func avgPool2d(_ x: [Float], geometry g: Pool2DGeometry, countIncludePad: Bool) -> [Float] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "avg_pool2d")
        let rowScale = reciprocalCounts(outputs: g.outHeight, input: g.input.height, kernel: g.kernelHeight,
                                        stride: g.strideHeight, padding: g.paddingHeight,
                                        countIncludePad: countIncludePad, padTo: 0)
        let colScale = reciprocalCounts(outputs: g.outWidth, input: g.input.width, kernel: g.kernelWidth,
                                        stride: g.strideWidth, padding: g.paddingWidth,
                                        countIncludePad: countIncludePad, padTo: roundUp16(g.outWidth))
        return poolForwardRowsFirst(SumReduction.self, x, g, rowScale: rowScale, colScale: colScale)
    }

    /// The gradient of average pooling, twin of ``Naive/avgPool2dBackward(outputGradient:geometry:countIncludePad:)``:
    /// `dy / D` is spread down the window rows (SIMD over output columns), then along
    /// the window columns of each input row through a zero-padded row buffer.
    public static func avgPool2dBackward(outputGradient dy: [Float], geometry g: Pool2DGeometry,
                                         countIncludePad: Bool) -> [Float] {
        g.validate()
        checkCount(dy.count, equals: g.outputShape.count, "dy", in: "avg_pool2d backward")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        let (kh, kw, sh, sw, ph, pw) = (g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth,
                                        g.paddingHeight, g.paddingWidth)
        let planes = g.input.batch * g.input.channels
        let owp = roundUp16(ow)
        let bufferLength = rowBufferLength(g)
        let rowScale = reciprocalCounts(outputs: oh, input: h, kernel: kh, stride: sh, padding: ph,
                                        countIncludePad: countIncludePad, padTo: 0)
        let colScale = reciprocalCounts(outputs: ow, input: w, kernel: kw, stride: sw, padding: pw,
                                        countIncludePad: countIncludePad, padTo: owp)
        var dx = [Float](repeating: 0, count: g.input.count)
        dy.withUnsafeBufferPointer { dyb in
            dx.withUnsafeMutableBufferPointer { dxb in
                rowScale.withUnsafeBufferPointer { rs in
                    colScale.withUnsafeBufferPointer { cs in
                        let (dyp, dxp, csp) = (dyb.baseAddress!, dxb.baseAddress!, cs.baseAddress!)
                        Parallelism.forEachChunk(planes) { _, range in
                            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bufferLength)
                            let rows = UnsafeMutablePointer<Float>.allocate(capacity: h * owp)
                            let share = UnsafeMutablePointer<Float>.allocate(capacity: owp)
                            buffer.initialize(repeating: 0, count: bufferLength)
                            rows.initialize(repeating: 0, count: h * owp)
                            share.initialize(repeating: 0, count: owp)
                            defer { buffer.deallocate(); rows.deallocate(); share.deallocate() }
                            for plane in range {
                                let dyPlane = dyp + plane * oh * ow, dxPlane = dxp + plane * h * w
                                // Transposed column pass: rows[ih][q] = sum over output rows
                                // whose window holds ih of dy / D.
                                rows.update(repeating: 0, count: h * owp)
                                for orow in 0..<oh {
                                    share.update(from: dyPlane + orow * ow, count: ow)
                                    let top = orow * sh - ph
                                    let r0 = max(top, 0), r1 = min(top + kh, h)
                                    let scale = rs[orow]
                                    for q in Swift.stride(from: 0, to: owp, by: 16) {
                                        let v = load16(share + q) * load16(csp + q) * scale
                                        for ih in r0..<r1 { store16(load16(rows + ih * owp + q) + v, rows + ih * owp + q) }
                                    }
                                }
                                // Transposed row pass: spread each row result over its
                                // window's kw columns in the padded buffer, keep the real part.
                                for ih in 0..<h {
                                    buffer.update(repeating: 0, count: bufferLength)
                                    let source = rows + ih * owp
                                    if sw == 1 {
                                        for j in 0..<kw {
                                            for q in Swift.stride(from: 0, to: owp, by: 16) {
                                                store16(load16(buffer + q + j) + load16(source + q), buffer + q + j)
                                            }
                                        }
                                    } else {
                                        for q in 0..<ow {
                                            let v = source[q], target = buffer + q * sw
                                            for j in 0..<kw { target[j] += v }
                                        }
                                    }
                                    (dxPlane + ih * w).update(from: buffer + pw, count: w)
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Adaptive average pooling, twin of ``Naive/adaptiveAvgPool2d(_:input:outputSize:)``.
    /// Global pooling (1x1 output) is a SIMD sum per plane; other sizes are separable
    /// (row sums over each column window, then column sums over each row window).
    public static func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] {
        Naive.checkAdaptive(input: input, outputSize: outputSize, in: "adaptive_avg_pool2d")
        checkCount(x.count, equals: input.count, "x", in: "adaptive_avg_pool2d")
        let (h, w, oh, ow) = (input.height, input.width, outputSize.height, outputSize.width)
        let planes = input.batch * input.channels
        let rowWindows = (0..<oh).map { Naive.adaptiveWindow($0, input: h, output: oh) }
        let colWindows = (0..<ow).map { Naive.adaptiveWindow($0, input: w, output: ow) }
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                if oh == 1 && ow == 1 {
                    let n = h * w, inverse = 1 / Float(n)
                    Parallelism.forEach(planes) { plane in
                        let p = xp + plane * n
                        var acc = V16(), i = 0
                        while i + 16 <= n { acc += load16(p + i); i += 16 }
                        var sum = acc.sum()
                        while i < n { sum += p[i]; i += 1 }
                        yp[plane] = sum * inverse
                    }
                    return
                }
                Parallelism.forEachChunk(planes) { _, range in
                    let rows = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)
                    defer { rows.deallocate() }
                    for plane in range {
                        let xPlane = xp + plane * h * w, yPlane = yp + plane * oh * ow
                        for ih in 0..<h {
                            let row = xPlane + ih * w
                            for (q, cols) in colWindows.enumerated() {
                                var s: Float = 0
                                for iw in cols { s += row[iw] }
                                rows[ih * ow + q] = s
                            }
                        }
                        for (orow, window) in rowWindows.enumerated() {
                            let out = yPlane + orow * ow
                            for q in 0..<ow { out[q] = 0 }
                            for ih in window { for q in 0..<ow { out[q] += rows[ih * ow + q] } }
                            for q in 0..<ow { out[q] /= Float(window.count * colWindows[q].count) }
                        }
                    }
                }
            }
        }
        return y
    }

    /// The gradient of adaptive average pooling, twin of
    /// ``Naive/adaptiveAvgPool2dBackward(outputGradient:input:outputSize:)``.
    public static func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape,
                                                 outputSize: (height: Int, width: Int)) -> [Float] {
        Naive.checkAdaptive(input: input, outputSize: outputSize, in: "adaptive_avg_pool2d backward")
        let (h, w, oh, ow) = (input.height, input.width, outputSize.height, outputSize.width)
        let planes = input.batch * input.channels
        checkCount(dy.count, equals: planes * oh * ow, "dy", in: "adaptive_avg_pool2d backward")
        let rowWindows = (0..<oh).map { Naive.adaptiveWindow($0, input: h, output: oh) }
        let colWindows = (0..<ow).map { Naive.adaptiveWindow($0, input: w, output: ow) }
        var dx = [Float](repeating: 0, count: input.count)
        dy.withUnsafeBufferPointer { dyb in
            dx.withUnsafeMutableBufferPointer { dxb in
                let (dyp, dxp) = (dyb.baseAddress!, dxb.baseAddress!)
                if oh == 1 && ow == 1 {
                    let n = h * w, inverse = 1 / Float(n)
                    Parallelism.forEach(planes) { plane in
                        (dxp + plane * n).update(repeating: dyp[plane] * inverse, count: n)
                    }
                    return
                }
                Parallelism.forEachChunk(planes) { _, range in
                    let rows = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)
                    rows.initialize(repeating: 0, count: h * ow)
                    defer { rows.deallocate() }
                    for plane in range {
                        let dyPlane = dyp + plane * oh * ow, dxPlane = dxp + plane * h * w
                        // Transposed column pass: rows[ih][q] = sum of dy / D over output
                        // rows whose window holds ih.
                        rows.update(repeating: 0, count: h * ow)
                        for (orow, window) in rowWindows.enumerated() {
                            for q in 0..<ow {
                                let share = dyPlane[orow * ow + q] / Float(window.count * colWindows[q].count)
                                for ih in window { rows[ih * ow + q] += share }
                            }
                        }
                        // Transposed row pass.
                        for ih in 0..<h {
                            let row = dxPlane + ih * w
                            for (q, cols) in colWindows.enumerated() {
                                let v = rows[ih * ow + q]
                                for iw in cols { row[iw] += v }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
