/* vigild internals: BPF object lifecycle, policy application, event consumption. */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bpf/vigil_abi.h"
#include "policies/policy.h"

#define VIGIL_AGENT_VERSION "0.1.0"

struct vigil_bpf;
struct ring_buffer;
struct agent_reload;
struct measure_log;

/* A policy as applied: what its generation's map entries are, for later removal. */
struct applied_policy {
	struct policy *policy;
	struct policy_exec_entry *exec;
	size_t n_exec;
	uint64_t *cgroup_ids;
	size_t n_cgroups;
	uint32_t gen;
};

struct agent_options {
	const char *policy_path;
	const char *event_log_path; /* "-" for stdout */
	const char *ready_file;
	const char *root;	    /* prefix for policy paths (tests); "" normally */
	const char *cgroup_root;    /* cgroup2 mount, default /sys/fs/cgroup */
	/* Signed bundles and measurement (agent/reload.c). */
	const char *bundle_path;    /* signed bundle to enforce; policy_path is the unsigned mode */
	const char *trust_dir;
	const char *measure_log;
	const char *tcti;	    /* "auto", "none" or a tctildr string */
	const char *platform;	    /* auto, none, tdx, snp */
	const char *tdx_rtmr;	    /* RTMR3 sysfs file (tests point it at a fake tree) */
	const char *state_path;	    /* rollback marks when there is no TPM */
	const char *control_socket;
	unsigned int pcr;
};

struct agent {
	struct agent_options opt;
	struct vigil_bpf *skel;
	struct ring_buffer *rb;
	FILE *event_log;
	struct applied_policy cur;
	struct applied_policy prev; /* kept so events decided under it still name their rules */
	int64_t boot_to_real_ns;
	uint64_t events_written;
	uint64_t drops_reported;
	struct agent_reload *reload;
	/* Called after a policy is fully prepared, right before it is published: measures it. */
	int (*before_publish)(struct agent *a, const struct policy *p);
};

/* Opens and loads the programs and maps; nothing is attached yet. */
int agent_bpf_open(struct agent *a);
/* Attaches every program; called once a complete policy is published. */
int agent_bpf_attach(struct agent *a);
void agent_bpf_close(struct agent *a);
/* Reads the per-CPU counter idx summed over CPUs. */
uint64_t agent_stat(struct agent *a, unsigned int idx);

/* Resolves, verifies and publishes p; on failure the enforcing policy is unchanged. */
int agent_apply_policy(struct agent *a, struct policy *p, struct policy_error *err);
void applied_policy_clear(struct applied_policy *ap);

int agent_events_open(struct agent *a);
/* Consumes ready events; returns the count or a negative errno. */
int agent_events_poll(struct agent *a, int timeout_ms);
/* Writes a ring-buffer drop record when the counter moved. */
void agent_events_report_drops(struct agent *a);
void agent_events_close(struct agent *a);
/* Writes {"time", "type", fields...} as one line of the event log; takes fields' reference. */
int agent_event_write(struct agent *a, const char *type, json_t *fields);
/* Formats one event as a JSON line into out (NUL-terminated); returns its length. */
int agent_event_format(const struct agent *a, const struct vigil_event *e, char *out, size_t size);

/* Bundles, measurement, control socket and SIGHUP (agent/reload.c). */
int agent_reload_open(struct agent *a);
/* Verifies, measures and enforces the configured bundle (or unsigned policy). */
int agent_reload_initial(struct agent *a, struct policy_error *err);
/* Waits up to timeout_ms for events; serves control requests and SIGHUP re-reads meanwhile. */
int agent_reload_wait(struct agent *a, int timeout_ms);
/* The measurement log every measured thing goes through (audit checkpoints too); NULL before open. */
struct measure_log *agent_measure_log(struct agent *a);
/* Async-signal-safe: asks for a re-read of the configured path. */
void agent_reload_request(void);
void agent_reload_close(struct agent *a);

const char *vigil_reason_name(unsigned int reason);
const char *vigil_verdict_name(unsigned int verdict);
const char *vigil_event_type_name(unsigned int type);

#endif /* VIGIL_AGENT_H */
