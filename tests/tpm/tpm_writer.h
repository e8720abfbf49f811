/*
 * The audit log of the swtpm test helpers (kbs_writer.c, audit_tpm_writer.c), set up once: the
 * checkpoint key in the TPM, a checkpoint every 10 records and a final one at close.
 */
#ifndef VIGIL_TESTS_TPM_WRITER_H
#define VIGIL_TESTS_TPM_WRITER_H

#include "agent/agent.h"
#include "audit/audit.h"

#include <stdio.h>
#include <string.h>

/*
 * Writes n events to the audit log in dir (key under state in the TPM tpm; checkpoints anchored
 * with anchor when not NULL; notices to report). Returns 0, or 1 after saying why on stderr.
 */
static inline int tpm_writer_run(const char *dir, const char *state, const char *origin, void *tpm,
                                 audit_anchor_fn anchor, void *anchor_ctx,
                                 void (*report)(void *ctx, bool error, const char *msg),
                                 unsigned int n)
{
	struct vigil_error err = {0};
	struct audit_options o;
	struct audit_writer *w;
	unsigned int i;
	int r;

	audit_options_defaults(&o);
	o.dir = dir;
	o.state_dir = state;
	o.origin = origin;
	o.checkpoint_records = 10;
	o.checkpoint_ms = 600000;
	o.key_open = audit_tpm_key_open;
	o.key_ctx = tpm;
	o.anchor = anchor;
	o.anchor_ctx = anchor_ctx;
	o.report = report;
	if (audit_writer_open(&o, &w, &err) < 0)
		return fprintf(stderr, "writer open: %s\n", err.msg), 1;
	for (i = 0; i < n; i++)
		if (audit_submitf(w, "event", "\"e\":{\"i\":%u}", i) < 0)
			return fprintf(stderr, "submit failed\n"), 1;
	r = audit_writer_close(w);
	if (r < 0)
		return fprintf(stderr, "writer close: %s\n", strerror(-r)), 1;
	return 0;
}

#endif /* VIGIL_TESTS_TPM_WRITER_H */
