// ELF reading and writing: see ELFCursor, ELFFile, ELFObjectWriter.
