// swift-tools-version: 6.0
import PackageDescription

// The byte-crunching modules are optimized in debug builds too: unoptimized SIMD and generic
// code is ~100x slower, which turns the differential tests over real kernels into hours.
let optimizedAlways: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "swift-kallsyms",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kallsyms", targets: ["kallsyms"]),
        .library(name: "KallsymsCore", targets: ["KallsymsCore"]),
        .library(name: "ELFKit", targets: ["ELFKit"]),
        .library(name: "KernelImage", targets: ["KernelImage"]),
        .library(name: "MapDiff", targets: ["MapDiff"]),
        .library(name: "LinkDriver", targets: ["LinkDriver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "ELFKit", swiftSettings: optimizedAlways),
        .target(name: "KallsymsCore", dependencies: ["ELFKit"], swiftSettings: optimizedAlways),
        .systemLibrary(
            name: "CCompression",
            providers: [.apt(["zlib1g-dev", "liblzma-dev", "libzstd-dev", "liblz4-dev", "libbz2-dev"])]),
        .target(name: "KernelImage", dependencies: ["KallsymsCore", "ELFKit", "CCompression"], swiftSettings: optimizedAlways),
        .target(name: "MapDiff", dependencies: ["KallsymsCore"], swiftSettings: optimizedAlways),
        .target(name: "LinkDriver", dependencies: ["KallsymsCore", "ELFKit", "KernelImage", "MapDiff"]),
        .executableTarget(
            name: "kallsyms",
            dependencies: [
                "KallsymsCore", "ELFKit", "KernelImage", "MapDiff", "LinkDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Lookup throughput on a real image (scripts/bench-reader).
        .executableTarget(name: "kallsyms-bench", dependencies: ["KallsymsCore", "KernelImage"]),
        // Locates (and builds on demand) the kernel's reference tools and the Debian data the
        // differential tests compare against. Never part of a product.
        .target(name: "KallsymsTestSupport", dependencies: ["KallsymsCore"]),
        .testTarget(name: "KallsymsCoreTests", dependencies: ["KallsymsCore", "KallsymsTestSupport"]),
        .testTarget(name: "ELFKitTests", dependencies: ["ELFKit", "KallsymsCore", "KallsymsTestSupport"]),
        .testTarget(name: "KernelImageTests", dependencies: ["KernelImage", "KallsymsCore", "ELFKit", "KallsymsTestSupport"]),
        .testTarget(name: "LinkDriverTests", dependencies: ["LinkDriver", "MapDiff", "KernelImage", "KallsymsCore", "ELFKit", "KallsymsTestSupport"]),
        .testTarget(name: "MapDiffTests", dependencies: ["MapDiff", "KallsymsCore", "KallsymsTestSupport"]),
        .testTarget(name: "KallsymsCLITests", dependencies: ["kallsyms", "KallsymsCore", "ELFKit", "KernelImage", "MapDiff", "KallsymsTestSupport"]),
    ]
)
