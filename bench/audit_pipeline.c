/* Host audit pipeline benchmark: synthetic ring-buffer events -> JSON -> chain -> durable file. */
#include "agent/events.h"
#include "bpf/vigil_abi.h"
#include "audit/audit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Weak: agent/log.h's flag, defined by vigild or by the library where it has one. */
__attribute__((weak)) int vigil_log_verbose;

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* User plus system CPU seconds of every thread of this process; *sys gets the system part. */
static double cpu_s(double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*sys = tv_s(ru.ru_stime);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static void synth_event(struct vigil_event *e, uint64_t i)
{
	memset(e, 0, sizeof(*e));
	e->abi_version = VIGIL_ABI_VERSION;
	e->ts_boot_ns = 1000000000ull + i * 1000;
	e->type = VIGIL_EV_EXEC;
	e->verdict = i % 3 ? VIGIL_ALLOW : VIGIL_DENY;
	e->reason = i % 3 ? VIGIL_R_NOT_LISTED : VIGIL_R_MODIFIED;
	e->err = i % 3 ? 0 : -1;
	e->pid = e->tid = (uint32_t)(1000 + i % 30000);
	e->ppid = 1;
	e->cgroup_id = 4242;
	e->dev = (8ull << 20) | 1;
	e->ino = 131072 + i % 1000;
	e->policy_serial = 7;
	e->gen = 1;
	snprintf(e->comm, sizeof(e->comm), "worker");
	snprintf(e->path, sizeof(e->path), "/usr/lib/app/bin/worker-%llu",
	         (unsigned long long)(i % 1000));
}

/* The "ring buffer": distinct synthetic events, read in turn as a consumer reads records. */
#define RING 4096
static struct vigil_event ring[RING];

static const struct vigil_event *next_event(uint64_t i)
{
	return &ring[i % RING];
}

struct stage {
	const char *name;
	double wall, cpu, sys, self; /* self: CPU of the calling (producer) thread */
};

static void report(const struct stage *s, uint64_t n)
{
	double us = 1e6 / (double)n, others = s->cpu > s->self ? s->cpu - s->self : 0;

	printf("%-34s %10.0f events/s wall  %10.0f events/s per core  (%.2f us CPU/event: "
	       "%.2f this thread, %.2f others; %.2f system)\n",
	       s->name, (double)n / s->wall, (double)n / s->cpu, s->cpu * us, s->self * us,
	       others * us, s->sys * us);
}

static void begin(struct stage *s)
{
	s->wall = now_s(CLOCK_MONOTONIC);
	s->cpu = cpu_s(&s->sys);
	s->self = now_s(CLOCK_THREAD_CPUTIME_ID);
}

static void end(struct stage *s)
{
	double sys;

	s->wall = now_s(CLOCK_MONOTONIC) - s->wall;
	s->cpu = cpu_s(&sys) - s->cpu;
	s->sys = sys - s->sys;
	s->self = now_s(CLOCK_THREAD_CPUTIME_ID) - s->self;
}

static bool want(const char *only, const char *stage)
{
	return !only || strcmp(only, stage) == 0;
}

/* Stage 1: JSON formatting of ring-buffer events alone. */
static uint64_t stage_format(const struct agent *a, struct stage *s, uint64_t n)
{
	char buf[2048];
	uint64_t i, sink = 0;

	begin(s);
	for (i = 0; i < n; i++)
		sink += (uint64_t)agent_event_format(a, next_event(i), buf, sizeof(buf));
	end(s);
	return sink;
}

/* Stage 2: chaining alone (record encoding and SHA-256), in memory. */
static uint64_t stage_chain(const struct agent *a, struct stage *s, uint64_t n)
{
	struct audit_chain chain;
	char buf[4 + 2048], *out = malloc(1 << 20);
	uint64_t i, sink = 0;
	int len;

	if (!out || audit_chain_init(&chain) < 0)
		return free(out), 0;
	len = agent_event_format(a, next_event(1), buf + 4, sizeof(buf) - 4);
	memcpy(buf, "\"e\":", 4);
	begin(s);
	for (i = 0; i < n; i++)
		sink += (uint64_t)audit_record_encode(&chain, "event", buf, (size_t)len + 3, out,
		                                      1 << 20);
	end(s);
	audit_chain_free(&chain);
	free(out);
	return sink;
}

/* Stage 3: the whole pipeline to a durable file, as vigild's ring-buffer consumer runs it. */
static uint64_t stage_pipeline(const struct agent *a, struct stage *s, uint64_t n,
                               struct audit_writer *w)
{
	uint64_t i;
	char *slot;
	int len;

	/* As agent/events.c handle_event: "e": and the event formatted in the queue slot. */
	begin(s);
	for (i = 0; i < n; i++) {
		if (audit_submit_reserve(w, "event", 4 + 2048, &slot) < 0)
			continue;
		memcpy(slot, "\"e\":", 4);
		len = agent_event_format(a, next_event(i), slot + 4, 2048);
		audit_submit_commit(w, len < 0 ? -1 : len + 4 - 1);
	}
	audit_writer_sync(w);
	end(s);
	return n;
}

/* What the audit library reports, on stderr. */
static void say(void *ctx, bool error, const char *msg)
{
	fprintf(stderr, "audit_pipeline: %s%s\n", error ? "error: " : "", msg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"events", required_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'},
	    {"audit", required_argument, NULL, 'a'},
	    {"keep", no_argument, NULL, 'k'},
	    {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct agent *a = agent_event_context_new(1700000000000000000ll);
	struct audit_options o;
	struct vigil_error verr;
	struct audit_writer *w;
	struct audit_stats st = {0};
	struct audit_verify_options vo = {0};
	struct audit_verify_result vr = {0};
	struct stage fmt = {.name = "format (agent_event_format)"},
	             ch = {.name = "chain (encode + SHA-256)"},
	             all = {.name = "pipeline (format+queue+chain+write)"};
	char tmpl[256] = "/tmp/vigil-bench-XXXXXX", dir[300], state[300], err[256];
	uint64_t n = 2000000, i, sink = 0;
	const char *spec = NULL;
	const char *only = NULL; /* profiling: run one stage (format, chain or pipeline) */
	bool keep = false;
	int c;

	if (!a)
		return perror("agent_event_context_new"), 1;
	while ((c = getopt_long(argc, argv, "n:d:a:o:kh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			snprintf(tmpl, sizeof(tmpl), "%s", optarg);
			keep = true;
			break;
		case 'a':
			spec = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'o':
			only = optarg;
			break;
		default:
			printf("usage: audit_pipeline [--events N] [--dir DIR] [--audit OPTS] "
			       "[--keep] [--only format|chain|pipeline]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!keep && !mkdtemp(tmpl))
		return perror("mkdtemp"), 1;
	snprintf(dir, sizeof(dir), "%s/log", tmpl);
	snprintf(state, sizeof(state), "%s/state", tmpl);
	mkdir(tmpl, 0700);

	for (i = 0; i < RING; i++)
		synth_event(&ring[i], i);

	if (want(only, "format"))
		sink += stage_format(a, &fmt, n);
	if (want(only, "chain"))
		sink += stage_chain(a, &ch, n);
	audit_options_defaults(&o);
	o.dir = dir;
	o.state_dir = state;
	o.origin = "vigil/bench";
	o.block_when_full = true;    /* measure throughput, not the drop policy */
	o.rotate_bytes = 1ull << 40; /* one file unless asked: rotation is not measured */
	o.report = say;
	if (spec && audit_options_parse(&o, spec, err, sizeof(err)) < 0)
		return fprintf(stderr, "%s\n", err), 2;
	if (want(only, "pipeline")) {
		if (audit_writer_open(&o, &w, &verr) < 0)
			return fprintf(stderr, "audit_pipeline: %s\n", verr.msg), 1;
		sink += stage_pipeline(a, &all, n, w);
		audit_writer_stats(w, &st);
		audit_writer_close(w);
	}

	printf("audit pipeline benchmark: %llu events, fsync every %u records or %u ms, "
	       "%ld CPUs online\n",
	       (unsigned long long)n, o.fsync_records, o.fsync_ms, sysconf(_SC_NPROCESSORS_ONLN));
	if (want(only, "format"))
		report(&fmt, n);
	if (want(only, "chain"))
		report(&ch, n);
	if (want(only, "pipeline")) {
		report(&all, n);
		vo.dir = dir;
		audit_verify(&vo, &vr);
		printf("log: %llu records, %llu checkpoints, queue drops %llu, write drops %llu; "
		       "verify: %s (%s)\n",
		       (unsigned long long)vr.records, (unsigned long long)vr.checkpoints,
		       (unsigned long long)st.queue_drops, (unsigned long long)st.write_drops,
		       audit_verify_status_name(vr.status), vr.msg);
	}
	if (!keep) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpl);
	} else {
		printf("log kept in %s\n", dir);
	}
	if (sink == 0)
		return 1;
	if (!want(only, "pipeline"))
		return 0;
	agent_event_context_free(a);
	return vr.status == AUDIT_OK && !st.queue_drops && !st.write_drops ? 0 : 1;
}
