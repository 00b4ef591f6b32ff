// swift-tools-version: 6.0
// libFuzzer targets for every parser. Built and run by scripts/fuzz.sh with
// `-sanitize=fuzzer,address -parse-as-library`; not part of the main package or of CI.
import PackageDescription

let fuzzTarget: (String, [Target.Dependency]) -> Target = { name, deps in
    .executableTarget(
        name: name, dependencies: ["FuzzSupport"] + deps, swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}

let package = Package(
    name: "swift-kallsyms-fuzz",
    dependencies: [.package(name: "swift-kallsyms", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        fuzzTarget("FuzzMap", [
            .product(name: "KallsymsCore", package: "swift-kallsyms"), .product(name: "MapDiff", package: "swift-kallsyms"),
        ]),
        fuzzTarget("FuzzELF", [
            .product(name: "KallsymsCore", package: "swift-kallsyms"), .product(name: "ELFKit", package: "swift-kallsyms"),
        ]),
        fuzzTarget("FuzzTable", [
            .product(name: "ELFKit", package: "swift-kallsyms"), .product(name: "KallsymsCore", package: "swift-kallsyms"),
            .product(name: "KernelImage", package: "swift-kallsyms"),
        ]),
        fuzzTarget("FuzzImage", [
            .product(name: "KallsymsCore", package: "swift-kallsyms"), .product(name: "KernelImage", package: "swift-kallsyms"),
        ]),
    ]
)
