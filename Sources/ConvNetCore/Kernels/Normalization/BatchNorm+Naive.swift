extension Naive {
    static func checkBatchNorm(shape s: FeatureMapShape, x: Int, perChannel: [(String, Int)], in op: String) {
        precondition([s.batch, s.channels, s.height, s.width].allSatisfy { $0 > 0 }, "\(op): shape \(s) must be positive")
        checkCount(x, equals: s.count, "x", in: op)
        for (name, count) in perChannel { checkCount(count, equals: s.channels, name, in: op) }
    }

    /// Batch normalisation in training mode (`torch.nn.functional.batch_norm(training=True)`,
    /// Ioffe & Szegedy 2015, algorithm 1).
    ///
    /// `x` and the output are `[N, C, H, W]`; `weight` (gamma), `bias` (beta) and the
    /// returned statistics are `[C]`. Each channel is normalised with the statistics of
    /// its M = N*H*W values in this batch:
    ///
    ///     mean_c = (1/M) sum_{n,h,w} x          var_c = (1/M) sum_{n,h,w} (x - mean_c)^2
    ///     xhat = (x - mean_c) / sqrt(var_c + epsilon)
    ///     y = weight_c * xhat + bias_c
    ///
    /// The returned variance is the biased one (divided by M), the one used to normalise.
    /// (PyTorch's running variance update uses the unbiased M/(M-1) version; that is the
    /// layer's business.)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func batchNormTraining<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T], shape s: FeatureMapShape,
                                                                 epsilon: T) -> (output: [T], mean: [T], variance: [T]) {
        checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count), ("bias", bias.count)],
                       in: "batch_norm")
        let (channels, hw) = (s.channels, s.spatial)
        let m = T(s.batch * hw)
        var y = [T](repeating: 0, count: x.count)
        var means = [T](repeating: 0, count: channels), variances = [T](repeating: 0, count: channels)
        for c in 0..<channels {                                       // each channel
            var sum: T = 0                                            // mean_c
            for n in 0..<s.batch { for p in 0..<hw { sum += x[(n * channels + c) * hw + p] } }
            let mean = sum / m
            var squares: T = 0                                        // var_c (biased)
            for n in 0..<s.batch {
                for p in 0..<hw {
                    let d = x[(n * channels + c) * hw + p] - mean
                    squares += d * d
                }
            }
            let variance = squares / m
            let standardDeviation = (variance + epsilon).squareRoot()
            for n in 0..<s.batch {                                    // y = weight * xhat + bias
                for p in 0..<hw {
                    let i = (n * channels + c) * hw + p
                    y[i] = weight[c] * (x[i] - mean) / standardDeviation + bias[c]
                }
            }
            means[c] = mean
            variances[c] = variance
        }
        return (y, means, variances)
    }

    /// The gradients of ``batchNormTraining(_:weight:bias:shape:epsilon:)``, through the
    /// batch statistics (each x moves its channel's mean and variance too). With
    /// `dxhat = dy * weight_c`, `s = sqrt(var_c + epsilon)`, sums over the channel's M values:
    ///
    ///     dbias_c   = sum dy                      dweight_c = sum dy * xhat
    ///     dvar_c    = sum dxhat * (x - mean_c) * (-1/2) * s^-3
    ///     dmean_c   = sum (-dxhat / s) + dvar_c * sum (-2 (x - mean_c)) / M
    ///     dx        = dxhat / s + dvar_c * 2 (x - mean_c) / M + dmean_c / M
    ///
    /// (which simplifies to `weight/s * (dy - dbias/M - xhat * dweight/M)`).
    /// `x`, `dy` and `input` are `[N, C, H, W]`; `weight` and `bias` are `[C]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func batchNormTrainingBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T],
                                                                         shape s: FeatureMapShape, epsilon: T)
        -> (input: [T], weight: [T], bias: [T]) {
        checkBatchNorm(shape: s, x: x.count, perChannel: [("weight", weight.count)], in: "batch_norm backward")
        checkCount(dy.count, equals: s.count, "dy", in: "batch_norm backward")
        let (channels, hw) = (s.channels, s.spatial)
        let m = T(s.batch * hw)
        let statistics = batchNormTraining(x, weight: weight, bias: [T](repeating: 0, count: channels),
                                           shape: s, epsilon: epsilon)
        var dx = [T](repeating: 0, count: x.count)
        var dWeight = [T](repeating: 0, count: channels), dBias = [T](repeating: 0, count: channels)
        for c in 0..<channels {
            let mean = statistics.mean[c]
            let sd = (statistics.variance[c] + epsilon).squareRoot()
            func indices() -> [Int] { (0..<s.batch).flatMap { n in (0..<hw).map { (n * channels + c) * hw + $0 } } }
            var dVariance: T = 0, dMeanDirect: T = 0, centredSum: T = 0
            for i in indices() {
                let dxhat = dy[i] * weight[c]
                dBias[c] += dy[i]
                dWeight[c] += dy[i] * (x[i] - mean) / sd
                dVariance += dxhat * (x[i] - mean) * (-0.5) / (sd * sd * sd)
                dMeanDirect += -dxhat / sd
                centredSum += -2 * (x[i] - mean)
            }
            let dMean = dMeanDirect + dVariance * centredSum / m
            for i in indices() {
                dx[i] = dy[i] * weight[c] / sd + dVariance * 2 * (x[i] - mean) / m + dMean / m
            }
        }
        return (dx, dWeight, dBias)
    }

    /// Batch normalisation in inference mode: the running statistics replace the batch's,
    ///
    ///     y = weight_c * (x - runningMean_c) / sqrt(runningVariance_c + epsilon) + bias_c
    ///
    /// an affine map per channel. `x` and the output are `[N, C, H, W]`, the rest `[C]`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func batchNormInference<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T], runningMean: [T],
                                                                  runningVariance: [T], shape s: FeatureMapShape,
                                                                  epsilon: T) -> [T] {
        checkBatchNorm(shape: s, x: x.count,
                       perChannel: [("weight", weight.count), ("bias", bias.count), ("running mean", runningMean.count),
                                    ("running variance", runningVariance.count)], in: "batch_norm (inference)")
        let (channels, hw) = (s.channels, s.spatial)
        var y = [T](repeating: 0, count: x.count)
        for n in 0..<s.batch {
            for c in 0..<channels {
                let sd = (runningVariance[c] + epsilon).squareRoot()
                for p in 0..<hw {
                    let i = (n * channels + c) * hw + p
                    y[i] = weight[c] * (x[i] - runningMean[c]) / sd + bias[c]
                }
            }
        }
        return y
    }

    /// The gradients of ``batchNormInference(_:weight:bias:runningMean:runningVariance:shape:epsilon:)``
    /// (the statistics are constants here):
    ///
    ///     dx = dy * weight_c / sqrt(var_c + epsilon)
    ///     dweight_c = sum dy * xhat       dbias_c = sum dy
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func batchNormInferenceBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], runningMean: [T],
                                                                          runningVariance: [T], outputGradient dy: [T],
                                                                          shape s: FeatureMapShape, epsilon: T)
        -> (input: [T], weight: [T], bias: [T]) {
        checkBatchNorm(shape: s, x: x.count,
                       perChannel: [("weight", weight.count), ("running mean", runningMean.count),
                                    ("running variance", runningVariance.count)], in: "batch_norm (inference) backward")
        checkCount(dy.count, equals: s.count, "dy", in: "batch_norm (inference) backward")
        let (channels, hw) = (s.channels, s.spatial)
        var dx = [T](repeating: 0, count: x.count)
        var dWeight = [T](repeating: 0, count: channels), dBias = [T](repeating: 0, count: channels)
        for n in 0..<s.batch {
            for c in 0..<channels {
                let sd = (runningVariance[c] + epsilon).squareRoot()
                for p in 0..<hw {
                    let i = (n * channels + c) * hw + p
                    dx[i] = dy[i] * weight[c] / sd
                    dWeight[c] += dy[i] * (x[i] - runningMean[c]) / sd
                    dBias[c] += dy[i]
                }
            }
        }
        return (dx, dWeight, dBias)
    }
}
