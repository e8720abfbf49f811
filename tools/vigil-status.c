/* vigil status: what is in force, read from the pins, the measurement log and the audit log. */
#include "tools/vigil.h"
#include "tools/vigil-sys.h"
#include "attest/attest.h"
#include "audit/audit.h"
#include "policies/bundle.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The configured bundle's policy when its payload is the one measured last, else NULL. */
static struct policy *configured_policy(const struct vigil_sys *s, const char *payload_hex)
{
	struct policy_error err = {0};
	struct bundle_signers signers;
	struct trust_store *t = NULL;
	struct bundle *b = NULL;
	struct policy *p = NULL;
	char hex[2 * POLICY_SHA256_LEN + 1];
	size_t len;
	char *buf;

	if (s->opt.policy_path) {
		policy_load_file(s->opt.policy_path, &p, &err);
		return p;
	}
	if (!s->opt.bundle_path ||
	    trust_load_dir(s->opt.trust_dir ?: BUNDLE_DEFAULT_TRUST_DIR, &t, &err) < 0)
		return NULL;
	if (bundle_read_file(s->opt.bundle_path, BUNDLE_MAX_BYTES, &buf, &len, &err) == 0) {
		if (bundle_open(buf, len, s->opt.bundle_path, t, &b, &signers, &p, &err) == 0) {
			policy_hex(b->payload_digest, POLICY_SHA256_LEN, hex);
			if (!payload_hex || strcmp(hex, payload_hex) != 0) {
				policy_free(p);
				p = NULL;
			}
		}
		free(buf);
	}
	bundle_free(b);
	trust_free(t);
	return p;
}

static void print_policy(const struct vigil_sys *s)
{
	const char *log = s->opt.measure_log ?: ATTEST_DEFAULT_LOG;
	json_t *j = NULL, *signers;
	struct policy *p = NULL;
	char type[64], *text = NULL;
	size_t i;

	if (vigil_sys_last_policy(log, type, sizeof(type), &text) < 0 ||
	    !(j = json_loads(text, 0, NULL))) {
		printf("policy:       none measured (%s)%s\n", log,
		       s->opt.bundle_path || s->opt.policy_path ? ""
		                                                : "; no bundle configured: idle");
		free(text);
		return;
	}
	printf("policy:       %s, serial %lld (%s)\n",
	       json_string_value(json_object_get(j, "policy")) ?: "?",
	       (long long)json_integer_value(json_object_get(j, "serial")), type);
	printf("generation:   %u\n", s->active_gen);
	printf("signers:     ");
	signers = json_object_get(j, "signers");
	for (i = 0; i < json_array_size(signers); i++)
		printf(" %s", json_string_value(json_array_get(signers, i)) ?: "?");
	printf("%s\n", json_array_size(signers) ? "" : " none (unsigned development policy)");
	p = configured_policy(s, json_string_value(json_object_get(j, "payload_sha256")));
	if (s->from_vigild)
		printf("rules:        exec %zu, files %zu, net %zu, keys %zu\n", s->rules[0],
		       s->rules[1], s->rules[2], s->rules[3]);
	else if (p)
		printf("rules:        exec %zu, files %zu, net %zu, keys %zu, scope %s\n",
		       p->n_exec, p->n_files, p->n_net, p->n_keys,
		       p->scope_guest ? "guest" : "cgroups");
	else
		printf("rules:        unknown (the configured bundle is not the one in force)\n");
	policy_free(p);
	json_decref(j);
	free(text);
}

static void print_counters(const struct vigil_sys *s)
{
	const uint64_t *v = s->stats;
	uint64_t denied;

	if (!s->have_stats) {
		printf("counters:     unavailable (no pinned stats map in %s)\n", s->opt.pin_dir);
		return;
	}
	denied = v[VIGIL_STAT_EXEC_DENY] + v[VIGIL_STAT_FILE_DENY] + v[VIGIL_STAT_NET_DENY] +
	         v[VIGIL_STAT_KEY_DENY] + v[VIGIL_STAT_SELF_DENY] + v[VIGIL_STAT_CAP_DENY];
	printf(
	    "counters:     allowed %llu, denied %llu (exec %llu, file %llu, net %llu, key %llu, "
	    "self %llu, cap %llu), audited %llu, dropped %llu\n",
	    (unsigned long long)v[VIGIL_STAT_EXEC_ALLOW], (unsigned long long)denied,
	    (unsigned long long)v[VIGIL_STAT_EXEC_DENY],
	    (unsigned long long)v[VIGIL_STAT_FILE_DENY], (unsigned long long)v[VIGIL_STAT_NET_DENY],
	    (unsigned long long)v[VIGIL_STAT_KEY_DENY], (unsigned long long)v[VIGIL_STAT_SELF_DENY],
	    (unsigned long long)v[VIGIL_STAT_CAP_DENY],
	    (unsigned long long)v[VIGIL_STAT_EXEC_AUDIT],
	    (unsigned long long)v[VIGIL_STAT_RB_DROPS]);
	if (v[VIGIL_STAT_LEARN_REPEAT] || v[VIGIL_STAT_LEARN_NEW])
		printf("learning:     learning repeats %llu (accesses already logged, not sent "
		       "again), distinct %llu (map size %u: above it, duplicates may repeat)\n",
		       (unsigned long long)v[VIGIL_STAT_LEARN_REPEAT],
		       (unsigned long long)v[VIGIL_STAT_LEARN_NEW], VIGIL_LEARN_SEEN_MAX);
}

static void print_audit(const struct vigil_sys *s)
{
	struct audit_verify_options o = {.dir = s->opt.audit_dir};
	struct audit_verify_result res;
	char hex[AUDIT_HEX_LEN + 1], path[4096], when[64] = "never";
	struct stat st;

	if (strcmp(s->opt.audit_dir, "none") == 0) {
		printf("audit:        off (audit-dir = none)\n");
		return;
	}
	memset(&res, 0, sizeof(res));
	audit_verify(&o, &res);
	audit_hex(res.last_hash, AUDIT_HASH_LEN, hex);
	printf("audit head:   record %llu, hash %s (%s: %s)\n", (unsigned long long)res.records,
	       res.records ? hex : "-", s->opt.audit_dir, audit_verify_status_name(res.status));
	snprintf(path, sizeof(path), "%s/%s", s->opt.audit_dir, AUDIT_CHECKPOINTS);
	if (stat(path, &st) == 0)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&st.st_mtime));
	printf("checkpoint:   covers records 1-%llu (%llu verified), written %s\n",
	       (unsigned long long)res.covered, (unsigned long long)res.checkpoints, when);
}

int do_status(int argc, char **argv)
{
	const char *config = NULL;
	struct vigil_sys s;
	int c;
	int r =
	    vigil_sys_args(argc, argv, "usage: vigil status [--config FILE]",
	                   "Shows what is in force: vigild, the policy (name, serial, "
	                   "generation,\n"
	                   "signers, rules per section), the decision counters, the audit log's\n"
	                   "head and last checkpoint. Run as root.\n\n"
	                   "Exit status: 0 a policy is enforced, 1 nothing is, 2 usage.\n",
	                   &config);

	if (r >= 0)
		return r;
	vigil_sys_probe(&s, config);
	if (s.config_err[0])
		printf("config:       %s\n", s.config_err);
	if (s.vigild_pid)
		printf("vigild:       running, pid %d, up %.0f s\n", s.vigild_pid, s.vigild_uptime);
	else
		printf("vigild:       not running\n");
	printf("enforcement:  %s\n", s.pins > 0 && s.active_gen ? "on (programs pinned)"
	                             : s.pins > 0 ? "programs pinned, no policy generation active"
	                                          : "off (nothing pinned)");
	print_policy(&s);
	print_counters(&s);
	print_audit(&s);
	c = (s.pins > 0 && s.active_gen) || s.pins == -EPERM ? VIGIL_EXIT_OK : VIGIL_EXIT_FAIL;
	vigil_sys_free(&s);
	return c;
}
