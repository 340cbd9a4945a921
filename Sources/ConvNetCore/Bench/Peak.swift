import Dispatch
import Foundation

/// The machine's FP32 fused-multiply-add rate, measured: the yardstick of every GFLOP/s
/// that `lesson bench` prints ("% of peak").
///
/// The loop keeps independent `SIMD16<Float>` accumulators and updates each with
/// `addProduct` (one fused multiply-add per lane). Built with `-march=native`, a
/// `SIMD16<Float>` is one 512-bit zmm register on CPUs with AVX-512 (one `vfmadd231ps zmm`
/// per `addProduct`): there the loop runs 16 accumulators, more than latency x throughput
/// of current cores (4-cycle FMA latency x 2 FMA pipes = 8), so the pipes never wait on a
/// previous result. Without AVX-512 a `SIMD16<Float>` is two 256-bit ymm halves (AVX2) or
/// four 128-bit registers (arm64), and 16 of them would not fit in the register file:
/// the loop runs 6 accumulators (12 ymm or 24 NEON registers) instead. So the figure is
/// the peak of the widest vectors this build uses. (On AMD Zen 4 a 512-bit FMA executes
/// as two 256-bit halves, so its 512-bit and 256-bit peaks coincide; Zen 5 and Intel
/// server cores run them at full width.) A flop count is 2 per FMA lane.
public enum FMAPeak {
    /// GFLOP/s of `threads` threads running the FMA loop at once: the best of several
    /// short timed repetitions (about 0.2 s per call in all).
    public static func measure(threads: Int) -> Double {
        let threads = max(1, threads)
        // Calibrate the iteration count so one repetition takes about 20 ms.
        var iterations = 20_000
        _ = run(threads: threads, iterations: iterations)           // warm-up (clocks, pages)
        while true {
            let seconds = run(threads: threads, iterations: iterations)
            if seconds > 0.01 || iterations > 1 << 30 {
                iterations = Int(Double(iterations) * 0.02 / max(seconds, 1e-9))
                break
            }
            iterations *= 4
        }
        iterations = max(iterations, 1000)
        var best = Double.infinity
        for _ in 0..<8 {
            best = min(best, run(threads: threads, iterations: iterations))
        }
        let flops = Double(threads) * Double(iterations) * Double(accumulators * 16 * 2)
        return flops / best / 1e9
    }

    /// The vector type and instruction set the fast kernels of this build run on.
    public static var vectorDescription: String {
        #if arch(x86_64)
        if CPUFeatures.hasAVX512F { return "SIMD16<Float> (AVX-512 zmm FMA)" }
        if CPUFeatures.hasAVX2 { return "SIMD16<Float> (AVX2 ymm FMA, two halves per vector)" }
        return "SIMD16<Float> (SSE xmm, four quarters per vector)"
        #elseif arch(arm64)
        return "SIMD16<Float> (NEON 128-bit FMA, four quarters per vector)"
        #else
        return "SIMD16<Float>"
        #endif
    }

    /// Independent accumulators of the loop: 16 with 32 zmm registers, else 6.
    private static let accumulators = CPUFeatures.hasAVX512F ? 16 : 6

    /// Wall-clock seconds of `threads` concurrent runs of `iterations` loop trips.
    private static func run(threads: Int, iterations: Int) -> Double {
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { sink.deallocate() }
        let start = DispatchTime.now().uptimeNanoseconds
        if threads == 1 {
            sink[0] = kernel(iterations: iterations, seed: Float(iterations & 1))
        } else {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                sink[t] = kernel(iterations: iterations, seed: Float((iterations + t) & 1))
            }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        blackHole(sink[0])
        return Double(end - start) / 1e9
    }

    /// `iterations` trips of `accumulators` independent `SIMD16<Float>` FMAs.
    @inline(__always)
    private static func kernel(iterations: Int, seed: Float) -> Float {
        accumulators == 16 ? kernel16(iterations: iterations, seed: seed)
                           : kernel6(iterations: iterations, seed: seed)
    }

    /// `iterations` trips of 16 independent `SIMD16<Float>` FMAs. The operands depend on
    /// `seed` so the compiler cannot fold the loop; the result is returned for the same
    /// reason. Values stay finite: each trip adds about 1e-3.
    @inline(never)
    private static func kernel16(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 1e-3 * (seed + 1))
        let f = SIMD16<Float>(repeating: 0.999_999 - seed * 1e-7)
        var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
        var a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7
        var a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        var a12 = a0 + 12, a13 = a0 + 13, a14 = a0 + 14, a15 = a0 + 15
        for _ in 0..<iterations {
            // a += f * x, fused, in 16 independent chains.
            a0 = a0.addingProduct(f, x); a1 = a1.addingProduct(f, x)
            a2 = a2.addingProduct(f, x); a3 = a3.addingProduct(f, x)
            a4 = a4.addingProduct(f, x); a5 = a5.addingProduct(f, x)
            a6 = a6.addingProduct(f, x); a7 = a7.addingProduct(f, x)
            a8 = a8.addingProduct(f, x); a9 = a9.addingProduct(f, x)
            a10 = a10.addingProduct(f, x); a11 = a11.addingProduct(f, x)
            a12 = a12.addingProduct(f, x); a13 = a13.addingProduct(f, x)
            a14 = a14.addingProduct(f, x); a15 = a15.addingProduct(f, x)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
            + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15))
        return s.sum()
    }

    /// `iterations` trips of 6 independent `SIMD16<Float>` FMAs (for 16 ymm registers).
    @inline(never)
    private static func kernel6(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 1e-3 * (seed + 1))
        let f = SIMD16<Float>(repeating: 0.999_999 - seed * 1e-7)
        var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2
        var a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
        for _ in 0..<iterations {
            a0 = a0.addingProduct(f, x); a1 = a1.addingProduct(f, x); a2 = a2.addingProduct(f, x)
            a3 = a3.addingProduct(f, x); a4 = a4.addingProduct(f, x); a5 = a5.addingProduct(f, x)
        }
        return ((a0 + a1) + (a2 + a3) + (a4 + a5)).sum()
    }

    @inline(never)
    private static func blackHole(_ x: Float) { _ = x }
}
