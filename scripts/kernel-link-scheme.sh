#!/usr/bin/env bash
# Re-enacts the kallsyms part of Linux 6.12's scripts/link-vmlinux.sh on any link command, with
# the kernel's own tools: nm, its mksysmap, its scripts/kallsyms (built by fetch-reference.sh)
# and the target's assembler. The passes and checks are the kernel's: an empty table, pass 1,
# pass 2, a third pass only if the table object's size or its symbols changed (6.12.117), the
# final link with the last table, then `cmp System.map .tmp_vmlinuxN.syms`.
#   scripts/kernel-link-scheme.sh --as AS [--work DIR] [KALLSYMS FLAGS...] -- LINK COMMAND...
# In the link command {kallsyms} is the table object and {out} the output, as for `kallsyms link`.
# Prints one line per step and "links: N", then "consistent" (exit 0) or the kernel's
# "Inconsistent kallsyms data" (exit 1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
as=as work="" flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --as) as=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --) shift; break ;;
        *) flags+=("$1"); shift ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 --as AS [KALLSYMS FLAGS] -- LINK COMMAND" >&2; exit 2; }
kallsyms="$cache/bin/kallsyms-6.12"
[ -x "$kallsyms" ] || bash "$here/fetch-reference.sh" 6.12 >/dev/null
mksysmap="$cache/src-6.12/scripts/mksysmap"
[ -n "$work" ] || work=$(mktemp -d)
mkdir -p "$work/inc/asm"
echo "#define BITS_PER_LONG 64" > "$work/inc/asm/bitsperlong.h"
export LC_ALL=C
links=0
start=$(date +%s%N)

vmlinux_link() { # out kallsyms.o
    local args=() a
    for a in "${link[@]}"; do a=${a//\{kallsyms\}/$2}; args+=("${a//\{out\}/$1}"); done
    "${args[@]}"
    links=$((links + 1))
}
kallsyms_step() { # syms -> .o (the kernel's sysmap_and_kallsyms after mksysmap)
    "$kallsyms" "${flags[@]}" "$1" > "${1%.syms}.kallsyms.S"
    gcc -E -P -x assembler-with-cpp -I "$work/inc" "${1%.syms}.kallsyms.S" -o "${1%.syms}.kallsyms.s"
    "$as" -o "${1%.syms}.kallsyms.o" "${1%.syms}.kallsyms.s"
}
sysmap_and_kallsyms() { # image
    nm -n "$1" | sed -f "$mksysmap" > "$1.syms"
    kallsyms_step "$1.syms"
}
size() { stat -c %s "$1"; }
link=("$@")

: > "$work/.tmp_vmlinux0.syms"
kallsyms_step "$work/.tmp_vmlinux0.syms"
vmlinux_link "$work/.tmp_vmlinux1" "$work/.tmp_vmlinux0.kallsyms.o"
sysmap_and_kallsyms "$work/.tmp_vmlinux1"
size1=$(size "$work/.tmp_vmlinux1.kallsyms.o")
echo "pass 1: $(wc -l < "$work/.tmp_vmlinux1.syms") symbols, table object $size1 B"
vmlinux_link "$work/.tmp_vmlinux2" "$work/.tmp_vmlinux1.kallsyms.o"
sysmap_and_kallsyms "$work/.tmp_vmlinux2"
size2=$(size "$work/.tmp_vmlinux2.kallsyms.o")
echo "pass 2: $(wc -l < "$work/.tmp_vmlinux2.syms") symbols, table object $size2 B"
last="$work/.tmp_vmlinux2"
if [ "$size1" != "$size2" ] || ! cmp -s <(nm -n "$work/.tmp_vmlinux1.kallsyms.o") <(nm -n "$work/.tmp_vmlinux2.kallsyms.o") \
    || [ -n "${KALLSYMS_EXTRA_PASS:-}" ]; then
    vmlinux_link "$work/.tmp_vmlinux3" "$work/.tmp_vmlinux2.kallsyms.o"
    sysmap_and_kallsyms "$work/.tmp_vmlinux3"
    echo "pass 3: $(wc -l < "$work/.tmp_vmlinux3.syms") symbols, table object $(size "$work/.tmp_vmlinux3.kallsyms.o") B"
    last="$work/.tmp_vmlinux3"
fi
vmlinux_link "$work/vmlinux" "$last.kallsyms.o"
nm -n "$work/vmlinux" | sed -f "$mksysmap" > "$work/System.map"
echo "final: $(wc -l < "$work/System.map") symbols"
echo "links: $links"
ms=$(( ($(date +%s%N) - start) / 1000000 )); printf "time: %d.%03d s\n" $((ms / 1000)) $((ms % 1000))
if ! cmp -s "$work/System.map" "$last.syms"; then
    echo "Inconsistent kallsyms data"
    echo 'Try "make KALLSYMS_EXTRA_PASS=1" as a workaround'
    exit 1
fi
echo "consistent"
