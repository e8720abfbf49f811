/* attest module internals shared by its source files; not part of the public interface. */
#ifndef VIGIL_ATTEST_INTERNAL_H
#define VIGIL_ATTEST_INTERNAL_H

#include "attest/attest.h"

#include <stdarg.h>
#include <stdio.h>
#include <tss2/tss2_esys.h>

/* A failure's one line into the caller's buffer (err may be NULL); returns r. */
__attribute__((format(printf, 4, 5))) static inline int attest_errf(char *err, size_t errlen, int r,
                                                                    const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* TDX RTMR extend: writes the 48-byte sha384 digest to the RTMR's sysfs file. */
int tdx_rtmr_extend(const char *path, const struct attest_digest *d);

/* The ESAPI context of t, its lock held until attest_tpm_esys_unlock (attest/quote.c). */
struct ESYS_CONTEXT;
struct ESYS_CONTEXT *attest_tpm_esys_lock(struct attest_tpm *t);
void attest_tpm_esys_unlock(struct attest_tpm *t);

/* tpm.c's one mapping of a TSS2 return code to a failure's kind (ATTEST_TPM_UNREACHABLE,
 * _REFUSED, _BAD_HANDLE), remembered for attest_tpm_strerror; what names the command. */
int attest_tpm_rc(uint32_t rc, const char *what);

/* attest/quote.c: DER SPKI of a TPM public area (RSA or ECC P-256); the TCG EK template L-1
 * (RSA 2048, AES-128-CFB, policy A); the AK's ESYS_TR (persistent) and its TPM. */
int attest_pub_spki(const TPM2B_PUBLIC *p, uint8_t *der, size_t *len);
void attest_ek_template(TPM2B_PUBLIC *t);
struct attest_ak;
ESYS_TR attest_ak_handle(const struct attest_ak *ak);
struct attest_tpm *attest_ak_tpm(const struct attest_ak *ak);

#endif /* VIGIL_ATTEST_INTERNAL_H */
