#!/usr/bin/env bash
# Fetches real kernel data from Debian into the cache (never into the repository):
#   System.map of linux-image-6.12.*-amd64-dbg           -> $cache/data/System.map-6.12
#   with --vmlinux: the matching vmlinux (353 MB)          -> $cache/data/vmlinux-6.12
#   with --vmlinuz: the -unsigned package's vmlinuz        -> $cache/data/vmlinuz-6.12
# Cache: ${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}. Idempotent and atomic (temp + rename).
set -euo pipefail
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
want_vmlinux=0 want_vmlinuz=0
for a in "$@"; do
    case "$a" in
        --vmlinux) want_vmlinux=1 ;;
        --vmlinuz) want_vmlinuz=1 ;;
        *) echo "usage: $0 [--vmlinux] [--vmlinuz]" >&2; exit 2 ;;
    esac
done
mkdir -p "$cache/debs" "$cache/data"
die() { echo "fetch-debian-data: $*" >&2; exit 1; }

# The build the spec's figures come from; the newest 6.12 amd64 build if it has left the archive.
abi="6.12.107+deb12-amd64"
download() { # package -> .deb path
    local pkg=$1 deb
    deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        ( cd "$cache/debs" && { apt-get download "$pkg" >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 || true; apt-get download "$pkg" >/dev/null 2>&1; }; } ) \
            || return 1
        deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    fi
    [ -n "$deb" ] && echo "$deb"
}
dbg=$(download "linux-image-$abi-dbg" || true)
if [ -z "$dbg" ]; then
    abi=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-dbg$' | awk '{print $1}' \
        | sed 's/^linux-image-//; s/-dbg$//' | sort -V | tail -n1)
    [ -n "$abi" ] || die "no linux-image-6.12.*-amd64-dbg package in the apt lists (run apt-get update)"
    dbg=$(download "linux-image-$abi-dbg") || die "cannot download linux-image-$abi-dbg"
fi

extract() { # deb member dest
    local tmp
    tmp=$(mktemp -d "$cache/.extract.XXXXXX")
    # tar stops at the member (--occurrence): dpkg-deb then dies of SIGPIPE, which is fine.
    { dpkg-deb --fsys-tarfile "$1" 2>/dev/null || true; } | { tar -x --occurrence=1 -C "$tmp" "$2" 2>/dev/null || true; }
    [ -s "$tmp/$2" ] || { rm -rf "$tmp"; die "cannot extract $2 from $1"; }
    mv "$tmp/$2" "$3.tmp.$$" && mv "$3.tmp.$$" "$3"
    rm -rf "$tmp"
}

if [ ! -s "$cache/data/System.map-6.12" ]; then
    extract "$dbg" "./usr/lib/debug/boot/System.map-$abi" "$cache/data/System.map-6.12"
    echo "$abi" > "$cache/data/System.map-6.12.version"
fi
echo "$cache/data/System.map-6.12"
if [ $want_vmlinux = 1 ] && [ ! -s "$cache/data/vmlinux-6.12" ]; then
    extract "$dbg" "./usr/lib/debug/boot/vmlinux-$abi" "$cache/data/vmlinux-6.12"
fi
[ $want_vmlinux = 1 ] && echo "$cache/data/vmlinux-6.12"
if [ $want_vmlinuz = 1 ] && [ ! -s "$cache/data/vmlinuz-6.12" ]; then
    unsigned=$(download "linux-image-$abi-unsigned") || die "cannot download linux-image-$abi-unsigned"
    extract "$unsigned" "./boot/vmlinuz-$abi" "$cache/data/vmlinuz-6.12"
fi
[ $want_vmlinuz = 1 ] && echo "$cache/data/vmlinuz-6.12"
exit 0
