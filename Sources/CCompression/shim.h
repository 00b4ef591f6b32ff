// The system's decompression libraries (Debian: zlib1g-dev liblzma-dev libzstd-dev liblz4-dev
// libbz2-dev), used by KernelImage to unwrap compressed kernels.
#include <zlib.h>
#include <lzma.h>
#include <zstd.h>
#include <lz4.h>
#include <bzlib.h>
