/* Key-release latency: N full KBS fetches (auth, TPM quote, attest, resource, JWE decrypt) against
 * a broker; prints the median and p95 of the total, the TPM part and the HTTP part (ms), one
 * "name value" pair per line; a failed fetch is retried and counted. Usage: kbs_fetch URL RESOURCE
 * TCTI LOG N [ec|rsa] */
#include "attest/kbs.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("%s_median_ms %.2f\n%s_p95_ms %.2f\n", name, v[n / 2] / 1000.0, name,
	       v[(n * 95 + 99) / 100 - 1] / 1000.0);
}

int main(int argc, char **argv)
{
	struct kbs_client_opts o = {0};
	uint64_t *tot, *tpm, *http;
	size_t n, i, failed = 0;

	if (argc < 6)
		return fprintf(stderr, "usage: kbs_fetch URL RESOURCE TCTI LOG N [ec|rsa]\n"), 2;
	o.url = argv[1];
	o.tcti = argv[3];
	o.log_path = argv[4];
	o.retries = 1;
	o.key_alg = argc > 6 && strcmp(argv[6], "rsa") == 0 ? KBS_KEY_RSA : KBS_KEY_EC;
	n = strtoul(argv[5], NULL, 10);
	tot = calloc(n, sizeof(*tot));
	tpm = calloc(n, sizeof(*tpm));
	http = calloc(n, sizeof(*http));
	if (!n || !tot || !tpm || !http)
		return 2;
	for (i = 0; i < n;) {
		struct kbs_timing t;
		uint8_t *key = NULL;
		size_t len = 0;
		char err[1024];

		/* A refusal (a record measured between quote and log read) is counted, not timed.
		 */
		if (kbs_fetch(&o, argv[2], &key, &len, &t, err, sizeof(err)) < 0) {
			fprintf(stderr, "run %zu: %s\n", i, err);
			if (++failed > n / 10 + 1)
				return 1;
			continue;
		}
		OPENSSL_secure_clear_free(key, len);
		tot[i] = t.total_us;
		tpm[i] = t.tpm_us;
		http[i] = t.http_us;
		i++;
	}
	printf("runs %zu\nfailed %zu\n", n, failed);
	report("total", tot, n);
	report("tpm", tpm, n);
	report("http", http, n);
	return 0;
}
