/* Internals of the OTLP exporter: the chain follower, the encoders, the HTTP sender. */
#ifndef VIGIL_EXPORTERS_OTLP_INT_H
#define VIGIL_EXPORTERS_OTLP_INT_H

#include "audit/audit.h"
#include "exporters/otlp.h"

#include <jansson.h>
#include <stdbool.h>

/* --- follower (otlp_follow.c) ------------------------------------------------------ */

struct otlp_follower {
	char dir[4096];
	struct audit_chain chain; /* n and h(n) of the last record read */
	uint32_t file_seq;        /* file being read (0: none yet) */
	int fd;
	uint64_t off; /* file offset of buf[0] */
	char *buf;    /* bytes read from the file, [pos, len) not consumed yet */
	size_t cap, len, pos;
	uint64_t lost; /* records rotated away before they were read (total) */
	char msg[256];
	/* The writer's tap (NULL: none): records found there are not read back from the file. */
	struct audit_tap *tap;
	struct audit_tap_chunk ck; /* the chunk being read, when have_chunk */
	bool have_chunk;
	size_t ck_pos; /* offset in ck.data of record ck_n */
	uint64_t ck_n;
	uint64_t from_tap, from_file; /* records read each way */
	/* chain.h came from the tap: the tap's next record follows it unchecked. After an open or
	 * a record from the file, the first record from the tap is checked against the chain. */
	bool tap_linked;
	/* Where the file is to be read from next, after records from the tap (opened lazily). */
	bool seek_pending;
	uint32_t seek_seq;
	uint64_t seek_off;
};

/*
 * Positions f after record n whose hash is h (n = 0: at the start of the log). *lost gets the
 * number of records after n no longer on disk (rotation), 0 normally.
 */
int otlp_follow_open(struct otlp_follower *f, const char *dir, uint64_t n, const uint8_t h[32],
                     uint64_t *lost);
/*
 * The next record if its number is at most limit: 1 with *v (line valid until the next call),
 * 0 when there is none yet, -EILSEQ/-EBADMSG/-ERANGE when the log does not chain (f->msg).
 */
int otlp_follow_next(struct otlp_follower *f, uint64_t limit, struct audit_record_view *v);
void otlp_follow_close(struct otlp_follower *f);

/* --- encoding (otlp_encode.c) ------------------------------------------------------ */

struct otlp_resource {
	const char *service_version, *host_id, *host_name, *tee, *origin;
};

/* A member of a record line: the key and the value, strings unescaped (otlp_record.c). */
enum otlp_vtype { OTLP_V_STR, OTLP_V_INT, OTLP_V_REAL, OTLP_V_BOOL, OTLP_V_NULL, OTLP_V_RAW };
struct otlp_member {
	const char *key;
	enum otlp_vtype type;
	const char *s; /* STR: the string; RAW: the JSON text of an object, array or big number */
	int64_t i;     /* INT, BOOL */
	double d;      /* REAL */
};

#define OTLP_MEMBERS_MAX 64

/* One record, parsed: what a log record is built from. */
struct otlp_rec {
	uint64_t n;
	char hash[AUDIT_HEX_LEN + 1];
	char kind[AUDIT_KIND_MAX + 1];
	char *line; /* the record's line without '\n' (in pool): the body */
	/* The members of the event object ("e" of event and policy records), else of the record. */
	struct otlp_member m[OTLP_MEMBERS_MAX];
	size_t n_m;
	bool event_object;
	/* Indexes in m of the members every record is asked for (-1: absent), found while parsing:
	 * a lookup by name per use was a tenth of the exporter's CPU. */
	int8_t i_type, i_verdict, i_path, i_uid;
	const char *time; /* "time" of the record or of its event object */
	uint64_t observed_ns;
	char *pool; /* line, keys and unescaped strings */
};

/*
 * A record line scanned for the protobuf writer: the same members as otlp_rec_parse finds, as
 * spans of the line (strings that hold escapes unescaped into scratch, which needs 2 * len + 64
 * bytes), so that nothing is copied or allocated per record.
 */
struct otlp_span {
	const char *p;
	size_t len;
};
/*
 * The member keys the writer names or skips, told apart once per member, by the scan (a switch
 * on each of them in the scan and twice in the writer was a tenth of the CPU per record).
 */
enum otlp_key {
	OTLP_K_OTHER,
	OTLP_K_TIME,
	OTLP_K_NKH, /* n, k and h: the record's own */
	OTLP_K_TYPE,
	OTLP_K_VERDICT,
	OTLP_K_PATH,
	OTLP_K_UID,
	OTLP_K_COMM,
	OTLP_K_CMDLINE,
	OTLP_K_GID,
	OTLP_K_GENERATION,
	OTLP_K_PID,
	OTLP_K_PPID,
	OTLP_K_POLICY,
	OTLP_K_POLICY_SERIAL,
	OTLP_K_REASON,
	OTLP_K_RULE,
	OTLP_K_TID,
	OTLP_K_NETWORK, /* network.* */
	OTLP_K_COUNT
};
enum otlp_key otlp_key_of(const char *key, size_t len);

struct otlp_smember {
	struct otlp_span key;
	struct otlp_span s; /* STR: the string; INT, REAL, RAW: the text as in the line */
	enum otlp_vtype type;
	uint8_t key_id; /* enum otlp_key */
	int64_t i;      /* INT, BOOL */
	double d;       /* REAL */
};
struct otlp_scan {
	struct otlp_smember m[OTLP_MEMBERS_MAX];
	size_t n_m;
	bool event_object;
	int8_t i_type, i_verdict, i_path, i_uid;
	struct otlp_span time; /* p NULL: none */
};
int otlp_scan_line(const char *line, size_t len, struct otlp_scan *r, char *scratch,
                   size_t scratch_size);

/* Parses v into r; 0, -ENOMEM or -EBADMSG (not a flat JSON object vigil writes). */
int otlp_rec_parse(const struct audit_record_view *v, uint64_t observed_ns, struct otlp_rec *r);
void otlp_rec_free(struct otlp_rec *r);
const struct otlp_member *otlp_rec_get(const struct otlp_rec *r, const char *key);
const char *otlp_rec_str(const struct otlp_rec *r, const char *key);
/* The string member at index i (an i_* field), NULL when absent or not a string. */
static inline const char *otlp_rec_stri(const struct otlp_rec *r, int i)
{
	return i >= 0 && r->m[i].type == OTLP_V_STR ? r->m[i].s : NULL;
}
/* The event name and severity of a record (docs/OBSERVABILITY.md). */
void otlp_rec_event_name(const struct otlp_rec *r, char *out, size_t size);
int otlp_rec_severity(const struct otlp_rec *r, const char **text);

/* What the exporter counts of a record (metrics) and needs to know of it (refusals). */
struct otlp_rec_info {
	int8_t access, verdict; /* an event record's access kind and verdict indexes; -1: none */
	int8_t loss_source;     /* a loss record's source: 0 ringbuf, 1 queue, 2 write; -1 */
	bool refusal;           /* a loss record of this exporter's refusals (otlp, refused) */
	uint64_t loss_total;    /* a loss record's total (0: none) */
};
void otlp_rec_info_of(const struct otlp_rec *r, struct otlp_rec_info *info);

/* A growing output buffer, kept between requests. */
struct otlp_wbuf {
	uint8_t *p;
	size_t len, cap;
};
void otlp_wbuf_free(struct otlp_wbuf *b);

/*
 * Appends one LogRecord, as the log_records field of ScopeLogs (tag, length, message), for
 * record n of kind kind whose line (without its newline) is line[0, len), to b, scanning the
 * line once (otlp_scan_line). info (may be NULL) gets what the exporter counts.
 * 0, -ENOMEM or -EBADMSG (b is then as it was).
 */
int otlp_write_log_record(struct otlp_wbuf *b, const char *line, size_t len, uint64_t n,
                          const char *kind, const char *origin, uint64_t observed_ns,
                          struct otlp_rec_info *info);
/* Room otlp_logs_request needs before the log records for a resource (its head). */
size_t otlp_logs_head_room(const struct otlp_resource *res);
/*
 * The ExportLogsServiceRequest around the log_records fields at recs[0, len), written into the
 * head_room bytes before recs: *ret points into that room (nothing allocated). -EFAULT when a
 * size and its writer disagree (a bug: nothing is sent).
 */
int otlp_logs_request(const struct otlp_resource *res, uint8_t *recs, size_t len, size_t head_room,
                      uint8_t **ret, size_t *ret_len);

/*
 * The ExportLogsServiceRequest in req[0, len) (protobuf, as otlp_logs_request writes it) in the
 * OTLP/HTTP JSON mapping, appended to out (exporters/otlp_json.c). 0, -ENOMEM, or -EPROTO for
 * bytes that are not such a request with its fields in order (out is then as it was).
 */
int otlp_logs_json(const uint8_t *req, size_t len, struct otlp_wbuf *out);

/* An ExportLogsServiceRequest for recs, protobuf or JSON; *ret malloc'ed. The JSON is built
 * through jansson from the parsed records: the reference otlp_logs_json is tested against. */
int otlp_encode_logs(const struct otlp_resource *res, const struct otlp_rec *recs, size_t n,
                     bool json, uint8_t **ret, size_t *ret_len);

struct otlp_metrics {
	uint64_t start_ns, now_ns;
	/* decisions[type][verdict]: the event records seen, by access kind and verdict */
	uint64_t decisions[16][3];
	uint64_t ringbuf_drops, queue_drops, write_drops;
	uint64_t exported, failures_http, failures_rejected, failures_transport, lost;
	uint64_t lag, queue_depth;
};
extern const char *const otlp_access_kinds[16];
extern const char *const otlp_verdicts[3];
int otlp_access_kind_index(const char *type);
int otlp_verdict_index(const char *verdict);

int otlp_encode_metrics(const struct otlp_resource *res, const struct otlp_metrics *m, bool json,
                        uint8_t **ret, size_t *ret_len);
/* partial_success of a 2xx answer: rejected count and message ("" when none). */
int otlp_decode_response(const uint8_t *body, size_t len, bool json, bool metrics,
                         int64_t *rejected, char *msg, size_t msg_size);

/* --- HTTP (otlp_http.c) ------------------------------------------------------------ */

enum otlp_result {
	OTLP_OK,    /* 2xx */
	OTLP_RETRY, /* 429, 502, 503, 504, connection failures and timeouts */
	OTLP_FAIL,  /* any other status: not retried */
};

/* A request's gzip (ISA-L igzip, one stateless call), its buffers kept between calls. */
struct otlp_gzip {
	unsigned int level; /* ISA-L level 0-2 (gzip-level=) */
	uint8_t *level_buf; /* hash table and tokens, allocated at the first call */
	uint8_t *out;       /* the compressed request (valid until the next call) */
	size_t cap;
};

/* in[0..len) as one gzip member into g->out; *out_len its size. -ENOMEM, -ENOBUFS. */
int otlp_gzip(struct otlp_gzip *g, const uint8_t *in, size_t len, size_t *out_len);
void otlp_gzip_free(struct otlp_gzip *g);

struct otlp_http;
struct otlp_response {
	long status;         /* 0: no HTTP answer */
	long retry_after_ms; /* -1: none */
	bool json;           /* the answer's content type */
	uint8_t *body;
	size_t len;
	char error[256]; /* transport error text */
};

int otlp_http_new(const struct otlp_options *o, volatile int *stop, struct otlp_http **ret);
void otlp_http_free(struct otlp_http *h);
/* POSTs payload to endpoint + path (gzip'ed when configured). */
enum otlp_result otlp_http_post(struct otlp_http *h, const char *path, const uint8_t *payload,
                                size_t len, struct otlp_response *resp, uint64_t *sent_bytes);
void otlp_response_free(struct otlp_response *r);
/* Retry-After as seconds or an HTTP date; -1 when absent or unreadable. */
long otlp_parse_retry_after(const char *value, long now_s);

#endif /* VIGIL_EXPORTERS_OTLP_INT_H */
