/*
 * OTLP export driver for the host tests and the benchmark: writes audit records as vigild's
 * ring-buffer consumer does (agent_event_format into the audit queue) with the real audit
 * library (writer thread, group commit, rotation) while the exporter runs in its own thread of
 * the same process, as in vigild: durable limit from the writer, rotation losses back into the
 * chain as `loss` records (source otlp).
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
#include "agent/agent.h"
#include "audit/audit.h"
#include "exporters/otlp.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
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

/*
 * The producer is vigild's ring-buffer consumer (agent/events.c handle_event): a synthetic
 * ring-buffer event formatted by agent_event_format straight into a reserved queue slot, then
 * committed. So the pipeline's CPU measured next to the exporter's is vigild's own per record
 * (issue 13's target compares the two), and the records are the lines vigild writes. The mix:
 * exec, file (write), network (connect, IPv4), exec, key (read), each denied, allowed by a
 * rule or audited in turn, under a policy "bench" whose exec rule is "allow-tools". A pid's
 * command line is not read (the events' processes do not exist).
 */
static struct agent *fmt_ctx;
/* The "ring buffer": distinct events built once and read in turn (as bench/audit_pipeline),
 * stamped with the boot clock read once per 256 (the kernel's bpf_ktime_get_boot_ns). */
#define RING 4096
static struct vigil_event ring[RING];
static struct policy_exec_rule bench_rules[1] = {{.name = "allow-tools"}};
static struct policy bench_policy = {.name = "bench", .exec = bench_rules, .n_exec = 1};

static void synth_event(struct vigil_event *e, uint64_t i)
{
	static const uint16_t types[] = {VIGIL_EV_EXEC, VIGIL_EV_FILE, VIGIL_EV_NET, VIGIL_EV_EXEC,
	                                 VIGIL_EV_KEY};
	static const uint8_t verdicts[] = {VIGIL_DENY, VIGIL_ALLOW, VIGIL_AUDIT, VIGIL_DENY,
	                                   VIGIL_DENY};
	memset(e, 0, sizeof(*e));
	e->abi_version = VIGIL_ABI_VERSION;
	e->type = types[i % 5];
	e->verdict = verdicts[(i / 5) % 5];
	e->reason = e->verdict == VIGIL_ALLOW ? VIGIL_R_RULE : VIGIL_R_DEFAULT;
	e->err = e->verdict == VIGIL_DENY ? -1 : 0;
	e->pid = e->tid = (uint32_t)(1000 + i);
	e->ppid = 1;
	e->uid = (uint32_t)(i % 3 * 1000);
	e->cgroup_id = 4242;
	e->dev = (8ull << 20) | 1;
	e->ino = 100000 + i;
	e->policy_serial = 7;
	e->gen = 3;
	snprintf(e->comm, sizeof(e->comm), "worker");
	snprintf(e->path, sizeof(e->path), "/usr/bin/t%" PRIu64, i % 100);
	if (e->type == VIGIL_EV_FILE) {
		e->access = VIGIL_FA_WRITE;
	} else if (e->type == VIGIL_EV_NET) {
		e->access = VIGIL_NET_CONNECT;
		e->family = 4;
		e->proto = IPPROTO_TCP;
		e->port = (uint16_t)(1000 + i % 5000);
		e->addr[0] = 10;
		e->addr[2] = (uint8_t)(i / 256);
		e->addr[3] = (uint8_t)i;
	} else if (e->type == VIGIL_EV_KEY) {
		e->access = VIGIL_KEY_READ;
		snprintf(e->key_desc, sizeof(e->key_desc), "user:secret%" PRIu64, i % 7);
	}
}

static int fmt_ctx_init(void)
{
	struct timespec real, boot;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	fmt_ctx = agent_event_context_new((int64_t)(real.tv_sec - boot.tv_sec) * 1000000000 +
	                                  (real.tv_nsec - boot.tv_nsec));
	if (!fmt_ctx)
		return -ENOMEM;
	fmt_ctx->cur.policy = &bench_policy;
	fmt_ctx->cur.gen = 3;
	for (uint64_t i = 0; i < RING; i++)
		synth_event(&ring[i], i);
	return 0;
}

static int submit_event(uint64_t i)
{
	static uint64_t stamp;
	struct vigil_event *e = &ring[i % RING];
	char *slot;
	int n;

	if (i % 256 == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		stamp = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	e->ts_boot_ns = stamp + i % 256;
	if (audit_submit_reserve(writer, "event", 4 + 2048, &slot) < 0)
		return -ENOBUFS;
	memcpy(slot, "\"e\":", 4);
	n = agent_event_format(fmt_ctx, e, slot + 4, 2048);
	audit_submit_commit(writer, n < 0 ? -1 : n + 4 - 1); /* without the '\n' */
	return n < 0 ? n : 0;
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
	if (fmt_ctx_init() < 0)
		return fprintf(stderr, "otlp_export: out of memory\n"), 1;
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
