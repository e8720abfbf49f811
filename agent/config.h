/* vigild's configuration file (/etc/vigil/vigild.conf), kernel checks and service notification. */
#ifndef VIGIL_AGENT_CONFIG_H
#define VIGIL_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* vigild's options: its defaults, then vigild.conf, then its flags (agent/vigild.c). */
struct agent_options {
	const char *policy_path;
	const char *event_log_path; /* "-" for stdout */
	const char *ready_file;
	const char *root;        /* prefix for policy paths (tests); "" normally */
	const char *cgroup_root; /* cgroup2 mount, default /sys/fs/cgroup */
	uint32_t ringbuf_size;   /* bytes, a power of two >= page size; 0 keeps the default */
	const char *pin_dir;     /* bpffs directory of pinned maps and links */
	/* Signed bundles and measurement (agent/reload.c). */
	const char *bundle_path; /* signed bundle to enforce; policy_path is the unsigned mode */
	const char *trust_dir;
	const char *measure_log;
	const char *tcti;       /* "auto", "none" or a tctildr string */
	const char *platform;   /* auto, none, tdx, snp */
	const char *tdx_rtmr;   /* RTMR3 sysfs file (tests point it at a fake tree) */
	const char *state_path; /* rollback marks when there is no TPM */
	const char *control_socket;
	unsigned int pcr;
	const char *audit_dir;  /* hash-chained audit log; "none" disables it */
	const char *state_dir;  /* vigil's state: the checkpoint key */
	const char *audit_spec; /* audit tuning, see audit_options_parse() */
	const char *otlp_spec;  /* OTLP export (exporters/otlp.h); NULL: off */
	bool dev_unsigned;      /* --dev-unsigned: the control socket accepts unsigned policies */
	const char *kbs_url;    /* key broker for keys.release (agent/keyrelease.c) */
	const char *kbs_cafile;
	bool check_config; /* --check-config: --check that tolerates no bundle configured */
	bool kbs_enroll;   /* --kbs-enroll: bind the AK to the EK at the broker (kbs_enroll()) */
};

#define AGENT_CONFIG_DEFAULT  "/etc/vigil/vigild.conf"
#define AGENT_CONFIG_MAX_SIZE (64 * 1024)
#define AGENT_CONFIG_ERR_MAX  512

/*
 * The format (man vigild(8), CONFIGURATION): one "key = value" per line, '#' starts a comment
 * line, blank lines are ignored. A key is a long option of vigild without its dashes; the value
 * is the rest of the line, surrounding blanks removed, taken verbatim (no quoting, no inline
 * comments). Unknown keys, a key set twice, an empty value, a control character, or a value the
 * option would refuse are errors: the whole file is rejected, nothing of it is applied.
 */
struct agent_config {
	char *text;    /* the file's bytes, values NUL-terminated in place; owns every value */
	bool verbose;  /* verbose = true */
	bool has_file; /* a configuration file was read */
};

/*
 * The configuration file argv names (--config FILE, --config=FILE; "none": no file), else
 * AGENT_CONFIG_DEFAULT. *ret_explicit tells whether argv named it.
 */
const char *agent_config_path(int argc, char **argv, bool *ret_explicit);
/*
 * Parses text (len bytes, read from path) into opt: on success only the keys present are
 * written and cfg owns their values; on error opt is untouched and err holds one line
 * "PATH:LINE: key 'KEY': what is wrong". Returns 0 or -EINVAL.
 */
int agent_config_parse(const char *path, const char *text, size_t len, struct agent_options *opt,
                       struct agent_config *cfg, char *err, size_t err_size);
/* vigild's built-in defaults, before vigild.conf and flags: vigild and `vigil doctor|status`. */
void agent_options_defaults(struct agent_options *opt);
/* Reads and parses path; a missing file is fine (0, nothing set) unless must_exist. */
int agent_config_load(const char *path, bool must_exist, struct agent_options *opt,
                      struct agent_config *cfg, char *err, size_t err_size);
void agent_config_free(struct agent_config *cfg);
/* One line per key for the man page and --help: "key  what it sets". */
void agent_config_print_keys(FILE *f);

/* Kernel requirements (kcheck.c), shared by vigild's start and `vigil doctor`. */
enum kcheck_status { KCHECK_OK, KCHECK_WARN, KCHECK_FAIL };
struct kcheck {
	const char *name; /* "lsm", "btf", "lockdown" */
	enum kcheck_status status;
	char msg[256]; /* what was found */
	char fix[256]; /* what to do; empty when ok */
};
#define KCHECK_COUNT 3
/* Runs the checks against sysroot ("" for the running system; tests pass a fake tree). */
void agent_kernel_requirements(const char *sysroot, struct kcheck out[KCHECK_COUNT]);

/* sd_notify(3)'s protocol over $NOTIFY_SOCKET; 0 when not run by a service manager. */
int agent_notify(const char *state);

/* vigild as a service (service.c). */
struct agent;
/* Logs each kernel check (a failure with its fix); -EOPNOTSUPP when one failed. */
int agent_kernel_ready(void);
/* READY=1 with the policy in force, once it is enforcing. */
void agent_notify_ready(const struct agent *a);
/* Answers a control-socket "status" request on fd with "ok {JSON}\n". */
void agent_status_send(struct agent *a, int fd);
/* No bundle configured: enforce nothing, say so, wait for SIGTERM (0) or SIGHUP (re-exec). */
int agent_run_idle(const struct agent_options *o, const char *config_path, char **argv);

#endif /* VIGIL_AGENT_CONFIG_H */
