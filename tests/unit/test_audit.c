/* Unit tests for the audit log: encoding, writer, recovery, checkpoints and every tamper case. */
#include "testutil.h"

#include "audit/audit.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char root[64], log[128], state[128], ack[128], path[160];
};

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/vigil-audit-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->log, sizeof(f->log), "%s/log", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->ack, sizeof(f->ack), "%s/ack", f->root);
	snprintf(f->path, sizeof(f->path), "%s/audit.000001.jsonl", f->log);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct audit_options fx_opts(struct fx *f)
{
	struct audit_options o;

	audit_options_defaults(&o);
	o.dir = f->log;
	o.state_dir = f->state;
	o.origin = "vigil/test-host";
	o.ack_path = f->ack;
	o.fsync_records = 8;
	o.fsync_ms = 5;
	o.checkpoint_records = 10;
	o.checkpoint_ms = 600000;
	return o;
}

/* Writes n event records (records 2..n+1 after the start record), syncing every 7. */
static void write_events_opts(struct audit_options *o, unsigned int n)
{
	struct audit_writer *w;
	unsigned int i;

	assert_int_equal(audit_writer_open(o, &w, NULL), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(
		    audit_submitf(w, "event", "\"e\":{\"i\":%u,\"path\":\"/bin/x\"}", i), 0);
		if (i % 7 == 6)
			audit_writer_sync(w);
	}
	assert_int_equal(audit_writer_close(w), 0);
}

static void write_events(struct fx *f, unsigned int n)
{
	struct audit_options o = fx_opts(f);

	write_events_opts(&o, n);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = 0;
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

/* Byte offset of line k (1-based), or len when there are fewer lines. */
static size_t line_off(const char *buf, size_t len, unsigned int k)
{
	size_t off = 0;

	while (--k && off < len) {
		const char *eol = memchr(buf + off, '\n', len - off);

		if (!eol)
			return len;
		off = (size_t)(eol + 1 - buf);
	}
	return off;
}

static struct audit_verify_result verify_key(struct fx *f, const struct audit_key *key)
{
	struct audit_verify_options o = {.dir = f->log, .key = key};
	struct audit_verify_result r;

	audit_verify(&o, &r);
	return r;
}

static struct audit_verify_result verify_pinned(struct fx *f)
{
	struct audit_verify_result r;
	struct audit_key k;
	char vkey[200];

	snprintf(vkey, sizeof(vkey), "%s/" AUDIT_VKEY_FILE, f->log);
	assert_int_equal(audit_key_read_public(vkey, NULL, &k), 0);
	r = verify_key(f, &k);
	audit_key_free(&k);
	return r;
}

#define ASSERT_BAD(r, st, rec, off)                                                                \
	do {                                                                                       \
		if ((r).status != (st) || (r).bad_record != (rec) || (r).bad_offset != (off))      \
			fail_msg("status %s record %llu offset %llu (%s); want %s %llu %llu",      \
			         audit_verify_status_name((r).status),                             \
			         (unsigned long long)(r).bad_record,                               \
			         (unsigned long long)(r).bad_offset, (r).msg,                      \
			         audit_verify_status_name(st), (unsigned long long)(rec),          \
			         (unsigned long long)(off));                                       \
	} while (0)

/* --- encoding ------------------------------------------------------------------------ */

static void test_encode_vector(void **state)
{
	const char *rec = "{\"n\":1,\"k\":\"event\",\"e\":{}";
	uint8_t zero[32] = {0}, want[32];
	char line[256], hex[65];
	struct audit_chain c;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int n;

	/* h(1) = SHA-256(32 zero bytes || bytes before ,"h":) computed independently. */
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, zero, 32);
	EVP_DigestUpdate(md, rec, strlen(rec));
	EVP_DigestFinal_ex(md, want, NULL);
	EVP_MD_CTX_free(md);
	vigil_hex(want, 32, hex);

	assert_int_equal(audit_chain_init(&c), 0);
	n = audit_record_encode(&c, "event", "\"e\":{}", 6, line, sizeof(line));
	assert_int_equal(n, (int)strlen(rec) + AUDIT_TRAILER_LEN + 1);
	assert_memory_equal(line, rec, strlen(rec));
	assert_memory_equal(line + strlen(rec), ",\"h\":\"", 6);
	assert_memory_equal(line + strlen(rec) + 6, hex, 64);
	assert_int_equal(c.n, 1);
	assert_memory_equal(c.h, want, 32);
	assert_int_equal(audit_record_encode(&c, "event", "", 0, line, 60), -ENOBUFS);
	assert_int_equal(c.n, 1);
	audit_chain_free(&c);
}

/* The block-by-block chain hash equals SHA-256 for every length around the padding edges. */
static void test_encode_lengths(void **state)
{
	char members[400], line[600];
	uint8_t want[32];
	struct audit_chain c;
	size_t len;
	int n;

	/* audit_hex against printf: byte values across the range, in and out of 16-byte steps */
	for (len = 0; len < 256; len += 37) {
		uint8_t bytes[37];
		char hex[75], want_hex[75];
		size_t i;

		for (i = 0; i < sizeof(bytes); i++) {
			bytes[i] = (uint8_t)(len + i * 7);
			snprintf(want_hex + 2 * i, 3, "%02x", bytes[i]);
		}
		vigil_hex(bytes, sizeof(bytes), hex);
		assert_string_equal(hex, want_hex);
	}
	memset(members, 'x', sizeof(members));
	memcpy(members, "\"p\":\"", 5);
	assert_int_equal(audit_chain_init(&c), 0);
	for (len = 0; len < 300; len++) {
		uint8_t prev[32];
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		memcpy(prev, c.h, 32);
		members[len ? len - 1 : 0] = len ? '"' : 'x';
		n = audit_record_encode(&c, "event", members, len, line, sizeof(line));
		members[len ? len - 1 : 0] = 'x';
		assert_true(n > AUDIT_TRAILER_LEN);
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		EVP_DigestUpdate(md, prev, 32);
		EVP_DigestUpdate(md, line, (size_t)n - AUDIT_TRAILER_LEN - 1);
		EVP_DigestFinal_ex(md, want, NULL);
		EVP_MD_CTX_free(md);
		assert_memory_equal(c.h, want, 32);
	}
	assert_int_equal(c.n, 300);
	audit_chain_free(&c);
}

static void test_check_rejects(void **state)
{
	char line[256], msg[128], bad[256];
	struct audit_chain c, v;
	struct audit_record_view rec;
	int n;

	assert_int_equal(audit_chain_init(&c), 0);
	assert_int_equal(audit_chain_init(&v), 0);
	n = audit_record_encode(&c, "loss", "\"count\":1", 9, line, sizeof(line));
	memcpy(bad, line, (size_t)n);
	bad[5] = '0'; /* {"n":0... leading zero / wrong number */
	assert_int_equal(audit_record_check(&v, bad, (size_t)n, &rec, msg, sizeof(msg)), -EBADMSG);
	memcpy(bad, line, (size_t)n);
	bad[n - 10] = 'A'; /* upper-case hex is not the canonical encoding */
	assert_int_equal(audit_record_check(&v, bad, (size_t)n, &rec, msg, sizeof(msg)), -EBADMSG);
	memcpy(bad, line, (size_t)n);
	bad[15] = 'X'; /* "loss" -> "lXss": kind must be lower case */
	assert_int_equal(audit_record_check(&v, bad, (size_t)n, &rec, msg, sizeof(msg)), -EBADMSG);
	memcpy(bad, line, (size_t)n);
	bad[20] = '2'; /* count 1 -> 2 */
	assert_int_equal(audit_record_check(&v, bad, (size_t)n, &rec, msg, sizeof(msg)), -EILSEQ);
	assert_int_equal(v.n, 0);
	assert_int_equal(audit_record_check(&v, line, (size_t)n, &rec, msg, sizeof(msg)), 0);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.kind, "loss");
	/* The same record again is out of sequence. */
	assert_int_equal(audit_record_check(&v, line, (size_t)n, &rec, msg, sizeof(msg)), -ERANGE);
	audit_chain_free(&c);
	audit_chain_free(&v);
}

static void test_options_parse(void **state)
{
	struct audit_options o;
	char err[256];

	audit_options_defaults(&o);
	assert_int_equal(audit_options_parse(&o,
	                                     "fsync=64,fsync-ms=3,checkpoint=100,"
	                                     "checkpoint-ms=500,rotate=1M,queue=128K",
	                                     err, sizeof(err)),
	                 0);
	assert_int_equal(o.fsync_records, 64);
	assert_int_equal(o.fsync_ms, 3);
	assert_int_equal(o.checkpoint_records, 100);
	assert_int_equal(o.checkpoint_ms, 500);
	assert_int_equal(o.rotate_bytes, 1 << 20);
	assert_int_equal(o.queue_bytes, 128 << 10);
	assert_int_equal(audit_options_parse(&o, "ack=/run/x/ack,fsync=2", err, sizeof(err)), 0);
	assert_string_equal(o.ack_path, "/run/x/ack");
	assert_int_equal(o.fsync_records, 2);
	assert_int_equal(audit_options_parse(&o, "fsync=0", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fsync"));
	assert_int_equal(audit_options_parse(&o, "rotate=12Q", err, sizeof(err)), -EINVAL);
	assert_int_equal(audit_options_parse(&o, "bogus", err, sizeof(err)), -EINVAL);
}

/* --- checkpoints ------------------------------------------------------------------------ */

static void test_checkpoint_note(void **state)
{
	struct fx *f = *state;
	struct audit_checkpoint cp = {.origin = "vigil/test-host", .n = 42}, got;
	struct audit_key k, k2, pub;
	uint8_t h[32], type = 1;
	char note[AUDIT_NOTE_MAX], state2[160], vkey[256];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int n;

	memset(cp.root, 0xab, sizeof(cp.root));
	assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &k), 0);
	/* Key id per the signed-note spec: SHA-256(name || '\n' || 0x01 || pub)[:4]. */
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "vigil/test-host\n", 16);
	EVP_DigestUpdate(md, &type, 1);
	EVP_DigestUpdate(md, k.pub, 32);
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	assert_memory_equal(k.id, h, 4);

	n = audit_checkpoint_sign(&k, &cp, note, sizeof(note));
	assert_true(n > 0);
	assert_non_null(
	    strstr(note, "vigil/test-host\n42\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n"
	                 "\xe2\x80\x94 vigil/test-host "));
	assert_int_equal(audit_checkpoint_open(&k, note, (size_t)n, &got), 0);
	assert_int_equal(got.n, 42);
	assert_memory_equal(got.root, cp.root, 32);

	/* The vkey round-trips to the same key. */
	assert_true(audit_key_vkey(&k, vkey, sizeof(vkey)) > 0);
	snprintf(state2, sizeof(state2), "%s/vkey", f->root);
	spit(state2, vkey, strlen(vkey));
	assert_int_equal(audit_key_read_public(state2, NULL, &pub), 0);
	assert_memory_equal(pub.pub, k.pub, 32);
	assert_int_equal(audit_checkpoint_open(&pub, note, (size_t)n, &got), 0);
	audit_key_free(&pub);

	note[17] = '3'; /* 42 -> 43 */
	assert_int_equal(audit_checkpoint_open(&k, note, (size_t)n, &got), -EKEYREJECTED);
	note[17] = '2';
	snprintf(state2, sizeof(state2), "%s/state2", f->root);
	assert_int_equal(audit_key_load_or_create(state2, "vigil/test-host", &k2), 0);
	assert_int_equal(audit_checkpoint_open(&k2, note, (size_t)n, &got), -ENOKEY);
	assert_int_equal(audit_checkpoint_open(&k, note, 10, &got), -EBADMSG);
	/* The key is kept: a second load gives the same public key. */
	audit_key_free(&k2);
	assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &k2), 0);
	assert_memory_equal(k2.pub, k.pub, 32);
	audit_key_free(&k2);
	audit_key_free(&k);
}

/* --- ECDSA P-256 notes (the TPM key's type), signed through the external-signer hook --------- */

/* Stands in for TPM2_Sign: ECDSA over a SHA-256 digest, DER signature, key outside audit_key. */
static int p256_sign(void *ctx, const uint8_t digest[AUDIT_HASH_LEN], uint8_t *sig, size_t *len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(ctx, NULL);
	int ok = c && EVP_PKEY_sign_init(c) > 0 && EVP_PKEY_sign(c, sig, len, digest, 32) > 0;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EIO;
}

static void p256_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

/* A P-256 key as vigild's TPM key looks to the note code: public SPKI plus a signer. */
static void p256_key(const char *name, struct audit_key *k)
{
	EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *der = NULL;
	int n;

	assert_non_null(priv);
	n = i2d_PUBKEY(priv, &der);
	assert_true(n > 0);
	assert_int_equal(audit_key_external(name, der, (size_t)n, p256_sign, p256_free, priv, k),
	                 0);
	OPENSSL_free(der);
}

static void test_checkpoint_note_ecdsa(void **state)
{
	struct fx *f = *state;
	struct audit_checkpoint cp = {.origin = "vigil/test-host", .n = 7}, got;
	struct audit_key k, other, pub;
	uint8_t h[32];
	char note[AUDIT_NOTE_MAX], path[200], vkey[512];
	int n;

	memset(cp.root, 0x5a, sizeof(cp.root));
	p256_key("vigil/test-host", &k);
	assert_int_equal(k.type, AUDIT_SIG_ECDSA);
	/* C2SP type 0x02: the key id is SHA-256 of the DER SubjectPublicKeyInfo. */
	SHA256(k.pub, k.pub_len, h);
	assert_memory_equal(k.id, h, 4);
	n = audit_checkpoint_sign(&k, &cp, note, sizeof(note));
	assert_true(n > 0);
	assert_int_equal(audit_checkpoint_open(&k, note, (size_t)n, &got), 0);
	assert_int_equal(got.n, 7);

	/* The vkey (type byte 0x02) and the start record's base64 both round-trip. */
	assert_true(audit_key_vkey(&k, vkey, sizeof(vkey)) > 0);
	snprintf(path, sizeof(path), "%s/ecdsa.vkey", f->root);
	spit(path, vkey, strlen(vkey));
	assert_int_equal(audit_key_read_public(path, NULL, &pub), 0);
	assert_int_equal(pub.type, AUDIT_SIG_ECDSA);
	assert_null(pub.sign);
	assert_int_equal(audit_checkpoint_open(&pub, note, (size_t)n, &got), 0);
	audit_key_free(&pub);
	{
		char b64[200];

		assert_true(audit_key_pubkey_base64(&k, b64, sizeof(b64)) > 0);
		assert_int_equal(audit_key_from_base64("vigil/test-host", b64, &pub), 0);
		assert_memory_equal(pub.id, k.id, 4);
		assert_int_equal(audit_checkpoint_open(&pub, note, (size_t)n, &got), 0);
		audit_key_free(&pub);
	}

	/* Altered text: rejected. Another P-256 key with the same name: not its signature line. */
	note[16] = '8';
	assert_int_equal(audit_checkpoint_open(&k, note, (size_t)n, &got), -EKEYREJECTED);
	note[16] = '7';
	p256_key("vigil/test-host", &other);
	assert_int_equal(audit_checkpoint_open(&other, note, (size_t)n, &got), -ENOKEY);
	/* A forgery that carries the right key id but another key's signature: rejected. */
	n = audit_checkpoint_sign(&other, &cp, note, sizeof(note));
	assert_true(n > 0);
	{
		char *sig = strstr(note, "\xe2\x80\x94 vigil/test-host ") + 20;
		size_t b64len = strcspn(sig, "\n");
		size_t pad = (sig[b64len - 1] == '=') + (sig[b64len - 2] == '=');
		uint8_t raw[4 + AUDIT_SIG_MAX + 3];
		int len = EVP_DecodeBlock(raw, (unsigned char *)sig, (int)b64len);

		assert_true(len > 4);
		memcpy(raw, k.id, 4); /* claims to be k's line */
		EVP_EncodeBlock((unsigned char *)sig, raw, len - (int)pad);
		sig[b64len] = '\n'; /* EncodeBlock's NUL */
		assert_int_equal(audit_checkpoint_open(&k, note, strlen(note), &got),
		                 -EKEYREJECTED);
	}
	audit_key_free(&other);
	audit_key_free(&k);
}

/* Fail closed: a missing or empty checkpoints.jsonl never gives AUDIT_OK. */
static void test_verify_fails_closed(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	char path[200];

	write_events(f, 20);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.covered, r.records);
	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINTS, f->log);
	spit(path, "", 0);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_UNCOVERED);
	assert_int_equal(r.covered, 0);
	assert_int_equal(r.records, 21);
	assert_non_null(strstr(r.msg, "no verified signed checkpoint"));
	assert_int_equal(unlink(path), 0);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_NO_LOG);
	assert_string_equal(r.bad_file, AUDIT_CHECKPOINTS);
	assert_int_equal(mkdir(path, 0700), 0);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_NO_LOG);
	assert_non_null(strstr(r.msg, "not a regular file"));
	/* The name of a status nobody set is still a failure's. */
	assert_string_equal(audit_verify_status_name(AUDIT_INCOMPLETE), "not verified");
}

/* The file key is vigild's alone: created 0600 whatever the umask; a readable one is refused. */
static void test_file_key_private(void **state)
{
	struct fx *f = *state;
	struct audit_key k;
	char path[200];
	struct stat st;
	mode_t old = umask(0);

	assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &k), 0);
	umask(old);
	audit_key_free(&k);
	snprintf(path, sizeof(path), "%s/" AUDIT_KEY_FILE, f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &k), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &k), 0);
	audit_key_free(&k);
}

/* --- writer ---------------------------------------------------------------------------- */

struct anchors {
	int start, key, checkpoint;
	char last_note[AUDIT_NOTE_MAX];
};

static int record_anchor(void *ctx, const char *type, const void *data, size_t len)
{
	struct anchors *a = ctx;

	if (strcmp(type, AUDIT_CT_START) == 0) {
		a->start++;
		assert_non_null(memmem(data, len, "\"k\":\"start\"", 11));
	} else if (strcmp(type, AUDIT_CT_KEY) == 0) {
		a->key++;
		assert_memory_equal(data, "vigil/test-host+", 16);
	} else if (strcmp(type, AUDIT_CT_CHECKPOINT) == 0) {
		a->checkpoint++;
		assert_true(len < sizeof(a->last_note));
		memcpy(a->last_note, data, len);
		a->last_note[len] = 0;
	}
	return 0;
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct anchors an = {0};
	struct audit_verify_result r;
	char path[200], *buf, ack[100], hex[65];
	size_t len;

	o.anchor = record_anchor;
	o.anchor_ctx = &an;
	write_events_opts(&o, 100);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.records, 101);
	assert_int_equal(r.files, 1);
	assert_true(r.checkpoints >= 5);
	assert_int_equal(an.start, 1);
	assert_int_equal(an.key, 1);
	assert_int_equal(an.checkpoint, (int)r.checkpoints);
	/* The last anchored checkpoint is the published one and covers every record. */
	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINT, f->log);
	buf = slurp(path, &len);
	assert_string_equal(buf, an.last_note);
	assert_non_null(strstr(buf, "\n101\n"));
	free(buf);
	/* The ack names the last durable record and its hash. */
	buf = slurp(f->ack, &len);
	vigil_hex(r.last_hash, 32, hex);
	snprintf(ack, sizeof(ack), "101 %s\n", hex);
	assert_string_equal(buf, ack);
	free(buf);
	/* A PEM public key (no name) verifies too: the log's origin names it. */
	{
		struct audit_key priv, pem;
		char pempath[200];
		FILE *fp;

		assert_int_equal(audit_key_load_or_create(f->state, "vigil/test-host", &priv), 0);
		snprintf(pempath, sizeof(pempath), "%s/pub.pem", f->root);
		fp = fopen(pempath, "w");
		assert_int_equal(PEM_write_PUBKEY(fp, priv.pkey), 1);
		fclose(fp);
		assert_int_equal(audit_key_read_public(pempath, NULL, &pem), 0);
		assert_string_equal(pem.name, "");
		r = verify_key(f, &pem);
		assert_int_equal(r.status, AUDIT_OK);
		assert_int_equal(r.checkpoints, (uint64_t)an.checkpoint);
		audit_key_free(&pem);
		audit_key_free(&priv);
	}
	/* A second run continues the chain with a new start record. */
	write_events(f, 10);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.records, 112);
	assert_int_equal(r.gaps, 0);
}

static void test_one_writer_per_dir(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_writer *w, *w2;

	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	assert_int_equal(audit_writer_open(&o, &w2, NULL), -EBUSY);
	assert_int_equal(audit_writer_close(w), 0);
	assert_int_equal(audit_writer_open(&o, &w2, NULL), 0);
	assert_int_equal(audit_writer_close(w2), 0);
	assert_int_equal(verify_pinned(f).status, AUDIT_OK);
}

static void count_reports(void *ctx, bool error, const char *msg)
{
	(void)error;
	(void)msg;
	++*(int *)ctx;
}

/* open's failure is one line in err, naming the file and the reason, and is not reported too. */
static void test_open_error_once(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct vigil_error err = {0};
	struct audit_writer *w = NULL;
	char dir[200], want[300];
	int reports = 0, fd;

	snprintf(dir, sizeof(dir), "%s/file", f->root);
	fd = open(dir, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	strcat(dir, "/log"); /* under a regular file: ENOTDIR, even for root */
	o.dir = dir;
	o.report = count_reports;
	o.report_ctx = &reports;
	assert_int_equal(audit_writer_open(&o, &w, &err), -ENOTDIR);
	assert_null(w);
	snprintf(want, sizeof(want), "audit: creating %s: Not a directory", dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, -ENOTDIR);
	assert_int_equal(reports, 0);
}

static void test_tamper_flip_byte(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	size_t len, off;
	char *buf;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	off = line_off(buf, len, 50);
	buf[off + 30] ^= 0x01;
	spit(f->path, buf, len);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 50, off);
	buf[off + 30] ^= 0x01;
	/* A flip inside the stored hash of record 70 is caught at 70 too. */
	off = line_off(buf, len, 71) - 10;
	buf[off] = buf[off] == '0' ? '1' : '0';
	spit(f->path, buf, len);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 70, line_off(buf, len, 70));
	free(buf);
}

static void test_tamper_delete(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	size_t len, a, b;
	char *buf;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	a = line_off(buf, len, 40);
	b = line_off(buf, len, 41);
	memmove(buf + a, buf + b, len - b);
	spit(f->path, buf, len - (b - a));
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 40, a);
	assert_non_null(strstr(r.msg, "record number 41 where 40 was expected"));
	free(buf);
}

static void test_tamper_insert_copy(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	size_t len, a, b;
	char *buf, *out;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	a = line_off(buf, len, 20);
	b = line_off(buf, len, 21);
	out = malloc(len + (b - a));
	memcpy(out, buf, b);
	memcpy(out + b, buf + a, b - a); /* record 20 twice */
	memcpy(out + b + (b - a), buf + b, len - b);
	spit(f->path, out, len + (b - a));
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 21, b);
	free(out);
	free(buf);
}

/* First checkpoint size >= n in checkpoints.jsonl. */
static uint64_t first_checkpoint_from(struct fx *f, uint64_t n)
{
	char path[200], *buf, *p;
	uint64_t best = 0;
	size_t len;

	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINTS, f->log);
	buf = slurp(path, &len);
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long v;

		if (sscanf(p, "{\"n\":%llu", &v) == 1 && v >= n && (!best || v < best))
			best = v;
	}
	free(buf);
	return best;
}

/* Inserts a forged record after line k and re-hashes everything after it, as an attacker can. */
static void test_tamper_insert_rehashed(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	struct audit_record_view rec;
	struct audit_chain c;
	char *buf, *out, msg[128];
	size_t len, off = 0, o = 0;
	unsigned int k = 30, line = 0;
	uint64_t cp;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	out = malloc(len + 4096);
	assert_int_equal(audit_chain_init(&c), 0);
	while (off < len) {
		const char *eol = memchr(buf + off, '\n', len - off);
		size_t l = (size_t)(eol + 1 - buf - off);

		line++;
		if (line <= k) {
			assert_int_equal(
			    audit_record_check(&c, buf + off, l, &rec, msg, sizeof(msg)), 0);
			memcpy(out + o, buf + off, l);
			o += l;
		} else {
			/* members: after {"n":N,"k":"KIND", up to ,"h": */
			const char *m = strstr(buf + off, "\",") + 2;
			char kind[16] = {0};

			sscanf(buf + off, "{\"n\":%*u,\"k\":\"%15[a-z_]", kind);
			if (line == k + 1)
				o += (size_t)audit_record_encode(
				    &c, "event", "\"e\":{\"forged\":1}", 16, out + o, 4096);
			o += (size_t)audit_record_encode(
			    &c, kind, m, (size_t)(buf + off + l - 1 - AUDIT_TRAILER_LEN - m),
			    out + o, len + 4096 - o);
		}
		off += l;
	}
	spit(f->path, out, o);
	cp = first_checkpoint_from(f, k + 1);
	assert_true(cp > k);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_MISMATCH, cp, line_off(out, o, (unsigned int)cp));
	audit_chain_free(&c);
	free(out);
	free(buf);
}

static void test_tamper_swap(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	size_t len, a, b, c;
	char *buf, *out;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	a = line_off(buf, len, 60);
	b = line_off(buf, len, 61);
	c = line_off(buf, len, 62);
	out = malloc(len);
	memcpy(out, buf, a);
	memcpy(out + a, buf + b, c - b);
	memcpy(out + a + (c - b), buf + a, b - a);
	memcpy(out + c, buf + c, len - c);
	spit(f->path, out, len);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 60, a);
	free(out);
	free(buf);
}

static void test_tamper_truncate(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	size_t len, a;
	char *buf;

	write_events(f, 100);
	buf = slurp(f->path, &len);
	/* Whole records cut off: the final checkpoint (101) proves they existed. */
	a = line_off(buf, len, 97);
	spit(f->path, buf, a);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_TRUNCATED, 97, 0);
	/* Cut mid-record: a torn tail, reported as such at that record's offset. */
	spit(f->path, buf, a + 20);
	r = verify_pinned(f);
	ASSERT_BAD(r, AUDIT_TORN_TAIL, 97, a);
	free(buf);
}

static void test_tamper_other_key(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	char other[160], cmd[600];
	struct fx g = *f;
	struct audit_key k;

	write_events(f, 50);
	/* A complete, valid log made with another key, copied over the real one. */
	snprintf(g.log, sizeof(g.log), "%s/other-log", f->root);
	snprintf(g.state, sizeof(g.state), "%s/other-state", f->root);
	snprintf(g.ack, sizeof(g.ack), "%s/other-ack", f->root);
	write_events(&g, 50);
	assert_int_equal(verify_pinned(&g).status, AUDIT_OK);
	snprintf(other, sizeof(other), "%s/real.vkey", f->root);
	snprintf(cmd, sizeof(cmd), "cp %s/audit.vkey %s && cp %s/audit.000001.jsonl %s/", f->log,
	         other, g.log, f->log);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(audit_key_read_public(other, NULL, &k), 0);
	r = verify_key(f, &k);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 1, 0);
	assert_non_null(strstr(r.msg, "another checkpoint key"));
	/* Unpinned, the real checkpoints are not signed by the key the forged log names. */
	r = verify_key(f, NULL);
	assert_int_equal(r.status, AUDIT_BAD_CHECKPOINT);
	assert_non_null(strstr(r.msg, "not signed by the log's key"));
	/* Forged checkpoints too: only the pinned key (or the attested one) tells them apart. */
	snprintf(cmd, sizeof(cmd), "cp %s/checkpoints.jsonl %s/", g.log, f->log);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(verify_key(f, NULL).status, AUDIT_OK);
	r = verify_key(f, &k);
	ASSERT_BAD(r, AUDIT_BAD_RECORD, 1, 0);
	audit_key_free(&k);
}

static void test_tamper_checkpoint(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	struct audit_verify_options vo = {.dir = f->log};
	char path[200], *buf, *p, orig;
	size_t len;

	write_events(f, 30);
	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINTS, f->log);
	buf = slurp(path, &len);
	/* Change one character of the first checkpoint's root hash. */
	p = strstr(buf, "\\n");
	p = strstr(p + 2, "\\n") + 2;
	orig = *p;
	*p = orig == 'A' ? 'B' : 'A';
	spit(path, buf, len);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_BAD_CHECKPOINT);
	assert_non_null(strstr(r.msg, "line 1"));
	assert_non_null(strstr(r.msg, "signature does not verify"));
	*p = orig;
	spit(path, buf, len);
	free(buf);
	/* An altered --checkpoint file is caught as well. */
	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINT, f->log);
	buf = slurp(path, &len);
	p = strchr(buf, '\n') + 1;
	*p = *p == '1' ? '2' : '1'; /* the record count */
	snprintf(path, sizeof(path), "%s/altered", f->root);
	spit(path, buf, len);
	free(buf);
	vo.checkpoint_file = path;
	audit_verify(&vo, &r);
	assert_int_equal(r.status, AUDIT_BAD_CHECKPOINT);
	assert_non_null(strstr(r.msg, "altered"));
}

static void test_rotation(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_verify_result r;
	char path[200], *buf, first[64];
	size_t len;
	unsigned long long n;

	o.rotate_bytes = 4096;
	write_events_opts(&o, 300);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_true(r.files >= 4);
	assert_int_equal(r.records, 301 + r.files - 1); /* one file record per rotation */
	/* File 3 opens with a file record naming itself. */
	snprintf(path, sizeof(path), "%s/audit.000003.jsonl", f->log);
	buf = slurp(path, &len);
	assert_int_equal(sscanf(buf, "{\"n\":%llu,\"k\":\"file\",", &n), 1);
	assert_non_null(strchr(buf, '\n'));
	assert_int_equal(audit_record_member(buf, (size_t)(strchr(buf, '\n') - buf), "file", first,
	                                     sizeof(first)),
	                 0);
	assert_string_equal(first, "audit.000003.jsonl");
	free(buf);
	/* Deleting a whole middle file: the hole in the numbering names it. */
	unlink(path);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_NO_LOG);
	assert_string_equal(r.bad_file, "audit.000003.jsonl");
	assert_non_null(strstr(r.msg, "missing"));
	/* Renumbering the later files to close the hole breaks the chain at its first record. */
	{
		char from[200], to[200];
		unsigned int i;

		for (i = 4;; i++) {
			snprintf(from, sizeof(from), "%s/audit.%06u.jsonl", f->log, i);
			snprintf(to, sizeof(to), "%s/audit.%06u.jsonl", f->log, i - 1);
			if (rename(from, to) < 0)
				break;
		}
	}
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_BAD_RECORD);
	assert_int_equal(r.bad_record, n);
	assert_string_equal(r.bad_file, "audit.000003.jsonl");
	assert_int_equal(r.bad_offset, 0);
}

static void test_torn_tail_recovery(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	const char torn[] = "{\"n\":102,\"k\":\"event\",\"e\":{\"i\":";
	char *buf, gap[256];
	size_t len;
	FILE *fp;

	write_events(f, 100);
	fp = fopen(f->path, "a");
	fputs(torn, fp);
	fclose(fp);
	assert_int_equal(verify_pinned(f).status, AUDIT_TORN_TAIL);
	write_events(f, 5); /* the next start finds the torn tail */
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.gaps, 1);
	assert_int_equal(r.records, 101 + 1 + 1 + 5); /* gap, start, 5 events */
	buf = slurp(f->path, &len);
	snprintf(gap, sizeof(gap), "{\"n\":102,\"k\":\"gap\",");
	assert_non_null(strstr(buf, gap));
	snprintf(gap, sizeof(gap), "\"offset\":%zu,\"bytes\":%zu,", line_off(buf, len, 102),
	         strlen(torn));
	assert_non_null(strstr(buf, gap));
	free(buf);
}

/* A whole line of garbage (zeros after a power cut) is cut as well, and the chain continues. */
static void test_garbage_line_recovery(void **state)
{
	struct fx *f = *state;
	struct audit_verify_result r;
	char zeros[300] = {0};
	FILE *fp;

	write_events(f, 20);
	zeros[299] = '\n';
	fp = fopen(f->path, "a");
	fwrite(zeros, 1, sizeof(zeros), fp);
	fclose(fp);
	assert_int_equal(verify_pinned(f).status, AUDIT_BAD_RECORD);
	write_events(f, 3);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.records, 21 + 1 + 1 + 3);
	assert_int_equal(r.gaps, 1);
}

static void test_last_loss_total(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_writer *w;
	uint64_t total = 99;

	assert_int_equal(audit_last_loss_total(f->log, "ringbuf", &total), 0);
	assert_int_equal(total, 0); /* no log yet */
	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	audit_submitf(w, "loss", "\"source\":\"ringbuf\",\"count\":5,\"total\":5");
	audit_submitf(w, "loss", "\"source\":\"exporter\",\"count\":2,\"total\":7");
	audit_submitf(w, "loss", "\"source\":\"ringbuf\",\"count\":3,\"total\":8");
	audit_submitf(w, "event", "\"e\":{\"source\":\"ringbuf\",\"total\":1}");
	assert_int_equal(audit_writer_close(w), 0);
	assert_int_equal(audit_last_loss_total(f->log, "ringbuf", &total), 0);
	assert_int_equal(total, 8);
	assert_int_equal(audit_last_loss_total(f->log, "exporter", &total), 0);
	assert_int_equal(total, 7);
	assert_int_equal(audit_last_loss_total(f->log, "queue", &total), 0);
	assert_int_equal(total, 0);
}

static uint64_t sum_loss(struct fx *f, const char *source)
{
	char *buf, *p, pat[64];
	uint64_t sum = 0;
	size_t len;

	buf = slurp(f->path, &len);
	snprintf(pat, sizeof(pat), "\"source\":\"%s\",\"count\":", source);
	for (p = buf; (p = strstr(p, pat)); p += strlen(pat))
		sum += strtoull(p + strlen(pat), NULL, 10);
	free(buf);
	return sum;
}

static void test_queue_drops_counted(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_verify_result r;
	struct audit_writer *w;
	struct audit_stats st;
	char members[4000];
	unsigned int i, ok = 0, dropped = 0;

	o.queue_bytes = 65536;
	memset(members, 'x', sizeof(members));
	memcpy(members, "\"e\":\"", 5);
	members[sizeof(members) - 1] = '"';
	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	for (i = 0; i < 2000; i++) {
		int rc = audit_submit(w, "event", members, sizeof(members));

		if (rc == 0)
			ok++;
		else if (rc == -ENOBUFS)
			dropped++;
		else
			fail_msg("submit: %d", rc);
	}
	audit_writer_sync(w);
	audit_writer_stats(w, &st);
	assert_int_equal(audit_writer_close(w), 0);
	assert_true(dropped > 0);
	assert_int_equal(st.queue_drops, dropped);
	assert_int_equal(st.submitted, ok);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	/* Every event is either a record or counted in a loss record: nothing silent. */
	assert_int_equal(sum_loss(f, "queue"), dropped);
	assert_int_equal(r.records, 1 + ok + r.losses);
}

/* Zero-copy submit: a committed slot is a record, a cancelled one nothing, an overrun a drop. */
static void test_submit_reserve(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_verify_result r;
	struct audit_writer *w;
	struct audit_stats st;
	char *slot, *log;
	size_t len;

	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	assert_int_equal(audit_submit_reserve(w, "event", 64, &slot), 0);
	memcpy(slot, "\"e\":{\"slot\":1}", 14);
	audit_submit_commit(w, 14);
	assert_int_equal(audit_submit_reserve(w, "event", 64, &slot), 0);
	audit_submit_commit(w, -1); /* formatting failed: nothing queued, nothing counted */
	assert_int_equal(audit_submit_reserve(w, "event", 8, &slot), 0);
	audit_submit_commit(w, 9); /* past the reservation */
	assert_int_equal(audit_submit_reserve(w, "event", 1 << 20, &slot), -EMSGSIZE);
	assert_int_equal(audit_submit_reserve(w, "a_kind_too_long_", 8, &slot), -EMSGSIZE);
	assert_int_equal(audit_submit(w, "event", "\"e\":{\"copy\":2}", 14), 0);
	audit_writer_sync(w);
	audit_writer_stats(w, &st);
	assert_int_equal(audit_writer_close(w), 0);
	assert_int_equal(st.submitted, 2);
	assert_int_equal(st.queue_drops, 3);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(sum_loss(f, "queue"), 3);
	log = slurp(f->path, &len);
	assert_non_null(strstr(log, ",\"k\":\"event\",\"e\":{\"slot\":1},\"h\":\""));
	assert_non_null(strstr(log, ",\"k\":\"event\",\"e\":{\"copy\":2},\"h\":\""));
	free(log);
}

/* Disk full, simulated with RLIMIT_FSIZE: writes fail, the loss is recorded once they work. */
static void test_disk_full(void **state)
{
	struct fx *f = *state;
	struct audit_options o = fx_opts(f);
	struct audit_verify_result r;
	struct audit_writer *w;
	struct audit_stats st;
	struct rlimit old, lim;
	struct stat sb;
	unsigned int i;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(audit_writer_open(&o, &w, NULL), 0);
	for (i = 0; i < 10; i++)
		audit_submitf(w, "event", "\"e\":{\"i\":%u}", i);
	audit_writer_sync(w);
	assert_int_equal(stat(f->path, &sb), 0);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 500;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 50; i++) {
		audit_submitf(w, "event", "\"e\":{\"i\":%u,\"pad\":\"%0100d\"}", i, 0);
		audit_writer_sync(w); /* one commit each: some fit, the rest fail */
	}
	audit_writer_stats(w, &st);
	assert_true(st.write_drops > 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	usleep(300000); /* past the retry interval */
	audit_submitf(w, "event", "\"e\":{\"after\":1}");
	audit_writer_sync(w);
	audit_writer_stats(w, &st);
	assert_int_equal(audit_writer_close(w), 0);
	r = verify_pinned(f);
	assert_int_equal(r.status, AUDIT_OK);
	assert_int_equal(r.losses, 1);
	assert_int_equal(sum_loss(f, "write"), st.write_drops);
	/* start + 10 + the events that fitted + loss + after == 1 + 61 - drops + 1 */
	assert_int_equal(r.records, 1 + 61 - st.write_drops + 1);
}

/* The tap ring: chunks come out whole and in order across the wrap; a full tap leaves a chunk
 * out and counts it; a reservation is written in place. */
static void test_tap_ring(void **state)
{
	struct audit_tap *t = audit_tap_new(AUDIT_TAP_MIN);
	struct audit_tap_chunk c;
	struct audit_tap_stats st;
	char data[10000];
	uint64_t put = 0, got = 0, left;
	unsigned int i;
	bool seen = false;
	char *p;

	(void)state;
	assert_null(audit_tap_new(AUDIT_TAP_MIN - 1));
	assert_non_null(t);
	assert_false(audit_tap_peek(t, &c));
	/* 200 chunks of 1-9,999 bytes through 64 KiB: each wraps the ring several times. */
	for (i = 0; i < 200; i++) {
		size_t len = 1 + (i * 7919) % (sizeof(data) - 1);

		for (size_t j = 0; j < len; j++)
			data[j] = (char)(i + j);
		assert_true(audit_tap_put(t, put + 1, put + 3, i, i * 10ull, data, len));
		put += 3;
		if (i % 3 == 2) { /* the reader lags by up to three chunks */
			while (audit_tap_peek(t, &c)) {
				size_t want = 1 + ((c.off / 10) * 7919) % (sizeof(data) - 1);

				assert_int_equal(c.first, got + 1);
				assert_int_equal(c.last, got + 3);
				assert_int_equal(c.seq, c.off / 10);
				assert_int_equal(c.len, want);
				for (size_t j = 0; j < c.len; j++)
					if (c.data[j] != (char)(c.seq + j))
						fail_msg("chunk %u byte %zu", c.seq, j);
				got += 3;
				audit_tap_pop(t);
			}
		}
	}
	while (audit_tap_peek(t, &c)) {
		got = c.last;
		audit_tap_pop(t);
	}
	assert_int_equal(got, put);
	/* Nobody reads: the tap fills, the rest is left out and counted. */
	for (i = 0; i < 10; i++)
		audit_tap_put(t, put + 1 + i * 5, put + 5 + i * 5, 1, 0, data, sizeof(data));
	audit_tap_stats(t, &st);
	/* Six chunks of 10,032 bytes fit in 65,536, or five where the wrap wastes room. */
	assert_in_range(st.missed, 4, 5);
	assert_int_equal(st.missed_records, st.missed * 5);
	left = st.missed;
	assert_null(audit_tap_reserve(t, sizeof(data)));
	audit_tap_commit(t, 1000, 1000, 1, 0, 10); /* without a reservation: left out */
	audit_tap_stats(t, &st);
	assert_int_equal(st.missed, left + 1);
	assert_int_equal(st.missed_records, left * 5 + 1);
	/* Read one: room for a reservation, written in place. */
	assert_true(audit_tap_peek(t, &c));
	audit_tap_pop(t);
	p = audit_tap_reserve(t, 100);
	assert_non_null(p);
	memcpy(p, "line\n", 5);
	audit_tap_commit(t, 2000, 2000, 9, 77, 5);
	for (i = 0; audit_tap_peek(t, &c); i++) {
		seen = c.first == 2000;
		audit_tap_pop(t);
	}
	/* Ours came last, as it was written. */
	assert_true(seen);
	assert_int_equal(c.len, 5);
	assert_memory_equal(c.data, "line\n", 5);
	assert_int_equal(c.off, 77);
	assert_int_equal(i, 10 - left); /* the chunks that fit, less the one read, and ours */
	audit_tap_free(t);
}

/* The tap between two threads, as between the writer and the exporter: 200,000 chunks of
 * 1-3,000 bytes through 64 KiB + 104 bytes (every wrap case), reserved or copied, every byte of
 * every chunk checked in order; chunks that did not fit are counted, never half seen. */
struct tap_run {
	struct audit_tap *t;
	unsigned int chunks;
};

static void *tap_producer(void *arg)
{
	struct tap_run *run = arg;
	char buf[3000];

	for (unsigned int i = 0; i < run->chunks; i++) {
		size_t len = 1 + (i * 2654435761u) % sizeof(buf);
		char *p = i % 2 ? audit_tap_reserve(run->t, len + (i % 7) * 100) : NULL;

		for (size_t j = 0; j < len; j++)
			(p ? p : buf)[j] = (char)(i * 31 + j);
		if (p)
			audit_tap_commit(run->t, i, i, 0, len, len);
		else if (!audit_tap_put(run->t, i, i, 0, len, buf, len))
			sched_yield();
	}
	return NULL;
}

static void test_tap_threads(void **state)
{
	struct tap_run run = {.t = audit_tap_new(AUDIT_TAP_MIN + 104), .chunks = 200000};
	struct audit_tap_chunk c;
	struct audit_tap_stats st;
	uint64_t seen = 0, last = 0;
	bool any = false;
	pthread_t th;

	(void)state;
	assert_non_null(run.t);
	assert_int_equal(pthread_create(&th, NULL, tap_producer, &run), 0);
	for (;;) {
		if (!audit_tap_peek(run.t, &c)) {
			audit_tap_stats(run.t, &st);
			if (any && last == run.chunks - 1)
				break;
			if (seen + st.missed == run.chunks)
				break;
			continue;
		}
		assert_true(!any || c.first > last);
		assert_int_equal(c.len, c.off);
		for (size_t j = 0; j < c.len; j++)
			if (c.data[j] != (char)(c.first * 31 + j))
				fail_msg("chunk %llu byte %zu", (unsigned long long)c.first, j);
		last = c.first;
		any = true;
		seen++;
		audit_tap_pop(run.t);
	}
	pthread_join(th, NULL);
	while (audit_tap_peek(run.t, &c)) {
		seen++;
		audit_tap_pop(run.t);
	}
	audit_tap_stats(run.t, &st);
	assert_int_equal(seen + st.missed, run.chunks);
	assert_int_equal(st.chunks, seen);
	assert_true(seen > run.chunks / 10);
	audit_tap_free(run.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_vector),
	    cmocka_unit_test(test_encode_lengths),
	    cmocka_unit_test(test_check_rejects),
	    cmocka_unit_test(test_options_parse),
	    cmocka_unit_test_setup_teardown(test_checkpoint_note, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_note_ecdsa, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_verify_fails_closed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_file_key_private, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_one_writer_per_dir, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_open_error_once, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_last_loss_total, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_flip_byte, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_delete, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_insert_copy, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_insert_rehashed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_swap, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_truncate, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_other_key, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tamper_checkpoint, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rotation, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail_recovery, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_line_recovery, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_queue_drops_counted, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_submit_reserve, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full, fx_setup, fx_teardown),
	    cmocka_unit_test(test_tap_ring),
	    cmocka_unit_test(test_tap_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
