import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads the fast kernels spread their work over.
///
/// Defaults to the number of online cores. `lesson bench` sets it to 1 and 2 in turn;
/// set it once, before running kernels, not from inside one.
public enum Parallelism {
    nonisolated(unsafe) public static var threadCount: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Runs `body(i)` for every `i` in `0..<count`, spread over `threadCount` threads in
    /// contiguous chunks; runs inline when there is one thread or one item.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = min(threadCount, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let start = count * t / threads
                let end = count * (t + 1) / threads
                for i in start..<end { body(i) }
            }
        }
    }

    /// Runs `body(t, range)` once per thread with the `t`-th of `threadCount`
    /// contiguous ranges covering `0..<count` (empty ranges are skipped).
    public static func forEachChunk(_ count: Int, _ body: (_ thread: Int, _ range: Range<Int>) -> Void) {
        let threads = max(1, min(threadCount, count))
        if threads == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let start = count * t / threads
                let end = count * (t + 1) / threads
                if start < end { body(t, start..<end) }
            }
        }
    }
}
