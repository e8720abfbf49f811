/* libFuzzer target: the measurement-log replay reads any file without crashing (attest/replay.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct measure_replay r;
	char path[64], err[256];
	int fd;

	/* The reader takes a path to a regular file: a memfd is one. */
	fd = memfd_create("fuzz-measure-log", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	measure_replay(path, &r, err, sizeof(err));
	measure_replay_strict(path, true, &r, err, sizeof(err));
	close(fd);
	return 0;
}
