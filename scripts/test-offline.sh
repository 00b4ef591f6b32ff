#!/usr/bin/env bash
# Runs the tests tagged `.offline` (Swift Testing tags): those that need no download, neither the
# kernel's reference tools nor Debian's kernels. Swift 6.3's `swift test` cannot select by tag
# (`--filter tag:…` arrives with later toolchains), so the filters are read from the tags in Tests/:
# a tagged suite gives `Target.Suite/`, a tagged test `Target.Suite/test(`. KALLSYMS_OFFLINE=1 keeps
# the download cache out of reach, so a tagged test that needs downloaded data fails.
#   scripts/test-offline.sh [swift test options…]      (e.g. -c release, which the README uses)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
filters=()
for file in "$root"/Tests/*/*.swift; do
    target="$(basename "$(dirname "$file")")"
    while IFS= read -r id; do filters+=(--filter "$id"); done < <(awk -v target="$target" '
        /@Suite/ { suite_tagged = /\.tags\([^)]*\.offline/; want_suite = 1 }
        want_suite && match($0, /struct [A-Za-z0-9_]+/) {
            suite = substr($0, RSTART + 7, RLENGTH - 7); want_suite = 0
            if (suite_tagged) printf "^%s\\.%s/\n", target, suite
        }
        /@Test\(\.tags\([^)]*\.offline/ { want_test = 1 }
        want_test && match($0, /func [A-Za-z0-9_]+\(/) {
            printf "^%s\\.%s/%s\\(\n", target, suite, substr($0, RSTART + 5, RLENGTH - 6); want_test = 0
        }' "$file")
done
[ ${#filters[@]} -gt 0 ] || { echo "test-offline: no test is tagged .offline" >&2; exit 1; }
cd "$root"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
KALLSYMS_OFFLINE=1 swift test "$@" "${filters[@]}" 2>&1 | tee "$log"
# A filter that matches nothing still "passes": insist on the tests having run.
grep -Eq 'Test run with [1-9][0-9]* tests? .*passed' "$log" || { echo "test-offline: no offline test ran" >&2; exit 1; }
