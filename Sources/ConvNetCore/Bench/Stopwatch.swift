import Dispatch

/// Timing by medians, as `peers.py` does: a warm-up call, then an inner repeat count
/// chosen so that one sample lasts at least `target` seconds, then the median of
/// `samples` samples (seconds per call). Medians, because these machines are shared.
public enum Stopwatch {
    public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    public static func medianSeconds(samples: Int = 7, target: Double = 0.15, _ body: () -> Void) -> Double {
        body()
        var inner = 1
        while true {
            let start = now()
            for _ in 0..<inner { body() }
            let elapsed = now() - start
            if elapsed >= target || inner >= 1 << 16 { break }
            inner = max(inner * 2, Int(Double(inner) * target / max(elapsed, 1e-9) * 1.1))
        }
        var times: [Double] = []
        for _ in 0..<max(1, samples) {
            let start = now()
            for _ in 0..<inner { body() }
            times.append((now() - start) / Double(inner))
        }
        times.sort()
        return times[times.count / 2]
    }

    /// One timed call (for slow reference kernels that cannot be repeated cheaply).
    public static func seconds(_ body: () -> Void) -> Double {
        let start = now()
        body()
        return now() - start
    }
}
