import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `NMListing` + `SymbolFilter` against binutils' `nm -n` and the kernel's own mksysmap, and
/// `ELFSysmap` against 7.3's `kallsyms --sysmap`, on Debian's real vmlinux and on programs built
/// for six architectures with both GNU ld and lld.
@Suite struct NMListingTests {
    /// Every letter nm knows for ELF: local/global/weak functions and objects, undefined weak,
    /// common, TLS, ifunc, unique, absolute, non-alloc and debugging sections, a COFF-named
    /// section, names with a space, linker-stub look-alikes that mksysmap drops.
    static let cSource = """
        int common_var;
        static int static_var = 3;
        int data_var = 4;
        const int rodata_var = 5;
        static const char srodata[] = "hello";
        __thread int tls_var;
        __thread int tls_init = 1;
        int bss_var;
        __attribute__((weak)) int weak_obj = 1;
        __attribute__((weak)) void weak_fn(void) {}
        extern void undef_weak(void) __attribute__((weak));
        extern int undef_weak_obj __attribute__((weak));
        extern int ext_fn(int);
        static void local_fn(void) {}
        void global_fn(void) { local_fn(); if (undef_weak) undef_weak(); }
        static int resolver_impl(void) { return 1; }
        static void *resolve(void) { return (void *)resolver_impl; }
        int ifunc_fn(void) __attribute__((ifunc("resolve")));
        int aaa, aab;
        void z_alias(void) __attribute__((alias("global_fn")));
        int use(void) { return ext_fn(static_var + srodata[0] + undef_weak_obj); }
        """
    static let asmSource = """
        \t.globl abs_sym
        \t.set abs_sym, 0x1234
        \t.set local_abs, 0x10
        \t.section .mynote,"",%progbits
        note_label:
        \t.byte 1
        \t.section .debug_foo,"",%progbits
        dbg_label:
        \t.byte 1
        \t.section .rwnoalloc,"w",%progbits
        rw_label:
        \t.byte 1
        \t.section .text.unique,"ax",%progbits
        \t.type uniq, %gnu_unique_object
        uniq:
        \t.byte 0
        \t.section .idata$2,"a"
        idata_label:
        \t.byte 0
        \t.text
        \t.globl __foo_veneer
        __foo_veneer:
        \t.globl __ZZThunk_x
        __ZZThunk_x:
        \t.globl __kstrtab_x
        __kstrtab_x:
        \t.globl "with space"
        "with space":
        \t.globl "x.long_branch.y"
        "x.long_branch.y":
        \t.byte 0
        """
    static let mainSource = "int ext_fn(int x) { return x; }\nvoid _start(void) {}\n"

    /// (clang target, GNU ld)
    static let targets: [(String, String)] = [
        ("x86_64-linux-gnu", "/usr/bin/ld"), ("aarch64-linux-gnu", "/usr/bin/aarch64-linux-gnu-ld"),
        ("powerpc64le-linux-gnu", "/usr/bin/powerpc64le-linux-gnu-ld"),
        ("riscv64-linux-gnu", "/usr/bin/riscv64-linux-gnu-ld"), ("i686-linux-gnu", "/usr/bin/i686-linux-gnu-ld"),
        ("arm-linux-gnueabihf", "/usr/bin/arm-linux-gnueabihf-ld"),
    ]

    static func tool(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw SupportError("\(name) is not on PATH (it comes with the Swift toolchain)")
    }

    func run(_ path: String, _ args: [String], env: [String: String] = [:]) throws -> [UInt8] {
        let r = try runProcess("/usr/bin/env", ["LC_ALL=C"] + env.map { "\($0)=\($1)" } + [path] + args)
        guard r.status == 0 else {
            throw SupportError("\(path) \(args.joined(separator: " ")): \(String(decoding: r.stderr, as: UTF8.self))")
        }
        return r.stdout
    }

    /// The kernel's pipeline on a file: `nm -n FILE | mksysmap`.
    func kernelMap(_ file: String, _ format: KallsymsFormat) throws -> [UInt8] {
        let script = try ReferenceTool.mksysmap(format)
        let out = file + ".sysmap-\(format.rawValue)"
        if format == .linux612 {
            let nm = try run("/usr/bin/nm", ["-n", file])
            let r = try runProcess("/usr/bin/env", ["LC_ALL=C", "/bin/sed", "-f", script], stdin: nm)
            return r.stdout
        }
        _ = try run("/bin/sh", [script, file, out], env: ["NM": "nm"])
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func check(_ file: String) throws {
        let listing = try NMListing.read(ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: file)))))
        let nm = try run("/usr/bin/nm", ["-n", file])
        #expect(listing.text() == nm, "nm -n \(file)")
        for (format, base) in [(KallsymsFormat.linux612, SymbolFilter.Base.linux612), (.linux61, .linux61)] {
            let ours = NMListing.text(
                SymbolFilter(base: base).apply(listing.symbols, addressWidth: listing.addressWidth),
                addressWidth: listing.addressWidth)
            #expect(ours == (try kernelMap(file, format)), "mksysmap \(format) \(file)")
        }
        // 7.3 reads the ELF itself: linked programs give its System.map, objects its refusal.
        let linked = !file.hasSuffix(".o")
        #expect(try Sysmap73Oracle.compare(file) == (linked ? .identical : .bothFailed), "kallsyms-7.3 --sysmap \(file)")
    }

    /// Linker-script symbols in `.dynsym`, `.dynstr` and an emptied `.rela.dyn`, as powerpc's
    /// vmlinux.lds.S defines `__dynamic_symtab`: nm says `R` (BFD keeps the dynamic symbol table
    /// and its strings as sections). Read as absolute, `A`, the symbol left the table of a real
    /// ppc64le build and the kernel's own System.map comparison failed.
    @Test(arguments: [("x86_64-linux-gnu", "/usr/bin/ld"), ("powerpc64le-linux-gnu", "/usr/bin/powerpc64le-linux-gnu-ld")])
    func dynamicSymbolTableIsASection(_ target: String, _ gnuLD: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "int counter = 1;\nint get(void) { return counter; }\nvoid _start(void) { get(); }\n"
            .write(toFile: "\(dir)/t.c", atomically: true, encoding: .utf8)
        try """
            SECTIONS {
              . = 0x400000;
              .text : { *(.text*) }
              .dynsym : { __dynamic_symtab = .; *(.dynsym) }
              .dynstr : { __dynamic_strtab = .; *(.dynstr) }
              .rela.dyn : { __rela_dyn_start = .; *(.rela*) }
              .data : { *(.data*) }
              .dynamic : { __dynamic_start = .; *(.dynamic) }
            }
            """.write(toFile: "\(dir)/t.lds", atomically: true, encoding: .utf8)
        _ = try run(try Self.tool("clang"), ["--target=\(target)", "-O1", "-fPIE", "-c", "\(dir)/t.c", "-o", "\(dir)/t.o"])
        _ = try run(gnuLD, ["-pie", "-T", "\(dir)/t.lds", "-z", "noexecstack", "--no-warn-rwx-segments", "-o", "\(dir)/t", "\(dir)/t.o"])
        let listing = try NMListing.read(ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/t")))))
        let nm = try run("/usr/bin/nm", ["-n", "\(dir)/t"])
        #expect(listing.text() == nm)
        #expect(String(decoding: nm, as: UTF8.self).contains(" R __dynamic_symtab\n"))
    }

    @Test(arguments: targets.map(\.0))
    func objectsAndProgramsMatchNM(_ target: String) throws {
        let gnuLD = Self.targets.first { $0.0 == target }!.1
        let clang = try Self.tool("clang")
        let lld = try Self.tool("ld.lld")
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.cSource.write(toFile: "\(dir)/t.c", atomically: true, encoding: .utf8)
        try Self.asmSource.write(toFile: "\(dir)/s.S", atomically: true, encoding: .utf8)
        try Self.mainSource.write(toFile: "\(dir)/e.c", atomically: true, encoding: .utf8)
        for f in ["t", "s", "e"] {
            let src = f == "s" ? "\(dir)/s.S" : "\(dir)/\(f).c"
            _ = try run(clang, ["--target=\(target)", "-O1", "-fcommon", "-fno-pic", "-c", src, "-o", "\(dir)/\(f).o"])
        }
        let objects = ["t", "s", "e"].map { "\(dir)/\($0).o" }
        _ = try run(gnuLD, ["-static", "-z", "noexecstack", "-o", "\(dir)/bfd"] + objects)
        _ = try run(lld, ["-static", "-o", "\(dir)/lld"] + objects)
        for f in objects + ["\(dir)/bfd", "\(dir)/lld"] { try check(f) }
        // The comparison proves little unless the files hold every kind of symbol.
        var letters = Set<Character>()
        for f in ["\(dir)/bfd", "\(dir)/t.o"] {
            let l = try NMListing.read(ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: f)))))
            for i in 0 ..< l.symbols.count { letters.insert(Character(UnicodeScalar(l.symbols.type(i)))) }
        }
        #expect(letters.isSuperset(of: ["w", "N", "n", "?", "D", "B", "a", "A", "R", "i", "W", "T", "t", "u", "V", "U", "C"]))
    }

    @Test func debianVmlinuxMatchesNMAndSystemMap() throws {
        let vmlinux = try DebianData.vmlinux("6.12", "amd64")
        let listing = try ELFSymbolSource.listing(path: vmlinux)
        #expect(listing.symbols.count == 198_747)
        let nm = try run("/usr/bin/nm", ["-n", vmlinux])
        #expect(listing.text() == nm)
        let map = NMListing.text(SymbolFilter().apply(listing.symbols, addressWidth: 16), addressWidth: 16)
        #expect(map == (try kernelMap(vmlinux, .linux612)))
        // And it is the System.map Debian shipped with this build.
        let shipped = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try DebianData.systemMap612())))
        #expect(map == shipped)
        // 7.3's `kallsyms --sysmap` gives the same System.map, and so do we.
        #expect(try Sysmap73Oracle.compare(vmlinux) == .identical)
        #expect(try ELFSysmap.read(path: vmlinux).text() == shipped)
    }
}
