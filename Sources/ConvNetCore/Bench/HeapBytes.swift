#if canImport(Glibc)
import Glibc
#endif

/// The bytes this process has allocated with malloc and not yet freed (every Swift array
/// lives there), as the C library counts them: how a lesson measures the memory a forward
/// pass keeps for backward (the bytes in use after it, minus before; single-threaded
/// callers only, since every thread's allocations count).
public enum HeapBytes {
    /// Bytes in use now, or nil where the C library does not say.
    ///
    /// glibc's `mallinfo2()` (2.33 and later) is not in Swift's Glibc module (it lives in
    /// malloc.h), so it is looked up by name. It returns a struct of ten `size_t`; the C
    /// ABI of x86-64 returns such a struct through a pointer the caller passes as the
    /// first argument, so the function is called as `(buffer) -> buffer`. Of its fields,
    /// `uordblks` (7: bytes in small allocations) plus `hblkhd` (4: bytes in mmap'ed large
    /// ones) are the bytes in use. Other platforms: nil.
    public static func inUse() -> Int? {
        #if os(Linux) && arch(x86_64)
        guard let mallinfo2 = mallinfo2 else { return nil }
        var fields = [Int](repeating: 0, count: 10)
        return fields.withUnsafeMutableBufferPointer { p in
            _ = mallinfo2(p.baseAddress!)
            return p[7] + p[4]
        }
        #else
        return nil
        #endif
    }

    #if os(Linux) && arch(x86_64)
    private typealias MallInfo2 = @convention(c) (UnsafeMutablePointer<Int>) -> UnsafeMutablePointer<Int>
    private static let mallinfo2: MallInfo2? = dlsym(nil, "mallinfo2").map { unsafeBitCast($0, to: MallInfo2.self) }
    #endif
}
