/* vigild internals: BPF object lifecycle, policy application, event consumption. */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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
	struct policy_net_entry *net; /* LPM entries */
	size_t n_net;
	struct policy_file_entry *files; /* resolved file rule identities */
	size_t n_files;
	struct policy_key_entry *keys; /* per key description */
	size_t n_keys;
	uint32_t gen;
};

struct agent_options {
	const char *policy_path;
	const char *event_log_path; /* "-" for stdout */
	const char *ready_file;
	const char *root;	    /* prefix for policy paths (tests); "" normally */
	const char *cgroup_root;    /* cgroup2 mount, default /sys/fs/cgroup */
	const char *pin_dir;	    /* bpffs directory of pinned maps and links */
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
	bool adopting; /* pinned maps of an earlier vigild were found */
};

/* Opens and loads the programs and maps; nothing is attached yet. */
int agent_bpf_open(struct agent *a);
/* Pinning (pin.c): pin paths before load, links after attach, adoption of an earlier vigild's. */
int agent_pin_maps(struct agent *a, struct vigil_bpf *skel);
int agent_pin_links(struct agent *a);
void agent_sweep_generations(struct agent *a, uint32_t keep);
int agent_unload(const char *pin_dir);
void agent_log_prog_stats(struct agent *a);
void agent_reexec(struct agent *a, char **argv) __attribute__((noreturn));

/* Self-protection (self.c): vigild's binary identity, protected devices and files. */
int agent_self_protect(struct agent *a);
/* Attaches every program; called once a complete policy is published. */
int agent_bpf_attach(struct agent *a);
void agent_bpf_close(struct agent *a);
/* Reads the per-CPU counter idx summed over CPUs. */
uint64_t agent_stat(struct agent *a, unsigned int idx);

/* Resolves, verifies and publishes p; on failure the enforcing policy is unchanged. */
int agent_apply_policy(struct agent *a, struct policy *p, struct policy_error *err);
void applied_policy_clear(struct applied_policy *ap);

/* File, network and key sections (apply_enforce.c): fill a pending generation's maps, remove a
 * generation's entries, free what was resolved, and the policy_cfg flags they contribute. */
int agent_apply_sections(struct agent *a, struct applied_policy *ap, struct policy_error *err);
void agent_remove_sections(struct agent *a, const struct applied_policy *ap);
void agent_sections_clear(struct applied_policy *ap);
uint32_t agent_sections_cfg_flags(const struct policy *p);
int agent_apply_net(struct agent *a, struct applied_policy *ap, struct policy_error *err);
void agent_remove_net(struct agent *a, const struct applied_policy *ap);
int agent_apply_files(struct agent *a, struct applied_policy *ap, struct policy_error *err);
void agent_remove_files(struct agent *a, const struct applied_policy *ap);
int agent_apply_keys(struct agent *a, struct applied_policy *ap, struct policy_error *err);
void agent_remove_keys(struct agent *a, const struct applied_policy *ap);

int agent_events_open(struct agent *a);
/* Consumes ready events; returns the count or a negative errno. */
int agent_events_poll(struct agent *a, int timeout_ms);
/* Writes a ring-buffer drop record when the counter moved. */
void agent_events_report_drops(struct agent *a);
void agent_events_close(struct agent *a);
/* Formats one event as a JSON line into out (NUL-terminated); returns its length. */
int agent_event_format(const struct agent *a, const struct vigil_event *e, char *out, size_t size);

/* Fields of file, network, key and self-protection events (",\"k\":v..." into out; *ret_len
 * as snprintf's); and the name of the rule that decided e under p, or NULL. */
void agent_event_format_kind(const struct vigil_event *e, char *out, size_t size, int *ret_len);
const char *agent_event_rule_name(const struct policy *p, const struct vigil_event *e);

const char *vigil_reason_name(unsigned int reason);
const char *vigil_verdict_name(unsigned int verdict);
const char *vigil_event_type_name(unsigned int type);

#endif /* VIGIL_AGENT_H */
