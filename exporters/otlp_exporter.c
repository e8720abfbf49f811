/*
 * The exporter thread: reads durable records from the cursor on, sends them in batches, moves
 * the cursor (fsynced) only when the receiver acknowledged them; retries 429/502/503/504 and
 * connection failures with exponential backoff and jitter, honouring Retry-After; anything
 * else is counted, logged and not retried. Metrics go out every metrics_ms.
 */
#include "exporters/otlp_int.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The exporter is a thread of the program (vigild, the benchmark), not a function with a caller to
 * report to: its delivery events go to the program's log, with the program's name. */
#define LOG(fmt, ...) log_info("otlp: " fmt, ##__VA_ARGS__)

struct otlp_exporter {
	struct otlp_options o;
	struct otlp_resource res;
	char origin[AUDIT_ORIGIN_MAX + 1];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	volatile int stop;
	struct otlp_stats st; /* under lock */
	struct otlp_metrics m;
	struct otlp_http *http;
	struct otlp_follower f;
	bool follower_open;
	/* The batch: per record its number, hash and where its LogRecord starts in out (written
	 * when read, after head_room bytes kept for the request's head; JSON requests are the
	 * same protobuf request re-expressed when sent, otlp_logs_json). */
	struct otlp_item {
		uint64_t n;
		uint8_t h[AUDIT_HASH_LEN];
		size_t off;
		uint64_t observed_ns;
		bool refusal;
	} * batch;
	size_t n_batch;
	struct otlp_wbuf out;
	size_t head_room;
	uint64_t batch_started_ms;
	uint64_t cursor_n;
	uint8_t cursor_h[AUDIT_HASH_LEN];
	uint64_t saved_n, saved_ms; /* the cursor on disk, and when it was written */
	uint64_t next_metrics_ms;
	bool warned_bad;
};

static uint64_t now_ms(clockid_t clk)
{
	return vigil_clock_ns(clk) / 1000000u;
}

/* --- options ----------------------------------------------------------------------- */

void otlp_options_defaults(struct otlp_options *o)
{
	memset(o, 0, sizeof(*o));
	o->gzip = true;
	o->gzip_level = 1;
	o->batch_records = 512;
	o->batch_ms = 200;
	/* 1024: each record in flight holds about 1.2 KiB (its LogRecord, written when read) and
	 * 64 bytes of bookkeeping; 4096 was not cheaper per record (BENCHMARKS.md). */
	o->catchup_records = 1024;
	o->timeout_ms = 10000;
	o->backoff_ms = 500;
	/* 5 s: after an outage the receiver sees a retry within 5 s of coming back; a longer
	 * ceiling saves nothing on a collector that refuses connections (one SYN per try). */
	o->backoff_max_ms = 5000;
	o->metrics_ms = 10000;
	o->poll_ms = 20;
}

static int parse_uint(const char *v, unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x < min || x > max)
		return -EINVAL;
	*out = (unsigned int)x;
	return 0;
}

int otlp_options_parse(struct otlp_options *o, const char *spec, char *err, size_t err_size)
{
	char *save = NULL, *item;

	free(o->spec_copy);
	o->spec_copy = strdup(spec);
	if (!o->spec_copy)
		return -ENOMEM;
	for (item = strtok_r(o->spec_copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *v = strchr(item, '=');
		int r = 0;

		if (!v) {
			snprintf(err, err_size, "--otlp: '%s': expected NAME=VALUE", item);
			return -EINVAL;
		}
		*v++ = 0;
		if (strcmp(item, "endpoint") == 0) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
				snprintf(err, err_size,
				         "--otlp: endpoint '%s': expected http:// or https://", v);
				return -EINVAL;
			}
			o->endpoint = v;
		} else if (strcmp(item, "protocol") == 0) {
			if (strcmp(v, "protobuf") == 0 || strcmp(v, "http/protobuf") == 0)
				o->json = false;
			else if (strcmp(v, "json") == 0 || strcmp(v, "http/json") == 0)
				o->json = true;
			else
				r = -EINVAL;
		} else if (strcmp(item, "gzip") == 0) {
			if (strcmp(v, "on") == 0)
				o->gzip = true;
			else if (strcmp(v, "off") == 0)
				o->gzip = false;
			else
				r = -EINVAL;
		} else if (strcmp(item, "gzip-level") == 0) {
			r = parse_uint(v, 0, 2, &o->gzip_level);
		} else if (strcmp(item, "ca") == 0) {
			o->ca_file = v;
		} else if (strcmp(item, "cert") == 0) {
			o->cert_file = v;
		} else if (strcmp(item, "key") == 0) {
			o->key_file = v;
		} else if (strcmp(item, "cursor") == 0) {
			o->cursor_path = v;
		} else if (strcmp(item, "header") == 0) {
			char *colon = strchr(v, ':');

			if (!colon || colon == v || o->n_headers >= OTLP_HEADERS_MAX) {
				snprintf(err, err_size,
				         "--otlp: header '%s': expected Name:value (at most %d)", v,
				         OTLP_HEADERS_MAX);
				return -EINVAL;
			}
			o->headers[o->n_headers++] = v;
		} else if (strcmp(item, "batch") == 0) {
			r = parse_uint(v, 1, 8192, &o->batch_records);
		} else if (strcmp(item, "catchup-batch") == 0) {
			r = parse_uint(v, 1, 65536, &o->catchup_records);
		} else if (strcmp(item, "batch-ms") == 0) {
			r = parse_uint(v, 0, 60000, &o->batch_ms);
		} else if (strcmp(item, "timeout-ms") == 0) {
			r = parse_uint(v, 100, 600000, &o->timeout_ms);
		} else if (strcmp(item, "backoff-ms") == 0) {
			r = parse_uint(v, 1, 600000, &o->backoff_ms);
		} else if (strcmp(item, "backoff-max-ms") == 0) {
			r = parse_uint(v, 1, 3600000, &o->backoff_max_ms);
		} else if (strcmp(item, "metrics-ms") == 0) {
			r = parse_uint(v, 0, 3600000, &o->metrics_ms);
		} else {
			snprintf(err, err_size, "--otlp: unknown item '%s'", item);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(err, err_size, "--otlp: %s: bad value '%s'", item, v);
			return -EINVAL;
		}
	}
	if (o->key_file && !o->cert_file) {
		snprintf(err, err_size, "--otlp: key= needs cert=");
		return -EINVAL;
	}
	if (o->backoff_max_ms < o->backoff_ms)
		o->backoff_max_ms = o->backoff_ms;
	if (o->catchup_records < o->batch_records)
		o->catchup_records = o->batch_records;
	return 0;
}

void otlp_options_free(struct otlp_options *o)
{
	free(o->spec_copy);
	o->spec_copy = NULL;
}

/* --- cursor ------------------------------------------------------------------------ */

int otlp_cursor_read(const char *path, uint64_t *n, uint8_t h[32])
{
	char buf[128], hex[AUDIT_HEX_LEN + 2];
	unsigned long long v;
	FILE *f = fopen(path, "re");
	int got;

	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!got || sscanf(buf, "%llu %65s", &v, hex) != 2 || strlen(hex) != AUDIT_HEX_LEN ||
	    audit_unhex(hex, AUDIT_HASH_LEN, h) < 0)
		return -EBADMSG;
	*n = v;
	return 0;
}

int otlp_cursor_write(const char *path, uint64_t n, const uint8_t h[32])
{
	char tmp[4200], line[128], hex[AUDIT_HEX_LEN + 1], dir[4200];
	int fd, len, r = 0;
	ssize_t wn;

	audit_hex(h, AUDIT_HASH_LEN, hex);
	len = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", n, hex);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	wn = write(fd, line, (size_t)len);
	if (wn != len || fdatasync(fd) < 0)
		r = wn >= 0 && wn != len ? -EIO : -errno; /* a short write sets no errno */
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0) {
		snprintf(dir, sizeof(dir), "%s", path);
		fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return r;
}

/* --- the thread -------------------------------------------------------------------- */

/* Sleeps up to ms; returns true when asked to stop. */
static bool nap(struct otlp_exporter *x, uint64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&x->lock);
	if (!x->stop)
		pthread_cond_timedwait(&x->cond, &x->lock, &ts);
	stop = x->stop;
	pthread_mutex_unlock(&x->lock);
	return stop;
}

static void source(struct otlp_exporter *x, struct otlp_source_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->durable = UINT64_MAX;
	if (x->o.source_stats)
		x->o.source_stats(x->o.source_ctx, s);
}

/* Counts what the chain says: decisions by kind and verdict, loss records' totals. */
static void count_record(struct otlp_exporter *x, const struct otlp_rec_info *i)
{
	uint64_t *drops[3] = {&x->m.ringbuf_drops, &x->m.queue_drops, &x->m.write_drops};

	if (i->access >= 0 && i->verdict >= 0)
		x->m.decisions[i->access][i->verdict]++;
	else if (i->loss_source >= 0 && i->loss_total > *drops[i->loss_source])
		*drops[i->loss_source] = i->loss_total;
}

static void free_batch(struct otlp_exporter *x)
{
	x->n_batch = 0;
	x->out.len = x->head_room;
}

/* Record v into the batch: its LogRecord written now. */
static int add_record(struct otlp_exporter *x, const struct audit_record_view *v, uint64_t now,
                      struct otlp_rec_info *info)
{
	struct otlp_item *it = &x->batch[x->n_batch];
	int r;

	it->n = v->n;
	memcpy(it->h, x->f.chain.h, AUDIT_HASH_LEN); /* the chain after v: h(n) */
	it->observed_ns = now;
	it->off = x->out.len;
	r = otlp_write_log_record(&x->out, v->line, v->len - 1, v->n, v->kind, x->res.origin, now,
	                          info);
	if (r < 0)
		return r;
	it->refusal = info->refusal;
	return 0;
}

static int open_follower(struct otlp_exporter *x)
{
	uint64_t lost = 0;
	int r = otlp_follow_open(&x->f, x->o.audit_dir, x->cursor_n, x->cursor_h, &lost);

	if (r == -EILSEQ || r == -ERANGE) {
		/* The cursor names a record this log does not have: a new log. Start over. */
		LOG("cursor %" PRIu64 " does not match %s (%s): exporting from record 1",
		    x->cursor_n, x->o.audit_dir, x->f.msg);
		otlp_follow_close(&x->f);
		x->cursor_n = 0;
		memset(x->cursor_h, 0, sizeof(x->cursor_h));
		r = otlp_follow_open(&x->f, x->o.audit_dir, 0, x->cursor_h, &lost);
	}
	if (r < 0) {
		otlp_follow_close(&x->f);
		return r;
	}
	x->f.tap = x->o.tap;
	x->follower_open = true;
	if (lost) {
		LOG("%" PRIu64 " records after %" PRIu64 " were rotated away before export", lost,
		    x->cursor_n);
		pthread_mutex_lock(&x->lock);
		x->st.lost += lost;
		pthread_mutex_unlock(&x->lock);
		x->m.lost += lost;
		if (x->o.lost)
			x->o.lost(x->o.lost_ctx, lost, x->m.lost);
	}
	return 0;
}

/*
 * Reads records into the batch; returns how many were added (<0: the log does not chain).
 * A full batch with more records already durable means the exporter is behind (an outage, a
 * restart): it keeps reading up to catchup_records, since fewer, larger requests drain a
 * backlog with less CPU per record (a 413 splits them again).
 */
static int fill_batch(struct otlp_exporter *x, uint64_t durable)
{
	int added = 0;
	uint64_t now = 0;

	while (x->n_batch < x->o.catchup_records) {
		struct audit_record_view v;
		struct otlp_rec_info info;
		int r = otlp_follow_next(&x->f, durable, &v);

		if (r <= 0) {
			if (r < 0 && !x->warned_bad) {
				LOG("the log does not chain after record %" PRIu64
				    ": %s; export stops "
				    "there",
				    x->f.chain.n, x->f.msg);
				x->warned_bad = true;
				pthread_mutex_lock(&x->lock);
				x->st.bad_records++;
				pthread_mutex_unlock(&x->lock);
			}
			return r < 0 && !added ? r : added;
		}
		x->warned_bad = false;
		/* The observed time: read once per 256 records (a batch is read in about a
		 * millisecond), not once per record. */
		if (added % 256 == 0)
			now = vigil_clock_ns(CLOCK_REALTIME);
		r = add_record(x, &v, now, &info);
		if (r < 0)
			return added ? added : r;
		count_record(x, &info);
		if (x->n_batch == 0)
			x->batch_started_ms = now_ms(CLOCK_MONOTONIC);
		x->n_batch++;
		added++;
	}
	return added;
}

static void send_metrics(struct otlp_exporter *x)
{
	struct otlp_source_stats s;
	struct otlp_response resp;
	enum otlp_result res;
	uint8_t *payload;
	size_t len;
	uint64_t sent = 0;

	source(x, &s);
	if (x->o.source_stats) { /* vigild's own counters, when it has them */
		if (s.ringbuf_drops > x->m.ringbuf_drops)
			x->m.ringbuf_drops = s.ringbuf_drops;
		if (s.queue_drops > x->m.queue_drops)
			x->m.queue_drops = s.queue_drops;
		if (s.write_drops > x->m.write_drops)
			x->m.write_drops = s.write_drops;
	}
	pthread_mutex_lock(&x->lock);
	x->m.exported = x->st.exported;
	x->m.lag = x->st.head > x->st.cursor ? x->st.head - x->st.cursor : 0;
	x->m.queue_depth = x->n_batch;
	pthread_mutex_unlock(&x->lock);
	x->m.now_ns = vigil_clock_ns(CLOCK_REALTIME);
	if (otlp_encode_metrics(&x->res, &x->m, x->o.json, &payload, &len) < 0)
		return;
	res = otlp_http_post(x->http, "/v1/metrics", payload, len, &resp, &sent);
	free(payload);
	pthread_mutex_lock(&x->lock);
	x->st.metric_requests++;
	x->st.bytes += sent;
	if (res != OTLP_OK)
		x->st.metric_failures++;
	pthread_mutex_unlock(&x->lock);
	otlp_response_free(&resp);
}

static void maybe_metrics(struct otlp_exporter *x)
{
	uint64_t now = now_ms(CLOCK_MONOTONIC);

	if (!x->o.metrics_ms || now < x->next_metrics_ms)
		return;
	x->next_metrics_ms = now + x->o.metrics_ms;
	send_metrics(x);
}

/* Records [lo, hi) refused for good: counted, logged, and into the chain as a loss. */
static void refused(struct otlp_exporter *x, size_t lo, size_t hi, long status)
{
	uint64_t first = x->batch[lo].n, last = x->batch[hi - 1].n, n = hi - lo, total;

	LOG("receiver answered %ld to records %" PRIu64 "-%" PRIu64 " (not retried: %" PRIu64
	    " records not delivered, recorded as a loss)",
	    status, first, last, n);
	x->m.failures_http++;
	pthread_mutex_lock(&x->lock);
	x->st.failed_batches++;
	x->st.dropped += n;
	total = x->st.dropped;
	pthread_mutex_unlock(&x->lock);
	/* A loss record this exporter asked for after a refusal: refused again, it is only counted
	 * (another loss record for it would loop with a receiver that refuses every loss record).
	 */
	if (n == 1 && x->batch[lo].refusal)
		return;
	if (x->o.refused)
		x->o.refused(x->o.lost_ctx, first, n, status, total);
}

/* Waits before a retry: Retry-After when the receiver gave one, else backoff with jitter. */
static bool retry_wait(struct otlp_exporter *x, const struct otlp_response *resp, uint64_t *backoff,
                       uint64_t first, uint64_t last)
{
	uint64_t wait;

	if (resp->status == 0)
		x->m.failures_transport++;
	else
		x->m.failures_http++;
	if (resp->retry_after_ms >= 0) {
		wait = (uint64_t)resp->retry_after_ms;
	} else {
		uint32_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)now_ms(CLOCK_MONOTONIC);
		wait = *backoff / 2 + rnd % (*backoff / 2 + 1); /* [backoff/2, backoff] */
		*backoff = *backoff * 2 > x->o.backoff_max_ms ? x->o.backoff_max_ms : *backoff * 2;
	}
	if (resp->status)
		LOG("receiver answered %ld to records %" PRIu64 "-%" PRIu64 "; retrying in %" PRIu64
		    " ms",
		    resp->status, first, last, wait);
	else
		LOG("records %" PRIu64 "-%" PRIu64 ": %s; retrying in %" PRIu64 " ms", first, last,
		    resp->error, wait);
	pthread_mutex_lock(&x->lock);
	x->st.retries++;
	pthread_mutex_unlock(&x->lock);
	/* Waits in slices so metrics keep going out during an outage. */
	for (uint64_t end = now_ms(CLOCK_MONOTONIC) + wait;;) {
		uint64_t now = now_ms(CLOCK_MONOTONIC);

		if (now >= end)
			return true;
		if (nap(x, end - now > 1000 ? 1000 : end - now))
			return false;
		maybe_metrics(x);
	}
}

/*
 * The request for batch records [lo, hi): *payload points into the batch's own buffer for a
 * whole protobuf batch (its head written in the room kept before the records), else into
 * *owned (a split's half, or JSON: the same request in the OTLP JSON mapping), to be freed.
 */
static int encode_range(struct otlp_exporter *x, size_t lo, size_t hi, uint8_t **payload,
                        size_t *len, uint8_t **owned)
{
	size_t from = x->batch[lo].off, to = hi < x->n_batch ? x->batch[hi].off : x->out.len;
	struct otlp_wbuf j = {0};
	uint8_t *b = NULL;
	int r;

	*owned = NULL;
	if (lo == 0) {
		r = otlp_logs_request(&x->res, x->out.p + from, to - from, x->head_room, payload,
		                      len);
	} else {
		b = malloc(x->head_room + (to - from));
		if (!b)
			return -ENOMEM;
		memcpy(b + x->head_room, x->out.p + from, to - from);
		r = otlp_logs_request(&x->res, b + x->head_room, to - from, x->head_room, payload,
		                      len);
	}
	if (r < 0 || !x->o.json) {
		if (r < 0)
			free(b);
		else
			*owned = b;
		return r;
	}
	r = otlp_logs_json(*payload, *len, &j);
	free(b);
	if (r < 0) {
		otlp_wbuf_free(&j);
		return r;
	}
	*owned = *payload = j.p;
	*len = j.len;
	return 0;
}

/*
 * Sends batch records [lo, hi) until they are acknowledged or refused; false when stopping.
 * 413 (too large) and 400 (something in it is malformed for the receiver) split the request in
 * halves, down to one record, so one record the receiver cannot take does not cost its
 * neighbours; what is refused on its own, or with any other status, is a loss in the chain.
 */
static bool send_range(struct otlp_exporter *x, size_t lo, size_t hi)
{
	uint64_t backoff = x->o.backoff_ms, first = x->batch[lo].n, last = x->batch[hi - 1].n;
	uint8_t *payload, *owned;
	size_t len;

	while (encode_range(x, lo, hi, &payload, &len, &owned) < 0)
		if (nap(x, 100)) /* out of memory: try again */
			return false;
	for (;;) {
		struct otlp_response resp;
		uint64_t sent = 0;
		enum otlp_result res =
		    otlp_http_post(x->http, "/v1/logs", payload, len, &resp, &sent);
		long status = resp.status;

		pthread_mutex_lock(&x->lock);
		x->st.requests++;
		x->st.bytes += sent;
		pthread_mutex_unlock(&x->lock);
		if (res == OTLP_OK) {
			int64_t rejected = 0;
			char msg[256] = "";

			if (otlp_decode_response(resp.body, resp.len, resp.json, false, &rejected,
			                         msg, sizeof(msg)) == 0 &&
			    rejected > 0) {
				LOG("receiver rejected %" PRId64 " of records %" PRIu64 "-%" PRIu64
				    ": %s",
				    rejected, first, last, msg[0] ? msg : "(no message)");
				x->m.failures_rejected++;
			}
			pthread_mutex_lock(&x->lock);
			x->st.exported += hi - lo;
			x->st.rejected += rejected > 0 ? (uint64_t)rejected : 0;
			pthread_mutex_unlock(&x->lock);
			otlp_response_free(&resp);
			free(owned);
			return true;
		}
		if (res == OTLP_FAIL) {
			if (resp.json && resp.body)
				LOG("receiver's answer to records %" PRIu64 "-%" PRIu64 ": %.200s",
				    first, last, (const char *)resp.body);
			otlp_response_free(&resp);
			free(owned);
			if ((status == 413 || status == 400) && hi - lo > 1) {
				size_t mid = lo + (hi - lo) / 2;

				LOG("receiver answered %ld to records %" PRIu64 "-%" PRIu64
				    ": sending them in two halves",
				    status, first, last);
				x->m.failures_http++;
				pthread_mutex_lock(&x->lock);
				x->st.splits++;
				pthread_mutex_unlock(&x->lock);
				return send_range(x, lo, mid) && send_range(x, mid, hi);
			}
			refused(x, lo, hi, status);
			return true;
		}
		if (!retry_wait(x, &resp, &backoff, first, last)) {
			otlp_response_free(&resp);
			free(owned);
			return false;
		}
		otlp_response_free(&resp);
	}
}

static void save_cursor(struct otlp_exporter *x)
{
	int r;

	if (!x->o.cursor_path || x->saved_n == x->cursor_n)
		return;
	r = otlp_cursor_write(x->o.cursor_path, x->cursor_n, x->cursor_h);
	if (r < 0)
		LOG("writing the cursor %s: %s", x->o.cursor_path, strerror(-r));
	else
		x->saved_n = x->cursor_n;
	x->saved_ms = now_ms(CLOCK_MONOTONIC);
}

/* Sends the batch until every record is acknowledged or refused; false when stopping. */
static bool deliver(struct otlp_exporter *x)
{
	const struct otlp_item *last = &x->batch[x->n_batch - 1];

	if (!send_range(x, 0, x->n_batch))
		return false;
	memcpy(x->cursor_h, last->h, AUDIT_HASH_LEN);
	x->cursor_n = last->n;
	/* While catching up (full catch-up batches), the cursor is fsynced at most once a second:
	 * one fsync per request was 6% of the CPU. A crash then resends up to a second of records,
	 * which delivery at least once allows (receivers deduplicate by vigil.audit.seq). */
	if (x->n_batch < x->o.catchup_records || now_ms(CLOCK_MONOTONIC) - x->saved_ms >= 1000)
		save_cursor(x);
	pthread_mutex_lock(&x->lock);
	x->st.cursor = x->cursor_n;
	pthread_mutex_unlock(&x->lock);
	free_batch(x);
	return true;
}

static void *run(void *arg)
{
	struct otlp_exporter *x = arg;

	while (!x->stop) {
		struct otlp_source_stats s;
		struct timespec cpu;
		uint64_t durable;
		int added;

		maybe_metrics(x);
		if (!x->follower_open && open_follower(x) < 0) {
			if (nap(x, 1000))
				break;
			continue;
		}
		source(x, &s);
		durable = s.durable;
		added = fill_batch(x, durable);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
		pthread_mutex_lock(&x->lock);
		x->st.cpu_ns = (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec;
		if (x->n_batch && x->batch[x->n_batch - 1].n > x->st.head)
			x->st.head = x->batch[x->n_batch - 1].n;
		if (durable != UINT64_MAX && durable > x->st.head)
			x->st.head = durable;
		x->st.pending = x->n_batch;
		x->st.from_tap = x->f.from_tap;
		x->st.from_file = x->f.from_file;
		if (x->o.tap) {
			struct audit_tap_stats ts;

			audit_tap_stats(x->o.tap, &ts);
			x->st.tap_missed = ts.missed_records;
		}
		pthread_mutex_unlock(&x->lock);
		if (x->n_batch &&
		    (x->n_batch >= x->o.batch_records ||
		     now_ms(CLOCK_MONOTONIC) - x->batch_started_ms >= x->o.batch_ms)) {
			if (!deliver(x))
				break;
			continue;
		}
		if (added > 0)
			continue;
		if (nap(x, x->o.poll_ms))
			break;
	}
	return NULL;
}

static void read_origin(struct otlp_exporter *x)
{
	char path[4200], line[AUDIT_ORIGIN_MAX + 1];
	FILE *f;

	if (x->o.origin) {
		snprintf(x->origin, sizeof(x->origin), "%s", x->o.origin);
		return;
	}
	/* audit.vkey is "<origin>+<key id>+<key>". */
	snprintf(path, sizeof(path), "%s/%s", x->o.audit_dir, AUDIT_VKEY_FILE);
	f = fopen(path, "re");
	if (f && fgets(line, sizeof(line), f)) {
		char *plus = strchr(line, '+');

		if (plus) {
			*plus = 0;
			snprintf(x->origin, sizeof(x->origin), "%s", line);
		}
	}
	if (f)
		fclose(f);
}

int otlp_exporter_start(const struct otlp_options *o, struct otlp_exporter **ret)
{
	struct otlp_exporter *x;
	pthread_condattr_t ca;
	int r;

	if (!o->endpoint || !o->audit_dir)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->o = *o;
	x->o.spec_copy = NULL; /* the caller keeps its options (and their strings) alive */
	if (x->o.catchup_records < x->o.batch_records)
		x->o.catchup_records = x->o.batch_records;
	x->batch = calloc(x->o.catchup_records, sizeof(*x->batch));
	if (!x->batch) {
		free(x);
		return -ENOMEM;
	}
	if (o->cursor_path) {
		r = otlp_cursor_read(o->cursor_path, &x->cursor_n, x->cursor_h);
		if (r == -EBADMSG)
			LOG("cursor %s is unreadable: exporting from record 1", o->cursor_path);
		else if (r < 0 && r != -ENOENT)
			LOG("cursor %s: %s: exporting from record 1", o->cursor_path, strerror(-r));
		if (r < 0) {
			x->cursor_n = 0;
			memset(x->cursor_h, 0, sizeof(x->cursor_h));
		}
	}
	x->st.cursor = x->st.head = x->saved_n = x->cursor_n;
	read_origin(x);
	x->res = (struct otlp_resource){o->service_version, o->host_id, o->host_name, o->tee,
	                                x->origin[0] ? x->origin : NULL};
	x->head_room = otlp_logs_head_room(&x->res);
	x->out.p = malloc(x->head_room);
	if (!x->out.p) {
		free(x->batch);
		free(x);
		return -ENOMEM;
	}
	x->out.cap = x->out.len = x->head_room;
	x->m.start_ns = vigil_clock_ns(CLOCK_REALTIME);
	r = otlp_http_new(o, &x->stop, &x->http);
	if (r < 0) {
		otlp_wbuf_free(&x->out);
		free(x->batch);
		free(x);
		return r;
	}
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&x->thread, NULL, run, x);
	if (r) {
		otlp_http_free(x->http);
		otlp_wbuf_free(&x->out);
		free(x->batch);
		free(x);
		return -r;
	}
	*ret = x;
	return 0;
}

void otlp_exporter_stats(struct otlp_exporter *x, struct otlp_stats *ret)
{
	pthread_mutex_lock(&x->lock);
	*ret = x->st;
	pthread_mutex_unlock(&x->lock);
}

void otlp_exporter_stop(struct otlp_exporter *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->stop = 1;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	pthread_join(x->thread, NULL);
	save_cursor(x);
	free_batch(x);
	free(x->batch);
	otlp_wbuf_free(&x->out);
	if (x->follower_open)
		otlp_follow_close(&x->f);
	otlp_http_free(x->http);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
}
