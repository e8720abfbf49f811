/*
 * vigil's shared helpers: the lowest module, used by every other one (policies/, attest/,
 * audit/, agent/, tools/, bench/). Nothing here prints: errors are returned as negative errno.
 */
#ifndef VIGIL_LIB_UTIL_H
#define VIGIL_LIB_UTIL_H

#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The version string, defined once by the build (VERSION in the Makefile). */
extern const char vigil_version[];

#define VIGIL_SHA256_LEN 32
#define VIGIL_SHA256_HEX (2 * VIGIL_SHA256_LEN + 1)

enum {
	VIGIL_READ_NOFOLLOW = 1 << 0,    /* a symlink in the last component is refused (ELOOP) */
	VIGIL_READ_ALLOW_EMPTY = 1 << 1, /* an empty file is not -ENODATA */
};

struct stat;
/*
 * Opens a regular file read-only (O_CLOEXEC, O_NOCTTY, and O_NONBLOCK: a FIFO in the file's
 * place is refused, not waited on) and fills *st. Returns the fd, or -errno of open or fstat,
 * or -VIGIL_ENOTREG.
 */
int vigil_open_regular(const char *path, int flags, struct stat *st);

/*
 * Reads a whole regular file of at most max bytes into a NUL-terminated malloc'd buffer.
 * O_NONBLOCK: a FIFO in the file's place is refused as not regular, not waited on.
 * Returns 0, or -errno of open, -VIGIL_ENOTREG (not a regular file), -EFBIG (larger than
 * max), -ENODATA (empty, unless VIGIL_READ_ALLOW_EMPTY), -EIO (a read error or the file shrank).
 */
#define VIGIL_ENOTREG EMEDIUMTYPE
int vigil_read_file(const char *path, size_t max, int flags, char **ret, size_t *ret_len);

/* Lower-case hex, the one encoding: vigil_hex writes 2n digits and a NUL. */
void vigil_hex(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lower-case digits (the caller has checked 2n bytes are there) into n bytes (upper
 * case is refused); -EBADMSG otherwise. */
int vigil_unhex(const char *in, size_t n, uint8_t *out);

/* The byte a JSON escape "\\c" stands for (c one of " \\ / b f n r t), or -1 (\\u, or not an
 * escape): the two JSON readers (policies/json.c, exporters/otlp_record.c) share it. */
int vigil_json_escape(char c);
/* The Unicode scalar value cp as UTF-8 at out, which has room for 4 bytes; returns the end. */
char *vigil_utf8_put(char *out, uint32_t cp);

/* SHA-256 of what fd reads to its end (EINTR retried), or of the file at path. */
int vigil_sha256_fd(int fd, uint8_t out[VIGIL_SHA256_LEN]);
int vigil_sha256_file(const char *path, uint8_t out[VIGIL_SHA256_LEN]);

/* Creates the directory that holds path (one level, mode); an existing one is fine. */
int vigil_mkdir_parent(const char *path, mode_t mode);

/* RFC 3339 UTC with nanoseconds: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (30 characters + NUL). */
#define VIGIL_RFC3339_LEN 31
void vigil_rfc3339_ns(int64_t real_ns, char out[VIGIL_RFC3339_LEN]);
/* The same for now (CLOCK_REALTIME). */
void vigil_rfc3339_now(char out[VIGIL_RFC3339_LEN]);

/* Milliseconds of CLOCK_MONOTONIC, with the sub-millisecond part. */
double vigil_now_ms(void);

/* clk's time (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) in nanoseconds. */
uint64_t vigil_clock_ns(clockid_t clk);

#endif /* VIGIL_LIB_UTIL_H */
