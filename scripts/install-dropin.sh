#!/usr/bin/env bash
# Replaces a configured kernel tree's scripts/kallsyms with a tiny wrapper around `kallsyms gen`:
# the same arguments, the same assembly on stdout, the same warnings, exit status 1 on failure
# (what scripts/link-vmlinux.sh relies on).
#
#   scripts/install-dropin.sh KERNEL_TREE [KALLSYMS_BINARY]
#
# Run it after `make scripts` (or any build step that built the host tools): Kbuild only rebuilds
# scripts/kallsyms when its source or command line changes, so the wrapper then stays in place.
# The format follows the tree's version: 6.12 and later use linux-6.12, 6.1 to 6.11 linux-6.1
# (their output is the 6.1 layout only for 6.1.y; the script refuses versions whose layout we do
# not reproduce, 6.2 to 6.11, unless KALLSYMS_FORMAT is set).
set -euo pipefail
tree=${1:?usage: $0 KERNEL_TREE [KALLSYMS_BINARY]}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$here/.build/release/kallsyms}
[ -x "$bin" ] || { echo "install-dropin: $bin is not executable (swift build -c release first)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mk="$tree/Makefile"
[ -f "$mk" ] || { echo "install-dropin: $tree has no Makefile" >&2; exit 2; }
version=$(awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3} END{print v"."p}' "$mk")
format=${KALLSYMS_FORMAT:-}
if [ -z "$format" ]; then
    case "$version" in
        6.1) format=linux-6.1 ;;
        6.1[2-9]|6.[2-9][0-9]|[7-9].*) format=linux-6.12 ;;
        *) echo "install-dropin: Linux $version: no matching format (set KALLSYMS_FORMAT)" >&2; exit 2 ;;
    esac
fi
target="$tree/scripts/kallsyms"
tmp="$target.dropin.$$"
cat > "$tmp" <<WRAP
#!/bin/sh
# swift-kallsyms drop-in for scripts/kallsyms (Linux $version, $format).
exec_status=0
"$bin" gen --format $format "\$@" || exec_status=1
exit \$exec_status
WRAP
chmod +x "$tmp"
mv "$tmp" "$target"
echo "installed: $target -> $bin gen --format $format"
