/* Host-native user-space half of a policy swap, by phase: what vigild does before any BPF map. */
#include "policies/bundle.h"
#include "policies/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what, const struct policy_error *err)
{
	fprintf(stderr, "swap_native: %s: %s\n", what, err->msg);
	return 1;
}

/* Decodes and verifies a bundle, then parses its policy; the two times go to t[0] and t[1]. */
static int open_bundle(const char *path, const struct trust_store *trust, struct policy **ret,
                       double t[2], struct policy_error *err)
{
	struct bundle_signers signers = {0};
	struct bundle *b = NULL;
	double t0 = vigil_now_ms(), t1;
	size_t len;
	char *buf;
	int r;

	r = bundle_read_file(path, BUNDLE_MAX_BYTES, &buf, &len, err);
	if (r < 0)
		return r;
	r = bundle_decode(buf, len, path, &b, err);
	free(buf);
	if (r >= 0)
		r = bundle_verify(b, trust, &signers, err);
	t1 = vigil_now_ms();
	if (r >= 0)
		r = policy_parse((const char *)b->payload, b->payload_len, path, ret, err);
	t[0] = t1 - t0;
	t[1] = vigil_now_ms() - t1;
	bundle_free(b);
	return r;
}

/*
 * swap_native TRUST_DIR ROOT OLD NEW [nohash]: prints
 * "native RULES DECODE_VERIFY_MS PARSE_MS RESOLVE_MS HASH_ALL_MS REUSE_MS HASHED_ON_REUSE".
 * HASH_ALL reads every file (a first load); REUSE is a reload after OLD: the index of OLD's
 * entries, then only the files OLD does not vouch for are read. With "nohash" (the TCG
 * calibration run in the guest, bench/swap-guest.sh) the last three are "-".
 */
int main(int argc, char **argv)
{
	struct policy_exec_entry *old_e = NULL, *e = NULL;
	struct policy *old = NULL, *p = NULL;
	struct policy_error err = {0};
	struct trust_store *trust = NULL;
	size_t old_n = 0, n = 0, hashed = 0;
	double t[2], skip[2], resolve, hash_all, reuse;
	ssize_t marked;

	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "nohash") == 0)) {
		fprintf(stderr,
		        "usage: swap_native TRUST_DIR ROOT OLD_BUNDLE NEW_BUNDLE [nohash]\n");
		return 2;
	}
	if (trust_load_dir(argv[1], &trust, &err) < 0)
		return fail("trust", &err);
	if (open_bundle(argv[3], trust, &old, skip, &err) < 0 ||
	    policy_resolve_exec(old, argv[2], &old_e, &old_n, &err) < 0)
		return fail("old bundle", &err);
	if (open_bundle(argv[4], trust, &p, t, &err) < 0)
		return fail("new bundle", &err);
	resolve = vigil_now_ms();
	if (policy_resolve_exec(p, argv[2], &e, &n, &err) < 0)
		return fail("resolve", &err);
	hash_all = vigil_now_ms();
	resolve = hash_all - resolve;
	if (argc == 6) {
		printf("native %zu %.1f %.1f %.1f - - -\n", n, t[0], t[1], resolve);
		goto out;
	}
	if (policy_verify_exec(p, argv[2], e, n, NULL, &err) < 0)
		return fail("hash", &err);
	reuse = vigil_now_ms();
	hash_all = reuse - hash_all;
	marked = policy_exec_mark_unchanged(old, old_e, old_n, p, e, n);
	if (marked < 0 || policy_verify_exec(p, argv[2], e, n, &hashed, &err) < 0)
		return fail("reuse", &err);
	reuse = vigil_now_ms() - reuse;
	printf("native %zu %.1f %.1f %.1f %.1f %.1f %zu\n", n, t[0], t[1], resolve, hash_all, reuse,
	       hashed);
out:
	free(e);
	free(old_e);
	policy_free(p);
	policy_free(old);
	trust_free(trust);
	return 0;
}
