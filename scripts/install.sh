#!/usr/bin/env bash
# Builds a release `kallsyms` with the Swift runtime and Foundation linked in statically, so it
# runs on a machine without Swift (only glibc and the system compression libraries), and installs
# it with its man page and bash/zsh/fish completions, all generated from the command's own
# definition (swift-argument-parser's generate-manual and --generate-completion-script).
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR] [--zsh-dir SUBDIR]
#     --prefix   where the files go (default /usr/local): bin/kallsyms, share/man/man1/kallsyms.1,
#                share/bash-completion/completions/kallsyms, share/zsh/site-functions/_kallsyms,
#                share/fish/vendor_completions.d/kallsyms.fish
#     --destdir  a staging root prepended to every path (for packaging, as make's DESTDIR)
#     --zsh-dir  the zsh directory under PREFIX/share/zsh (default site-functions; Debian's
#                packages use vendor-completions)
# Builds into .build-install (its own scratch directory: static linking would relink the
# development build). Fails if the binary still needs anything from the toolchain directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/usr/local destdir= zshdir=site-functions
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
        --zsh-dir) zshdir=${2:?--zsh-dir needs a name}; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "install: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "install: $*" >&2; exit 1; }
command -v swift >/dev/null || die "swift is not on PATH (building needs a Swift 6 toolchain; installing the .deb does not)"
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac

scratch="$root/.build-install"
mkdir -p "$scratch"
cd "$root"
build() { # product
    swift build -c release --static-swift-stdlib --product "$1" --scratch-path "$scratch" >"$scratch/build.log" 2>&1 \
        || { tail -n 40 "$scratch/build.log" >&2; die "building $1 failed (log: $scratch/build.log)"; }
}
build kallsyms
bin="$scratch/release/kallsyms"
# The man page comes from swift-argument-parser's generate-manual, the tool behind its
# GenerateManual plugin, built with the same flags so it reuses the objects just built (the plugin
# would build the whole package again without --static-swift-stdlib). Dated by the commit, so the
# same source gives the same page.
build generate-manual
date="$(git -C "$root" log -1 --format=%cs 2>/dev/null || true)"
manuals="$(mktemp -d)"
trap 'rm -rf "$manuals"' EXIT
"$scratch/release/generate-manual" "$bin" ${date:+--date "$date"} --output-directory "$manuals" >/dev/null
manual="$manuals/kallsyms.1"
[ -s "$manual" ] || die "generate-manual wrote no kallsyms.1"

# Nothing may come from the toolchain: resolve it from the compiler, and check every library ldd finds.
toolchain="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"
if ldd "$bin" | grep -F "$toolchain" >&2; then die "$bin still links the libraries above from $toolchain"; fi
if ldd "$bin" | grep -F "not found" >&2; then die "$bin needs libraries that are not installed"; fi

completions="$manuals"
for shell in bash zsh fish; do
    "$bin" --generate-completion-script "$shell" >"$completions/$shell"
    [ -s "$completions/$shell" ] || die "no $shell completion script"
done

dest="$destdir$prefix"
install -D -m 755 "$bin" "$dest/bin/kallsyms"
install -D -m 644 "$manual" "$dest/share/man/man1/kallsyms.1"
install -D -m 644 "$completions/bash" "$dest/share/bash-completion/completions/kallsyms"
install -D -m 644 "$completions/zsh" "$dest/share/zsh/$zshdir/_kallsyms"
install -D -m 644 "$completions/fish" "$dest/share/fish/vendor_completions.d/kallsyms.fish"
echo "install: $("$dest/bin/kallsyms" --version) -> $dest ($(du -h "$dest/bin/kallsyms" | cut -f1) binary)"
