// swift-tools-version: 6.0
import PackageDescription

// Fast kernels are written with SIMD16<Float>/SIMD8<Float>. Without target flags, Swift
// lowers their fused multiply-adds to scalar `fmaf` calls on x86-64 (a hundredfold
// loss). `-march=native` lets LLVM use the widest vectors of the CPU that builds the
// package (512-bit zmm FMAs where AVX-512 exists). The core is also optimised in debug
// builds, so `swift test` runs real kernels at real speed.
let nativeCPU: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=native"], .when(platforms: [.linux])),
    .unsafeFlags(["-Xcc", "-mcpu=native"], .when(platforms: [.macOS])),
]
let optimisedAlways: [SwiftSetting] = [
    .unsafeFlags(["-O", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "ConvNetCaseStudies",
    products: [
        .executable(name: "lesson", targets: ["lesson"]),
        .library(name: "ConvNetCore", targets: ["ConvNetCore"]),
    ],
    targets: [
        .target(
            name: "ConvNetCore",
            path: "Sources/ConvNetCore",
            swiftSettings: nativeCPU + optimisedAlways
        ),
        .target(
            name: "LeNetLesson",
            dependencies: ["ConvNetCore"],
            path: "Lessons/LeNet",
            exclude: ["README.md"],
            swiftSettings: nativeCPU + optimisedAlways
        ),
        .executableTarget(
            name: "lesson",
            dependencies: ["ConvNetCore", "LeNetLesson"],
            path: "Sources/lesson",
            swiftSettings: nativeCPU
        ),
        .target(
            name: "TestSupport",
            dependencies: ["ConvNetCore"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "ConvNetCoreTests",
            dependencies: ["ConvNetCore", "TestSupport"],
            path: "Tests/ConvNetCoreTests",
            swiftSettings: nativeCPU
        ),
        .testTarget(
            name: "LeNetLessonTests",
            dependencies: ["LeNetLesson", "ConvNetCore", "TestSupport"],
            path: "Tests/LeNetLessonTests",
            swiftSettings: nativeCPU
        ),
    ],
    swiftLanguageModes: [.v5]
)
