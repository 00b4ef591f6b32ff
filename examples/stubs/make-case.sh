#!/usr/bin/env bash
# Writes a synthetic kernel-shaped image whose kallsyms table sits between .text and a far
# .init.text, so that each growth of the table pushes more calls out of branch range and the
# linker adds stubs (new symbols, for some linkers, that grow the table again).
#   examples/stubs/make-case.sh ARCH DIR [N] [SPACING]
#     ARCH: ppc64le (bl reaches +-32 MiB) or aarch64 (bl reaches +-128 MiB)
#     N: calls (default 3000); SPACING: bytes between call targets (default 64)
# Makes DIR/case.o (assembled with the target's GNU as) and DIR/case.lds. The gap is made by
# placing .init.text by address in its own segment, so the image stays small on disk.
set -euo pipefail
arch=$1 dir=$2 n=${3:-3000} spacing=${4:-64}
mkdir -p "$dir"
case "$arch" in
    ppc64le) as=powerpc64le-linux-gnu-as limit=$((32 << 20)) call='bl target_%d; nop' caller=16 ;;
    aarch64) as=aarch64-linux-gnu-as limit=$((128 << 20)) call='bl target_%d' caller=16 ;;
    *) echo "make-case: unknown arch $arch" >&2; exit 2 ;;
esac
text_size=$((n * spacing + 64))
# The farthest call (caller 0 -> target 0) is just in range with an empty table: the empty
# table of pass 0 is under 4 KiB, so everything beyond that is pushed out as the table grows.
gap=$((limit - text_size - 8192))
awk -v n="$n" -v spacing="$spacing" -v call="$call" -v caller="$caller" 'BEGIN {
    print "\t.section .text, \"ax\""
    print "\t.globl _start\n_start:\n\tnop"
    printf "\t.balign %d\n", spacing
    for (k = 0; k < n; k++) {
        printf "\t.globl target_%d\n\t.type target_%d, %%function\ntarget_%d:\n\tnop\n\t.balign %d\n", k, k, k, spacing
    }
    print "\t.section .init.text, \"ax\""
    for (k = 0; k < n; k++) {
        printf "\t.globl init_call_%d\n\t.type init_call_%d, %%function\ninit_call_%d:\n\t", k, k, k
        printf call "\n", k
        printf "\t.balign %d\n", caller
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
