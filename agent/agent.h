/* vigild internals: BPF object lifecycle, policy application, event consumption. */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/audit.h"
#include "bpf/vigil_abi.h"
#include "policies/policy.h"

struct vigil_bpf;
struct ring_buffer;

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
	const char *root;        /* prefix for policy paths (tests); "" normally */
	const char *cgroup_root; /* cgroup2 mount, default /sys/fs/cgroup */
	const char *audit_dir;   /* hash-chained audit log; "none" disables it */
	const char *state_dir;   /* vigil's state: the checkpoint key */
	const char *audit_spec;  /* audit tuning, see audit_options_parse() */
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
	struct audit_writer *audit; /* NULL when the audit log is off or unavailable */
	/* Measures audit anchors (start record, checkpoint key, checkpoints); NULL until
	 * attest/ provides the measurement log. Called from the audit writer thread. */
	audit_anchor_fn audit_anchor;
	void *audit_anchor_ctx;
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
/* Formats one event as a JSON line into out (NUL-terminated); returns its length. */
int agent_event_format(const struct agent *a, const struct vigil_event *e, char *out, size_t size);

/* The audit log (agent/audit_agent.c): every agent event and decision becomes a record. */
int agent_audit_open(struct agent *a);
/* Queues one record with a "time" member; never waits for the disk. */
void agent_audit_record(struct agent *a, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void agent_audit_policy(struct agent *a, const struct policy *p, const char *error);
void agent_audit_close(struct agent *a, int sig);

const char *vigil_reason_name(unsigned int reason);
const char *vigil_verdict_name(unsigned int verdict);
const char *vigil_event_type_name(unsigned int type);

#endif /* VIGIL_AGENT_H */
