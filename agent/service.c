/* vigild as a service: the kernel checks at start, READY for the service manager, idle mode. */
#include "agent/agent.h"
#include "agent/config.h"
#include "lib/log.h"
#include "lib/util.h"

#include "vigil.skel.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

int agent_kernel_ready(void)
{
	struct kcheck c[KCHECK_COUNT];
	int r = 0;

	agent_kernel_requirements("", c);
	for (int i = 0; i < KCHECK_COUNT; i++) {
		if (c[i].status == KCHECK_FAIL) {
			log_error("kernel: %s; fix: %s", c[i].msg, c[i].fix);
			r = -EOPNOTSUPP;
		} else if (c[i].status == KCHECK_WARN) {
			/* Fail open on what cannot be read: loading the programs is the last word.
			 */
			log_info("kernel: %s%s%s", c[i].msg, c[i].fix[0] ? "; fix: " : "",
			         c[i].fix);
		} else {
			log_debug("kernel: %s", c[i].msg);
		}
	}
	return r;
}

void agent_notify_ready(const struct agent *a)
{
	const struct policy *p = a->cur.policy;
	char state[512];
	int r;

	snprintf(state, sizeof(state), "READY=1\nSTATUS=enforcing policy '%s' serial %llu",
	         p && p->name ? p->name : "?", p ? (unsigned long long)p->serial : 0ull);
	r = agent_notify(state);
	if (r < 0)
		log_error_errno(r, "notifying the service manager ($NOTIFY_SOCKET)");
}

/* True when an earlier vigild (or the initramfs's) left pinned links in pin_dir. */
static bool pins_present(const char *pin_dir)
{
	char path[4096];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/links", pin_dir);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = e->d_name[0] != '.';
	closedir(d);
	return found;
}

/*
 * No bundle configured: the package never enforces a policy the image builder did not
 * provide. vigild stays up (the unit is "active", `vigil doctor` explains), enforces nothing,
 * and re-executes on SIGHUP to read the configuration again.
 */
int agent_run_idle(const struct agent_options *o, const char *config_path, char **argv)
{
	sigset_t set;
	siginfo_t si;

	log_info("no policy bundle configured (set 'bundle = FILE' in %s or pass --bundle): "
	         "running idle, this vigild enforces nothing",
	         config_path);
	if (pins_present(o->pin_dir))
		log_info("pinned programs in %s (an earlier vigild's) keep enforcing; configure "
		         "their bundle so that vigild adopts them",
		         o->pin_dir);
	agent_notify("READY=1\nSTATUS=idle: no policy bundle configured, nothing enforced");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		/* Blocked since start (agent_signals_block), so none is lost before this wait. */
		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (si.si_signo == SIGTERM || si.si_signo == SIGINT) {
			log_info("SIG%s from pid %d: stopping (idle)", sigabbrev_np(si.si_signo),
			         (int)si.si_pid);
			agent_notify("STOPPING=1");
			return 0;
		}
		log_info("SIG%s from pid %d: re-reading the configuration",
		         sigabbrev_np(si.si_signo), (int)si.si_pid);
		agent_notify("RELOADING=1");
		execv("/proc/self/exe", argv);
		return log_error_errno(-errno, "re-exec failed");
	}
}

void agent_status_send(struct agent *a, int fd)
{
	const struct applied_policy *ap = &a->cur;
	const struct policy *p = ap->policy;
	json_t *stats = json_array(), *o;
	char *text;

	for (unsigned int i = 0; i < VIGIL_STAT_MAX; i++)
		json_array_append_new(stats, json_integer((json_int_t)agent_stat(a, i)));
	o = json_pack("{s:s, s:i, s:i, s:I, s:s?, s:I, s:{s:I, s:I, s:I, s:I}, s:o, s:i, s:I}",
	              "version", vigil_version, "abi", VIGIL_ABI_VERSION, "pid", (int)getpid(),
	              "generation", (json_int_t)ap->gen, "policy", p ? p->name : NULL, "serial",
	              (json_int_t)(p ? p->serial : 0), "rules", "exec",
	              (json_int_t)(p ? p->n_exec : 0), "files", (json_int_t)(p ? p->n_files : 0),
	              "net", (json_int_t)(p ? p->n_net : 0), "keys",
	              (json_int_t)(p ? p->n_keys : 0), "stats", stats, "links",
	              a->skel ? a->skel->skeleton->prog_cnt : 0, "events_written",
	              (json_int_t)a->events_written);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text)
		dprintf(fd, "ok %s\n", text);
	else
		dprintf(fd, "error: vigild is out of memory\n");
	free(text);
}
