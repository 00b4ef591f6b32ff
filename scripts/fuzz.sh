#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, with -sanitize=fuzzer,address) and runs them.
#   scripts/fuzz.sh [TARGET...] [-- LIBFUZZER FLAGS]      e.g. scripts/fuzz.sh FuzzELF -- -max_total_time=600
# Targets: FuzzMap FuzzELF FuzzTable FuzzImage (default: all, one after the other).
# Corpora live in .build-fuzz/corpus/TARGET; the seeds (.build-fuzz/seeds/TARGET) come from the
# bundled example, the example firmware's objects and image, generated tables, their compressed
# copies and the kernel containers around them; crashes land in .build-fuzz/crashes/TARGET (turn
# each into a regression test). Inputs are at most a few KiB and no single allocation may exceed
# 64 MiB (-malloc_limit_mb): the readers must stay within a small multiple of their input.
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
    [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && return 0
    mkdir -p "$d"
    tmp=$(mktemp -d)
    FIRMWARE_OUT="$tmp/fw" bash "$root/examples/firmware/build.sh" "$kallsyms" --reserve auto >/dev/null
    # The scanner finds a table by its digit tokens, so the seed map has names with every digit;
    # the raw blob's relocation (kallsyms_relative_base = _text) is resolved as a loader would.
    { cat "$root/examples/example.map"
      for i in 0 1 2 3 4 5 6 7 8 9; do printf 'ffffffff810001%d0 t probe_%d%d\n' $i $i $((9 - i)); done
    } > "$tmp/digits.map"
    "$kallsyms" gen --all-symbols --absolute-percpu --emit raw --arch x86_64 -o "$tmp/table.bin" "$tmp/digits.map"
    python3 - "$tmp/table.bin" <<'PY'
import json, struct, sys
p = sys.argv[1]
blob = bytearray(open(p, 'rb').read())
for r in json.load(open(p + '.layout.json'))['relocations']:
    struct.pack_into('<Q', blob, r['offset'], (0xffffffff81000000 + r['addend']) % 2**64)
open(p, 'wb').write(blob)
PY
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
            cp "$tmp/table.bin" "$d/raw"
            gzip -9c "$tmp/table.bin" > "$d/table.gz"
            xz -c "$tmp/table.bin" > "$d/table.xz"
            xz -c --format=lzma "$tmp/table.bin" > "$d/table.lzma"
            zstd -qc "$tmp/table.bin" > "$d/table.zst"
            bzip2 -c "$tmp/table.bin" > "$d/table.bz2"
            lz4 -qc -l "$tmp/table.bin" > "$d/table.lz4"
            # The containers around a compressed table: x86 bzImage (setup header, payload
            # offset/length), EFI zboot, arm64 Image (raw, magic at 0x38), an embedded stream.
            python3 - "$tmp/table.bin" "$d/table.gz" "$d" <<'PY'
import struct, sys
raw = open(sys.argv[1], 'rb').read()
gz = open(sys.argv[2], 'rb').read()
out = sys.argv[3]
bz = bytearray(1024)
bz[0x1F1] = 1
bz[0x202:0x206] = b'HdrS'
bz[0x206:0x208] = b'\x0f\x02'
struct.pack_into('<II', bz, 0x248, 0x40, len(gz))
open(out + '/bzImage', 'wb').write(bytes(bz) + b'\xcc' * 0x40 + gz + b'\x01\x02\x03\x04')
zb = bytearray(0x100)
zb[0:2] = b'MZ'
zb[4:8] = b'zimg'
struct.pack_into('<II', zb, 8, 0x100, len(gz))
zb[0x18:0x1C] = b'gzip'
open(out + '/zboot', 'wb').write(bytes(zb) + gz)
head = bytearray(0x40)
head[0x38:0x3C] = b'ARMd'
open(out + '/arm64-Image', 'wb').write(bytes(head) + raw)
open(out + '/embedded', 'wb').write(b'\x90' * 512 + gz + b'\0' * 64)
PY
            ;;
    esac
    rm -rf "$tmp"
}

for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    crashes="$scratch/crashes/$t"
    mkdir -p "$crashes"
    seeds="$scratch/seeds/$t"
    seed "$t" "$seeds"
    mkdir -p "$corpus"
    echo "== $t (${flags[*]})"
    # Swift's own crash reporter would trip the address sanitizer; libFuzzer reports instead.
    KALLSYMS_THREADS=1 SWIFT_BACKTRACE=enable=no "$scratch/release/$t" -rss_limit_mb=2048 -malloc_limit_mb=64 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "${flags[@]}" "$corpus" "$seeds"
done
