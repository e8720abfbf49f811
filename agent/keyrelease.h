/* vigild's attestation-gated key delivery (agent/keyrelease.c, docs/ATTESTATION.md). */
#ifndef VIGIL_AGENT_KEYRELEASE_H
#define VIGIL_AGENT_KEYRELEASE_H

struct agent;

/* A policy is in force: fetch (again) what its keys.release names; revoke what it dropped. */
void agent_keys_policy_loaded(struct agent *a);
/* A revocation trigger (a rejected bundle...): every released key is revoked and recorded. */
void agent_keys_revoke_all(struct agent *a, const char *reason);
/* A denial of event type (enum vigil_event_type) was read: counts toward revoke_after_denials. */
void agent_keys_on_deny(struct agent *a, unsigned int type);
/* From the event loop: triggered revocations, and fetches whose backoff has passed. */
void agent_keys_tick(struct agent *a);
void agent_keys_close(struct agent *a);

#endif /* VIGIL_AGENT_KEYRELEASE_H */
