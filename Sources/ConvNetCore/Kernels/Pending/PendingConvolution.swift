// PENDING: signatures of the convolution kernels; the bodies arrive with their files.
// Delete this file when Convolution+Naive.swift / Convolution+Fast.swift exist.

extension Naive {
    /// y[n, o, i, j] = bias[o] + sum_{c in group(o), u, v} w[o, c, u, v] * x[n, c, i*sh + u - ph, j*sw + v - pw]
    public static func conv2d<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, geometry: Conv2DGeometry) -> [T] { fatalError("pending") }
    /// Gradients of L = sum(y * dy) for x, weight and bias.
    public static func conv2dBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], geometry: Conv2DGeometry) -> (input: [T], weight: [T], bias: [T]) { fatalError("pending") }
    public static func convTranspose2d<T: BinaryFloatingPoint>(_ x: [T], weight: [T], bias: [T]?, geometry: ConvTranspose2DGeometry) -> [T] { fatalError("pending") }
    public static func convTranspose2dBackward<T: BinaryFloatingPoint>(_ x: [T], weight: [T], outputGradient dy: [T], geometry: ConvTranspose2DGeometry) -> (input: [T], weight: [T], bias: [T]) { fatalError("pending") }
}

extension Fast {
    public static func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: Conv2DGeometry) -> [Float] { fatalError("pending") }
    public static func conv2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: Conv2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { fatalError("pending") }
    public static func convTranspose2d(_ x: [Float], weight: [Float], bias: [Float]?, geometry: ConvTranspose2DGeometry) -> [Float] { fatalError("pending") }
    public static func convTranspose2dBackward(_ x: [Float], weight: [Float], outputGradient dy: [Float], geometry: ConvTranspose2DGeometry) -> (input: [Float], weight: [Float], bias: [Float]) { fatalError("pending") }
}
