// swift-tools-version: 6.0
import PackageDescription

// Linux only: the code imports Glibc and binds glibc symbols (mallopt, memmem) by name,
// and the compression system libraries come from the distribution. No `platforms:` entry is
// claimed because none of Apple's would build.
//
// No unsafe flags, so that others can depend on a tagged release: SwiftPM refuses a versioned
// dependency with `unsafeFlags`. The test suite runs optimized instead (`swift test -c release`, see
// the README): unoptimized SIMD and generic code is ~100x slower, which would turn the differential
// tests over real kernels into hours.
let package = Package(
    name: "swift-kallsyms",
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
        // `swift package generate-documentation` (the DocC catalogs under Sources/*/*.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "ELFKit"),
        .target(name: "KallsymsCore", dependencies: ["ELFKit"]),
        .systemLibrary(
            name: "CCompression",
            providers: [.apt(["zlib1g-dev", "liblzma-dev", "libzstd-dev", "liblz4-dev", "libbz2-dev"])]),
        .target(name: "KernelImage", dependencies: ["KallsymsCore", "ELFKit", "CCompression"]),
        .target(name: "MapDiff", dependencies: ["KallsymsCore"]),
        .target(name: "LinkDriver", dependencies: ["KallsymsCore", "ELFKit", "KernelImage", "MapDiff"]),
        .executableTarget(
            name: "kallsyms",
            dependencies: [
                "KallsymsCore", "ELFKit", "KernelImage", "MapDiff", "LinkDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildInfo"]),
        // `kallsyms --version`: the git commit the executable is built from, read at build time.
        .plugin(name: "BuildInfo", capability: .buildTool()),
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
