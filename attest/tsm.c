/* TDX and SNP reports through configfs-tsm (Documentation/ABI/testing/configfs-tsm): report data
 * in, the provider's report out, checked to carry that report data. No TDX/SNP hardware exists
 * here: the tests run it against a fake tree (tests/host/test_tsm.sh). */
#include "attest/kbs.h"
#include "attest/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSM_ENTRY "vigil"

/* Reads a whole attribute (at most max bytes); *len its size. */
static int read_attr(const char *dir, const char *name, uint8_t *buf, size_t max, size_t *len)
{
	char path[4096];
	size_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + off, max - off);

		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == max) {
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	*len = off;
	return 0;
}

static int read_u64(const char *dir, const char *name, unsigned long long *v)
{
	uint8_t buf[32];
	size_t len;
	int r = read_attr(dir, name, buf, sizeof(buf) - 1, &len);

	if (r < 0)
		return r;
	buf[len] = 0;
	return sscanf((char *)buf, "%llu", v) == 1 ? 0 : -EBADMSG;
}

int tsm_report(const char *root, const uint8_t data[64], struct tsm_result *ret, char *err,
               size_t errlen)
{
	char dir[4096];
	uint8_t prov[64];
	size_t plen = 0;
	struct tee_report_info ti;
	unsigned long long g1 = 0, g2 = 0;
	int fd, r = 0, tries;

	memset(ret, 0, sizeof(*ret));
	if (!root)
		root = ATTEST_TSM_ROOT;
	snprintf(dir, sizeof(dir), "%s/" TSM_ENTRY, root);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return attest_errf(err, errlen, -errno,
		                   "%s: %s (no configfs-tsm: not a TDX/SNP guest?)", dir,
		                   strerror(errno));
	r = read_attr(dir, "provider", prov, sizeof(prov) - 1, &plen);
	if (r < 0)
		return attest_errf(err, errlen, r, "%s/provider: %s", dir, strerror(-r));
	while (plen && (prov[plen - 1] == '\n' || prov[plen - 1] == 0))
		plen--;
	prov[plen] = 0;
	if (strcmp((char *)prov, "tdx_guest") == 0) {
		ret->platform = ATTEST_PLATFORM_TDX;
	} else if (strcmp((char *)prov, "sev_guest") == 0) {
		ret->platform = ATTEST_PLATFORM_SNP;
	} else {
		return attest_errf(err, errlen, -ENOTSUP,
		                   "%s/provider: '%s' is neither tdx_guest nor "
		                   "sev_guest",
		                   dir, (char *)prov);
	}
	/* The generation counts inblob writes: unchanged around the read, the report is ours. */
	for (tries = 0; tries < 3; tries++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/inblob", dir);
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_CREAT, 0600);
		if (fd < 0 || write(fd, data, 64) != 64) {
			r = -errno ?: -EIO;
			if (fd >= 0)
				close(fd);
			return attest_errf(err, errlen, r, "%s: cannot write the report data",
			                   path);
		}
		close(fd);
		free(ret->report);
		ret->report = malloc(ATTEST_TSM_MAX);
		if (!ret->report)
			return -ENOMEM;
		if ((r = read_u64(dir, "generation", &g1)) < 0 ||
		    (r = read_attr(dir, "outblob", ret->report, ATTEST_TSM_MAX, &ret->len)) < 0 ||
		    (r = read_u64(dir, "generation", &g2)) < 0) {
			tsm_result_clear(ret);
			return attest_errf(err, errlen, r, "%s: cannot read outblob/generation: %s",
			                   dir, strerror(-r));
		}
		if (g1 == g2)
			break;
	}
	if (g1 != g2) {
		tsm_result_clear(ret);
		return attest_errf(err, errlen, -EBUSY, "%s: another writer kept changing inblob",
		                   dir);
	}
	if (tee_report_parse(ret->platform, ret->report, ret->len, &ti) < 0) {
		size_t len = ret->len;

		tsm_result_clear(ret);
		return attest_errf(err, errlen, -EBADMSG,
		                   "%s/outblob: not a %s report (%zu bytes: unknown version or "
		                   "cut short)",
		                   dir, (char *)prov, len);
	}
	if (memcmp(ti.report_data, data, 64) != 0) {
		tsm_result_clear(ret);
		return attest_errf(
		    err, errlen, -EBADMSG,
		    "%s/outblob: the %s report does not carry the report data written "
		    "(offset %zu)",
		    dir, (char *)prov, ti.report_data_off);
	}
	return 0;
}

int tsm_report_data_check(enum attest_platform p, const uint8_t *report, size_t len,
                          const uint8_t data[64])
{
	struct tee_report_info ti;
	int r = tee_report_parse(p, report, len, &ti);

	if (r < 0)
		return r;
	return memcmp(ti.report_data, data, 64) == 0 ? 0 : -EBADMSG;
}

void tsm_result_clear(struct tsm_result *r)
{
	free(r->report);
	memset(r, 0, sizeof(*r));
}
