/// A small, fast, seeded pseudo-random generator (SplitMix64), so that every run,
/// initialisation, shuffle and dropout mask is reproducible from one `--seed`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The whole state: `SeededGenerator(seed: g.state)` continues exactly where `g` is
    /// (checkpoints save it so a resumed run shuffles as the uninterrupted one would).
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform sample in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal sample (Box-Muller).
    public mutating func nextNormal() -> Float {
        var u1 = nextUniform()
        while u1 <= 0 { u1 = nextUniform() }
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

extension Tensor {
    /// Samples from N(0, std^2), seeded.
    public static func randomNormal(_ shape: [Int], std: Float = 1, using generator: inout SeededGenerator) -> Tensor {
        let count = shape.reduce(1, *)
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count { data[i] = generator.nextNormal() * std }
        return Tensor(shape: shape, data: data)
    }

    /// Samples uniformly from [low, high), seeded.
    public static func randomUniform(_ shape: [Int], low: Float = -1, high: Float = 1,
                                     using generator: inout SeededGenerator) -> Tensor {
        let count = shape.reduce(1, *)
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count { data[i] = low + (high - low) * generator.nextUniform() }
        return Tensor(shape: shape, data: data)
    }
}
