#!/usr/bin/env bash
# Proves that others can depend on a release of this package: clones the committed HEAD into a
# temporary directory, tags it with the version the command reports (Sources/kallsyms/Version.swift),
# and builds and runs a throwaway package that depends on it the way a user would,
# `.package(url: "file://…", from: VERSION)`, importing the library products and calling them.
# SwiftPM refuses a versioned dependency whose targets use unsafe flags, so this fails if one returns.
#
#   scripts/check-dependent.sh [WORKDIR]     (default: a new temporary directory, removed afterwards)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^let kallsymsVersion = "\(.*\)"$/\1/p' "$root/Sources/kallsyms/Version.swift")"
[ -n "$version" ] || { echo "check-dependent: no kallsymsVersion in Sources/kallsyms/Version.swift" >&2; exit 2; }
if [ $# -gt 0 ]; then work="$1"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

rm -rf "$work/swift-kallsyms" "$work/consumer"
git clone -q --no-checkout "$root" "$work/swift-kallsyms"
git -C "$work/swift-kallsyms" checkout -q --detach "$(git -C "$root" rev-parse HEAD)"
git -C "$work/swift-kallsyms" tag "$version"

mkdir -p "$work/consumer/Sources/Consumer"
cat > "$work/consumer/Package.swift" <<MANIFEST
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/swift-kallsyms", from: "$version")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [
            .product(name: "KallsymsCore", package: "swift-kallsyms"),
            .product(name: "KernelImage", package: "swift-kallsyms"),
            .product(name: "MapDiff", package: "swift-kallsyms"),
        ]),
    ]
)
MANIFEST
cat > "$work/consumer/Sources/Consumer/main.swift" <<'SWIFT'
import Foundation
import KallsymsCore
import KernelImage
import MapDiff

// Generate the table of the bundled example map, decode it again, and compare the two lists.
let mapPath = CommandLine.arguments[1]
let map = Array(try Data(contentsOf: URL(fileURLWithPath: mapPath)))
let table = try KallsymsGenerator.generate(mapBytes: map, options: GeneratorOptions(format: .linux612))
let assembly = String(decoding: AssemblyWriter.write(table), as: UTF8.self)
let decoded = try TableDecoder.decode(table)
precondition(decoded.count == table.numSyms && table.numSyms > 0, "decoded \(decoded.count) of \(table.numSyms)")
precondition(assembly.contains("kallsyms_token_table:"), "no token table in the assembly")
print("generated \(table.numSyms) symbols, \(assembly.utf8.count) bytes of assembly, decoded \(decoded.count)")
SWIFT

cd "$work/consumer"
swift build 2>&1 | tail -n 3
swift run -q Consumer "$root/examples/example.map"
echo "check-dependent: a package depending on swift-kallsyms from: \"$version\" builds and runs"
