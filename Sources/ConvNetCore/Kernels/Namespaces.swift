/// The reference kernels: the definition of each operation, written to be read.
///
/// Plain nested loops in the order of the formula, generic over `BinaryFloatingPoint`
/// so tests can run them in `Double` against finite differences. Every function here
/// has a twin of the same name and argument shape in ``Fast``.
public enum Naive {}

/// The fast kernels: the same operations for `Float`, written to be fast (packed GEMM
/// with a register-blocked SIMD micro-kernel, im2col, running sums, multithreading).
/// Each is tested against its twin in ``Naive``.
public enum Fast {}
