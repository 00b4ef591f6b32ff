/* A tiny freestanding x86_64 "firmware" that carries its own kallsyms table and prints a
 * symbolized backtrace of itself, as the kernel's dump_stack() does. */
#include "kallsyms.h"

static long sys_write(const char *buf, unsigned long len)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(1), "D"(1), "S"(buf), "d"(len) : "rcx", "r11", "memory");
	return ret;
}

__attribute__((noreturn)) void sys_exit(int code)
{
	__asm__ volatile("syscall" : : "a"(60), "D"(code));
	__builtin_unreachable();
}

static void puts_(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	sys_write(s, n);
}

static void puthex(unsigned long v)
{
	char buf[19] = "0x";
	int n = 2, started = 0;
	for (int shift = 60; shift >= 0; shift -= 4) {
		int d = (v >> shift) & 0xf;
		if (d || started || shift == 0) {
			buf[n++] = "0123456789abcdef"[d];
			started = 1;
		}
	}
	buf[n] = 0;
	puts_(buf);
}

/* `[<address>] name+0xoff/0xsize`, as %pS prints it. */
static void print_symbol(unsigned long addr)
{
	char name[128];
	unsigned long size, offset;

	puts_(" [<");
	puthex(addr);
	puts_(">] ");
	if (kallsyms_lookup(addr, name, sizeof(name), &size, &offset)) {
		puts_(name);
		puts_("+");
		puthex(offset);
		puts_("/");
		puthex(size);
	} else {
		puts_("?");
	}
	puts_("\n");
}

/* Walks the frame-pointer chain; _start ends it with a zero frame. */
__attribute__((noinline)) void dump_stack(void)
{
	unsigned long *frame = __builtin_frame_address(0);

	puts_("Call Trace:\n");
	print_symbol((unsigned long)__builtin_return_address(0) - 1);
	frame = (unsigned long *)frame[0];
	while (frame && frame[1]) {
		print_symbol(frame[1] - 1);
		frame = (unsigned long *)frame[0];
	}
}

__attribute__((noinline)) int handle_irq(int depth)
{
	if (depth == 0) {
		dump_stack();
		return 0;
	}
	return handle_irq(depth - 1) + 1;
}

__attribute__((noinline)) int process_request(int n)
{
	return handle_irq(n) * 2;
}

__attribute__((noinline, section(".init.text"))) int firmware_init(void)
{
	return process_request(1);
}

int main(void)
{
	puts_("firmware: kallsyms_lookup_name(\"process_request\") = ");
	puthex(kallsyms_lookup_name("process_request"));
	puts_(", &process_request = ");
	puthex((unsigned long)process_request);
	puts_("\n");
	return firmware_init() == 2 ? 0 : 1;
}
