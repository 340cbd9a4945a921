import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Fast GEMM: packed operands, cache blocking and a register-blocked SIMD micro-kernel
// (the scheme of GotoBLAS, BLIS and OpenBLAS).
//
// The naive triple loop does one multiply-add per load: it waits on memory, not on the
// FMA units. This version arranges the work so that each value loaded from cache feeds
// many fused multiply-adds:
//
// * Micro-kernel. An MR x NR tile of C (8 x 32 where the CPU has AVX-512) lives in vector
//   registers for the whole depth loop: 8 rows x 2 `SIMD16<Float>` = 16 accumulators.
//   Each step p loads one row of B's panel (2 vectors), broadcasts the 8 values of A's
//   column p, and does 16 vector FMAs: a rank-1 update of the tile. 10 loads feed
//   16 x 16 = 256 multiply-adds, and 16 independent accumulators hide the FMA latency
//   (about 4 cycles x 2 FMA pipes = 8 in flight). C is read and written once per depth
//   block, not once per multiply-add: all 16 loads of the tile first, then the stores
//   (with C rows a multiple of 4 KiB apart, a load after a store to the row above looks
//   to the CPU like it may depend on the store). 8 rows also divide the channel counts
//   of CNNs.
// * Packing. The micro-kernel wants its operands in the order it reads them. A is copied
//   into panels of MR rows, stored depth-major (the MR values of column p side by side),
//   and B into panels of NR columns (the NR values of row p side by side), so both are
//   read with unit stride and no TLB or cache-set trouble, whatever lda and ldb are.
//   Transposed operands are handled here, while copying (by 8 x 16 and 16 x 16 transposes
//   in registers where the data runs the wrong way): the micro-kernel never sees a
//   transpose. Ragged edges are padded with zeros in the panels, so the micro-kernel
//   always computes a full tile; partial tiles of C go through a small buffer. Where a
//   panel is a run of each source row (B, and A transposed), a few panels are copied at
//   a time: short runs in different pages would starve the prefetcher, and one run per
//   panel of a wide block would mean hundreds of write streams that all land in the same
//   few L1 sets (at KC = 256, B panels are 32 KiB apart).
// * Cache blocking. Each level of the loop nest keeps one operand in one cache level:
//     depth block (KC = 256): an A panel (MR x KC = 8 KiB) and the B panel it meets
//       (KC x NR = 32 KiB) fit in L1 (48 KiB here, 32 KiB or more elsewhere). The A panel
//       stays there for a whole row of tiles; B panels stream through.
//     column block (NC = half of L2 / (KC x 4 bytes), 1024 columns with 2 MiB of L2):
//       the packed B block (KC x NC, 1 MiB) stays in L2 while every A panel of the row
//       block meets it; the other half of L2 is for C tiles, A panels and the next data.
//     row block (MC: packed A of at most 2 MiB, 2048 rows at KC = 256): lives in L3,
//       read one panel at a time. It is packed once per depth block and reused by every
//       column block, and B is packed once per row block: for sizes up to 2048 rows,
//       each operand is packed exactly once. (Packing 128 rows of A at a time inside
//       the column loop, so once per column block, measured 2-3% slower at 2048:
//       packing runs at memory speed, not at FMA speed.)
//   Loop nest: row block (MC) > depth block (KC) > column block (NC, pack B) > row panel
//   (MR; packed on first use, so it is hot in L1; a transposed A is packed whole before
//   the column loop, reading its stored rows in order) > column panel (NR) > micro-kernel.
//   A deeper block (KC = 384 or 512: fewer passes over C, but the B panel no longer fits
//   in L1 beside the A panel) measured no faster here, nor did NC from 512 to 1280.
//   This is the order and the proportions of BLIS and OpenBLAS. BLIS's Skylake-X
//   configuration vector-loads 32 values and broadcasts 12 (our NR and MR: its C is
//   column-major), with a depth of 384, a 480-wide block of the vector operand in L2
//   (our NC) and 3072 of the broadcast one in L3 (our MC); OpenBLAS's SKYLAKEX kernels
//   (the ones NumPy's OpenBLAS picks on this Sapphire Rapids machine) vector-load 16 and
//   broadcast 4, with a 448-deep, 448-wide block in L2, and pack the broadcast operand
//   for as many columns as its buffer holds. Both pack each operand once per depth block
//   for matrices of this size, as this code does.
//   Measured remaining cost at 2048 on one thread: about 4% packing, about 3-4% moving
//   C tiles in and out (C is 16 MiB, passed over 8 times); the micro-kernel alone runs
//   at 95-99% of the FMA peak.
// * Threads. C is cut into row ranges or column ranges of whole panels, one per thread,
//   so the threads never write the same tile and never wait for each other. Each thread
//   packs its own operands into its own buffers (allocated once per call), so the operand
//   shared by all threads is packed once per thread: the cut is chosen to share the
//   smaller one. Small products stay on one thread.
//
// Products of at most 3 rows (a fully connected layer on one image) skip the packing:
// there is nothing to reuse, the time is that of reading B once.

extension Fast {
    /// `C = A B` (or `C += A B` when `accumulate`), on raw row-major storage.
    ///
    /// `op(A)` is `[m, k]`: A itself (leading dimension `lda`, element (i, p) at
    /// `a[i * lda + p]`) or, when `transposeA`, the transpose of a `[k, m]` matrix
    /// (element (i, p) at `a[p * lda + i]`). Likewise `op(B)` is `[k, n]`, from B or from
    /// the transpose of a `[n, k]` matrix. C is `[m, n]` with leading dimension `ldc`.
    /// Runs on `Parallelism.threadCount` threads.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                            b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        gemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
             b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, accumulate: accumulate,
             threads: Parallelism.threadCount)
    }

    /// Matrix product `C = A B` of row-major arrays: A is `[m, k]`, B is `[k, n]`.
    public static func gemm(m: Int, n: Int, k: Int, a: [Float], b: [Float]) -> [Float] {
        checkCount(a.count, equals: m * k, "A", in: "gemm")
        checkCount(b.count, equals: k * n, "B", in: "gemm")
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    // Empty arrays may have no storage: point at a dummy then (nothing is read).
                    var dummy: Float = 0
                    withUnsafeMutablePointer(to: &dummy) { dummy in
                        gemm(m: m, n: n, k: k, a: a.baseAddress ?? UnsafePointer(dummy), lda: max(k, 1),
                             b: b.baseAddress ?? UnsafePointer(dummy), ldb: max(n, 1),
                             c: c.baseAddress ?? dummy, ldc: max(n, 1))
                    }
                }
            }
        }
        return c
    }

    /// The products smaller than this many multiply-adds (about 200^3) run on one thread:
    /// below it, waking a second thread and packing the shared operand twice cost about
    /// as much as they save (measured on a 2-core VM, where a wake-up takes tens of µs).
    static let gemmParallelThreshold = 1 << 23

    /// `gemm` on an explicit number of threads (the public entry passes
    /// `Parallelism.threadCount`). Tests use `parallelThreshold` to split small products,
    /// `columnBlock`, `rowBlock` and `depthBlock` to force several blocks (NC, MC, KC) on
    /// small matrices, and `narrowKernel` to run the 6 x 16 micro-kernel of CPUs without
    /// AVX-512.
    static func gemm(m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                     b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                     c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                     threads: Int, parallelThreshold: Int = gemmParallelThreshold,
                     columnBlock: Int? = nil, rowBlock: Int? = nil, depthBlock: Int? = nil,
                     narrowKernel: Bool = false) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
        precondition(lda >= (transposeA ? m : k),
                     "gemm: lda=\(lda) is less than the \(transposeA ? "m=\(m)" : "k=\(k)") columns of the stored A")
        precondition(ldb >= (transposeB ? k : n),
                     "gemm: ldb=\(ldb) is less than the \(transposeB ? "k=\(k)" : "n=\(n)") columns of the stored B")
        precondition(ldc >= n, "gemm: ldc=\(ldc) is less than the n=\(n) columns of C")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let threads = m * n * k < parallelThreshold ? 1 : max(1, threads)
        if m <= 3 {
            let thin = GEMMThin(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                                b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc, accumulate: accumulate)
            thin.run(threads: threads)
            return
        }
        if CPUFeatures.hasAVX512F && !narrowKernel {
            GEMMBlocked<GEMMKernel8x32>(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                                        b: b, ldb: ldb, transposeB: transposeB,
                                        c: c, ldc: ldc, accumulate: accumulate,
                                        columnBlock: columnBlock, rowBlock: rowBlock,
                                        depthBlock: depthBlock).run(threads: threads)
        } else {
            GEMMBlocked<GEMMKernel6x16>(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                                        b: b, ldb: ldb, transposeB: transposeB,
                                        c: c, ldc: ldc, accumulate: accumulate,
                                        columnBlock: columnBlock, rowBlock: rowBlock,
                                        depthBlock: depthBlock).run(threads: threads)
        }
    }
}

// MARK: - Transposes for packing

/// Transposes 8 rows of 16 values (row r at `src + r * ld`) into 8 x 16 values stored
/// step-major at `dst`: `dst[q * 8 + r] = src[r * ld + q]`, the layout of an 8-row panel.
/// Three rounds of interleaving row i with row i + 4 (`interleaveLanes`) do it: each
/// round moves one bit of the row index into the position within the vector.
@inline(__always)
private func transpose8x16(_ src: UnsafePointer<Float>, _ ld: Int, _ dst: UnsafeMutablePointer<Float>) {
    var r0 = load16(src), r1 = load16(src + ld), r2 = load16(src + 2 &* ld), r3 = load16(src + 3 &* ld)
    var r4 = load16(src + 4 &* ld), r5 = load16(src + 5 &* ld), r6 = load16(src + 6 &* ld), r7 = load16(src + 7 &* ld)
    for _ in 0..<3 {
        let (t0, t1) = interleaveLanes(r0, r4), (t2, t3) = interleaveLanes(r1, r5)
        let (t4, t5) = interleaveLanes(r2, r6), (t6, t7) = interleaveLanes(r3, r7)
        (r0, r1, r2, r3, r4, r5, r6, r7) = (t0, t1, t2, t3, t4, t5, t6, t7)
    }
    store16(r0, dst); store16(r1, dst + 16); store16(r2, dst + 32); store16(r3, dst + 48)
    store16(r4, dst + 64); store16(r5, dst + 80); store16(r6, dst + 96); store16(r7, dst + 112)
}

/// Transposes 16 rows of 16 values (row r at `src + r * ld`): column q goes to
/// `dst + q * dstStride`. Four rounds of interleaving row i with row i + 8.
@inline(__always)
private func transpose16x16(_ src: UnsafePointer<Float>, _ ld: Int,
                            _ dst: UnsafeMutablePointer<Float>, _ dstStride: Int) {
    var r0 = load16(src), r1 = load16(src + ld), r2 = load16(src + 2 &* ld), r3 = load16(src + 3 &* ld)
    var r4 = load16(src + 4 &* ld), r5 = load16(src + 5 &* ld), r6 = load16(src + 6 &* ld), r7 = load16(src + 7 &* ld)
    var r8 = load16(src + 8 &* ld), r9 = load16(src + 9 &* ld), r10 = load16(src + 10 &* ld), r11 = load16(src + 11 &* ld)
    var r12 = load16(src + 12 &* ld), r13 = load16(src + 13 &* ld), r14 = load16(src + 14 &* ld), r15 = load16(src + 15 &* ld)
    for _ in 0..<4 {
        let (t0, t1) = interleaveLanes(r0, r8), (t2, t3) = interleaveLanes(r1, r9)
        let (t4, t5) = interleaveLanes(r2, r10), (t6, t7) = interleaveLanes(r3, r11)
        let (t8, t9) = interleaveLanes(r4, r12), (t10, t11) = interleaveLanes(r5, r13)
        let (t12, t13) = interleaveLanes(r6, r14), (t14, t15) = interleaveLanes(r7, r15)
        (r0, r1, r2, r3, r4, r5, r6, r7) = (t0, t1, t2, t3, t4, t5, t6, t7)
        (r8, r9, r10, r11, r12, r13, r14, r15) = (t8, t9, t10, t11, t12, t13, t14, t15)
    }
    store16(r0, dst); store16(r1, dst + dstStride); store16(r2, dst + 2 &* dstStride)
    store16(r3, dst + 3 &* dstStride); store16(r4, dst + 4 &* dstStride); store16(r5, dst + 5 &* dstStride)
    store16(r6, dst + 6 &* dstStride); store16(r7, dst + 7 &* dstStride); store16(r8, dst + 8 &* dstStride)
    store16(r9, dst + 9 &* dstStride); store16(r10, dst + 10 &* dstStride); store16(r11, dst + 11 &* dstStride)
    store16(r12, dst + 12 &* dstStride); store16(r13, dst + 13 &* dstStride)
    store16(r14, dst + 14 &* dstStride); store16(r15, dst + 15 &* dstStride)
}

// MARK: - Micro-kernels

/// A register-blocked micro-kernel: `C[0..<mr, 0..<nr] (+)= Apanel * Bpanel` over `kc`
/// depth steps, where `a` holds `mr` values per step and `b` holds `nr` values per step.
protocol GEMMMicroKernel {
    static var mr: Int { get }
    static var nr: Int { get }
    static func run(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool)
}

/// 8 x 32 tile, 16 `SIMD16<Float>` accumulators: for CPUs with 32 vector registers of
/// 512 bits (AVX-512). Per depth step: 2 vector loads of B, 8 broadcasts of A, 16 FMAs.
enum GEMMKernel8x32: GEMMMicroKernel {
    static var mr: Int { 8 }
    static var nr: Int { 32 }

    @inline(never)
    static func run(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
        var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>()
        var c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        var a = a, b = b
        for _ in 0..<kc {
            // Rank-1 update: tile += A[:, p] (8 broadcasts) x B[p, :] (2 vectors).
            let b0 = load16(b), b1 = load16(b + 16)
            let a0 = SIMD16<Float>(repeating: a[0]); c00.addProduct(a0, b0); c01.addProduct(a0, b1)
            let a1 = SIMD16<Float>(repeating: a[1]); c10.addProduct(a1, b0); c11.addProduct(a1, b1)
            let a2 = SIMD16<Float>(repeating: a[2]); c20.addProduct(a2, b0); c21.addProduct(a2, b1)
            let a3 = SIMD16<Float>(repeating: a[3]); c30.addProduct(a3, b0); c31.addProduct(a3, b1)
            let a4 = SIMD16<Float>(repeating: a[4]); c40.addProduct(a4, b0); c41.addProduct(a4, b1)
            let a5 = SIMD16<Float>(repeating: a[5]); c50.addProduct(a5, b0); c51.addProduct(a5, b1)
            let a6 = SIMD16<Float>(repeating: a[6]); c60.addProduct(a6, b0); c61.addProduct(a6, b1)
            let a7 = SIMD16<Float>(repeating: a[7]); c70.addProduct(a7, b0); c71.addProduct(a7, b1)
            a += 8
            b += 32
        }
        let r0 = c, r1 = c + ldc, r2 = c + 2 &* ldc, r3 = c + 3 &* ldc
        let r4 = c + 4 &* ldc, r5 = c + 5 &* ldc, r6 = c + 6 &* ldc, r7 = c + 7 &* ldc
        if accumulate {
            // All 16 loads of the tile before any store: a store to row r followed by a load
            // from row r + 1 (ldc * 4 bytes further, often a multiple of 4 KiB) would make
            // the load wait on the store.
            c00 += load16(r0); c01 += load16(r0 + 16); c10 += load16(r1); c11 += load16(r1 + 16)
            c20 += load16(r2); c21 += load16(r2 + 16); c30 += load16(r3); c31 += load16(r3 + 16)
            c40 += load16(r4); c41 += load16(r4 + 16); c50 += load16(r5); c51 += load16(r5 + 16)
            c60 += load16(r6); c61 += load16(r6 + 16); c70 += load16(r7); c71 += load16(r7 + 16)
        }
        store16(c00, r0); store16(c01, r0 + 16); store16(c10, r1); store16(c11, r1 + 16)
        store16(c20, r2); store16(c21, r2 + 16); store16(c30, r3); store16(c31, r3 + 16)
        store16(c40, r4); store16(c41, r4 + 16); store16(c50, r5); store16(c51, r5 + 16)
        store16(c60, r6); store16(c61, r6 + 16); store16(c70, r7); store16(c71, r7 + 16)
    }
}

/// 6 x 16 tile, 6 `SIMD16<Float>` accumulators: for CPUs with 16 registers of 256 bits
/// (AVX2: 12 accumulator registers) or 32 of 128 bits (arm64 NEON: 24), where the
/// 8 x 32 tile would spill to the stack.
enum GEMMKernel6x16: GEMMMicroKernel {
    static var mr: Int { 6 }
    static var nr: Int { 16 }

    @inline(never)
    static func run(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>()
        var c3 = SIMD16<Float>(), c4 = SIMD16<Float>(), c5 = SIMD16<Float>()
        var a = a, b = b
        for _ in 0..<kc {
            let b0 = load16(b)
            c0.addProduct(SIMD16<Float>(repeating: a[0]), b0)
            c1.addProduct(SIMD16<Float>(repeating: a[1]), b0)
            c2.addProduct(SIMD16<Float>(repeating: a[2]), b0)
            c3.addProduct(SIMD16<Float>(repeating: a[3]), b0)
            c4.addProduct(SIMD16<Float>(repeating: a[4]), b0)
            c5.addProduct(SIMD16<Float>(repeating: a[5]), b0)
            a += 6
            b += 16
        }
        let r0 = c, r1 = c + ldc, r2 = c + 2 &* ldc, r3 = c + 3 &* ldc, r4 = c + 4 &* ldc, r5 = c + 5 &* ldc
        if accumulate {   // loads before stores, as in the 8 x 32 kernel
            c0 += load16(r0); c1 += load16(r1); c2 += load16(r2)
            c3 += load16(r3); c4 += load16(r4); c5 += load16(r5)
        }
        store16(c0, r0); store16(c1, r1); store16(c2, r2); store16(c3, r3); store16(c4, r4); store16(c5, r5)
    }
}

// MARK: - Blocking, packing and threads

/// Depth of a block (KC): an A panel (MR x KC, 8 KiB) and the B panel it meets
/// (KC x NR, 32 KiB) fit in L1 together.
private let gemmKC = 256

/// Bytes of packed A per row block (MC x KC floats): 2048 rows at KC = 256. The block is
/// read from L3 one panel at a time, so its size only bounds the memory used and how
/// often B is packed again (once per row block).
private let gemmPackedABytes = 2 << 20

/// Bytes of L2 per core (the packed B block takes about half of it); 1 MiB if unknown.
private let gemmL2Bytes: Int = {
    #if os(Linux)
    let size = sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))
    if size >= 256 * 1024 && size <= 64 * 1024 * 1024 { return size }
    #endif
    return 1 << 20
}()

/// A few packing buffers kept between calls: a fresh megabyte from `malloc` would be
/// fresh pages from the kernel (page faults) on every call.
private enum GEMMWorkspaces {
    struct Buffer {
        let start: UnsafeMutablePointer<Float>
        let floats: Int
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var spare: [Buffer] = []

    /// A buffer of at least `floats` values, 64-byte aligned, for the calling thread.
    static func take(floats: Int) -> Buffer {
        lock.lock()
        let reused = spare.popLast()
        lock.unlock()
        if let reused, reused.floats >= floats { return reused }
        if let reused { reused.start.deallocate() }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * MemoryLayout<Float>.stride, alignment: 64)
        return Buffer(start: raw.bindMemory(to: Float.self, capacity: floats), floats: floats)
    }

    /// Returns a buffer from `take` (at most 4 are kept, a few MiB in all).
    static func give(_ buffer: Buffer) {
        lock.lock()
        let keep = spare.count < 4
        if keep { spare.append(buffer) }
        lock.unlock()
        if !keep { buffer.start.deallocate() }
    }
}

/// Runs `body(t, range)` on `threads` threads with contiguous ranges covering
/// `0..<count` (like `Parallelism.forEachChunk`, with the thread count as an argument).
@inline(__always)
private func forEachChunk(_ count: Int, threads: Int, _ body: (_ thread: Int, _ range: Range<Int>) -> Void) {
    let threads = max(1, min(threads, count))
    if threads == 1 {
        if count > 0 { body(0, 0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        Parallelism.run(threads) { t in
            let start = count * t / threads, end = count * (t + 1) / threads
            if start < end { body(t, start..<end) }
        }
    }
}

/// One packed, blocked product, specialised for a micro-kernel `K`.
private struct GEMMBlocked<K: GEMMMicroKernel> {
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
    let b: UnsafePointer<Float>, ldb: Int, transposeB: Bool
    let c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    /// Block sizes for tests (nil: the defaults): columns of packed B (NC, about half of
    /// L2 by default), rows of packed A (MC) and depth (KC).
    var columnBlock: Int? = nil, rowBlock: Int? = nil, depthBlock: Int? = nil

    func run(threads: Int) {
        let mPanels = (m + K.mr - 1) / K.mr, nPanels = (n + K.nr - 1) / K.nr
        // Each thread packs the whole of the operand it shares: A when the columns are
        // split, B when the rows are. Duplicate the smaller one, if the split dimension
        // has panels enough to balance the threads (split in whole panels).
        let nEnough = nPanels >= 2 * threads, mEnough = mPanels >= 2 * threads
        let splitColumns = nEnough || mEnough ? nEnough && (n > m || !mEnough) : nPanels >= mPanels
        if splitColumns {
            forEachChunk(nPanels, threads: threads) { _, panels in
                compute(rows: 0..<m, cols: panels.lowerBound * K.nr..<min(panels.upperBound * K.nr, n))
            }
        } else {
            forEachChunk(mPanels, threads: threads) { _, panels in
                compute(rows: panels.lowerBound * K.mr..<min(panels.upperBound * K.mr, m), cols: 0..<n)
            }
        }
    }

    /// Computes the block `rows x cols` of C on the calling thread.
    func compute(rows: Range<Int>, cols: Range<Int>) {
        let mr = K.mr, nr = K.nr
        // Equal depth blocks of at most KC, column blocks of at most NC and row blocks of
        // at most MC (whole panels).
        let kBlocks = (k + (depthBlock ?? gemmKC) - 1) / (depthBlock ?? gemmKC)
        let kcMax = (k + kBlocks - 1) / kBlocks
        let ncLimit = max(nr, (columnBlock ?? gemmL2Bytes / 2 / (gemmKC * 4)) / nr * nr)
        let nBlocks = (cols.count + ncLimit - 1) / ncLimit
        let ncMax = ((cols.count + nBlocks - 1) / nBlocks + nr - 1) / nr * nr
        let mcLimit = max(mr, (rowBlock ?? gemmPackedABytes / (kcMax * 4)) / mr * mr)
        let mBlocks = (rows.count + mcLimit - 1) / mcLimit
        let mcMax = ((rows.count + mBlocks - 1) / mBlocks + mr - 1) / mr * mr

        // This thread's workspace: one A block, one B block, one spare tile.
        let aCount = mcMax * kcMax, bCount = ncMax * kcMax, tileCount = mr * nr
        let aStride = (aCount + 15) & ~15, bStride = (bCount + 15) & ~15
        let workspace = GEMMWorkspaces.take(floats: aStride + bStride + tileCount)
        defer { GEMMWorkspaces.give(workspace) }
        let packedA = workspace.start
        let packedB = packedA + aStride
        let tile = packedB + bStride

        var ic = rows.lowerBound
        while ic < rows.upperBound {                           // row block of C and A
            let mc = min(mcMax, rows.upperBound - ic)
            var pc = 0
            while pc < k {                                     // depth block
                let kc = min(kcMax, k - pc)
                let add = accumulate || pc > 0                 // later depth blocks add to C
                // A transposed is packed whole, reading its stored rows in order; otherwise
                // each panel is packed on first use (below), and is then hot in L1.
                if transposeA { packA(into: packedA, row: ic, rows: mc, depth: pc, kc: kc) }
                var jc = cols.lowerBound
                while jc < cols.upperBound {                   // column block of C and B
                    let nc = min(ncMax, cols.upperBound - jc)
                    packB(into: packedB, col: jc, cols: nc, depth: pc, kc: kc)
                    var ir = 0
                    while ir < mc {                            // row panel: A panel stays in L1
                        let mrows = min(mr, mc - ir)
                        if !transposeA && jc == cols.lowerBound {
                            packA(into: packedA + ir * kc, row: ic + ir, rows: mrows, depth: pc, kc: kc)
                        }
                        let aPanel = UnsafePointer(packedA + ir * kc)
                        var jr = 0
                        while jr < nc {                        // tile of C: one micro-kernel call
                            let ncols = min(nr, nc - jr)
                            let bPanel = UnsafePointer(packedB + jr * kc)
                            let cTile = c + (ic + ir) * ldc + jc + jr
                            if mrows == mr && ncols == nr {
                                K.run(kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc, accumulate: add)
                            } else {
                                edgeTile(kc: kc, a: aPanel, b: bPanel, c: cTile, rows: mrows, cols: ncols,
                                         add: add, scratch: tile)
                            }
                            jr += nr
                        }
                        ir += mr
                    }
                    jc += nc
                }
                pc += kc
            }
            ic += mc
        }
    }

    /// A tile cut by the edge of C: computes the whole padded tile into `scratch`, then
    /// writes (or adds) its `rows x cols` valid part.
    @inline(never)
    func edgeTile(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                  rows: Int, cols: Int, add: Bool, scratch: UnsafeMutablePointer<Float>) {
        K.run(kc: kc, a: a, b: b, c: scratch, ldc: K.nr, accumulate: false)
        for r in 0..<rows {
            let src = scratch + r * K.nr, dst = c + r * ldc
            if add {
                for q in 0..<cols { dst[q] += src[q] }
            } else {
                for q in 0..<cols { dst[q] = src[q] }
            }
        }
    }

    /// Packs rows `row..<row+rows`, depth `depth..<depth+kc` of op(A) into MR-row panels
    /// of `kc * MR` values: `panel[p * MR + r] = op(A)(row + r, depth + p)`, zero for rows
    /// past the end.
    @inline(__always)
    func packA(into dst: UnsafeMutablePointer<Float>, row: Int, rows: Int, depth: Int, kc: Int) {
        let mr = K.mr
        if transposeA {
            // op(A)(i, p) = a[p * lda + i]: each panel is MR consecutive values of every
            // stored row, 16 panels per pass.
            packRowMajorPanels(a, ld: lda, depth: depth, start: row, count: rows, kc: kc, width: mr, group: 16, into: dst)
        } else {
            // op(A)(i, p) = a[i * lda + p]: one value from each of the MR rows per step;
            // for 8 full rows, 16 steps at a time by an in-register transpose.
            var panel = dst
            var i = 0
            while i < rows {
                let height = min(mr, rows - i)
                let src = a + (row + i) * lda + depth
                var p = 0
                if mr == 8 && height == 8 {
                    while p + 16 <= kc {
                        transpose8x16(src + p, lda, panel + p &* 8)
                        p += 16
                    }
                }
                while p < kc {
                    let d = panel + p &* mr
                    for r in 0..<height { d[r] = src[r &* lda &+ p] }
                    for r in height..<mr { d[r] = 0 }
                    p += 1
                }
                panel += kc * mr
                i += mr
            }
        }
    }

    /// Packs columns `col..<col+cols`, depth `depth..<depth+kc` of op(B) into NR-column
    /// panels of `kc * NR` values: `panel[p * NR + q] = op(B)(depth + p, col + q)`, zero
    /// for columns past the end.
    @inline(__always)
    func packB(into dst: UnsafeMutablePointer<Float>, col: Int, cols: Int, depth: Int, kc: Int) {
        let nr = K.nr
        if transposeB {
            // op(B)(p, j) = b[j * ldb + p]: the panel is the transpose of NR stored rows;
            // full panels go 16 x 16 blocks at a time through registers.
            var panel = dst
            var j = 0
            while j < cols {
                let width = min(nr, cols - j)
                let src = b + (col + j) * ldb + depth
                var p = 0
                if width == nr && nr % 16 == 0 {
                    while p + 16 <= kc {
                        var h = 0
                        while h < nr {
                            transpose16x16(src + (h &* ldb &+ p), ldb, panel + (p &* nr &+ h), nr)
                            h += 16
                        }
                        p += 16
                    }
                }
                while p < kc {
                    let d = panel + p &* nr
                    for q in 0..<width { d[q] = src[q &* ldb &+ p] }
                    for q in width..<nr { d[q] = 0 }
                    p += 1
                }
                panel += kc * nr
                j += nr
            }
        } else {
            // op(B)(p, j) = b[p * ldb + j]: 4 panels per pass.
            packRowMajorPanels(b, ld: ldb, depth: depth, start: col, count: cols, kc: kc, width: nr, group: 4, into: dst)
        }
    }
}

/// Copies the block `x[(depth + p) * ld + start + w]` (p < kc, w < count) of a row-major
/// matrix into panels `width` columns wide, `panel[p * width + w]`, each panel `kc * width`
/// floats after the last, zeros past `count`: the packing of op(A) when A is stored
/// transposed and of op(B) when B is not. `group` panels are copied per pass over the kc
/// rows: a few sequential write streams, and read runs long enough for the prefetcher.
@inline(__always)
private func packRowMajorPanels(_ x: UnsafePointer<Float>, ld: Int, depth: Int, start: Int, count: Int, kc: Int,
                                width: Int, group: Int, into dst: UnsafeMutablePointer<Float>) {
    let fullPanels = count / width, rest = count - fullPanels * width
    var first = 0
    while first < fullPanels {
        let panels = min(group, fullPanels - first)
        for p in 0..<kc {
            var s = x + ((depth + p) * ld + start + first * width)
            var d = dst + (first * kc + p) &* width
            for _ in 0..<panels {
                var q = 0
                while q + 16 <= width { store16(load16(s + q), d + q); q += 16 }
                if q + 8 <= width { store8(load8(s + q), d + q); q += 8 }
                while q < width { d[q] = s[q]; q += 1 }
                s += width
                d += kc &* width
            }
        }
        first += panels
    }
    if rest > 0 {
        for p in 0..<kc {
            let s = x + ((depth + p) * ld + start + fullPanels * width)
            let d = dst + (fullPanels * kc + p) &* width
            for q in 0..<rest { d[q] = s[q] }
            for q in rest..<width { d[q] = 0 }
        }
    }
}

/// Products with at most 3 rows: no packing, B is streamed once.
private struct GEMMThin {
    let m: Int, n: Int, k: Int
    let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
    let b: UnsafePointer<Float>, ldb: Int, transposeB: Bool
    let c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool

    @inline(__always)
    func aValue(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * lda + i] : a[i * lda + p] }

    func run(threads: Int) {
        // Column ranges in multiples of 16 per thread.
        let units = (n + 15) / 16
        forEachChunk(units, threads: threads) { _, range in
            let cols = range.lowerBound * 16..<min(range.upperBound * 16, n)
            if transposeB { dots(cols: cols) } else { axpys(cols: cols) }
        }
    }

    /// B stored `[k, n]`: row i of C is a sum of rows of B, `C[i, :] += A[i, p] * B[p, :]`;
    /// each row of B is read once, in order, and added into all m rows of C.
    func axpys(cols: Range<Int>) {
        let j0 = cols.lowerBound, width = cols.count
        let vectors = width / 16
        if !accumulate { for i in 0..<m { (c + i * ldc + j0).update(repeating: 0, count: width) } }
        for p in 0..<k {
            let bRow = b + p * ldb + j0
            for i in 0..<m {
                let cRow = c + i * ldc + j0
                let s = aValue(i, p)
                let sv = SIMD16<Float>(repeating: s)
                for v in 0..<vectors {
                    let q = v &* 16
                    store16(load16(cRow + q).addingProduct(sv, load16(bRow + q)), cRow + q)
                }
                for q in vectors * 16..<width { cRow[q] = cRow[q].addingProduct(s, bRow[q]) }
            }
        }
    }

    /// B stored `[n, k]` (transposed): each element of C is a dot product of two
    /// contiguous rows; the m rows of A are gathered into a small buffer once.
    func dots(cols: Range<Int>) {
        let rowsA = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        defer { rowsA.deallocate() }
        for i in 0..<m { for p in 0..<k { rowsA[i * k + p] = aValue(i, p) } }
        let vectors = k / 16
        for j in cols {
            let bRow = b + j * ldb
            for i in 0..<m {
                let aRow = UnsafePointer(rowsA + i * k)
                var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
                var v = 0
                while v + 1 < vectors {
                    s0.addProduct(load16(aRow + v &* 16), load16(bRow + v &* 16))
                    s1.addProduct(load16(aRow + (v &* 16 &+ 16)), load16(bRow + (v &* 16 &+ 16)))
                    v += 2
                }
                if v < vectors { s0.addProduct(load16(aRow + v &* 16), load16(bRow + v &* 16)) }
                var sum = (s0 + s1).sum()
                for p in vectors * 16..<k { sum = sum.addingProduct(aRow[p], bRow[p]) }
                let dst = c + i * ldc + j
                dst.pointee = accumulate ? dst.pointee + sum : sum
            }
        }
    }
}
