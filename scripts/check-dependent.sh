#!/usr/bin/env bash
# Proves that others can depend on a release of this package, and that the Swift of the README and
# of the DocC articles (Sources/*/*.docc) compiles and runs as written. Clones the committed HEAD
# into a temporary directory and tags it with the version the command reports
# (Sources/kallsyms/Version.swift); then builds a throwaway package whose manifest is the README's
# own (its `.package(url:…, from:…)` pointed at that clone with `file://`), and whose targets are:
#   - the manifest's executable target: a few library calls on the bundled example map;
#   - one executable target per other ```swift block (README, then the articles), compiled as
#     written and run in a directory holding the example firmware's objects and linker script and
#     Debian's 6.12 amd64 kernel as `vmlinuz` (scripts/fetch-kernel.sh).
# SwiftPM refuses a versioned dependency whose targets use unsafe flags, so this also fails if one
# returns.
#
#   scripts/check-dependent.sh [WORKDIR]     (default: a new temporary directory, removed afterwards)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "check-dependent: $*" >&2; exit 1; }
version="$(sed -n 's/^let kallsymsVersion = "\(.*\)"$/\1/p' "$root/Sources/kallsyms/Version.swift")"
[ -n "$version" ] || die "no kallsymsVersion in Sources/kallsyms/Version.swift"
if [ $# -gt 0 ]; then work="$(mkdir -p "$1" && cd "$1" && pwd)"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

rm -rf "$work/swift-kallsyms" "$work/consumer" "$work/blocks" "$work/run"
git clone -q --no-checkout "$root" "$work/swift-kallsyms"
git -C "$work/swift-kallsyms" checkout -q --detach "$(git -C "$root" rev-parse HEAD)"
git -C "$work/swift-kallsyms" tag "$version"

# The ```swift blocks of the README and of the DocC articles, numbered in order per file.
mkdir -p "$work/blocks"
for doc in "$root/README.md" "$root"/Sources/*/*.docc/*.md; do
    [ -e "$doc" ] || continue
    label="$(basename "$doc" .md | tr -c 'A-Za-z0-9\n' '_')"
    awk -v dir="$work/blocks" -v label="$label" '
        /^```swift[[:space:]]*$/ { n++; file = sprintf("%s/%s_%02d.swift", dir, label, n); inside = 1; printf "" > file; next }
        /^```/ { inside = 0; next }
        inside { print > file }' "$doc"
done
manifest="" examples=()
for block in "$work/blocks"/*.swift; do
    [ -e "$block" ] || die "README.md has no \`\`\`swift block"
    if head -n 1 "$block" | grep -q '^// swift-tools-version'; then
        [ -z "$manifest" ] || die "README.md has two manifests"
        manifest="$block"
    else
        examples+=("$block")
    fi
done
[ -n "$manifest" ] || die "README.md has no manifest block (// swift-tools-version …)"
grep -q "from: \"$version\"" "$manifest" || die "the README's manifest does not ask for from: \"$version\""
tool="$(sed -n 's/.*executableTarget(name: "\([^"]*\)".*/\1/p' "$manifest" | head -n 1)"
[ -n "$tool" ] || die "the README's manifest has no executable target"

mkdir -p "$work/consumer/Sources/$tool"
sed "s|url: \"[^\"]*swift-kallsyms[^\"]*\"|url: \"file://$work/swift-kallsyms\"|" "$manifest" >"$work/consumer/Package.swift"
grep -q "file://$work/swift-kallsyms" "$work/consumer/Package.swift" || die "no swift-kallsyms URL in the README's manifest"
names=()
for block in "${examples[@]}"; do
    name="Example_$(basename "$block" .swift)"
    names+=("\"$name\"")
    mkdir -p "$work/consumer/Sources/$name"
    cp "$block" "$work/consumer/Sources/$name/main.swift"
done
cat >>"$work/consumer/Package.swift" <<MANIFEST

// Added by scripts/check-dependent.sh: one executable per Swift example of the docs, with the
// dependencies of the manifest's own target.
package.targets += [$(IFS=,; echo "${names[*]}")].map {
    .executableTarget(name: \$0, dependencies: package.targets[0].dependencies)
}
MANIFEST
cat >"$work/consumer/Sources/$tool/main.swift" <<'SWIFT'
import Foundation
import KallsymsCore

// Generate the table of the bundled example map, decode it again, and compare with the input.
let map = Array(try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1])))
let table = try KallsymsGenerator.generate(mapBytes: map, options: GeneratorOptions(format: .linux612))
let assembly = String(decoding: AssemblyWriter.write(table), as: UTF8.self)
let decoded = try TableDecoder.decode(table)
precondition(decoded.count == table.numSyms && table.numSyms > 0, "decoded \(decoded.count) of \(table.numSyms)")
precondition(assembly.contains("kallsyms_token_table:"), "no token table in the assembly")
print("generated \(table.numSyms) symbols, \(assembly.utf8.count) bytes of assembly, decoded \(decoded.count)")
SWIFT

cd "$work/consumer"
swift build >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "the dependent package does not build"; }
bin="$(swift build --show-bin-path)"
"$bin/$tool" "$root/examples/example.map"

# Where the examples run: the firmware's objects and linker script, a real kernel.
mkdir -p "$work/run"
FIRMWARE_OUT="$work/run" FIRMWARE_OBJECTS_ONLY=1 bash "$root/examples/firmware/build.sh"
cp "$root/examples/firmware/firmware.lds" "$work/run/"
image="$(bash "$root/scripts/fetch-kernel.sh" 6.12 amd64 | tail -n 1)" || die "cannot fetch Debian's 6.12 amd64 kernel"
ln -sf "$image" "$work/run/vmlinuz"
for name in "${names[@]}"; do
    name="${name//\"/}"
    echo "== $name"
    (cd "$work/run" && "$bin/$name") || die "$name failed"
done
echo "check-dependent: a package depending on swift-kallsyms from: \"$version\" builds; the ${#names[@]} Swift examples of the README and the DocC articles compile and run"
