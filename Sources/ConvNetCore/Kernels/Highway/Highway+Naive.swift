import Foundation

// The highway layer's combination (Srivastava, Greff and Schmidhuber 2015), elementwise:
//
//     T = sigmoid(g)                    the transform gate, from its pre-activation g = W_T x + b_T
//     y = H(x) * T + x * (1 - T)        H(x) = the layer's transform (ReLU(W_H x + b_H) here)
//
// With T = 0 the layer is the identity (y = x); with T = 1 it is the plain layer (y = H).
// The gradients of L = sum(y * dy), element by element:
//
//     dL/dx (the carry path only)  = dy * (1 - T)
//     dL/dH                        = dy * T
//     dL/dg                        = dy * (H - x) * T * (1 - T)      (sigmoid' = T (1 - T))
//
// (x also feeds H and g through W_H and W_T; those paths are the Linear layers' backward.)

extension Naive {
    /// `y = h * T + x * (1 - T)` with `T = sigmoid(gate)`, elementwise; `x`, `h` (the
    /// transform H(x)) and `gate` (the gate's pre-activation) have the same count, any shape
    /// (`[N, features]` in a fully connected highway net).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func highway<T: BinaryFloatingPoint>(_ x: [T], transform h: [T], gate: [T]) -> [T] {
        checkCount(h.count, equals: x.count, "transform", in: "highway")
        checkCount(gate.count, equals: x.count, "gate", in: "highway")
        var y = [T](repeating: 0, count: x.count)
        for i in x.indices {
            let t = T(1 / (1 + Foundation.exp(-Double(gate[i]))))   // the transform gate
            y[i] = h[i] * t + x[i] * (1 - t)                          // transform + carry
        }
        return y
    }

    /// The gradients of `L = sum(highway(x, h, gate) * dy)` with respect to the carried
    /// input `x`, the transform `h` and the gate's pre-activation `gate` (formulas above).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func highwayBackward<T: BinaryFloatingPoint>(_ x: [T], transform h: [T], gate: [T], outputGradient dy: [T])
        -> (input: [T], transform: [T], gate: [T]) {
        checkCount(h.count, equals: x.count, "transform", in: "highwayBackward")
        checkCount(gate.count, equals: x.count, "gate", in: "highwayBackward")
        checkCount(dy.count, equals: x.count, "dy", in: "highwayBackward")
        var dx = [T](repeating: 0, count: x.count), dh = dx, dg = dx
        for i in x.indices {
            let t = T(1 / (1 + Foundation.exp(-Double(gate[i]))))
            dx[i] = dy[i] * (1 - t)                          // through the carry gate
            dh[i] = dy[i] * t                                // through the transform gate
            dg[i] = dy[i] * (h[i] - x[i]) * t * (1 - t)      // through the gate itself
        }
        return (dx, dh, dg)
    }
}
