/*
 * Micro benchmark of the OTLP exporter's record scanner and protobuf writer alone: the lines of
 * audit log files, read into memory once, written as log records (otlp_write_log_record) again
 * and again, with what the exporter counts of each (otlp_rec_info), without the follower, gzip
 * or HTTP. Timed per batch of lines already in the cache, as after the follower's read and hash.
 *
 *   otlp_scan [--passes N] [--gzip LEVEL] [--dump FILE] LOGFILE...
 *     --passes N   passes over all lines (default 20); prints ns per record of each pass and
 *                  the best and median
 *     --gzip LEVEL also gzip each 1024 records' log records (the exporter's catch-up request)
 *                  with the exporter's own otlp_gzip at ISA-L LEVEL (0-2), timed apart: the
 *                  compression's own cost per record, and its bytes per record
 *     --dump FILE  instead, one pass writing each line's result code and bytes to FILE (the
 *                  observed time fixed): what a change of the writer must leave unchanged
 *
 * A line's kind is its "k" member ("event" when it has none, as for a malformed line).
 */
#include "audit/audit.h"
#include "exporters/otlp_int.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct line {
	const char *p;
	size_t len;
	uint64_t n;
	char kind[AUDIT_KIND_MAX + 1];
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void line_meta(struct line *l)
{
	const char *k = memmem(l->p, l->len, "\"k\":\"", 5), *n = memmem(l->p, l->len, "\"n\":", 4);
	size_t i = 0;

	strcpy(l->kind, "event");
	if (k) {
		k += 5;
		for (; i < AUDIT_KIND_MAX && k + i < l->p + l->len && k[i] != '"'; i++)
			l->kind[i] = k[i];
		if (i)
			l->kind[i] = 0;
	}
	l->n = n ? strtoull(n + 4, NULL, 10) : 0;
}

/* Every line of the files, each in a buffer of its own size (reads past it show in ASan). */
static int read_lines(char **files, int n_files, struct line **ret, size_t *ret_n)
{
	struct line *v = NULL;
	size_t n = 0, cap = 0;

	for (int f = 0; f < n_files; f++) {
		FILE *fp = fopen(files[f], "r");
		char *buf = NULL;
		size_t bcap = 0;
		ssize_t got;

		if (!fp) {
			fprintf(stderr, "otlp_scan: %s: %m\n", files[f]);
			return -errno;
		}
		while ((got = getline(&buf, &bcap, fp)) >= 0) {
			size_t len = (size_t)got - (got && buf[got - 1] == '\n');
			char *copy = malloc(len ? len : 1);

			if (n == cap) {
				cap = cap ? 2 * cap : 1 << 16;
				v = realloc(v, cap * sizeof(*v));
			}
			if (!v || !copy)
				return -ENOMEM;
			memcpy(copy, buf, len);
			v[n] = (struct line){copy, len, 0, ""};
			line_meta(&v[n++]);
		}
		free(buf);
		fclose(fp);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Lines written per timed batch (about 50 KiB of lines: within L2). */
#define BATCH 128
/* Records per gzip'ed request (--gzip): the exporter's catch-up batch, a multiple of BATCH. */
#define REQ 1024

static void touch(const struct line *l)
{
	static volatile unsigned char sink;
	unsigned char x = 0;

	for (size_t i = 0; i < l->len; i += 64)
		x ^= (unsigned char)l->p[i];
	sink ^= x;
}

static int dump(const struct line *v, size_t n, const char *path)
{
	FILE *out = fopen(path, "w");
	struct otlp_wbuf b = {0};

	if (!out)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		struct otlp_rec_info info;
		int rc;

		b.len = 0;
		rc = otlp_write_log_record(&b, v[i].p, v[i].len, v[i].n, v[i].kind, "vigil/bench",
		                           42, &info);
		fprintf(out, "%zu rc=%d len=%zu info=%d,%d,%d,%d,%llu\n", i, rc, rc ? 0 : b.len,
		        info.access, info.verdict, info.loss_source, info.refusal,
		        (unsigned long long)info.loss_total);
		if (rc == 0)
			fwrite(b.p, 1, b.len, out);
		fputc('\n', out);
	}
	otlp_wbuf_free(&b);
	return fclose(out) ? -errno : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"passes", required_argument, NULL, 'p'},
	                                     {"dump", required_argument, NULL, 'd'},
	                                     {"gzip", required_argument, NULL, 'g'},
	                                     {0}};
	const char *dump_path = NULL;
	struct line *v = NULL;
	size_t n = 0, bytes = 0, zbytes = 0;
	int passes = 20, c, gzip_level = -1;
	double *ns, *zns;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			passes = atoi(optarg);
			break;
		case 'd':
			dump_path = optarg;
			break;
		case 'g':
			gzip_level = atoi(optarg);
			if (gzip_level < 0 || gzip_level > 2)
				return fprintf(stderr, "otlp_scan: --gzip: a level 0-2\n"), 2;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || passes < 1) {
		fprintf(stderr,
		        "usage: otlp_scan [--passes N] [--gzip LEVEL] [--dump FILE] LOGFILE...\n");
		return 2;
	}
	if (read_lines(argv + optind, argc - optind, &v, &n) < 0 || !n)
		return 1;
	if (dump_path)
		return dump(v, n, dump_path) < 0;
	ns = calloc((size_t)passes, sizeof(*ns));
	zns = calloc((size_t)passes, sizeof(*zns));
	if (!ns || !zns)
		return 1;
	for (int k = 0; k < passes; k++) {
		struct otlp_gzip gz = {.level = gzip_level < 0 ? 1 : (unsigned)gzip_level};
		struct otlp_wbuf b = {0};
		struct otlp_rec_info info;
		double t = 0, tz = 0;
		size_t zlen, zsum = 0;

		/* A request's worth of records per buffer, as the exporter batches them. */
		for (size_t i = 0; i < n; i += BATCH) {
			size_t end = i + BATCH < n ? i + BATCH : n;
			double t0;

			/* The exporter writes a line just after the follower read and hashed it:
			 * the batch's lines are brought into the cache first, untimed. */
			for (size_t j = i; j < end; j++)
				touch(&v[j]);
			t0 = now_ns();
			for (size_t j = i; j < end; j++) {
				if (b.len > (4u << 20))
					b.len = 0;
				if (otlp_write_log_record(&b, v[j].p, v[j].len, v[j].n, v[j].kind,
				                          "vigil/bench", 42, &info) < 0)
					return 1;
			}
			t += now_ns() - t0;
			/* A request's worth written (or the last lines): gzip it, timed apart. */
			if (gzip_level >= 0 && (end % REQ == 0 || end == n)) {
				t0 = now_ns();
				if (otlp_gzip(&gz, b.p, b.len, &zlen) < 0)
					return 1;
				tz += now_ns() - t0;
				zsum += zlen;
				b.len = 0;
			}
		}
		ns[k] = t / (double)n;
		zns[k] = tz / (double)n;
		bytes = b.len;
		zbytes = zsum;
		otlp_wbuf_free(&b);
		otlp_gzip_free(&gz);
		if (gzip_level >= 0)
			printf("pass %d: %.1f ns/record written, %.1f ns/record gzip\n", k + 1,
			       ns[k], zns[k]);
		else
			printf("pass %d: %.1f ns/record\n", k + 1, ns[k]);
	}
	qsort(ns, (size_t)passes, sizeof(*ns), cmp_double);
	qsort(zns, (size_t)passes, sizeof(*zns), cmp_double);
	printf("records %zu, best %.1f ns/record, median %.1f ns/record (last buffer %zu bytes)\n",
	       n, ns[0], ns[passes / 2], bytes);
	if (gzip_level >= 0)
		printf("gzip level %d: best %.1f ns/record, median %.1f ns/record, %.1f "
		       "bytes/record\n",
		       gzip_level, zns[0], zns[passes / 2], (double)zbytes / (double)n);
	return 0;
}
