/* The firmware's TCG event log (TCG PC Client Platform Firmware Profile, crypto-agile format: a
 * SHA-1-format header event "Spec ID Event03", then TCG_PCR_EVENT2 records) replayed into the
 * SHA-256 bank of PCRs 0-7, the registers the firmware and boot loader measure. */
#include "attest/kbs.h"
#include "attest/internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#define EV_NO_ACTION 3
#define ALG_SHA256   0x000b
#define SPEC_ID      "Spec ID Event03"
#define LOCALITY_SIG "StartupLocality"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The firmware's log area is often padded: all 0x00 or all 0xff to its end is the end. */
static bool padding(const uint8_t *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return false;
	return n == 0 || p[0] == 0 || p[0] == 0xff;
}

int tcg_eventlog_replay(const uint8_t *log, size_t len, uint8_t pcr[TCG_FW_PCRS][32],
                        unsigned *n_events, char *err, size_t errlen)
{
	struct {
		uint16_t alg, size;
	} algs[16];
	uint32_t nalg, hsize, i, k;
	size_t off, o;
	unsigned n = 0;

	memset(pcr, 0, TCG_FW_PCRS * 32);
	/* The header: pcr 0, EV_NO_ACTION, a zero SHA-1 digest, the Spec ID event. */
	if (len < 32 + 28 || le32(log + 4) != EV_NO_ACTION)
		return attest_errf(err, errlen, -EBADMSG,
		                   "firmware event log: no TCG header event (not a TPM 2.0 log?)");
	hsize = le32(log + 28);
	if (hsize > len - 32 || hsize < 28 || memcmp(log + 32, SPEC_ID, sizeof(SPEC_ID)) != 0)
		return attest_errf(err, errlen, -EBADMSG,
		                   "firmware event log: the header is not \"" SPEC_ID
		                   "\" (only the crypto-agile format is read)");
	nalg = le32(log + 32 + 24);
	if (nalg == 0 || nalg > 16 || 28 + (size_t)nalg * 4 > hsize)
		return attest_errf(err, errlen, -EBADMSG,
		                   "firmware event log: %u digest algorithms in the header", nalg);
	for (i = 0; i < nalg; i++) {
		algs[i].alg = le16(log + 32 + 28 + 4 * i);
		algs[i].size = le16(log + 32 + 28 + 4 * i + 2);
	}
	off = 32 + hsize;
	while (off < len) {
		uint32_t idx, type, cnt, esize;
		const uint8_t *sha256 = NULL;

		if (padding(log + off, len - off))
			break;
		if (len - off < 12)
			goto cut;
		idx = le32(log + off);
		type = le32(log + off + 4);
		cnt = le32(log + off + 8);
		o = off + 12;
		if (cnt > nalg)
			return attest_errf(
			    err, errlen, -EBADMSG,
			    "firmware event log: event %u at offset %zu has %u digests "
			    "(the header names %u algorithms)",
			    n, off, cnt, nalg);
		for (k = 0; k < cnt; k++) {
			uint16_t alg;

			if (len - o < 2)
				goto cut;
			alg = le16(log + o);
			for (i = 0; i < nalg && algs[i].alg != alg; i++)
				;
			if (i == nalg)
				return attest_errf(err, errlen, -EBADMSG,
				                   "firmware event log: event %u at offset %zu: "
				                   "algorithm 0x%04x not in the header",
				                   n, off, alg);
			if (len - o - 2 < algs[i].size)
				goto cut;
			if (alg == ALG_SHA256 && algs[i].size == 32)
				sha256 = log + o + 2;
			o += 2 + (size_t)algs[i].size;
		}
		if (len - o < 4)
			goto cut;
		esize = le32(log + o);
		if (esize > len - o - 4)
			goto cut;
		if (type == EV_NO_ACTION) {
			/* Not extended; StartupLocality sets PCR 0's initial value to the locality.
			 */
			if (idx == 0 && esize >= sizeof(LOCALITY_SIG) + 1 &&
			    memcmp(log + o + 4, LOCALITY_SIG, sizeof(LOCALITY_SIG)) == 0)
				pcr[0][31] = log[o + 4 + sizeof(LOCALITY_SIG)];
		} else if (idx < TCG_FW_PCRS) {
			EVP_MD_CTX *c;
			bool okd;

			/* A firmware event without the SHA-256 digest cannot be replayed into that
			 * bank: refuse the log rather than skip the event. */
			if (!sha256)
				return attest_errf(
				    err, errlen, -EBADMSG,
				    "firmware event log: event %u (PCR %u) has no SHA-256 "
				    "digest",
				    n, idx);
			c = EVP_MD_CTX_new();
			okd = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
			      EVP_DigestUpdate(c, pcr[idx], 32) &&
			      EVP_DigestUpdate(c, sha256, 32) &&
			      EVP_DigestFinal_ex(c, pcr[idx], NULL);
			EVP_MD_CTX_free(c);
			if (!okd)
				return attest_errf(err, errlen, -ENOMEM,
				                   "firmware event log: SHA-256");
		}
		off = o + 4 + esize;
		n++;
	}
	*n_events = n;
	return 0;
cut:
	return attest_errf(err, errlen, -EBADMSG,
	                   "firmware event log: event %u at offset %zu is cut short", n, off);
}
