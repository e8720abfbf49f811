/*
 * OTLP export of the audit chain: a follower of the durable log that sends every record as an
 * OpenTelemetry log record (OTLP/HTTP, protobuf or JSON) and vigil's counters as metrics.
 * Delivery is at least once: the position (the last record the receiver acknowledged, and its
 * hash) is a cursor file, fsynced, read back at start. docs/OBSERVABILITY.md has every name.
 */
#ifndef VIGIL_EXPORTERS_OTLP_H
#define VIGIL_EXPORTERS_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTLP_HEADERS_MAX 8

/* Counters of the audit pipeline the exporter cannot see in the chain (vigild's own). */
struct otlp_source_stats {
	uint64_t durable;       /* last durable record number */
	uint64_t ringbuf_drops; /* BPF ring buffer full: events never reached vigild */
	uint64_t queue_drops;   /* audit queue full */
	uint64_t write_drops;   /* accepted, never written */
	uint64_t queue_records; /* records in the audit queue (0 when unknown) */
};

struct otlp_options {
	const char *endpoint;    /* "http[s]://host:port[/prefix]"; NULL: export off */
	const char *audit_dir;   /* the log to follow */
	const char *cursor_path; /* "N HEX\n": last record acknowledged by the receiver */
	const char *ca_file;     /* TLS: CA bundle for the receiver's certificate */
	const char *cert_file;   /* TLS: optional client certificate (PEM) */
	const char *key_file;    /* TLS: its key */
	const char *headers[OTLP_HEADERS_MAX]; /* "Name: value" (auth tokens) */
	size_t n_headers;
	bool json;                    /* OTLP/HTTP JSON instead of protobuf */
	bool gzip;                    /* Content-Encoding: gzip (default on) */
	unsigned int gzip_level;      /* ISA-L's level: 0 (fastest), 1 (default), 2 */
	unsigned int batch_records;   /* a request holds at most this many records (512) */
	unsigned int batch_ms;        /* ... and waits at most this long to fill (200) */
	unsigned int catchup_records; /* while behind, a request holds up to this many (1024) */
	unsigned int timeout_ms;      /* per request (10000) */
	unsigned int backoff_ms;      /* first retry delay (500), doubled up to ... */
	unsigned int backoff_max_ms;  /* ... this (5000), with jitter */
	unsigned int metrics_ms;      /* metrics export interval (10000); 0: no metrics */
	unsigned int poll_ms;         /* how often the follower looks for new records (20) */
	/* Resource attributes. */
	const char *service_version;
	const char *host_id;
	const char *host_name;
	const char *tee;    /* tdx, snp, vtpm, none */
	const char *origin; /* the log's checkpoint origin; NULL: read from audit.vkey */
	/* vigild's counters; NULL: every complete line is durable, drops come from loss records. */
	void (*source_stats)(void *ctx, struct otlp_source_stats *ret);
	void *source_ctx;
	/* Records removed by rotation before they were exported: the caller puts the loss into
	 * the chain (a `loss` record, source `otlp`). Called from the exporter thread. */
	void (*lost)(void *ctx, uint64_t count, uint64_t total);
	void *lost_ctx;
	/* Records the receiver refused for good (any status but 2xx and the retried ones; 400
	 * and 413 only once a batch was split down to one record): count records from first on,
	 * total refused so far. The caller puts them into the chain (a `loss` record, source
	 * `otlp`, reason `refused`), with the same context as lost. Exporter thread. */
	void (*refused)(void *ctx, uint64_t first, uint64_t count, long status, uint64_t total);
	/* The audit writer's tap (audit_writer_tap) when the writer runs in this process: the
	 * records it holds are taken from memory, not read back from the file and hashed again.
	 * NULL: every record is read from the file. It must outlive the exporter. */
	struct audit_tap *tap;
	char *spec_copy; /* owns the strings otlp_options_parse points into */
};

struct otlp_stats {
	uint64_t cursor;         /* last record acknowledged */
	uint64_t head;           /* last durable record seen */
	uint64_t exported;       /* records acknowledged by the receiver (this run) */
	uint64_t requests;       /* log requests sent, retries included */
	uint64_t retries;        /* requests repeated (429, 502, 503, 504, connection) */
	uint64_t failed_batches; /* answered with another status: not retried */
	uint64_t dropped;        /* records in those batches: refused for good */
	uint64_t splits;         /* batches split in halves after a 400 or 413 */
	uint64_t rejected;       /* partial_success.rejected_log_records */
	uint64_t lost;           /* records rotated away before export */
	uint64_t bad_records;    /* records that did not chain (export stops there) */
	uint64_t bytes;          /* request bytes sent (after gzip) */
	uint64_t metric_requests, metric_failures;
	uint64_t pending;             /* records read, not yet acknowledged */
	uint64_t cpu_ns;              /* CPU time of the exporter thread */
	uint64_t from_tap, from_file; /* records read from the writer's tap, from the file */
	uint64_t tap_missed;          /* records the tap left out (the exporter was behind) */
};

void otlp_options_defaults(struct otlp_options *o);
/*
 * Parses
 * "endpoint=URL,protocol=protobuf|json,gzip=on|off,gzip-level=0-2,ca=FILE,cert=FILE,key=FILE,
 * header=Name:value (repeatable),batch=N,batch-ms=T,catchup-batch=N,timeout-ms=T,backoff-ms=T,
 * backoff-max-ms=T,metrics-ms=T,cursor=PATH" (values cannot hold commas). On error, err
 * names the item. Free with otlp_options_free.
 */
int otlp_options_parse(struct otlp_options *o, const char *spec, char *err, size_t err_size);
void otlp_options_free(struct otlp_options *o);

struct otlp_exporter;

/* Starts the exporter thread; it reads the cursor, then follows o->audit_dir. Copies o; the
 * strings o points to must outlive the exporter. */
int otlp_exporter_start(const struct otlp_options *o, struct otlp_exporter **ret);
void otlp_exporter_stats(struct otlp_exporter *x, struct otlp_stats *ret);
/* Stops the thread (an unfinished request is abandoned: the cursor says where to resume). */
void otlp_exporter_stop(struct otlp_exporter *x);

/* Reads "N HEX" from path: 0, -ENOENT (no cursor: start at record 1) or -EBADMSG. */
int otlp_cursor_read(const char *path, uint64_t *n, uint8_t h[32]);
int otlp_cursor_write(const char *path, uint64_t n, const uint8_t h[32]);

/*
 * One empty log request to o->endpoint with o's TLS files and headers (`vigil doctor`): 0 on a
 * 2xx answer, -EPROTO on another status (in *status), -ECONNREFUSED when nothing answered
 * (connection, TLS, timeout). msg says which, in words.
 */
int otlp_probe(const struct otlp_options *o, long *status, char *msg, size_t msg_size);

#endif /* VIGIL_EXPORTERS_OTLP_H */
