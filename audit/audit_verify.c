/* Audit log verifier: the whole chain, every checkpoint signature, checkpoints against chain. */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* map_file's answer for a directory, FIFO or device where a log file should be. */
#define EFTYPE_NOT_REGULAR VIGIL_ENOTREG

struct ckpt {
	struct audit_checkpoint cp;
	char where[96];
};

struct verify {
	const struct audit_verify_options *o;
	struct audit_verify_result *r;
	struct audit_key key; /* the key every start record and checkpoint must use */
	bool have_key;
	struct ckpt *cps;
	size_t n_cps, next_cp;
	struct audit_chain chain;
	/* The first bad checkpoint: reported only if the chain itself is sound, because a
	 * broken chain names the exact record and explains the checkpoint failure. */
	struct audit_verify_result cp_fail;
};

const char *audit_verify_status_name(enum audit_verify_status s)
{
	static const char *const names[] = {
	    [AUDIT_OK] = "ok",
	    [AUDIT_BAD_RECORD] = "bad record",
	    [AUDIT_BAD_CHECKPOINT] = "bad checkpoint",
	    [AUDIT_MISMATCH] = "checkpoint mismatch",
	    [AUDIT_TRUNCATED] = "truncated",
	    [AUDIT_TORN_TAIL] = "torn tail",
	    [AUDIT_NO_LOG] = "no log",
	    [AUDIT_UNCOVERED] = "no signed checkpoint",
	    [AUDIT_INCOMPLETE] = "not verified",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int fail(struct verify *v, enum audit_verify_status s, uint64_t rec, const char *file,
                uint64_t off, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(struct verify *v, enum audit_verify_status s, uint64_t rec, const char *file,
                uint64_t off, const char *fmt, ...)
{
	va_list ap;

	v->r->status = s;
	v->r->bad_record = rec;
	v->r->bad_offset = off;
	snprintf(v->r->bad_file, sizeof(v->r->bad_file), "%s", file ? file : "");
	va_start(ap, fmt);
	vsnprintf(v->r->msg, sizeof(v->r->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A whole file, mapped read-only; size 0 gives an empty buffer. O_NONBLOCK: a FIFO put in a
 * file's place must not hang the verifier; it is refused with the other non-regular files.
 */
static int map_file(const char *path, const char **buf, size_t *size)
{
	struct stat st;
	int fd = vigil_open_regular(path, 0, &st);

	if (fd < 0)
		return fd;
	*size = (size_t)st.st_size;
	*buf = *size ? mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
	close(fd);
	return *buf == MAP_FAILED ? -ENOMEM : 0;
}

/* An input error in words: the reason line names the file and says this. */
static const char *why(int r)
{
	return r == -EFTYPE_NOT_REGULAR ? "not a regular file" : strerror(-r);
}

static void unmap_file(const char *buf, size_t size)
{
	if (size)
		munmap((void *)buf, size);
}

/* Without a pinned key, the first start record's key is the one the whole log must use. */
static int learn_key(struct verify *v, const char *path)
{
	char pub64[2 * AUDIT_PUB_MAX], origin[AUDIT_ORIGIN_MAX + 1];
	const char *buf, *p;
	size_t size;
	int r;

	if (v->o->key && v->o->key->name[0])
		return audit_key_from_public(v->o->key->name, v->o->key->pub, v->o->key->pub_len,
		                             &v->key);
	r = map_file(path, &buf, &size);
	if (r < 0)
		return r;
	r = -ENOKEY;
	for (p = buf; p < buf + size;) {
		const char *eol = memchr(p, '\n', (size_t)(buf + size - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(buf + size - p);
		const char *k = memmem(p, len < 64 ? len : 64, ",\"k\":\"start\"", 12);

		if (k && audit_record_member(p, len, "pubkey", pub64, sizeof(pub64)) == 0 &&
		    audit_record_member(p, len, "origin", origin, sizeof(origin)) == 0) {
			if (v->o->key) /* a PEM key carries no name: the log's origin names it */
				r = audit_key_from_public(origin, v->o->key->pub,
				                          v->o->key->pub_len, &v->key);
			else
				r = audit_key_from_base64(origin, pub64, &v->key);
			break;
		}
		p = eol ? eol + 1 : buf + size;
	}
	unmap_file(buf, size);
	return r;
}

static int defer_checkpoint_failure(struct verify *v, const struct ckpt *c, int r);

/* The "total" member of the last line of buf holding a loss record of source, or -ENOENT. */
static int last_total_in(const char *buf, size_t size, const char *source, uint64_t *ret)
{
	char pat[64];
	const char *end = buf + size;
	int plen = snprintf(pat, sizeof(pat), ",\"source\":\"%s\",", source);

	while (end > buf) {
		const char *line = memrchr(buf, '\n', (size_t)(end - buf - 1));
		const char *t;

		line = line ? line + 1 : buf;
		if ((size_t)(end - line) > 20 && memmem(line, 40, ",\"k\":\"loss\"", 11) &&
		    memmem(line, (size_t)(end - line), pat, (size_t)plen) &&
		    (t = memmem(line, (size_t)(end - line), ",\"total\":", 9))) {
			*ret = strtoull(t + 9, NULL, 10);
			return 0;
		}
		end = line;
	}
	return -ENOENT;
}

int audit_last_loss_total(const char *dir, const char *source, uint64_t *ret)
{
	uint32_t *seqs = NULL;
	size_t n = 0;
	int r = audit_list_files(dir, &seqs, &n);

	*ret = 0;
	if (r == -ENOENT)
		return 0; /* no log yet: nothing was counted */
	while (r >= 0 && n--) {
		char path[4096], name[64];
		const char *buf;
		size_t size;

		audit_file_name(seqs[n], name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		r = map_file(path, &buf, &size);
		if (r < 0)
			break;
		r = last_total_in(buf, size, source, ret);
		unmap_file(buf, size);
		if (r == 0)
			break;
		r = 0;
	}
	free(seqs);
	return r;
}

static int add_checkpoint(struct verify *v, const char *note, size_t len, const char *where)
{
	struct ckpt c;
	struct ckpt *grown;
	int r;

	memset(&c, 0, sizeof(c));
	r = audit_checkpoint_open(&v->key, note, len, &c.cp);
	snprintf(c.where, sizeof(c.where), "%s", where);
	if (r < 0 || strcmp(c.cp.origin, v->key.name) != 0)
		return defer_checkpoint_failure(v, &c, r);
	grown = realloc(v->cps, (v->n_cps + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	v->cps = grown;
	v->cps[v->n_cps++] = c;
	v->r->checkpoints++;
	return 0;
}

static int defer_checkpoint_failure(struct verify *v, const struct ckpt *c, int r)
{
	struct audit_verify_result *saved = v->r;
	const char *where = c->where;

	if (v->cp_fail.status != AUDIT_OK)
		return 0;
	v->r = &v->cp_fail;
	if (r < 0)
		fail(v, AUDIT_BAD_CHECKPOINT, c->cp.n, where, 0,
		     "checkpoint (%s) for record %llu: %s", where, (unsigned long long)c->cp.n,
		     r == -EKEYREJECTED ? "signature does not verify"
		     : r == -ENOKEY     ? "not signed by the log's key"
		                        : "malformed note");
	else
		fail(v, AUDIT_BAD_CHECKPOINT, c->cp.n, where, 0,
		     "checkpoint (%s): origin '%s' is not the key's '%s'", where, c->cp.origin,
		     v->key.name);
	v->r = saved;
	return 0;
}

/*
 * checkpoints.jsonl is required: vigild creates it with the log, and without it nothing signed
 * vouches for the chain. An empty one is read (no checkpoint yet); the result then says so.
 */
static int load_checkpoints(struct verify *v)
{
	char path[4096], where[96];
	const char *buf, *p;
	size_t size, line = 0;
	int r;

	snprintf(path, sizeof(path), "%s/" AUDIT_CHECKPOINTS, v->o->dir);
	r = map_file(path, &buf, &size);
	if (r < 0)
		return fail(v, AUDIT_NO_LOG, 0, AUDIT_CHECKPOINTS, 0, "%s: %s", path, why(r));
	for (p = buf; r >= 0 && p < buf + size;) {
		const char *eol = memchr(p, '\n', (size_t)(buf + size - p));
		json_t *j;
		const char *note;
		size_t before = v->n_cps;

		line++;
		snprintf(where, sizeof(where), AUDIT_CHECKPOINTS " line %zu", line);
		if (!eol) { /* vigild's next start cuts a torn line; until then it is not a check */
			r = fail(v, AUDIT_TORN_TAIL, 0, AUDIT_CHECKPOINTS, (uint64_t)(p - buf),
			         "%s: truncated (%zu bytes without a line end)", path,
			         (size_t)(buf + size - p));
			break;
		}
		j = json_loadb(p, (size_t)(eol - p), 0, NULL);
		note = json_string_value(json_object_get(j, "note"));
		if (!note || !json_is_integer(json_object_get(j, "n")))
			r = fail(v, AUDIT_BAD_CHECKPOINT, 0, AUDIT_CHECKPOINTS, (uint64_t)(p - buf),
			         "%s: not a checkpoint line", where);
		else
			r = add_checkpoint(v, note, strlen(note), where);
		if (r >= 0 && v->n_cps > before &&
		    (uint64_t)json_integer_value(json_object_get(j, "n")) != v->cps[before].cp.n)
			r = fail(v, AUDIT_BAD_CHECKPOINT, v->cps[before].cp.n, AUDIT_CHECKPOINTS,
			         (uint64_t)(p - buf), "%s: \"n\" disagrees with the note", where);
		json_decref(j);
		p = eol + 1;
	}
	unmap_file(buf, size);
	if (r >= 0 && v->o->checkpoint_file) {
		r = map_file(v->o->checkpoint_file, &buf, &size);
		if (r == 0 && size == 0)
			r = -ENODATA;
		if (r < 0)
			return fail(v, AUDIT_NO_LOG, 0, v->o->checkpoint_file, 0, "%s: %s",
			            v->o->checkpoint_file, r == -ENODATA ? "empty" : why(r));
		r = add_checkpoint(v, buf, size, v->o->checkpoint_file);
		unmap_file(buf, size);
	}
	return r;
}

static int cmp_ckpt(const void *a, const void *b)
{
	const struct ckpt *x = a, *y = b;

	return x->cp.n < y->cp.n ? -1 : x->cp.n > y->cp.n;
}

/* Checks the record just accepted against its kind's rules and the checkpoints at its number. */
static int check_record(struct verify *v, const struct audit_record_view *rec, const char *file,
                        uint64_t off, bool first_in_file, bool first_file)
{
	char pub64[2 * AUDIT_PUB_MAX], want64[2 * AUDIT_PUB_MAX];

	if (strcmp(rec->kind, "file") == 0) {
		char name[64];

		if (!first_in_file || first_file ||
		    audit_record_member(rec->line, rec->len, "file", name, sizeof(name)) < 0 ||
		    strcmp(name, file) != 0)
			return fail(v, AUDIT_BAD_RECORD, rec->n, file, off,
			            "file record out of place (it must open %s)", file);
	} else if (first_in_file && !first_file) {
		return fail(v, AUDIT_BAD_RECORD, rec->n, file, off,
		            "%s does not start with a file record", file);
	} else if (strcmp(rec->kind, "start") == 0) {
		audit_key_pubkey_base64(&v->key, want64, sizeof(want64));
		if (audit_record_member(rec->line, rec->len, "pubkey", pub64, sizeof(pub64)) < 0 ||
		    strcmp(pub64, want64) != 0)
			return fail(v, AUDIT_BAD_RECORD, rec->n, file, off,
			            "start record names another checkpoint key (%s)", pub64);
	} else if (strcmp(rec->kind, "gap") == 0) {
		v->r->gaps++;
	} else if (strcmp(rec->kind, "loss") == 0) {
		v->r->losses++;
	}
	for (; v->next_cp < v->n_cps && v->cps[v->next_cp].cp.n <= rec->n; v->next_cp++) {
		const struct ckpt *c = &v->cps[v->next_cp];

		if (c->cp.n == rec->n && memcmp(c->cp.root, v->chain.h, AUDIT_HASH_LEN) != 0)
			return fail(v, AUDIT_MISMATCH, rec->n, file, off,
			            "checkpoint (%s) for record %llu does not match the chain: "
			            "records up to it were rewritten",
			            c->where, (unsigned long long)rec->n);
		if (c->cp.n == rec->n)
			v->r->covered = rec->n; /* a signature now vouches for records 1..n */
	}
	return 0;
}

static int walk_file(struct verify *v, uint32_t seq, bool first_file, bool last_file)
{
	char path[4096], name[64], msg[256];
	struct audit_record_view rec;
	const char *buf;
	size_t size, off = 0;
	int r;

	audit_file_name(seq, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", v->o->dir, name);
	r = map_file(path, &buf, &size);
	if (r < 0)
		return fail(v, AUDIT_NO_LOG, v->chain.n + 1, name, 0, "%s: %s", path, why(r));
	/* vigild never leaves a log file empty: it opens with a file or start record. */
	if (size == 0)
		return fail(v, AUDIT_NO_LOG, v->chain.n + 1, name, 0, "%s: empty", path);
	for (r = 0; r >= 0 && off < size;) {
		const char *eol = memchr(buf + off, '\n', size - off);

		if (!eol) {
			r = fail(v, last_file ? AUDIT_TORN_TAIL : AUDIT_BAD_RECORD, v->chain.n + 1,
			         name, off, "%zu bytes without a line end%s", size - off,
			         last_file ? " (vigild stopped mid-write; its next start "
			                     "records a gap)"
			                   : "");
			break;
		}
		if (audit_record_check(&v->chain, buf + off, (size_t)(eol + 1 - buf - off), &rec,
		                       msg, sizeof(msg)) < 0) {
			r = fail(v, AUDIT_BAD_RECORD, v->chain.n + 1, name, off, "%s", msg);
			break;
		}
		r = check_record(v, &rec, name, off, off == 0, first_file);
		off = (size_t)(eol + 1 - buf);
	}
	unmap_file(buf, size);
	v->r->files++;
	return r;
}

/* Log files are numbered from 1 without holes: rotation never skips one, nothing deletes one. */
static int check_sequence(struct verify *v, const uint32_t *seqs, size_t n)
{
	char name[64], path[4096];
	size_t i;

	for (i = 0; i < n; i++)
		if (seqs[i] != i + 1) {
			audit_file_name((uint32_t)(i + 1), name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s", v->o->dir, name);
			return fail(v, AUDIT_NO_LOG, 0, name, 0,
			            "%s: missing (the log has %zu later files)", path, n - i);
		}
	return 0;
}

int audit_verify(const struct audit_verify_options *o, struct audit_verify_result *r)
{
	struct verify v = {.o = o, .r = r};
	uint32_t *seqs = NULL;
	char path[4096], name[64];
	size_t n = 0, i;
	int rc;

	memset(r, 0, sizeof(*r));
	/* Fail closed by construction: only the end of a completed walk sets another status. */
	r->status = AUDIT_INCOMPLETE;
	snprintf(r->msg, sizeof(r->msg), "%s: the check did not complete", o->dir);
	rc = audit_list_files(o->dir, &seqs, &n);
	if (rc < 0 || n == 0) {
		rc = fail(&v, AUDIT_NO_LOG, 0, "", 0, "%s: %s", o->dir,
		          rc < 0 ? strerror(-rc) : "no audit.NNNNNN.jsonl files");
		free(seqs);
		return rc;
	}
	rc = check_sequence(&v, seqs, n);
	if (rc < 0)
		goto out_seqs;
	rc = audit_chain_init(&v.chain);
	if (rc < 0)
		goto out;
	audit_file_name(seqs[0], name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", o->dir, name);
	rc = learn_key(&v, path);
	if (rc < 0) {
		int mr;
		const char *buf;
		size_t size = 0;

		/* Say what is wrong with the file itself before blaming its contents. */
		mr = map_file(path, &buf, &size);
		if (mr == 0)
			unmap_file(buf, size);
		if (mr < 0 || size == 0)
			rc = fail(&v, AUDIT_NO_LOG, 1, name, 0, "%s: %s", path,
			          mr < 0 ? why(mr) : "empty");
		else
			rc = fail(&v, AUDIT_BAD_RECORD, 1, name, 0,
			          "no start record with a usable checkpoint key in %s", name);
		goto out;
	}
	rc = load_checkpoints(&v);
	if (rc < 0)
		goto out;
	if (v.n_cps)
		qsort(v.cps, v.n_cps, sizeof(*v.cps), cmp_ckpt);
	for (i = 0; i < n && rc >= 0; i++)
		rc = walk_file(&v, seqs[i], i == 0, i == n - 1);
	r->records = v.chain.n;
	memcpy(r->last_hash, v.chain.h, AUDIT_HASH_LEN);
	if (rc >= 0 && v.next_cp < v.n_cps)
		rc = fail(&v, AUDIT_TRUNCATED, v.chain.n + 1, "", 0,
		          "the log ends at record %llu but a checkpoint (%s) covers %llu records",
		          (unsigned long long)v.chain.n, v.cps[v.n_cps - 1].where,
		          (unsigned long long)v.cps[v.n_cps - 1].cp.n);
	if (rc >= 0 && v.cp_fail.status != AUDIT_OK) {
		*r = v.cp_fail;
		rc = -1;
	}
	if (rc >= 0 && r->covered == 0) {
		rc = fail(&v, AUDIT_UNCOVERED, 1, AUDIT_CHECKPOINTS, 0,
		          "%llu records chained, but no verified signed checkpoint in %s/%s covers "
		          "any of them",
		          (unsigned long long)r->records, o->dir, AUDIT_CHECKPOINTS);
	} else if (rc >= 0) {
		r->status = AUDIT_OK; /* every check above completed */
		snprintf(
		    r->msg, sizeof(r->msg),
		    "%llu records in %llu files, %llu checkpoints verified; records 1-%llu are "
		    "covered by a signed checkpoint, %llu after it are chained only",
		    (unsigned long long)r->records, (unsigned long long)r->files,
		    (unsigned long long)r->checkpoints, (unsigned long long)r->covered,
		    (unsigned long long)(r->records - r->covered));
	}
out:
	audit_key_free(&v.key);
	audit_chain_free(&v.chain);
	free(v.cps);
out_seqs:
	free(seqs);
	return r->status == AUDIT_OK ? 0 : -1;
}
