#!/usr/bin/env bash
# Builds the example firmware with its own kallsyms table through `kallsyms link`, then runs it.
#   examples/firmware/build.sh [KALLSYMS] [extra link flags...]
# KALLSYMS defaults to the release build of this package (built if needed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# FIRMWARE_OBJECTS_ONLY=1: compile the objects into FIRMWARE_OUT and stop (for the README's
# library example, which links them itself).
kallsyms="${1:-}"
[ $# -gt 0 ] && shift
out="${FIRMWARE_OUT:-$root/.build/firmware}"
mkdir -p "$out"
cflags=(-O1 -fno-optimize-sibling-calls -fno-inline-functions-called-once -ffreestanding -fno-pic -fno-pie -fno-omit-frame-pointer -fno-stack-protector -fcf-protection=none
    -fno-asynchronous-unwind-tables -Wall -Werror)
# The table's reader follows the format: place-relative entries from 7.0 with --pc-relative.
case " $* " in *" --pc-relative "*) cflags+=(-DKALLSYMS_PC_RELATIVE) ;; esac
for c in main kallsyms; do gcc "${cflags[@]}" -c "$here/$c.c" -o "$out/$c.o"; done
gcc -c "$here/start.S" -o "$out/start.o"
[ "${FIRMWARE_OBJECTS_ONLY:-}" = 1 ] && exit 0
if [ -z "$kallsyms" ]; then
    (cd "$root" && swift build -c release --product kallsyms >/dev/null)
    kallsyms="$root/.build/release/kallsyms"
fi
echo "== kallsyms link"
"$kallsyms" link -o "$out/firmware" --map "$out/System.map" "$@" -- \
    ld -static -nostdlib --no-warn-rwx-segments -z noexecstack -T "$here/firmware.lds" \
    -o {out} "$out/start.o" "$out/main.o" "$out/kallsyms.o" {kallsyms}
echo "== $out/firmware"
"$out/firmware"
