/* vigild: loads the BPF-LSM programs, verifies, measures and enforces the policy, records every
 * decision. */
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/keyrelease.h"
#include "agent/control.h"
#include "lib/log.h"
#include "attest/attest.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit codes, documented in docs/CLI.md. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_POLICY = 3,
	EXIT_KERNEL = 4,
	EXIT_PERM = 5, /* --unload by a caller that is not the platform */
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vigild --bundle FILE [options]   (or --policy FILE for development)\n"
	    "       vigild [--config FILE] [options]  (the bundle from the configuration file)\n"
	    "\n"
	    "Loads vigil's BPF-LSM programs, verifies and measures the signed policy bundle,\n"
	    "enforces it and records every decision. SIGHUP re-reads FILE; 'vigil policy push'\n"
	    "sends a new bundle through the control socket; SIGUSR2 re-executes vigild and\n"
	    "SIGTERM stops it, while the pinned programs keep enforcing. Signals count only\n"
	    "from the platform (PID 1, or outside the policy's cgroup scope).\n"
	    "\n"
	    "      --config FILE      configuration (default " AGENT_CONFIG_DEFAULT
	    ", if present;\n"
	    "                         none: no file). A flag wins over the file's key.\n"
	    "      --check-config     validate the configuration and the policy, then exit\n"
	    "  -b, --bundle FILE      signed policy bundle (DSSE) to enforce\n"
	    "      --trust-dir DIR    public keys allowed to sign "
	    "(default " BUNDLE_DEFAULT_TRUST_DIR ")\n"
	    "  -p, --policy FILE      unsigned policy v1 JSON: development only (measured as\n"
	    "                         vigil/policy-unsigned, no signature or rollback check)\n"
	    "      --dev-unsigned     development only: the control socket accepts unsigned\n"
	    "                         policies (with --policy); never in production\n"
	    "      --measure-log FILE runtime measurement log (default " ATTEST_DEFAULT_LOG ")\n"
	    "      --tcti TCTI        vTPM: auto (/dev/tpmrm0 if present), none, or a tctildr\n"
	    "                         string such as swtpm:host=127.0.0.1,port=2321\n"
	    "      --pcr N            PCR to extend (default 23)\n"
	    "      --platform P       auto, none, tdx (also extend RTMR3) or snp (vTPM only)\n"
	    "      --tdx-rtmr FILE    RTMR3 sysfs file (default " ATTEST_DEFAULT_TDX_RTMR ")\n"
	    "      --state FILE       rollback marks without a TPM "
	    "(default " ATTEST_DEFAULT_HWM_STATE ")\n"
	    "      --control-socket P (default " VIGIL_CONTROL_SOCKET ")\n"
	    "  -e, --event-log FILE   decision log, one JSON line each (default "
	    "/var/log/vigil/events.jsonl, - for stdout)\n"
	    "  -r, --ready-file FILE  created once the policy is enforcing\n"
	    "      --check            validate the policy and check every digest, then exit\n"
	    "      --root DIR         resolve policy paths under DIR (image builds, tests)\n"
	    "      --cgroup-root DIR  cgroup2 mount (default /sys/fs/cgroup)\n"
	    "      --ringbuf-size N   ring buffer bytes, a power of two >= 4096 (default 4 MiB)\n"
	    "      --pin-dir DIR      bpffs directory of the pinned programs and maps (default "
	    "/sys/fs/bpf/vigil)\n"
	    "      --unload           remove the pinned programs and maps: enforcement ends\n"
	    "                         (the platform only; stopping vigild does not unload)\n"
	    "      --hand-over PATH   make PATH, a copy of this binary (same SHA-256), the pins'\n"
	    "                         vigild: the initramfs's vigild to the real root's\n"
	    "      --audit-dir DIR    hash-chained audit log (default /var/log/vigil; none: off)\n"
	    "      --state-dir DIR    vigil's state, e.g. the checkpoint key (default "
	    "/var/lib/vigil)\n"
	    "      --kbs-url URL      key broker (KBS protocol 0.4.0) for the policy's "
	    "keys.release\n"
	    "      --kbs-cafile FILE  CA certificates for an https broker\n"
	    "      --kbs-enroll       bind the AK to the TPM's EK at the broker (MakeCredential)\n"
	    "      --audit OPTS       "
	    "fsync=N,fsync-ms=T,checkpoint=N,checkpoint-ms=T,rotate=SIZE,\n"
	    "                         queue=SIZE,tap=SIZE,ack=FILE (docs/AUDIT-LOG.md)\n"
	    "      --otlp OPTS        export the audit log over OTLP/HTTP (off by default):\n"
	    "                         endpoint=URL[,protocol=json][,ca=FILE,cert=FILE,key=FILE]\n"
	    "                         [,header=Name:value]... (docs/OBSERVABILITY.md)\n"
	    "  -v, --verbose          debug output, including libbpf's\n"
	    "  -h, --help, --version\n"
	    "\n"
	    "Exit status: 0 ok, 1 runtime error, 2 usage, 3 policy rejected, 4 kernel lacks BPF "
	    "LSM,\n5 --unload or --hand-over refused.\n");
}

/* The bundle and measurement options; 0 when c was one of them. */
static int parse_bundle_arg(int c, struct agent_options *opt)
{
	char *end;

	switch (c) {
	case 'b':
		opt->bundle_path = optarg;
		return 0;
	case 1000:
		opt->trust_dir = optarg;
		return 0;
	case 1001:
		opt->measure_log = optarg;
		return 0;
	case 1002:
		opt->tcti = optarg;
		return 0;
	case 1003:
		errno = 0;
		opt->pcr = (unsigned int)strtoul(optarg, &end, 10);
		if (*end || errno || opt->pcr > 23) {
			fprintf(stderr, "vigild: --pcr: expected 0 to 23\n");
			exit(EXIT_USAGE);
		}
		return 0;
	case 1004:
		opt->platform = optarg;
		return 0;
	case 1005:
		opt->tdx_rtmr = optarg;
		return 0;
	case 1006:
		opt->state_path = optarg;
		return 0;
	case 1007:
		opt->control_socket = optarg;
		return 0;
	case 1008:
		opt->dev_unsigned = true;
		return 0;
	case 1009: {
		char err[256];

		if (agent_otlp_check(optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "vigild: %s\n", err);
			exit(EXIT_USAGE);
		}
		opt->otlp_spec = optarg;
		return 0;
	}
	case 1010:
		opt->kbs_url = optarg;
		return 0;
	case 1011:
		opt->kbs_cafile = optarg;
		return 0;
	case 1014:
		opt->kbs_enroll = true;
		return 0;
	}
	return -ENOENT;
}

/* --hand-over with a bundle: enforce, then hand the pins over to this binary and exit. */
static const char *hand_over_to;

static int parse_args(int argc, char **argv, struct agent_options *opt, bool *check_only,
                      bool *unload, const char **hand_over)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"event-log", required_argument, NULL, 'e'},
	    {"ready-file", required_argument, NULL, 'r'},
	    {"check", no_argument, NULL, 'c'},
	    {"root", required_argument, NULL, 'R'},
	    {"cgroup-root", required_argument, NULL, 'C'},
	    {"ringbuf-size", required_argument, NULL, 'B'},
	    {"pin-dir", required_argument, NULL, 'P'},
	    {"unload", no_argument, NULL, 'U'},
	    {"hand-over", required_argument, NULL, 1020},
	    {"audit-dir", required_argument, NULL, 'A'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"audit", required_argument, NULL, 'O'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"bundle", required_argument, NULL, 'b'},
	    {"trust-dir", required_argument, NULL, 1000},
	    {"measure-log", required_argument, NULL, 1001},
	    {"tcti", required_argument, NULL, 1002},
	    {"pcr", required_argument, NULL, 1003},
	    {"platform", required_argument, NULL, 1004},
	    {"tdx-rtmr", required_argument, NULL, 1005},
	    {"state", required_argument, NULL, 1006},
	    {"control-socket", required_argument, NULL, 1007},
	    {"dev-unsigned", no_argument, NULL, 1008},
	    {"otlp", required_argument, NULL, 1009},
	    {"kbs-url", required_argument, NULL, 1010},
	    {"kbs-cafile", required_argument, NULL, 1011},
	    {"config", required_argument, NULL, 1012},
	    {"check-config", no_argument, NULL, 1013},
	    {"kbs-enroll", no_argument, NULL, 1014},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "b:p:e:r:vh", longopts, NULL)) != -1) {
		if (parse_bundle_arg(c, opt) == 0)
			continue;
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
		case 'B': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);

			if (*end || v < 4096 || v > (1ul << 30) || (v & (v - 1))) {
				fprintf(stderr,
				        "vigild: --ringbuf-size: '%s' is not a power of two "
				        "between 4096 and 1 GiB\n",
				        optarg);
				return -EINVAL;
			}
			opt->ringbuf_size = (uint32_t)v;
			break;
		}
		case 'P':
			opt->pin_dir = optarg;
			break;
		case 'U':
			*unload = true;
			break;
		case 1020:
			*hand_over = optarg;
			break;
		case 1012: /* read before getopt: agent_config_path() */
			break;
		case 1013:
			*check_only = true;
			opt->check_config = true;
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
			printf("vigild %s (ABI %d)\n", vigil_version, VIGIL_ABI_VERSION);
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
	if (opt->policy_path && opt->bundle_path) {
		fprintf(stderr,
		        "vigild: give one of --bundle FILE or --policy FILE (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* Everything short of touching the kernel; run before the BPF object is even opened. */
static int validate_policy(struct agent *a, struct policy *p)
{
	struct policy_exec_entry *entries = NULL;
	struct policy_error err = {0};
	size_t n = 0;
	int r;

	r = policy_resolve_exec(p, a->opt.root, &entries, &n, &err);
	if (r >= 0)
		r = policy_verify_exec(p, a->opt.root, entries, n, NULL, &err);
	free(entries);
	if (r < 0) {
		fprintf(stderr, "vigild: policy rejected: %s\n", err.msg);
		return EXIT_POLICY;
	}
	return EXIT_OK;
}

static int write_ready_file(const char *path)
{
	int fd;

	vigil_mkdir_parent(path, 0755); /* an error shows in open's below */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "creating ready file %s", path);
	dprintf(fd, "%d\n", getpid());
	close(fd);
	return 0;
}

/* Audit anchors (start record, checkpoint key, checkpoints) go into the measurement log. */
static int measure_audit_anchor(void *ctx, const char *content_type, const void *data, size_t len)
{
	struct measure_log *m = agent_measure_log(ctx);

	return m ? measure_record(m, content_type, data, len, NULL) : -ENODEV;
}

static int run(struct agent *a, char **argv)
{
	struct policy_error err = {0};
	uint64_t t_start = vigil_clock_ns(CLOCK_MONOTONIC);
	int r;

	/* One clear line per unmet kernel requirement, before libbpf's verbose failure. */
	if (agent_kernel_ready() < 0)
		return EXIT_KERNEL;
	r = agent_bpf_open(a);
	if (r < 0)
		return EXIT_KERNEL;
	/* Measure self first: the audit log's start record and key are anchored in this log. */
	r = agent_reload_open(a);
	if (r < 0) {
		r = EXIT_RUNTIME;
		goto out_events;
	}
	a->audit_anchor = measure_audit_anchor;
	a->audit_anchor_ctx = a;
	/* Fail-open for the record, not for enforcement: without a log vigild still enforces. */
	(void)agent_audit_open(a); /* reports its failure itself, in one line */
	if (agent_otlp_start(a) < 0)
		log_error("otlp: export unavailable: enforcing and logging without it");
	/* Before the policy, so that the start-up acceptance or refusal is an event too. */
	r = agent_events_open(a);
	if (r < 0) {
		r = EXIT_RUNTIME;
		goto out_events;
	}
	/* Verify → measure → enforce the configured bundle. */
	r = agent_reload_initial(a, &err);
	if (r < 0) {
		r = EXIT_POLICY;
		goto out_events;
	}
	/* Attach last: the programs never run without a complete policy behind them. */
	if (agent_bpf_attach(a) < 0) {
		r = EXIT_KERNEL;
		goto out_events;
	}
	/* After the first policy: a client is always answered by a vigild that enforces. */
	if (agent_control_open(a) < 0) {
		r = EXIT_RUNTIME;
		goto out_events;
	}
	if (a->opt.ready_file && write_ready_file(a->opt.ready_file) < 0) {
		r = EXIT_RUNTIME;
		goto out_events;
	}
	log_info("enforcing and ready %.1f ms after start",
	         (double)(vigil_clock_ns(CLOCK_MONOTONIC) - t_start) / 1e6);
	agent_notify_ready(a);
	/* The initramfs's vigild: the policy enforces from the pins; the real root's vigild takes
	 * them over once this one has closed everything (as a stop would) and handed over. */
	r = hand_over_to ? EXIT_OK : agent_loop(a, argv) < 0 ? EXIT_RUNTIME : EXIT_OK;
	log_info("stopping: %llu events written, %llu lost to a full ring buffer; the pinned "
	         "programs keep enforcing (vigild --unload ends enforcement)",
	         (unsigned long long)a->events_written,
	         (unsigned long long)agent_stat(a, VIGIL_STAT_RB_DROPS));
	agent_log_prog_stats(a);
out_events:
	agent_control_close(a);
	agent_events_close(a);
	agent_otlp_stop(a);
	agent_audit_close(a, a->stop_signal);
	agent_keys_close(a);
	agent_reload_close(a);
	applied_policy_clear(&a->cur);
	applied_policy_clear(&a->prev);
	agent_bpf_close(a);
	/* Last: from here on this process is no longer vigild to the kernel. */
	if (r == EXIT_OK && hand_over_to && agent_hand_over(a->opt.pin_dir, hand_over_to) < 0)
		r = EXIT_PERM;
	return r;
}

/* --check of a bundle: signatures and schema, then what --check does for a policy. */
static int load_for_check(struct agent *a, struct policy **ret)
{
	struct policy_error err = {0};
	struct trust_store *t = NULL;
	int r;

	if (a->opt.policy_path)
		r = policy_load_path(a->opt.policy_path, POLICY_LOAD_POLICY, NULL, ret, NULL, NULL,
		                     &err);
	else if ((r = trust_load_dir(a->opt.trust_dir ?: BUNDLE_DEFAULT_TRUST_DIR, &t, &err)) >= 0)
		r = policy_load_path(a->opt.bundle_path, POLICY_LOAD_BUNDLE, t, ret, NULL, NULL,
		                     &err);
	trust_free(t);
	if (r < 0)
		fprintf(stderr, "vigild: policy rejected: %s\n", err.msg);
	return r;
}

/*
 * Routes to stop vigild that no LSM hook sees: a controlling terminal delivers SIGHUP, SIGINT,
 * SIGTSTP... from whoever writes to it (TIOCSTI, hangup), and the OOM killer picks by
 * oom_score_adj. vigild leaves any terminal's session and asks never to be the OOM killer's
 * choice. Both fail open with a log line: a service manager already starts vigild without a
 * terminal, and the scope cannot change vigild's oom_score_adj (bpf/self.bpf.h).
 */
static void harden_process(void)
{
	ssize_t n;
	int fd, err;

	/* setsid's errno is taken before getsid, which may change it. */
	if (setsid() < 0) {
		err = errno;
		if (getsid(0) != getpid())
			log_info("setsid: %s; a controlling terminal could signal vigild",
			         strerror(err));
	}
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		log_info("cannot set oom_score_adj to -1000: %s", strerror(errno));
		return;
	}
	n = write(fd, "-1000", 5);
	/* A short write sets no errno: say so instead of reading a stale one. */
	err = n < 0 ? errno : EIO;
	close(fd);
	if (n != 5)
		log_info("cannot set oom_score_adj to -1000: %s", strerror(err));
}

int main(int argc, char **argv)
{
	struct agent a = {0};
	bool check_only = false, unload = false, cfg_explicit;
	const char *hand_over = NULL;
	struct agent_config cfg = {0};
	const char *cfg_path, *cfg_bundle, *cfg_policy;
	char cfg_err[AGENT_CONFIG_ERR_MAX];
	struct policy *p;
	int r;

	/* First of all, before any thread: every stop, reload and re-exec signal is read with its
	 * sender from a signalfd (agent/loop.c). */
	r = agent_signals_block();
	if (r < 0) {
		fprintf(stderr, "vigild: cannot set up signal handling: %s\n", strerror(-r));
		return EXIT_RUNTIME;
	}
	agent_options_defaults(&a.opt);
	/* The file first, then the flags over it: a flag wins over the file's key. */
	cfg_path = agent_config_path(argc, argv, &cfg_explicit);
	if (strcmp(cfg_path, "none") != 0 &&
	    agent_config_load(cfg_path, cfg_explicit, &a.opt, &cfg, cfg_err, sizeof(cfg_err)) < 0) {
		/* Never half-configured: nothing of a bad file is used, vigild does not start. */
		fprintf(stderr, "vigild: %s\n", cfg_err);
		return EXIT_USAGE;
	}
	if (cfg.verbose)
		vigil_log_verbose = 1;
	cfg_bundle = a.opt.bundle_path;
	cfg_policy = a.opt.policy_path;
	a.opt.bundle_path = a.opt.policy_path = NULL;
	if (parse_args(argc, argv, &a.opt, &check_only, &unload, &hand_over) < 0)
		return EXIT_USAGE;
	/* With a bundle: enforce it, then hand over and exit (the initramfs's vigild). Alone: hand
	 * over the pins of a vigild the platform stopped. */
	if (hand_over && !a.opt.bundle_path && !a.opt.policy_path && !cfg_bundle && !cfg_policy) {
		r = agent_hand_over(a.opt.pin_dir, hand_over);
		return r == -EPERM || r == -EBUSY ? EXIT_PERM : r < 0 ? EXIT_RUNTIME : EXIT_OK;
	}
	hand_over_to = hand_over;
	if (!a.opt.bundle_path && !a.opt.policy_path) {
		a.opt.bundle_path = cfg_bundle;
		a.opt.policy_path = cfg_policy;
	}
	if (!unload && !a.opt.bundle_path && !a.opt.policy_path) {
		if (!cfg.has_file) {
			fprintf(stderr, "vigild: give one of --bundle FILE or --policy FILE (see "
			                "--help)\n");
			return EXIT_USAGE;
		}
		if (a.opt.check_config) {
			printf(
			    "%s: configuration valid; no bundle configured: vigild would run idle "
			    "and enforce nothing\n",
			    cfg_path);
			return EXIT_OK;
		}
		if (check_only) {
			fprintf(stderr, "vigild: --check: no bundle configured in %s\n", cfg_path);
			return EXIT_USAGE;
		}
		harden_process();
		return agent_run_idle(&a.opt, cfg_path, argv) < 0 ? EXIT_RUNTIME : EXIT_OK;
	}
	if (check_only || unload) {
		sigset_t all;

		/* One-shot commands an operator may interrupt from a terminal. */
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
	}
	if (unload) {
		r = agent_unload(a.opt.pin_dir, a.opt.cgroup_root);
		return r == -EPERM ? EXIT_PERM : r < 0 ? EXIT_RUNTIME : EXIT_OK;
	}
	harden_process();
	if (a.opt.dev_unsigned)
		log_info("WARNING: --dev-unsigned: the control socket accepts unsigned policies; "
		         "development only, never in production");
	/*
	 * Signatures and schema are checked before the BPF object is even opened, so a bad bundle
	 * never reaches the kernel (fail closed: vigild does not start, pinned enforcement stays).
	 * Digests are not: a listed file is the workload's to write, and its content decides only
	 * that rule (agent_apply_policy revokes it), never whether vigild runs. --check, an image
	 * build's tool, still fails on any digest.
	 */
	if (load_for_check(&a, &p) < 0)
		return EXIT_POLICY;
	r = check_only ? validate_policy(&a, p) : EXIT_OK;
	if (r == EXIT_OK && a.opt.check_config)
		printf("%s: configuration valid\n", cfg.has_file ? cfg_path : "(no file)");
	if (r == EXIT_OK && check_only)
		printf("%s: policy '%s' serial %llu is valid (%zu exec rules, digests match)\n",
		       p->origin, p->name, (unsigned long long)p->serial, p->n_exec);
	policy_free(p);
	if (r != EXIT_OK || check_only)
		return r;
	return run(&a, argv);
}
