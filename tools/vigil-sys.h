/* What `vigil doctor` and `vigil status` read from a running system: config, pins, vigild. */
#ifndef VIGIL_TOOLS_SYS_H
#define VIGIL_TOOLS_SYS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "bpf/vigil_abi.h"

struct vigil_sys {
	struct agent_options opt; /* vigild's defaults with vigild.conf applied */
	struct agent_config cfg;
	const char *config_path;
	char config_err[AGENT_CONFIG_ERR_MAX]; /* empty when the file parsed (or is absent) */
	const char *tcti;                      /* resolved: NULL when there is no vTPM */
	/*
	 * Pins: 1 present, 0 absent, negative errno when unreadable. From vigild's control socket
	 * when it answers; else read from bpffs, where -EPERM means vigil's self-protection
	 * refused us: the pinned programs are attached and enforcing.
	 */
	int pins;
	bool from_vigild;
	size_t rules[4]; /* exec, files, net, keys: from vigild */
	unsigned int n_links;
	uint32_t abi_version, active_gen;
	uint64_t stats[VIGIL_STAT_MAX];
	bool have_stats;
	/* vigild: its pid (0: not running) and seconds since it started. */
	int vigild_pid;
	double vigild_uptime;
};

/* Loads the configuration (config_path or the default) and probes pins and vigild. */
void vigil_sys_probe(struct vigil_sys *s, const char *config_path);
/*
 * The options `vigil doctor` and `vigil status` share: --config FILE (into *config) and --help
 * (prints help). Returns -1 to go on, or the exit status (--help, or a usage error).
 */
int vigil_sys_args(int argc, char **argv, const char *usage, const char *help, const char **config);
void vigil_sys_free(struct vigil_sys *s);
/* The last policy record of the measurement log: its content type and JSON content. */
int vigil_sys_last_policy(const char *log_path, char *type, size_t type_size, char **ret_json);

int do_doctor(int argc, char **argv);
int do_status(int argc, char **argv);

#endif /* VIGIL_TOOLS_SYS_H */
