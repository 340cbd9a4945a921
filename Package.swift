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

// The lessons, by folder: each `Lessons/<Name>/` is the target `<Name>Lesson`, tested by
// `Tests/<Name>LessonTests/`, and the `lesson` tool runs it (add its type to
// Sources/LessonCatalog/LessonCatalog.swift too). A new lesson is one word here.
let lessons = ["LeNet", "AlexNet", "VGG", "ResNet", "OneByOne", "Inception", "ResNeXt", "DenseNet", "Transfer", "Augmentation", "MultiCrop", "Distillation", "UNet", "Regularizers"]

// A lesson that builds on an earlier lesson's network (transfer learning starts from
// LeNet-5) names that lesson here; its target then depends on the earlier one's.
let earlierLessons: [String: [String]] = ["Transfer": ["LeNet"], "Augmentation": ["LeNet"], "MultiCrop": ["LeNet"]]

let lessonTargets: [Target] = lessons.flatMap { name -> [Target] in [
    .target(
        name: "\(name)Lesson",
        dependencies: ["ConvNetCore"] + (earlierLessons[name] ?? []).map { .target(name: "\($0)Lesson") },
        path: "Lessons/\(name)",
        exclude: ["README.md"],
        swiftSettings: nativeCPU + optimisedAlways
    ),
    .testTarget(
        name: "\(name)LessonTests",
        dependencies: [.target(name: "\(name)Lesson"), .target(name: "ConvNetCore"), .target(name: "TestSupport")],
        path: "Tests/\(name)LessonTests",
        swiftSettings: nativeCPU
    ),
] }

let package = Package(
    name: "ConvNetCaseStudies",
    products: [
        .executable(name: "lesson", targets: ["lesson"]),
        .library(name: "ConvNetCore", targets: ["ConvNetCore"]),
    ],
    targets: lessonTargets + [
        .target(
            name: "ConvNetCore",
            path: "Sources/ConvNetCore",
            swiftSettings: nativeCPU + optimisedAlways
        ),
        .target(
            name: "LessonCatalog",
            dependencies: [.target(name: "ConvNetCore")] + lessons.map { .target(name: "\($0)Lesson") },
            path: "Sources/LessonCatalog",
            resources: [.copy("References")]
        ),
        .executableTarget(
            name: "lesson",
            dependencies: ["ConvNetCore", "LessonCatalog"],
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
            name: "LessonCatalogTests",
            dependencies: ["LessonCatalog", "ConvNetCore", "TestSupport"],
            path: "Tests/LessonCatalogTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
