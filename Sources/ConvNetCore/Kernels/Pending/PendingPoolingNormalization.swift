// PENDING: signatures of pooling, LRN and batch norm; the bodies arrive with their files.
// Delete this file when those kernels exist.

extension Naive {
    public static func maxPool2d<T: BinaryFloatingPoint>(_ x: [T], geometry: Pool2DGeometry) -> [T] { fatalError("pending") }
    public static func maxPool2dBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T], geometry: Pool2DGeometry) -> [T] { fatalError("pending") }
    public static func avgPool2d<T: BinaryFloatingPoint>(_ x: [T], geometry: Pool2DGeometry, countIncludePad: Bool) -> [T] { fatalError("pending") }
    public static func avgPool2dBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], geometry: Pool2DGeometry, countIncludePad: Bool) -> [T] { fatalError("pending") }
    public static func adaptiveAvgPool2d<T: BinaryFloatingPoint>(_ x: [T], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [T] { fatalError("pending") }
    public static func adaptiveAvgPool2dBackward<T: BinaryFloatingPoint>(outputGradient dy: [T], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [T] { fatalError("pending") }
    public static func localResponseNorm<T: BinaryFloatingPoint>(_ x: [T], shape: FeatureMapShape, size: Int, alpha: T, beta: T, k: T) -> [T] { fatalError("pending") }
    public static func localResponseNormBackward<T: BinaryFloatingPoint>(_ x: [T], outputGradient dy: [T], shape: FeatureMapShape, size: Int, alpha: T, beta: T, k: T) -> [T] { fatalError("pending") }
    /// Returns the output and the batch statistics (mean, biased variance) per channel.
    public static func batchNormTraining<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T], shape: FeatureMapShape, epsilon: T) -> (output: [T], mean: [T], variance: [T]) { fatalError("pending") }
    public static func batchNormTrainingBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], shape: FeatureMapShape, epsilon: T) -> (input: [T], weight: [T], bias: [T]) { fatalError("pending") }
    public static func batchNormInference<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T], runningMean: [T], runningVariance: [T], shape: FeatureMapShape, epsilon: T) -> [T] { fatalError("pending") }
    public static func batchNormInferenceBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], runningMean: [T], runningVariance: [T], outputGradient dy: [T], shape: FeatureMapShape, epsilon: T) -> (input: [T], weight: [T], bias: [T]) { fatalError("pending") }
}

extension Fast {
    public static func maxPool2d(_ x: [Float], geometry: Pool2DGeometry) -> [Float] { fatalError("pending") }
    public static func maxPool2dBackward(_ x: [Float], outputGradient dy: [Float], geometry: Pool2DGeometry) -> [Float] { fatalError("pending") }
    public static func avgPool2d(_ x: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { fatalError("pending") }
    public static func avgPool2dBackward(outputGradient dy: [Float], geometry: Pool2DGeometry, countIncludePad: Bool) -> [Float] { fatalError("pending") }
    public static func adaptiveAvgPool2d(_ x: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { fatalError("pending") }
    public static func adaptiveAvgPool2dBackward(outputGradient dy: [Float], input: FeatureMapShape, outputSize: (height: Int, width: Int)) -> [Float] { fatalError("pending") }
    public static func localResponseNorm(_ x: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { fatalError("pending") }
    public static func localResponseNormBackward(_ x: [Float], outputGradient dy: [Float], shape: FeatureMapShape, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] { fatalError("pending") }
    public static func batchNormTraining(_ x: [Float], weight: [Float], bias: [Float], shape: FeatureMapShape, epsilon: Float) -> (output: [Float], mean: [Float], variance: [Float]) { fatalError("pending") }
    public static func batchNormTrainingBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { fatalError("pending") }
    public static func batchNormInference(_ x: [Float], weight: [Float], bias: [Float], runningMean: [Float], runningVariance: [Float], shape: FeatureMapShape, epsilon: Float) -> [Float] { fatalError("pending") }
    public static func batchNormInferenceBackward(_ x: [Float], weight: [Float], runningMean: [Float], runningVariance: [Float], outputGradient dy: [Float], shape: FeatureMapShape, epsilon: Float) -> (input: [Float], weight: [Float], bias: [Float]) { fatalError("pending") }
}
