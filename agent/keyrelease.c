/*
 * Attestation-gated key delivery: after a policy is in force, vigild attests to the key broker
 * (--kbs-url, KBS protocol 0.4.0) and fetches the resources the policy's keys.release names into
 * kernel "user" keys in the "vigil" keyring (linked into root's user keyring); the policy's key
 * rules decide who reads them. Every release and revocation is measured (URI and key digest,
 * never the key) and audited. No attestation, no key: a failed fetch revokes the key it would
 * have refreshed, and is retried with backoff. A rejected bundle revokes every released key, and
 * so does a record the audit log could not write (disk full, I/O error): a key is held only while
 * its use is auditable; it is fetched again once the audit log writes again.
 */
#include "agent/agent.h"
#include "agent/keyrelease.h"
#include "lib/log.h"
#include "attest/kbs.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEYRING_NAME   "vigil"
#define CT_KEY_RELEASE "vigil/key-release"
#define CT_KEY_REVOKE  "vigil/key-revoke"
#define BACKOFF_MAX_S  60

/* possessor: all; user (root, and the key rules on top): view, read, search. */
#define KEY_PERMS 0x3f0b0000u

/* policies/policy_key.c names the event types by number (policies/ does not see the ABI). */
_Static_assert(VIGIL_EV_EXEC == 1 && VIGIL_EV_FILE == 5 && VIGIL_EV_NET == 6 && VIGIL_EV_KEY == 7 &&
                   VIGIL_EV_SELF == 8 && VIGIL_EV_CAP == 9,
               "keys.release revoke_after_denials kinds follow enum vigil_event_type");

struct key_slot {
	char *resource, *desc;
	int32_t serial;  /* the kernel key, 0 when none is released */
	bool pending;    /* to fetch (again) */
	bool revoke_due; /* a trigger fired in the event path: revoke on the next tick */
	uint16_t revoke_type;
	uint32_t revoke_denials, denials; /* the trigger's threshold; denials since release */
	time_t next_try;                  /* CLOCK_MONOTONIC seconds */
	unsigned int backoff_s;
};

struct agent_keys {
	struct key_slot *slot;
	size_t n;
	int32_t keyring;
	/* The audit writer's loss counter as last seen, and while it grows: the chain length when
	 * it last did (the log writes again once the chain moves without a new loss). */
	uint64_t audit_drops, audit_records;
	bool audit_failed;
	bool enrolled; /* --kbs-enroll: the broker knows this AK (until it says "unknown AK") */
};

static time_t mono_s(void)
{
	return (time_t)(vigil_clock_ns(CLOCK_MONOTONIC) / 1000000000u);
}

static const char *tcti_of(const struct agent *a)
{
	if (!a->opt.tcti || strcmp(a->opt.tcti, "auto") == 0)
		return access("/dev/tpmrm0", F_OK) == 0 ? "device:/dev/tpmrm0" : NULL;
	return strcmp(a->opt.tcti, "none") == 0 ? NULL : a->opt.tcti;
}

static int32_t keyring_get(void)
{
	long id =
	    syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "keyring", KEYRING_NAME, 0);

	if (id < 0)
		id = syscall(SYS_add_key, "keyring", KEYRING_NAME, NULL, 0, KEY_SPEC_USER_KEYRING);
	if (id < 0)
		return -errno;
	syscall(SYS_keyctl, KEYCTL_SETPERM, id, KEY_PERMS);
	return (int32_t)id;
}

static void measure_json(struct agent *a, const char *type, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int r =
	    text ? measure_record(agent_measure_log(a), type, text, strlen(text), NULL) : -ENOMEM;

	if (r < 0)
		log_error_errno(r, "measuring %s", type);
	free(text);
}

static void slot_revoke(struct agent *a, struct key_slot *s, const char *reason)
{
	json_t *o;

	if (!s->serial)
		return;
	/* Revoke first: from here on no read succeeds; then out of every keyring. */
	syscall(SYS_keyctl, KEYCTL_REVOKE, s->serial);
	syscall(SYS_keyctl, KEYCTL_INVALIDATE, s->serial);
	log_info("key '%s' (%s) revoked: %s", s->desc, s->resource, reason);
	o = json_pack("{s:s, s:s, s:s}", "resource", s->resource, "key", s->desc, "reason", reason);
	if (o && agent_measure_log(a))
		measure_json(a, CT_KEY_REVOKE, o);
	agent_event_write(a, "key_revoked",
	                  json_pack("{s:s, s:s, s:s, s:i}", "resource", s->resource, "key", s->desc,
	                            "reason", reason, "serial", (int)s->serial));
	json_decref(o);
	s->serial = 0;
}

static void slot_backoff(struct key_slot *s)
{
	s->backoff_s = s->backoff_s ? s->backoff_s * 2 : 1;
	if (s->backoff_s > BACKOFF_MAX_S)
		s->backoff_s = BACKOFF_MAX_S;
	s->next_try = mono_s() + s->backoff_s;
}

static void fetch_one(struct agent *a, struct key_slot *s)
{
	struct agent_keys *k = a->keys;
	struct kbs_client_opts o = {
	    .url = a->opt.kbs_url,
	    .cafile = a->opt.kbs_cafile,
	    .retries = 1,
	    .tcti = tcti_of(a),
	    .log_path = a->opt.measure_log ?: ATTEST_DEFAULT_LOG,
	    .enroll = a->opt.kbs_enroll && !k->enrolled,
	};
	struct kbs_timing tm;
	uint8_t *key = NULL, d[32];
	size_t len = 0;
	char err[1024], hex[65], uri[2048];
	json_t *rec;
	long id;
	int r;

	snprintf(uri, sizeof(uri), "%s/kbs/v0/resource/%s", o.url, s->resource);
	r = o.tcti ? kbs_fetch(&o, s->resource, &key, &len, &tm, err, sizeof(err)) : -ENODEV;
	if (r == -ENODEV && !o.tcti)
		snprintf(err, sizeof(err), "no vTPM: no attestation, no key");
	if (r < 0 && strstr(err, "unknown AK"))
		k->enrolled = false; /* a restarted broker forgot it: enroll again next time */
	if (r < 0) {
		/* No attestation, no key: whatever was released before goes. */
		slot_revoke(a, s, "fetch_refused");
		slot_backoff(s);
		log_error("key '%s': %s (retry in %u s)", s->desc, err, s->backoff_s);
		agent_event_write(a, "key_release_failed",
		                  json_pack("{s:s, s:s, s:s, s:i}", "resource", s->resource, "key",
		                            s->desc, "error", err, "retry_s", (int)s->backoff_s));
		return;
	}
	if (o.enroll)
		k->enrolled = true;
	EVP_Digest(key, len, d, NULL, EVP_sha256(), NULL);
	kbs_hex(d, 32, hex);
	/* Measured before it is placed: the caller acts only once the record is durable. */
	rec = json_pack("{s:s, s:s, s:s}", "uri", uri, "key", s->desc, "key_sha256", hex);
	{
		char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		r = text ? measure_record(agent_measure_log(a), CT_KEY_RELEASE, text, strlen(text),
		                          NULL)
		         : -ENOMEM;
		free(text);
	}
	json_decref(rec);
	if (r < 0) {
		OPENSSL_secure_clear_free(key, len);
		log_error_errno(r, "key '%s': measuring the release; not placed", s->desc);
		s->next_try = mono_s() + BACKOFF_MAX_S;
		return;
	}
	if (k->keyring <= 0)
		k->keyring = keyring_get();
	/* errno is taken at once: freeing the key may change it; without a keyring, its error. */
	id = k->keyring > 0 ? syscall(SYS_add_key, "user", s->desc, key, len, (long)k->keyring)
	                    : (errno = -k->keyring, -1);
	r = id < 0 ? -errno : 0;
	OPENSSL_secure_clear_free(key, len);
	if (id < 0) {
		log_error_errno(r, "key '%s': add_key", s->desc);
		s->next_try = mono_s() + BACKOFF_MAX_S;
		return;
	}
	syscall(SYS_keyctl, KEYCTL_SETPERM, id, KEY_PERMS);
	s->serial = (int32_t)id;
	s->pending = false;
	s->denials = 0;
	s->revoke_due = false;
	s->backoff_s = 0;
	log_info("key '%s' released from %s: key %ld, sha256 %s (%.1f ms, TPM %.1f ms)", s->desc,
	         uri, id, hex, tm.total_us / 1000.0, tm.tpm_us / 1000.0);
	agent_event_write(a, "key_released",
	                  json_pack("{s:s, s:s, s:s, s:i, s:f, s:f}", "uri", uri, "key", s->desc,
	                            "key_sha256", hex, "serial", (int)id, "latency_ms",
	                            tm.total_us / 1000.0, "tpm_ms", tm.tpm_us / 1000.0));
}

static void slots_free(struct agent_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->slot[i].resource);
		free(k->slot[i].desc);
	}
	free(k->slot);
	k->slot = NULL;
	k->n = 0;
}

void agent_keys_policy_loaded(struct agent *a)
{
	const struct policy *p = a->cur.policy;
	struct agent_keys *k = a->keys;
	struct key_slot *ns;
	size_t i, j;

	if (!a->opt.kbs_url || !p)
		return;
	if (!k) {
		k = a->keys = calloc(1, sizeof(*k));
		if (!k)
			return;
	}
	ns = calloc(p->n_key_release + 1, sizeof(*ns));
	if (!ns)
		return;
	/* Keys the new policy no longer names go; the others are fetched again (re-attested
	 * under the new policy: the broker decides whether this policy may have them). */
	for (i = 0; i < k->n; i++) {
		for (j = 0; j < p->n_key_release; j++)
			if (strcmp(k->slot[i].desc, p->key_release[j].key) == 0 &&
			    strcmp(k->slot[i].resource, p->key_release[j].resource) == 0)
				break;
		if (j == p->n_key_release)
			slot_revoke(a, &k->slot[i], "not_in_policy");
		else
			ns[j].serial = k->slot[i].serial;
	}
	for (j = 0; j < p->n_key_release; j++) {
		ns[j].resource = strdup(p->key_release[j].resource);
		ns[j].desc = strdup(p->key_release[j].key);
		ns[j].revoke_type = p->key_release[j].revoke_type;
		ns[j].revoke_denials = p->key_release[j].revoke_denials;
		ns[j].pending = true;
		ns[j].next_try = 0;
	}
	slots_free(k);
	k->slot = ns;
	k->n = p->n_key_release;
	agent_keys_tick(a);
}

void agent_keys_revoke_all(struct agent *a, const char *reason)
{
	struct agent_keys *k = a->keys;
	size_t i;

	for (i = 0; k && i < k->n; i++)
		slot_revoke(a, &k->slot[i], reason);
}

void agent_keys_on_deny(struct agent *a, unsigned int type)
{
	struct agent_keys *k = a->keys;
	size_t i;

	for (i = 0; k && i < k->n; i++) {
		struct key_slot *s = &k->slot[i];

		if (s->serial && s->revoke_denials &&
		    (s->revoke_type == 0 || s->revoke_type == type) &&
		    ++s->denials >= s->revoke_denials)
			s->revoke_due = true;
	}
}

/*
 * A record the audit log lost (the writer counts it in write_drops: disk full, I/O error) revokes
 * every released key, the same path as a refused bundle, and holds further fetches until the
 * chain grows again with no new loss.
 */
static void audit_check(struct agent *a, struct agent_keys *k)
{
	struct audit_stats st;
	size_t i;

	if (!a->audit)
		return;
	audit_writer_stats(a->audit, &st);
	if (st.write_drops > k->audit_drops) {
		if (!k->audit_failed)
			log_error(
			    "audit log lost %llu record(s): revoking every released key until it "
			    "writes again",
			    (unsigned long long)(st.write_drops - k->audit_drops));
		k->audit_drops = st.write_drops;
		k->audit_records = st.records;
		k->audit_failed = true;
		for (i = 0; i < k->n; i++) {
			struct key_slot *s = &k->slot[i];

			if (!s->serial && !s->pending)
				continue; /* revoked before (refused bundle): a reload brings it
				             back */
			slot_revoke(a, s, "audit_write_failed");
			s->pending = true;
			/* Held by audit_failed, not by a growing backoff: fetched soon after it
			 * heals. */
			s->backoff_s = 0;
			s->next_try = mono_s() + 1;
		}
	} else if (k->audit_failed && st.records > k->audit_records) {
		k->audit_failed = false;
		log_info("audit log writes again: released keys are fetched again");
	}
}

void agent_keys_tick(struct agent *a)
{
	struct agent_keys *k = a->keys;
	time_t now = mono_s();
	size_t i;

	if (k)
		audit_check(a, k);
	/* Fail closed: no key while its use cannot be audited. */
	if (k && k->audit_failed)
		return;

	for (i = 0; k && i < k->n; i++)
		if (k->slot[i].revoke_due) {
			k->slot[i].revoke_due = false;
			slot_revoke(a, &k->slot[i], "denials");
		}
	for (i = 0; k && i < k->n; i++)
		if (k->slot[i].pending && k->slot[i].resource && k->slot[i].desc &&
		    now >= k->slot[i].next_try)
			fetch_one(a, &k->slot[i]);
}

void agent_keys_close(struct agent *a)
{
	if (!a->keys)
		return;
	/* Released keys outlive vigild on purpose: a restart re-fetches (and may revoke) them. */
	slots_free(a->keys);
	free(a->keys);
	a->keys = NULL;
}
