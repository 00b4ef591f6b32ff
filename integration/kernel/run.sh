#!/usr/bin/env bash
# Builds a small x86_64 Linux 6.12 (Debian's linux-source-6.12) three ways and boots two of them
# in qemu, checking that the kernel's own kallsyms is right:
#   kernel  the kernel's own scripts/kallsyms and link-vmlinux.sh (the baseline, not booted)
#   (a)     scripts/kallsyms replaced by our drop-in (scripts/install-dropin.sh)
#   (b)     the kallsyms passes of scripts/link-vmlinux.sh replaced by `kallsyms link`
# For (a) and (b): the build must not say "Inconsistent kallsyms data"; /proc/kallsyms of the
# booted kernel must equal the table decoded from its vmlinux by our reader, which must equal the
# table generated from its System.map; every name+off/size in the sysrq-t backtraces must match
# System.map; for (a) every .S the build generated must equal what the kernel's own
# scripts/kallsyms makes from the same .syms. Prints the time of the kallsyms link step of each
# build and the number of links.
#   integration/kernel/run.sh            (as root or with sudo; about 10-15 minutes on 2 cores)
# Work and the kernel tree live in ${KALLSYMS_CACHE:-~/.cache/swift-kallsyms}/kernel-test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
work="$cache/kernel-test"
jobs=$(nproc)
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

say "packages"
bash "$root/scripts/setup.sh"
need=(flex bison bc libelf-dev libssl-dev qemu-system-x86 make gcc)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd "$root" && swift build -c release --product kallsyms >/dev/null)
kallsyms="$root/.build/release/kallsyms"

say "kernel source"
bash "$root/scripts/fetch-reference.sh" 6.12 >/dev/null  # downloads linux-source-6.12 into the cache
deb=$(ls "$cache"/debs/linux-source-6.12_*_all.deb | head -n1)
tree="$work/linux"
mkdir -p "$work"
if [ ! -f "$tree/Makefile" ]; then
    rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-6.12.tar.xz' \
        | tar -xJ -C "$tree.tmp" --strip-components=1
    cp "$tree.tmp/scripts/link-vmlinux.sh" "$work/link-vmlinux.sh.orig"
    mv "$tree.tmp" "$tree"
fi
# A run that failed half-way may have left the tree patched: start from the pristine script.
[ -f "$work/link-vmlinux.sh.orig" ] || cp "$tree/scripts/link-vmlinux.sh" "$work/link-vmlinux.sh.orig"
cp "$work/link-vmlinux.sh.orig" "$tree/scripts/link-vmlinux.sh"
make -C "$tree" -s mrproper

say "configuration (tinyconfig + what the test needs)"
gcc -static -Os -o "$work/init" "$root/integration/kernel/init.c"
cat > "$work/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
file /init $work/init 0755 0 0
LIST
make -C "$tree" -s ARCH=x86_64 tinyconfig >/dev/null
"$tree/scripts/config" --file "$tree/.config" \
    --enable 64BIT --enable PRINTK --enable TTY --enable SERIAL_8250 --enable SERIAL_8250_CONSOLE \
    --enable EARLY_PRINTK --enable BLK_DEV_INITRD --set-str INITRAMFS_SOURCE "$work/initramfs.list" \
    --enable INITRAMFS_COMPRESSION_NONE --enable PROC_FS --enable BINFMT_ELF --enable MAGIC_SYSRQ \
    --enable KALLSYMS --enable KALLSYMS_ALL --enable UNWINDER_FRAME_POINTER --disable UNWINDER_ORC \
    --disable RANDOMIZE_BASE
make -C "$tree" -s ARCH=x86_64 olddefconfig >/dev/null
for opt in KALLSYMS KALLSYMS_ALL PROC_FS MAGIC_SYSRQ SERIAL_8250_CONSOLE BLK_DEV_INITRD; do
    grep -q "^CONFIG_$opt=y" "$tree/.config" || fail "CONFIG_$opt did not stick"
done
kallsymopt="--all-symbols"
grep -q '^CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y' "$tree/.config" && kallsymopt="$kallsymopt --absolute-percpu"

# Every build's link-vmlinux.sh gets two timestamps around the kallsyms passes and the final
# link (nothing else changes), so the three builds are timed on the same span.
patch_link_script() { # ours: also replace the passes with `kallsyms link`
    python3 - "$tree/scripts/link-vmlinux.sh" "$1" <<'PY'
import sys
p, mode = sys.argv[1], sys.argv[2]
s = open(p).read()
start = s.index("if is_enabled CONFIG_KALLSYMS; then\n\ttrue > .tmp_vmlinux.kallsyms0.syms")
end = s.index("vmlinux_link vmlinux\n", start) + len("vmlinux_link vmlinux\n")
region = s[start:end]
if mode == "ours":
    region = '''if is_enabled CONFIG_KALLSYMS; then
	# swift-kallsyms: every kallsyms pass and the final link, to a fixed point.
	swift_kallsymopt=
	if is_enabled CONFIG_KALLSYMS_ALL; then swift_kallsymopt="${swift_kallsymopt} --all-symbols"; fi
	if is_enabled CONFIG_KALLSYMS_ABSOLUTE_PERCPU; then swift_kallsymopt="${swift_kallsymopt} --absolute-percpu"; fi
	swift_capture() { printf '%s\\n' "$@" > .tmp_vmlinux.swift.args; }
	swift_ld=${LD}
	LD=swift_capture
	kallsymso="{kallsyms}"
	strip_debug=
	vmlinux_link "{out}"
	LD=${swift_ld}
	info KALLSYMS "link ${swift_kallsymopt} ${SWIFT_KALLSYMS_FLAGS}"
	"${SWIFT_KALLSYMS}" link ${swift_kallsymopt} ${SWIFT_KALLSYMS_FLAGS} --map .tmp_vmlinux.swift.syms -o vmlinux -- \\
		${swift_ld} $(cat .tmp_vmlinux.swift.args)
	kallsyms_sysmap=.tmp_vmlinux.swift.syms
else
''' + region + "fi\n"
timed = "swift_t0=$(date +%s%N)\n" + region + 'echo "KALLSYMS-LINK-MS $(( ($(date +%s%N) - swift_t0) / 1000000 ))"\n'
open(p, "w").write(s[:start] + timed + s[end:])
PY
}

say "build (the kernel's own kallsyms)"
patch_link_script kernel
make -C "$tree" -s ARCH=x86_64 -j"$jobs" bzImage
cp "$tree/scripts/kallsyms" "$work/kallsyms.kernel"

# Relinks vmlinux (and bzImage) and times the link-vmlinux.sh step; leaves its output in $1.log.
relink() {
    rm -f "$tree/vmlinux" "$tree"/.tmp_vmlinux* "$tree/System.map"
    make -C "$tree" ARCH=x86_64 -j"$jobs" vmlinux > "$work/$1.log" 2>&1 || { cat "$work/$1.log"; fail "$1: link failed"; }
    make -C "$tree" -s ARCH=x86_64 -j"$jobs" bzImage >> "$work/$1.log" 2>&1 || fail "$1: bzImage failed"
    ! grep -q "Inconsistent kallsyms data" "$work/$1.log" || fail "$1: Inconsistent kallsyms data"
    grep -oE 'KALLSYMS-LINK-MS [0-9]+' "$work/$1.log" | tail -n1 | cut -d' ' -f2
}
links_of() { grep -cE '^ +LD +(\.tmp_vmlinux[0-9]+|vmlinux)$' "$work/$1.log" || true; }

kernel_ms=$(relink kernel)
kernel_links=$(links_of kernel)

# The image must hold exactly the table its own System.map gives, as our reader decodes it.
check_image() { # name
    "$kallsyms" gen $kallsymopt "$tree/System.map" > "$work/$1.expected.S"
    "$kallsyms" dump --format proc "$tree/vmlinux" > "$work/$1.proc"
    "$kallsyms" dump --format system-map "$tree/vmlinux" > "$work/$1.dump"
    python3 - "$work/$1.expected.S" "$work/$1.dump" <<'PY'
import re, sys
# Entries the generator put in the table (the comments of kallsyms_offsets: "<type><name>")
# against what our reader decoded from the built vmlinux, in table order.
src = open(sys.argv[1]).read()
block = src.split("kallsyms_offsets:\n", 1)[1].split("\n\n", 1)[0]
expected = [line.split("/* ", 1)[1][:-3] for line in block.split("\n") if "/* " in line]
decoded = [l.split(" ", 1)[1].replace(" ", "", 1) for l in open(sys.argv[2]).read().split("\n") if l]
if expected != decoded:
    sys.exit(f"decoded table ({len(decoded)}) differs from the table System.map gives ({len(expected)})")
print(f"vmlinux: the decoded table equals the table System.map gives ({len(decoded)} symbols)")
PY
}

boot() { # name
    timeout 300 qemu-system-x86_64 -m 256M -display none -no-reboot -serial "file:$work/$1.boot" \
        -kernel "$tree/arch/x86/boot/bzImage" -append "console=ttyS0 nokaslr panic=-1" || true
    grep -q "=== DONE" "$work/$1.boot" || { tail -30 "$work/$1.boot"; fail "$1: the kernel did not finish booting"; }
    python3 "$root/integration/kernel/check.py" "$work/$1.boot" "$work/$1.proc" "$tree/System.map"
}

say "(a) scripts/kallsyms replaced by our drop-in"
bash "$root/scripts/install-dropin.sh" "$tree" "$kallsyms" >/dev/null
a_ms=$(relink a)
a_links=$(links_of a)
n=0
for syms in "$tree"/.tmp_vmlinux*.syms; do
    "$work/kallsyms.kernel" $kallsymopt "$syms" > "$work/ref.S"
    cmp -s "$work/ref.S" "${syms%.syms}.kallsyms.S" || cmp -s "$work/ref.S" "${syms%.kallsyms0.syms}0.kallsyms.S" \
        || fail "(a): ${syms##*/}: our .S differs from the kernel's scripts/kallsyms"
    n=$((n + 1))
done
echo "(a): $n generated .S files byte-identical to the kernel's scripts/kallsyms on the same .syms"
check_image a
boot a

say "(b) the kallsyms passes replaced by kallsyms link"
cp "$work/kallsyms.kernel" "$tree/scripts/kallsyms"
cp "$work/link-vmlinux.sh.orig" "$tree/scripts/link-vmlinux.sh"
patch_link_script ours
# Room reserved from the input objects (vmlinux.a's members): one link, then a patch.
export SWIFT_KALLSYMS_FLAGS="${SWIFT_KALLSYMS_FLAGS:---reserve auto}"
export SWIFT_KALLSYMS="$kallsyms"
b_ms=$(relink b)
b_links=$(grep -cE '^pass [0-9]+: link' "$work/b.log" || true)
grep -E '^( +|)(pass|converged|verified|note)' "$work/b.log" | sed 's/^/    /'
unset SWIFT_KALLSYMS SWIFT_KALLSYMS_FLAGS
check_image b
boot b
cp "$work/link-vmlinux.sh.orig" "$tree/scripts/link-vmlinux.sh"

say "result"
printf '%-48s %6s %14s\n' build links "kallsyms+link ms"
printf '%-48s %6s %14s\n' "kernel's own scripts/kallsyms + link-vmlinux.sh" "$kernel_links" "$kernel_ms"
printf '%-48s %6s %14s\n' "(a) our drop-in scripts/kallsyms" "$a_links" "$a_ms"
printf '%-48s %6s %14s\n' "(b) kallsyms link" "$b_links" "$b_ms"
echo "PASS: (a) and (b) built without inconsistency, booted, and their /proc/kallsyms and backtraces check out"
