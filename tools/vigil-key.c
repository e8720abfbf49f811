/* vigil key fetch|list|revoke: attestation-gated key release into a kernel keyring (KBS protocol),
 * and the evidence helpers `vigil attest quote|binding|jwe-decrypt`. docs/ATTESTATION.md. */
#include "tools/vigil.h"
#include "attest/kbs.h"

#include <errno.h>
#include <getopt.h>
#include <linux/keyctl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CT_KEY_RELEASE "vigil/key-release"
#define CT_KEY_REVOKE  "vigil/key-revoke"

struct key_args {
	struct kbs_client_opts o;
	const char *resource, *description, *keyring, *measure_log, *out, *nonce_hex, *jwk, *key,
	    *additional;
	bool no_log, tee_runtime;
};

static long keyring_id(const char *s)
{
	if (!s || strcmp(s, "@s") == 0)
		return KEY_SPEC_SESSION_KEYRING;
	if (strcmp(s, "@u") == 0)
		return KEY_SPEC_USER_KEYRING;
	if (strcmp(s, "@p") == 0)
		return KEY_SPEC_PROCESS_KEYRING;
	if (strcmp(s, "@us") == 0)
		return KEY_SPEC_USER_SESSION_KEYRING;
	return strtol(s, NULL, 0);
}

static int parse_fault(const char *s, struct kbs_client_opts *o)
{
	static const struct {
		const char *name;
		enum kbs_fault f;
	} tab[] = {
	    {"replay", KBS_FAULT_REPLAY},
	    {"stale", KBS_FAULT_STALE},
	    {"tamper-log", KBS_FAULT_TAMPER_LOG},
	    {"tamper-jwe", KBS_FAULT_TAMPER_JWE},
	    {"other-session", KBS_FAULT_OTHER_SESSION},
	    {"wrong-nonce", KBS_FAULT_WRONG_NONCE},
	    {"other-ek", KBS_FAULT_OTHER_EK},
	    {"bad-secret", KBS_FAULT_BAD_SECRET},
	};
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s), i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && strncmp(tab[i].name, s, n) == 0) {
			o->fault = tab[i].f;
			o->fault_arg = colon ? atoi(colon + 1) : 0;
			o->fault_file = colon ? colon + 1 : NULL;
			return 0;
		}
	return -EINVAL;
}

static int parse_key_args(int argc, char **argv, struct key_args *ka, const char *usage)
{
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"resource", required_argument, NULL, 'r'},
	    {"description", required_argument, NULL, 'd'},
	    {"keyring", required_argument, NULL, 'k'},
	    {"tcti", required_argument, NULL, 't'},
	    {"log", required_argument, NULL, 'l'},
	    {"no-log", no_argument, NULL, 'N'},
	    {"cafile", required_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"retries", required_argument, NULL, 'R'},
	    {"ak", required_argument, NULL, 'a'},
	    {"key-alg", required_argument, NULL, 'K'},
	    {"pcrs", required_argument, NULL, 'p'},
	    {"fault", required_argument, NULL, 'F'},
	    {"out", required_argument, NULL, 'o'},
	    {"nonce", required_argument, NULL, 'n'},
	    {"jwk", required_argument, NULL, 'j'},
	    {"key", required_argument, NULL, 'y'},
	    {"additional", required_argument, NULL, 'A'},
	    {"tee-runtime", no_argument, NULL, 1001},
	    {"report-data", required_argument, NULL, 'D'},
	    {"enroll", no_argument, NULL, 'E'},
	    {"firmware-log", required_argument, NULL, 'W'},
	    {"tsm-root", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	optind = 1;
	ka->o.tcti = getenv("VIGIL_TCTI") ? getenv("VIGIL_TCTI") : "device:/dev/tpmrm0";
	ka->o.log_path = ATTEST_DEFAULT_LOG;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			ka->o.url = optarg;
			break;
		case 'r':
			ka->resource = optarg;
			break;
		case 'd':
			ka->description = optarg;
			break;
		case 'k':
			ka->keyring = optarg;
			break;
		case 't':
			ka->o.tcti = optarg;
			break;
		case 'l':
			ka->o.log_path = optarg;
			break;
		case 'N':
			ka->no_log = true;
			break;
		case 'C':
			ka->o.cafile = optarg;
			break;
		case 'T':
			ka->o.timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'R':
			ka->o.retries = atoi(optarg);
			break;
		case 'a':
			if (strcmp(optarg, "rsa") && strcmp(optarg, "ecc"))
				goto usage;
			ka->o.ak_alg = strcmp(optarg, "rsa") ? ATTEST_AK_ECC : ATTEST_AK_RSA;
			break;
		case 'K':
			if (strcmp(optarg, "ec") && strcmp(optarg, "rsa"))
				goto usage;
			ka->o.key_alg = strcmp(optarg, "ec") ? KBS_KEY_RSA : KBS_KEY_EC;
			break;
		case 'p':
			if (attest_pcr_sel_parse(optarg, &ka->o.sel) < 0) {
				fprintf(stderr, "vigil: --pcrs %s: want BANK:A-B[+BANK:A-B...]\n",
				        optarg);
				return -EINVAL;
			}
			break;
		case 'F':
			if (parse_fault(optarg, &ka->o) < 0)
				goto usage;
			break;
		case 'o':
			ka->out = optarg;
			break;
		case 'n':
			ka->nonce_hex = optarg;
			break;
		case 'j':
			ka->jwk = optarg;
			break;
		case 'y':
			ka->key = optarg;
			break;
		case 'A':
			ka->additional = optarg;
			break;
		case 1001:
			ka->tee_runtime = true;
			break;
		case 'D':
			ka->o.report_data_len = strtoul(optarg, NULL, 10);
			if (ka->o.report_data_len != 32 && ka->o.report_data_len != 64)
				goto usage;
			break;
		case 'E':
			ka->o.enroll = true;
			break;
		case 'W':
			ka->o.firmware_log = optarg;
			break;
		case 'S':
			ka->o.tsm_root = optarg;
			break;
		case 'h':
			printf("usage: vigil %s\n", usage);
			exit(VIGIL_EXIT_OK);
		default:
			goto usage;
		}
	}
	if (optind == argc)
		return 0;
usage:
	fprintf(stderr, "usage: vigil %s\n", usage);
	return -EINVAL;
}

/* Measures (log record + PCR extend) before the caller acts: the URI and the key's digest. */
static int measure_key_event(const struct key_args *ka, const char *type, json_t *content)
{
	struct measure_config mc = {.log_path = ka->measure_log, .tcti = ka->o.tcti, .pcr = 23};
	struct measure_log *m = NULL;
	char *text;
	struct vigil_error err = {0};
	int r;

	/* Continue vigild's log, never start one: a new log would reset the PCR. */
	if (access(ka->measure_log, F_OK) < 0) {
		fprintf(stderr, "vigil: key: no measurement log at %s (--log FILE, or --no-log)\n",
		        ka->measure_log);
		return -ENOENT;
	}
	text = json_dumps(content, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	r = measure_open(&mc, &m, &err);
	if (r < 0) {
		free(text);
		fprintf(stderr, "vigil: key: %s\n", err.msg);
		return r;
	}
	if (attest_tpm_notice(measure_tpm(m)))
		fprintf(stderr, "vigil: key: %s\n", attest_tpm_notice(measure_tpm(m)));
	r = measure_record(m, type, text, strlen(text), NULL);
	if (r < 0)
		fprintf(stderr, "vigil: key: cannot measure %s: %s\n", type, measure_error(m));
	measure_close(m);
	free(text);
	return r;
}

static int do_key_fetch(int argc, char **argv)
{
	static const char usage[] =
	    "key fetch --url URL --resource REPO/TYPE/TAG --description DESC [--keyring @s|@u|ID] "
	    "[--tcti TCTI] [--log MEASUREMENT-LOG | --no-log] [--cafile CA] [--timeout S] "
	    "[--retries N] [--ak rsa|ecc] [--key-alg ec|rsa] [--report-data 64|32] [--enroll] "
	    "[--firmware-log FILE|none] [--tsm-root DIR|none] "
	    "[--pcrs SPEC] "
	    "[--fault NAME[:ARG]]";
	struct key_args ka = {0};
	struct kbs_timing tm;
	uint8_t *key = NULL, d[32];
	size_t len = 0;
	char err[1024], hex[65], uri[2048];
	json_t *rec;
	long id;
	int r;

	if (parse_key_args(argc, argv, &ka, usage) < 0 || !ka.o.url || !ka.resource ||
	    !ka.description) {
		if (optind == argc)
			fprintf(stderr, "usage: vigil %s\n", usage);
		return VIGIL_EXIT_USAGE;
	}
	if (ka.no_log)
		ka.o.log_path = NULL;
	ka.measure_log = ka.o.log_path;
	r = kbs_fetch(&ka.o, ka.resource, &key, &len, &tm, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return VIGIL_EXIT_FAIL;
	}
	EVP_Digest(key, len, d, NULL, EVP_sha256(), NULL);
	kbs_hex(d, 32, hex);
	snprintf(uri, sizeof(uri), "%s/kbs/v0/resource/%s", ka.o.url, ka.resource);
	if (ka.measure_log) {
		rec = json_pack("{s:s, s:s, s:s}", "uri", uri, "description", ka.description,
		                "key_sha256", hex);
		r = rec ? measure_key_event(&ka, CT_KEY_RELEASE, rec) : -ENOMEM;
		json_decref(rec);
		if (r < 0) {
			/* Not measured, not placed: no key material stays behind. */
			OPENSSL_secure_clear_free(key, len);
			return VIGIL_EXIT_FAIL;
		}
	}
	id = syscall(SYS_add_key, "user", ka.description, key, len, keyring_id(ka.keyring));
	/* errno is taken at once: freeing the key may change it. */
	r = id < 0 ? errno : 0;
	OPENSSL_secure_clear_free(key, len);
	if (id < 0) {
		fprintf(stderr, "vigil: key fetch: add_key(user, %s): %s\n", ka.description,
		        strerror(r));
		return VIGIL_EXIT_FAIL;
	}
	printf("released %s -> key %ld \"%s\" sha256:%s (%.1f ms, TPM %.1f ms, HTTP %.1f ms)\n",
	       uri, id, ka.description, hex, tm.total_us / 1000.0, tm.tpm_us / 1000.0,
	       tm.http_us / 1000.0);
	return VIGIL_EXIT_OK;
}

static int do_key_list(int argc, char **argv)
{
	static const char usage[] = "key list [--keyring @s|@u|ID]";
	struct key_args ka = {0};
	int32_t ids[1024];
	long n, i;

	if (parse_key_args(argc, argv, &ka, usage) < 0)
		return VIGIL_EXIT_USAGE;
	n = syscall(SYS_keyctl, KEYCTL_READ, keyring_id(ka.keyring), ids, sizeof(ids));
	if (n < 0) {
		fprintf(stderr, "vigil: key list: %s: %s\n", ka.keyring ? ka.keyring : "@s",
		        strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	for (i = 0; i < n / 4 && i < 1024; i++) {
		char desc[512];

		if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, ids[i], desc, sizeof(desc)) < 0)
			continue;
		desc[sizeof(desc) - 1] = 0;
		/* type;uid;gid;perm;description */
		printf("%d %s\n", ids[i], desc);
	}
	return VIGIL_EXIT_OK;
}

static int do_key_revoke(int argc, char **argv)
{
	static const char usage[] = "key revoke --description DESC [--keyring @s|@u|ID] [--tcti "
	                            "TCTI] [--log MEASUREMENT-LOG | --no-log]";
	struct key_args ka = {0};
	json_t *rec;
	long id;

	if (parse_key_args(argc, argv, &ka, usage) < 0 || !ka.description)
		return VIGIL_EXIT_USAGE;
	ka.measure_log = ka.no_log ? NULL : ka.o.log_path;
	id = syscall(SYS_keyctl, KEYCTL_SEARCH, keyring_id(ka.keyring), "user", ka.description, 0);
	if (id < 0) {
		fprintf(stderr, "vigil: key revoke: no user key \"%s\": %s\n", ka.description,
		        strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	/* Revoke first: from here on no read succeeds, whatever follows. */
	if (syscall(SYS_keyctl, KEYCTL_REVOKE, id) < 0) {
		fprintf(stderr, "vigil: key revoke: %ld: %s\n", id, strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
	syscall(SYS_keyctl, KEYCTL_UNLINK, id, keyring_id(ka.keyring));
	if (ka.measure_log) {
		rec = json_pack("{s:s, s:s}", "description", ka.description, "reason", "operator");
		if (!rec || measure_key_event(&ka, CT_KEY_REVOKE, rec) < 0) {
			json_decref(rec);
			return VIGIL_EXIT_FAIL;
		}
		json_decref(rec);
	}
	printf("revoked key %ld \"%s\"\n", id, ka.description);
	return VIGIL_EXIT_OK;
}

int do_key(int argc, char **argv)
{
	static const struct vigil_cmd sub[] = {
	    {"fetch", do_key_fetch, "attest, fetch a resource from a KBS into a kernel keyring"},
	    {"list", do_key_list, "list the keys of a keyring"},
	    {"revoke", do_key_revoke, "revoke and unlink a released key"},
	};

	return vigil_dispatch(sub, sizeof(sub) / sizeof(sub[0]), "key", argc - 1, argv + 1);
}

/* --- evidence helpers -------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *d, size_t n)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	ok = fwrite(d, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* ek.der (the RSA EK's public key) and, when the TPM holds one, ek-cert.der. */
static int write_ek(const char *tcti, const char *dir, struct vigil_error *err)
{
	struct attest_tpm *t = NULL;
	uint8_t spki[1024], *cert = NULL;
	size_t len = sizeof(spki), clen = 0;
	int r = attest_tpm_open(tcti, &t);

	if (r < 0)
		return vigil_errorf(err, r, "no TPM at %s: %s", tcti, attest_tpm_strerror(r));
	r = attest_ek_spki(t, spki, &len, err);
	if (r == 0 && (r = write_file(dir, "ek.der", spki, len)) < 0)
		vigil_errorf(err, r, "cannot write %s/ek.der: %s", dir, strerror(-r));
	/* The certificate is optional: the TPM may hold none. */
	if (r == 0 && attest_ek_cert(t, &cert, &clen, NULL) == 0) {
		r = write_file(dir, "ek-cert.der", cert, clen);
		if (r < 0)
			vigil_errorf(err, r, "cannot write %s/ek-cert.der: %s", dir, strerror(-r));
		free(cert);
	}
	attest_tpm_close(t);
	return r;
}

/* `vigil attest quote --nonce HEX --out DIR`: ak.der, ak.pem, message, signature, pcrs (hex
 * lines), ek.der (and ek-cert.der when provisioned), for tpm2_checkquote and `vigil attest
 * verify`. */
int do_attest_quote(int argc, char **argv)
{
	static const char usage[] =
	    "attest quote --nonce HEX --out DIR [--tcti TCTI] [--ak rsa|ecc] [--pcrs SPEC]";
	struct key_args ka = {0};
	struct attest_tpm *t = NULL;
	struct attest_ak *ak = NULL;
	struct attest_quote q = {0};
	struct vigil_error err = {0};
	struct attest_pcr_sel sel;
	uint8_t nonce[64], spki[1024];
	size_t spki_len = sizeof(spki), nl, i;
	const unsigned char *p = spki;
	EVP_PKEY *k = NULL;
	FILE *f;
	char path[4096];
	int r;

	if (parse_key_args(argc, argv, &ka, usage) < 0 || !ka.nonce_hex || !ka.out)
		return VIGIL_EXIT_USAGE;
	nl = strlen(ka.nonce_hex) / 2;
	if (nl == 0 || nl > sizeof(nonce) || kbs_unhex(ka.nonce_hex, nonce, nl) < 0) {
		fprintf(stderr, "vigil: attest quote: --nonce: 2 to 128 lowercase hex digits\n");
		return VIGIL_EXIT_USAGE;
	}
	if (ka.o.sel.n)
		sel = ka.o.sel;
	else
		attest_pcr_sel_default(&sel);
	mkdir(ka.out, 0700);
	r = attest_tpm_open(ka.o.tcti, &t);
	if (r < 0) {
		fprintf(stderr, "vigil: attest quote: no TPM at %s: %s\n", ka.o.tcti,
		        attest_tpm_strerror(r));
		return VIGIL_EXIT_FAIL;
	}
	r = attest_ak_open(t, ka.o.ak_alg, &ak, &err);
	if (r == 0 && (r = attest_ak_spki(ak, spki, &spki_len)) < 0)
		vigil_errorf(&err, r, "tpm: the AK's public key: %s", strerror(-r));
	if (r == 0)
		r = attest_quote(t, ak, &sel, nonce, nl, &q, &err);
	attest_ak_close(ak);
	attest_tpm_close(t);
	if (r < 0) {
		fprintf(stderr, "vigil: attest quote: %s\n", err.msg);
		return VIGIL_EXIT_FAIL;
	}
	r = write_file(ka.out, "ak.der", spki, spki_len);
	if (r == 0)
		r = write_file(ka.out, "message", q.message, q.message_len);
	if (r == 0)
		r = write_file(ka.out, "signature", q.signature, q.signature_len);
	k = d2i_PUBKEY(NULL, &p, (long)spki_len);
	snprintf(path, sizeof(path), "%s/ak.pem", ka.out);
	if (r == 0 &&
	    (!k || !(f = fopen(path, "w")) || (PEM_write_PUBKEY(f, k) != 1) + (fclose(f) != 0)))
		r = -EIO;
	snprintf(path, sizeof(path), "%s/pcrs", ka.out);
	if (r == 0 && (f = fopen(path, "w"))) {
		for (i = 0; i < q.npcrs; i++) {
			char hex[129];

			kbs_hex(q.pcrs[i].d, q.pcrs[i].len, hex);
			fprintf(f, "%s\n", hex);
		}
		fclose(f);
	}
	EVP_PKEY_free(k);
	attest_quote_clear(&q);
	if (r < 0) {
		fprintf(stderr, "vigil: attest quote: cannot write %s\n", ka.out);
		return VIGIL_EXIT_FAIL;
	}
	if (write_ek(ka.o.tcti, ka.out, &err) < 0) {
		fprintf(stderr, "vigil: attest quote: %s\n", err.msg);
		return VIGIL_EXIT_FAIL;
	}
	return VIGIL_EXIT_OK;
}

/* `vigil attest binding --nonce N --jwk FILE`: the JCS text and its SHA-384. --tee-runtime: of
 * {"nonce","tee-pubkey"} alone, the runtime data a TDX/SNP report of additional_evidence binds. */
int do_attest_binding(int argc, char **argv)
{
	static const char usage[] =
	    "attest binding --nonce NONCE --jwk FILE [--additional S | --tee-runtime]";
	struct key_args ka = {0};
	json_t *jwk, *o;
	uint8_t d[48];
	char hex[97], *text = NULL;

	if (parse_key_args(argc, argv, &ka, usage) < 0 || !ka.nonce_hex || !ka.jwk ||
	    (ka.tee_runtime && ka.additional))
		return VIGIL_EXIT_USAGE;
	jwk = json_load_file(ka.jwk, JSON_REJECT_DUPLICATES, NULL);
	if (!jwk) {
		fprintf(stderr, "vigil: attest binding: %s: not JSON\n", ka.jwk);
		return VIGIL_EXIT_INVALID;
	}
	o = ka.tee_runtime ? json_pack("{s:s, s:O}", "nonce", ka.nonce_hex, "tee-pubkey", jwk)
	                   : json_pack("{s:s, s:s, s:O}", "additional-evidence",
	                               ka.additional ? ka.additional : "", "nonce", ka.nonce_hex,
	                               "tee-pubkey", jwk);
	if (jcs_canonicalize(o, &text) < 0 ||
	    kbs_binding_digest(ka.nonce_hex, jwk,
	                       ka.tee_runtime ? NULL : (ka.additional ? ka.additional : ""),
	                       d) < 0) {
		fprintf(stderr, "vigil: attest binding: %s: cannot canonicalize (a real number?)\n",
		        ka.jwk);
		json_decref(o);
		json_decref(jwk);
		free(text);
		return VIGIL_EXIT_INVALID;
	}
	kbs_hex(d, 48, hex);
	printf("%s\n%s\n", text, hex);
	free(text);
	json_decref(o);
	json_decref(jwk);
	return VIGIL_EXIT_OK;
}

/* `vigil attest jwe-decrypt --key PRIVATE.pem --jwk-file? FILE`: the plaintext, hex. */
int do_attest_jwe(int argc, char **argv)
{
	static const char usage[] = "attest jwe-decrypt --key PRIVATE-PEM --jwk JWE-FILE";
	struct key_args ka = {0};
	EVP_PKEY *k = NULL;
	json_t *jwe;
	uint8_t *plain = NULL;
	size_t len = 0, i;
	char err[256];
	FILE *f;
	int r;

	if (parse_key_args(argc, argv, &ka, usage) < 0 || !ka.key || !ka.jwk)
		return VIGIL_EXIT_USAGE;
	f = fopen(ka.key, "r");
	if (f) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	jwe = json_load_file(ka.jwk, 0, NULL);
	if (!k || !jwe) {
		fprintf(stderr, "vigil: attest jwe-decrypt: %s or %s unreadable\n", ka.key, ka.jwk);
		EVP_PKEY_free(k);
		json_decref(jwe);
		return VIGIL_EXIT_INVALID;
	}
	r = kbs_jwe_decrypt(k, jwe, &plain, &len, err, sizeof(err));
	EVP_PKEY_free(k);
	json_decref(jwe);
	if (r < 0) {
		fprintf(stderr, "vigil: attest jwe-decrypt: %s: %s\n", ka.jwk, err);
		return VIGIL_EXIT_FAIL;
	}
	for (i = 0; i < len; i++)
		printf("%02x", plain[i]);
	printf("\n");
	OPENSSL_secure_clear_free(plain, len);
	return VIGIL_EXIT_OK;
}
