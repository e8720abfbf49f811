/* exec-probe: guest test helper for exec paths busybox cannot reach (memfd, deleted files,
 * mprotect). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int copy_into(int dst, const char *src_path)
{
	struct stat st;
	int src = open(src_path, O_RDONLY | O_CLOEXEC);

	if (src < 0 || fstat(src, &st) < 0)
		return -1;
	if (sendfile(dst, src, NULL, (size_t)st.st_size) != st.st_size)
		return -1;
	close(src);
	return 0;
}

/* Prints "errno=N (text)" and returns 1 when the exec was refused. */
static int report_exec(int fd)
{
	char *argv[] = {"true", NULL};

	fexecve(fd, argv, environ);
	printf("errno=%d (%s)\n", errno, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "memfd") == 0) {
		int fd = memfd_create("probe", 0);

		if (fd < 0 || copy_into(fd, argv[2]) < 0) {
			perror("memfd");
			return 2;
		}
		return report_exec(fd);
	}
	if (argc == 3 && strcmp(argv[1], "deleted") == 0) {
		/* A copy of argv[2], unlinked while open: exec through the descriptor. */
		char tmp[] = "/tmp/probe-deleted-XXXXXX";
		int fd = mkostemp(tmp, O_CLOEXEC), rfd;

		if (fd < 0 || copy_into(fd, argv[2]) < 0 || fchmod(fd, 0755) < 0) {
			perror("deleted");
			return 2;
		}
		close(fd);
		rfd = open(tmp, O_RDONLY | O_CLOEXEC);
		unlink(tmp);
		return report_exec(rfd);
	}
	if (argc == 3 && strcmp(argv[1], "mprotect") == 0) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		void *p;

		if (fd < 0) {
			perror("open");
			return 2;
		}
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0) {
			printf("errno=%d (%s)\n", errno, strerror(errno));
			return 1;
		}
		printf("mprotect allowed\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "mmap") == 0) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			perror("open");
			return 2;
		}
		if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			printf("errno=%d (%s)\n", errno, strerror(errno));
			return 1;
		}
		printf("mmap allowed\n");
		return 0;
	}
	fprintf(stderr, "usage: exec-probe memfd|deleted|mprotect|mmap FILE\n");
	return 2;
}
