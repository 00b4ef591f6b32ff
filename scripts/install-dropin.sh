#!/usr/bin/env bash
# Replaces a configured kernel tree's scripts/kallsyms with a tiny wrapper around `kallsyms gen`:
# the same arguments, the same assembly on stdout, the same warnings, exit status 1 on failure
# (what scripts/link-vmlinux.sh relies on).
#
#   scripts/install-dropin.sh KERNEL_TREE [KALLSYMS_BINARY]
#
# Run it after `make scripts` (or any build step that built the host tools): Kbuild only rebuilds
# scripts/kallsyms when its source or command line changes, so the wrapper then stays in place.
# The format follows the tree's version: 6.1.y linux-6.1; 6.2 to 6.14 linux-6.12; 6.15 to 6.19
# linux-6.15; 7.0 to 7.2 linux-7.0; 7.3 and later linux-7.3 (the two-file form `kallsyms [flags]
# [--sysmap=FILE] vmlinux out.bin > out.S`, and `kallsyms --sysmap=FILE vmlinux`). Older trees are
# refused unless KALLSYMS_FORMAT is set. The wrapper passes the kernel's own arguments through.
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
    major=${version%%.*} minor=${version#*.}
    case "$major.$minor" in
        *[!0-9.]*|.*|*.) echo "install-dropin: cannot read the version from $mk" >&2; exit 2 ;;
    esac
    if [ "$major" -eq 6 ] && [ "$minor" -eq 1 ]; then format=linux-6.1
    elif [ "$major" -eq 6 ] && [ "$minor" -ge 2 ] && [ "$minor" -le 14 ]; then format=linux-6.12
    elif [ "$major" -eq 6 ] && [ "$minor" -ge 15 ]; then format=linux-6.15
    elif [ "$major" -eq 7 ] && [ "$minor" -le 2 ]; then format=linux-7.0
    elif [ "$major" -ge 8 ] || { [ "$major" -eq 7 ] && [ "$minor" -ge 3 ]; }; then format=linux-7.3
    else echo "install-dropin: Linux $version: no matching format (set KALLSYMS_FORMAT)" >&2; exit 2
    fi
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
