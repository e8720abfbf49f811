/* vigil's shared helpers (lib/util.h). */
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VIGIL_VERSION
#error "VIGIL_VERSION is defined by the build (VERSION in the Makefile)"
#endif
const char vigil_version[] = VIGIL_VERSION;

int vigil_open_regular(const char *path, int flags, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	                        (flags & VIGIL_READ_NOFOLLOW ? O_NOFOLLOW : 0)),
	    r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -VIGIL_ENOTREG;
	}
	return fd;
}

int vigil_read_file(const char *path, size_t max, int flags, char **ret, size_t *ret_len)
{
	struct stat st;
	size_t off = 0;
	char *buf;
	ssize_t n;
	int fd;

	fd = vigil_open_regular(path, flags, &st);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	if (st.st_size == 0 && !(flags & VIGIL_READ_ALLOW_EMPTY)) {
		close(fd);
		return -ENODATA;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off != (size_t)st.st_size) { /* a read error, or the file shrank under us */
		free(buf);
		return -EIO;
	}
	buf[off] = 0;
	*ret = buf;
	if (ret_len)
		*ret_len = off;
	return 0;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Sixteen values 0-15 to '0'-'9', 'a'-'f': '0' added, and 'a' - '0' - 10 more above 9. */
static __m128i hex_digits(__m128i v)
{
	__m128i above9 = _mm_cmpgt_epi8(v, _mm_set1_epi8(9));

	return _mm_add_epi8(_mm_add_epi8(v, _mm_set1_epi8('0')),
	                    _mm_and_si128(above9, _mm_set1_epi8('a' - '0' - 10)));
}
#endif

void vigil_hex(const uint8_t *in, size_t n, char *out)
{
	/* Two characters per byte from one table: every audit record hexes its 32-byte hash. */
	static const char pairs[513] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
	size_t i = 0;

#ifdef __SSE2__
	/* Sixteen bytes at a time: the nibbles interleaved, then made digits. */
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(in + i));
		__m128i lo = _mm_and_si128(x, _mm_set1_epi8(15));
		__m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), _mm_set1_epi8(15));

		_mm_storeu_si128((__m128i *)(out + 2 * i), hex_digits(_mm_unpacklo_epi8(hi, lo)));
		_mm_storeu_si128((__m128i *)(out + 2 * i + 16),
		                 hex_digits(_mm_unpackhi_epi8(hi, lo)));
	}
#endif
	for (; i < n; i++)
		memcpy(out + 2 * i, pairs + 2 * in[i], 2);
	out[2 * n] = 0;
}

/* Value of each hex digit; X (0xff): not one. Upper case is refused: one encoding per hash. */
#define X 0xff
static const uint8_t hex_value[256] = {
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X,
};
#undef X

/* Table-driven, one test at the end: a branch per nibble was a visible share of parsing a
 * 100,000-rule policy's digests. */
int vigil_unhex(const char *in, size_t n, uint8_t *out)
{
	const uint8_t *u = (const uint8_t *)in;
	unsigned int bad = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t hi = hex_value[u[2 * i]], lo = hex_value[u[2 * i + 1]];

		bad |= hi | lo;
		out[i] = (uint8_t)(hi << 4 | (lo & 15));
	}
	return bad & 0xf0 ? -EBADMSG : 0;
}

int vigil_json_escape(char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

char *vigil_utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

int vigil_sha256_fd(int fd, uint8_t out[VIGIL_SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	unsigned int len;
	ssize_t n;
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = -EIO;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = -EIO;
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != VIGIL_SHA256_LEN)
		r = -EIO;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int vigil_sha256_file(const char *path, uint8_t out[VIGIL_SHA256_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0)
		return -errno;
	r = vigil_sha256_fd(fd, out);
	close(fd);
	return r;
}

int vigil_mkdir_parent(const char *path, mode_t mode)
{
	char dir[4096], *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void vigil_rfc3339_ns(int64_t real_ns, char out[VIGIL_RFC3339_LEN])
{
	time_t sec = (time_t)(real_ns / 1000000000);
	long ns = (long)(real_ns % 1000000000);
	struct tm tm;

	if (ns < 0) { /* before 1970: the second below, and a positive fraction */
		ns += 1000000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	/* Always 19 characters: an int64_t of nanoseconds spans the years 1677-2262. */
	strftime(out, VIGIL_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, VIGIL_RFC3339_LEN - 19, ".%09ldZ", ns);
}

void vigil_rfc3339_now(char out[VIGIL_RFC3339_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	vigil_rfc3339_ns((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, out);
}

uint64_t vigil_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double vigil_now_ms(void)
{
	return (double)vigil_clock_ns(CLOCK_MONOTONIC) / 1e6;
}
