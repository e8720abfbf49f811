/* Hash-chained audit log: record encoding, io_uring writer, signed checkpoints, verifier. */
#ifndef VIGIL_AUDIT_H
#define VIGIL_AUDIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/error.h"
#include "lib/util.h"

/* The format is specified in docs/AUDIT-LOG.md; these constants are part of it. */
#define AUDIT_HASH_LEN 32
#define AUDIT_HEX_LEN  64
/* Every line ends with `,"h":"<64 hex>"}` then '\n': the hashed bytes are what precedes it. */
#define AUDIT_TRAILER_LEN 72
#define AUDIT_KIND_MAX    15
#define AUDIT_RECORD_MAX  16384
#define AUDIT_ORIGIN_MAX  200
#define AUDIT_NOTE_MAX    1024

#define AUDIT_FILE_PREFIX "audit."
#define AUDIT_FILE_SUFFIX ".jsonl"
#define AUDIT_CHECKPOINTS "checkpoints.jsonl"
#define AUDIT_CHECKPOINT  "checkpoint"
#define AUDIT_KEY_FILE    "audit-key.pem"
#define AUDIT_VKEY_FILE   "audit.vkey"
#define AUDIT_LOCK_FILE   ".lock"

/* Chain state after record n: h is h(n); h(0) is 32 zero bytes. */
struct audit_chain {
	uint64_t n;
	uint8_t h[AUDIT_HASH_LEN];
	EVP_MD_CTX *md;
	EVP_MD *sha256;
};

int audit_chain_init(struct audit_chain *c);
void audit_chain_free(struct audit_chain *c);

/*
 * Encodes record c->n + 1 as one line `{"n":N,"k":"KIND",MEMBERS,"h":"HEX"}\n` into out and
 * advances c. members is a comma-separated list of JSON object members (may be empty).
 * Returns the line length, or -ENOBUFS when it does not fit (c is then unchanged).
 */
int audit_record_encode(struct audit_chain *c, const char *kind, const char *members,
                        size_t members_len, char *out, size_t size);

/* One record as the reader saw it. */
struct audit_record_view {
	uint64_t n;
	const char *line; /* not NUL-terminated; len includes the '\n' */
	size_t len;
	char kind[AUDIT_KIND_MAX + 1];
};

/*
 * Checks one line (with its '\n') against c and advances c. When c->n is UINT64_MAX the
 * chain state is unknown and the line must be record 1 or a "file" record, whose prev
 * member seeds it (recovery of one file). Returns 0, -EBADMSG (malformed), -ERANGE
 * (wrong record number) or -EILSEQ (hash mismatch); msg explains.
 */
int audit_record_check(struct audit_chain *c, const char *line, size_t len,
                       struct audit_record_view *ret, char *msg, size_t msg_size);

/*
 * Reads a record line's frame without hashing it: n and kind from its head `{"n":N,"k":"KIND"`,
 * h(n) from its trailer `,"h":"HEX"}\n`. For bytes known to be the writer's (the tap): 0 or
 * -EBADMSG.
 */
int audit_record_frame(const char *line, size_t len, struct audit_record_view *ret,
                       uint8_t h[AUDIT_HASH_LEN]);

/* Returns the string value of member key in a record line, copied into out, or -ENOENT. */
int audit_record_member(const char *line, size_t len, const char *key, char *out, size_t size);

/* Log files in dir, sorted by sequence number; *ret_seqs is malloc'ed. */
int audit_list_files(const char *dir, uint32_t **ret_seqs, size_t *ret_n);
void audit_file_name(uint32_t seq, char *out, size_t size);

/* --- keys and C2SP signed-note checkpoints ----------------------------------------- */

/*
 * Signature types of the C2SP signed-note spec that vigil uses: 0x01 Ed25519 (the file key),
 * 0x02 ECDSA P-256 with SHA-256 (the TPM-resident key; the TPM cannot do Ed25519).
 */
#define AUDIT_SIG_ED25519 0x01
#define AUDIT_SIG_ECDSA   0x02
#define AUDIT_PUB_MAX     91 /* a P-256 SubjectPublicKeyInfo in DER; Ed25519 uses 32 */
#define AUDIT_SIG_MAX     72 /* a DER ECDSA-Sig-Value on P-256; Ed25519 uses 64 */
#define AUDIT_KEY_TPM     "audit-key.tpm"

/* Signs a SHA-256 digest with a key held elsewhere (the TPM); *sig_len is in/out. */
typedef int (*audit_sign_fn)(void *ctx, const uint8_t digest[AUDIT_HASH_LEN], uint8_t *sig,
                             size_t *sig_len);

struct audit_key {
	EVP_PKEY *pkey; /* public, or private for a file key loaded from the state directory */
	uint8_t type;   /* AUDIT_SIG_* */
	uint8_t pub[AUDIT_PUB_MAX]; /* Ed25519: 32 raw bytes; ECDSA: DER SubjectPublicKeyInfo */
	size_t pub_len;
	/* Ed25519: SHA-256(name || '\n' || 0x01 || pub)[:4]; ECDSA: SHA-256(SPKI)[:4] (C2SP). */
	uint8_t id[4];
	char name[AUDIT_ORIGIN_MAX + 1];
	/* An external signer: the private key never enters this process (vigild's TPM key). */
	audit_sign_fn sign;
	void (*sign_free)(void *ctx);
	void *sign_ctx;
};

/*
 * Loads state_dir/audit-key.pem, creating a new Ed25519 key the first time: mode 0600 whatever
 * the umask, O_NOFOLLOW, in a 0700 directory; an existing key readable by others is refused.
 */
int audit_key_load_or_create(const char *state_dir, const char *name, struct audit_key *k);
/* A verifier key from a file: a note vkey line (name+hex id+base64) or a PEM public key. */
int audit_key_read_public(const char *path, const char *name, struct audit_key *k);
int audit_key_from_raw(const char *name, const uint8_t pub[32], struct audit_key *k);
/* A public key of either type: 32 raw bytes are Ed25519, else a DER P-256 SPKI. */
int audit_key_from_public(const char *name, const uint8_t *pub, size_t len, struct audit_key *k);
/* The same from the start record's "pubkey" member (base64 of pub). */
int audit_key_from_base64(const char *name, const char *b64, struct audit_key *k);
/* base64(pub): what the start record's "pubkey" member holds. */
int audit_key_pubkey_base64(const struct audit_key *k, char *out, size_t size);
/* A key whose signatures come from sign(ctx, ...): pub is its P-256 SPKI; sign_free(ctx) on free.
 */
int audit_key_external(const char *name, const uint8_t *spki, size_t len, audit_sign_fn sign,
                       void (*sign_free)(void *ctx), void *ctx, struct audit_key *k);
void audit_key_free(struct audit_key *k);
/* The note verifier key `name+<hex id>+<base64(type || pub)>`. */
int audit_key_vkey(const struct audit_key *k, char *out, size_t size);

struct audit_checkpoint {
	char origin[AUDIT_ORIGIN_MAX + 1];
	uint64_t n;
	uint8_t root[AUDIT_HASH_LEN];
};

/* Writes a signed tlog-checkpoint note for (origin, n, root); returns its length. */
int audit_checkpoint_sign(const struct audit_key *k, const struct audit_checkpoint *cp, char *out,
                          size_t size);
/*
 * Parses note and checks the signature by k (matched by name and key id). Returns 0,
 * -EBADMSG (malformed), -ENOKEY (no signature line by k) or -EKEYREJECTED (bad signature).
 */
int audit_checkpoint_open(const struct audit_key *k, const char *note, size_t len,
                          struct audit_checkpoint *ret);

/* --- writer ------------------------------------------------------------------------ */

/* Measures data into the runtime measurement log and the PCR (wired to attest/ by vigild). */
typedef int (*audit_anchor_fn)(void *ctx, const char *content_type, const void *data, size_t len);

#define AUDIT_CT_START      "vigil/audit-start"
#define AUDIT_CT_KEY        "vigil/audit-key"
#define AUDIT_CT_CHECKPOINT "vigil/audit-checkpoint"

struct audit_options {
	const char *dir;           /* log directory */
	const char *state_dir;     /* holds the checkpoint key */
	const char *origin;        /* checkpoint origin and key name, "vigil/<host id>" */
	const char *ack_path;      /* optional: "N HEX\n" of the last durable record */
	const char *start_members; /* extra members of the start record (measurement...) */
	unsigned int fsync_records;
	unsigned int fsync_ms;
	unsigned int checkpoint_records;
	unsigned int checkpoint_ms;
	uint64_t rotate_bytes;
	size_t queue_bytes;
	bool block_when_full; /* benchmarks only: wait for queue space instead of dropping */
	audit_anchor_fn anchor;
	void *anchor_ctx;
	/* Optional: provides the checkpoint key (vigild's TPM key); NULL loads the file key. */
	int (*key_open)(void *ctx, const char *state_dir, const char *name, struct audit_key *ret);
	void *key_ctx;
	/*
	 * Optional: what goes wrong (or is repaired) while the log is written, and open's notices,
	 * one line without a prefix, error or notice; NULL: nothing is said. Open's failure goes
	 * to audit_writer_open's err instead. The library never prints.
	 */
	void (*report)(void *ctx, bool error, const char *msg);
	void *report_ctx;
	/* Bytes of the tap (audit_writer_tap) for a reader in this process; 0: no tap. */
	size_t tap_bytes;
	char ack_buf[256]; /* storage for ack=PATH from audit_options_parse */
};

void audit_options_defaults(struct audit_options *o);
/*
 * Parses "fsync=N,fsync-ms=T,checkpoint=N,checkpoint-ms=T,rotate=SIZE,queue=SIZE,ack=PATH,
 * tap=SIZE".
 */
int audit_options_parse(struct audit_options *o, const char *spec, char *err, size_t err_size);

struct audit_stats {
	uint64_t submitted;   /* accepted into the queue */
	uint64_t queue_drops; /* queue full: not accepted */
	uint64_t write_drops; /* accepted, never written (disk full, I/O error) */
	uint64_t records;     /* records written (chain length) */
	uint64_t durable;     /* last record known durable */
	uint64_t checkpoints;
	uint64_t gap_bytes; /* torn tail dropped at open */
};

struct audit_writer;

/*
 * Recovers the log in o->dir (torn tail -> gap record), loads the key, starts the writer. A
 * failure fills err (when not NULL: one line naming the file and the reason) instead of going
 * to o->report, so that the caller reports it once.
 */
int audit_writer_open(const struct audit_options *o, struct audit_writer **ret,
                      struct vigil_error *err);
/*
 * Queues a record; never waits for I/O. Returns 0, or -ENOBUFS when the queue is full
 * (the record is counted and a "loss" record says so later).
 */
int audit_submit(struct audit_writer *w, const char *kind, const char *members, size_t len);
/*
 * The same without a copy: *ret points into the queue, where the caller writes at most max
 * bytes of members, then calls audit_submit_commit with their length (negative: nothing is
 * queued). The queue stays locked in between: format there, do not wait. Returns 0, -EMSGSIZE
 * or -ENOBUFS (then no commit; counted as with audit_submit).
 */
int audit_submit_reserve(struct audit_writer *w, const char *kind, size_t max, char **ret);
void audit_submit_commit(struct audit_writer *w, int len);
int audit_submitf(struct audit_writer *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Waits until everything queued before the call is durable or counted as lost. */
int audit_writer_sync(struct audit_writer *w);
void audit_writer_stats(struct audit_writer *w, struct audit_stats *ret);
/* Drains the queue, writes, syncs, signs a final checkpoint and frees w. */
int audit_writer_close(struct audit_writer *w);

/*
 * The tap: the lines the writer has written (not necessarily durable yet), in memory, for one
 * reader in this process (the OTLP exporter), which then need not read them back from the file
 * and hash them again. One chunk per write, all its lines from one file. Single producer (the
 * writer thread), single consumer; a chunk that does not fit is left out and counted, and the
 * reader reads those records from the file. The tap lives as long as the writer.
 */
#define AUDIT_TAP_MIN     (64 * 1024)
#define AUDIT_TAP_DEFAULT (8u << 20)

struct audit_tap;
struct audit_tap_chunk {
	uint64_t first, last; /* its records' numbers */
	uint32_t seq;         /* the file they were written to ... */
	uint64_t off;         /* ... at this offset */
	const char *data;     /* whole lines, each with its '\n'; valid until audit_tap_pop */
	size_t len;
};
struct audit_tap_stats {
	uint64_t chunks;         /* chunks put */
	uint64_t missed;         /* chunks left out: the reader was behind */
	uint64_t missed_records; /* their records */
};

/* The writer's tap; NULL when o->tap_bytes is 0. */
struct audit_tap *audit_writer_tap(struct audit_writer *w);
struct audit_tap *audit_tap_new(size_t bytes); /* NULL: under AUDIT_TAP_MIN or no memory */
void audit_tap_free(struct audit_tap *t);
/*
 * Producer, without a copy: room for up to max bytes of lines (NULL: the tap has not that much
 * room), then audit_tap_commit with the bytes written there; a commit without a reservation
 * counts the chunk as left out. Only the writer thread calls these.
 */
char *audit_tap_reserve(struct audit_tap *t, size_t max);
void audit_tap_commit(struct audit_tap *t, uint64_t first, uint64_t last, uint32_t seq,
                      uint64_t off, size_t len);
/* Producer, with a copy: returns false (and counts) when the chunk does not fit. */
bool audit_tap_put(struct audit_tap *t, uint64_t first, uint64_t last, uint32_t seq, uint64_t off,
                   const char *data, size_t len);
/* Consumer: the oldest chunk, kept until audit_tap_pop; false when the tap is empty. */
bool audit_tap_peek(struct audit_tap *t, struct audit_tap_chunk *c);
void audit_tap_pop(struct audit_tap *t);
void audit_tap_stats(struct audit_tap *t, struct audit_tap_stats *ret);

/* --- verifier ---------------------------------------------------------------------- */

enum audit_verify_status {
	AUDIT_OK = 0,
	AUDIT_BAD_RECORD,     /* malformed, renumbered or hash mismatch */
	AUDIT_BAD_CHECKPOINT, /* signature invalid or not by the key */
	AUDIT_MISMATCH,       /* a valid checkpoint disagrees with the chain */
	AUDIT_TRUNCATED,      /* a checkpoint names records past the end */
	AUDIT_TORN_TAIL,      /* last line incomplete: vigild crashed and has not restarted */
	AUDIT_NO_LOG,         /* an input is missing, empty, unreadable or not a regular file */
	AUDIT_UNCOVERED,      /* the chain is sound but no verified checkpoint covers a record */
	AUDIT_INCOMPLETE,     /* the check did not complete: where every result starts */
};

struct audit_verify_options {
	const char *dir;
	const struct audit_key *key; /* pinned key; NULL trusts the key in the start records */
	const char *checkpoint_file; /* an extra checkpoint to check (e.g. from a quote) */
};

struct audit_verify_result {
	enum audit_verify_status status;
	uint64_t records;
	uint64_t files;
	uint64_t checkpoints; /* verified */
	uint64_t covered;     /* records 1..covered are under a verified checkpoint */
	uint64_t gaps, losses;
	uint64_t bad_record; /* first bad record number (0 when none) */
	char bad_file[256];
	uint64_t bad_offset;
	uint8_t last_hash[AUDIT_HASH_LEN];
	char msg[512];
};

/* r->status is AUDIT_OK only when every check completed and a checkpoint covers records. */
int audit_verify(const struct audit_verify_options *o, struct audit_verify_result *r);
/* The running "total" of the last loss record of source in dir's log; 0 when there is none. */
int audit_last_loss_total(const char *dir, const char *source, uint64_t *ret);
const char *audit_verify_status_name(enum audit_verify_status s);

/* Helpers shared by the writer, the verifier and tests (hex and file hashing: lib/util.h). */
/* A record's members: "time":"<RFC 3339 now>", then fmt's; the length, or -ENOBUFS. */
int audit_vformat_members(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/*
 * Writes v in decimal at p (no NUL, at most 20 bytes); returns the end. Inline, two digits
 * per division, 32-bit divisions while v fits: it runs a dozen times per event on the hot path.
 */
static inline char *audit_put_u64(char *p, uint64_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
	                               "25262728293031323334353637383940414243444546474849"
	                               "50515253545556575859606162636465666768697071727374"
	                               "75767778798081828384858687888990919293949596979899";
	char *end = p, *q;
	uint64_t t;
	uint32_t s;

	if (v < 10) { /* most ids, counts and flags */
		*p = (char)('0' + v);
		return p + 1;
	}
	for (t = v;; t /= 10000, end += 4)
		if (t < 10000) {
			end += 1 + (t >= 10) + (t >= 100) + (t >= 1000);
			break;
		}
	for (q = end; v > UINT32_MAX; q -= 2, v /= 100)
		memcpy(q - 2, pairs + v % 100 * 2, 2);
	for (s = (uint32_t)v; s >= 100; q -= 2, s /= 100)
		memcpy(q - 2, pairs + s % 100 * 2, 2);
	if (s >= 10)
		memcpy(q - 2, pairs + s * 2, 2);
	else
		q[-1] = (char)('0' + s);
	return end;
}
/* Old names, kept so that code written against them still builds. */
#define audit_hex         vigil_hex
#define audit_unhex       vigil_unhex
#define audit_sha256_file vigil_sha256_file

#endif /* VIGIL_AUDIT_H */
