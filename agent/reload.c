/* vigild's policy intake: verify → measure → enforce for start-up, SIGHUP and the control socket.
 */
#include "agent/agent.h"
#include "agent/keyrelease.h"
#include "agent/control.h"
#include "lib/log.h"
#include "attest/attest.h"

#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vigil.skel.h"

struct agent_reload {
	struct trust_store *trust; /* NULL in the unsigned --policy mode */
	struct measure_log *log;
	struct hwm_store *hwm;
	/* What before_publish measures for the policy being applied. */
	const char *pending_type;
	const char *pending_content;
};

struct measure_log *agent_measure_log(struct agent *a)
{
	return a->reload ? a->reload->log : NULL;
}

/* The log's first record after a fresh start: which agent and which BPF programs run. */
static int measure_self(struct agent *a)
{
	char exe[2 * POLICY_SHA256_LEN + 1], bpf[2 * POLICY_SHA256_LEN + 1];
	uint8_t d[POLICY_SHA256_LEN];
	const void *elf;
	size_t elf_len;
	json_t *obj;
	char *text;
	int r;

	r = vigil_sha256_file("/proc/self/exe", d);
	if (r < 0)
		return log_error_errno(r, "hashing /proc/self/exe");
	vigil_hex(d, sizeof(d), exe);
	elf = vigil_bpf__elf_bytes(&elf_len);
	EVP_Digest(elf, elf_len, d, NULL, EVP_sha256(), NULL);
	vigil_hex(d, sizeof(d), bpf);
	obj = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i}", "agent", "vigild", "version",
	                vigil_version, "abi", VIGIL_ABI_VERSION, "vigild_sha256", exe, "bpf_sha256",
	                bpf, "pid", (int)getpid());
	text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	r = measure_record(a->reload->log, ATTEST_CT_START, text, strlen(text), NULL);
	free(text);
	if (r < 0)
		log_error("measuring vigild itself: %s", measure_error(a->reload->log));
	return r;
}

static int before_publish(struct agent *a, const struct policy *p, struct policy_error *err)
{
	struct agent_reload *rl = a->reload;
	uint64_t recnum;
	int r;

	if (!rl->pending_type) /* every policy reaches the kernel through this file */
		return policy_errorf(err, -EINVAL, "%s: not measured: not applied through reload.c",
		                     p->origin);
	r = measure_record(rl->log, rl->pending_type, rl->pending_content,
	                   strlen(rl->pending_content), &recnum);
	if (r < 0)
		return policy_errorf(err, r, "%s: measuring the policy failed: %s", p->origin,
		                     measure_error(rl->log));
	log_info("policy '%s' serial %llu measured as record %llu", p->name,
	         (unsigned long long)p->serial, (unsigned long long)recnum);
	return r;
}

static const char *resolve_tcti(const char *tcti)
{
	if (!tcti || strcmp(tcti, "auto") == 0)
		return access("/dev/tpmrm0", F_OK) == 0 ? "device:/dev/tpmrm0" : NULL;
	return strcmp(tcti, "none") == 0 ? NULL : tcti;
}

int agent_reload_open(struct agent *a)
{
	struct measure_config cfg = {
	    .log_path = a->opt.measure_log,
	    .tcti = resolve_tcti(a->opt.tcti),
	    .pcr = a->opt.pcr,
	    .tdx_rtmr_path = a->opt.tdx_rtmr,
	};
	struct policy_error err = {0};
	struct agent_reload *rl = calloc(1, sizeof(*rl));
	int r;

	if (!rl)
		return -ENOMEM;
	a->reload = rl;
	a->before_publish = before_publish;
	r = measure_platform_parse(a->opt.platform ?: "auto", &cfg.platform);
	if (r < 0)
		return log_error_errno(r, "--platform %s: expected auto, none, tdx or snp",
		                       a->opt.platform);
	if (a->opt.bundle_path) {
		r = trust_load_dir(a->opt.trust_dir ?: BUNDLE_DEFAULT_TRUST_DIR, &rl->trust, &err);
		if (r < 0) {
			log_error("%s", err.msg);
			return r;
		}
	}
	r = measure_open(&cfg, &rl->log, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	if (measure_notice(rl->log))
		log_info("%s", measure_notice(rl->log));
	if (attest_tpm_notice(measure_tpm(rl->log)))
		log_info("%s", attest_tpm_notice(measure_tpm(rl->log)));
	log_info("measuring into %s: %s%s, platform %s", a->opt.measure_log ?: ATTEST_DEFAULT_LOG,
	         cfg.tcti ? "vTPM via " : "no vTPM (log only)", cfg.tcti ?: "",
	         measure_platform_name(cfg.platform));
	r = hwm_open(measure_tpm(rl->log), a->opt.state_path, &rl->hwm);
	if (r < 0)
		return r;
	if (!measure_tpm(rl->log))
		log_info("rollback marks in %s: a state file is weaker than TPM NV (an image "
		         "rewrite resets it)",
		         a->opt.state_path ?: ATTEST_DEFAULT_HWM_STATE);
	return measure_self(a);
}

void agent_reload_close(struct agent *a)
{
	struct agent_reload *rl = a->reload;

	if (!rl)
		return;
	hwm_close(rl->hwm);
	measure_close(rl->log);
	trust_free(rl->trust);
	free(rl);
	a->reload = NULL;
	a->before_publish = NULL;
}

/*
 * The refusal's reason was set where it happened (err->reason); a policy that passed every
 * check but could not be applied is not_applicable, and anything else is malformed.
 */
static void report_reject(struct agent *a, const char *source, const char *origin,
                          const struct policy_error *err, bool applying)
{
	const char *reason = applying ? "not_applicable" : err->reason ?: "malformed", *msg = err->msg;
	const struct policy *cur = a->cur.policy;

	log_error("%s rejected (%s): %s; '%s' serial %llu stays in force", origin, source, msg,
	          cur ? cur->name : "(none)", cur ? (unsigned long long)cur->serial : 0ULL);
	agent_event_write(a, "policy_rejected",
	                  json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I}", "source", source, "file",
	                            origin, "reason", reason, "error", msg, "policy",
	                            cur ? cur->name : NULL, "policy_serial",
	                            cur ? (json_int_t)cur->serial : 0));
	/* A revocation trigger: whoever tried to change the policy gets no key meanwhile. */
	agent_keys_revoke_all(a, "policy_rejected");
}

/* verify_ms: read to admitted (signatures, parse, rollback); apply_ms: resolve, hash, fill,
 * measure, swap. */
static void report_loaded(struct agent *a, const char *source, const char *type,
                          const char *content, double verify_ms, double apply_ms)
{
	const struct policy *p = a->cur.policy;

	log_info("policy '%s' serial %llu loaded from %s: verify %.1f ms, apply %.1f ms", p->name,
	         (unsigned long long)p->serial, source, verify_ms, apply_ms);
	agent_event_write(
	    a, "policy_loaded",
	    json_pack("{s:s, s:s, s:I, s:i, s:I, s:I, s:f, s:f, s:s, s:o?}", "source", source,
	              "policy", p->name, "policy_serial", (json_int_t)p->serial, "generation",
	              (int)a->cur.gen, "exec_rules", (json_int_t)p->n_exec, "exec_hashed",
	              (json_int_t)a->cur.n_hashed, "verify_ms", verify_ms, "apply_ms", apply_ms,
	              "measurement_type", type, "measurement", json_loads(content, 0, NULL)));
	agent_keys_policy_loaded(a);
}

/* Applies p with content measured right before the switch; takes p on success. */
static int apply_measured(struct agent *a, struct policy *p, const char *type, const char *content,
                          struct policy_error *err)
{
	int r;

	a->reload->pending_type = type;
	a->reload->pending_content = content;
	r = agent_apply_policy(a, p, err);
	a->reload->pending_type = NULL;
	a->reload->pending_content = NULL;
	/* Fail-open for the addition only: the trusted base protected so far stays protected. */
	if (r == 0 && agent_self_protect_maps(a) < 0)
		log_error("self-protection: the files mapped since start are not all protected");
	return r;
}

static int accept_bundle(struct agent *a, const char *buf, size_t len, const char *origin,
                         const char *source, struct policy_error *err)
{
	struct agent_reload *rl = a->reload;
	struct bundle_admission adm = {0};
	char *content = NULL;
	double t0 = vigil_now_ms(), t1;
	int r;

	r = bundle_admit(buf, len, origin, rl->trust, rl->hwm, &adm, err);
	t1 = vigil_now_ms();
	if (r < 0) {
		report_reject(a, source, origin, err, false);
		return r;
	}
	content = bundle_measurement(&adm);
	r = content ? apply_measured(a, adm.policy, ATTEST_CT_BUNDLE, content, err) : -ENOMEM;
	if (r < 0) {
		report_reject(a, source, origin, err, true);
		goto out;
	}
	r = bundle_commit(rl->hwm, &adm);
	adm.policy = NULL; /* enforcing: the agent owns it */
	if (r < 0)
		/* Enforcing already; only a later rollback attempt could exploit the stale mark. */
		log_error("raising the rollback mark of '%s': %s", a->cur.policy->name,
		          hwm_error(rl->hwm));
	report_loaded(a, source, ATTEST_CT_BUNDLE, content, t1 - t0, vigil_now_ms() - t1);
	r = 0;
out:
	free(content);
	bundle_admission_clear(&adm);
	return r;
}

/* Development mode: an unsigned policy is still measured, under its own content type. */
static int accept_unsigned(struct agent *a, const char *buf, size_t len, const char *origin,
                           const char *source, struct policy_error *err)
{
	uint8_t d[POLICY_SHA256_LEN];
	char hex[2 * POLICY_SHA256_LEN + 1], *content = NULL;
	struct policy *p;
	double t0 = vigil_now_ms(), t1;
	json_t *obj;
	int r;

	r = policy_parse(buf, len, origin, &p, err);
	t1 = vigil_now_ms();
	if (r < 0) {
		report_reject(a, source, origin, err, false);
		return r;
	}
	EVP_Digest(buf, len, d, NULL, EVP_sha256(), NULL);
	vigil_hex(d, sizeof(d), hex);
	obj = json_pack("{s:s, s:I, s:s, s:[]}", "policy", p->name, "serial", (json_int_t)p->serial,
	                "payload_sha256", hex, "signers");
	content = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(obj);
	r = content ? apply_measured(a, p, ATTEST_CT_UNSIGNED, content, err) : -ENOMEM;
	if (r < 0) {
		policy_free(p);
		report_reject(a, source, origin, err, true);
	} else {
		report_loaded(a, source, ATTEST_CT_UNSIGNED, content, t1 - t0, vigil_now_ms() - t1);
	}
	free(content);
	return r;
}

static int accept_buffer(struct agent *a, const char *buf, size_t len, const char *origin,
                         const char *source, struct policy_error *err)
{
	if (a->reload->trust)
		return accept_bundle(a, buf, len, origin, source, err);
	return accept_unsigned(a, buf, len, origin, source, err);
}

/* After a load: the bundle buffer and parse trees are gone; give their heap back, not keep the
 * peak. */
static void release_heap(void)
{
	malloc_trim(0);
}

static int accept_file(struct agent *a, const char *source, struct policy_error *err)
{
	const char *path = a->opt.bundle_path ?: a->opt.policy_path;
	size_t len;
	char *buf;
	int r;

	r = bundle_read_file(path, a->reload->trust ? BUNDLE_MAX_BYTES : POLICY_MAX_BYTES, &buf,
	                     &len, err);
	if (r < 0) {
		report_reject(a, source, path, err, false);
		return r;
	}
	r = accept_buffer(a, buf, len, path, source, err);
	free(buf);
	release_heap();
	return r;
}

int agent_reload_initial(struct agent *a, struct policy_error *err)
{
	return accept_file(a, "start", err);
}

void agent_reload_file(struct agent *a, const char *source)
{
	struct policy_error err = {0};

	log_info("%s: re-reading %s", source, a->opt.bundle_path ?: a->opt.policy_path);
	accept_file(a, source, &err);
}

int agent_reload_push(struct agent *a, const char *buf, size_t len, char *reply, size_t size)
{
	struct policy_error err = {0};
	size_t plen = strlen(VIGIL_CONTROL_PUSH);
	int r;

	if (!buf) {
		r = vigil_reasonf(&err, -EFBIG, "too_large", "bundle larger than %u bytes",
		                  BUNDLE_MAX_BYTES);
		report_reject(a, "push", "control socket", &err, false);
		snprintf(reply, size, "error: %s", err.msg);
		return r;
	}
	if (len < plen || memcmp(buf, VIGIL_CONTROL_PUSH, plen) != 0) {
		snprintf(reply, size, "error: expected \"push\" and a bundle");
		return -EINVAL;
	}
	/* Whoever may push could otherwise name any policy at all: only a signed one, unless the
	 * platform started vigild in development mode. */
	if (!a->reload->trust && !a->opt.dev_unsigned) {
		r = vigil_reasonf(&err, -EPERM, "unsigned",
		                  "vigild runs an unsigned --policy: pushes are refused (start "
		                  "vigild with --bundle, or --dev-unsigned for development)");
		report_reject(a, "push", "pushed policy", &err, false);
		snprintf(reply, size, "error: %s", err.msg);
		return r;
	}
	r = accept_buffer(a, buf + plen, len - plen, "pushed bundle", "push", &err);
	if (r < 0)
		snprintf(reply, size, "error: %s", err.msg);
	else
		snprintf(reply, size, "ok policy '%s' serial %llu enforcing (generation %u)",
		         a->cur.policy->name, (unsigned long long)a->cur.policy->serial,
		         a->cur.gen);
	release_heap();
	return r;
}
