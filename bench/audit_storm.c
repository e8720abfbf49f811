/* Guest event generator for the audit benchmark: N exec mappings of an unlisted file, each one
 * decided and reported by the BPF program, as fast as the kernel allows. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long n, i, denied = 0, allowed = 0;
	struct timespec t0, t1;
	FILE *procs;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: audit_storm CGROUP_PROCS_FILE FILE N\n");
		return 2;
	}
	/* Started outside the policy's scope (its own exec is not listed), then moved in. */
	procs = fopen(argv[1], "we");
	if (!procs || fprintf(procs, "%d\n", getpid()) < 0 || fclose(procs) != 0) {
		perror(argv[1]);
		return 1;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	n = strtoul(argv[3], NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED && errno == EPERM) {
			denied++;
		} else if (p != MAP_FAILED) {
			allowed++;
			munmap(p, 4096);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%lu mappings in %.3f s: %lu denied, %lu allowed, %.0f decisions/s\n", n,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, denied,
	       allowed,
	       (double)n /
	           ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}
