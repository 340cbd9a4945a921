/// Seeded Bernoulli keep-masks for dropout.
public enum DropoutMask {
    /// `count` flags, each true (kept) with probability `1 - probability`.
    ///
    /// Each flag draws one uniform `u` in [0, 1) with 53 random bits from `generator`
    /// and keeps the unit when `u >= probability`: `probability` 0 keeps everything,
    /// 1 drops everything, and the same seed gives the same mask.
    public static func sample(count: Int, probability: Double, using generator: inout SeededGenerator) -> [Bool] {
        precondition(count >= 0, "dropout mask: negative count \(count)")
        checkDropoutProbability(probability)
        var mask = [Bool](repeating: false, count: count)
        for i in 0..<count {
            let u = Double(generator.next() >> 11) * 0x1p-53
            mask[i] = u >= probability
        }
        return mask
    }
}

/// Dropout drops each unit with a probability in [0, 1].
func checkDropoutProbability<T: BinaryFloatingPoint>(_ p: T) {
    precondition(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got \(p)")
}
