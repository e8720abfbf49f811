/* createloop: the create loop of bench/platform-bench.sh (a creation program runs per create).
 *
 * createloop DIR N: N times creat() + close() + unlink() of DIR/f, then N times mkdir() +
 * rmdir() of DIR/d; prints "create NS_PER_OP" and "mkdir NS_PER_OP" (guest instructions under
 * VIGIL_VM_ICOUNT). Exit status 1 (with strerror on stderr) when a call fails, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char f[PATH_MAX], d[PATH_MAX];
	uint64_t t0;
	long i, n;
	int fd;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0)
		return fprintf(stderr, "usage: createloop DIR N\n"), 2;
	snprintf(f, sizeof(f), "%s/f", argv[1]);
	snprintf(d, sizeof(d), "%s/d", argv[1]);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) < 0 || unlink(f) < 0)
			return fprintf(stderr, "create %s: %s\n", f, strerror(errno)), 1;
	}
	printf("create %.1f\n", (double)(now_ns() - t0) / (double)n);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (mkdir(d, 0700) < 0 || rmdir(d) < 0)
			return fprintf(stderr, "mkdir %s: %s\n", d, strerror(errno)), 1;
	printf("mkdir %.1f\n", (double)(now_ns() - t0) / (double)n);
	return 0;
}
