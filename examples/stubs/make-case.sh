#!/usr/bin/env bash
# Writes a synthetic kernel-shaped image whose kallsyms table sits between .text and a far
# .init.text, so that each growth of the table pushes more calls out of branch range and the
# linker adds stubs (new symbols, for some linkers, that grow the table again).
#   examples/stubs/make-case.sh ARCH DIR [N] [SPACING] [STRIDE] [HEADROOM]
#     ARCH: ppc64le (bl reaches +-32 MiB) or aarch64 (bl reaches +-128 MiB)
#     N: calls (default 3000); SPACING: bytes between call targets (default 64); STRIDE: bytes
#     between callers (default 16). Both multiples of 4, at least one instruction's worth.
#     HEADROOM: bytes of table the farthest call stays in range for (default 8192); close to
#     the first table's size, the first pass pushes out only a few calls and the cascade starts
#     small and gathers pace, as in a kernel whose far calls sit just inside the range.
# Call k goes from init_call_k to target_k, so its distance shrinks by SPACING - STRIDE per k:
# a table growing by d bytes pushes about d / (SPACING - STRIDE) more calls out of range. The
# smaller that difference, the more stubs (and table bytes) each byte of growth brings, and the
# longer plain iteration takes to settle.
# Makes DIR/case.o (assembled with the target's GNU as) and DIR/case.lds. The gap is made by
# placing .init.text by address in its own segment, so the image stays small on disk.
set -euo pipefail
arch=$1 dir=$2 n=${3:-3000} spacing=${4:-64} stride=${5:-16} headroom=${6:-8192}
mkdir -p "$dir"
case "$arch" in
    ppc64le) as=powerpc64le-linux-gnu-as limit=$((32 << 20)) call='bl target_%d; nop' callsize=8 ;;
    aarch64) as=aarch64-linux-gnu-as limit=$((128 << 20)) call='bl target_%d' callsize=4 ;;
    *) echo "make-case: unknown arch $arch" >&2; exit 2 ;;
esac
for v in "$spacing" "$stride"; do
    if [ $((v % 4)) != 0 ] || [ "$v" -lt 4 ]; then echo "make-case: $v is not a positive multiple of 4" >&2; exit 2; fi
done
[ "$stride" -ge "$callsize" ] || { echo "make-case: a caller needs $callsize bytes (STRIDE $stride)" >&2; exit 2; }
# Padding with nops (instructions, so no mapping symbols) keeps every spacing exact; the first
# target is aligned to the largest power of two (up to 64) dividing SPACING, as .balign did.
align=$((spacing & -spacing)); [ "$align" -le 64 ] || align=64
text_size=$((n * spacing + 64))
# The farthest call (caller 0 -> target 0) stays in range while the table is under HEADROOM
# bytes (the empty table of pass 0 is under 4 KiB); beyond that calls are pushed out.
gap=$((limit - text_size - headroom))
awk -v n="$n" -v spacing="$spacing" -v align="$align" -v call="$call" -v stride="$stride" -v callsize="$callsize" 'BEGIN {
    print "\t.section .text, \"ax\""
    print "\t.globl _start\n_start:\n\tnop"
    printf "\t.balign %d\n", align
    for (k = 0; k < n; k++) {
        printf "\t.globl target_%d\n\t.type target_%d, %%function\ntarget_%d:\n\tnop\n", k, k, k
        if (spacing > 4) printf "\t.rept %d\n\tnop\n\t.endr\n", spacing / 4 - 1
    }
    print "\t.section .init.text, \"ax\""
    print "\t.balign 16"
    for (k = 0; k < n; k++) {
        printf "\t.globl init_call_%d\n\t.type init_call_%d, %%function\ninit_call_%d:\n\t", k, k, k
        printf call "\n", k
        if (stride > callsize) printf "\t.rept %d\n\tnop\n\t.endr\n", (stride - callsize) / 4
    }
    print "\t.section .note.GNU-stack, \"\", %progbits"
}' > "$dir/case.s"
"$as" -o "$dir/case.o" "$dir/case.s"
cat > "$dir/case.lds" <<LDS
ENTRY(_start)
PHDRS { text PT_LOAD; init PT_LOAD; }
SECTIONS
{
    . = 0x10000000;
    _text = .;
    .text : { _stext = .; *(.text .text.*) _etext = .; } :text
    .rodata : { *(.rodata .rodata.*) } :text
    . = . + $gap;
    .init.text : { _sinittext = .; *(.init.text) _einittext = .; } :init
    _end = .;
    /DISCARD/ : { *(.note.*) *(.comment) *(.eh_frame) }
}
LDS
echo "$dir/case.o $dir/case.lds"
