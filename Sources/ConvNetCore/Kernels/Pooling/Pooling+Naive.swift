// The reference pooling kernels: max, average and adaptive average pooling, forward and
// backward, with PyTorch's rules for padding, ceil mode and the averaging divisor.

extension Naive {
    /// Max pooling (`torch.nn.functional.max_pool2d`).
    ///
    /// `x` is `[N, C, H, W]` (`geometry.input`), the result `[N, C, OH, OW]`
    /// (`geometry.outputShape`):
    ///
    ///     y[n, c, oh, ow] = max_{i < kh, j < kw} x[n, c, oh*sh - ph + i, ow*sw - pw + j]
    ///
    /// over the cells of the window that lie inside the input: padding cells never win
    /// (they count as -infinity). In ceil mode the last window may hang over the bottom or
    /// right edge; it is clipped the same way. A NaN in a window wins, as in PyTorch.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func maxPool2d<T: BinaryFloatingPoint>(_ x: [T], geometry g: Pool2DGeometry) -> [T] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "max_pool2d")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        var y = [T](repeating: 0, count: g.outputShape.count)
        for plane in 0..<(g.input.batch * g.input.channels) {       // each (n, c)
            for r in 0..<oh {                                         // output row
                for q in 0..<ow {                                     // output column
                    let index = maxPoolArgmax(x, plane: plane, row: r, column: q, geometry: g)
                    y[(plane * oh + r) * ow + q] = x[plane * h * w + index]
                }
            }
        }
        return y
    }

    /// The gradient of ``maxPool2d(_:geometry:)`` with respect to `x`: each output's
    /// upstream gradient goes to the cell that won its window,
    ///
    ///     dx[n, c, ih, iw] = sum over windows whose argmax is (ih, iw) of dy[n, c, oh, ow].
    ///
    /// The winner is the first maximum in row-major scan order of the window (strictly
    /// greater replaces), so among tied cells the top-left one gets the gradient, as in
    /// PyTorch. `dy` is `[N, C, OH, OW]`, the result `[N, C, H, W]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func maxPool2dBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T],
                                                                 geometry g: Pool2DGeometry) -> [T] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "max_pool2d backward")
        checkCount(dy.count, equals: g.outputShape.count, "dy", in: "max_pool2d backward")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        var dx = [T](repeating: 0, count: x.count)
        for plane in 0..<(g.input.batch * g.input.channels) {       // each (n, c)
            for r in 0..<oh {                                         // output row
                for q in 0..<ow {                                     // output column
                    let index = maxPoolArgmax(x, plane: plane, row: r, column: q, geometry: g)
                    dx[plane * h * w + index] += dy[(plane * oh + r) * ow + q]
                }
            }
        }
        return dx
    }

    /// The offset `ih * W + iw` inside its plane of the winning cell of one window: the
    /// first maximum of the window's real cells in row-major order (a NaN wins).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func maxPoolArgmax<T: BinaryFloatingPoint>(_ x: [T], plane: Int, row r: Int, column q: Int,
                                                      geometry g: Pool2DGeometry) -> Int {
        let (h, w) = (g.input.height, g.input.width)
        let top = r * g.strideHeight - g.paddingHeight       // window origin, may be negative
        let left = q * g.strideWidth - g.paddingWidth
        var best = -T.infinity
        var bestIndex = max(top, 0) * w + max(left, 0)        // PyTorch's initial index
        for i in 0..<g.kernelHeight {                          // window row
            let ih = top + i
            if ih < 0 || ih >= h { continue }                  // padding never wins
            for j in 0..<g.kernelWidth {                       // window column
                let iw = left + j
                if iw < 0 || iw >= w { continue }
                let v = x[plane * h * w + ih * w + iw]
                if v > best || v.isNaN {                       // strictly greater: first max wins
                    best = v
                    bestIndex = ih * w + iw
                    if v.isNaN { return bestIndex }
                }
            }
        }
        return bestIndex
    }

    /// The window of output `o` along one axis, as PyTorch's average pooling computes it:
    /// the real cells `[start, end)` (clipped to `0..<input`) and the divisor contribution
    /// along this axis (`countIncludePad`: the window clipped to the padded extent
    /// `input + padding`, which counts padding cells but not the overhang of a ceil-mode
    /// window; otherwise only the real cells).
    static func avgPoolWindow(_ o: Int, input: Int, kernel: Int, stride: Int, padding: Int,
                              countIncludePad: Bool) -> (start: Int, end: Int, count: Int) {
        let start = o * stride - padding
        let paddedEnd = min(start + kernel, input + padding)
        let clippedStart = max(start, 0), clippedEnd = min(paddedEnd, input)
        return (clippedStart, clippedEnd, countIncludePad ? paddedEnd - start : max(clippedEnd - clippedStart, 0))
    }

    /// Average pooling (`torch.nn.functional.avg_pool2d`, no divisor override).
    ///
    /// `x` is `[N, C, H, W]`, the result `[N, C, OH, OW]`:
    ///
    ///     y[n, c, oh, ow] = (1 / D) * sum_{real cells (ih, iw) of the window} x[n, c, ih, iw]
    ///
    /// where the window starts at `(oh*sh - ph, ow*sw - pw)`. PyTorch's divisor `D`: with
    /// `countIncludePad` it is the window clipped to the padded input (input plus padding
    /// on both sides), `D = (min(hs + kh, H + ph) - hs) * (min(ws + kw, W + pw) - ws)`, so
    /// padding cells count but the overhang of a ceil-mode window does not; without it,
    /// `D` is the number of real input cells in the window. Padding contributes zeros.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func avgPool2d<T: BinaryFloatingPoint>(_ x: [T], geometry g: Pool2DGeometry,
                                                         countIncludePad: Bool) -> [T] {
        g.validate()
        checkCount(x.count, equals: g.input.count, "x", in: "avg_pool2d")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        var y = [T](repeating: 0, count: g.outputShape.count)
        for plane in 0..<(g.input.batch * g.input.channels) {       // each (n, c)
            for r in 0..<oh {                                         // output row
                let rows = avgPoolWindow(r, input: h, kernel: g.kernelHeight, stride: g.strideHeight,
                                         padding: g.paddingHeight, countIncludePad: countIncludePad)
                for q in 0..<ow {                                     // output column
                    let cols = avgPoolWindow(q, input: w, kernel: g.kernelWidth, stride: g.strideWidth,
                                             padding: g.paddingWidth, countIncludePad: countIncludePad)
                    var sum: T = 0
                    for ih in rows.start..<max(rows.end, rows.start) {       // real rows of the window
                        for iw in cols.start..<max(cols.end, cols.start) {   // real columns
                            sum += x[(plane * h + ih) * w + iw]
                        }
                    }
                    let divisor = rows.count * cols.count
                    y[(plane * oh + r) * ow + q] = divisor > 0 ? sum / T(divisor) : 0
                }
            }
        }
        return y
    }

    /// The gradient of ``avgPool2d(_:geometry:countIncludePad:)`` with respect to `x`:
    /// every real cell of a window receives `dy / D` of that window,
    ///
    ///     dx[n, c, ih, iw] = sum_{windows (oh, ow) containing (ih, iw)} dy[n, c, oh, ow] / D(oh, ow).
    ///
    /// `dy` is `[N, C, OH, OW]`, the result `[N, C, H, W]` (`geometry.input`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func avgPool2dBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], geometry g: Pool2DGeometry,
                                                                 countIncludePad: Bool) -> [T] {
        g.validate()
        checkCount(dy.count, equals: g.outputShape.count, "dy", in: "avg_pool2d backward")
        let (h, w, oh, ow) = (g.input.height, g.input.width, g.outHeight, g.outWidth)
        var dx = [T](repeating: 0, count: g.input.count)
        for plane in 0..<(g.input.batch * g.input.channels) {       // each (n, c)
            for r in 0..<oh {                                         // output row
                let rows = avgPoolWindow(r, input: h, kernel: g.kernelHeight, stride: g.strideHeight,
                                         padding: g.paddingHeight, countIncludePad: countIncludePad)
                for q in 0..<ow {                                     // output column
                    let cols = avgPoolWindow(q, input: w, kernel: g.kernelWidth, stride: g.strideWidth,
                                             padding: g.paddingWidth, countIncludePad: countIncludePad)
                    let divisor = rows.count * cols.count
                    if divisor == 0 { continue }
                    let share = dy[(plane * oh + r) * ow + q] / T(divisor)
                    for ih in rows.start..<max(rows.end, rows.start) {       // real rows of the window
                        for iw in cols.start..<max(cols.end, cols.start) {   // real columns
                            dx[(plane * h + ih) * w + iw] += share
                        }
                    }
                }
            }
        }
        return dx
    }

    /// The window of output `i` of an adaptive pool along one axis:
    /// `[floor(i * input / output), ceil((i + 1) * input / output))`.
    static func adaptiveWindow(_ i: Int, input: Int, output: Int) -> Range<Int> {
        (i * input / output)..<(((i + 1) * input + output - 1) / output)
    }

    static func checkAdaptive(input: FeatureMapShape, outputSize: (height: Int, width: Int), in op: String) {
        precondition([input.batch, input.channels, input.height, input.width].allSatisfy { $0 > 0 }
                        && outputSize.height > 0 && outputSize.width > 0,
                     "\(op): input \(input) and output size \(outputSize.height)x\(outputSize.width) must be positive")
    }

    /// Adaptive average pooling (`torch.nn.functional.adaptive_avg_pool2d`): the output
    /// has a fixed size `[N, C, oh, ow]` whatever the input `[N, C, H, W]`; output cell
    /// `(i, j)` is the mean of the rows `[floor(i*H/oh), ceil((i+1)*H/oh))` and the columns
    /// `[floor(j*W/ow), ceil((j+1)*W/ow))`. Windows may overlap when the sizes do not divide.
    /// With `outputSize == (1, 1)` it is global average pooling.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func adaptiveAvgPool2d<T: BinaryFloatingPoint>(_ x: [T], input: FeatureMapShape,
                                                                 outputSize: (height: Int, width: Int)) -> [T] {
        checkAdaptive(input: input, outputSize: outputSize, in: "adaptive_avg_pool2d")
        checkCount(x.count, equals: input.count, "x", in: "adaptive_avg_pool2d")
        let (h, w, oh, ow) = (input.height, input.width, outputSize.height, outputSize.width)
        var y = [T](repeating: 0, count: input.batch * input.channels * oh * ow)
        for plane in 0..<(input.batch * input.channels) {           // each (n, c)
            for r in 0..<oh {                                         // output row
                let rows = adaptiveWindow(r, input: h, output: oh)
                for q in 0..<ow {                                     // output column
                    let cols = adaptiveWindow(q, input: w, output: ow)
                    var sum: T = 0
                    for ih in rows { for iw in cols { sum += x[(plane * h + ih) * w + iw] } }
                    y[(plane * oh + r) * ow + q] = sum / T(rows.count * cols.count)
                }
            }
        }
        return y
    }

    /// The gradient of ``adaptiveAvgPool2d(_:input:outputSize:)``: each cell of window
    /// `(i, j)` receives `dy[i, j] / (window rows * window columns)`. `dy` is
    /// `[N, C, oh, ow]`, the result `[N, C, H, W]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func adaptiveAvgPool2dBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], input: FeatureMapShape,
                                                                         outputSize: (height: Int, width: Int)) -> [T] {
        checkAdaptive(input: input, outputSize: outputSize, in: "adaptive_avg_pool2d backward")
        let (h, w, oh, ow) = (input.height, input.width, outputSize.height, outputSize.width)
        checkCount(dy.count, equals: input.batch * input.channels * oh * ow, "dy", in: "adaptive_avg_pool2d backward")
        var dx = [T](repeating: 0, count: input.count)
        for plane in 0..<(input.batch * input.channels) {           // each (n, c)
            for r in 0..<oh {                                         // output row
                let rows = adaptiveWindow(r, input: h, output: oh)
                for q in 0..<ow {                                     // output column
                    let cols = adaptiveWindow(q, input: w, output: ow)
                    let share = dy[(plane * oh + r) * ow + q] / T(rows.count * cols.count)
                    for ih in rows { for iw in cols { dx[(plane * h + ih) * w + iw] += share } }
                }
            }
        }
        return dx
    }
}
