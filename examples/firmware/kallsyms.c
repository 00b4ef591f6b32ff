#include "kallsyms.h"

/* Emitted by `kallsyms link`; every pass links them, so they are never undefined. */
extern const unsigned int kallsyms_num_syms;
extern const unsigned char kallsyms_names[];
extern const unsigned int kallsyms_markers[];
extern const char kallsyms_token_table[];
extern const unsigned short kallsyms_token_index[];
extern const int kallsyms_offsets[];
extern const unsigned char kallsyms_seqs_of_names[];
#ifndef KALLSYMS_PC_RELATIVE
extern const unsigned long kallsyms_relative_base;
#endif
extern const char _stext[], _etext[], _sinittext[], _einittext[];

/* 7.0 and later with --pc-relative: each entry is relative to its own place; before 7.0 an
 * unsigned offset from kallsyms_relative_base. */
static unsigned long sym_address(unsigned int i)
{
#ifdef KALLSYMS_PC_RELATIVE
	return (unsigned long)&kallsyms_offsets[i] + kallsyms_offsets[i];
#else
	return kallsyms_relative_base + (unsigned int)kallsyms_offsets[i];
#endif
}

/* Expands the compressed name at names offset off; the first character (the type letter) is
 * dropped, as the kernel drops it. Returns the offset of the next name. */
static unsigned int expand_symbol(unsigned int off, char *result, unsigned long maxlen)
{
	const unsigned char *data = &kallsyms_names[off];
	unsigned int len = *data++;
	int skipped_first = 0;

	off++;
	if (len & 0x80) {
		len = (len & 0x7f) | (*data++ << 7);
		off++;
	}
	off += len;
	while (len--) {
		const char *tok = &kallsyms_token_table[kallsyms_token_index[*data++]];
		for (; *tok; tok++) {
			if (skipped_first) {
				if (maxlen <= 1)
					goto done;
				*result++ = *tok;
				maxlen--;
			} else {
				skipped_first = 1;
			}
		}
	}
done:
	if (maxlen)
		*result = 0;
	return off;
}

static unsigned int symbol_offset(unsigned int pos)
{
	const unsigned char *name = &kallsyms_names[kallsyms_markers[pos >> 8]];
	for (unsigned int i = 0; i < (pos & 0xff); i++) {
		unsigned int len = *name;
		if (len & 0x80)
			len = ((len & 0x7f) | (name[1] << 7)) + 1;
		name += len + 1;
	}
	return name - kallsyms_names;
}

int kallsyms_lookup(unsigned long addr, char *name, unsigned long size, unsigned long *symbol_size,
                    unsigned long *offset)
{
	unsigned long low = 0, high = kallsyms_num_syms, mid, start, end = 0;

	if (!((addr >= (unsigned long)_stext && addr <= (unsigned long)_etext) ||
	      (addr >= (unsigned long)_sinittext && addr <= (unsigned long)_einittext)))
		return 0;
	while (high - low > 1) {
		mid = low + (high - low) / 2;
		if (sym_address(mid) <= addr)
			low = mid;
		else
			high = mid;
	}
	/* The first of several symbols at one address is the one the kernel prints. */
	while (low && sym_address(low - 1) == sym_address(low))
		--low;
	start = sym_address(low);
	for (unsigned long i = low + 1; i < kallsyms_num_syms; i++) {
		if (sym_address(i) > start) {
			end = sym_address(i);
			break;
		}
	}
	if (!end)
		end = addr >= (unsigned long)_sinittext ? (unsigned long)_einittext : (unsigned long)_etext;
	expand_symbol(symbol_offset(low), name, size);
	*symbol_size = end - start;
	*offset = addr - start;
	return 1;
}

static int compare(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

static unsigned int seq(unsigned int i)
{
	const unsigned char *s = &kallsyms_seqs_of_names[3 * i];
	return (s[0] << 16) | (s[1] << 8) | s[2];
}

unsigned long kallsyms_lookup_name(const char *name)
{
	char buf[128];
	int low = 0, high = (int)kallsyms_num_syms - 1;

	/* seqs_of_names lists the symbols in name order: a binary search finds the first match. */
	while (low <= high) {
		int mid = low + (high - low) / 2;
		expand_symbol(symbol_offset(seq(mid)), buf, sizeof(buf));
		int c = compare(name, buf);
		if (c > 0) {
			low = mid + 1;
		} else {
			high = mid - 1;
		}
	}
	if ((unsigned int)low >= kallsyms_num_syms)
		return 0;
	expand_symbol(symbol_offset(seq(low)), buf, sizeof(buf));
	return compare(name, buf) ? 0 : sym_address(seq(low));
}
