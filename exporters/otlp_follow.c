/*
 * The chain follower: reads the audit log's records in order from a cursor (n, h(n)), checking
 * every record against the chain as `vigil log verify` does, across rotated files.
 */
#include "exporters/otlp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

static int fail(struct otlp_follower *f, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	return r;
}

static int open_file(const struct otlp_follower *f, uint32_t seq)
{
	char name[64], path[4200];

	audit_file_name(seq, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* The number of a line's record from its head `{"n":N,`; 0 when unreadable. */
static uint64_t line_number(const char *p, size_t len)
{
	uint64_t n = 0;
	size_t i;

	if (len < 7 || memcmp(p, "{\"n\":", 5) != 0)
		return 0;
	for (i = 5; i < len && p[i] >= '0' && p[i] <= '9' && i < 25; i++)
		n = n * 10 + (uint64_t)(p[i] - '0');
	return i < len && p[i] == ',' ? n : 0;
}

/* The first record number of file seq; 0 when empty or unreadable. */
static uint64_t first_number(const struct otlp_follower *f, uint32_t seq)
{
	char head[32];
	int fd = open_file(f, seq);
	ssize_t got;

	if (fd < 0)
		return 0;
	got = pread(fd, head, sizeof(head), 0);
	close(fd);
	return got > 0 ? line_number(head, (size_t)got) : 0;
}

/* Reads more of the current file into buf; returns bytes added (0 at end of file). */
static ssize_t fill(struct otlp_follower *f)
{
	ssize_t got;

	if (f->pos > 0) { /* keep only the unconsumed part */
		memmove(f->buf, f->buf + f->pos, f->len - f->pos);
		f->off += f->pos;
		f->len -= f->pos;
		f->pos = 0;
	}
	if (f->cap - f->len < READ_CHUNK) {
		size_t cap = f->cap ? f->cap * 2 : 2 * READ_CHUNK;
		char *b = realloc(f->buf, cap);

		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = cap;
	}
	got = pread(f->fd, f->buf + f->len, f->cap - f->len, (off_t)(f->off + f->len));
	if (got < 0)
		return -errno;
	f->len += (size_t)got;
	return got;
}

static void switch_file(struct otlp_follower *f, uint32_t seq, int fd)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->file_seq = seq;
	f->off = 0;
	f->len = f->pos = 0;
}

/* The next complete line in buf (without consuming it); NULL when none. */
static const char *peek_line(struct otlp_follower *f, size_t *len)
{
	const char *p = f->buf + f->pos, *nl;

	if (f->pos >= f->len)
		return NULL;
	nl = memchr(p, '\n', f->len - f->pos);
	if (!nl)
		return NULL;
	*len = (size_t)(nl - p) + 1;
	return p;
}

/* A complete line, reading more of the file (or the next file) as needed. */
static int next_line(struct otlp_follower *f, const char **line, size_t *len)
{
	for (;;) {
		ssize_t got;
		int fd;

		*line = peek_line(f, len);
		if (*line)
			return 1;
		/* A partial line is past the durable point: read it again from the disk, which may
		 * have cut it back (a failed write) and written other bytes since. */
		f->len = f->pos;
		if (f->fd >= 0) {
			got = fill(f);
			if (got < 0)
				return fail(f, (int)got, "reading file %u: %s", f->file_seq,
				            strerror((int)-got));
			if (peek_line(f, len))
				continue;
		}
		/* No complete line left here: the next file exists only once this one is complete.
		 */
		fd = open_file(f, f->file_seq + 1);
		if (fd < 0)
			return 0;
		if (f->fd >= 0) {
			f->len = f->pos;
			got = fill(f); /* a last line written just before the rotation */
			if (got > 0 && peek_line(f, len)) {
				close(fd);
				continue;
			}
			if (f->pos < f->len) {
				close(fd);
				return fail(f, -EBADMSG, "file %u ends inside a line", f->file_seq);
			}
		}
		switch_file(f, f->file_seq + 1, fd);
	}
}

int otlp_follow_open(struct otlp_follower *f, const char *dir, uint64_t n, const uint8_t h[32],
                     uint64_t *lost)
{
	uint32_t *seqs = NULL, pick = 0;
	size_t nseq = 0, i;
	uint64_t first_of_pick = 0;
	int r, fd;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	*lost = 0;
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	r = audit_chain_init(&f->chain);
	if (r < 0)
		return r;
	f->chain.n = n;
	memcpy(f->chain.h, h, AUDIT_HASH_LEN);
	r = audit_list_files(dir, &seqs, &nseq);
	if (r < 0 || nseq == 0) {
		free(seqs);
		/* No log yet: wait for audit.000001.jsonl. */
		f->file_seq = 0;
		return n == 0 ? 0 : fail(f, -ENOENT, "no log files in %s", dir);
	}
	/* The last file that starts at or before record n + 1. */
	for (i = 0; i < nseq; i++) {
		uint64_t first = first_number(f, seqs[i]);

		if (first && first <= n + 1) {
			pick = seqs[i];
			first_of_pick = first;
		}
	}
	if (!pick) {
		uint64_t first = first_number(f, seqs[0]);

		pick = seqs[0];
		if (first > n + 1) {
			*lost = first - (n + 1);
			f->lost = *lost;
			f->chain.n = UINT64_MAX; /* seeded by the file record */
		}
		first_of_pick = first;
	}
	free(seqs);
	fd = open_file(f, pick);
	if (fd < 0)
		return fail(f, -errno, "opening file %u: %s", pick, strerror(errno));
	switch_file(f, pick, fd);
	if (n > 0 && !first_of_pick) /* only an empty file, no record n: not this log */
		return fail(f, -ERANGE, "record %" PRIu64 " is not in the log", n);
	/* Skip the records up to n; record n must carry the cursor's hash. */
	if (f->chain.n != UINT64_MAX && n > 0 && first_of_pick <= n) {
		for (;;) {
			const char *line;
			size_t len;
			uint64_t ln;

			r = next_line(f, &line, &len);
			if (r <= 0)
				return r < 0 ? r
				             : fail(f, -ERANGE,
				                    "record %" PRIu64 " is not in the log", n);
			ln = line_number(line, len);
			if (ln == n) {
				char hex[AUDIT_HEX_LEN + 1];

				audit_hex(h, AUDIT_HASH_LEN, hex);
				if (len < AUDIT_TRAILER_LEN + 1 ||
				    memcmp(line + len - 1 - AUDIT_HEX_LEN - 2, hex,
				           AUDIT_HEX_LEN) != 0)
					return fail(f, -EILSEQ,
					            "record %" PRIu64
					            " does not have the cursor's hash",
					            n);
				f->pos += len;
				break;
			}
			if (ln == 0 || ln > n)
				return fail(f, -EBADMSG,
				            "file %u: unreadable record before %" PRIu64, pick, n);
			f->pos += len;
		}
	}
	return 0;
}

/* Moves the file position to offset off of file seq (where the tap's next record lies). */
static int seek_file(struct otlp_follower *f, uint32_t seq, uint64_t off)
{
	if (seq != f->file_seq || f->fd < 0) {
		int fd = open_file(f, seq);

		if (fd < 0)
			return fail(f, -errno, "opening file %u: %s", seq, strerror(errno));
		switch_file(f, seq, fd);
	}
	f->off = off;
	f->len = f->pos = 0;
	return 0;
}

/*
 * Record chain.n + 1 from the tap: 1 with *v, 0 when the tap does not have it (read the file),
 * -EAGAIN when it has it but it is not durable yet, <0 on a tap line the exporter cannot read
 * or one that does not chain. These are the writer's bytes and its h(n): after a record from the
 * tap the next one needs no check; the first one after an open or a record read from the file is
 * checked against the chain (one SHA-256), so that a file the exporter read cannot fork from
 * what the writer wrote unnoticed.
 */
static int tap_next(struct otlp_follower *f, uint64_t limit, struct audit_record_view *v)
{
	uint64_t want = f->chain.n + 1;
	const char *line, *nl;
	uint8_t h[AUDIT_HASH_LEN];
	size_t len;
	int r;

	for (;;) {
		if (!f->have_chunk) {
			if (!audit_tap_peek(f->tap, &f->ck))
				return 0;
			f->have_chunk = true;
			f->ck_pos = 0;
			f->ck_n = f->ck.first;
		}
		if (f->ck.last >= want && f->ck_pos < f->ck.len)
			break;
		audit_tap_pop(f->tap); /* read already (from the file, or from here) */
		f->have_chunk = false;
	}
	if (f->ck_n > want)
		return 0; /* the tap left these out: the file has them */
	if (want > limit)
		return -EAGAIN;
	for (;;) {
		line = f->ck.data + f->ck_pos;
		nl = memchr(line, '\n', f->ck.len - f->ck_pos);
		if (!nl)
			return fail(f, -EBADMSG, "tap: record %" PRIu64 " has no line end",
			            f->ck_n);
		len = (size_t)(nl - line) + 1;
		if (f->ck_n == want)
			break;
		f->ck_pos += len;
		f->ck_n++;
	}
	if (!f->tap_linked) {
		r = audit_record_check(&f->chain, line, len, v, f->msg, sizeof(f->msg));
		if (r < 0)
			return r;
		f->tap_linked = true;
	} else {
		/* The frame as audit_record_encode wrote it: n, kind and h(n), no hash computed. */
		if (audit_record_frame(line, len, v, h) < 0 || v->n != want)
			return fail(f, -EBADMSG, "tap: record %" PRIu64 " is not a record line",
			            want);
		f->chain.n = want;
		memcpy(f->chain.h, h, AUDIT_HASH_LEN);
	}
	/* The file position follows: after a chunk left out, reading goes on from there. */
	f->seek_pending = true;
	f->seek_seq = f->ck.seq;
	f->seek_off = f->ck.off + f->ck_pos + len;
	f->ck_pos += len;
	f->ck_n++;
	f->from_tap++;
	return 1;
}

int otlp_follow_next(struct otlp_follower *f, uint64_t limit, struct audit_record_view *v)
{
	const char *line;
	size_t len;
	uint64_t ln;
	int r;

	if (f->tap && f->chain.n != UINT64_MAX) {
		r = tap_next(f, limit, v);
		if (r != 0)
			return r == -EAGAIN ? 0 : r;
	}
	if (f->seek_pending) {
		if (seek_file(f, f->seek_seq, f->seek_off) < 0)
			return 0; /* as any file that cannot be opened yet: tried again later */
		f->seek_pending = false;
	}
	if (f->fd < 0) {
		int fd = open_file(f, 1);

		if (fd < 0)
			return 0;
		switch_file(f, 1, fd);
	}
	r = next_line(f, &line, &len);
	if (r <= 0)
		return r;
	ln = line_number(line, len);
	if (ln > limit) {
		f->len = f->pos; /* not yet durable: read again later, from the disk */
		return 0;
	}
	r = audit_record_check(&f->chain, line, len, v, f->msg, sizeof(f->msg));
	if (r < 0)
		return r;
	f->pos += len;
	f->from_file++;
	f->tap_linked = false;
	return 1;
}

void otlp_follow_close(struct otlp_follower *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	audit_chain_free(&f->chain);
}
