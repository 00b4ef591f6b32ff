#!/usr/bin/env python3
"""Checks one boot of the test kernel: /proc/kallsyms against the table the kernel should hold,
and every symbol in the backtraces against the image's own map.

    check.py BOOT_LOG EXPECTED_PROC SYSTEM_MAP

EXPECTED_PROC is `kallsyms dump --format proc vmlinux` (our decoder on the built image), which
the caller has already compared with the table generated from System.map."""
import bisect
import re
import sys

log_path, expected_path, map_path = sys.argv[1:4]
log = open(log_path, "rb").read().decode("latin-1").replace("\r\n", "\n")
m = re.search(r"=== KALLSYMS BEGIN\n(.*?)=== KALLSYMS END\n", log, re.S)
if not m:
    sys.exit(f"{log_path}: no /proc/kallsyms dump in the boot log")
proc = [l for l in m.group(1).split("\n") if l]
# Built-in symbols only (module symbols carry a [module] suffix; this kernel has none).
builtin = [l for l in proc if not l.endswith("]")]
expected = [l for l in open(expected_path).read().split("\n") if l]
if builtin != expected:
    for i, (a, b) in enumerate(zip(builtin, expected)):
        if a != b:
            sys.exit(f"/proc/kallsyms line {i + 1}: {a!r}, expected {b!r}")
    sys.exit(f"/proc/kallsyms has {len(builtin)} lines, expected {len(expected)}")
print(f"/proc/kallsyms: {len(builtin)} lines, all equal to the decoded table")

# name+0xoff/0xsize in the backtraces: the name must be a symbol of System.map whose size (to
# the next higher address) is the printed size, and the offset inside it.
symbols = []
for line in open(map_path):
    addr, kind, name = line.split()[:3]
    symbols.append((int(addr, 16), kind, name))
starts = {}
for a, k, n in symbols:
    starts.setdefault(n, []).append(a)
addresses = sorted({a for a, _, _ in symbols})
def size_of(a):
    i = bisect.bisect_right(addresses, a)
    return addresses[i] - a if i < len(addresses) else None
# Every %pS/%pB the kernel printed after the dump, whatever the architecture's frame line looks
# like: x86 " func+0x1/0x2", arm64 " func+0x1/0x2" and "pc : func+...", powerpc
# "[sp] [ip] func+0x1/0x2 (unreliable)" and "NIP [ip] func+...".
frames = re.findall(r"(?<![\w.+])([A-Za-z_][\w.]*)\+0x([0-9a-f]+)/0x([0-9a-f]+)\b", log.split("=== KALLSYMS END")[1])
if len(frames) < 5:
    sys.exit(f"only {len(frames)} backtrace frames in the boot log")
bad = []
for name, off, size in frames:
    off, size = int(off, 16), int(size, 16)
    # x86 prints return addresses with %pB (looked up at address - 1, printed offset + 1: a call
    # that ends a function prints offset == size), arm64 and powerpc with %pS (offset 0 at a
    # function's first instruction).
    ok = any(size_of(a) == size and 0 <= off <= size for a in starts.get(name, []))
    if not ok:
        bad.append(f"{name}+{off:#x}/{size:#x}")
if bad:
    sys.exit(f"{len(bad)} of {len(frames)} frames do not match System.map: {bad[:5]}")
print(f"backtraces: {len(frames)} frames, every name+offset/size matches System.map")
