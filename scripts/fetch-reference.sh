#!/usr/bin/env bash
# Builds the kernel's own scripts/kallsyms (Linux 6.12 and 6.1) from Debian's linux-source
# packages into a cache outside the repository. These binaries are black-box oracles for the
# differential tests and the benchmark; no kernel source is ever copied into the repository.
#
#   scripts/fetch-reference.sh [6.12|6.1|all]      prints the paths of the built binaries
#
# Cache: ${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}. Idempotent; every result is written to
# a temporary name and renamed, so an interrupted run never leaves a broken binary behind.
set -euo pipefail
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
which="${1:-all}"
mkdir -p "$cache/debs" "$cache/bin"

die() { echo "fetch-reference: $*" >&2; exit 1; }

# The versions the spec was measured against; the apt candidate if those are gone.
declare -A preferred=([6.12]="6.12.117-1~deb12u1" [6.1]="6.1.192-2")

fetch_deb() { # package version-preference -> path of the .deb
    local pkg=$1 want=$2 deb
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -n "$deb" ]; then echo "$deb"; return; fi
    ( cd "$cache/debs" && { apt-get download "$pkg=$want" >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 || true; apt-get download "$pkg=$want" >/dev/null 2>&1; } \
        || apt-get download "$pkg" >/dev/null 2>&1; } ) \
        || die "cannot download $pkg (apt-get download $pkg failed; is the Debian archive reachable?)"
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    [ -n "$deb" ] || die "no .deb for $pkg after download"
    echo "$deb"
}

build() { # 6.12 | 6.1
    local v=$1
    local out="$cache/bin/kallsyms-$v"
    if [ -x "$out" ]; then echo "$out"; return; fi
    command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc)"
    local deb src tmp
    deb=$(fetch_deb "linux-source-$v" "${preferred[$v]}")
    src="$cache/src-$v"
    if [ ! -f "$src/scripts/kallsyms.c" ]; then
        tmp=$(mktemp -d "$cache/.src-$v.XXXXXX")
        # Only the few files we need, not the 150 MB tree.
        dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/linux-source-$v.tar.xz" \
            | tar -xJ -C "$tmp" --strip-components=1 --wildcards \
                "linux-source-$v/scripts/kallsyms.c" "linux-source-$v/scripts/include/*" \
                "linux-source-$v/scripts/mksysmap" "linux-source-$v/scripts/link-vmlinux.sh" \
                "linux-source-$v/kernel/kallsyms.c" "linux-source-$v/kernel/kallsyms_internal.h" \
                2>/dev/null || true
        [ -f "$tmp/scripts/kallsyms.c" ] || die "scripts/kallsyms.c not found in $deb"
        rm -rf "$src"
        mv "$tmp" "$src"
    fi
    # Kbuild's host flags (as the kernel's Makefile sets them); 6.12 needs scripts/include for xalloc.h.
    local inc=()
    [ -d "$src/scripts/include" ] && inc=(-I "$src/scripts/include")
    gcc -O2 -Wall -Wmissing-prototypes -Wstrict-prototypes -fomit-frame-pointer -std=gnu11 \
        "${inc[@]}" -o "$out.tmp.$$" "$src/scripts/kallsyms.c" || die "building kallsyms-$v failed"
    mv "$out.tmp.$$" "$out"
    echo "$out"
}

case "$which" in
    6.12|6.1) build "$which" ;;
    all) build 6.12; build 6.1 ;;
    *) die "usage: $0 [6.12|6.1|all]" ;;
esac
