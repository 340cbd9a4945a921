// Fast highway combination, forward and backward.
//
// Trick: one fused pass per chunk of 16-float vectors. The naive twin computes the gate in
// Double through the C library's exp, one element at a time; here each chunk's gates are
// computed first by the vectorised polynomial sigmoid of VectorMath.swift (one call per
// chunk, straight into the output or a small stack-sized scratch that stays in L1), then
// y = x + T (h - x) (one fused multiply-add per lane) runs over the same cache-resident
// chunk. Backward recomputes T the same way instead of storing it, and writes all three
// gradients in the one pass. Large arrays run their chunks on several threads.

extension Fast {
    /// `y = h * T + x * (1 - T)`, `T = sigmoid(gate)`; same counts.
    public static func highway(_ x: [Float], transform h: [Float], gate: [Float]) -> [Float] {
        checkCount(h.count, equals: x.count, "transform", in: "highway")
        checkCount(gate.count, equals: x.count, "gate", in: "highway")
        let n = x.count
        if n == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            x.withUnsafeBufferPointer { x in
                h.withUnsafeBufferPointer { h in
                    gate.withUnsafeBufferPointer { g in
                        let px = x.baseAddress!, ph = h.baseAddress!, pg = g.baseAddress!, py = out.baseAddress!
                        ElementwiseLoops.chunks(n) { start, end in
                            VectorMath.sigmoid(pg + start, py + start, count: end - start)   // y holds T for now
                            var i = start
                            while i + 16 <= end {
                                let t = load16(py + i), xv = load16(px + i)
                                store16(xv + t * (load16(ph + i) - xv), py + i)              // x + T (h - x)
                                i += 16
                            }
                            while i < end { py[i] = px[i] + py[i] * (ph[i] - px[i]); i += 1 }
                        }
                    }
                }
            }
            initialized = n
        }
    }

    /// dL/dx = dy (1 - T), dL/dh = dy T, dL/dgate = dy (h - x) T (1 - T).
    public static func highwayBackward(_ x: [Float], transform h: [Float], gate: [Float], outputGradient dy: [Float])
        -> (input: [Float], transform: [Float], gate: [Float]) {
        checkCount(h.count, equals: x.count, "transform", in: "highwayBackward")
        checkCount(gate.count, equals: x.count, "gate", in: "highwayBackward")
        checkCount(dy.count, equals: x.count, "dy", in: "highwayBackward")
        let n = x.count
        var dx = [Float](repeating: 0, count: n), dh = dx, dg = dx
        if n == 0 { return (dx, dh, dg) }
        x.withUnsafeBufferPointer { x in
            h.withUnsafeBufferPointer { h in
                gate.withUnsafeBufferPointer { g in
                    dy.withUnsafeBufferPointer { dy in
                        dx.withUnsafeMutableBufferPointer { dx in
                            dh.withUnsafeMutableBufferPointer { dh in
                                dg.withUnsafeMutableBufferPointer { dg in
                                    let px = x.baseAddress!, ph = h.baseAddress!, pg = g.baseAddress!, pdy = dy.baseAddress!
                                    let pdx = dx.baseAddress!, pdh = dh.baseAddress!, pdg = dg.baseAddress!
                                    ElementwiseLoops.chunks(n) { start, end in
                                        VectorMath.sigmoid(pg + start, pdh + start, count: end - start)   // dh holds T for now
                                        var i = start
                                        while i + 16 <= end {
                                            let t = load16(pdh + i), d = load16(pdy + i)
                                            let dt = d * t, oneMinusT = 1 - t
                                            store16(d - dt, pdx + i)
                                            store16(dt, pdh + i)
                                            store16(dt * oneMinusT * (load16(ph + i) - load16(px + i)), pdg + i)
                                            i += 16
                                        }
                                        while i < end {
                                            let t = pdh[i], d = pdy[i]
                                            pdx[i] = d - d * t
                                            pdh[i] = d * t
                                            pdg[i] = d * t * (1 - t) * (ph[i] - px[i])
                                            i += 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dh, dg)
    }
}
