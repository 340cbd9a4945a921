extension Naive {
    /// Inverted dropout with a given keep mask, as PyTorch's `F.dropout` in training:
    /// `y[i] = x[i] * keep[i] / (1 - p)`, so the expected value of every unit is
    /// unchanged and inference needs no rescaling. `p == 1` drops everything (y = 0).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func dropout<T: BinaryFloatingPoint>(_ x: [T], keepMask: [Bool], probability: T) -> [T] {
        checkCount(keepMask.count, equals: x.count, "keepMask", in: "dropout")
        checkDropoutProbability(probability)
        var y = [T](repeating: 0, count: x.count)
        if probability == 1 { return y }                 // nothing kept, no 1/0
        let scale = 1 / (1 - probability)
        for i in x.indices {
            let keep: T = keepMask[i] ? 1 : 0
            y[i] = x[i] * keep * scale                   // kept units are scaled up
        }
        return y
    }

    /// Gradient of `L = sum(dropout(x) * dy)`: the same mask and scale applied to dy,
    /// `dx[i] = dy[i] * keep[i] / (1 - p)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func dropoutBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], keepMask: [Bool], probability: T) -> [T] {
        checkCount(keepMask.count, equals: dy.count, "keepMask", in: "dropoutBackward")
        checkDropoutProbability(probability)
        var dx = [T](repeating: 0, count: dy.count)
        if probability == 1 { return dx }
        let scale = 1 / (1 - probability)
        for i in dy.indices {
            let keep: T = keepMask[i] ? 1 : 0
            dx[i] = dy[i] * keep * scale
        }
        return dx
    }
}
