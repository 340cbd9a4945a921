import Foundation

/// What the CPU running this process offers, read once at run time.
///
/// Swift has no `#if` on target features (`-march=native` is passed to the C side of the
/// compiler only), so on Linux the kernel's `/proc/cpuinfo` flags are read. Elsewhere
/// the answers are false, which only selects the kernels tuned for narrower vectors.
public enum CPUFeatures {
    /// The CPU has AVX-512 Foundation (32 registers of 512 bits: one `SIMD16<Float>` each).
    public static let hasAVX512F: Bool = flags.contains("avx512f")
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
