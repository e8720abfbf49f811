/* libFuzzer target: audit record lines and checkpoint notes are checked without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_key key;
	static int have_key;
	struct audit_record_view rec;
	struct audit_checkpoint cp;
	struct audit_chain c;
	const char *p = (const char *)data, *end = p + size;
	char msg[256], member[128];

	if (!have_key) {
		uint8_t pub[32] = {1, 2, 3};

		have_key = audit_key_from_raw("vigil/fuzz", pub, &key) == 0;
	}
	if (have_key)
		audit_checkpoint_open(&key, p, size, &cp);
	if (audit_chain_init(&c) < 0)
		return 0;
	c.n = UINT64_MAX; /* unknown: as recovery reads the last file */
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);

		audit_record_member(p, len, "prev", member, sizeof(member));
		if (audit_record_check(&c, p, len, &rec, msg, sizeof(msg)) < 0)
			c.n = UINT64_MAX;
		p += len;
	}
	audit_chain_free(&c);
	return 0;
}
