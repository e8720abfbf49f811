/* vigild internals: BPF object lifecycle, policy application, event consumption. */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/config.h"
#include "agent/events.h"
#include "audit/audit.h"
#include "bpf/vigil_abi.h"
#include "lib/util.h"
#include "policies/policy.h"

struct vigil_bpf;
struct bpf_map;
struct pollfd;
struct ring_buffer;
struct agent_reload;
struct agent_control;
struct measure_log;

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
	size_t n_hashed; /* exec files read; the others were unchanged since the last generation */
	/* exec_revocations when no entry of this generation was revoked yet (see apply.c). */
	uint64_t revocations;
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
	bool adopting;       /* pinned maps of an earlier vigild were found */
	bool links_attached; /* the skeleton's links are attached and pinned (agent_bpf_attach) */
	struct agent_reload *reload;
	struct agent_control *control; /* the control socket and its clients (control.c) */
	/* JSON members ("k":v,...) naming who asked vigild to stop, for the audit stop record. */
	char stop_members[512];
	int stop_signal;
	/* Called after a policy is fully prepared, right before it is published: measures it. */
	int (*before_publish)(struct agent *a, const struct policy *p, struct policy_error *err);
	struct audit_writer *audit; /* NULL when the audit log is off or unavailable */
	/* Measures audit anchors (start record, checkpoint key, checkpoints); NULL until
	 * attest/ provides the measurement log. Called from the audit writer thread. */
	audit_anchor_fn audit_anchor;
	void *audit_anchor_ctx;
	struct agent_otlp *otlp; /* the OTLP exporter (agent/otlp_agent.c); NULL when off */
	bool cmdline; /* events carry "cmdline" when provable (agent/cmdline.c): with OTLP on */
	struct agent_keys *keys; /* released keys (agent/keyrelease.c); NULL without --kbs-url */
};

/*
 * The argv of the process an event names, NULs as spaces, at most AGENT_CMDLINE_MAX - 1 bytes:
 * its length, or -ESTALE when the process at that pid is not provably the event's (started in
 * or after the event's clock tick; for exec, not running the event's executable), -ENOENT
 * (-ESRCH) when it is gone or has none (agent/cmdline.c).
 */
#define AGENT_CMDLINE_MAX 4096
int agent_cmdline(const struct vigil_event *e, char *out, size_t size);

/* Opens and loads the programs and maps; nothing is attached yet. */
int agent_bpf_open(struct agent *a);
/* Checks the kernel's LSM hooks and picks the programs for their signatures (agent/kernel.c). */
struct bpf_object;
struct btf;
int agent_kernel_adapt(struct bpf_object *obj);
/* The same against a given kernel BTF and release (unit tests); 0 or -EOPNOTSUPP, said once. */
int agent_kernel_check(struct bpf_object *obj, const struct btf *vmlinux, const char *release);
/* Pinning (pin.c): pin paths before load, links after attach, adoption of an earlier vigild's. */
int agent_pin_maps(struct agent *a, struct vigil_bpf *skel);
int agent_pin_links(struct agent *a);
struct bpf_link;
/* Pins one link under BPFFS/links/NAME, replacing (and so detaching) a pinned one there. */
int agent_pin_link(struct agent *a, const char *name, struct bpf_link *link);
void agent_sweep_generations(struct agent *a, uint32_t keep);
/* Empties generation gen's policy_cfg slot if it still holds gen. */
void agent_cfg_clear(struct agent *a, uint32_t gen);
/* vigild --unload: refused (-EPERM) unless the caller is the platform for the pinned policy. */
int agent_unload(const char *pin_dir, const char *cgroup_root);
/* vigild --hand-over PATH (agent/handover.c): the pins' vigild becomes PATH, a file with this
 * binary's SHA-256 (-EPERM otherwise, -EBUSY while the registered vigild runs). */
int agent_hand_over(const char *pin_dir, const char *to);
void agent_log_prog_stats(struct agent *a);
void agent_reexec(struct agent *a, char **argv) __attribute__((noreturn));

/*
 * "The platform" (platform.c), as bpf/self.bpf.h's current_is_platform() decides it: PID 1, or,
 * under a cgroup-scoped policy, a process whose cgroup is neither a scope cgroup nor below one.
 * Under a whole-guest scope (or with no policy) only PID 1.
 */
struct agent_scope {
	bool guest;
	const uint64_t *ids; /* scope cgroup ids (cgroup directory inode numbers) */
	size_t n;
};
/* The same for a cgroup path as /proc/PID/cgroup gives it (relative to cgroup_root). */
int agent_cgroup_is_platform(const char *cgroup_root, const struct agent_scope *scope,
                             const char *path);
/* The cgroup v2 path of pid ("self", "1", a number) as /proc/PID/cgroup gives it, in buf: *ret_path
 * NULL when there is no v2 line; a negative errno when the file cannot be read. */
int agent_pid_cgroup(const char *pid, char *buf, size_t size, char **ret_path);
/* 1 platform, 0 not (in the scope, or unknown: fail closed), -ESRCH when pid is gone. */
int agent_pid_is_platform(const char *cgroup_root, const struct agent_scope *scope, int pid);
/* The scope of the policy vigild enforces. */
void agent_scope_of(const struct agent *a, struct agent_scope *ret);
/* The comm of pid ("?" when gone) into out. */
void agent_pid_comm(int pid, char *out, size_t size);

/* The control socket (control.c): non-blocking, platform peers only, per-client deadline. */
int agent_control_open(struct agent *a);
void agent_control_close(struct agent *a);
/* Fills up to max pollfds (listening socket and clients); returns the count. */
size_t agent_control_pollfds(struct agent *a, struct pollfd *fds, size_t max);
/* Serves what fds (as filled by agent_control_pollfds) report; drops clients past deadline. */
void agent_control_dispatch(struct agent *a, const struct pollfd *fds, size_t n);
/* Milliseconds until the next client deadline, or -1 with no client. */
int agent_control_timeout(struct agent *a);

/* The main loop (loop.c): signals through a signalfd, events, control socket. */
/* Blocks the signals vigild handles (before any thread starts) and ignores SIGPIPE, SIGIO. */
int agent_signals_block(void);
/* Runs until a platform stop signal; returns 0 or a negative errno. */
int agent_loop(struct agent *a, char **argv);

/* Self-protection (self.c): vigild's binary identity, protected devices and files. */
int agent_self_protect(struct agent *a);
/* Adds the files vigild and PID 1 map now (after a policy load: dlopen()ed modules). */
int agent_self_protect_maps(struct agent *a);
/* Attaches every program; called once a complete policy is published. */
int agent_bpf_attach(struct agent *a);
void agent_bpf_close(struct agent *a);
/* Reads the per-CPU counter idx summed over CPUs. */
uint64_t agent_stat(struct agent *a, unsigned int idx);

/* Batched map work (map_batch.c); per-element where the map type has no batch ops. Deleting
 * ignores missing keys. */
int agent_map_update_batch(const struct bpf_map *map, const void *keys, const void *vals, size_t n);
/* A cgroup's id (its directory's inode) at root + cgroup, created when missing (logged as a
 * "what" cgroup). 0, or -errno of stat (-ENOTDIR: not a directory). */
int agent_cgroup_id(const char *root, const char *cgroup, const char *what, uint64_t *ret);
void agent_map_delete_batch(const struct bpf_map *map, const void *keys, size_t n);
/* Deletes the n keys key(ctx, i, out) makes: batched, or one syscall each when memory for the
 * batch is short (a removal never fails for want of memory). */
void agent_map_delete_keys(const struct bpf_map *map, size_t n,
                           void (*key)(const void *ctx, size_t i, void *out), const void *ctx);
/* Reads up to cap entries of a hash map with BPF_MAP_LOOKUP_BATCH; returns the count,
 * -EOPNOTSUPP when the kernel has no batch lookup for it, or -errno. */
ssize_t agent_map_dump(const struct bpf_map *map, void *keys, void *vals, size_t cap);

/* Resolves, verifies and publishes p; on failure the enforcing policy is unchanged. */
int agent_apply_policy(struct agent *a, struct policy *p, struct policy_error *err);
void applied_policy_clear(struct applied_policy *ap);

/* File, network and key sections (apply_enforce.c): fill a pending generation's maps, remove a
 * generation's entries, free what was resolved, and the policy_cfg flags they contribute. */
int agent_apply_sections(struct agent *a, struct applied_policy *ap, struct policy_error *err);
void agent_remove_sections(struct agent *a, const struct applied_policy *ap);
void agent_sections_clear(struct applied_policy *ap);
uint32_t agent_sections_cfg_flags(const struct policy *p);
/* vigil_policy_cfg.cap_allow of p. */
uint64_t agent_cap_allow(const struct policy *p);
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
/* Writes {"time", "type", fields...} as one line of the event log; takes fields' reference. */
int agent_event_write(struct agent *a, const char *type, json_t *fields);

/* Fields of file, network, key and self-protection events (",\"k\":v..." into out; *ret_len
 * as snprintf's); and the name of the rule that decided e under p, or NULL. */
void agent_event_format_kind(const struct vigil_event *e, char *out, size_t size, int *ret_len);
const char *agent_event_rule_name(const struct policy *p, const struct vigil_event *e);
/* Bundles, measurement, control socket and SIGHUP (agent/reload.c). */
int agent_reload_open(struct agent *a);
/* Verifies, measures and enforces the configured bundle (or unsigned policy). */
int agent_reload_initial(struct agent *a, struct policy_error *err);
/* Re-reads the configured bundle or policy (SIGHUP). */
void agent_reload_file(struct agent *a, const char *source);
/* A bundle pushed through the control socket: verifies, measures, enforces; one reply line. */
int agent_reload_push(struct agent *a, const char *buf, size_t len, char *reply, size_t size);
/* The measurement log every measured thing goes through (audit checkpoints too); NULL before open.
 */
struct measure_log *agent_measure_log(struct agent *a);
void agent_reload_close(struct agent *a);
/*
 * audit_options.key_open for a machine with a TPM (agent/audit_tpm.c; tpm: its struct
 * attest_tpm): the ECDSA P-256 key in state_dir/audit-key.tpm, created in the TPM on first use;
 * removes a file key left over.
 */
int audit_tpm_key_open(void *tpm, const char *state_dir, const char *name, struct audit_key *ret);
/* OTLP export of the audit log (agent/otlp_agent.c): a thread following the durable chain. */
int agent_otlp_check(const char *spec, char *err, size_t err_size);
int agent_otlp_start(struct agent *a);
void agent_otlp_stop(struct agent *a);
/* The audit log (agent/audit_agent.c): every agent event and decision becomes a record. */
int agent_audit_open(struct agent *a);
/* Queues one record with a "time" member; never waits for the disk. */
void agent_audit_record(struct agent *a, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void agent_audit_close(struct agent *a, int sig);

const char *vigil_reason_name(unsigned int reason);
/* True when an event's rule_id names the rule that matched (allowed, or listed but modified). */
bool vigil_reason_has_rule(unsigned int reason);
const char *vigil_verdict_name(unsigned int verdict);
const char *vigil_event_type_name(unsigned int type);

#endif /* VIGIL_AGENT_H */
