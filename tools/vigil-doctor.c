/* vigil doctor: checks a system vigil runs on, one line per check with its fix. */
#include "tools/vigil.h"
#include "tools/vigil-sys.h"
#include "attest/attest.h"
#include "audit/audit.h"
#include "exporters/otlp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The audit log rotates at 64 MiB by default: less free space than one file is a failure. */
#define DOCTOR_MIN_FREE (64ull << 20)

struct doctor {
	struct vigil_sys sys;
	unsigned int fails, warns;
};

static void report(struct doctor *d, enum kcheck_status st, const char *name, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report(struct doctor *d, enum kcheck_status st, const char *name, const char *fix,
                   const char *fmt, ...)
{
	static const char *tag[] = {"ok  ", "WARN", "FAIL"};
	va_list ap;

	printf("%s %-11s ", tag[st], name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (st != KCHECK_OK && fix && *fix)
		printf(" -- fix: %s", fix);
	printf("\n");
	d->fails += st == KCHECK_FAIL;
	d->warns += st == KCHECK_WARN;
}

static void check_config(struct doctor *d)
{
	struct vigil_sys *s = &d->sys;

	if (s->config_err[0])
		report(d, KCHECK_FAIL, "config",
		       "correct it; vigild --check-config shows the result", "%s", s->config_err);
	else if (!s->cfg.has_file)
		report(d, KCHECK_WARN, "config",
		       "install /etc/vigil/vigild.conf (the package has one)",
		       "%s is missing: vigild needs --bundle on its command line", s->config_path);
	else
		report(d, KCHECK_OK, "config", NULL, "%s parses", s->config_path);
	if (!s->opt.bundle_path && !s->opt.policy_path)
		report(d, KCHECK_FAIL, "bundle",
		       "install a signed bundle and its signers' keys in /etc/vigil/trust.d, set "
		       "'bundle = FILE' in /etc/vigil/vigild.conf, then: systemctl reload vigild",
		       "no policy bundle configured: vigild runs idle and enforces nothing");
	else if (s->opt.policy_path)
		report(d, KCHECK_WARN, "bundle",
		       "sign the policy (vigil policy sign) and set 'bundle'",
		       "an unsigned development policy is configured (%s)", s->opt.policy_path);
	else if (access(s->opt.bundle_path, R_OK) < 0)
		report(d, KCHECK_FAIL, "bundle", "install the bundle file or correct 'bundle'",
		       "%s: %s", s->opt.bundle_path, strerror(errno));
	else
		report(d, KCHECK_OK, "bundle", NULL, "%s configured", s->opt.bundle_path);
}

static void check_kernel(struct doctor *d)
{
	struct kcheck c[KCHECK_COUNT];

	agent_kernel_requirements("", c);
	for (int i = 0; i < KCHECK_COUNT; i++)
		report(d, c[i].status, c[i].name, c[i].fix, "%s", c[i].msg);
}

static void check_agent(struct doctor *d)
{
	struct vigil_sys *s = &d->sys;
	bool vigild_ok = s->vigild_pid && s->from_vigild;

	if (s->vigild_pid && !s->from_vigild)
		report(d, KCHECK_FAIL, "vigild",
		       "check journalctl -u vigild; systemctl restart vigild",
		       "vigild (pid %d) does not answer on %s", s->vigild_pid,
		       s->opt.control_socket);
	else if (s->vigild_pid)
		report(d, KCHECK_OK, "vigild", NULL, "running, pid %d, up %.0f s, answers on %s",
		       s->vigild_pid, s->vigild_uptime, s->opt.control_socket);
	else
		report(d, KCHECK_FAIL, "vigild",
		       "systemctl start vigild; its reason is in journalctl -u vigild",
		       "vigild is not running%s",
		       s->pins > 0 ? " (the pinned programs enforce)" : "");
	if (s->pins == -EPERM)
		report(d, vigild_ok ? KCHECK_OK : KCHECK_WARN, "pins", "systemctl start vigild",
		       "programs pinned in %s and enforcing (their self-protection refused to show "
		       "them; vigild %s)",
		       s->opt.pin_dir, vigild_ok ? "answers" : "does not answer");
	else if (s->pins < 0)
		report(d, KCHECK_FAIL, "pins", "run vigil doctor as root (bpf(2) needs it)",
		       "cannot read the pins in %s: %s", s->opt.pin_dir, strerror(-s->pins));
	else if (!s->pins)
		report(d, KCHECK_FAIL, "pins",
		       "systemctl restart vigild (it loads and pins the programs again)",
		       "no pinned programs in %s: nothing is enforced", s->opt.pin_dir);
	else if (s->abi_version != VIGIL_ABI_VERSION)
		report(d, KCHECK_FAIL, "pins",
		       "reboot, or vigild --unload then systemctl restart vigild, to load this "
		       "version's programs",
		       "pinned programs speak ABI %u, this vigil ABI %u", s->abi_version,
		       VIGIL_ABI_VERSION);
	else if (!s->active_gen)
		report(d, KCHECK_FAIL, "pins", "systemctl restart vigild",
		       "%u pinned programs but no policy generation is active", s->n_links);
	else
		report(d, KCHECK_OK, "pins", NULL,
		       "%u programs pinned in %s, ABI %u, generation %u", s->n_links,
		       s->opt.pin_dir, s->abi_version, s->active_gen);
}

/* The vTPM and the PCR; returns the open TPM for the replay check, or NULL. */
static struct attest_tpm *check_tpm(struct doctor *d)
{
	struct vigil_sys *s = &d->sys;
	struct attest_digest cur;
	struct attest_tpm *t;
	struct vigil_error err;
	uint16_t algs[ATTEST_MAX_BANKS];
	size_t n = ATTEST_MAX_BANKS;
	int r;

	if (!s->tcti) {
		report(
		    d, KCHECK_FAIL, "tpm",
		    "give the VM a vTPM (the CVM's, or swtpm) so that /dev/tpmrm0 exists, or set "
		    "'tcti' in /etc/vigil/vigild.conf",
		    "no vTPM (/dev/tpmrm0 is missing, tcti %s): policies and audit anchors are "
		    "not measured into a PCR",
		    s->opt.tcti ?: "auto");
		return NULL;
	}
	r = attest_tpm_open_err(s->tcti, &t, &err);
	if (r < 0) {
		report(d, KCHECK_FAIL, "tpm",
		       r == -ATTEST_TPM_UNREACHABLE
		           ? "check the TPM device and its driver (dmesg | grep -i tpm) and 'tcti' "
		             "in /etc/vigil/vigild.conf"
		           : "check the TPM device and its driver (dmesg | grep -i tpm)",
		       "%s", err.msg);
		return NULL;
	}
	report(d, KCHECK_OK, "tpm", NULL, "vTPM reachable through %s", s->tcti);
	r = attest_tpm_banks(t, s->opt.pcr, algs, &n);
	if (r == 0 && n)
		r = attest_tpm_read(t, s->opt.pcr, algs[0], &cur);
	if (r < 0 || !n)
		report(d, KCHECK_FAIL, "pcr",
		       "allocate a SHA-256 bank (tpm2_pcrallocate) or choose another 'pcr'",
		       "PCR %u has no bank vigil can extend and read", s->opt.pcr);
	else if (attest_tpm_notice(t))
		report(d, KCHECK_OK, "pcr", NULL, "PCR %u readable (%zu banks); %s", s->opt.pcr, n,
		       attest_tpm_notice(t));
	else
		report(d, KCHECK_OK, "pcr", NULL, "PCR %u readable (%zu banks)", s->opt.pcr, n);
	return t;
}

static bool same_digest(const struct attest_digest *a, const struct attest_digest *b)
{
	return a->len == b->len && memcmp(a->d, b->d, a->len) == 0;
}

static void check_measured(struct doctor *d, struct attest_tpm *t)
{
	struct vigil_sys *s = &d->sys;
	const char *log = s->opt.measure_log ?: ATTEST_DEFAULT_LOG;
	struct measure_replay rp;
	char err[512], type[64];
	char *json = NULL;
	size_t i;

	if (measure_replay_strict(log, true, &rp, err, sizeof(err)) < 0) {
		report(d, KCHECK_FAIL, "measured",
		       "start vigild (systemctl restart vigild): it measures itself and the policy",
		       "%s", err);
		return;
	}
	if (vigil_sys_last_policy(log, type, sizeof(type), &json) < 0) {
		report(d, KCHECK_FAIL, "measured", "configure a bundle (see 'bundle' above)",
		       "%s: no policy was measured", log);
		return;
	}
	for (i = 0; t && rp.pcr >= 0 && i < rp.pcr_banks.n; i++) {
		struct attest_digest cur;

		if (attest_tpm_read(t, (unsigned int)rp.pcr, rp.pcr_banks.v[i].alg, &cur) < 0 ||
		    !same_digest(&cur, &rp.pcr_banks.v[i])) {
			report(
			    d, KCHECK_FAIL, "measured",
			    "the log and the PCR disagree: treat the measurements as void; reboot "
			    "to start a new chain",
			    "%s replays to a PCR %d %s that the vTPM does not hold", log, rp.pcr,
			    attest_alg_name(rp.pcr_banks.v[i].alg));
			free(json);
			return;
		}
	}
	report(d, t ? KCHECK_OK : KCHECK_WARN, "measured", "see 'tpm' above",
	       "%s: %llu records%s; in force: %s %s", log, (unsigned long long)rp.records,
	       t ? ", replay matches the PCR" : ", not compared (no vTPM)", type, json);
	free(json);
}

static void check_audit(struct doctor *d)
{
	struct vigil_sys *s = &d->sys;
	struct audit_verify_options o = {.dir = s->opt.audit_dir};
	struct audit_options ao;
	struct audit_verify_result res;
	char path[4096], why[200];
	struct stat st;
	double age;

	if (strcmp(s->opt.audit_dir, "none") == 0) {
		report(d, KCHECK_WARN, "audit", "remove 'audit-dir = none'",
		       "the audit log is turned off");
		return;
	}
	audit_options_defaults(&ao);
	if (s->opt.audit_spec)
		audit_options_parse(&ao, s->opt.audit_spec, why, sizeof(why));
	memset(&res, 0, sizeof(res));
	audit_verify(&o, &res);
	if (res.status == AUDIT_NO_LOG) {
		report(d, KCHECK_FAIL, "audit",
		       "start vigild (systemctl start vigild): it creates the log",
		       "no audit log: %s", res.msg);
		return;
	}
	if (res.status != AUDIT_OK && res.status != AUDIT_UNCOVERED) {
		report(d, KCHECK_FAIL, "audit",
		       "keep the log as evidence (the host may be compromised); move the directory "
		       "aside and restart vigild to begin a new chain",
		       "%s does not verify: %s", s->opt.audit_dir, res.msg);
		return;
	}
	report(d, KCHECK_OK, "audit", NULL, "%s verifies: %llu records, %llu checkpoints",
	       s->opt.audit_dir, (unsigned long long)res.records,
	       (unsigned long long)res.checkpoints);
	snprintf(path, sizeof(path), "%s/%s", s->opt.audit_dir, AUDIT_CHECKPOINTS);
	age = stat(path, &st) == 0 ? difftime(time(NULL), st.st_mtime) : -1;
	/* Records wait at most checkpoint-ms for their checkpoint; allow twice that and 5 s. */
	if (res.covered < res.records && (age < 0 || age * 1000 > 2.0 * ao.checkpoint_ms + 5000))
		report(d, KCHECK_FAIL, "checkpoint",
		       "check vigild's journal (the checkpoint key, the TPM) and restart vigild",
		       "records %llu to %llu have no signed checkpoint; last checkpoint %s",
		       (unsigned long long)res.covered + 1, (unsigned long long)res.records,
		       age < 0 ? "never" : "too old");
	else
		report(d, KCHECK_OK, "checkpoint", NULL,
		       "%llu of %llu records under a signed checkpoint, last written %.0f s ago",
		       (unsigned long long)res.covered, (unsigned long long)res.records, age);
}

static void check_space(struct doctor *d)
{
	const char *dir = strcmp(d->sys.opt.audit_dir, "none") ? d->sys.opt.audit_dir : "/var/log";
	struct statvfs v;
	unsigned long long avail, total;

	/* Not created yet: the file system it will be on. */
	if (access(dir, F_OK) < 0 && strcmp(dir, "/var/log/vigil") == 0)
		dir = "/var/log";
	if (statvfs(dir, &v) < 0) {
		report(d, KCHECK_FAIL, "disk", "create the directory (systemctl restart vigild)",
		       "%s: %s", dir, strerror(errno));
		return;
	}
	avail = (unsigned long long)v.f_bavail * v.f_frsize;
	total = (unsigned long long)v.f_blocks * v.f_frsize;
	if (avail < DOCTOR_MIN_FREE)
		report(d, KCHECK_FAIL, "disk",
		       "free space on that file system or give the log its own volume; a full disk "
		       "makes vigild drop (and count) audit records",
		       "%llu MiB free for %s (less than one 64 MiB log file)", avail >> 20, dir);
	else if (avail < total / 10)
		report(d, KCHECK_WARN, "disk", "free space on that file system",
		       "%llu MiB free for %s (under 10%%)", avail >> 20, dir);
	else
		report(d, KCHECK_OK, "disk", NULL, "%llu MiB free for %s", avail >> 20, dir);
}

/* The OTLP receiver vigild exports to, when `otlp` is configured: asked once, as the exporter
 * would. */
static void check_exporter(struct doctor *d)
{
	const char *spec = d->sys.opt.otlp_spec;
	struct otlp_options o;
	char err[256], msg[300];
	long status;
	int r;

	if (!spec || !*spec) {
		report(d, KCHECK_OK, "exporter", NULL, "no OTLP export configured");
		return;
	}
	otlp_options_defaults(&o);
	if (otlp_options_parse(&o, spec, err, sizeof(err)) < 0) {
		report(d, KCHECK_FAIL, "exporter",
		       "correct 'otlp' in the config (docs/OBSERVABILITY.md)", "otlp: %s", err);
		otlp_options_free(&o);
		return;
	}
	/* A doctor answers in seconds; the exporter's own timeout is for a loaded receiver. */
	if (o.timeout_ms > 5000)
		o.timeout_ms = 5000;
	r = otlp_probe(&o, &status, msg, sizeof(msg));
	if (r == 0)
		report(d, KCHECK_OK, "exporter", NULL, "%s answers (%s)", o.endpoint, msg);
	else if (r == -EPROTO)
		report(d, KCHECK_FAIL, "exporter",
		       status == 401 || status == 403
		           ? "set the receiver's credentials (otlp header=Name:value)"
		           : "check the endpoint's path and the receiver's OTLP/HTTP settings",
		       "%s refused an empty log request: %s (records wait in the audit log)",
		       o.endpoint, msg);
	else
		report(
		    d, KCHECK_FAIL, "exporter",
		    "start the receiver or correct 'otlp endpoint=' (and ca=, cert=, key= for TLS)",
		    "%s unreachable: %s (records wait in the audit log)", o.endpoint, msg);
	otlp_options_free(&o);
}

int do_doctor(int argc, char **argv)
{
	const char *config = NULL;
	struct attest_tpm *t;
	struct doctor d = {0};
	int r =
	    vigil_sys_args(argc, argv, "usage: vigil doctor [--config FILE]",
	                   "Checks this system for vigil: configuration, kernel (BPF LSM, BTF,\n"
	                   "lockdown), vigild, pinned programs and their ABI, the vTPM and PCR,\n"
	                   "the measured policy (replay against the PCR), the audit log and its\n"
	                   "checkpoints, free space, the OTLP receiver when one is configured.\n"
	                   "One line per check; a failed or doubtful one says how to fix it.\n"
	                   "Run as root.\n\n"
	                   "Exit status: 0 no check failed (warnings allowed), 1 a check failed,\n"
	                   "2 usage.\n",
	                   &config);

	if (r >= 0)
		return r;
	vigil_sys_probe(&d.sys, config);
	check_config(&d);
	check_kernel(&d);
	check_agent(&d);
	t = check_tpm(&d);
	check_measured(&d, t);
	if (t)
		attest_tpm_close(t);
	check_audit(&d);
	check_space(&d);
	check_exporter(&d);
	printf("%u failed, %u warnings\n", d.fails, d.warns);
	vigil_sys_free(&d.sys);
	return d.fails ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
}
