/* Unit tests for the OTLP exporter's parts: options, Retry-After, cursor, the chain follower
 * (rotation, resume, tampering, records rotated away), record mapping and encoding. */
#include "testutil.h"

#include <errno.h>
#include <time.h>

#include "exporters/otlp_int.h"

#include <jansson.h>
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

static void test_options(void **state)
{
	struct otlp_options o;
	char err[256];

	otlp_options_defaults(&o);
	assert_int_equal(
	    otlp_options_parse(&o,
	                       "endpoint=https://c:4318,protocol=json,gzip=off,"
	                       "ca=/ca.pem,cert=/c.pem,key=/k.pem,header=Authorization:"
	                       "Bearer x,header=X-Tenant:7,batch=100,batch-ms=5",
	                       err, sizeof(err)),
	    0);
	assert_string_equal(o.endpoint, "https://c:4318");
	assert_true(o.json);
	assert_false(o.gzip);
	assert_string_equal(o.ca_file, "/ca.pem");
	assert_int_equal(o.n_headers, 2);
	assert_string_equal(o.headers[0], "Authorization:Bearer x");
	assert_int_equal(o.batch_records, 100);
	assert_int_equal(o.batch_ms, 5);
	assert_int_equal(o.timeout_ms, 10000); /* default kept */
	assert_int_equal(o.backoff_max_ms, 5000);
	assert_int_equal(o.catchup_records, 1024);
	assert_int_equal(o.gzip_level, 1);
	otlp_options_free(&o);

	otlp_options_defaults(&o);
	assert_int_equal(otlp_options_parse(&o, "gzip-level=0", err, sizeof(err)), 0);
	assert_int_equal(o.gzip_level, 0);
	assert_int_equal(otlp_options_parse(&o, "gzip-level=3", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: gzip-level: bad value '3'");
	otlp_options_free(&o);

	/* catch-up requests are never smaller than the batch */
	otlp_options_defaults(&o);
	assert_int_equal(otlp_options_parse(&o, "batch=600,catchup-batch=100", err, sizeof(err)),
	                 0);
	assert_int_equal(o.catchup_records, 600);
	assert_int_equal(otlp_options_parse(&o, "catchup-batch=70000", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: catchup-batch: bad value '70000'");
	otlp_options_free(&o);

	otlp_options_defaults(&o);
	assert_int_equal(otlp_options_parse(&o, "endpoint=x://y", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: endpoint 'x://y': expected http:// or https://");
	assert_int_equal(otlp_options_parse(&o, "batch=0", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: batch: bad value '0'");
	assert_int_equal(otlp_options_parse(&o, "key=/k.pem", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: key= needs cert=");
	assert_int_equal(otlp_options_parse(&o, "header=novalue", err, sizeof(err)), -EINVAL);
	assert_int_equal(otlp_options_parse(&o, "bogus", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--otlp: 'bogus': expected NAME=VALUE");
	otlp_options_free(&o);
}

static void test_retry_after(void **state)
{
	/* 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT */
	assert_int_equal(otlp_parse_retry_after(" 3", 0), 3000);
	assert_int_equal(otlp_parse_retry_after("0", 0), 0);
	assert_int_equal(otlp_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470),
	                 10000);
	assert_int_equal(otlp_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
	assert_int_equal(otlp_parse_retry_after("999999", 0), 3600000); /* capped at an hour */
	assert_int_equal(otlp_parse_retry_after("", 0), -1);
	assert_int_equal(otlp_parse_retry_after("soon", 0), -1);
}

static void test_cursor(void **state)
{
	char *d = tu_mkdtemp(), path[512];
	uint8_t h[32], got[32];
	uint64_t n = 0;

	snprintf(path, sizeof(path), "%s/cursor", d);
	assert_int_equal(otlp_cursor_read(path, &n, got), -ENOENT);
	memset(h, 0xab, sizeof(h));
	assert_int_equal(otlp_cursor_write(path, 77, h), 0);
	assert_int_equal(otlp_cursor_read(path, &n, got), 0);
	assert_int_equal(n, 77);
	assert_memory_equal(h, got, 32);
	free(tu_write(d, "cursor", "77 zz\n", 6));
	assert_int_equal(otlp_cursor_read(path, &n, got), -EBADMSG);
	tu_rmdir(d);
}

/* A log of n event records (plus the start record) in d/log, rotated every 64 KiB. */
static void write_log(const char *d, unsigned int n)
{
	struct audit_options o;
	struct audit_writer *w;
	char dir[512], st[512], err[128];

	snprintf(dir, sizeof(dir), "%s/log", d);
	snprintf(st, sizeof(st), "%s/state", d);
	audit_options_defaults(&o);
	o.dir = dir;
	o.state_dir = st;
	o.origin = "vigil/unit";
	o.block_when_full = true;
	assert_int_equal(audit_options_parse(&o, "rotate=64K", err, sizeof(err)), 0);
	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(audit_submitf(w, "event",
		                               "\"e\":{\"time\":\"2026-01-02T03:04:05.000000123Z\","
		                               "\"type\":\"exec\",\"verdict\":\"%s\",\"pid\":%u,"
		                               "\"uid\":0,\"path\":\"/bin/x%0200u\",\"rule\":null}",
		                               i % 2 ? "deny" : "allow", i, i),
		                 0);
	assert_int_equal(audit_writer_close(w), 0);
}

static void test_follow(void **state)
{
	char *d = tu_mkdtemp(), dir[512], path[600];
	struct otlp_follower f;
	struct audit_record_view v;
	uint8_t zero[32] = {0}, h500[32];
	uint64_t lost, n = 0;
	int r;

	write_log(d, 1000); /* start + 1000 events + checkpoints..., many files */
	snprintf(dir, sizeof(dir), "%s/log", d);
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	assert_int_equal(lost, 0);
	while ((r = otlp_follow_next(&f, UINT64_MAX, &v)) == 1) {
		assert_int_equal(v.n, ++n);
		if (n == 500)
			memcpy(h500, f.chain.h, 32);
	}
	assert_int_equal(r, 0);
	assert_true(n >= 1001);
	assert_true(f.file_seq > 3); /* crossed rotations */
	otlp_follow_close(&f);

	/* Resume after record 500; the durable limit holds records back. */
	assert_int_equal(otlp_follow_open(&f, dir, 500, h500, &lost), 0);
	assert_int_equal(otlp_follow_next(&f, 501, &v), 1);
	assert_int_equal(v.n, 501);
	assert_int_equal(otlp_follow_next(&f, 501, &v), 0);
	otlp_follow_close(&f);

	/* A cursor whose hash the log does not have. */
	h500[0] ^= 1;
	assert_int_equal(otlp_follow_open(&f, dir, 500, h500, &lost), -EILSEQ);
	otlp_follow_close(&f);

	/* The first two files rotated away: counted, then the chain seeds from the file record. */
	snprintf(path, sizeof(path), "%s/audit.000001.jsonl", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/audit.000002.jsonl", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	assert_true(lost > 100);
	assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 1);
	assert_int_equal(v.n, lost + 1);
	assert_string_equal(v.kind, "file");
	otlp_follow_close(&f);

	/* A tampered record: the follower stops there with -EILSEQ. */
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd),
		         "sed -i '5s/\\/bin\\/x/\\/bin\\/y/' %s/audit.000003.jsonl", dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	while ((r = otlp_follow_next(&f, UINT64_MAX, &v)) == 1)
		;
	assert_int_equal(r, -EILSEQ);
	assert_contains(f.msg, "hash mismatch");
	otlp_follow_close(&f);
	tu_rmdir(d);
}

/* A writer on d/NAME with audit options spec (the tap's size among them). */
static struct audit_writer *tap_writer(const char *d, const char *name, const char *spec)
{
	static char dir[2][512], st[2][512];
	static int which;
	struct audit_options o;
	struct audit_writer *w;
	char err[128];

	which ^= 1;
	snprintf(dir[which], sizeof(dir[which]), "%s/%s", d, name);
	snprintf(st[which], sizeof(st[which]), "%s/%s.state", d, name);
	audit_options_defaults(&o);
	o.dir = dir[which];
	o.state_dir = st[which];
	o.origin = "vigil/unit";
	o.block_when_full = true;
	assert_int_equal(audit_options_parse(&o, spec, err, sizeof(err)), 0);
	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	assert_non_null(audit_writer_tap(w));
	return w;
}

static void tap_events(struct audit_writer *w, unsigned int count, unsigned int *k)
{
	for (unsigned int i = 0; i < count; i++, (*k)++)
		assert_int_equal(audit_submitf(w, "event",
		                               "\"e\":{\"type\":\"exec\",\"verdict\":\"deny\","
		                               "\"pid\":%u,\"path\":\"/bin/x%0200u\"}",
		                               *k, *k),
		                 0);
	assert_int_equal(audit_writer_sync(w), 0);
}

/*
 * The follower with the writer's tap of spec's size, rounds of 20 records read at once and
 * every fourth round 400 before the reader looks: records from memory and, where the tap left
 * them out, from the file, across rotations; either way the same lines and the same h(n) as a
 * follower that reads everything from the file. Returns the records taken each way.
 */
static void follow_tap(const char *spec, unsigned int rounds, uint64_t *from_tap,
                       uint64_t *from_file)
{
	char *d = tu_mkdtemp(), dir[512];
	struct audit_writer *w = tap_writer(d, "log", spec);
	struct audit_stats as;
	struct otlp_follower f, ref;
	struct audit_record_view v, rv;
	uint8_t zero[32] = {0};
	uint64_t lost, n = 0, before;
	unsigned int round, k = 0;
	int r;

	snprintf(dir, sizeof(dir), "%s/log", d);
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	f.tap = audit_writer_tap(w);
	assert_int_equal(otlp_follow_open(&ref, dir, 0, zero, &lost), 0);
	for (round = 0; round < rounds; round++) {
		tap_events(w, round % 4 == 3 ? 400 : 20, &k);
		audit_writer_stats(w, &as);
		while ((r = otlp_follow_next(&f, as.durable, &v)) == 1) {
			assert_int_equal(v.n, ++n);
			assert_int_equal(otlp_follow_next(&ref, as.durable, &rv), 1);
			assert_int_equal(rv.n, v.n);
			assert_int_equal(rv.len, v.len);
			assert_memory_equal(rv.line, v.line, v.len);
			assert_string_equal(rv.kind, v.kind);
			assert_memory_equal(ref.chain.h, f.chain.h, 32);
		}
		assert_int_equal(r, 0);
		assert_int_equal(n, as.durable);
	}
	assert_int_equal(f.from_tap + f.from_file, n);
	assert_true(f.file_seq > 3); /* crossed rotations */
	*from_tap = f.from_tap;
	*from_file = f.from_file;
	/* Held back until durable: the limit stops the tap too. */
	before = f.from_tap;
	tap_events(w, 1, &k);
	assert_int_equal(otlp_follow_next(&f, n, &v), 0);
	assert_int_equal(otlp_follow_next(&f, n + 1, &v), 1);
	assert_int_equal(v.n, n + 1);
	assert_int_equal(f.from_tap, before + 1);
	otlp_follow_close(&f);
	otlp_follow_close(&ref);
	assert_int_equal(audit_writer_close(w), 0);
	tu_rmdir(d);
}

static void test_follow_tap(void **state)
{
	uint64_t tap, file;

	(void)state;
	/* 64 KiB: less than a batch's reservation, so each batch is copied in; the 400-record
	 * rounds do not fit and come from the file. */
	follow_tap("rotate=64K,tap=64K", 12, &tap, &file);
	assert_true(tap > 100);
	assert_true(file > 400);
	/* 2 MiB: batches encoded in place, the ring wrapped many times; all from memory. */
	follow_tap("rotate=64K,tap=2M", 80, &tap, &file);
	assert_true(tap > 8000);
	assert_int_equal(file, 0);
}

/*
 * A tap whose records do not follow what the follower read from the file (here another log's
 * writer; in general a file changed after it was written): the first record taken from the tap
 * after the file is checked against the chain, and the follower stops there.
 */
static void test_follow_tap_fork(void **state)
{
	char *d = tu_mkdtemp(), dir[512];
	struct audit_writer *a = tap_writer(d, "a", "tap=64K"), *b = tap_writer(d, "b", "tap=64K");
	struct otlp_follower f;
	struct audit_record_view v;
	uint8_t zero[32] = {0};
	uint64_t lost;
	unsigned int k = 0, i;

	(void)state;
	tap_events(a, 10, &k);
	tap_events(b, 10, &k);
	snprintf(dir, sizeof(dir), "%s/a", d);
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	for (i = 0; i < 5; i++) /* from a's file */
		assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 1);
	f.tap = audit_writer_tap(b);
	assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), -EILSEQ);
	assert_contains(f.msg, "hash mismatch");
	assert_int_equal(f.chain.n, 5);
	otlp_follow_close(&f);
	/* The tap of a's own writer goes on from the file's record 5. */
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 1);
	f.tap = audit_writer_tap(a);
	assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 1);
	assert_int_equal(v.n, 6);
	assert_int_equal(f.from_tap, 1);
	otlp_follow_close(&f);
	assert_int_equal(audit_writer_close(a), 0);
	assert_int_equal(audit_writer_close(b), 0);
	tu_rmdir(d);
}

/* A record written in two pieces: the follower waits for the whole line, then checks it. */
static void test_follow_partial(void **state)
{
	char *d = tu_mkdtemp(), dir[512], path[600], *text;
	struct otlp_follower f;
	struct audit_record_view v;
	uint8_t zero[32] = {0};
	uint64_t lost, n = 0, last = 0;
	size_t len, cut;
	FILE *fp;
	int r;

	write_log(d, 20); /* one file */
	snprintf(dir, sizeof(dir), "%s/log", d);
	snprintf(path, sizeof(path), "%s/audit.000001.jsonl", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	text = malloc(1 << 20);
	len = fread(text, 1, 1 << 20, fp);
	fclose(fp);
	cut = (size_t)((char *)memrchr(text, '\n', len - 1) - text) + 1; /* the last line starts */
	assert_int_equal(truncate(path, (off_t)(cut + 30)), 0);
	assert_int_equal(otlp_follow_open(&f, dir, 0, zero, &lost), 0);
	while ((r = otlp_follow_next(&f, UINT64_MAX, &v)) == 1)
		last = v.n, n++;
	assert_int_equal(r, 0); /* a partial line is not an error: not yet written */
	fp = fopen(path, "a");
	assert_non_null(fp);
	assert_int_equal(fwrite(text + cut + 30, 1, len - cut - 30, fp), len - cut - 30);
	fclose(fp);
	assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 1);
	assert_int_equal(v.n, last + 1);
	assert_int_equal(otlp_follow_next(&f, UINT64_MAX, &v), 0);
	otlp_follow_close(&f);
	free(text);
	tu_rmdir(d);
}

static const char *attr(Opentelemetry__Proto__Logs__V1__LogRecord *lr, const char *key)
{
	for (size_t i = 0; i < lr->n_attributes; i++)
		if (strcmp(lr->attributes[i]->key, key) == 0)
			return lr->attributes[i]->value->value_case ==
			               OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
			           ? lr->attributes[i]->value->string_value
			           : "(int)";
	return NULL;
}

/* The exporter writes log records itself: its bytes must be protobuf-c's for the same message. */
static void
assert_repacks(const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req,
               const uint8_t *buf, size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(&req->base);
	uint8_t *again = malloc(n);

	assert_non_null(again);
	assert_int_equal(n, len);
	assert_int_equal(protobuf_c_message_pack(&req->base, again), n);
	assert_memory_equal(again, buf, len);
	free(again);
}

/* Records of the three kinds of shape: a start record, an event with every kind of member value
 * and escapes, a loss record. */
static const char *const shape_lines[] = {
    "{\"n\":1,\"k\":\"start\",\"time\":\"2026-01-02T03:04:05Z\",\"version\":\"0.1.0\","
    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000aa\"}\n",
    "{\"n\":2,\"k\":\"event\",\"e\":{\"time\":\"2026-01-02T03:04:06.123456789Z\","
    "\"type\":\"exec\",\"verdict\":\"deny\",\"errno\":-1,\"pid\":300000,\"uid\":0,"
    "\"path\":\"/tmp/a \\\"b\\u00e9\\n\",\"ok\":true,\"no\":false,\"r\":1.5,"
    "\"big\":123456789012345678901234,\"rule\":null,\"x\":{\"a\":[1,2]},"
    "\"cmdline\":\"/tmp/a \\u00e9 -v\"},"
    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000bb\"}\n",
    "{\"n\":3,\"k\":\"loss\",\"time\":\"2026-01-02T03:04:07Z\",\"source\":\"otlp\","
    "\"count\":4,\"total\":9,"
    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000cc\"}\n",
};

/* lines[0, n) parsed as the JSON path reads them, kind from each line's "k", observed at 1000 + i.
 */
static void parse_lines(const char *const *lines, size_t n, struct otlp_rec *r)
{
	for (size_t i = 0; i < n; i++) {
		struct audit_record_view v = {.n = i + 1, .line = lines[i]};
		const char *k = strstr(lines[i], "\"k\":\"");
		size_t kl = k ? strcspn(k + 5, "\"") : 0;

		v.len = strlen(lines[i]);
		snprintf(v.kind, sizeof(v.kind), "%.*s", (int)kl, k ? k + 5 : "");
		assert_int_equal(otlp_rec_parse(&v, 1000 + i, &r[i]), 0);
	}
}

/* Records of every shape in one request: they decode, and re-encode to the same bytes. */
static void test_encode_shapes(void **state)
{
	struct otlp_resource res = {"0.1.0", "hid", "hn", "none", NULL};
	struct otlp_rec r[3];
	uint8_t *buf;
	size_t len;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
	Opentelemetry__Proto__Logs__V1__LogRecord *lr;

	parse_lines(shape_lines, 3, r);
	assert_int_equal(otlp_encode_logs(&res, r, 3, false, &buf, &len), 0);
	req = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
	    NULL, len, buf);
	assert_non_null(req);
	assert_int_equal(req->resource_logs[0]->scope_logs[0]->n_log_records, 3);
	lr = req->resource_logs[0]->scope_logs[0]->log_records[1];
	assert_string_equal(lr->event_name, "vigil.exec.denied");
	assert_string_equal(attr(lr, "process.executable.path"), "/tmp/a \"b\xc3\xa9\n");
	assert_string_equal(attr(lr, "process.pid"), "(int)");
	assert_string_equal(attr(lr, "vigil.x"), "{\"a\":[1,2]}");
	assert_string_equal(attr(lr, "vigil.big"), "123456789012345678901234");
	assert_string_equal(attr(lr, "process.command_line"), "/tmp/a \xc3\xa9 -v");
	lr = req->resource_logs[0]->scope_logs[0]->log_records[2];
	assert_string_equal(lr->event_name, "vigil.log.loss");
	assert_string_equal(attr(lr, "vigil.loss.source"), "otlp");
	assert_repacks(req, buf, len);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(req,
	                                                                                      NULL);
	free(buf);
	for (int i = 0; i < 3; i++)
		otlp_rec_free(&r[i]);
}

/* A record over 16 KiB (its length takes 3 bytes), one under 128 bytes (1 byte), and one with
 * more attributes than a record carries (the rest counted as dropped), in one request:
 * protobuf-c's bytes, written by the exporter's one-pass writer into one buffer. */
static void test_encode_sizes(void **state)
{
	struct otlp_resource res = {"0.1.0", "hid", "hn", "none", NULL};
	static char big[AUDIT_RECORD_MAX], many[4096];
	const char *tail =
	    ",\"h\":\"00000000000000000000000000000000000000000000000000000000000000dd\"}\n";
	char small[160];
	const char *lines[3] = {big, small, many};
	struct otlp_rec r[3];
	uint8_t *buf;
	size_t len, n;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
	Opentelemetry__Proto__Logs__V1__LogRecord **lr;

	n = (size_t)snprintf(big, sizeof(big),
	                     "{\"n\":1,\"k\":\"event\",\"e\":{\"type\":\"exec\",\"verdict\":"
	                     "\"deny\",\"cmdline\":\"");
	memset(big + n, 'x', 12000);
	snprintf(big + n + 12000, sizeof(big) - n - 12000, "\"}%s", tail);
	snprintf(small, sizeof(small), "{\"n\":2,\"k\":\"gap\"%s", tail);
	n = (size_t)snprintf(many, sizeof(many),
	                     "{\"n\":3,\"k\":\"event\",\"e\":{\"type\":\"file\"");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, ",\"m%d\":%d", i, i);
	snprintf(many + n, sizeof(many) - n, "}%s", tail);
	for (int i = 0; i < 3; i++) {
		struct audit_record_view v = {.n = (uint64_t)i + 1, .line = lines[i]};

		v.len = strlen(lines[i]);
		strcpy(v.kind, i == 1 ? "gap" : "event");
		assert_int_equal(otlp_rec_parse(&v, 7, &r[i]), 0);
	}
	assert_int_equal(otlp_encode_logs(&res, r, 3, false, &buf, &len), 0);
	req = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
	    NULL, len, buf);
	assert_non_null(req);
	assert_int_equal(req->resource_logs[0]->scope_logs[0]->n_log_records, 3);
	lr = req->resource_logs[0]->scope_logs[0]->log_records;
	assert_int_equal(strlen(attr(lr[0], "process.command_line")), 12000);
	assert_string_equal(lr[1]->event_name, "vigil.log.gap");
	/* 48 attributes: 3 vigil.audit.* and 45 of the 64 members read (OTLP_MEMBERS_MAX: type
	 * and m0-m62); the other 19 counted as dropped */
	assert_int_equal(lr[2]->n_attributes, 48);
	assert_int_equal(lr[2]->dropped_attributes_count, 3 + 64 - 48);
	assert_repacks(req, buf, len);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(req,
	                                                                                      NULL);
	free(buf);
	for (int i = 0; i < 3; i++)
		otlp_rec_free(&r[i]);
}

/* The record's time: the writer's fixed shape, no fraction, and shorter strings (read by strptime,
 * never past their end) give the epoch nanoseconds or 0. */
static void test_encode_time(void **state)
{
	static const struct {
		const char *time;
		uint64_t ns;
	} cases[] = {
	    {"2026-01-02T03:04:05.5Z", 1767323045500000000ull},
	    {"2026-01-02T03:04:05Z", 1767323045000000000ull},
	    {"2024-02-29T23:59:59.123456789Z", 1709251199123456789ull},
	    {"1970-01-01T00:00:00Z", 0},
	    {"2026-01-02", 0},
	    {"2026", 0},
	    {"", 0},
	};
	struct otlp_resource res = {"0.1.0", "hid", "hn", "tdx", "vigil/u"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[256];
		struct audit_record_view v = {.n = 3, .line = line};
		struct otlp_rec r;
		uint8_t *buf;
		size_t len;
		Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;

		v.len =
		    (size_t)snprintf(line, sizeof(line),
		                     "{\"n\":3,\"k\":\"event\",\"e\":{\"time\":\"%s\","
		                     "\"type\":\"file\",\"verdict\":\"deny\"},\"h\":\"%064d\"}\n",
		                     cases[i].time, 0);
		strcpy(v.kind, "event");
		assert_int_equal(otlp_rec_parse(&v, 42, &r), 0);
		assert_int_equal(otlp_encode_logs(&res, &r, 1, false, &buf, &len), 0);
		req =
		    opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
		        NULL, len, buf);
		assert_non_null(req);
		assert_int_equal(
		    req->resource_logs[0]->scope_logs[0]->log_records[0]->time_unix_nano,
		    cases[i].ns);
		opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
		    req, NULL);
		free(buf);
		otlp_rec_free(&r);
	}
}

/* line[0, len) written by the one-pass writer from an exact-size copy (ASan: nothing read past
 * it), unpacked; its bytes are protobuf-c's. */
static Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *
write_one(const char *text, size_t len, const char *kind)
{
	static const struct otlp_resource res = {"0.1.0", "hid", "hn", "none", "vigil/u"};
	size_t room = otlp_logs_head_room(&res), out_len;
	struct otlp_wbuf b = {malloc(room), room, room};
	char *line = malloc(len);
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
	uint8_t *out;

	assert_non_null(b.p);
	assert_non_null(line);
	memcpy(line, text, len);
	assert_int_equal(otlp_write_log_record(&b, line, len, 9, kind, res.origin, 42, NULL), 0);
	assert_int_equal(otlp_logs_request(&res, b.p + room, b.len - room, room, &out, &out_len),
	                 0);
	req = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
	    NULL, out_len, out);
	assert_non_null(req);
	assert_repacks(req, out, out_len);
	otlp_wbuf_free(&b);
	free(line);
	return req;
}

/* Strings, escapes and numbers at every offset of the scanner's 64-byte words, and members up
 * to the line's end (the writer's copies of a block where 32 bytes may be read, byte-wise
 * nearer the end): each attribute holds the member whole. */
static void test_encode_offsets(void **state)
{
	char pad[160], text[1024], want[256];

	memset(pad, 'p', sizeof(pad));
	for (int n = 0; n < 140; n++) {
		Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
		Opentelemetry__Proto__Logs__V1__LogRecord *lr;
		size_t len;

		len = (size_t)snprintf(
		    text, sizeof(text),
		    "{\"n\":9,\"k\":\"event\",\"e\":{\"type\":\"file\",\"verdict\":"
		    "\"deny\",\"path\":\"/%.*s\",\"x\":\"%.*s\\\"y\",\"pid\":%d,"
		    "\"network.z%.*s\":-%d},\"h\":\"%064d\"}",
		    n, pad, n % 70, pad, 1000 + n, n % 9, pad, n * 7919, 0);
		req = write_one(text, len, "event");
		lr = req->resource_logs[0]->scope_logs[0]->log_records[0];
		snprintf(want, sizeof(want), "/%.*s", n, pad);
		assert_string_equal(attr(lr, "file.path"), want);
		snprintf(want, sizeof(want), "%.*s\"y", n % 70, pad);
		assert_string_equal(attr(lr, "vigil.x"), want);
		assert_string_equal(attr(lr, "process.pid"), "(int)");
		snprintf(want, sizeof(want), "network.z%.*s", n % 9, pad);
		assert_non_null(attr(lr, want));
		opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
		    req, NULL);

		/* A record's last member in its last bytes (no hash after it). */
		len =
		    (size_t)snprintf(text, sizeof(text),
		                     "{\"n\":9,\"k\":\"gap\",\"pad\":\"%.*s\",\"a%.*s\":\"%.*s\"}",
		                     72, pad, n % 40, pad, n, pad);
		req = write_one(text, len, "gap");
		lr = req->resource_logs[0]->scope_logs[0]->log_records[0];
		snprintf(want, sizeof(want), "vigil.gap.a%.*s", n % 40, pad);
		assert_non_null(attr(lr, want));
		assert_int_equal(strlen(attr(lr, want)), n);
		opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
		    req, NULL);
	}
}

static void test_encode(void **state)
{
	static const char line[] =
	    "{\"n\":7,\"k\":\"event\",\"e\":{\"time\":\"2026-01-02T03:04:05.5Z\",\"type\":\"file\","
	    "\"verdict\":\"audit\",\"pid\":12,\"uid\":1000,\"path\":\"/etc/shadow\",\"rule\":null,"
	    "\"socket.domain\":2},\"h\":\"00000000000000000000000000000000000000000000000000000000"
	    "0000abcd\"}\n";
	struct audit_record_view v = {.n = 7, .line = line, .len = sizeof(line) - 1};
	struct otlp_resource res = {"0.1.0", "hid", "hn", "tdx", "vigil/u"};
	struct otlp_rec r;
	uint8_t *buf;
	size_t len;
	char name[64];
	const char *text;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
	Opentelemetry__Proto__Logs__V1__LogRecord *lr;

	strcpy(v.kind, "event");
	assert_int_equal(otlp_rec_parse(&v, 42, &r), 0);
	otlp_rec_event_name(&r, name, sizeof(name));
	assert_string_equal(name, "vigil.file.audited");
	assert_int_equal(otlp_rec_severity(&r, &text), 10);
	assert_string_equal(text, "INFO2");
	assert_int_equal(otlp_encode_logs(&res, &r, 1, false, &buf, &len), 0);
	req = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
	    NULL, len, buf);
	assert_non_null(req);
	lr = req->resource_logs[0]->scope_logs[0]->log_records[0];
	assert_string_equal(lr->event_name, "vigil.file.audited");
	assert_int_equal(lr->time_unix_nano, 1767323045500000000ull);
	assert_int_equal(lr->observed_time_unix_nano, 42);
	assert_string_equal(attr(lr, "file.path"), "/etc/shadow");
	assert_string_equal(attr(lr, "user.id"), "1000");
	assert_string_equal(attr(lr, "vigil.audit.hash"),
	                    "000000000000000000000000000000000000000000000000000000000000abcd");
	assert_string_equal(attr(lr, "vigil.socket.domain"), "(int)");
	assert_null(attr(lr, "vigil.rule.name")); /* null: absent */
	assert_null(attr(lr, "process.executable.path"));
	assert_repacks(req, buf, len);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(req,
	                                                                                      NULL);
	free(buf);
	/* The JSON mapping: lowerCamelCase, 64-bit integers as strings. */
	assert_int_equal(otlp_encode_logs(&res, &r, 1, true, &buf, &len), 0);
	assert_contains((char *)buf, "\"timeUnixNano\":\"1767323045500000000\"");
	assert_contains((char *)buf, "\"eventName\":\"vigil.file.audited\"");
	assert_contains((char *)buf, "\"key\":\"vigil.audit.seq\",\"value\":{\"intValue\":\"7\"}");
	free(buf);
	otlp_rec_free(&r);
}

/* otlp_logs_json of the protobuf request against the reference, jansson from the parsed
 * records (otlp_encode_logs with json): the same JSON value. */
static void assert_json_same(const char *const *lines, size_t n)
{
	struct otlp_resource res = {"0.1.0", "hid", "hn", "snp", "vigil/u"};
	struct otlp_rec r[8];
	struct otlp_wbuf out = {0};
	uint8_t *pb, *ref;
	size_t pb_len, ref_len;
	json_t *a, *b;

	assert_true(n <= 8);
	parse_lines(lines, n, r);
	assert_int_equal(otlp_encode_logs(&res, r, n, false, &pb, &pb_len), 0);
	assert_int_equal(otlp_encode_logs(&res, r, n, true, &ref, &ref_len), 0);
	out.len = 0;
	assert_int_equal(otlp_logs_json(pb, pb_len, &out), 0);
	a = json_loadb((const char *)out.p, out.len, 0, NULL);
	b = json_loadb((const char *)ref, ref_len, 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	if (!json_equal(a, b))
		fail_msg("otlp_logs_json:\n%.*s\nreference:\n%.*s", (int)out.len, out.p,
		         (int)ref_len, ref);
	json_decref(a);
	json_decref(b);
	otlp_wbuf_free(&out);
	free(pb);
	free(ref);
	for (size_t i = 0; i < n; i++)
		otlp_rec_free(&r[i]);
}

/* The JSON option: the protobuf request re-expressed (exporters/otlp_json.c). */
static void test_logs_json(void **state)
{
	static const char *const lines[] = {
	    "{\"n\":2,\"k\":\"event\",\"e\":{\"time\":\"2026-01-02T03:04:06.123456789Z\","
	    "\"type\":\"exec\",\"verdict\":\"deny\",\"errno\":-1,\"pid\":300000,\"uid\":0,"
	    "\"path\":\"/tmp/a \\\"b\\u00e9\\n\\u0001\\t/\",\"ok\":true,\"no\":false,\"r\":1.5,"
	    "\"neg\":-9223372036854775808,\"big\":123456789012345678901234,\"rule\":null,"
	    "\"x\":{\"a\":[1,2]},\"cmdline\":\"/tmp/a \\u00e9 \\ud83d\\ude00 -v\"},"
	    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000bb\"}\n",
	    "{\"n\":4,\"k\":\"event\",\"e\":{\"time\":\"2026-11-29T10:00:37.281653427Z\","
	    "\"type\":\"network\",\"verdict\":\"audit\",\"reason\":\"default\",\"errno\":0,"
	    "\"pid\":1002,\"tid\":1002,\"ppid\":1,\"uid\":2000,\"gid\":0,\"cgroup_id\":4242,"
	    "\"comm\":\"worker\",\"path\":\"/usr/bin/t2\",\"dev\":\"8:1\",\"ino\":100002,"
	    "\"op\":\"connect\",\"network.peer.address\":\"10.0.0.2\",\"network.peer.port\":1002,"
	    "\"network.transport\":\"tcp\",\"network.type\":\"ipv4\",\"rule\":\"web\","
	    "\"policy\":\"bench\",\"policy_serial\":7,\"generation\":3},"
	    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000dd\"}\n",
	    "{\"n\":5,\"k\":\"policy\",\"e\":{\"time\":\"2026-11-29T10:00:38Z\",\"type\":"
	    "\"policy_loaded\",\"policy\":\"p\",\"serial\":2,\"digest\":\"ab\"},"
	    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000ee\"}\n",
	    "{\"n\":6,\"k\":\"gap\","
	    "\"h\":\"00000000000000000000000000000000000000000000000000000000000000ff\"}\n",
	};
	/* By hand: every kind of value the mapping knows, and what it escapes. */
	Opentelemetry__Proto__Common__V1__AnyValue
	    body = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
	    dv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
	    iv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
	    bv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
	    ev = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	Opentelemetry__Proto__Common__V1__KeyValue kv[4] = {
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT,
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT,
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT,
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT};
	Opentelemetry__Proto__Common__V1__KeyValue *kvp[4] = {&kv[0], &kv[1], &kv[2], &kv[3]};
	Opentelemetry__Proto__Logs__V1__LogRecord
	    lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT,
	    *lrp = &lr;
	Opentelemetry__Proto__Logs__V1__ScopeLogs
	    sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT,
	    *slp = &sl;
	Opentelemetry__Proto__Logs__V1__ResourceLogs
	    rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT,
	    *rlp = &rl;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
	    OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
	static uint8_t span[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	const char *want =
	    "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":"
	    "\"18446744073709551615\",\"severityNumber\":13,\"severityText\":\"WARN\",\"body\":"
	    "{\"stringValue\":\"a\\\"b\\\\c\\u0001\\n/\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80\"},\"attributes\":[{\"key\":"
	    "\"d\",\"value\":{"
	    "\"doubleValue\":1.5}},{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},{\"key\":\"b\","
	    "\"value\":{\"boolValue\":false}},{\"key\":\"e\",\"value\":{\"stringValue\":\"\"}}],"
	    "\"droppedAttributesCount\":3,\"flags\":1,\"spanId\":\"0123456789abcdef\"}]}]}]}";
	struct otlp_wbuf out = {0};
	uint8_t buf[1024];
	size_t len;

	/* Every shape of record the exporter writes, alone and as a batch: those of
	 * test_encode_shapes, an event with control characters, INT64_MIN and a surrogate pair, a
	 * network event, a policy record, a gap record. */
	for (size_t i = 0; i < 3; i++)
		assert_json_same(&shape_lines[i], 1);
	assert_json_same(shape_lines, 3);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_json_same(&lines[i], 1);
	assert_json_same(lines, sizeof(lines) / sizeof(lines[0]));

	/* "\xed\xa0" starts a surrogate (invalid in UTF-8), "\xff" is never valid, "\xc0\xaf" is
	 * an overlong '/': U+FFFD for each of their bytes. */
	body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	body.string_value = "a\"b\\c\x01\n/\xc3\xa9\xed\xa0\xff\xc0\xaf\xf0\x9f\x98\x80";
	dv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	dv.double_value = 1.5;
	iv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	iv.int_value = -5;
	bv.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	bv.bool_value = 0; /* in a oneof: written, and so shown, at its default */
	ev.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	ev.string_value = "";
	kv[0].key = "d";
	kv[0].value = &dv;
	kv[1].key = "i";
	kv[1].value = &iv;
	kv[2].key = "b";
	kv[2].value = &bv;
	kv[3].key = "e";
	kv[3].value = &ev;
	lr.time_unix_nano = UINT64_MAX;
	lr.severity_number = 13;
	lr.severity_text = "WARN";
	lr.body = &body;
	lr.n_attributes = 4;
	lr.attributes = kvp;
	lr.dropped_attributes_count = 3;
	lr.flags = 1;
	lr.span_id.len = sizeof(span);
	lr.span_id.data = span;
	sl.n_log_records = 1;
	sl.log_records = &lrp;
	rl.n_scope_logs = 1;
	rl.scope_logs = &slp;
	req.n_resource_logs = 1;
	req.resource_logs = &rlp;
	assert_true(protobuf_c_message_get_packed_size(&req.base) < sizeof(buf) - 8);
	len = protobuf_c_message_pack(&req.base, buf);
	assert_int_equal(otlp_logs_json(buf, len, &out), 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.p, want, out.len);

	/* Appended to what out holds; an unknown field (number 99, varint) is skipped. */
	buf[len] = 0x98; /* (99 << 3) | 0, a two-byte varint */
	buf[len + 1] = 0x06;
	buf[len + 2] = 5;
	assert_int_equal(otlp_logs_json(buf, len + 3, &out), 0);
	assert_int_equal(out.len, 2 * strlen(want));
	assert_memory_equal(out.p + strlen(want), want, strlen(want));
	/* Truncated anywhere, a field before one with a lower number, or a single field twice:
	 * -EPROTO, out as it was. */
	for (size_t cut = 1; cut < len; cut++) {
		assert_int_equal(otlp_logs_json(buf, cut, &out), -EPROTO);
		assert_int_equal(out.len, 2 * strlen(want));
	}
	{
		/* resource_logs { scope_logs {} resource {} }, then { resource {} resource {} } */
		static const uint8_t order[] = {0x0a, 0x04, 0x12, 0x00, 0x0a, 0x00};
		static const uint8_t twice[] = {0x0a, 0x04, 0x0a, 0x00, 0x0a, 0x00};
		static const uint8_t fine[] = {0x0a, 0x04, 0x0a, 0x00, 0x12, 0x00};

		assert_int_equal(otlp_logs_json(order, sizeof(order), &out), -EPROTO);
		assert_int_equal(otlp_logs_json(twice, sizeof(twice), &out), -EPROTO);
		assert_int_equal(out.len, 2 * strlen(want));
		assert_int_equal(otlp_logs_json(fine, sizeof(fine), &out), 0);
		assert_int_equal(
		    out.len - 2 * strlen(want),
		    strlen("{\"resourceLogs\":[{\"resource\":{},\"scopeLogs\":[{}]}]}"));
		assert_memory_equal(out.p + 2 * strlen(want),
		                    "{\"resourceLogs\":[{\"resource\":{},\"scopeLogs\":[{}]}]}",
		                    out.len - 2 * strlen(want));
	}
	otlp_wbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_options),         cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_cursor),          cmocka_unit_test(test_follow),
	    cmocka_unit_test(test_follow_partial),  cmocka_unit_test(test_follow_tap),
	    cmocka_unit_test(test_follow_tap_fork), cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_encode_shapes),   cmocka_unit_test(test_encode_time),
	    cmocka_unit_test(test_encode_sizes),    cmocka_unit_test(test_encode_offsets),
	    cmocka_unit_test(test_logs_json),
	};

	return cmocka_run_group_tests_name("otlp", tests, NULL, NULL);
}
