// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "swift-kallsyms",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kallsyms", targets: ["kallsyms"]),
        .library(name: "KallsymsCore", targets: ["KallsymsCore"]),
        .library(name: "ELFKit", targets: ["ELFKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "ELFKit"),
        .target(name: "KallsymsCore", dependencies: ["ELFKit"]),
        .executableTarget(
            name: "kallsyms",
            dependencies: [
                "KallsymsCore", "ELFKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Locates (and builds on demand) the kernel's reference tools and the Debian data the
        // differential tests compare against. Never part of a product.
        .target(name: "KallsymsTestSupport", dependencies: ["KallsymsCore"]),
        .testTarget(name: "KallsymsCoreTests", dependencies: ["KallsymsCore", "KallsymsTestSupport"]),
        .testTarget(name: "ELFKitTests", dependencies: ["ELFKit", "KallsymsCore", "KallsymsTestSupport"]),
        .testTarget(name: "KallsymsCLITests", dependencies: ["kallsyms", "KallsymsCore", "KallsymsTestSupport"]),
    ]
)
