#!/usr/bin/env bash
# Checks the API documentation of the library modules:
#   1. every public (or open) declaration has a doc comment of its own: the symbol graphs of
#      `swift package dump-symbol-graph` are read by scripts/doc-coverage.py, which names each
#      undocumented declaration with its file:line;
#   2. DocC (swift-docc-plugin) builds the documentation without a warning (--warnings-as-errors):
#      a broken symbol link, an article or a doc comment DocC cannot resolve. (Compiler warnings
#      of the symbol-graph build are the compiler's business.)
#   scripts/check-docs.sh [--modules M1,M2,…] [OUTDIR]
#       --modules: check only these library modules (default: all five)
#       OUTDIR: where the archives go (default: .build/docs; one archive per module)
#   scripts/check-docs.sh --counts [--modules …]
#       only print, per module, the number of public declarations and of undocumented ones
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
modules=(KallsymsCore ELFKit KernelImage LinkDriver MapDiff)
counts=0 out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --modules) IFS=, read -r -a modules <<<"${2:?--modules needs a list}"; shift 2 ;;
    --modules=*) IFS=, read -r -a modules <<<"${1#--modules=}"; shift ;;
    --counts) counts=1; shift ;;
    -*) echo "check-docs: unknown option $1" >&2; exit 2 ;;
    *) out="$1"; shift ;;
    esac
done
[ ${#modules[@]} -gt 0 ] || { echo "check-docs: no modules" >&2; exit 2; }
out="${out:-$root/.build/docs}"
mkdir -p "$out"
cd "$root"
list="$(IFS=,; echo "${modules[*]}")"

# 1. Doc comments. Members a protocol's default implementation adds are not ours to document.
graphlog="$out/dump-symbol-graph.log"
# On a fresh clone it exits non-zero for the test products' synthesized modules
# (swift_kallsymsPackageTests, …), which have nothing to document; what counts is that every
# library module's graph was written by this run.
stamp="$out/dump-symbol-graph.stamp"
touch "$stamp"
swift package dump-symbol-graph --minimum-access-level public --skip-synthesized-members >"$graphlog" 2>&1 || true
graphs="$(sed -n 's/^Files written to //p' "$graphlog" | tail -n 1)"
for m in "${modules[@]}"; do
    if [ -z "$graphs" ] || [ ! "$graphs/$m.symbols.json" -nt "$stamp" ]; then
        grep -E "error" "$graphlog" >&2 || tail -n 30 "$graphlog" >&2
        echo "check-docs: dump-symbol-graph wrote no symbol graph for $m (log: $graphlog)" >&2
        exit 1
    fi
done
if [ "$counts" = 1 ]; then
    exec python3 "$root/scripts/doc-coverage.py" "$graphs" "$list" --counts
fi
if ! python3 "$root/scripts/doc-coverage.py" "$graphs" "$list" >&2; then
    echo "check-docs: public declarations without a doc comment (listed above)" >&2
    exit 1
fi

# 2. DocC, warning-free.
log="$out/generate-documentation.log"
args=()
for m in "${modules[@]}"; do args+=(--target "$m"); done
if ! swift package --allow-writing-to-directory "$out" generate-documentation "${args[@]}" \
    --output-path "$out" --warnings-as-errors >"$log" 2>&1; then
    grep -E "warning|error" "$log" >&2 || tail -n 30 "$log" >&2
    echo "check-docs: generate-documentation failed (log: $log)" >&2
    exit 1
fi
echo "check-docs: ${modules[*]}: every public declaration documented; documentation built without warnings -> $out"
