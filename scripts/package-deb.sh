#!/usr/bin/env bash
# Builds a Debian package of the command: the statically linked binary (scripts/install.sh), its
# man page and bash/zsh/fish completions. It needs no Swift on the machine it is installed on;
# Depends lists what the binary links (glibc and the compression libraries zlib, liblzma,
# libzstd, liblz4, libbz2), as dpkg-shlibdeps computes it from the binary itself.
#
#   scripts/package-deb.sh [OUTDIR]     -> OUTDIR/kallsyms_VERSION_ARCH.deb (default: out/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/out}"
die() { echo "package-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install dpkg-dev; scripts/setup.sh installs it)"
done
version="$(sed -n 's/^let kallsymsVersion = "\(.*\)"$/\1/p' "$root/Sources/kallsyms/Version.swift")"
[ -n "$version" ] || die "no kallsymsVersion in Sources/kallsyms/Version.swift"
arch="$(dpkg --print-architecture)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
bash "$root/scripts/install.sh" --prefix /usr --destdir "$stage/root" --zsh-dir vendor-completions
gzip -9n "$stage/root/usr/share/man/man1/kallsyms.1"

# dpkg-shlibdeps wants a source package's debian/control beside it; it prints shlibs:Depends=…
mkdir -p "$stage/src/debian"
printf 'Source: kallsyms\n\nPackage: kallsyms\nArchitecture: any\n' >"$stage/src/debian/control"
depends="$(cd "$stage/src" && dpkg-shlibdeps -O "$stage/root/usr/bin/kallsyms" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
names=" $(sed 's/ ([^)]*)//g; s/,/ /g' <<<"$depends" | tr -s ' ') "
for lib in libc6 zlib1g liblzma5 libzstd1 liblz4-1 libbz2-1.0; do
    [[ "$names" == *" $lib "* ]] || die "Depends lacks $lib: $depends"
done

mkdir -p "$stage/root/DEBIAN"
cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: kallsyms
Version: $version
Architecture: $arch
Maintainer: $(git -C "$root" log -1 --format='%an <%ae>' 2>/dev/null || echo 'swift-kallsyms maintainers')
Installed-Size: $(du -sk --exclude=DEBIAN "$stage/root" | cut -f1)
Depends: $depends
Section: devel
Priority: optional
Description: Linux kernel symbol tables (kallsyms): generate, link, diff and read them
 A byte-identical drop-in for the kernel's scripts/kallsyms (formats of 6.1 to 7.3), a link
 driver that iterates the kernel's kallsyms link to a verified fixed point, a differ that
 explains "Inconsistent kallsyms data", and a reader of kernel images of any architecture
 (info, dump, lookup, symbolize, elf). Statically linked Swift runtime: no Swift needed.
CONTROL
mkdir -p "$out"
deb="$out/kallsyms_${version}_${arch}.deb"
# File times from the commit (dpkg-deb clamps to SOURCE_DATE_EPOCH): the same source, the same package.
SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)" \
    dpkg-deb --root-owner-group -Zxz --build "$stage/root" "$deb.tmp" >/dev/null
mv "$deb.tmp" "$deb"
echo "package-deb: $deb ($(du -h "$deb" | cut -f1)); Depends: $depends"
