import Foundation

extension Naive {
    /// Rectified linear unit, elementwise: `y[i] = max(x[i], 0)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func relu<T: BinaryFloatingPoint>(_ x: [T]) -> [T] {
        var y = [T](repeating: 0, count: x.count)
        for i in x.indices {                       // every element on its own
            y[i] = x[i] > 0 ? x[i] : 0
        }
        return y
    }

    /// Gradient of `L = sum(relu(x) * dy)`: `dx[i] = dy[i]` where `x[i] > 0`, else 0
    /// (PyTorch's choice: the gradient at exactly 0 is 0).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func reluBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] {
        checkCount(dy.count, equals: x.count, "dy", in: "reluBackward")
        var dx = [T](repeating: 0, count: x.count)
        for i in x.indices {
            dx[i] = x[i] > 0 ? dy[i] : 0           // d relu / dx = 1 on x > 0, 0 elsewhere
        }
        return dx
    }

    /// Hyperbolic tangent, elementwise: `y[i] = tanh(x[i])`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func tanh<T: BinaryFloatingPoint>(_ x: [T]) -> [T] {
        var y = [T](repeating: 0, count: x.count)
        for i in x.indices {
            y[i] = T(Foundation.tanh(Double(x[i])))
        }
        return y
    }

    /// Gradient of `L = sum(tanh(x) * dy)`: `dx[i] = dy[i] * (1 - tanh(x[i])^2)`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func tanhBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] {
        checkCount(dy.count, equals: x.count, "dy", in: "tanhBackward")
        var dx = [T](repeating: 0, count: x.count)
        for i in x.indices {
            let t = Foundation.tanh(Double(x[i]))
            dx[i] = dy[i] * T(1 - t * t)            // d tanh / dx = 1 - tanh^2
        }
        return dx
    }

    /// Logistic sigmoid, elementwise: `y[i] = 1 / (1 + e^(-x[i]))`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func sigmoid<T: BinaryFloatingPoint>(_ x: [T]) -> [T] {
        var y = [T](repeating: 0, count: x.count)
        for i in x.indices {
            y[i] = T(1 / (1 + Foundation.exp(-Double(x[i]))))
        }
        return y
    }

    /// Gradient of `L = sum(sigmoid(x) * dy)`: `dx[i] = dy[i] * s (1 - s)`, `s = sigmoid(x[i])`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func sigmoidBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] {
        checkCount(dy.count, equals: x.count, "dy", in: "sigmoidBackward")
        var dx = [T](repeating: 0, count: x.count)
        for i in x.indices {
            let s = 1 / (1 + Foundation.exp(-Double(x[i])))
            dx[i] = dy[i] * T(s * (1 - s))          // d sigmoid / dx = s (1 - s)
        }
        return dx
    }
}
