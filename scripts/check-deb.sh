#!/usr/bin/env bash
# Installs the .deb (scripts/package-deb.sh) into a fresh minimal Debian chroot that has no Swift,
# and runs it there: `kallsyms --version`, `kallsyms gen` on the bundled example map and
# `kallsyms info` on Debian's 6.12 amd64 bzImage (scripts/fetch-kernel.sh). The outputs must equal,
# byte for byte, what the development build prints on this machine. As root (chroot).
#
#   scripts/check-deb.sh [DEB]        (default: builds out/kallsyms_VERSION_ARCH.deb first)
#
# The chroot comes from `debootstrap --variant=minbase` once; its tarball is kept in
# ${KALLSYMS_CACHE:-~/.cache/swift-kallsyms}/debootstrap and unpacked afresh for every run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
die() { echo "check-deb: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
suite=bookworm mirror=http://deb.debian.org/debian
arch="$(dpkg --print-architecture)"

if [ $# -gt 0 ]; then deb="$(readlink -f "$1")"; else
    bash "$root/scripts/package-deb.sh" "$root/out"
    version="$(sed -n 's/^let kallsymsVersion = "\(.*\)"$/\1/p' "$root/Sources/kallsyms/Version.swift")"
    deb="$root/out/kallsyms_${version}_${arch}.deb"
fi
[ -f "$deb" ] || die "no package at $deb"

tarball="$cache/debootstrap/$suite-minbase-$arch.tar"
if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    mkdir -p "$cache/debootstrap"
    fresh="$(mktemp -d "$cache/debootstrap/.make-XXXXXX")"
    echo "check-deb: debootstrap $suite (minbase) into the cache, once"
    debootstrap --variant=minbase --arch="$arch" "$suite" "$fresh/root" "$mirror" >"$fresh/log" 2>&1 \
        || { tail -n 20 "$fresh/log" >&2; die "debootstrap failed"; }
    tar -C "$fresh/root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$fresh"
fi

image="$(bash "$root/scripts/fetch-kernel.sh" 6.12 amd64 | tail -n 1)" || die "cannot fetch Debian's 6.12 amd64 kernel"
[ -f "$image" ] || die "no 6.12 amd64 kernel image at '$image'"

work="$(mktemp -d)"
chroot="$work/root"
# A real system has /proc, and the Swift runtime reads the arguments from /proc/self/cmdline.
trap 'umount "$chroot/proc" 2>/dev/null || true; rm -rf --one-file-system "$work"' EXIT
mkdir "$chroot"
tar -C "$chroot" -xf "$tarball"
# No Swift in there: neither a compiler nor a runtime library.
if find "$chroot" \( -name 'swift*' -o -name 'libswift*' -o -name 'libFoundation*' \) -print | grep .; then
    die "the chroot has Swift files"
fi
mount -t proc proc "$chroot/proc"
cp "$deb" "$chroot/tmp/kallsyms.deb"
cp "$root/examples/example.map" "$chroot/tmp/example.map"
cp "$image" "$chroot/tmp/vmlinuz"
in_chroot() { chroot "$chroot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
in_chroot dpkg -i /tmp/kallsyms.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; die "dpkg -i failed"; }
in_chroot test -f /usr/share/man/man1/kallsyms.1.gz || die "no man page installed"
in_chroot test -f /usr/share/bash-completion/completions/kallsyms || die "no bash completion installed"
in_chroot test -f /usr/share/zsh/vendor-completions/_kallsyms || die "no zsh completion installed"
in_chroot test -f /usr/share/fish/vendor_completions.d/kallsyms.fish || die "no fish completion installed"

in_chroot kallsyms --version | tee "$work/version"
grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}(-dirty)?\)$' "$work/version" || die "unexpected --version output"
in_chroot kallsyms gen --all-symbols --absolute-percpu /tmp/example.map >"$work/gen.S"
in_chroot kallsyms info /tmp/vmlinuz >"$work/info.txt"
grep -q . "$work/info.txt" || die "info printed nothing"

# The same outputs as the binary built here (which the test suite checks against the kernel's own
# tool and Debian's System.map).
host="$root/.build-install/release/kallsyms"
[ -x "$host" ] || die "no host binary at $host"
"$host" gen --all-symbols --absolute-percpu "$root/examples/example.map" | cmp - "$work/gen.S" || die "gen differs from the host's"
"$host" info "$image" | cmp - "$work/info.txt" || die "info differs from the host's"
echo "check-deb: installed $(basename "$deb") into a Swift-free $suite chroot; --version, gen ($(wc -l <"$work/gen.S") lines) and info ($(head -n 1 "$work/info.txt")) agree with the host"
