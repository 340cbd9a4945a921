import ConvNetCore

// The fast 2x2 average pooling: SIMD across output columns, threads across planes.
//
// The trick. An output row i needs input rows 2i and 2i+1, which are contiguous in
// memory. Load 16 adjacent floats from each (columns 2j ..< 2j+16), add them (the
// vertical half of every window at once), then add the even lanes to the odd lanes (the
// horizontal half: `evenHalf + oddHalf` is one shuffle and one add) and multiply by 1/4:
// eight outputs for two loads, one add, one shuffle-add and one multiply, no index
// arithmetic per element. LeNet's rows are short (14 and 5 outputs), so a row ends with a
// 4-wide step and then single outputs: 14 = 8 + 4 + 2, 5 = 4 + 1.
//
// The backward pass is the same walk in reverse: a quarter of eight upstream gradients
// is duplicated lane by lane (d0 d0 d1 d1 ... d7 d7) and stored into both input rows.
//
// The naive loops compute the same sums with four indexed loads per output; on LeNet's
// sizes this is a few times faster. Pooling is a small part of LeNet's time either way:
// it has no multiplies to speak of, only memory to move.

fileprivate typealias V16 = SIMD16<Float>
fileprivate typealias V8 = SIMD8<Float>
fileprivate typealias V4 = SIMD4<Float>

/// Below this many input elements one thread does all the work (waking a thread costs
/// more than pooling a small tensor).
fileprivate let parallelThreshold = 1 << 15

/// Runs `body(planes)` over the `count` planes, on several threads when the tensor is large.
fileprivate func forEachPlaneRun(_ count: Int, elements: Int, _ body: (Range<Int>) -> Void) {
    if elements < parallelThreshold {
        body(0..<count)
    } else {
        Parallelism.forEachChunk(count) { _, planes in body(planes) }
    }
}

/// One output row: `out[j] = (top[2j] + top[2j+1] + bottom[2j] + bottom[2j+1]) / 4` for `j < ow`.
@inline(__always)
fileprivate func poolRow(_ top: UnsafePointer<Float>, _ bottom: UnsafePointer<Float>,
                         _ out: UnsafeMutablePointer<Float>, outputs ow: Int) {
    var j = 0
    while j + 8 <= ow {                       // eight outputs from sixteen columns of two rows
        let s = load16(top + 2 * j) + load16(bottom + 2 * j)
        store8((s.evenHalf + s.oddHalf) * 0.25, out + j)
        j += 8
    }
    if j + 4 <= ow {                          // four outputs
        let s = load8(top + 2 * j) + load8(bottom + 2 * j)
        store4((s.evenHalf + s.oddHalf) * 0.25, out + j)
        j += 4
    }
    while j < ow {                            // the last few, one at a time
        out[j] = (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]) * 0.25
        j += 1
    }
}

/// One output row backwards: `top[2j] = top[2j+1] = bottom[2j] = bottom[2j+1] = dy[j] / 4`.
@inline(__always)
fileprivate func unpoolRow(_ dy: UnsafePointer<Float>, _ top: UnsafeMutablePointer<Float>,
                           _ bottom: UnsafeMutablePointer<Float>, outputs ow: Int) {
    var j = 0
    while j + 8 <= ow {
        let d = load8(dy + j) * 0.25
        let pairs = V16(d[0], d[0], d[1], d[1], d[2], d[2], d[3], d[3],
                        d[4], d[4], d[5], d[5], d[6], d[6], d[7], d[7])
        store16(pairs, top + 2 * j)
        store16(pairs, bottom + 2 * j)
        j += 8
    }
    if j + 4 <= ow {
        let d = load4(dy + j) * 0.25
        let pairs = V8(d[0], d[0], d[1], d[1], d[2], d[2], d[3], d[3])
        store8(pairs, top + 2 * j)
        store8(pairs, bottom + 2 * j)
        j += 4
    }
    while j < ow {
        let d = dy[j] * 0.25
        top[2 * j] = d; top[2 * j + 1] = d
        bottom[2 * j] = d; bottom[2 * j + 1] = d
        j += 1
    }
}

extension Fast {
    /// 2x2 average pooling with stride 2, the twin of ``Naive/averagePooling2x2(_:shape:)``.
    public static func averagePooling2x2(_ x: [Float], shape s: FeatureMapShape) -> [Float] {
        checkCount(x.count, equals: s.count, "x \(s)", in: "2x2 average pooling")
        precondition(s.height >= 2 && s.width >= 2, "2x2 average pooling: the input \(s) is smaller than the window")
        let (h, w, oh, ow) = (s.height, s.width, s.height / 2, s.width / 2)
        let planes = s.batch * s.channels
        return [Float](unsafeUninitializedCapacity: planes * oh * ow) { y, initialized in
            x.withUnsafeBufferPointer { x in
                let (x, y) = (x.baseAddress!, y.baseAddress!)
                forEachPlaneRun(planes, elements: s.count) { range in
                    for plane in range {
                        let input = x + plane * h * w, output = y + plane * oh * ow
                        for i in 0..<oh {
                            let top = input + 2 * i * w
                            poolRow(top, top + w, output + i * ow, outputs: ow)
                        }
                    }
                }
            }
            initialized = planes * oh * ow
        }
    }

    /// The gradient of 2x2 average pooling, the twin of
    /// ``Naive/averagePooling2x2Backward(outputGradient:shape:)``.
    public static func averagePooling2x2Backward(outputGradient dy: [Float], shape s: FeatureMapShape) -> [Float] {
        let (h, w, oh, ow) = (s.height, s.width, s.height / 2, s.width / 2)
        let planes = s.batch * s.channels
        checkCount(dy.count, equals: planes * oh * ow,
                   "output gradient [\(s.batch), \(s.channels), \(oh), \(ow)]", in: "2x2 average pooling backward")
        // Every cell of a window is written; only an odd last row or column needs the zeros.
        var dx = [Float](repeating: 0, count: s.count)
        dy.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { dx in
                let (dy, dx) = (dy.baseAddress!, dx.baseAddress!)
                forEachPlaneRun(planes, elements: s.count) { range in
                    for plane in range {
                        let gradient = dy + plane * oh * ow, input = dx + plane * h * w
                        for i in 0..<oh {
                            let top = input + 2 * i * w
                            unpoolRow(gradient + i * ow, top, top + w, outputs: ow)
                        }
                    }
                }
            }
        }
        return dx
    }
}
