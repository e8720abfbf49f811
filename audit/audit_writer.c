/* Audit writer: bounded queue, writer thread, io_uring group commit, rotation, checkpoints. */
#include "audit/audit.h"

#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT_CAP      (1u << 20)
#define RETRY_NS     250000000ull /* disk full: how often a write is tried again */
#define MEMBERS_MAX  (AUDIT_RECORD_MAX - 128)
#define ACK_LINE_MAX 96

/* Queue entry header; the members bytes follow it. */
struct qent {
	uint32_t len;
	char kind[AUDIT_KIND_MAX + 1];
};

struct audit_writer {
	struct audit_options o;
	char *dir, *origin, *ack_path, *start_members;

	pthread_mutex_t mu;
	pthread_cond_t wake, done, space;
	pthread_t thread;
	bool thread_started, stopping, sync_requested, thread_exited;
	bool writer_sleeping, producer_waiting; /* signal only a waiter: no futex call per record */
	char *q; /* producer buffer, swapped with work by the writer */
	size_t q_len;
	uint64_t q_count, submitted, handled, queue_drops;
	size_t reserved; /* bytes the producer holding the lock may write (audit_submit_reserve) */
	struct audit_stats pub; /* the writer's counters as of its last commit */

	/* Everything below belongs to the writer thread (or to open before it starts). */
	char *work;
	struct audit_chain chain;
	uint64_t written_n; /* chain state of the bytes on disk, for rollback */
	uint8_t written_h[AUDIT_HASH_LEN];
	bool have_uring;
	struct io_uring ring;
	int dirfd, fd, ckfd, ackfd, lockfd;
	uint32_t seq;
	uint64_t off;
	char *out; /* where records are encoded: out_own, or room in the tap (out_in_tap) */
	char *out_own;
	bool out_in_tap;
	size_t out_len;
	uint64_t out_records, unsynced;
	uint64_t durable_n;
	uint8_t durable_h[AUDIT_HASH_LEN];
	uint64_t last_fsync_ns, last_ckpt_ns, ckpt_n;
	uint64_t queue_drops_recorded, queue_drops_on_disk, write_drops, write_drops_recorded;
	bool disk_full, outage, need_file_record, ckpt_failing;
	int write_err;
	uint64_t retry_ns;
	struct audit_key key;
	struct audit_tap *tap; /* NULL: none */
	struct audit_stats st;
	/* Torn tail found at open, recorded by the first gap record. */
	char gap_file[64];
	uint64_t gap_off, gap_bytes;
	uint8_t gap_sha[AUDIT_HASH_LEN];
};

/* The writer's one way to say something: the caller's report callback (the library never
 * prints). */
static void report(struct audit_writer *w, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct audit_writer *w, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!w->o.report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->o.report(w->o.report_ctx, error, msg);
}

/* report() with the error's text; evaluates to r. */
#define report_errno(w, r, fmt, ...)                                                               \
	({                                                                                         \
		int _r = (r);                                                                      \
		report((w), true, fmt ": %s", ##__VA_ARGS__, strerror(-_r));                       \
		_r;                                                                                \
	})

void audit_options_defaults(struct audit_options *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = "/var/log/vigil";
	o->state_dir = "/var/lib/vigil";
	o->origin = "vigil/localhost";
	o->fsync_records = 512;
	o->fsync_ms = 20;
	o->checkpoint_records = 10000;
	o->checkpoint_ms = 10000;
	o->rotate_bytes = 64ull << 20;
	o->queue_bytes = 8u << 20;
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'K':
		v <<= 10, end++;
		break;
	case 'M':
		v <<= 20, end++;
		break;
	case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int audit_options_parse(struct audit_options *o, const char *spec, char *err, size_t err_size)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v = 0;

		if (eq && strncmp(tok, "ack=", 4) == 0 && strlen(eq + 1) < sizeof(o->ack_buf)) {
			snprintf(o->ack_buf, sizeof(o->ack_buf), "%s", eq + 1);
			o->ack_path = o->ack_buf;
			continue;
		}
		if (!eq || parse_size(eq + 1, &v) < 0) {
			r = -EINVAL;
			break;
		}
		*eq = 0;
		if (strcmp(tok, "fsync") == 0 && v >= 1 && v <= 1000000)
			o->fsync_records = (unsigned int)v;
		else if (strcmp(tok, "fsync-ms") == 0 && v <= 60000)
			o->fsync_ms = (unsigned int)v;
		else if (strcmp(tok, "checkpoint") == 0 && v >= 1 && v <= 100000000)
			o->checkpoint_records = (unsigned int)v;
		else if (strcmp(tok, "checkpoint-ms") == 0 && v >= 10 && v <= 86400000)
			o->checkpoint_ms = (unsigned int)v;
		else if (strcmp(tok, "rotate") == 0 && v >= 4096)
			o->rotate_bytes = v;
		else if (strcmp(tok, "queue") == 0 && v >= 65536 && v <= (1ull << 30))
			o->queue_bytes = (size_t)v;
		else if (strcmp(tok, "tap") == 0 &&
		         (v == 0 || (v >= AUDIT_TAP_MIN && v <= (1ull << 30))))
			o->tap_bytes = (size_t)v;
		else
			r = -EINVAL;
	}
	if (r < 0)
		snprintf(err, err_size,
		         "bad audit option '%s' (want fsync=N, fsync-ms=T, checkpoint=N, "
		         "checkpoint-ms=T, rotate=SIZE, queue=SIZE, tap=SIZE)",
		         tok ? tok : spec);
	free(copy);
	return r;
}

/* --- producer side ------------------------------------------------------------------ */

int audit_submit_reserve(struct audit_writer *w, const char *kind, size_t max, char **ret)
{
	size_t klen = strnlen(kind, AUDIT_KIND_MAX + 1), need = sizeof(struct qent) + max;
	struct qent h = {0};

	pthread_mutex_lock(&w->mu);
	if (max > MEMBERS_MAX || klen > AUDIT_KIND_MAX) {
		w->queue_drops++;
		pthread_mutex_unlock(&w->mu);
		return -EMSGSIZE;
	}
	while (w->q_len + need > w->o.queue_bytes) {
		/* Fail-open for the log, never for enforcement: a full queue drops and counts. */
		if (!w->o.block_when_full || w->thread_exited) {
			w->queue_drops++;
			pthread_mutex_unlock(&w->mu);
			return -ENOBUFS;
		}
		w->producer_waiting = true;
		pthread_cond_wait(&w->space, &w->mu);
	}
	memcpy(h.kind, kind, klen);
	memcpy(w->q + w->q_len, &h, sizeof(h));
	w->reserved = max;
	*ret = w->q + w->q_len + sizeof(h);
	return 0; /* locked until audit_submit_commit */
}

void audit_submit_commit(struct audit_writer *w, int len)
{
	if (len >= 0 && (size_t)len > w->reserved) {
		w->queue_drops++; /* overran its reservation: the bytes cannot be trusted */
	} else if (len >= 0) {
		uint32_t n = (uint32_t)len;

		memcpy(w->q + w->q_len + offsetof(struct qent, len), &n, sizeof(n));
		w->q_len += sizeof(struct qent) + n;
		w->q_count++;
		w->submitted++;
		if (w->writer_sleeping) {
			w->writer_sleeping = false;
			pthread_cond_signal(&w->wake);
		}
	}
	pthread_mutex_unlock(&w->mu);
}

int audit_submit(struct audit_writer *w, const char *kind, const char *members, size_t len)
{
	char *slot;
	int r = audit_submit_reserve(w, kind, len, &slot);

	if (r < 0)
		return r;
	memcpy(slot, members, len);
	audit_submit_commit(w, (int)len);
	return 0;
}

int audit_submitf(struct audit_writer *w, const char *kind, const char *fmt, ...)
{
	char buf[MEMBERS_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	return audit_submit(w, kind, buf, (size_t)n);
}

/* --- writer thread: I/O -------------------------------------------------------------- */

static int write_fallback(struct audit_writer *w, const char *buf, size_t len, uint64_t off,
                          bool sync, int *sync_err)
{
	while (len) {
		ssize_t n = pwrite(w->fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENOSPC;
		buf += n, len -= (size_t)n, off += (uint64_t)n;
	}
	if (sync && fdatasync(w->fd) < 0)
		*sync_err = -errno;
	return 0;
}

/* Writes buf at off and, when sync, links an fdatasync behind it: one submission per commit. */
static int uring_write(struct audit_writer *w, const char *buf, size_t len, uint64_t off, bool sync,
                       int *sync_err)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int wres = 0, fres = 0, r, i, want;

	*sync_err = 0;
	if (!w->have_uring)
		return write_fallback(w, buf, len, off, sync, sync_err);
	want = (len ? 1 : 0) + (sync ? 1 : 0);
	if (len) {
		sqe = io_uring_get_sqe(&w->ring);
		io_uring_prep_write(sqe, w->fd, buf, (unsigned int)len, off);
		sqe->user_data = 1;
		if (sync)
			sqe->flags |= IOSQE_IO_LINK;
	}
	if (sync) {
		sqe = io_uring_get_sqe(&w->ring);
		io_uring_prep_fsync(sqe, w->fd, IORING_FSYNC_DATASYNC);
		sqe->user_data = 2;
	}
	r = io_uring_submit_and_wait(&w->ring, (unsigned int)want);
	if (r < 0)
		return r;
	for (i = 0; i < want; i++) {
		do
			r = io_uring_wait_cqe(&w->ring, &cqe);
		while (r == -EINTR);
		if (r < 0)
			return r;
		if (cqe->user_data == 1)
			wres = cqe->res;
		else
			fres = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
	}
	if (len && wres < 0)
		return wres;
	if (len && wres == 0)
		return -ENOSPC;
	if (len && (size_t)wres < len) /* short write: the linked sync was cancelled; go on */
		return uring_write(w, buf + wres, len - (size_t)wres, off + (uint64_t)wres, sync,
		                   sync_err);
	*sync_err = fres < 0 ? fres : 0;
	return 0;
}

static void write_ack(struct audit_writer *w)
{
	char line[ACK_LINE_MAX], hex[AUDIT_HEX_LEN + 1];
	int n;

	if (w->ackfd < 0)
		return;
	vigil_hex(w->durable_h, AUDIT_HASH_LEN, hex);
	/* The number never shrinks, so each line overwrites the previous one completely. */
	n = snprintf(line, sizeof(line), "%llu %s\n", (unsigned long long)w->durable_n, hex);
	if (pwrite(w->ackfd, line, (size_t)n, 0) != n)
		report(w, true, "audit: writing the ack file %s failed", w->ack_path);
}

static void mark_durable(struct audit_writer *w)
{
	w->unsynced = 0;
	w->durable_n = w->written_n;
	memcpy(w->durable_h, w->written_h, AUDIT_HASH_LEN);
	write_ack(w);
}

/* Writes the pending records; on failure rolls the chain back to what is on disk. */
static int flush_out(struct audit_writer *w, bool sync)
{
	int sync_err = 0, r;

	if (!w->out_len && !(sync && w->unsynced))
		return 0;
	r = uring_write(w, w->out, w->out_len, w->off, sync, &sync_err);
	if (r < 0) {
		/* Nothing after the last good record may stay on disk, or the chain would fork. */
		if (ftruncate(w->fd, (off_t)w->off) < 0)
			report(w, true, "audit: cutting a failed write back to offset %llu: %s",
			       (unsigned long long)w->off, strerror(errno));
		if (!w->outage)
			report(w, true,
			       "audit: write to %s/" AUDIT_FILE_PREFIX "%06u" AUDIT_FILE_SUFFIX
			       " failed: %s; counting lost records until space returns",
			       w->dir, w->seq, strerror(-r));
		w->write_drops += w->out_records;
		w->queue_drops_recorded = w->queue_drops_on_disk; /* say it again later */
		w->chain.n = w->written_n;
		memcpy(w->chain.h, w->written_h, AUDIT_HASH_LEN);
		w->out_len = 0;
		w->out_records = 0;
		w->disk_full = w->outage = true;
		w->write_err = r;
		/* What was written before is whole records: make it durable all the same. */
		if (w->unsynced && fdatasync(w->fd) == 0)
			mark_durable(w);
		w->retry_ns = vigil_clock_ns(CLOCK_MONOTONIC) + RETRY_NS;
		return r;
	}
	/* Written: a reader in this process may take these lines from memory from now on. */
	if (w->tap && w->out_records && w->out_in_tap)
		audit_tap_commit(w->tap, w->written_n + 1, w->chain.n, w->seq, w->off, w->out_len);
	else if (w->tap && w->out_records)
		audit_tap_put(w->tap, w->written_n + 1, w->chain.n, w->seq, w->off, w->out,
		              w->out_len);
	w->off += w->out_len;
	w->queue_drops_on_disk = w->queue_drops_recorded;
	w->unsynced += w->out_records;
	w->written_n = w->chain.n;
	memcpy(w->written_h, w->chain.h, AUDIT_HASH_LEN);
	w->out_len = 0;
	w->out_records = 0;
	if (!sync)
		return 0;
	w->last_fsync_ns = vigil_clock_ns(CLOCK_MONOTONIC);
	if (sync_err < 0) {
		report(w, true, "audit: fdatasync: %s; records stay unacknowledged",
		       strerror(-sync_err));
		return sync_err;
	}
	mark_durable(w);
	return 0;
}

static int open_log_file(struct audit_writer *w, uint32_t seq, int flags)
{
	char name[64];
	int fd;

	audit_file_name(seq, name, sizeof(name));
	fd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | flags, 0640);
	if (fd < 0)
		return -errno;
	if ((flags & O_CREAT) && fsync(w->dirfd) < 0) {
		int r = -errno; /* read before close can change it */

		close(fd);
		return r;
	}
	return fd;
}

static void emit(struct audit_writer *w, const char *kind, const char *members, size_t len);
static void emitf(struct audit_writer *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Starts the next file once this one is big enough; its first record names the previous hash. */
static void maybe_rotate(struct audit_writer *w)
{
	char hex[AUDIT_HEX_LEN + 1], name[64];
	int fd;

	if (w->off + w->out_len < w->o.rotate_bytes || w->disk_full)
		return;
	if (flush_out(w, true) < 0)
		return;
	fd = open_log_file(w, w->seq + 1, O_CREAT | O_EXCL);
	if (fd < 0) {
		report(w, true, "audit: cannot start file %u: %s; staying in file %u", w->seq + 1,
		       strerror(-fd), w->seq);
		return;
	}
	close(w->fd);
	w->fd = fd;
	w->seq++;
	w->off = 0;
	audit_file_name(w->seq, name, sizeof(name));
	vigil_hex(w->chain.h, AUDIT_HASH_LEN, hex);
	emitf(w, "file", "\"file\":\"%s\",\"prev\":\"%s\"", name, hex);
}

static void emit(struct audit_writer *w, const char *kind, const char *members, size_t len)
{
	int n;

	if (w->disk_full) {
		w->write_drops++;
		return;
	}
	if (w->off + w->out_len >= w->o.rotate_bytes && strcmp(kind, "file") != 0)
		maybe_rotate(w);
	if (w->out_len + AUDIT_RECORD_MAX > OUT_CAP && flush_out(w, false) < 0) {
		w->write_drops++;
		return;
	}
	if (!w->out_len && w->tap) { /* encoded straight into the tap when it has the room */
		char *p = audit_tap_reserve(w->tap, OUT_CAP);

		w->out = p ? p : w->out_own;
		w->out_in_tap = p != NULL;
	}
	n = audit_record_encode(&w->chain, kind, members, len, w->out + w->out_len,
	                        OUT_CAP - w->out_len);
	if (n < 0) {
		w->write_drops++;
		return;
	}
	w->out_len += (size_t)n;
	w->out_records++;
	w->st.records = w->chain.n;
}

static void emitf(struct audit_writer *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emitf(struct audit_writer *w, const char *kind, const char *fmt, ...)
{
	char buf[MEMBERS_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = audit_vformat_members(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->write_drops++;
		return;
	}
	emit(w, kind, buf, (size_t)n);
}

/* --- checkpoints --------------------------------------------------------------------- */

static int write_file_atomic(struct audit_writer *w, const char *name, const char *data, size_t len)
{
	char tmp[128];
	ssize_t n;
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n != (ssize_t)len || fsync(fd) < 0)
		r = n >= 0 && n != (ssize_t)len ? -ENOSPC
		                                : -errno; /* a short write sets no errno */
	close(fd);
	if (r == 0 && renameat(w->dirfd, tmp, w->dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(w->dirfd, tmp, 0);
	return r;
}

/* Appends {"n":N,"note":"..."} to checkpoints.jsonl; the note needs only '\n' escaped. */
static int append_checkpoint(struct audit_writer *w, const char *note, size_t len)
{
	char line[2 * AUDIT_NOTE_MAX + 64];
	struct stat stt;
	size_t i, n;
	ssize_t wn;

	n = (size_t)snprintf(line, sizeof(line), "{\"n\":%llu,\"note\":\"",
	                     (unsigned long long)w->durable_n);
	for (i = 0; i < len; i++) {
		if (note[i] == '\n')
			line[n++] = '\\', line[n++] = 'n';
		else
			line[n++] = note[i];
	}
	memcpy(line + n, "\"}\n", 3);
	n += 3;
	if (fstat(w->ckfd, &stt) < 0)
		return -errno;
	wn = write(w->ckfd, line, n);
	if (wn != (ssize_t)n || fdatasync(w->ckfd) < 0) {
		/* A short write sets no errno: ENOSPC, not a stale errno. */
		int r = wn >= 0 && wn != (ssize_t)n ? -ENOSPC : -errno;

		/* A torn checkpoint line would fail verification: cut it off again. */
		if (ftruncate(w->ckfd, stt.st_size) < 0)
			report(w, true, "audit: cutting checkpoints.jsonl back: %s",
			       strerror(errno));
		return r;
	}
	return 0;
}

static void checkpoint(struct audit_writer *w)
{
	struct audit_checkpoint cp = {.n = w->durable_n};
	char note[AUDIT_NOTE_MAX];
	int len, r;

	/* Set even when this attempt fails, so a failing disk is not retried in a busy loop. */
	w->last_ckpt_ns = vigil_clock_ns(CLOCK_MONOTONIC);
	if (w->durable_n == w->ckpt_n)
		return;
	snprintf(cp.origin, sizeof(cp.origin), "%s", w->origin);
	memcpy(cp.root, w->durable_h, AUDIT_HASH_LEN);
	len = audit_checkpoint_sign(&w->key, &cp, note, sizeof(note));
	if (len < 0) {
		report_errno(w, len, "audit: signing checkpoint %llu",
		             (unsigned long long)w->durable_n);
		return;
	}
	r = append_checkpoint(w, note, (size_t)len);
	if (r >= 0)
		r = write_file_atomic(w, AUDIT_CHECKPOINT, note, (size_t)len);
	if (r < 0) {
		if (!w->ckpt_failing) /* once per outage: it is retried every checkpoint interval */
			report_errno(w, r, "audit: writing checkpoint %llu (tried again later)",
			             (unsigned long long)w->durable_n);
		w->ckpt_failing = true;
		return;
	}
	w->ckpt_failing = false;
	if (w->o.anchor &&
	    (r = w->o.anchor(w->o.anchor_ctx, AUDIT_CT_CHECKPOINT, note, (size_t)len)) < 0)
		report_errno(w, r, "audit: anchoring checkpoint %llu",
		             (unsigned long long)w->durable_n);
	w->ckpt_n = w->durable_n;
	w->st.checkpoints++;
}

static bool checkpoint_due(struct audit_writer *w, uint64_t now)
{
	return w->chain.n > w->ckpt_n &&
	       (w->chain.n - w->ckpt_n >= w->o.checkpoint_records ||
	        now - w->last_ckpt_ns >= (uint64_t)w->o.checkpoint_ms * 1000000ull);
}

/* Disk full: retries by writing the loss record itself; success ends the outage. */
static void try_recover(struct audit_writer *w)
{
	uint64_t lost = w->write_drops - w->write_drops_recorded;

	w->disk_full = false;
	emitf(w, "loss", "\"source\":\"write\",\"count\":%llu,\"total\":%llu,\"error\":\"%s\"",
	      (unsigned long long)lost, (unsigned long long)w->write_drops,
	      strerrorname_np(-w->write_err) ? strerrorname_np(-w->write_err) : "EIO");
	if (flush_out(w, true) < 0) {
		w->write_drops--; /* the loss record itself is not an event */
		return;
	}
	w->outage = false;
	report(w, false, "audit: writing again; %llu records lost while the disk was full",
	       (unsigned long long)lost);
	w->write_drops_recorded += lost;
}

static void commit(struct audit_writer *w, bool force)
{
	uint64_t now = vigil_clock_ns(CLOCK_MONOTONIC);
	uint64_t pending;
	bool ckpt, sync;

	if (w->disk_full && (force || now >= w->retry_ns))
		try_recover(w);
	pending = w->unsynced + w->out_records;
	ckpt = checkpoint_due(w, now);
	sync = pending && (force || ckpt || pending >= w->o.fsync_records ||
	                   now - w->last_fsync_ns >= (uint64_t)w->o.fsync_ms * 1000000ull);
	if (flush_out(w, sync) < 0 || !ckpt)
		return;
	checkpoint(w);
}

/* How long the writer may sleep: until the next fsync, checkpoint or retry is due. */
static uint64_t next_deadline(struct audit_writer *w)
{
	uint64_t d = UINT64_MAX;

	if (w->unsynced)
		d = w->last_fsync_ns + (uint64_t)w->o.fsync_ms * 1000000ull;
	if (!w->disk_full && w->chain.n > w->ckpt_n &&
	    w->last_ckpt_ns + w->o.checkpoint_ms * 1000000ull < d)
		d = w->last_ckpt_ns + (uint64_t)w->o.checkpoint_ms * 1000000ull;
	if (w->disk_full && w->retry_ns < d)
		d = w->retry_ns;
	return d;
}

static void drain(struct audit_writer *w, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct qent h;

		memcpy(&h, w->work + off, sizeof(h));
		emit(w, h.kind, w->work + off + sizeof(h), h.len);
		off += sizeof(h) + h.len;
	}
}

/* The first records of a run: the previous file's link, the torn tail, then start. */
static void start_records(struct audit_writer *w)
{
	char hex[AUDIT_HEX_LEN + 1], b64[2 * AUDIT_PUB_MAX], id[9], name[64];
	char *line = NULL;

	if (w->need_file_record) {
		audit_file_name(w->seq, name, sizeof(name));
		vigil_hex(w->chain.h, AUDIT_HASH_LEN, hex);
		emitf(w, "file", "\"file\":\"%s\",\"prev\":\"%s\"", name, hex);
	}
	if (w->gap_bytes) {
		vigil_hex(w->gap_sha, AUDIT_HASH_LEN, hex);
		emitf(w, "gap", "\"file\":\"%s\",\"offset\":%llu,\"bytes\":%llu,\"sha256\":\"%s\"",
		      w->gap_file, (unsigned long long)w->gap_off, (unsigned long long)w->gap_bytes,
		      hex);
	}
	audit_key_pubkey_base64(&w->key, b64, sizeof(b64));
	vigil_hex(w->key.id, 4, id);
	emitf(w, "start", "\"origin\":\"%s\",\"pubkey\":\"%s\",\"key_id\":\"%s\"%s%s", w->origin,
	      b64, id, w->start_members ? "," : "", w->start_members ? w->start_members : "");
	if (w->out_len) {
		const char *last = memrchr(w->out, '\n', w->out_len - 1);

		line = strndup(last ? last + 1 : w->out,
		               w->out_len - (size_t)(last ? last + 1 - w->out : 0));
	}
	/* The start record is durable before enforcement begins: the genesis of this run. */
	if (flush_out(w, true) == 0 && line && w->o.anchor) {
		int r = w->o.anchor(w->o.anchor_ctx, AUDIT_CT_START, line, strlen(line));

		if (r < 0)
			report_errno(w, r, "audit: anchoring the start record");
	}
	free(line);
}

static void publish(struct audit_writer *w, uint64_t handled)
{
	w->st.write_drops = w->write_drops;
	w->st.durable = w->durable_n;
	w->st.gap_bytes = w->gap_bytes;
	pthread_mutex_lock(&w->mu);
	if (!w->unsynced && !w->out_records)
		w->handled = handled;
	w->pub = w->st;
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
	struct audit_writer *w = arg;
	uint64_t taken = 0, qd;
	bool stop, force;

	start_records(w);
	/* The run's genesis is signed at once: a log verified right after a start is covered. */
	checkpoint(w);
	publish(w, 0);
	do {
		size_t len;
		char *tmp;

		pthread_mutex_lock(&w->mu);
		while (!w->q_len && !w->stopping && !w->sync_requested) {
			uint64_t d = next_deadline(w);
			struct timespec ts;

			w->writer_sleeping = true;
			if (d == UINT64_MAX) {
				pthread_cond_wait(&w->wake, &w->mu);
				continue;
			}
			if (vigil_clock_ns(CLOCK_MONOTONIC) >= d)
				break;
			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
			pthread_cond_timedwait(&w->wake, &w->mu, &ts);
		}
		tmp = w->work, w->work = w->q, w->q = tmp;
		len = w->q_len;
		taken += w->q_count;
		w->q_len = 0;
		w->q_count = 0;
		stop = w->stopping;
		force = w->sync_requested || stop;
		w->sync_requested = false;
		qd = w->queue_drops;
		w->writer_sleeping = false;
		if (w->producer_waiting) {
			w->producer_waiting = false;
			pthread_cond_broadcast(&w->space);
		}
		pthread_mutex_unlock(&w->mu);

		/* During an outage the count waits: it must enter the chain, not the drop count. */
		if (qd != w->queue_drops_recorded && !w->disk_full) {
			emitf(w, "loss", "\"source\":\"queue\",\"count\":%llu,\"total\":%llu",
			      (unsigned long long)(qd - w->queue_drops_recorded),
			      (unsigned long long)qd);
			w->queue_drops_recorded = qd;
		}
		drain(w, len);
		commit(w, force);
		w->st.queue_drops = qd;
		publish(w, taken);
	} while (!stop);
	pthread_mutex_lock(&w->mu);
	w->thread_exited = true;
	pthread_cond_broadcast(&w->done);
	pthread_cond_broadcast(&w->space);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* --- open, recovery, close --------------------------------------------------------- */

/* Reads file seq; returns the chain state after its last valid record and the valid length. */
static int scan_file(struct audit_writer *w, uint32_t seq, struct audit_chain *c, uint64_t *valid,
                     uint64_t *size)
{
	char name[64], msg[256];
	struct audit_record_view v;
	struct stat stt;
	const char *buf;
	size_t off = 0;
	int fd, r = 0;

	audit_file_name(seq, name, sizeof(name));
	fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stt) < 0) {
		r = -errno;
		goto out;
	}
	*size = (uint64_t)stt.st_size;
	c->n = UINT64_MAX;
	if (stt.st_size == 0)
		goto out;
	buf = mmap(NULL, (size_t)stt.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (buf == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	while (off < (size_t)stt.st_size) {
		const char *eol = memchr(buf + off, '\n', (size_t)stt.st_size - off);

		if (!eol || audit_record_check(c, buf + off, (size_t)(eol + 1 - buf - off), &v, msg,
		                               sizeof(msg)) < 0)
			break;
		off = (size_t)(eol + 1 - buf);
	}
	munmap((void *)buf, (size_t)stt.st_size);
out:
	*valid = off;
	close(fd);
	return r;
}

/* Finds where the chain ends; a torn or corrupt tail is cut off and kept for the gap record. */
static int recover(struct audit_writer *w)
{
	uint64_t valid = 0, size = 0;
	uint32_t *seqs = NULL;
	size_t n = 0;
	int r;

	r = audit_list_files(w->dir, &seqs, &n);
	if (r < 0)
		return r;
	w->seq = n ? seqs[n - 1] : 1;
	if (n)
		r = scan_file(w, w->seq, &w->chain, &valid, &size);
	if (r >= 0 && n && w->chain.n == UINT64_MAX) {
		/* No valid record in the last file: continue from the one before it. */
		uint64_t pv, ps;

		if (n >= 2 && seqs[n - 2] == w->seq - 1)
			r = scan_file(w, w->seq - 1, &w->chain, &pv, &ps);
		if (r >= 0 && w->chain.n == UINT64_MAX && w->seq > 1)
			r = -EBADMSG;
		if (w->chain.n == UINT64_MAX) {
			w->chain.n = 0;
			memset(w->chain.h, 0, AUDIT_HASH_LEN);
		}
		w->need_file_record = w->seq > 1;
	}
	free(seqs);
	if (r < 0)
		return r;
	w->fd = open_log_file(w, w->seq, n ? 0 : O_CREAT);
	if (w->fd < 0)
		return w->fd;
	if (valid < size) {
		char *tail = malloc(size - valid);
		struct audit_chain h;

		audit_file_name(w->seq, w->gap_file, sizeof(w->gap_file));
		w->gap_off = valid;
		w->gap_bytes = size - valid;
		if (!tail || audit_chain_init(&h) < 0) {
			free(tail);
			return -ENOMEM;
		}
		if (pread(w->fd, tail, size - valid, (off_t)valid) != (ssize_t)(size - valid) ||
		    !EVP_Digest(tail, size - valid, w->gap_sha, NULL, h.sha256, NULL))
			r = -EIO;
		audit_chain_free(&h);
		free(tail);
		if (r == 0 && (ftruncate(w->fd, (off_t)valid) < 0 || fsync(w->fd) < 0))
			r = -errno;
		if (r < 0)
			return r;
		report(w, false,
		       "audit: %s: %llu bytes after offset %llu are not a valid record; cut off "
		       "and recorded as a gap",
		       w->gap_file, (unsigned long long)w->gap_bytes, (unsigned long long)valid);
	}
	w->off = valid;
	w->written_n = w->durable_n = w->ckpt_n = w->chain.n;
	memcpy(w->written_h, w->chain.h, AUDIT_HASH_LEN);
	memcpy(w->durable_h, w->chain.h, AUDIT_HASH_LEN);
	return 0;
}

/* checkpoints.jsonl: append-only; a torn last line (crash) is cut off. */
static int open_checkpoints(struct audit_writer *w)
{
	struct stat stt;
	char c;
	off_t end;

	w->ckfd = openat(w->dirfd, AUDIT_CHECKPOINTS,
	                 O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (w->ckfd < 0)
		return -errno;
	if (fstat(w->ckfd, &stt) < 0)
		return -errno;
	for (end = stt.st_size; end > 0; end--)
		if (pread(w->ckfd, &c, 1, end - 1) == 1 && c == '\n')
			break;
	if (end != stt.st_size && ftruncate(w->ckfd, end) < 0)
		return -errno;
	return 0;
}

static int write_vkey(struct audit_writer *w)
{
	char vkey[512];
	int n = audit_key_vkey(&w->key, vkey, sizeof(vkey) - 1), r;

	if (n < 0)
		return n;
	vkey[n++] = '\n';
	r = write_file_atomic(w, AUDIT_VKEY_FILE, vkey, (size_t)n);
	if (r >= 0 && w->o.anchor)
		r = w->o.anchor(w->o.anchor_ctx, AUDIT_CT_KEY, vkey, (size_t)n - 1);
	return r;
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static void writer_free(struct audit_writer *w)
{
	if (w->have_uring)
		io_uring_queue_exit(&w->ring);
	if (w->fd >= 0)
		close(w->fd);
	if (w->ckfd >= 0)
		close(w->ckfd);
	if (w->ackfd >= 0)
		close(w->ackfd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->lockfd >= 0)
		close(w->lockfd);
	audit_key_free(&w->key);
	audit_chain_free(&w->chain);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->space);
	free(w->q);
	free(w->work);
	free(w->out_own);
	audit_tap_free(w->tap);
	free(w->dir);
	free(w->origin);
	free(w->ack_path);
	free(w->start_members);
	free(w);
}

/* Fills err with "WHAT: REASON" and evaluates to r: open's failures go to its caller, not
 * o->report. */
#define setup_fail(err, r, fmt, ...)                                                               \
	({                                                                                         \
		int _r = (r);                                                                      \
		vigil_errorf((err), _r, fmt ": %s", ##__VA_ARGS__, strerror(-_r));                 \
	})

static int writer_setup(struct audit_writer *w, struct vigil_error *err)
{
	int r;

	if (strpbrk(w->origin, " +\"\\\n") || strlen(w->origin) > AUDIT_ORIGIN_MAX)
		return setup_fail(err, -EINVAL, "audit: origin '%s' has spaces, '+' or quotes",
		                  w->origin);
	if (mkdir(w->dir, 0750) < 0 && errno != EEXIST)
		return setup_fail(err, -errno, "audit: creating %s", w->dir);
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return setup_fail(err, -errno, "audit: opening %s", w->dir);
	/* Two writers would interleave records at the same offsets: one log, one writer. */
	w->lockfd =
	    openat(w->dirfd, AUDIT_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (w->lockfd < 0)
		return setup_fail(err, -errno, "audit: %s/" AUDIT_LOCK_FILE, w->dir);
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) < 0)
		return setup_fail(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
		                  "audit: %s is in use by another writer", w->dir);
	if (w->o.key_open)
		r = w->o.key_open(w->o.key_ctx, w->o.state_dir, w->origin, &w->key);
	else
		r = audit_key_load_or_create(w->o.state_dir, w->origin, &w->key);
	if (r < 0)
		return setup_fail(err, r, "audit: checkpoint key in %s/%s", w->o.state_dir,
		                  w->o.key_open ? AUDIT_KEY_TPM : AUDIT_KEY_FILE);
	r = recover(w);
	if (r < 0)
		return setup_fail(err, r, "audit: recovering the log in %s", w->dir);
	r = open_checkpoints(w);
	if (r < 0)
		return setup_fail(err, r, "audit: %s/" AUDIT_CHECKPOINTS, w->dir);
	r = write_vkey(w);
	if (r < 0)
		return setup_fail(err, r, "audit: publishing the verifier key");
	if (w->ack_path) {
		w->ackfd = open(w->ack_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (w->ackfd < 0)
			return setup_fail(err, -errno, "audit: ack file %s", w->ack_path);
		write_ack(w);
	}
	r = io_uring_queue_init(8, &w->ring, 0);
	w->have_uring = r == 0;
	if (!w->have_uring)
		report(w, false,
		       "audit: io_uring unavailable (%s); writing with pwrite and fdatasync",
		       strerror(-r));
	return 0;
}

int audit_writer_open(const struct audit_options *o, struct audit_writer **ret,
                      struct vigil_error *err)
{
	struct audit_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return vigil_errorf(err, -ENOMEM, "audit: opening the log in %s: out of memory",
		                    o->dir);
	w->o = *o;
	w->fd = w->ckfd = w->ackfd = w->dirfd = w->lockfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->space, NULL);
	{
		pthread_condattr_t ca;

		/* Deadlines are on the monotonic clock: wall-clock steps must not stall commits. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->wake, &ca);
		pthread_cond_init(&w->done, &ca);
		pthread_condattr_destroy(&ca);
	}
	w->q = malloc(o->queue_bytes);
	w->work = malloc(o->queue_bytes);
	w->out = w->out_own = malloc(OUT_CAP);
	if (o->tap_bytes)
		w->tap = audit_tap_new(o->tap_bytes > AUDIT_TAP_MIN ? o->tap_bytes : AUDIT_TAP_MIN);
	r = audit_chain_init(&w->chain);
	if (r >= 0)
		r = dup_opt(&w->dir, o->dir) ?: dup_opt(&w->origin, o->origin) ?:
		    dup_opt(&w->ack_path, o->ack_path) ?: dup_opt(&w->start_members, o->start_members);
	if (r >= 0 && (!w->q || !w->work || !w->out || (o->tap_bytes && !w->tap)))
		r = -ENOMEM;
	if (r < 0)
		vigil_errorf(err, r, "audit: opening the log in %s: %s", o->dir, strerror(-r));
	else
		r = writer_setup(w, err);
	if (r >= 0) {
		w->last_fsync_ns = w->last_ckpt_ns = vigil_clock_ns(CLOCK_MONOTONIC);
		r = -pthread_create(&w->thread, NULL, writer_main, w);
		if (r < 0)
			setup_fail(err, r, "audit: starting the writer thread for %s", o->dir);
	}
	if (r < 0) {
		writer_free(w);
		return r;
	}
	w->thread_started = true;
	*ret = w;
	return 0;
}

int audit_writer_sync(struct audit_writer *w)
{
	uint64_t target;

	pthread_mutex_lock(&w->mu);
	target = w->submitted;
	w->sync_requested = true;
	pthread_cond_signal(&w->wake);
	while (w->handled < target && !w->thread_exited)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void audit_writer_stats(struct audit_writer *w, struct audit_stats *ret)
{
	pthread_mutex_lock(&w->mu);
	*ret = w->pub;
	ret->submitted = w->submitted;
	ret->queue_drops = w->queue_drops;
	pthread_mutex_unlock(&w->mu);
}

struct audit_tap *audit_writer_tap(struct audit_writer *w)
{
	return w->tap;
}

int audit_writer_close(struct audit_writer *w)
{
	int r;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* The final checkpoint covers everything: the verifier then sees no unsigned tail. */
	if (!w->disk_full && w->durable_n > w->ckpt_n)
		checkpoint(w);
	r = w->disk_full ? w->write_err : 0;
	writer_free(w);
	return r;
}
