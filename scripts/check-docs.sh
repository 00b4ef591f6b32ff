#!/usr/bin/env bash
# Builds the API documentation of the library modules with DocC (swift-docc-plugin) and fails on
# any DocC warning (--warnings-as-errors): a broken symbol link, an article or a doc comment DocC
# cannot resolve. (Compiler warnings of the symbol-graph build are the compiler's business.)
#   scripts/check-docs.sh [OUTDIR]      (default: .build/docs; one archive per module)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.build/docs}"
modules=(KallsymsCore ELFKit KernelImage LinkDriver MapDiff)
mkdir -p "$out"
log="$out/generate-documentation.log"
args=()
for m in "${modules[@]}"; do args+=(--target "$m"); done
cd "$root"
if ! swift package --allow-writing-to-directory "$out" generate-documentation "${args[@]}" \
    --output-path "$out" --warnings-as-errors >"$log" 2>&1; then
    grep -E "warning|error" "$log" >&2 || tail -n 30 "$log" >&2
    echo "check-docs: generate-documentation failed (log: $log)" >&2
    exit 1
fi
echo "check-docs: documentation of ${modules[*]} built without warnings -> $out"
