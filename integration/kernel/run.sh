#!/usr/bin/env bash
# Builds a small Linux (Debian's linux-source-6.12, and for x86_64 also linux-source-6.1) for one
# architecture three ways and boots two of them in qemu (TCG), checking that the kernel's own
# kallsyms is right:
#   kernel  the kernel's own scripts/kallsyms and link-vmlinux.sh (the baseline, not booted)
#   (a)     scripts/kallsyms replaced by our drop-in (scripts/install-dropin.sh)
#   (b)     `kallsyms kbuild install TREE`: the kallsyms passes and the final link of
#           scripts/link-vmlinux.sh are one `kallsyms link` (flags from KALLSYMS_LINK_FLAGS,
#           default here --reserve auto); `kallsyms kbuild uninstall` afterwards must give back
#           the original script byte for byte
# For (a) and (b): the build must not say "Inconsistent kallsyms data"; /proc/kallsyms of the
# booted kernel must equal the table decoded from its vmlinux by our reader, which must equal the
# table the kernel's own scripts/kallsyms makes from its System.map; every name+off/size in the sysrq-t backtraces must match
# System.map; for (a) every .S the build generated must equal what the kernel's own
# scripts/kallsyms makes from the same .syms. Prints, per build, the links and the wall time of
# the vmlinux link step (all of link-vmlinux.sh and the arch's postlink: the same span for the
# three builds).
#
#   integration/kernel/run.sh [--arch x86_64|arm64|ppc64le|all] [--llvm] [--version 6.12|6.1]
#
# --arch all runs x86_64 (6.12 and 6.1), arm64 and ppc64le one after the other and prints every
# result table and the wall time. arm64 and ppc64le are cross-compiled (Debian's
# gcc-aarch64-linux-gnu, gcc-powerpc64le-linux-gnu). --llvm builds with Debian's clang and ld.lld
# (LLVM=-14: clang-14, ld.lld-14, llvm-ar-14..., never another clang on PATH). As root or with
# sudo (missing packages are installed with apt-get). Each configuration has its own tree,
# ${KALLSYMS_CACHE:-~/.cache/swift-kallsyms}/kernel-test/<arch>-<version>[-llvm]: the first run
# builds it (24-43 minutes each on 2 cores with 3-4 kernels and other builds running at once),
# later runs only relink and boot (2-6 minutes each). At the end of the x86_64 6.12 run,
# integration/kernel/vmcore.sh TREE KALLSYMS WORK runs when it exists.
# The whole script is one compound command, read before it runs: editing the file during a run
# does not change that run.
{
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="${KALLSYMS_CACHE:-$HOME/.cache/swift-kallsyms}"
jobs=$(nproc)
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
usage() { echo "usage: $0 [--arch x86_64|arm64|ppc64le|all] [--llvm] [--version 6.12|6.1]" >&2; exit 2; }

arch=x86_64 llvm= versions=
while [ $# -gt 0 ]; do
    case $1 in
        --arch) [ $# -ge 2 ] || usage; arch=$2; shift 2 ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        --llvm) llvm=1; shift ;;
        --version) [ $# -ge 2 ] || usage; versions=$2; shift 2 ;;
        --version=*) versions=${1#--version=}; shift ;;
        *) usage ;;
    esac
done
case $arch in x86_64|arm64|ppc64le|all) ;; *) usage ;; esac
case $versions in ''|6.12|6.1) ;; *) usage ;; esac
[ -z "$versions" ] && { versions=6.12; [ "$arch" = x86_64 ] && versions="6.12 6.1"; }
[ "$arch" != x86_64 ] && [ "$versions" = 6.1 ] && fail "6.1 is built for x86_64 only"

# Several configurations: one child run each, then every result table.
if [ "$arch" = all ] || [ "$versions" != "${versions%% *}" ]; then
    runs=()
    if [ "$arch" = all ]; then runs=("x86_64 6.12" "x86_64 6.1" "arm64 6.12" "ppc64le 6.12")
    else for v in $versions; do runs+=("$arch $v"); done; fi
    t0=$(date +%s) status=0 results=()
    for r in "${runs[@]}"; do
        set -- $r
        s=$(date +%s)
        if "$0" --arch "$1" --version "$2" ${llvm:+--llvm}; then results+=("$r: PASS in $(( $(date +%s) - s )) s")
        else status=1; results+=("$r: FAIL after $(( $(date +%s) - s )) s"); fi
    done
    say "all results"
    for r in "${runs[@]}"; do
        set -- $r
        f="$cache/kernel-test/$1-$2${llvm:+-llvm}/result.txt"
        [ -f "$f" ] && cat "$f"
    done
    printf '%s\n' "${results[@]}"
    echo "wall time: $(( $(date +%s) - t0 )) s ($jobs cores, load average now $(cut -d' ' -f1-3 /proc/loadavg))"
    exit $status
fi
version=$versions
name="$arch-$version${llvm:+-llvm}"
work="$cache/kernel-test/$name"
tree="$work/linux"
started=$(date +%s)

case $arch in
    x86_64)
        karch=x86_64 cross= target=bzImage image=arch/x86/boot/bzImage
        qemu=(qemu-system-x86_64 -m 256M) console=ttyS0 bootargs="nokaslr"
        pkgs=(qemu-system-x86) ;;
    arm64)
        karch=arm64 cross=aarch64-linux-gnu- target=Image image=arch/arm64/boot/Image
        qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -m 256M) console=ttyAMA0 bootargs=
        pkgs=(qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    ppc64le)
        karch=powerpc cross=powerpc64le-linux-gnu- target=vmlinux image=vmlinux
        qemu=(qemu-system-ppc64 -M pseries -m 512M) console=hvc0 bootargs=
        pkgs=(qemu-system-ppc gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross) ;;
esac
# Debian bookworm's LLVM is 14: the suffix makes kbuild use clang-14, ld.lld-14, llvm-nm-14...
# whatever other clang comes first on PATH (the Swift toolchain has one).
mk=(ARCH=$karch ${cross:+CROSS_COMPILE=$cross} ${llvm:+LLVM=-14})
[ -n "$llvm" ] && pkgs+=(clang-14 lld-14 llvm-14)

say "packages ($name)"
bash "$root/scripts/setup.sh"
need=(flex bison bc libelf-dev libssl-dev make gcc "${pkgs[@]}")
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq || $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# KALLSYMS_BIN: a kallsyms binary to test instead of building this checkout's.
kallsyms="${KALLSYMS_BIN:-$root/.build/release/kallsyms}"

say "kernel source ($version)"
bash "$root/scripts/fetch-reference.sh" "$version" >/dev/null  # downloads linux-source-$version into the cache
deb=$(ls "$cache"/debs/linux-source-"$version"_*_all.deb | head -n1)
mkdir -p "$work"
# One run per tree at a time: a second one waits rather than relinking under the first.
exec 9> "$work/lock"
flock -n 9 || { echo "waiting for another run on $tree"; flock 9; }
rm -f "$work/result.txt"
if [ ! -f "$tree/Makefile" ]; then
    rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "./usr/src/linux-source-$version.tar.xz" \
        | tar -xJ -C "$tree.tmp" --strip-components=1
    cp "$tree.tmp/scripts/link-vmlinux.sh" "$work/link-vmlinux.sh.orig"
    mv "$tree.tmp" "$tree"
fi
# A run that failed half-way may have left the tree patched or the drop-in in place.
"$kallsyms" kbuild uninstall "$tree" >/dev/null 2>&1 || true
cp "$work/link-vmlinux.sh.orig" "$tree/scripts/link-vmlinux.sh"
[ "$(head -c2 "$tree/scripts/kallsyms" 2>/dev/null)" = "#!" ] && rm -f "$tree/scripts/kallsyms"

say "configuration (tinyconfig + what the test needs)"
# The whole userspace: a static /init for the target (cross gcc also under --llvm).
# Replaced only when it changed: a new one means a new initramfs and a new vmlinux.a.
"${cross}gcc" -static -Os -o "$work/init.new" "$root/integration/kernel/init.c"
if cmp -s "$work/init.new" "$work/init"; then rm "$work/init.new"; else mv "$work/init.new" "$work/init"; fi
cat > "$work/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
file /init $work/init 0755 0 0
LIST
[ -f "$tree/.config" ] && cp -p "$tree/.config" "$work/config.prev"
make -C "$tree" -s "${mk[@]}" tinyconfig >/dev/null
set_config() { "$tree/scripts/config" --file "$tree/.config" "$@"; }
set_config --enable PRINTK --enable TTY --enable BLK_DEV_INITRD --set-str INITRAMFS_SOURCE "$work/initramfs.list" \
    --enable INITRAMFS_COMPRESSION_NONE --enable RD_GZIP --enable PROC_FS --enable BINFMT_ELF --enable MAGIC_SYSRQ \
    --enable KALLSYMS --enable KALLSYMS_ALL
case $arch in
    x86_64) # Relocatable with KASLR (the boots say nokaslr); frame pointers for exact backtraces.
        set_config --enable 64BIT --enable SERIAL_8250 --enable SERIAL_8250_CONSOLE --enable EARLY_PRINTK \
            --enable UNWINDER_FRAME_POINTER --disable UNWINDER_ORC --disable UNWINDER_GUESS --enable RELOCATABLE --enable RANDOMIZE_BASE
        want=(RANDOMIZE_BASE UNWINDER_FRAME_POINTER SERIAL_8250_CONSOLE) ;;
    arm64) # qemu virt's PL011; arm64 always keeps frame pointers.
        set_config --enable SERIAL_AMBA_PL011 --enable SERIAL_AMBA_PL011_CONSOLE
        want=(SERIAL_AMBA_PL011_CONSOLE) ;;
    ppc64le) # pseries: 64-bit Book3S little-endian, the hypervisor console.
        # SLOF enters the kernel through prom_init (the Open Firmware boot trampoline); Debian's
        # static glibc for ppc64el uses VSX in user space.
        set_config --enable PPC64 --enable PPC_BOOK3S_64 --disable CPU_BIG_ENDIAN --enable CPU_LITTLE_ENDIAN \
            --enable PPC_PSERIES --enable PPC_OF_BOOT_TRAMPOLINE --enable HVC_CONSOLE \
            --enable PPC_FPU --enable ALTIVEC --enable VSX
        want=(PPC64 CPU_LITTLE_ENDIAN PPC_PSERIES PPC_OF_BOOT_TRAMPOLINE HVC_CONSOLE VSX) ;;
esac
make -C "$tree" -s "${mk[@]}" olddefconfig >/dev/null
for opt in KALLSYMS KALLSYMS_ALL PROC_FS MAGIC_SYSRQ BLK_DEV_INITRD "${want[@]}"; do
    grep -q "^CONFIG_$opt=y" "$tree/.config" || fail "CONFIG_$opt did not stick"
done
# The same configuration as last time keeps its date: make then only relinks.
if [ -f "$work/config.prev" ] && cmp -s "$work/config.prev" "$tree/.config"; then
    touch -r "$work/config.prev" "$tree/.config"
fi
rm -f "$work/config.prev"
# The kernel's own scripts/kallsyms options for this configuration, and our format for it.
kallsymopt="--all-symbols"
grep -q '^CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y' "$tree/.config" && kallsymopt="$kallsymopt --absolute-percpu"
grep -q '^CONFIG_KALLSYMS_BASE_RELATIVE=y' "$tree/.config" && kallsymopt="$kallsymopt --base-relative"
case $version in 6.1) format=linux-6.1 ;; *) format=linux-6.12 ;; esac

say "build (the kernel's own kallsyms)"
t=$(date +%s)
nice -n 5 make -C "$tree" -s "${mk[@]}" -j"$jobs" "$target" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "build failed"; }
build_s=$(( $(date +%s) - t ))
first=; [ -f "$work/kallsyms.kernel" ] || first=", the whole kernel"
echo "built in $build_s s"
cp "$tree/scripts/kallsyms" "$work/kallsyms.kernel"
[ -n "${KALLSYMS_BIN:-}" ] || (cd "$root" && swift build -c release --product kallsyms >/dev/null)

# make runs every recipe through this shell; it times the one that runs link-vmlinux.sh.
cat > "$work/timed-sh" <<'SH'
#!/bin/sh
case "$*" in
*scripts/link-vmlinux.sh*)
    t0=$(date +%s%N)
    /bin/sh "$@" && rc=0 || rc=$?
    echo "LINK-VMLINUX-MS $(( ($(date +%s%N) - t0) / 1000000 ))"
    exit $rc ;;
esac
exec /bin/sh "$@"
SH
chmod +x "$work/timed-sh"

# Relinks vmlinux (and the boot image) and prints the time of the link step; leaves its output in $1.log.
relink() {
    rm -f "$tree/vmlinux" "$tree"/.tmp_vmlinux* "$tree/System.map"
    make -C "$tree" "${mk[@]}" SHELL="$work/timed-sh" -j"$jobs" vmlinux > "$work/$1.log" 2>&1 || { tail -60 "$work/$1.log" >&2; fail "$1: link failed"; }
    make -C "$tree" -s "${mk[@]}" -j"$jobs" "$target" >> "$work/$1.log" 2>&1 || { tail -30 "$work/$1.log" >&2; fail "$1: $target failed"; }
    ! grep -q "Inconsistent kallsyms data" "$work/$1.log" || fail "$1: Inconsistent kallsyms data"
    grep -oE 'LINK-VMLINUX-MS [0-9]+' "$work/$1.log" | tail -n1 | cut -d' ' -f2
}
links_of() { grep -cE '^ +LD +(\.tmp_vmlinux[.a-z0-9]*|vmlinux)$' "$work/$1.log" || true; }

kernel_ms=$(relink kernel)
kernel_links=$(links_of kernel)

# The image must hold exactly the table its own System.map gives (the kernel's own
# scripts/kallsyms on it), as our reader decodes it.
check_image() { # name
    "$work/kallsyms.kernel" $kallsymopt "$tree/System.map" > "$work/$1.expected.S"
    "$kallsyms" dump --format proc "$tree/vmlinux" > "$work/$1.proc"
    "$kallsyms" dump --format system-map "$tree/vmlinux" > "$work/$1.dump"
    python3 - "$work/$1.expected.S" "$work/$1.dump" <<'PY'
import re, sys
# The entries of the kernel's table ("<type><name>", in table order) from its .S: each name is
# a length (two bytes when the first has bit 7 set) and that many indices into the token table.
src = open(sys.argv[1]).read()
def block(label):
    return src.split(f"\n{label}:\n", 1)[1].split("\n\n", 1)[0]
tokens = [t.encode().decode("unicode_escape") for t in re.findall(r'\.asciz\t"(.*)"', block("kallsyms_token_table"))]
data = [int(b, 16) for line in block("kallsyms_names").split("\n") for b in re.findall(r"0x([0-9a-f]{2})", line.split("/*")[0])]
expected, i = [], 0
while i < len(data):
    n, i = data[i], i + 1
    if n & 0x80:
        n, i = (n & 0x7F) | (data[i] << 7), i + 1
    expected.append("".join(tokens[t] for t in data[i : i + n]))
    i += n
decoded = [l.split(" ", 1)[1].replace(" ", "", 1) for l in open(sys.argv[2]).read().split("\n") if l]
if expected != decoded:
    first = next((k for k, (a, b) in enumerate(zip(expected, decoded)) if a != b), min(len(expected), len(decoded)))
    sys.exit(f"decoded table ({len(decoded)}) differs from the table System.map gives ({len(expected)}), first at entry {first}")
print(f"vmlinux: the decoded table equals the table System.map gives ({len(decoded)} symbols)")
PY
}

boot() { # name
    local log="$work/$1.boot" pid i
    rm -f "$log"
    "${qemu[@]}" -display none -no-reboot -serial "file:$log" -kernel "$tree/$image" \
        -append "console=$console $bootargs panic=-1" > "$work/$1.qemu" 2>&1 &
    pid=$!
    # The init resets the machine when done; a reset that never comes is not a failure of ours.
    for i in $(seq 300); do
        kill -0 $pid 2>/dev/null || break
        if grep -q "=== DONE" "$log" 2>/dev/null; then sleep 3; break; fi
        sleep 1
    done
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    grep -q "=== DONE" "$log" || { tail -30 "$log"; cat "$work/$1.qemu"; fail "$1: the kernel did not finish booting"; }
    python3 "$root/integration/kernel/check.py" "$log" "$work/$1.proc" "$tree/System.map"
}

say "(a) scripts/kallsyms replaced by our drop-in"
bash "$root/scripts/install-dropin.sh" "$tree" "$kallsyms" >/dev/null
a_ms=$(relink a)
a_links=$(links_of a)
n=0
for syms in "$tree"/.tmp_vmlinux*.syms; do
    "$work/kallsyms.kernel" $kallsymopt "$syms" > "$work/ref.S"
    s=
    # 6.12: .tmp_vmlinuxN.syms -> .tmp_vmlinuxN.kallsyms.S, the empty pass
    # .tmp_vmlinux.kallsyms0.syms -> .tmp_vmlinux0.kallsyms.S; 6.1: .tmp_vmlinux.kallsymsN.syms
    # -> .tmp_vmlinux.kallsymsN.S
    for cand in "${syms%.syms}.kallsyms.S" "${syms%.kallsyms0.syms}0.kallsyms.S" "${syms%.syms}.S"; do
        [ -f "$cand" ] && s=$cand
    done
    [ -n "$s" ] || fail "(a): no .S next to ${syms##*/}"
    cmp -s "$work/ref.S" "$s" || fail "(a): ${s##*/}: our .S differs from the kernel's scripts/kallsyms on ${syms##*/}"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "(a): the build left no .syms"
echo "(a): $n generated .S files byte-identical to the kernel's scripts/kallsyms on the same .syms"
check_image a
boot a

say "(b) kallsyms link, installed by kallsyms kbuild install"
cp "$work/kallsyms.kernel" "$tree/scripts/kallsyms"
"$kallsyms" kbuild status "$tree" | grep '^not installed: ' || fail "(b): kbuild status before install"
"$kallsyms" kbuild install "$tree"
"$kallsyms" kbuild status "$tree" | grep '^installed: ' || fail "(b): kbuild status after install"
# Room reserved from the input objects (vmlinux.a's members): one link, then a patch.
export KALLSYMS_LINK_FLAGS="${KALLSYMS_LINK_FLAGS:---reserve auto}"
b_ms=$(relink b)
b_links=$(grep -cE '^pass [0-9]+: link' "$work/b.log" || true)
grep -E '^ *(KSYMLINK|pass|room|converged|verified|note|time)' "$work/b.log" | sed 's/^/    /'
unset KALLSYMS_LINK_FLAGS
check_image b
boot b
"$kallsyms" kbuild uninstall "$tree"
cmp "$work/link-vmlinux.sh.orig" "$tree/scripts/link-vmlinux.sh" || fail "(b): uninstall did not restore link-vmlinux.sh"
"$kallsyms" kbuild status "$tree" | grep '^not installed: ' || fail "(b): kbuild status after uninstall"
echo "(b): uninstall restored scripts/link-vmlinux.sh byte for byte"

say "result ($name)"
{
    printf '%s (make %s; make %s: %s s%s)\n' "$name" "${mk[*]}" "$target" "$build_s" "$first"
    printf '  %-48s %6s %18s\n' build links "link-vmlinux.sh ms"
    printf '  %-48s %6s %18s\n' "kernel's own scripts/kallsyms + link-vmlinux.sh" "$kernel_links" "$kernel_ms"
    printf '  %-48s %6s %18s\n' "(a) our drop-in scripts/kallsyms" "$a_links" "$a_ms"
    printf '  %-48s %6s %18s\n' "(b) kallsyms link (kbuild install)" "$b_links" "$b_ms"
    echo "PASS $name: (a) and (b) built without inconsistency, booted, and their /proc/kallsyms and backtraces check out ($(( $(date +%s) - started )) s)"
} | tee "$work/result.txt"

if [ "$arch" = x86_64 ] && [ "$version" = 6.12 ] && [ -z "$llvm" ] && [ -f "$root/integration/kernel/vmcore.sh" ]; then
    say "vmcore (integration/kernel/vmcore.sh)"
    # On the kernel's own link: the memory-dump reader does not find a table with room reserved
    # by `kallsyms link --reserve auto` yet ((b) boots with KASLR, but a dump of it is not read).
    rm -f "$tree/vmlinux" "$tree/System.map"
    make -C "$tree" -s "${mk[@]}" -j"$jobs" "$target" > "$work/vmcore-relink.log" 2>&1 || fail "relink for vmcore failed"
    bash "$root/integration/kernel/vmcore.sh" "$tree" "$kallsyms" "$work/vmcore"
fi
exit
}
