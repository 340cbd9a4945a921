import ConvNetCore
import Foundation

// The shared tools (relativeError, randomArray, numericalGradient, dot, FixtureLocator)
// come from the TestSupport target; this file adds what only these exercises need.
@_exported import TestSupport

/// The float32 array of a fixture file of `Fixtures/ops-public`.
func opsFixture(_ name: String) throws -> NumPyArray {
    try NumPy.read(FixtureLocator.url("ops-public/\(name).npy"))
}
