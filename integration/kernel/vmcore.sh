#!/usr/bin/env bash
# Memory dumps of a booted kernel, read by our reader. Boots TREE's bzImage in qemu (TCG) with
# KASLR on, waits for integration/kernel/init.c to print /proc/kallsyms ("=== DONE"), then takes
# an ELF vmcore (dump-guest-memory) and a raw physical memory image (pmemsave) through QMP and
# checks, for both:
#   - every symbol `kallsyms dump` prints is System.map's entry plus the slide the kernel itself
#     reports (its /proc/kallsyms `_text` line minus System.map's), in the table order the
#     generator gives from System.map, and equals the booted kernel's /proc/kallsyms;
#   - the slide is not zero (KASLR applied; the boot is retried if it came out 0), and `info`
#     reports it;
#   - `lookup` of run-time addresses and names, and `symbolize` of a log with run-time addresses
#     and of the kernel's own backtraces, give the right names and addresses.
#   integration/kernel/vmcore.sh TREE KALLSYMS WORKDIR
# TREE: an x86_64 kernel tree built by run.sh's configuration with CONFIG_RANDOMIZE_BASE=y.
# Takes about a minute per boot under TCG.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -eq 3 ] || { echo "usage: $0 TREE KALLSYMS WORKDIR" >&2; exit 2; }
tree=$(cd "$1" && pwd)
kallsyms=$2
work=$3
mkdir -p "$work"
work=$(cd "$work" && pwd)
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q '^CONFIG_RANDOMIZE_BASE=y' "$tree/.config" || fail "$tree: CONFIG_RANDOMIZE_BASE is not set (KASLR is what this test checks)"
[ -f "$tree/arch/x86/boot/bzImage" ] && [ -f "$tree/System.map" ] || fail "$tree: no bzImage or System.map (build it first)"
memory_mib=256

# Boots with KASLR and leaves the guest paused after init's reboot (-action reboot=shutdown,
# shutdown=pause): memory stays as the kernel left it, ready for the monitor. Writes boot.log.
boot_and_dump() {
    rm -f "$work/qmp.sock" "$work/vmcore" "$work/memory.raw" "$work/boot.log"
    qemu-system-x86_64 -m "${memory_mib}M" -smp 1 -display none -no-user-config -nodefaults \
        -serial "file:$work/boot.log" -qmp "unix:$work/qmp.sock,server=on,wait=off" \
        -action reboot=shutdown,shutdown=pause \
        -kernel "$tree/arch/x86/boot/bzImage" -append "console=ttyS0 panic=-1" &
    qemu=$!
    python3 - "$work" "$memory_mib" <<'PY' || { kill "$qemu" 2>/dev/null; wait "$qemu" 2>/dev/null; return 1; }
import json, os, socket, sys, time
work, mib = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 300
while not os.path.exists(f"{work}/qmp.sock"):
    if time.time() > deadline: sys.exit("qemu did not open its QMP socket")
    time.sleep(0.2)
s = socket.socket(socket.AF_UNIX)
s.connect(f"{work}/qmp.sock")
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m: return m
def run(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    m = reply()
    if "error" in m: sys.exit(f"{cmd}: {m['error']}")
    return m["return"]
json.loads(f.readline())  # greeting
run("qmp_capabilities")
# init prints "=== DONE", then reboots: the VM pauses (shutdown=pause).
while True:
    if time.time() > deadline: sys.exit("the guest did not finish (no === DONE and pause within 300 s)")
    log = open(f"{work}/boot.log", errors="replace").read()
    if "=== DONE" in log and run("query-status")["status"] in ("paused", "shutdown"): break
    time.sleep(0.5)
run("dump-guest-memory", paging=False, protocol=f"file:{work}/vmcore")
run("pmemsave", val=0, size=mib << 20, filename=f"{work}/memory.raw")
run("quit")
PY
    wait "$qemu" || true
}

say "boot with KASLR and dump"
link_text=$(awk '$3 == "_text" { print $1; exit }' "$tree/System.map")
slide=0
for attempt in 1 2 3 4 5; do
    t0=$(date +%s)
    boot_and_dump || fail "boot $attempt: qemu or the monitor failed (tail of the serial log above)"
    run_text=$(sed -n '/=== KALLSYMS BEGIN/,/=== KALLSYMS END/p' "$work/boot.log" | tr -d '\r' | awk '$3 == "_text" && !n { print $1; n = 1 }')
    [ -n "$run_text" ] || { tail -20 "$work/boot.log"; fail "the booted kernel printed no _text in /proc/kallsyms"; }
    slide=$(python3 -c "print(hex(int('$run_text', 16) - int('$link_text', 16)))")
    echo "boot $attempt ($(( $(date +%s) - t0 )) s): run-time _text $run_text, System.map _text $link_text, slide $slide"
    [ "$slide" != "0x0" ] && break
    echo "slide 0: KASLR left the kernel in place this time; booting again"
done
[ "$slide" != "0x0" ] || fail "five boots with slide 0: is KASLR really on (nokaslr, RANDOMIZE_BASE)?"
ls -l "$work/vmcore" "$work/memory.raw" | awk '{ print $5, $9 }'

say "the kernel's own table (generated from System.map)"
kallsymopt="--all-symbols"
grep -q '^CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y' "$tree/.config" && kallsymopt="$kallsymopt --absolute-percpu"
"$kallsyms" gen $kallsymopt "$tree/System.map" > "$work/expected.S"
sed -n '/=== KALLSYMS BEGIN/,/=== KALLSYMS END/p' "$work/boot.log" | tr -d '\r' | sed '1d;$d' > "$work/proc.kallsyms"

for dump in vmcore memory.raw; do
    say "$dump"
    "$kallsyms" info "$work/$dump" | tee "$work/$dump.info" | grep -E '^(container|architecture|banner|symbols|dump|table at|run-time|link|slide)'
    grep -q "^slide: *$slide " "$work/$dump.info" || fail "$dump: info does not report the slide $slide"
    "$kallsyms" info --sysmap "$tree/System.map" "$work/$dump" | grep -E '^slide' | tee "$work/$dump.sysmap-slide"
    grep -q "^slide: *$slide (run-time _text minus _text of " "$work/$dump.sysmap-slide" \
        || fail "$dump: info --sysmap does not report the slide $slide"
    "$kallsyms" dump "$work/$dump" > "$work/$dump.dump"
    python3 - "$work/$dump.dump" "$tree/System.map" "$work/expected.S" "$work/proc.kallsyms" "$slide" <<'PY'
import collections, sys
dump, sysmap, expected_s, proc, slide = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5], 16)
def entries(path):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) >= 3: out.append((int(f[0], 16), f[1], f[2]))
    return out
got = entries(dump)
src = open(expected_s).read()
block = src.split("kallsyms_offsets:\n", 1)[1].split("\n\n", 1)[0]
order = [l.split("/* ", 1)[1][:-3] for l in block.split("\n") if "/* " in l]
if [t + n for _, t, n in got] != order:
    sys.exit(f"{dump}: the table's names ({len(got)}) differ from the table System.map gives ({len(order)})")
# Each entry at its System.map address plus the slide (per-cpu symbols are absolute: no slide).
link = collections.Counter(entries(sysmap))
def unslid(a): return a - slide if a >= 1 << 63 else a
missing = [e for e in got if link[(unslid(e[0]), e[1], e[2])] == 0]
if missing:
    a, t, n = missing[0]
    sys.exit(f"{dump}: {len(missing)} entries are not System.map plus the slide, first {a:016x} {t} {n}")
booted = collections.Counter(entries(proc))
if collections.Counter(got) != booted:
    diff = list((collections.Counter(got) - booted).items())[:3]
    sys.exit(f"{dump}: differs from the booted kernel's /proc/kallsyms ({len(got)} vs {sum(booted.values())}): {diff}")
print(f"{dump}: all {len(got)} symbols equal System.map + slide {slide:#x} and the booted /proc/kallsyms")
PY

    # lookup: run-time addresses inside functions, and names.
    names="start_kernel printk_get_next_message do_sys_open kallsyms_lookup_name"
    queries=()
    for n in $names; do
        a=$(awk -v n="$n" '$3 == n && ($2 == "T" || $2 == "t") { print $1; exit }' "$work/proc.kallsyms")
        [ -n "$a" ] || continue
        queries+=("0x$(python3 -c "print('%x' % (int('$a', 16) + 5))")" "$n")
    done
    [ ${#queries[@]} -ge 4 ] || fail "too few functions to look up in /proc/kallsyms"
    "$kallsyms" lookup "$work/$dump" "${queries[@]}" | tee "$work/$dump.lookup"
    python3 - "$work/$dump.lookup" "$work/proc.kallsyms" "${queries[@]}" <<'PY'
import sys
out = open(sys.argv[1]).read().split("\n")
proc = {}
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) >= 3: proc.setdefault(f[2], int(f[0], 16))
qs = sys.argv[3:]
for i in range(0, len(qs), 2):
    addr, name = qs[i], qs[i + 1]
    a = out[i].split()
    if int(a[0], 16) != int(addr, 16) or not a[1].startswith(f"{name}+0x5/"):
        sys.exit(f"lookup {addr}: {out[i]!r}, expected {name}+0x5/...")
    n = out[i + 1].split()
    if int(n[0], 16) != proc[name] or n[2] != name:
        sys.exit(f"lookup {name}: {out[i + 1]!r}, expected {proc[name]:016x}")
print(f"lookup: {len(qs) // 2} run-time addresses and {len(qs) // 2} names right")
PY

    # symbolize: raw run-time addresses gain name+off/size; the kernel's own backtraces
    # (name+off/size) gain the run-time address they stand for.
    { for ((i = 0; i < ${#queries[@]}; i += 2)); do echo "RIP: 0010:[<${queries[i]#0x}>]"; done
      grep -E ' [a-z_][a-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+' "$work/boot.log" | tr -d '\r' | awk 'NR <= 20'; } > "$work/log.txt"
    "$kallsyms" symbolize "$work/$dump" "$work/log.txt" > "$work/$dump.symbolized" 2> "$work/$dump.symbolize.err"
    cat "$work/$dump.symbolize.err"
    python3 - "$work/$dump.symbolized" "$work/proc.kallsyms" <<'PY'
import re, sys
proc = {}
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) >= 3: proc.setdefault(f[2], int(f[0], 16))
raw = forms = 0
for line in open(sys.argv[1]):
    m = re.search(r"\[<([0-9a-f]{16})>\] ([\w.]+)\+0x([0-9a-f]+)/", line)
    if m:
        if proc[m.group(2)] + int(m.group(3), 16) != int(m.group(1), 16): sys.exit(f"symbolize: {line!r}")
        raw += 1
        continue
    for m in re.finditer(r"([\w.]+)\+0x([0-9a-f]+)/0x[0-9a-f]+ \(0x([0-9a-f]+)", line):
        if m.group(1) in proc:
            if proc[m.group(1)] + int(m.group(2), 16) != int(m.group(3), 16): sys.exit(f"symbolize: {line!r}")
            forms += 1
if raw < 4: sys.exit(f"symbolize: only {raw} raw addresses symbolized")
print(f"symbolize: {raw} raw run-time addresses named, {forms} backtrace entries given their run-time address")
PY
done

say "result"
echo "PASS: vmcore and raw memory of a KASLR boot (slide $slide) decode to System.map + slide; lookup and symbolize agree"
