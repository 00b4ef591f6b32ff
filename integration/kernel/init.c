/* The whole userspace of the boot test: print /proc/kallsyms between markers, ask the kernel
 * for backtraces (sysrq t: every task's stack), and reset the machine (qemu -no-reboot exits). */
#include <fcntl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

static void say(const char *s)
{
	const char *e = s;
	while (*e)
		e++;
	write(1, s, e - s);
}

int main(void)
{
	static char buf[65536];
	int fd;
	long n;

	mount("proc", "/proc", "proc", 0, 0);
	/* Kernel messages (a late device probe) must not land inside the dump on the console. */
	klogctl(6 /* SYSLOG_ACTION_CONSOLE_OFF */, 0, 0);
	say("\n=== KALLSYMS BEGIN\n");
	fd = open("/proc/kallsyms", O_RDONLY);
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		write(1, buf, n);
	say("=== KALLSYMS END\n");
	klogctl(7 /* SYSLOG_ACTION_CONSOLE_ON */, 0, 0);
	klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, 0, 8);
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd >= 0)
		write(fd, "t", 1);
	sleep(1);
	say("=== DONE\n");
	sync();
	reboot(RB_AUTOBOOT);
	return 0;
}
