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

static volatile sig_atomic_t reexec_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

static void on_hup(int sig)
{
	reexec_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vigild --policy FILE [options]\n"
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
		   "      --pin-dir DIR      bpffs directory of the pinned programs and maps (default "
		   "/sys/fs/bpf/vigil)\n"
		   "      --unload           remove the pinned programs and maps: enforcement ends\n"

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
		{"pin-dir", required_argument, NULL, 'P'},
		{"unload", no_argument, NULL, 'U'},

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
		case 'P':
			opt->pin_dir = optarg;
			break;
		case 'U':
			exit(agent_unload(opt->pin_dir) < 0 ? EXIT_RUNTIME : EXIT_OK);

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
	printf("%s: policy '%s' serial %llu is valid (%zu exec rules, digests match)\n",
	       p->origin, p->name, (unsigned long long)p->serial, p->n_exec);
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

static int run(struct agent *a, struct policy *p, char **argv)
{
	struct policy_error err = {{0}};
	int r;

	r = agent_bpf_open(a);
	if (r < 0)
		return EXIT_KERNEL;
	r = agent_apply_policy(a, p, &err);
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
		if (reexec_requested)
			agent_reexec(a, argv);
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
	agent_log_prog_stats(a);
	/* A deliberate stop ends enforcement; a crash leaves it pinned for the next vigild. */
	agent_unload(a->opt.pin_dir);
	r = EXIT_OK;
out_events:
	agent_events_close(a);
out_bpf:
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
				  .pin_dir = "/sys/fs/bpf/vigil"}};
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
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return run(&a, p, argv);
}
