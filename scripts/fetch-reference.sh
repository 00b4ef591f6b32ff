#!/usr/bin/env bash
# Builds the kernel's own scripts/kallsyms into a cache outside the repository: 6.12 and 6.1
# from Debian's linux-source packages, 6.15, 7.0 and 7.3 from the kernel sources kept next to
# the checkout (../shared/reference, see its README) or from a kernel tree. These binaries are
# black-box oracles for the differential tests and the benchmark; no kernel source is ever
# copied into the repository.
#
#   scripts/fetch-reference.sh [6.12|6.1|6.15|7.0|7.3|all]   prints the paths of the built binaries
#   scripts/fetch-reference.sh --from-tree DIR VERSION        (re)builds kallsyms-VERSION from the
#                                                             kernel source tree DIR
#
# Sources of 6.15/7.0/7.3: $KALLSYMS_REFERENCE_SRC (a folder holding linux-6.15/, linux-7.0/,
# linux-7.3/), else ../shared/reference beside the repository when it exists. `all` builds every
# version whose sources are available and says on stderr which it skipped.
#
# Cache: ${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}. Idempotent; every result is written to
# a temporary name and renamed, so an interrupted run never leaves a broken binary behind.
set -euo pipefail
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "fetch-reference: $*" >&2; exit 1; }
usage() { die "usage: $0 [6.12|6.1|6.15|7.0|7.3|all] | --from-tree DIR VERSION"; }

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

# Kbuild's host flags (`getconf LFS_CFLAGS` is empty on x86-64).
hostcc() { # output include-dirs... -- sources...
    local out=$1; shift
    local flags=() srcs=()
    while [ "$1" != "--" ]; do [ -d "$1" ] && flags+=(-I "$1"); shift; done
    shift
    srcs=("$@")
    command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc)"
    gcc -O2 -Wall -Wmissing-prototypes -Wstrict-prototypes -fomit-frame-pointer -std=gnu11 \
        "${flags[@]}" -o "$out.tmp.$$" "${srcs[@]}" || { rm -f "$out.tmp.$$"; die "building $(basename "$out") failed"; }
    mv "$out.tmp.$$" "$out"
}

# Compiles kallsyms-VERSION from a kernel tree laid out as the kernel's (scripts/, tools/).
build_tree() { # dir version
    local dir=$1 v=$2 out="$cache/bin/kallsyms-$2"
    [ -f "$dir/scripts/kallsyms.c" ] || die "$dir/scripts/kallsyms.c not found (expected a kernel source tree)"
    local srcs=("$dir/scripts/kallsyms.c")
    # 7.3 reads the ELF itself, in two more files.
    if [ -f "$dir/scripts/kallsyms-sysmap.c" ]; then
        srcs+=("$dir/scripts/kallsyms-sysmap.c" "$dir/scripts/elf-parse.c")
    fi
    case "$v" in
        7.3) [ ${#srcs[@]} = 3 ] || die "$dir/scripts/kallsyms-sysmap.c not found: $dir is not a 7.3 tree" ;;
        6.15|7.0|6.12|6.1) [ ${#srcs[@]} = 1 ] || die "$dir has scripts/kallsyms-sysmap.c: it is not a $v tree" ;;
        *) die "unknown version '$v' (expected 6.1, 6.12, 6.15, 7.0 or 7.3)" ;;
    esac
    hostcc "$out" "$dir/scripts/include" "$dir/tools/include" -- "${srcs[@]}"
    echo "$out"
}

build_debian() { # 6.12 | 6.1
    local v=$1
    local out="$cache/bin/kallsyms-$v"
    if [ -x "$out" ]; then echo "$out"; return; fi
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
    # 6.12 needs scripts/include for xalloc.h; 6.1 has none.
    hostcc "$out" "$src/scripts/include" -- "$src/scripts/kallsyms.c"
    echo "$out"
}

# The folder holding linux-VERSION/ for the newer kernels, or nothing.
reference_src() {
    if [ -n "${KALLSYMS_REFERENCE_SRC:-}" ]; then
        [ -d "$KALLSYMS_REFERENCE_SRC" ] || die "KALLSYMS_REFERENCE_SRC=$KALLSYMS_REFERENCE_SRC is not a directory"
        echo "$KALLSYMS_REFERENCE_SRC"
    elif [ -d "$repo/../shared/reference" ]; then
        (cd "$repo/../shared/reference" && pwd)
    fi
}

build_newer() { # 6.15 | 7.0 | 7.3 [skip-if-missing]
    local v=$1 optional=${2:-} out="$cache/bin/kallsyms-$1" src
    if [ -x "$out" ]; then echo "$out"; return; fi
    src=$(reference_src)
    if [ -z "$src" ] || [ ! -f "$src/linux-$v/scripts/kallsyms.c" ]; then
        local why="$src/linux-$v/scripts/kallsyms.c does not exist"
        [ -n "$src" ] || why="KALLSYMS_REFERENCE_SRC is unset and $repo/../shared/reference does not exist"
        [ -n "$optional" ] && { echo "fetch-reference: skipping $v: $why" >&2; return; }
        die "no sources for kallsyms-$v: $why;" \
            "set KALLSYMS_REFERENCE_SRC to the folder holding linux-$v/, or use --from-tree DIR $v"
    fi
    build_tree "$src/linux-$v" "$v"
}

mkdir -p "$cache/debs" "$cache/bin"
case "${1:-all}" in
    6.12|6.1) [ $# -le 1 ] || usage; build_debian "$1" ;;
    6.15|7.0|7.3) [ $# -le 1 ] || usage; build_newer "$1" ;;
    all) [ $# -le 1 ] || usage; build_debian 6.12; build_debian 6.1; for v in 6.15 7.0 7.3; do build_newer $v optional; done ;;
    --from-tree) [ $# = 3 ] || usage; [ -d "$2" ] || die "--from-tree: $2 is not a directory"; build_tree "$2" "$3" ;;
    *) usage ;;
esac
