/* boundprobe: one syscall per subcommand for tests/vm/bound.sh (capabilities, kernel code,
 * kexec, cgroup moves, mounts). Exit 0 when the kernel let it through, 1 with strerror on
 * stderr when it failed ("Operation not permitted" is EPERM). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif

static int result(const char *what, long r)
{
	if (r >= 0)
		return 0;
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 1;
}

static int probe_clone_into_cgroup(const char *dir)
{
	struct clone_args args = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD};
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long pid;

	if (fd < 0)
		return result("open", -1);
	args.cgroup = (uint64_t)fd;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return result("clone3", pid);
}

static int probe_perf(void)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .size = sizeof(attr),
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .disabled = 1,
	};

	/* Kernel profiling of every CPU: perfmon_capable() whatever perf_event_paranoid says. */
	return result("perf_event_open", syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0));
}

static int probe_fsconfig(void)
{
	long fd = syscall(SYS_fsopen, "tmpfs", 0);

	if (fd < 0)
		return result("fsopen", fd);
	return result("fsconfig", syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, "size", "1m", 0));
}

static int probe_init_module(const char *path)
{
	static char buf[4 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return result("open", -1);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return result("read", -1);
	return result("init_module", syscall(SYS_init_module, buf, (unsigned long)n, ""));
}

/* N pairs of chown to uid 1000 and back: two capable(CAP_CHOWN) checks each; prints the clock
 * per pair (instructions under VIGIL_VM_ICOUNT). */
static int chown_loop(const char *path, long n)
{
	struct timespec t0, t1;
	long i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (chown(path, 1000, (gid_t)-1) < 0 || chown(path, 0, (gid_t)-1) < 0)
			return result("chown", -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
	           (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int fd, flags;

	if (strcmp(cmd, "finit-module") == 0 && argc == 3) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		return fd < 0 ? result("open", -1)
		              : result("finit_module", syscall(SYS_finit_module, fd, "", 0));
	}
	if (strcmp(cmd, "init-module") == 0 && argc == 3)
		return probe_init_module(argv[2]);
	if (strcmp(cmd, "kexec-file") == 0 && argc == 3) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		return fd < 0
		           ? result("open", -1)
		           : result("kexec_file_load", syscall(SYS_kexec_file_load, fd, -1, 1, "",
		                                               2 /* KEXEC_FILE_NO_INITRAMFS */));
	}
	if (strcmp(cmd, "kexec-load") == 0)
		return result("kexec_load", syscall(SYS_kexec_load, 0x100000ul, 0ul, NULL, 0ul));
	if (strcmp(cmd, "reboot-kexec") == 0)
		return result("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1,
		                                LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, NULL));
	if (strcmp(cmd, "reboot-cad-off") == 0)
		return result("reboot",
		              syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		                      LINUX_REBOOT_CMD_CAD_OFF, NULL));
	if (strcmp(cmd, "raw-socket") == 0)
		return result("socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	if (strcmp(cmd, "socket-family") == 0 && argc == 3)
		return result("socket", socket(atoi(argv[2]), SOCK_DGRAM, 0));
	if (strcmp(cmd, "iopl") == 0)
		return result("iopl", iopl(3));
	if (strcmp(cmd, "raise-nofile") == 0) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_max += 1;
		return result("setrlimit", setrlimit(RLIMIT_NOFILE, &rl));
	}
	if (strcmp(cmd, "immutable") == 0 && argc == 3) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
			return result("FS_IOC_GETFLAGS", -1);
		flags |= FS_IMMUTABLE_FL;
		return result("FS_IOC_SETFLAGS", ioctl(fd, FS_IOC_SETFLAGS, &flags));
	}
	if (strcmp(cmd, "ptrace") == 0 && argc == 3)
		return result("ptrace", ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL));
	if (strcmp(cmd, "perf") == 0)
		return probe_perf();
	if (strcmp(cmd, "fsconfig") == 0)
		return probe_fsconfig();
	if (strcmp(cmd, "clone-into-cgroup") == 0 && argc == 3)
		return probe_clone_into_cgroup(argv[2]);
	if (strcmp(cmd, "open-write") == 0 && argc == 3)
		return result("open", open(argv[2], O_WRONLY | O_CLOEXEC));
	if (strcmp(cmd, "open-read") == 0 && argc == 3)
		return result("open", open(argv[2], O_RDONLY | O_CLOEXEC));
	if (strcmp(cmd, "chown-loop") == 0 && argc == 4)
		return chown_loop(argv[2], atol(argv[3]));
	if (strcmp(cmd, "mount") == 0 && argc == 5)
		return result("mount", mount(argv[2], argv[3], argv[4], 0, NULL));
	if (strcmp(cmd, "mount-overlay") == 0 && argc == 4)
		return result("mount", mount("overlay", argv[3], "overlay", 0, argv[2]));
	if (strcmp(cmd, "mount-bind") == 0 && argc == 4)
		return result("mount", mount(argv[2], argv[3], NULL, MS_BIND, NULL));
	if (strcmp(cmd, "bind") == 0 && argc == 3) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};

		fd = socket(AF_INET, SOCK_STREAM, 0);
		return result("bind", fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof(a)));
	}
	fprintf(stderr, "usage: boundprobe finit-module|init-module|kexec-file FILE | kexec-load | "
	                "reboot-kexec | reboot-cad-off | raw-socket | socket-family N | iopl | "
	                "raise-nofile | immutable FILE | ptrace PID | perf | fsconfig | "
	                "clone-into-cgroup DIR | open-write|open-read FILE | bind PORT | "
	                "mount SRC DIR TYPE | mount-overlay OPTIONS DIR | mount-bind SRC DIR | "
	                "chown-loop FILE N\n");
	return 2;
}
