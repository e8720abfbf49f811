/* attest module internals shared by its source files; not part of the public interface. */
#ifndef VIGIL_ATTEST_INTERNAL_H
#define VIGIL_ATTEST_INTERNAL_H

#include "attest/attest.h"

/* TDX RTMR extend: writes the 48-byte sha384 digest to the RTMR's sysfs file. */
int tdx_rtmr_extend(const char *path, const struct attest_digest *d);

/* The ESAPI context of t, its lock held until attest_tpm_esys_unlock (attest/quote.c). */
struct ESYS_CONTEXT;
struct ESYS_CONTEXT *attest_tpm_esys_lock(struct attest_tpm *t);
void attest_tpm_esys_unlock(struct attest_tpm *t);

/* tpm.c's one mapping of a TSS2 return code to a failure's kind (ATTEST_TPM_UNREACHABLE,
 * _REFUSED, _BAD_HANDLE), remembered for attest_tpm_strerror; what names the command. */
int attest_tpm_rc(uint32_t rc, const char *what);

#endif /* VIGIL_ATTEST_INTERNAL_H */
