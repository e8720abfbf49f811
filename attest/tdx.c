/* TDX backend: RTMR extend and read through the tdx_guest sysfs measurement files (6.x kernels). */
#include "attest/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* RTMRs are sha384 registers; TPM2_ALG_SHA384 is the algorithm id the digests use. */
#define RTMR_ALG 0x000c
#define RTMR_LEN 48

int tdx_rtmr_extend(const char *path, const struct attest_digest *d)
{
	ssize_t n;
	int fd;

	if (d->alg != RTMR_ALG || d->len != RTMR_LEN)
		return -EINVAL;
	/* The kernel extends with exactly one 48-byte write; a short write would be a bug. */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = write(fd, d->d, RTMR_LEN);
	if (n != RTMR_LEN) {
		int r = n < 0 ? -errno : -EIO; /* errno read before close can change it */

		close(fd);
		return r;
	}
	return close(fd) < 0 ? -errno : 0;
}

int attest_rtmr_read(const char *path, struct attest_digest *out)
{
	uint8_t buf[RTMR_LEN + 1];
	size_t off = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r = 0;

	if (fd < 0)
		return -errno;
	/* One byte more than a register: a longer file is not an RTMR. */
	while (off < sizeof(buf) && (n = read(fd, buf + off, sizeof(buf) - off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno; /* read before close can change it */
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (r < 0)
		return r;
	if (off != RTMR_LEN)
		return -EBADMSG;
	memcpy(out->d, buf, RTMR_LEN);
	out->alg = RTMR_ALG;
	out->len = RTMR_LEN;
	return 0;
}
