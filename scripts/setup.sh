#!/usr/bin/env bash
# Installs what building, testing and benchmarking need on a fresh Debian 12 machine (as root, or
# with sudo). Idempotent: only missing packages are installed.
set -euo pipefail
packages=(gcc libc6-dev binutils make xz-utils python3 time
    binutils-aarch64-linux-gnu binutils-powerpc64le-linux-gnu binutils-riscv64-linux-gnu
    binutils-i686-linux-gnu binutils-arm-linux-gnueabihf
    zlib1g-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev gzip bzip2 zstd lz4 gdb
    dpkg-dev debootstrap git)  # the .deb and its chroot test (scripts/package-deb.sh, check-deb.sh)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "setup: installing ${missing[*]}"
    # A mirror mid-sync can fail one index; retry, then go on with what the lists have.
    $sudo apt-get update -qq || { sleep 10; $sudo apt-get update -qq; } || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.x toolchain required)" >&2; exit 1; }
