#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, with -sanitize=fuzzer,address) and runs them.
#   scripts/fuzz.sh [TARGET...] [-- LIBFUZZER FLAGS]      e.g. scripts/fuzz.sh FuzzELF -- -max_total_time=600
# Targets: FuzzMap FuzzELF FuzzTable FuzzImage (default: all, one after the other).
# Corpora live in .build-fuzz/corpus/TARGET, seeded from the bundled example, the example
# firmware's objects and image, generated tables and compressed copies; crashes land in
# .build-fuzz/crashes/TARGET (turn each into a regression test). Inputs are at most a few KiB and
# no single allocation may exceed 64 MiB (-malloc_limit_mb): the readers must stay within a small
# multiple of their input.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets=() flags=()
while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; flags=("$@"); break; fi
    targets+=("$1"); shift
done
[ ${#targets[@]} -gt 0 ] || targets=(FuzzMap FuzzELF FuzzTable FuzzImage)
[ ${#flags[@]} -gt 0 ] || flags=(-max_total_time=60)
scratch="$root/.build-fuzz"
swift build -c release --package-path "$root/Fuzz" --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >/dev/null
swift build -c release --package-path "$root" --product kallsyms >/dev/null
kallsyms="$root/.build/release/kallsyms"

seed() { # target dir
    local t=$1 d=$2 tmp
    mkdir -p "$d"
    [ -n "$(ls -A "$d")" ] && return 0
    tmp=$(mktemp -d)
    FIRMWARE_OUT="$tmp/fw" bash "$root/examples/firmware/build.sh" "$kallsyms" --reserve auto >/dev/null
    head -c 4000 "$root/examples/example.map" > "$tmp/example.map"
    "$kallsyms" gen --all-symbols --absolute-percpu --emit raw --arch x86_64 -o "$tmp/table.bin" "$root/examples/example.map"
    case "$t" in
        FuzzMap) # first byte: version and flags
            for f in 0 2 6 1 3 9 35; do { printf "\\x$(printf %02x $f)"; cat "$root/examples/example.map"; } > "$d/example-$f"; done
            { printf "\\x02"; cat "$tmp/fw/System.map"; } > "$d/firmware" ;;
        FuzzELF) cp "$tmp/fw/"*.o "$tmp/fw/firmware" "$d/" ;;
        FuzzTable)
            # Header: offsets of each array (from the raw layout), then flags; then the blob.
            python3 - "$tmp/table.bin" "$d/seed" <<'PY'
import json, struct, sys
blob = open(sys.argv[1], 'rb').read()
layout = json.load(open(sys.argv[1] + '.layout.json'))
offs = {l['name']: l['offset'] for l in layout['labels']}
names = ["kallsyms_num_syms", "kallsyms_names", "kallsyms_markers", "kallsyms_token_table", "kallsyms_token_index",
         "kallsyms_offsets", "kallsyms_relative_base", "kallsyms_seqs_of_names", "kallsyms_addresses"]
head = b''.join(struct.pack('<I', offs.get(n, 0xFFFFFFFF)) for n in names) + b'\0' * 4 + b'\0'
open(sys.argv[2], 'wb').write(head + blob)
PY
            ;;
        FuzzImage)
            cp "$tmp/fw/firmware" "$d/elf"
            gzip -9c "$tmp/table.bin" > "$d/table.gz"
            xz -c "$tmp/table.bin" > "$d/table.xz"
            zstd -qc "$tmp/table.bin" > "$d/table.zst"
            cp "$tmp/table.bin" "$d/raw"
            ;;
    esac
    rm -rf "$tmp"
}

for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    crashes="$scratch/crashes/$t"
    mkdir -p "$crashes"
    seed "$t" "$corpus"
    echo "== $t (${flags[*]})"
    # Swift's own crash reporter would trip the address sanitizer; libFuzzer reports instead.
    KALLSYMS_THREADS=1 SWIFT_BACKTRACE=enable=no "$scratch/release/$t" -rss_limit_mb=2048 -malloc_limit_mb=64 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "${flags[@]}" "$corpus"
done
