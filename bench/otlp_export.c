/*
 * OTLP export driver for the host tests and the benchmark: writes audit records with the real
 * audit library (writer thread, group commit, rotation) while the exporter runs in its own
 * thread of the same process, as in vigild: durable limit from the writer, rotation losses
 * back into the chain as `loss` records (source otlp).
 *
 *   otlp_export [options] LOGDIR STATEDIR
 *     --otlp SPEC      exporter options (docs/OBSERVABILITY.md); without it nothing is exported
 *     --records N      event records to write (default 1000)
 *     --rate R         records per second (default 0: as fast as the queue takes them)
 *     --audit SPEC     audit writer options (rotate=..., fsync=..., tap=0: the exporter reads
 *                      every record back from the file)
 *     --wait-ms T      after writing, wait up to T ms for the exporter to catch up (default 60000)
 *     --linger-ms T    then keep running T ms (metrics, tests that kill the process)
 *
 * Prints one JSON line of figures: records, exported, requests, retries, failed batches,
 * dropped, rejected, lost, seconds to write, seconds to catch up, CPU seconds of the process.
 */
#include "audit/audit.h"
#include "exporters/otlp.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static struct audit_writer *writer;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void source_stats(void *ctx, struct otlp_source_stats *s)
{
	struct audit_stats st;

	audit_writer_stats(writer, &st);
	s->durable = st.durable;
	s->queue_drops = st.queue_drops;
	s->write_drops = st.write_drops;
}

/* --progress: "progress SECONDS HEAD CURSOR" on stderr, twice a second. */
static void report(struct otlp_exporter *x, double t0)
{
	struct otlp_stats st;
	struct audit_stats as;

	audit_writer_stats(writer, &as);
	otlp_exporter_stats(x, &st);
	fprintf(stderr, "progress %.3f %" PRIu64 " %" PRIu64 "\n", now_s() - t0, as.durable,
	        st.cursor);
}

static void lost(void *ctx, uint64_t count, uint64_t total)
{
	audit_submitf(writer, "loss",
	              "\"source\":\"otlp\",\"count\":%" PRIu64 ",\"total\":%" PRIu64, count, total);
}

static void refused(void *ctx, uint64_t first, uint64_t count, long status, uint64_t total)
{
	audit_submitf(writer, "loss",
	              "\"source\":\"otlp\",\"reason\":\"refused\",\"status\":%ld,\"first\":%" PRIu64
	              ",\"count\":%" PRIu64 ",\"total\":%" PRIu64,
	              status, first, count, total);
}

/* An event record shaped as vigild's agent_event_format writes it. */
static int submit_event(uint64_t i)
{
	static const char *const types[] = {"exec", "file", "network", "exec", "key"};
	static const char *const verdicts[] = {"deny", "allow", "audit", "deny", "deny"};
	const char *type = types[i % 5], *verdict = verdicts[(i / 5) % 5];
	struct timespec ts;
	struct tm tm;
	char when[40], extra[256], buf[1024];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (strcmp(type, "file") == 0)
		snprintf(extra, sizeof(extra), ",\"access\":\"write\"");
	else if (strcmp(type, "network") == 0)
		snprintf(extra, sizeof(extra),
		         ",\"op\":\"connect\",\"network.peer.address\":\"10.0.%u.%u\","
		         "\"network.peer.port\":%u,\"network.transport\":\"tcp\","
		         "\"network.type\":\"ipv4\"",
		         (unsigned)(i / 256 % 256), (unsigned)(i % 256),
		         (unsigned)(1000 + i % 5000));
	else if (strcmp(type, "key") == 0)
		snprintf(extra, sizeof(extra),
		         ",\"key\":\"user:secret%" PRIu64 "\",\"perm\":\"read\"", i % 7);
	else
		extra[0] = 0;
	snprintf(
	    buf, sizeof(buf),
	    "\"e\":{\"time\":\"%s.%09ldZ\",\"type\":\"%s\",\"verdict\":\"%s\",\"reason\":\"%s\","
	    "\"errno\":%d,\"pid\":%" PRIu64 ",\"tid\":%" PRIu64 ",\"ppid\":1,\"uid\":%" PRIu64
	    ",\"gid\":0,\"cgroup_id\":4242,\"comm\":\"worker\",\"path\":\"/usr/bin/t%" PRIu64
	    "\",\"dev\":\"8:1\",\"ino\":%" PRIu64 "%s,\"rule\":%s,\"policy\":\"bench\","
	    "\"policy_serial\":7,\"generation\":3}",
	    when, ts.tv_nsec, type, verdict, strcmp(verdict, "allow") == 0 ? "rule" : "default",
	    strcmp(verdict, "deny") == 0 ? -1 : 0, 1000 + i, 1000 + i, i % 3 * 1000, i % 100,
	    100000 + i, extra, strcmp(verdict, "allow") == 0 ? "\"allow-tools\"" : "null");
	return audit_submit(writer, "event", buf, strlen(buf));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"otlp", required_argument, NULL, 'o'},    {"records", required_argument, NULL, 'n'},
	    {"rate", required_argument, NULL, 'r'},    {"audit", required_argument, NULL, 'a'},
	    {"wait-ms", required_argument, NULL, 'w'}, {"linger-ms", required_argument, NULL, 'l'},
	    {"progress", no_argument, NULL, 'p'},      {0},
	};
	const char *otlp_spec = NULL, *audit_spec = NULL;
	uint64_t records = 1000, rate = 0, wait_ms = 60000, linger_ms = 0, i;
	bool progress = false;
	double next_report = 0;
	struct otlp_options oo;
	struct audit_options ao;
	struct otlp_exporter *x = NULL;
	struct otlp_stats st = {0};
	struct audit_stats as;
	char err[256], cursor[4200];
	struct vigil_error verr;
	double t0, t1, t2, c0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			otlp_spec = optarg;
			break;
		case 'n':
			records = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtoull(optarg, NULL, 10);
			break;
		case 'a':
			audit_spec = optarg;
			break;
		case 'w':
			wait_ms = strtoull(optarg, NULL, 10);
			break;
		case 'l':
			linger_ms = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			progress = true;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: otlp_export [--otlp SPEC] [--records N] [--rate R] "
		                "[--audit SPEC] [--wait-ms T] [--linger-ms T] LOGDIR STATEDIR\n");
		return 2;
	}
	audit_options_defaults(&ao);
	ao.dir = argv[optind];
	ao.state_dir = argv[optind + 1];
	ao.origin = "vigil/otlp-test";
	ao.start_members = "\"version\":\"0.1.0\"";
	ao.block_when_full = true;
	if (otlp_spec) /* as vigild: the exporter takes what the writer wrote from memory */
		ao.tap_bytes = AUDIT_TAP_DEFAULT;
	if (audit_spec && audit_options_parse(&ao, audit_spec, err, sizeof(err)) < 0)
		return fprintf(stderr, "%s\n", err), 2;
	otlp_options_defaults(&oo);
	if (otlp_spec && otlp_options_parse(&oo, otlp_spec, err, sizeof(err)) < 0)
		return fprintf(stderr, "%s\n", err), 2;
	r = audit_writer_open(&ao, &writer, &verr);
	if (r < 0)
		return fprintf(stderr, "otlp_export: %s\n", verr.msg), 1;
	if (otlp_spec) {
		oo.audit_dir = ao.dir;
		if (!oo.cursor_path) {
			snprintf(cursor, sizeof(cursor), "%s/otlp.cursor", ao.state_dir);
			oo.cursor_path = cursor;
		}
		oo.service_version = "0.1.0";
		oo.host_id = "otlp-test-host-id";
		oo.host_name = "otlp-test";
		oo.tee = "none";
		oo.source_stats = source_stats;
		oo.lost = lost;
		oo.refused = refused;
		oo.tap = audit_writer_tap(writer);
		r = otlp_exporter_start(&oo, &x);
		if (r < 0)
			return fprintf(stderr, "otlp_exporter_start: %s\n", strerror(-r)), 1;
	}
	c0 = cpu_s();
	t0 = now_s();
	for (i = 0; i < records; i++) {
		if (rate) {
			double due = t0 + (double)i / (double)rate;
			double now = now_s();

			if (due > now)
				usleep((useconds_t)((due - now) * 1e6));
		}
		if (progress && x && now_s() >= next_report) {
			report(x, t0);
			next_report = now_s() + 0.5;
		}
		if (submit_event(i) < 0)
			fprintf(stderr, "record %" PRIu64 " dropped\n", i);
	}
	audit_writer_sync(writer);
	t1 = now_s();
	/* The start record is always there: wait for the writer's first figures. */
	for (audit_writer_stats(writer, &as); !as.durable; audit_writer_stats(writer, &as))
		usleep(1000);
	if (x) {
		for (;;) {
			otlp_exporter_stats(x, &st);
			if (st.cursor >= as.durable || (now_s() - t1) * 1000 > (double)wait_ms)
				break;
			if (progress && now_s() >= next_report) {
				report(x, t0);
				next_report = now_s() + 0.5;
			}
			usleep(2000);
		}
	}
	t2 = now_s();
	if (progress && x)
		report(x, t0); /* the caught-up point itself */
	if (linger_ms)
		usleep((useconds_t)(linger_ms * 1000));
	if (x) {
		otlp_exporter_stats(x, &st);
		otlp_exporter_stop(x);
	}
	printf("{\"records\":%" PRIu64 ",\"head\":%" PRIu64 ",\"cursor\":%" PRIu64
	       ",\"exported\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"retries\":%" PRIu64
	       ",\"failed_batches\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"rejected\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"splits\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"metric_requests\":%" PRIu64 ",\"from_tap\":%" PRIu64 ",\"from_file\":%" PRIu64
	       ",\"tap_missed\":%" PRIu64
	       ",\"write_s\":%.3f,\"catchup_s\":%.3f,\"cpu_s\":%.3f,\"exporter_cpu_s\":%.3f}\n",
	       records, as.durable, st.cursor, st.exported, st.requests, st.retries,
	       st.failed_batches, st.dropped, st.rejected, st.lost, st.splits, st.bytes,
	       st.metric_requests, st.from_tap, st.from_file, st.tap_missed, t1 - t0, t2 - t1,
	       cpu_s() - c0, (double)st.cpu_ns / 1e9);
	fflush(stdout);
	audit_writer_close(writer);
	if (otlp_spec)
		otlp_options_free(&oo);
	return 0;
}
