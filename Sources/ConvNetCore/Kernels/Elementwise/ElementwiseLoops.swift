// Pieces shared by the fast elementwise kernels (activations, add, dropout, losses).
//
// A note on where hot loops live: `swift build` in debug compiles each file on its own
// (no whole-module optimisation), so a function in another file is never inlined and a
// generic one from another file is never specialised, even with `-O`, `@inlinable` or
// `@inline(__always)`. So each fast kernel keeps its per-vector work (and its tiny
// SIMD load/store helpers) in its own file, and only calls across files once per chunk
// or per row, where a call costs nothing. (Release builds optimise the whole module at
// once and would inline anyway; `swift test` runs the debug build.)

enum ElementwiseLoops {
    /// Below this many elements one thread does all the work: the elementwise kernels
    /// are memory bound, and waking threads costs more than it saves on small arrays.
    static let parallelThreshold = 1 << 16

    /// Calls `body(start, end)` on disjoint ranges covering `0..<count`, each starting
    /// at a multiple of 16, on several threads when `count` is large enough.
    static func chunks(_ count: Int, _ body: (_ start: Int, _ end: Int) -> Void) {
        if count < parallelThreshold {
            if count > 0 { body(0, count) }
            return
        }
        let vectors = (count + 15) / 16
        Parallelism.forEachChunk(vectors) { _, range in
            body(range.lowerBound * 16, min(range.upperBound * 16, count))
        }
    }
}
