/* libFuzzer target: what a broker takes from the network about the platform (the firmware's TCG
 * event log, TDX quotes, SNP reports in raw form and in Trustee's JSON layout) is read without
 * crashing, reading past the end, or accepting a report it cannot parse. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/kbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pcr[TCG_FW_PCRS][32], snp[SNP_REPORT_LEN];
	struct tee_report_info ti;
	unsigned n;
	char err[256];
	/* A copy of exactly size bytes: ASan then catches any read past the end. */
	uint8_t *d = malloc(size ? size : 1);
	json_t *j;

	if (!d)
		return 0;
	memcpy(d, data, size);
	tcg_eventlog_replay(d, size, pcr, &n, err, sizeof(err));
	if (tee_report_parse(ATTEST_PLATFORM_TDX, d, size, &ti) == 0 &&
	    ti.report_data_off + 64 > size)
		abort();
	if (tee_report_parse(ATTEST_PLATFORM_SNP, d, size, &ti) == 0) {
		json_t *o = snp_report_to_trustee(d, size);

		/* What vigil writes in Trustee's layout reads back to the same report data. */
		if (o && (snp_report_from_trustee(o, snp) < 0 || memcmp(snp + 0x50, d + 0x50, 64)))
			abort();
		json_decref(o);
	}
	j = json_loadb((const char *)d, size, 0, NULL);
	if (j)
		snp_report_from_trustee(j, snp);
	json_decref(j);
	free(d);
	return 0;
}
