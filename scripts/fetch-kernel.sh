#!/usr/bin/env bash
# Fetches one of Debian's real kernels into the cache (never into the repository) and prints the
# paths it made:
#   scripts/fetch-kernel.sh VERSION ARCH [--map] [--vmlinux]
#     VERSION: 6.12 (amd64 only: bookworm carries 6.12 for amd64) or 6.1
#     ARCH:    amd64 arm64 armhf i386 ppc64el s390x armel mipsel mips64el, each with its usual
#              flavour (armel: marvell, mipsel: 4kc-malta, mips64el: 5kc-malta), or ARCH:FLAVOUR
#              for another of the architecture's flavours (mips64el:loongson-3, mipsel:octeon,
#              armel:rpi, amd64:cloud-amd64, arm64:rt-arm64, ...)
#   -> $cache/kernels/VERSION-ARCH[-FLAVOUR]/image
#                                             the boot image as shipped (bzImage, Image, zImage,
#                                             s390 image, MIPS vmlinuz decompressor or vmlinux,
#                                             or ppc64el's stripped vmlinux ELF)
#   -> $cache/kernels/VERSION-ARCH/System.map with --map, from the -dbg package (large download)
#   -> $cache/kernels/VERSION-ARCH/vmlinux    with --vmlinux, the unstripped ELF from -dbg
# Foreign architectures are added with dpkg --add-architecture; a package index that is
# momentarily broken (mirror sync) is retried. Cache: ${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}.
set -euo pipefail
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
[ $# -ge 2 ] || { echo "usage: $0 VERSION ARCH [--map] [--vmlinux]" >&2; exit 2; }
version=$1 arch=${2%%:*} want_map=0 want_vmlinux=0
for a in "${@:3}"; do
    case "$a" in
        --map) want_map=1 ;;
        --vmlinux) want_vmlinux=1 ;;
        *) echo "fetch-kernel: unknown option $a" >&2; exit 2 ;;
    esac
done
die() { echo "fetch-kernel: $*" >&2; exit 1; }

case "$arch" in
    amd64) flavour=amd64 pkgsuffix=-unsigned ;;
    arm64) flavour=arm64 pkgsuffix=-unsigned ;;
    i386) flavour=686-pae pkgsuffix=-unsigned ;;
    armhf) flavour=armmp pkgsuffix= ;;
    ppc64el) flavour=powerpc64le pkgsuffix= ;;
    s390x) flavour=s390x pkgsuffix= ;;
    armel) flavour=marvell pkgsuffix= ;;
    mipsel) flavour=4kc-malta pkgsuffix= ;;
    mips64el) flavour=5kc-malta pkgsuffix= ;;
    *) die "unknown architecture $arch" ;;
esac
dir="$version-$arch"
if [ "$2" != "$arch" ]; then
    flavour=${2#*:}
    [[ "$flavour" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "bad flavour '$flavour'"
    dir="$version-$arch-$flavour"
fi
# The builds our notes and figures come from; the newest of the series if they left the archive.
case "$version" in
    6.1) pinned="6.1.0-50" pattern='6\.1\.0-[0-9]+' ;;
    6.12) pinned="6.12.107+deb12" pattern='6\.12\.[0-9]+\+deb12' ;;
    *) die "unknown version $version (6.1 or 6.12)" ;;
esac

out="$cache/kernels/$dir"
mkdir -p "$cache/debs" "$out"
# Tests run in parallel and may ask for the same kernel at once: one fetch at a time.
exec 9>"$cache/.fetch-kernel.lock"
flock 9

ensure_arch() {
    [ "$arch" = "$(dpkg --print-architecture)" ] && return 0
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        dpkg --add-architecture "$arch"
    fi
}
update_lists() {
    local i
    for i in 1 2 3 4 5; do
        apt-get update -q >/dev/null 2>&1 && return 0
        # A partial failure (one index mid-sync) still leaves usable lists for the others.
        apt-cache show "linux-image-$pinned-$flavour$pkgsuffix:$arch" >/dev/null 2>&1 && return 0
        sleep $((i * 5))
    done
    return 1
}
download() { # package -> prints the .deb path
    local pkg=$1 deb
    deb=$(ls "$cache/debs/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        ( cd "$cache/debs" && apt-get download -q "$pkg:$arch" >/dev/null 2>&1 ) || return 1
        deb=$(ls "$cache/debs/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1 || true)
    fi
    [ -n "$deb" ] && echo "$deb"
}
extract() { # deb member dest
    local tmp
    tmp=$(mktemp -d "$cache/.extract.XXXXXX")
    # tar stops at the member (--occurrence): dpkg-deb then dies of SIGPIPE, which is fine.
    { dpkg-deb --fsys-tarfile "$1" 2>/dev/null || true; } | { tar -x --occurrence=1 -C "$tmp" "$2" 2>/dev/null || true; }
    [ -s "$tmp/$2" ] || { rm -rf "$tmp"; return 1; }
    mv "$tmp/$2" "$3.tmp.$$" && mv "$3.tmp.$$" "$3"
    rm -rf "$tmp"
}

ensure_arch
abi=$pinned
image_pkg="linux-image-$abi-$flavour$pkgsuffix"
deb=$(download "$image_pkg" || true)
if [ -z "$deb" ]; then
    update_lists || true
    deb=$(download "$image_pkg" || true)
fi
if [ -z "$deb" ]; then
    abi=$(apt-cache pkgnames linux-image- | grep -E "^linux-image-$pattern-$flavour$pkgsuffix\$" \
        | sed "s/^linux-image-//; s/-$flavour$pkgsuffix\$//" | sort -V | tail -n1)
    [ -n "$abi" ] || die "no linux-image-$version*-$flavour$pkgsuffix for $arch in the apt lists"
    image_pkg="linux-image-$abi-$flavour$pkgsuffix"
    deb=$(download "$image_pkg") || die "cannot download $image_pkg:$arch"
fi

if [ ! -s "$out/image" ]; then
    extract "$deb" "./boot/vmlinuz-$abi-$flavour" "$out/image" \
        || extract "$deb" "./boot/vmlinux-$abi-$flavour" "$out/image" \
        || die "no kernel image in $deb"
    echo "$abi-$flavour" > "$out/abi"
fi
echo "$out/image"
if [ $want_map = 1 ]; then
    if [ ! -s "$out/System.map" ]; then
        abi=$(cat "$out/abi")
        dbg=$(download "linux-image-$abi-dbg") || die "cannot download linux-image-$abi-dbg:$arch"
        extract "$dbg" "./usr/lib/debug/boot/System.map-$abi" "$out/System.map" \
            || die "no System.map in $dbg"
    fi
    echo "$out/System.map"
fi
if [ $want_vmlinux = 1 ]; then
    if [ ! -s "$out/vmlinux" ]; then
        abi=$(cat "$out/abi")
        dbg=$(download "linux-image-$abi-dbg") || die "cannot download linux-image-$abi-dbg:$arch"
        extract "$dbg" "./usr/lib/debug/boot/vmlinux-$abi" "$out/vmlinux" \
            || die "no vmlinux in $dbg"
    fi
    echo "$out/vmlinux"
fi
