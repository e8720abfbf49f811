/* swtpm test helper for `vigil attest verify`: what vigild leaves behind, written by the same
 * library code: a measurement log (agent start, a policy bundle, the audit key and checkpoints,
 * each extended into PCR 23) and an audit log whose checkpoints are signed by the TPM key. */
#include "attest/attest.h"
#include "tests/tpm/tpm_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((weak)) int vigil_log_verbose;

static int anchor(void *ctx, const char *type, const void *data, size_t len)
{
	return measure_record(ctx, type, data, len, NULL);
}

/* write TCTI STATE AUDIT-DIR MEASUREMENT-LOG N */
int main(int argc, char **argv)
{
	static const char start[] =
	    "{\"agent\":\"vigild\",\"vigild_sha256\":"
	    "\"1111111111111111111111111111111111111111111111111111111111111111\"}";
	static const char bundle[] = "{\"policy\":\"prod\",\"serial\":7,\"bundle_sha256\":\"22\","
	                             "\"payload_sha256\":\"33\",\"signers\":[\"ab\"]}";
	struct measure_config mc = {0};
	struct measure_log *m;
	struct vigil_error err = {0};
	unsigned int n;
	int r;

	if (argc != 7 || strcmp(argv[1], "write") != 0)
		return fprintf(stderr, "usage: kbs_writer write TCTI STATE AUDIT-DIR LOG N\n"), 2;
	n = (unsigned int)atoi(argv[6]);
	mc.log_path = argv[5];
	mc.tcti = argv[2];
	mc.pcr = 23;
	r = measure_open(&mc, &m, &err);
	if (r < 0)
		return fprintf(stderr, "measure: %s\n", err.msg), 1;
	if (r == 0)
		r = measure_record(m, ATTEST_CT_START, start, strlen(start), NULL);
	if (r == 0)
		r = measure_record(m, ATTEST_CT_BUNDLE, bundle, strlen(bundle), NULL);
	if (r < 0)
		return fprintf(stderr, "measure: %s\n", strerror(-r)), 1;
	r = tpm_writer_run(argv[4], argv[3], "vigil/kbs-test", measure_tpm(m), anchor, m, NULL, n);
	measure_close(m);
	return r;
}
