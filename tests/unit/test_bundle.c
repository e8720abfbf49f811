/* Unit tests for policies/bundle.c and attest/accept.c: DSSE, PAE, signing, trust, every refusal.
 */
#include "testutil.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "policies/bundle.h"

static const char policy_text[] =
    "{\"version\":1,\"name\":\"unit\",\"serial\":%d,\"mode\":\"enforce\","
    "\"scope\":\"guest\",\"exec\":{\"allow\":[]}}";

struct fixture {
	char *dir;   /* trust directory */
	char *other; /* keys nobody trusts */
	struct bundle_key *ed, *p256, *stranger;
	struct trust_store *trust;
};

static char *policy_json(int serial)
{
	char *s = NULL;

	assert_true(asprintf(&s, policy_text, serial) > 0);
	return s;
}

static void save_pub(const struct bundle_key *k, const char *dir, const char *name)
{
	char priv[512], pub[512];
	struct policy_error err = {0};

	snprintf(priv, sizeof(priv), "%s/%s.key", dir, name);
	snprintf(pub, sizeof(pub), "%s/%s.pem", dir, name);
	assert_int_equal(bundle_key_save(k, priv, pub, &err), 0);
	/* Private keys stay out of the trust directory: only *.pem are loaded, but be tidy. */
	unlink(priv);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct policy_error err = {0};

	f->dir = tu_mkdtemp();
	f->other = tu_mkdtemp();
	assert_int_equal(bundle_key_generate(BUNDLE_KEY_ED25519, &f->ed), 0);
	assert_int_equal(bundle_key_generate(BUNDLE_KEY_P256, &f->p256), 0);
	assert_int_equal(bundle_key_generate(BUNDLE_KEY_ED25519, &f->stranger), 0);
	save_pub(f->ed, f->dir, "ed");
	save_pub(f->p256, f->dir, "p256");
	assert_int_equal(trust_load_dir(f->dir, &f->trust, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	trust_free(f->trust);
	bundle_key_free(f->ed);
	bundle_key_free(f->p256);
	bundle_key_free(f->stranger);
	tu_rmdir(f->dir);
	tu_rmdir(f->other);
	free(f);
	return 0;
}

/* A bundle of policy serial signed by each key in keys (NULL-terminated), encoded. */
static char *signed_bundle(int serial, struct bundle_key **keys, size_t *ret_len)
{
	struct policy_error err = {0};
	char *policy = policy_json(serial), *text;
	struct bundle *b;

	assert_int_equal(bundle_new(policy, strlen(policy), &b), 0);
	for (; *keys; keys++)
		assert_int_equal(bundle_sign(b, *keys, &err), 0);
	assert_int_equal(bundle_encode(b, &text, ret_len), 0);
	bundle_free(b);
	free(policy);
	return text;
}

static int open_text(struct fixture *f, const char *text, size_t len, struct policy_error *err)
{
	struct bundle_signers signers;
	struct bundle *b = NULL;
	struct policy *p = NULL;
	int r = bundle_open(text, len, "t.json", f->trust, &b, &signers, &p, err);

	bundle_free(b);
	policy_free(p);
	return r;
}

static void test_base64(void **state)
{
	static const char *const bad[] = {
	    "Zg=", "Zh==", "Zm9=", "Zg= =", "Z===", "Zg==Zg==", " Zg=", "Zm9v\n", "Zm-v", "===="};
	uint8_t in[10], *out;
	size_t len, i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xf0 + i);
	for (i = 0; i <= sizeof(in); i++) {
		char *enc = bundle_b64_encode(in, i);

		assert_int_equal(bundle_b64_decode(enc, strlen(enc), &out, &len), 0);
		assert_int_equal(len, i);
		assert_memory_equal(out, in, i);
		free(out);
		free(enc);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bundle_b64_decode(bad[i], strlen(bad[i]), &out, &len), -EINVAL);
}

/* The DSSE specification's own example. */
static void test_pae(void **state)
{
	static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	uint8_t *pae;
	size_t len;

	assert_int_equal(bundle_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world",
	                            11, &pae, &len),
	                 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(pae, want, len);
	free(pae);
}

static void test_keyid_is_spki_sha256(void **state)
{
	struct fixture *f = *state;
	char keyid[BUNDLE_KEYID_HEX], path[512], hex[65];
	struct bundle_key *k;
	struct policy_error err = {0};
	uint8_t d[32];
	unsigned char *der = NULL;
	EVP_PKEY *pub;
	FILE *fp;
	int n;

	bundle_key_keyid(f->p256, keyid);
	snprintf(path, sizeof(path), "%s/p256.pem", f->dir);
	fp = fopen(path, "r");
	pub = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	n = i2d_PUBKEY(pub, &der);
	EVP_Digest(der, (size_t)n, d, NULL, EVP_sha256(), NULL);
	vigil_hex(d, 32, hex);
	assert_string_equal(keyid, hex);
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	/* A public key is not a signing key. */
	assert_int_equal(bundle_key_load(path, &k, &err), -EINVAL);
}

static void test_sign_verify_both_algorithms(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *keys[][2] = {{f->ed, NULL}, {f->p256, NULL}};
	struct policy_error err = {0};
	size_t i, len;

	for (i = 0; i < 2; i++) {
		char *text = signed_bundle(7, keys[i], &len);

		assert_int_equal(open_text(f, text, len, &err), 0);
		free(text);
	}
}

static void test_threshold(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *one[] = {f->ed, NULL}, *two[] = {f->ed, f->p256, NULL};
	struct bundle_key *one_and_stranger[] = {f->ed, f->stranger, NULL};
	struct policy_error err = {0};
	size_t len;
	char *text;

	f->trust->threshold = 2;
	text = signed_bundle(1, one, &len);
	assert_int_equal(open_text(f, text, len, &err), -EACCES);
	free(text);
	text = signed_bundle(1, one_and_stranger, &len);
	assert_int_equal(open_text(f, text, len, &err), -EACCES);
	free(text);
	text = signed_bundle(1, two, &len);
	assert_int_equal(open_text(f, text, len, &err), 0);
	free(text);
	f->trust->threshold = 1;
}

static void test_reject_bad_signature(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *keys[] = {f->ed, NULL};
	struct policy_error err = {0};
	struct bundle *b;
	size_t len;
	char *text = signed_bundle(1, keys, &len);

	assert_int_equal(bundle_decode(text, len, "t", &b, &err), 0);
	b->payload[10] ^= 1; /* the signed bytes changed */
	assert_int_equal(bundle_verify(b, f->trust, NULL, &err), -EKEYREJECTED);
	b->payload[10] ^= 1;
	b->sigs[0].sig[5] ^= 1; /* the signature changed */
	assert_int_equal(bundle_verify(b, f->trust, NULL, &err), -EKEYREJECTED);
	bundle_free(b);
	free(text);
}

static void test_reject_unknown_signer(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *keys[] = {f->stranger, NULL};
	struct policy_error err = {0};
	size_t len;
	char *text = signed_bundle(1, keys, &len);

	assert_int_equal(open_text(f, text, len, &err), -ENOKEY);
	assert_non_null(strstr(err.msg, "no signature by a trusted key"));
	free(text);
}

static void test_reject_payload_type(void **state)
{
	struct fixture *f = *state;
	struct policy_error err = {0};
	char *policy = policy_json(1), *text;
	struct bundle *b;
	size_t len;

	assert_int_equal(bundle_new(policy, strlen(policy), &b), 0);
	free(b->payload_type);
	b->payload_type = strdup("application/json");
	/* Correctly signed, over the wrong type: still refused. */
	assert_int_equal(bundle_sign(b, f->ed, &err), 0);
	assert_int_equal(bundle_encode(b, &text, &len), 0);
	assert_int_equal(open_text(f, text, len, &err), -EPROTO);
	bundle_free(b);
	free(text);
	free(policy);
}

static void test_reject_malformed_envelopes(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *keys[] = {f->ed, NULL};
	struct policy_error err = {0};
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "[]",
	    "{\"payloadType\":\"" BUNDLE_PAYLOAD_TYPE "\",\"payload\":\"e30=\"}",
	    "{\"payloadType\":\"" BUNDLE_PAYLOAD_TYPE "\",\"payload\":\"e30=\",\"signatures\":[]}",
	    "{\"payloadType\":\"" BUNDLE_PAYLOAD_TYPE "\",\"payload\":\"e30\","
	    "\"signatures\":[{\"keyid\":\""
	    "00000000000000000000000000000000"
	    "00000000000000000000000000000000\",\"sig\":\"AA==\"}]}",
	    "{\"payloadType\":\"" BUNDLE_PAYLOAD_TYPE "\",\"payload\":\"e30=\","
	    "\"signatures\":[{\"keyid\":\"XYZ\",\"sig\":\"AA==\"}]}",
	    "{\"payloadType\":\"" BUNDLE_PAYLOAD_TYPE "\",\"payload\":\"e30=\",\"extra\":1,"
	    "\"signatures\":[{\"keyid\":\""
	    "00000000000000000000000000000000"
	    "00000000000000000000000000000000\",\"sig\":\"AA==\"}]}",
	    "{\"payloadType\":\"a\",\"payloadType\":\"b\",\"payload\":\"e30=\",\"signatures\":[]}",
	};
	size_t i, len;
	char *text = signed_bundle(1, keys, &len);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(open_text(f, bad[i], strlen(bad[i]), &err), -EINVAL);
	/* Every truncation of a good bundle is refused. */
	for (i = 0; i < len; i += 7)
		assert_int_equal(open_text(f, text, i, &err), -EINVAL);
	free(text);
}

static void test_reject_over_size_cap(void **state)
{
	struct fixture *f = *state;
	struct policy_error err = {0};
	size_t len = BUNDLE_MAX_BYTES + 1;
	char *big = malloc(len);

	memset(big, ' ', len);
	assert_int_equal(open_text(f, big, len, &err), -EFBIG);
	free(big);
}

static void test_reject_invalid_policy(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "{\"version\":1,\"name\":\"unit\",\"serial\":1,\"bogus\":true}";
	struct policy_error err = {0};
	struct bundle *b;
	size_t len;
	char *text;

	assert_int_equal(bundle_new(bad, strlen(bad), &b), 0);
	assert_int_equal(bundle_sign(b, f->ed, &err), 0);
	assert_int_equal(bundle_encode(b, &text, &len), 0);
	assert_int_equal(open_text(f, text, len, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "bogus"));
	bundle_free(b);
	free(text);
}

static void test_sign_twice_and_cap(void **state)
{
	struct fixture *f = *state;
	struct policy_error err = {0};
	struct bundle *b;

	assert_int_equal(bundle_new("{}", 2, &b), 0);
	assert_int_equal(bundle_sign(b, f->ed, &err), 0);
	assert_int_equal(bundle_sign(b, f->ed, &err), -EEXIST);
	bundle_free(b);
}

static void test_trust_dir_rules(void **state)
{
	struct fixture *f = *state;
	struct policy_error err = {0};
	struct trust_store *t;
	char *p, *empty = tu_mkdtemp();

	assert_int_equal(trust_load_dir(empty, &t, &err), -ENOKEY);
	tu_rmdir(empty);
	p = tu_write(f->dir, "threshold", "3\n", 2);
	assert_int_equal(trust_load_dir(f->dir, &t, &err), -EINVAL);
	unlink(p);
	free(p);
	p = tu_write(f->dir, "threshold", "2\n", 2);
	assert_int_equal(trust_load_dir(f->dir, &t, &err), 0);
	assert_int_equal(t->threshold, 2);
	assert_int_equal(t->n_keys, 2);
	trust_free(t);
	unlink(p);
	free(p);
	/* The same key twice would count twice toward a threshold. */
	save_pub(f->ed, f->other, "a");
	save_pub(f->ed, f->other, "b");
	assert_int_equal(trust_load_dir(f->other, &t, &err), -EINVAL);
	p = tu_write(f->other, "c.pem", "not a key", 9);
	free(p);
}

static void test_rollback(void **state)
{
	struct fixture *f = *state;
	struct bundle_key *keys[] = {f->p256, NULL};
	struct policy_error err = {0};
	struct bundle_admission adm = {0};
	struct hwm_store *h;
	char state_path[512];
	size_t len;
	char *text;

	snprintf(state_path, sizeof(state_path), "%s/serials.json", f->other);
	assert_int_equal(hwm_open(NULL, state_path, &h), 0);
	text = signed_bundle(5, keys, &len);
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), 0);
	assert_int_equal(bundle_commit(h, &adm), 0);
	bundle_admission_clear(&adm);
	/* The very same bundle again (a restart) is accepted; other content at that serial is not.
	 */
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), 0);
	bundle_admission_clear(&adm);
	free(text);
	text = signed_bundle(5, (struct bundle_key *[]){f->ed, NULL}, &len);
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), 0);
	bundle_admission_clear(&adm);
	free(text);
	{
		static const char other[] = "{\"version\":1,\"name\":\"unit\",\"serial\":5,"
		                            "\"mode\":\"audit\",\"scope\":\"guest\","
		                            "\"exec\":{\"allow\":[]}}";
		struct bundle *b;

		assert_int_equal(bundle_new(other, strlen(other), &b), 0);
		assert_int_equal(bundle_sign(b, f->p256, &err), 0);
		assert_int_equal(bundle_encode(b, &text, &len), 0);
		bundle_free(b);
	}
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "content differs"));
	free(text);
	text = signed_bundle(4, keys, &len);
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "rollback"));
	free(text);
	text = signed_bundle(6, keys, &len);
	assert_int_equal(bundle_admit(text, len, "t", f->trust, h, &adm, &err), 0);
	bundle_admission_clear(&adm);
	free(text);
	hwm_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_pae),
	    cmocka_unit_test_setup_teardown(test_keyid_is_spki_sha256, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_verify_both_algorithms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threshold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_bad_signature, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_unknown_signer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_payload_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_malformed_envelopes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_over_size_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_invalid_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_twice_and_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trust_dir_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
