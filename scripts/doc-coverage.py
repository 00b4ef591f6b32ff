#!/usr/bin/env python3
"""Lists the public declarations of the given modules that have no doc comment of their own.

Reads the symbol graphs `swift package dump-symbol-graph` writes (one `<Module>.symbols.json` per
module, plus `<Module>@<Other>.symbols.json` for extensions of other modules' types). A
declaration counts as documented only by a `///` or `/** */` comment written on it: the
compiler also hands a member the comment of the protocol requirement it implements, and a
comment inherited from another module (the standard library's `description`, `encode(to:)`, …)
says nothing about our declaration, so it does not count.

    doc-coverage.py SYMBOLGRAPH_DIR MODULE[,MODULE…] [--counts]

Prints `file:line: Module.Type.member (kind): no doc comment` for each, then one count line per
module; exits 1 when any is undocumented. `--counts`: the count lines only, exit 0.
"""
import json
import os
import sys
from urllib.parse import unquote, urlparse


def path_of(uri):
    return unquote(urlparse(uri).path) if uri else None


def own_comment(symbol, module):
    doc = symbol.get("docComment")
    if not doc or not any(line.get("text", "").strip() for line in doc.get("lines", [])):
        return False
    # Inherited comments carry the module (and file) they come from.
    if doc.get("module") not in (None, module):
        return False
    location = symbol.get("location", {}).get("uri")
    return doc.get("uri") in (None, location)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    counts_only = "--counts" in sys.argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    directory, modules = args[0], [m for m in args[1].split(",") if m]
    root = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
    failed = False
    for module in modules:
        files = sorted(
            f for f in os.listdir(directory)
            if f == f"{module}.symbols.json" or (f.startswith(f"{module}@") and f.endswith(".symbols.json")))
        if f"{module}.symbols.json" not in files:
            sys.exit(f"doc-coverage: no symbol graph for {module} in {directory}")
        seen = set()
        missing = []
        for name in files:
            with open(os.path.join(directory, name)) as f:
                graph = json.load(f)
            for symbol in graph["symbols"]:
                if symbol.get("accessLevel") not in ("public", "open"):
                    continue
                location = symbol.get("location")
                # Members a protocol's default implementation adds have no place in our sources.
                if not location or "::SYNTHESIZED::" in symbol["identifier"]["precise"]:
                    continue
                usr = symbol["identifier"]["precise"]
                if usr in seen:
                    continue
                seen.add(usr)
                if own_comment(symbol, module):
                    continue
                file = path_of(location["uri"])
                line = location.get("position", {}).get("line", 0) + 1  # 0-based in the graph
                missing.append((os.path.relpath(file, root), line, ".".join(symbol["pathComponents"]),
                                symbol["kind"]["displayName"].lower()))
        if not counts_only:
            for file, line, name, kind in sorted(missing):
                print(f"{file}:{line}: {module}.{name} ({kind}): no doc comment")
        print(f"doc-coverage: {module}: {len(seen)} public declarations, {len(missing)} without a doc comment")
        failed = failed or bool(missing)
    sys.exit(1 if failed and not counts_only else 0)


if __name__ == "__main__":
    main()
