/// `max|actual - expected| / max(max|expected|, 1e-6)`: how far a result is from its
/// reference, the measure of the PyTorch fixtures, the tests and the lessons' kernel
/// races. A NaN anywhere in the difference gives infinity.
public func relativeError<T: BinaryFloatingPoint>(_ actual: [T], _ expected: [T]) -> Double {
    precondition(actual.count == expected.count, "relativeError: \(actual.count) vs \(expected.count) elements")
    var maxDifference = 0.0, maxReference = 0.0
    for (a, e) in zip(actual, expected) {
        let d = abs(Double(a) - Double(e))
        if d.isNaN { return .infinity }
        maxDifference = max(maxDifference, d)
        maxReference = max(maxReference, abs(Double(e)))
    }
    return maxDifference / max(maxReference, 1e-6)
}
