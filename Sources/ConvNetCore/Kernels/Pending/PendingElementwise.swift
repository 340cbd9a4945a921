// PENDING: signatures of linear, activations, losses, dropout, concat and add; the
// bodies arrive with their files. Delete this file when those kernels exist.

extension Naive {
    public static func linear<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [T] { fatalError("pending") }
    public static func linearBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [T], weight: [T], bias: [T]) { fatalError("pending") }
    public static func relu<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { fatalError("pending") }
    public static func reluBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] { fatalError("pending") }
    public static func tanh<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { fatalError("pending") }
    public static func tanhBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] { fatalError("pending") }
    public static func sigmoid<T: BinaryFloatingPoint>(_ x: [T]) -> [T] { fatalError("pending") }
    public static func sigmoidBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T]) -> [T] { fatalError("pending") }
    public static func softmaxCrossEntropy<T: BinaryFloatingPoint>(logits: [T], targets: [Int], classes: Int) -> (loss: T, logitsGradient: [T]) { fatalError("pending") }
    public static func distillationKL<T: BinaryFloatingPoint>(student: [T], teacher: [T], classes: Int, temperature: T) -> (loss: T, studentGradient: [T]) { fatalError("pending") }
    public static func dropout<T: BinaryFloatingPoint>(_ x: [T], keepMask: [Bool], probability: T) -> [T] { fatalError("pending") }
    public static func dropoutBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], keepMask: [Bool], probability: T) -> [T] { fatalError("pending") }
    public static func concatenateChannels<T: BinaryFloatingPoint>(_ parts: [[T]], channels: [Int], batch: Int, spatial: Int) -> [T] { fatalError("pending") }
    public static func concatenateChannelsBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], channels: [Int], batch: Int, spatial: Int) -> [[T]] { fatalError("pending") }
    public static func add<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> [T] { fatalError("pending") }
}

extension Fast {
    public static func linear(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Float] { fatalError("pending") }
    public static func linearBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], batch: Int, inFeatures: Int, outFeatures: Int) -> (input: [Float], weight: [Float], bias: [Float]) { fatalError("pending") }
    public static func relu(_ x: [Float]) -> [Float] { fatalError("pending") }
    public static func reluBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { fatalError("pending") }
    public static func tanh(_ x: [Float]) -> [Float] { fatalError("pending") }
    public static func tanhBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { fatalError("pending") }
    public static func sigmoid(_ x: [Float]) -> [Float] { fatalError("pending") }
    public static func sigmoidBackward(_ x: [Float], outputGradient dy: [Float]) -> [Float] { fatalError("pending") }
    public static func softmaxCrossEntropy(logits: [Float], targets: [Int], classes: Int) -> (loss: Float, logitsGradient: [Float]) { fatalError("pending") }
    public static func distillationKL(student: [Float], teacher: [Float], classes: Int, temperature: Float) -> (loss: Float, studentGradient: [Float]) { fatalError("pending") }
    public static func dropout(_ x: [Float], keepMask: [Bool], probability: Float) -> [Float] { fatalError("pending") }
    public static func dropoutBackward(outputGradient dy: [Float], keepMask: [Bool], probability: Float) -> [Float] { fatalError("pending") }
    public static func concatenateChannels(_ parts: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] { fatalError("pending") }
    public static func concatenateChannelsBackward(outputGradient dy: [Float], channels: [Int], batch: Int, spatial: Int) -> [[Float]] { fatalError("pending") }
    public static func add(_ a: [Float], _ b: [Float]) -> [Float] { fatalError("pending") }
}

/// Seeded Bernoulli keep-masks for dropout.
public enum DropoutMask {
    /// `count` flags, each true (kept) with probability `1 - probability`.
    public static func sample(count: Int, probability: Double, using generator: inout SeededGenerator) -> [Bool] { fatalError("pending") }
}
