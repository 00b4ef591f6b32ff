/* Symbol lookups over the image's own kallsyms table, the way kernel/kallsyms.c reads it
 * (Linux 6.12 layout: offsets from kallsyms_relative_base, names compressed with a token
 * table, seqs_of_names for lookups by name). */
#ifndef FIRMWARE_KALLSYMS_H
#define FIRMWARE_KALLSYMS_H

/* Finds the symbol containing addr. Writes its name (at most size-1 bytes) and returns 1 with
 * *offset and *symbol_size set, or returns 0 when addr is outside the image's text. */
int kallsyms_lookup(unsigned long addr, char *name, unsigned long size, unsigned long *symbol_size,
                    unsigned long *offset);

/* The address of the first symbol called name, or 0. */
unsigned long kallsyms_lookup_name(const char *name);

#endif
