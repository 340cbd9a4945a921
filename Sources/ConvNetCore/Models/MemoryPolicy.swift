#if canImport(Glibc)
import Glibc
#endif

/// How the process's allocator treats the large, short-lived activation arrays of a
/// forward and backward pass.
///
/// Every layer returns a fresh `[Float]` of megabytes. glibc's `malloc` serves blocks
/// above its mmap threshold with a fresh `mmap` and returns freed memory at the top of the
/// heap to the kernel, so each step of training page-faults every activation back in and
/// the kernel clears each 4 KB page again (measured: ~8% of a CIFAR ResNet-20 step in
/// `clear_page`). PyTorch avoids this with a caching allocator. Here one call raises both
/// thresholds, so freed blocks stay in the heap and the next step reuses them warm.
/// (macOS's allocator already caches large blocks; this is a no-op there.)
public enum MemoryPolicy {
    nonisolated(unsafe) private static var applied = false

    /// Keeps freed activation memory in the process (idempotent).
    public static func keepFreedMemory() {
        guard !applied else { return }
        applied = true
        #if canImport(Glibc)
        // mallopt lives in <malloc.h>, which the Glibc module does not export: look it up.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3      // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = mallopt(mmapThreshold, 32 << 20)                      // glibc's maximum on 64-bit
        _ = mallopt(trimThreshold, Int32.max)
        #endif
    }
}
