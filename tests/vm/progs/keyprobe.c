/* keyprobe: the routes to a key grant that do not run the granted binary, for tests/vm/keys.sh.
 *
 *   keyprobe read ID | fork-read ID        keyctl read (fork-read: from a forked child)
 *   keyprobe pause                          wait for a signal (a grant holder to attack)
 *   keyprobe ptrace PID | vmwrite PID | vmread PID | procmem PID | procmem-read PID
 *   keyprobe traceme                        PTRACE_TRACEME from this process
 *   keyprobe traced-exec PATH ARGS...       run PATH traced from its exec on; its exit status
 *   keyprobe exe-file PATH ID               unmap this binary, prctl(PR_SET_MM_EXE_FILE, PATH),
 *                                           keyctl read: exit 0 read, 1 EPERM, 100+errno prctl,
 *                                           102 its anonymous code refused (EPERM)
 * Exit 0 on success, 1 with "what: strerror" on stderr otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYCTL_READ_ 11

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

static int key_read(long id)
{
	char buf[256];
	long r = syscall(SYS_keyctl, KEYCTL_READ_, id, buf, sizeof(buf) - 1);

	if (r < 0)
		return fail("keyctl read", errno);
	buf[r < (long)sizeof(buf) - 1 ? r : (long)sizeof(buf) - 1] = 0;
	printf("%s\n", buf);
	return 0;
}

static int wait_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return fail("waitpid", errno);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The low end of PID's stack: a mapped, writable address in it. */
static uintptr_t stack_of(pid_t pid)
{
	char path[64], line[512];
	uintptr_t lo = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]"))
			lo = (uintptr_t)strtoull(line, NULL, 16);
	if (f)
		fclose(f);
	return lo;
}

static int cmd_memory(const char *op, pid_t pid)
{
	char byte = 0, path[64];
	struct iovec local = {.iov_base = &byte, .iov_len = 1};
	struct iovec remote = {.iov_base = (void *)stack_of(pid), .iov_len = 1};
	int fd;

	if (strcmp(op, "ptrace") == 0) {
		if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
			return fail("ptrace attach", errno);
		waitpid(pid, NULL, 0);
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return 0;
	}
	if (strcmp(op, "procmem") == 0 || strcmp(op, "procmem-read") == 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		fd = open(path, strcmp(op, "procmem") == 0 ? O_RDWR : O_RDONLY);
		if (fd < 0)
			return fail("open /proc/PID/mem", errno);
		close(fd);
		return 0;
	}
	if (!remote.iov_base)
		return fail("no stack in /proc/PID/maps", ENOENT);
	if (strcmp(op, "vmread") == 0)
		return process_vm_readv(pid, &local, 1, &remote, 1, 0) < 0
		           ? fail("process_vm_readv", errno)
		           : 0;
	return process_vm_writev(pid, &local, 1, &remote, 1, 0) < 0
	           ? fail("process_vm_writev", errno)
	           : 0;
}

static int cmd_traced_exec(char **argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return fail("fork", errno);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(fail("ptrace traceme", errno));
		execv(argv[0], argv);
		_exit(fail("execv", errno));
	}
	/* The exec stops the child with SIGTRAP: it was traced across it. Let it go on alone. */
	if (waitpid(pid, &st, 0) < 0)
		return fail("waitpid", errno);
	if (WIFSTOPPED(st))
		ptrace(PTRACE_DETACH, pid, 0, 0);
	else
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return wait_status(pid);
}

/*
 * Runs from an anonymous executable copy once this binary is unmapped (the kernel refuses a
 * new exe_file while the old one is mapped), so raw syscalls only.
 */
struct exe_args {
	uint64_t n;
	uint64_t start[8];
	uint64_t len[8];
	uint64_t fd, key, buf, buflen;
};
extern const char exe_blob[], exe_blob_end[];
__asm__(".pushsection .text\n"
        "exe_blob:\n"
        "	mov %rdi, %r12\n"
        "	xor %r13, %r13\n"
        "1:	cmp (%r12), %r13\n"
        "	jae 2f\n"
        "	mov $11, %eax\n" /* munmap */
        "	mov 8(%r12,%r13,8), %rdi\n"
        "	mov 72(%r12,%r13,8), %rsi\n"
        "	syscall\n"
        "	inc %r13\n"
        "	jmp 1b\n"
        "2:	mov $157, %eax\n" /* prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, fd) */
        "	mov $35, %edi\n"
        "	mov $13, %esi\n"
        "	mov 136(%r12), %rdx\n"
        "	xor %r10, %r10\n"
        "	xor %r8, %r8\n"
        "	syscall\n"
        "	test %rax, %rax\n"
        "	jz 3f\n"
        "	neg %rax\n"
        "	add $100, %rax\n"
        "	mov %rax, %rdi\n"
        "	mov $231, %eax\n" /* exit_group(100 + errno) */
        "	syscall\n"
        "3:	mov $250, %eax\n" /* keyctl(KEYCTL_READ, key, buf, buflen) */
        "	mov $11, %edi\n"
        "	mov 144(%r12), %rsi\n"
        "	mov 152(%r12), %rdx\n"
        "	mov 160(%r12), %r10\n"
        "	syscall\n"
        "	xor %edi, %edi\n"
        "	test %rax, %rax\n"
        "	jns 4f\n"
        "	mov %rax, %rdi\n"
        "	neg %rdi\n"
        "4:	mov $231, %eax\n" /* exit_group(0 or errno) */
        "	syscall\n"
        "exe_blob_end:\n"
        ".popsection\n");

static int cmd_exe_file(const char *path, long key)
{
	/* On the stack: this binary's data and bss are file mappings the blob unmaps. */
	struct exe_args a = {0};
	char buf[256];
	char self[256], line[512], *name;
	size_t size = (size_t)(exe_blob_end - exe_blob);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	void *code;
	FILE *f;

	if (n < 0)
		return fail("readlink", errno);
	self[n] = 0;
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f) && a.n < 8) {
		uint64_t lo, hi;

		name = strchr(line, '/');
		if (!name || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, self) != 0)
			continue;
		a.start[a.n] = lo;
		a.len[a.n++] = hi - lo;
	}
	if (f)
		fclose(f);
	a.fd = (uint64_t)open(path, O_RDONLY);
	a.key = (uint64_t)key;
	a.buf = (uint64_t)(uintptr_t)buf;
	a.buflen = sizeof(buf);
	if ((int)a.fd < 0)
		return fail("open", errno);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	            0);
	if (code == MAP_FAILED)
		return errno == EPERM ? (fail("mmap PROT_EXEC", errno), 102) : fail("mmap", errno);
	memcpy(code, exe_blob, size);
	fflush(NULL);
	((void (*)(struct exe_args *))code)(&a);
	return 99; /* not reached */
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return key_read(atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "fork-read") == 0) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(key_read(atol(argv[2])));
		return pid < 0 ? fail("fork", errno) : wait_status(pid);
	}
	if (argc == 2 && strcmp(argv[1], "pause") == 0) {
		pause();
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "traceme") == 0)
		return ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 ? fail("ptrace traceme", errno) : 0;
	if (argc > 2 && strcmp(argv[1], "traced-exec") == 0)
		return cmd_traced_exec(argv + 2);
	if (argc == 4 && strcmp(argv[1], "exe-file") == 0)
		return cmd_exe_file(argv[2], atol(argv[3]));
	if (argc == 3)
		return cmd_memory(argv[1], (pid_t)atoi(argv[2]));
	fprintf(stderr, "usage: see tests/vm/progs/keyprobe.c\n");
	return 2;
}
