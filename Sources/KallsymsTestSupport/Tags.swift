import Testing

extension Tag {
    /// Needs no download: neither the kernel's reference tools (built from Debian's linux-source)
    /// nor Debian's kernels and maps. `scripts/test-offline.sh -c release` runs these, with
    /// `KALLSYMS_OFFLINE=1`: a tagged test that reaches for the download cache fails.
    @Tag public static var offline: Self
}
