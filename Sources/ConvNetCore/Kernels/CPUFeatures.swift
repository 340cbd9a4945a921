import Foundation

/// What the CPU running this process offers, read once at run time.
///
/// Swift has no `#if` on target features (`-march=native` is passed to the C side of the
/// compiler only), so on Linux the kernel's `/proc/cpuinfo` flags are read. Elsewhere
/// the answers are false, which only selects the kernels tuned for narrower vectors.
///
/// `CONVNET_NO_AVX512=1` in the environment makes the process behave as a CPU without
/// AVX-512 (Apple Silicon, older x86): every kernel router then takes the path such a
/// CPU takes (8 x 8 or 6 x 16 register tiles, implicit GEMM instead of the direct and
/// blocked kernels, no Winograd, no channel-blocked inference). It is read once, at the
/// first question asked, so it must be set before the process starts (the test suite
/// re-runs its kernel and fixture suites in a child process with it set). The compiler
/// still emits the instructions of the machine it builds for; only the routing changes.
public enum CPUFeatures {
    /// The name of the environment variable that hides AVX-512 from the kernel routers.
    public static let noAVX512Variable = "CONVNET_NO_AVX512"

    /// Whether `CONVNET_NO_AVX512` is set to something other than empty, `0` or `false`.
    public static let avx512Disabled: Bool = {
        guard let value = ProcessInfo.processInfo.environment[noAVX512Variable] else { return false }
        return !["", "0", "false", "no"].contains(value.lowercased())
    }()

    /// The CPU itself has AVX-512 Foundation, whatever the environment says.
    public static let detectedAVX512F: Bool = flags.contains("avx512f")

    /// The kernels may use AVX-512 Foundation (32 registers of 512 bits: one
    /// `SIMD16<Float>` each): the CPU has it and `CONVNET_NO_AVX512` is not set.
    public static let hasAVX512F: Bool = detectedAVX512F && !avx512Disabled
    /// The CPU has AVX2 and FMA (16 registers of 256 bits: a `SIMD16<Float>` is two).
    public static let hasAVX2: Bool = flags.contains("avx2") && flags.contains("fma")

    private static let flags: Set<Substring> = {
        #if os(Linux) && arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " "))
        }
        return []
        #else
        return []
        #endif
    }()
}
