/* vigild: loads the BPF-LSM programs, applies the policy, and records every decision. */
#include "agent/agent.h"
#include "agent/log.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIGIL_VERSION "0.1.0"

/* Exit codes, documented in docs/CLI.md. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_POLICY = 3,
	EXIT_KERNEL = 4,
};

int vigil_log_verbose;
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vigild --policy FILE [options]\n"
	    "\n"
	    "Loads vigil's BPF-LSM programs, enforces FILE and records every decision.\n"
	    "\n"
	    "  -p, --policy FILE      policy v1 JSON to enforce (required)\n"
	    "  -e, --event-log FILE   decision log, one JSON line each (default "
	    "/var/log/vigil/events.jsonl, - for stdout)\n"
	    "  -r, --ready-file FILE  created once the policy is enforcing\n"
	    "      --check            validate the policy and check every digest, then exit\n"
	    "      --root DIR         resolve policy paths under DIR (image builds, tests)\n"
	    "      --cgroup-root DIR  cgroup2 mount (default /sys/fs/cgroup)\n"
	    "      --audit-dir DIR    hash-chained audit log (default /var/log/vigil; none: off)\n"
	    "      --state-dir DIR    vigil's state, e.g. the checkpoint key (default "
	    "/var/lib/vigil)\n"
	    "      --audit OPTS       "
	    "fsync=N,fsync-ms=T,checkpoint=N,checkpoint-ms=T,rotate=SIZE,\n"
	    "                         queue=SIZE,ack=FILE (docs/AUDIT-LOG.md)\n"
	    "  -v, --verbose          debug output, including libbpf's\n"
	    "  -h, --help, --version\n"
	    "\n"
	    "Exit status: 0 ok, 1 runtime error, 2 usage, 3 policy rejected, 4 kernel lacks BPF "
	    "LSM.\n");
}

static int parse_args(int argc, char **argv, struct agent_options *opt, bool *check_only)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"event-log", required_argument, NULL, 'e'},
	    {"ready-file", required_argument, NULL, 'r'},
	    {"check", no_argument, NULL, 'c'},
	    {"root", required_argument, NULL, 'R'},
	    {"cgroup-root", required_argument, NULL, 'C'},
	    {"audit-dir", required_argument, NULL, 'A'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"audit", required_argument, NULL, 'O'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "p:e:r:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			opt->policy_path = optarg;
			break;
		case 'e':
			opt->event_log_path = optarg;
			break;
		case 'r':
			opt->ready_file = optarg;
			break;
		case 'c':
			*check_only = true;
			break;
		case 'R':
			opt->root = optarg;
			break;
		case 'C':
			opt->cgroup_root = optarg;
			break;
		case 'A':
			opt->audit_dir = optarg;
			break;
		case 'S':
			opt->state_dir = optarg;
			break;
		case 'O':
			opt->audit_spec = optarg;
			break;
		case 'v':
			vigil_log_verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("vigild %s (ABI %d)\n", VIGIL_VERSION, VIGIL_ABI_VERSION);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigild: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!opt->policy_path) {
		fprintf(stderr, "vigild: --policy FILE is required (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* --check: everything short of touching the kernel. */
static int check_policy(struct agent *a, struct policy *p)
{
	struct policy_exec_entry *entries = NULL;
	struct policy_error err = {{0}};
	size_t n = 0;
	int r;

	r = policy_resolve_exec(p, a->opt.root, &entries, &n, &err);
	if (r >= 0)
		r = policy_verify_exec(p, a->opt.root, entries, n, &err);
	free(entries);
	if (r < 0) {
		fprintf(stderr, "vigild: policy rejected: %s\n", err.msg);
		return EXIT_POLICY;
	}
	printf("%s: policy '%s' serial %llu is valid (%zu exec rules, digests match)\n", p->origin,
	       p->name, (unsigned long long)p->serial, p->n_exec);
	return EXIT_OK;
}

static int write_ready_file(const char *path)
{
	char dir[4096], *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "creating ready file %s", path);
	dprintf(fd, "%d\n", getpid());
	close(fd);
	return 0;
}

static int run(struct agent *a, struct policy *p)
{
	struct policy_error err = {{0}};
	int r;

	r = agent_bpf_open(a);
	if (r < 0)
		return EXIT_KERNEL;
	/* Fail-open for the record, not for enforcement: without a log vigild still enforces. */
	if (agent_audit_open(a) < 0)
		log_error("audit log unavailable: enforcing without it");
	r = agent_apply_policy(a, p, &err);
	agent_audit_policy(a, p, r < 0 ? err.msg : NULL);
	if (r < 0) {
		policy_free(p);
		log_error("policy rejected: %s", err.msg);
		r = EXIT_POLICY;
		goto out_bpf;
	}
	r = agent_events_open(a);
	if (r < 0) {
		r = EXIT_RUNTIME;
		goto out_bpf;
	}
	/* Attach last: the programs never run without a complete policy behind them. */
	if (agent_bpf_attach(a) < 0) {
		r = EXIT_KERNEL;
		goto out_events;
	}
	if (a->opt.ready_file && write_ready_file(a->opt.ready_file) < 0) {
		r = EXIT_RUNTIME;
		goto out_events;
	}
	while (!stop_requested) {
		r = agent_events_poll(a, 500);
		if (r < 0) {
			log_error_errno(r, "reading the ring buffer");
			r = EXIT_RUNTIME;
			goto out_events;
		}
	}
	log_info("stopping on signal %d: %llu events written, %llu lost to a full ring buffer",
	         (int)stop_requested, (unsigned long long)a->events_written,
	         (unsigned long long)agent_stat(a, VIGIL_STAT_RB_DROPS));
	r = EXIT_OK;
out_events:
	agent_events_close(a);
out_bpf:
	agent_audit_close(a, (int)stop_requested);
	applied_policy_clear(&a->cur);
	applied_policy_clear(&a->prev);
	agent_bpf_close(a);
	return r;
}

int main(int argc, char **argv)
{
	struct agent a = {.opt = {.event_log_path = "/var/log/vigil/events.jsonl",
	                          .root = "",
	                          .cgroup_root = "/sys/fs/cgroup",
	                          .audit_dir = "/var/log/vigil",
	                          .state_dir = "/var/lib/vigil"}};
	struct policy_error err = {{0}};
	struct sigaction sa = {.sa_handler = on_stop};
	bool check_only = false;
	struct policy *p;
	int r;

	if (parse_args(argc, argv, &a.opt, &check_only) < 0)
		return EXIT_USAGE;
	r = policy_load_file(a.opt.policy_path, &p, &err);
	if (r < 0) {
		fprintf(stderr, "vigild: policy rejected: %s\n", err.msg);
		return EXIT_POLICY;
	}
	if (check_only) {
		r = check_policy(&a, p);
		policy_free(p);
		return r;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return run(&a, p);
}
