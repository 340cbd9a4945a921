import ConvNetCore

// LeNet's subsampling layers S2 and S4: 2x2 average pooling with stride 2 (f = 2, s = 2,
// no padding), which halves n_H and n_W and keeps n_C:
//
//     n_H' = floor((n_H - f) / s) + 1 = floor(n_H / 2)       28x28x6 -> 14x14x6, 10x10x16 -> 5x5x16
//
// It has no parameters to learn (the 1998 paper's S layers also had a trainable
// coefficient and bias per map; the modern reading, and this course, drop them). This
// file is the definition; its fast twin is AveragePooling2x2+Fast.swift. Both must agree
// with the core's general `Naive.avgPool2d` and with PyTorch's `avg_pool2d(x, 2, 2)`.
// An odd row or column at the bottom or right is dropped, as PyTorch does (floor).

extension Naive {
    /// 2x2 average pooling, stride 2: `x` is `[m, n_C, n_H, n_W]`, the result
    /// `[m, n_C, n_H / 2, n_W / 2]` (rounded down):
    ///
    ///     y[n, c, i, j] = (x[n, c, 2i, 2j] + x[n, c, 2i, 2j+1] + x[n, c, 2i+1, 2j] + x[n, c, 2i+1, 2j+1]) / 4
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func averagePooling2x2<T: BinaryFloatingPoint>(_ x: [T], shape s: FeatureMapShape) -> [T] {
        checkCount(x.count, equals: s.count, "x \(s)", in: "2x2 average pooling")
        precondition(s.height >= 2 && s.width >= 2, "2x2 average pooling: the input \(s) is smaller than the window")
        let (oh, ow) = (s.height / 2, s.width / 2)
        var y = [T](repeating: 0, count: s.batch * s.channels * oh * ow)
        for n in 0..<s.batch {                                  // n: image
            for c in 0..<s.channels {                           // c: channel (pooled on its own)
                for i in 0..<oh {                               // i: output row
                    for j in 0..<ow {                           // j: output column
                        var sum: T = 0
                        for u in 0..<2 {                        // u: window row
                            for v in 0..<2 {                    // v: window column
                                sum += x[((n * s.channels + c) * s.height + 2 * i + u) * s.width + 2 * j + v]
                            }
                        }
                        y[((n * s.channels + c) * oh + i) * ow + j] = sum / 4
                    }
                }
            }
        }
        return y
    }

    /// The gradient of ``averagePooling2x2(_:shape:)`` with respect to `x`: each input of
    /// a window receives a quarter of that window's upstream gradient (a dropped odd row or
    /// column receives nothing),
    ///
    ///     dx[n, c, 2i + u, 2j + v] = dy[n, c, i, j] / 4      for u, v in {0, 1}.
    ///
    /// `dy` is `[m, n_C, n_H / 2, n_W / 2]`; `shape` is the input's.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func averagePooling2x2Backward<T: BinaryFloatingPoint>(outputGradient dy: [T],
                                                                         shape s: FeatureMapShape) -> [T] {
        let (oh, ow) = (s.height / 2, s.width / 2)
        checkCount(dy.count, equals: s.batch * s.channels * oh * ow,
                   "output gradient [\(s.batch), \(s.channels), \(oh), \(ow)]", in: "2x2 average pooling backward")
        var dx = [T](repeating: 0, count: s.count)
        for n in 0..<s.batch {                                  // n: image
            for c in 0..<s.channels {                           // c: channel
                for i in 0..<oh {                               // i: output row
                    for j in 0..<ow {                           // j: output column
                        let share = dy[((n * s.channels + c) * oh + i) * ow + j] / 4
                        for u in 0..<2 {                        // u: window row
                            for v in 0..<2 {                    // v: window column
                                dx[((n * s.channels + c) * s.height + 2 * i + u) * s.width + 2 * j + v] += share
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
