import ConvNetCore
import Foundation

// The regularizers lesson's exercises: write these three functions, then run
//
//     swift test --filter RegularizersExercises
//
// `lesson exercise regularizers --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise regularizers --reset` puts them back. The graders
// (Tests/RegularizersLessonTests/RegularizersExercises.swift) check them against the core's
// StochasticDepth (Sources/ConvNetCore/Models/Architectures/StochasticDepth.swift), the
// highway kernel pair (Sources/ConvNetCore/Kernels/Highway/) and the exact cases T = 0 and T = 1.

/// Exercise 1: the survival probability of each of the L residual blocks under stochastic
/// depth's linear decay rule, first block (l = 1, next to the input) to last (l = L).
/// Hint: p_l = 1 - (l / L)(1 - p_L), with l counted from 1, so the last block's is p_L itself
/// and the first block's is just below 1 (p_0 = 1 would be the input, which is never dropped).
public func survivalProbabilities(blocks: Int, last: Double) -> [Double] {
    // EXERCISE survivalProbabilities BEGIN (stub: return [])
    (1...blocks).map { l in 1 - Double(l) / Double(blocks) * (1 - last) }
    // EXERCISE survivalProbabilities END
}

/// Exercise 2: the expected number of blocks a training mini-batch runs through, E(L~).
/// Hint: each block runs with probability p_l, so by linearity of expectation E(L~) is the sum
/// of the p_l; for p_L = 0.5 it is (3L - 1)/4 (11 for L = 15, 40.25 for the paper's L = 54), not 3L/4.
public func expectedDepth(blocks: Int, last: Double) -> Double {
    // EXERCISE expectedDepth BEGIN (stub: return 0)
    var sum = 0.0
    for l in 1...blocks { sum += 1 - Double(l) / Double(blocks) * (1 - last) }
    return sum
    // EXERCISE expectedDepth END
}

/// Exercise 3: the highway layer's output, elementwise, from its input `x`, its transform
/// `h` = H(x) and its gate's pre-activation `gate` = W_T x + b_T (same counts).
/// Hint: T = 1 / (1 + e^(-gate)); y = h T + x (1 - T). With T = 0 (gate -> -infinity) the
/// layer must return x exactly: the carry gate (1 - T) multiplies the INPUT, the transform gate T the transform.
public func highwayForward(_ x: [Double], transform h: [Double], gate: [Double]) -> [Double] {
    // EXERCISE highwayForward BEGIN (stub: return [])
    var y = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        let t = 1 / (1 + exp(-gate[i]))
        y[i] = h[i] * t + x[i] * (1 - t)
    }
    return y
    // EXERCISE highwayForward END
}
