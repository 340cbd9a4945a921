extension Naive {
    /// Fully connected layer, PyTorch's `nn.Linear`: x is `[N, I]`, weight `[O, I]`,
    /// bias `[O]` (or none), y is `[N, O]` with
    /// `y[n, o] = b[o] + sum_i x[n, i] * W[o, i]`, i.e. `y = x W^T + b`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func linear<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [T] {
        checkLinear(x: x.count, weight: weight.count, bias: bias?.count, batch: batch,
                    inFeatures: inFeatures, outFeatures: outFeatures)
        var y = [T](repeating: 0, count: batch * outFeatures)
        for n in 0..<batch {                          // each sample
            for o in 0..<outFeatures {                // each output unit
                var sum: T = bias?[o] ?? 0            // b[o]
                for i in 0..<inFeatures {             // + sum_i x[n, i] W[o, i]
                    sum += x[n * inFeatures + i] * weight[o * inFeatures + i]
                }
                y[n * outFeatures + o] = sum
            }
        }
        return y
    }

    /// Gradients of `L = sum(y * dy)` for `y = x W^T + b` (dy is `[N, O]`):
    /// `dx = dy W` (`[N, I]`), `dW = dy^T x` (`[O, I]`), `db[o] = sum_n dy[n, o]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func linearBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [T], weight: [T], bias: [T]) {
        checkLinear(x: x.count, weight: weight.count, bias: nil, batch: batch,
                    inFeatures: inFeatures, outFeatures: outFeatures)
        checkCount(dy.count, equals: batch * outFeatures, "dy", in: "linearBackward")
        var dx = [T](repeating: 0, count: batch * inFeatures)
        var dw = [T](repeating: 0, count: outFeatures * inFeatures)
        var db = [T](repeating: 0, count: outFeatures)
        // dx[n, i] = sum_o dy[n, o] W[o, i]
        for n in 0..<batch {
            for i in 0..<inFeatures {
                var sum: T = 0
                for o in 0..<outFeatures {
                    sum += dy[n * outFeatures + o] * weight[o * inFeatures + i]
                }
                dx[n * inFeatures + i] = sum
            }
        }
        // dW[o, i] = sum_n dy[n, o] x[n, i]
        for o in 0..<outFeatures {
            for i in 0..<inFeatures {
                var sum: T = 0
                for n in 0..<batch {
                    sum += dy[n * outFeatures + o] * x[n * inFeatures + i]
                }
                dw[o * inFeatures + i] = sum
            }
        }
        // db[o] = sum_n dy[n, o]
        for o in 0..<outFeatures {
            var sum: T = 0
            for n in 0..<batch {
                sum += dy[n * outFeatures + o]
            }
            db[o] = sum
        }
        return (dx, dw, db)
    }
}

/// The shape checks of a linear layer, naming the argument and both counts.
func checkLinear(x: Int, weight: Int, bias: Int?, batch: Int, inFeatures: Int, outFeatures: Int) {
    precondition(batch >= 0 && inFeatures >= 0 && outFeatures >= 0,
                 "linear: negative size (batch \(batch), in \(inFeatures), out \(outFeatures))")
    checkCount(x, equals: batch * inFeatures, "x [\(batch), \(inFeatures)]", in: "linear")
    checkCount(weight, equals: outFeatures * inFeatures, "weight [\(outFeatures), \(inFeatures)]", in: "linear")
    if let bias { checkCount(bias, equals: outFeatures, "bias [\(outFeatures)]", in: "linear") }
}
