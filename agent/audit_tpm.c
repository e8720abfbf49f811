/* The audit checkpoint key in the TPM: wires attest/'s TPM-resident key to the note signer. */
#include "agent/agent.h"
#include "lib/log.h"
#include "attest/attest.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int tpm_sign(void *ctx, const uint8_t digest[AUDIT_HASH_LEN], uint8_t *sig, size_t *len)
{
	return attest_tpm_key_sign(ctx, digest, sig, len);
}

static void tpm_key_free(void *ctx)
{
	attest_tpm_key_free(ctx);
}

int audit_tpm_key_open(void *tpm, const char *state_dir, const char *name, struct audit_key *ret)
{
	struct attest_tpm_key *tk = NULL;
	uint8_t spki[AUDIT_PUB_MAX];
	size_t len = sizeof(spki);
	char path[4096];
	int r;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/" AUDIT_KEY_TPM, state_dir);
	r = attest_tpm_key_open(tpm, path, &tk);
	if (r < 0)
		return r;
	r = attest_tpm_key_spki(tk, spki, &len);
	if (r < 0) {
		attest_tpm_key_free(tk);
		return r;
	}
	r = audit_key_external(name, spki, len, tpm_sign, tpm_key_free, tk, ret);
	if (r < 0)
		return r; /* audit_key_external freed tk */
	/* A file key left from before the TPM key could still sign a forged log: retire it. */
	snprintf(path, sizeof(path), "%s/" AUDIT_KEY_FILE, state_dir);
	if (unlink(path) == 0)
		log_info("audit: checkpoints are now signed in the TPM; removed the file key %s",
		         path);
	return 0;
}
