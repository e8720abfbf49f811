/* Runtime measurement log: one CEL-shaped JSON record per event, appended durably, then extended.
 */
#include "attest/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALG_SHA256 0x000b
#define ALG_SHA384 0x000c

struct measure_log {
	pthread_mutex_t lock;
	struct measure_config cfg;
	int fd;
	uint64_t next;
	struct attest_tpm *tpm;
	uint16_t algs[ATTEST_MAX_BANKS]; /* every bank a record carries a digest for */
	size_t n_algs;
	uint16_t tpm_algs[ATTEST_MAX_BANKS]; /* the vTPM's allocated banks for the PCR */
	size_t n_tpm_algs;
	bool broken; /* a register missed a logged record: further records would mislead */
	struct vigil_error err; /* the last failure, for the caller to report (measure_error) */
	char notice[256];       /* what open repaired, for the caller to tell (measure_notice) */
};

const char *measure_platform_name(enum attest_platform p)
{
	switch (p) {
	case ATTEST_PLATFORM_TDX:
		return "tdx";
	case ATTEST_PLATFORM_SNP:
		return "snp";
	case ATTEST_PLATFORM_NONE:
		break;
	}
	return "none";
}

int measure_platform_parse(const char *s, enum attest_platform *ret)
{
	if (strcmp(s, "none") == 0)
		*ret = ATTEST_PLATFORM_NONE;
	else if (strcmp(s, "tdx") == 0)
		*ret = ATTEST_PLATFORM_TDX;
	else if (strcmp(s, "snp") == 0)
		*ret = ATTEST_PLATFORM_SNP;
	else if (strcmp(s, "auto") == 0)
		*ret = access("/sys/devices/virtual/misc/tdx_guest", F_OK) == 0
		           ? ATTEST_PLATFORM_TDX
		       : access("/dev/sev-guest", F_OK) == 0 ? ATTEST_PLATFORM_SNP
		                                             : ATTEST_PLATFORM_NONE;
	else
		return -EINVAL;
	return 0;
}

static void add_alg(struct measure_log *m, uint16_t alg)
{
	size_t i;

	for (i = 0; i < m->n_algs; i++)
		if (m->algs[i] == alg)
			return;
	if (m->n_algs < ATTEST_MAX_BANKS)
		m->algs[m->n_algs++] = alg;
}

static int count_record(const struct measure_entry *e, void *ctx)
{
	*(uint64_t *)ctx = e->recnum + 1;
	return 0;
}

static int extend_registers(struct measure_log *m, const struct attest_digests *d);

/* 0 when the PCR holds want in every bank the log has, -ESTALE when not. */
static int pcr_equals(struct measure_log *m, int pcr, const struct attest_digests *want)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && pcr >= 0 && i < want->n; i++) {
		struct attest_digest cur;

		r = attest_tpm_read(m->tpm, (unsigned int)pcr, want->v[i].alg, &cur);
		if (r == 0 && (pcr != (int)m->cfg.pcr || cur.len != want->v[i].len ||
		               memcmp(cur.d, want->v[i].d, cur.len) != 0))
			r = -ESTALE;
	}
	return r;
}

/*
 * A log continued across a TPM reset (a reboot with the log on persistent storage) would never
 * replay again: refuse to extend it, and say how to start over. One case is not a reset: a
 * crash after the last record's log line was durable and before its extend. The log is the
 * intent, so that extend is completed (roll forward) and the chain goes on.
 */
static int check_continuation(struct measure_log *m)
{
	struct measure_replay rp;
	char err[512] = "";
	int r;

	r = measure_replay(m->cfg.log_path, &rp, err, sizeof(err));
	if (r == 0)
		r = pcr_equals(m, rp.pcr, &rp.pcr_banks);
	if (r == -ESTALE && rp.records > 0 &&
	    pcr_equals(m, rp.pcr, &rp.pcr_banks_before_last) == 0) {
		r = extend_registers(m, &rp.last_digests);
		if (r == 0) {
			snprintf(m->notice, sizeof(m->notice),
			         "measurement log %s: record %llu was logged but not extended (a "
			         "crash): extended now",
			         m->cfg.log_path, (unsigned long long)rp.records - 1);
			r = pcr_equals(m, rp.pcr, &rp.pcr_banks);
		}
	}
	if (r < 0)
		vigil_errorf(&m->err, r,
		             "measurement log %s does not replay to PCR %u (%s): move it away to "
		             "start a new chain",
		             m->cfg.log_path, m->cfg.pcr,
		             *err           ? err
		             : r == -ESTALE ? "the PCR holds another value"
		                            : attest_tpm_strerror(r));
	return r;
}

static int open_log(struct measure_log *m)
{
	const char *path = m->cfg.log_path;
	char err[512];
	struct stat st;
	int r;

	vigil_mkdir_parent(path, 0700); /* an error shows in open's below */
	m->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m->fd < 0 || fstat(m->fd, &st) < 0) {
		r = -errno;
		return vigil_errorf(&m->err, r, "measurement log %s: %s", path, strerror(-r));
	}
	if (st.st_size == 0) {
		/* A new log is a new chain: the register must start from zero for replay to work.
		 */
		if (m->tpm) {
			r = attest_tpm_reset(m->tpm, m->cfg.pcr);
			if (r < 0)
				return vigil_errorf(&m->err, r,
				                    "resetting PCR %u for the new log %s: %s",
				                    m->cfg.pcr, path, attest_tpm_strerror(r));
		}
		m->next = 0;
		return 0;
	}
	/* Continuing a log we cannot read would make every later record unverifiable. */
	r = measure_log_read(path, count_record, &m->next, err, sizeof(err));
	if (r < 0)
		return vigil_errorf(&m->err, r, "measurement log %s: %s", path, err);
	return m->tpm ? check_continuation(m) : 0;
}

int measure_open(const struct measure_config *cfg, struct measure_log **ret,
                 struct vigil_error *err)
{
	struct measure_log *m = calloc(1, sizeof(*m));
	int r = 0;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	m->cfg = *cfg;
	if (!m->cfg.log_path)
		m->cfg.log_path = ATTEST_DEFAULT_LOG;
	if (!m->cfg.pcr)
		m->cfg.pcr = ATTEST_DEFAULT_PCR;
	if (!m->cfg.tdx_rtmr_path)
		m->cfg.tdx_rtmr_path = ATTEST_DEFAULT_TDX_RTMR;
	if (m->cfg.pcr > 23)
		r = vigil_errorf(&m->err, -EINVAL, "PCR %u: expected 0 to 23", m->cfg.pcr);
	if (r == 0 && m->cfg.tcti) {
		r = attest_tpm_open(m->cfg.tcti, &m->tpm);
		if (r == 0)
			r = attest_tpm_banks(m->tpm, m->cfg.pcr, m->tpm_algs, &m->n_tpm_algs);
		if (r < 0)
			vigil_errorf(&m->err, r, "TPM through '%s': %s", m->cfg.tcti,
			             r == -ENOTSUP ? "no PCR bank vigil can hash"
			                           : attest_tpm_strerror(r));
		for (size_t i = 0; r == 0 && i < m->n_tpm_algs; i++)
			add_alg(m, m->tpm_algs[i]);
	}
	if (r == 0) {
		if (m->cfg.platform == ATTEST_PLATFORM_TDX)
			add_alg(m, ALG_SHA384);
		if (m->n_algs == 0)
			add_alg(m, ALG_SHA256); /* log-only: still a verifiable digest */
		r = open_log(m);
	}
	if (r < 0) {
		if (err)
			*err = m->err;
		measure_close(m);
		return r;
	}
	m->cfg.tcti = NULL; /* the caller's string; not needed after open */
	*ret = m;
	return 0;
}

const char *measure_error(const struct measure_log *m)
{
	return m->err.msg;
}

const char *measure_notice(const struct measure_log *m)
{
	return *m->notice ? m->notice : NULL;
}

struct attest_tpm *measure_tpm(struct measure_log *m)
{
	return m->tpm;
}

void measure_close(struct measure_log *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	attest_tpm_close(m->tpm);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static json_t *digests_json(const struct attest_digests *d)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < d->n; i++) {
		char hex[2 * ATTEST_MAX_DIGEST + 1];

		vigil_hex(d->v[i].d, d->v[i].len, hex);
		if (json_array_append_new(arr, json_pack("{s:s, s:s}", "hashAlg",
		                                         attest_alg_name(d->v[i].alg), "digest",
		                                         hex)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* The record as one line; content must be UTF-8 text (vigil's contents are JSON). */
static char *format_record(struct measure_log *m, const char *type, const void *content, size_t len,
                           const struct attest_digests *d)
{
	json_t *rec = json_object(), *content_json = json_stringn(content, len);
	char *line = NULL;

	if (!rec || !content_json)
		goto out;
	json_object_set_new(rec, "recnum", json_integer((json_int_t)m->next));
	if (m->tpm)
		json_object_set_new(rec, "pcr", json_integer(m->cfg.pcr));
	if (m->cfg.platform == ATTEST_PLATFORM_TDX)
		json_object_set_new(rec, "rtmr", json_integer(ATTEST_TDX_RTMR_INDEX));
	json_object_set_new(rec, "digests", digests_json(d));
	json_object_set_new(rec, "content_type", json_string(type));
	json_object_set(rec, "content", content_json);
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(content_json);
	json_decref(rec);
	return line;
}

static int extend_registers(struct measure_log *m, const struct attest_digests *d)
{
	struct attest_digests tpm_d = {0};
	size_t i;
	int r;

	if (m->tpm) {
		/* Only the banks the TPM allocated; sha384 may be there only for the RTMR. */
		for (i = 0; i < d->n; i++)
			for (size_t k = 0; k < m->n_tpm_algs; k++)
				if (m->tpm_algs[k] == d->v[i].alg)
					tpm_d.v[tpm_d.n++] = d->v[i];
		r = attest_tpm_extend(m->tpm, m->cfg.pcr, &tpm_d);
		if (r < 0)
			return r;
	}
	if (m->cfg.platform == ATTEST_PLATFORM_TDX)
		for (i = 0; i < d->n; i++)
			if (d->v[i].alg == ALG_SHA384)
				return tdx_rtmr_extend(m->cfg.tdx_rtmr_path, &d->v[i]);
	return 0;
}

/* A refusal before the lock is taken: m->err is written under it. */
static int record_refused(struct measure_log *m, int r, const char *content_type)
{
	pthread_mutex_lock(&m->lock);
	vigil_errorf(&m->err, r, "measurement log %s: a %s record: %s", m->cfg.log_path,
	             content_type ? content_type : "(no type)", strerror(-r));
	pthread_mutex_unlock(&m->lock);
	return r;
}

int measure_record(struct measure_log *m, const char *content_type, const void *content, size_t len,
                   uint64_t *ret_recnum)
{
	struct attest_digests d = {0};
	char *line = NULL;
	size_t i, n;
	ssize_t w;
	int r = 0;

	if (!content_type || !*content_type || len > ATTEST_RECORD_MAX / 2)
		return record_refused(m, -EINVAL, content_type);
	for (i = 0; i < m->n_algs && r == 0; i++)
		r = attest_hash(m->algs[i], content, len, &d.v[d.n++]);
	if (r < 0)
		return record_refused(m, r, content_type);
	pthread_mutex_lock(&m->lock);
	if (m->broken) {
		r = -EIO; /* m->err still says why */
		goto out;
	}
	line = format_record(m, content_type, content, len, &d);
	if (!line) {
		r = vigil_errorf(&m->err, -EINVAL, "measurement log %s: a %s record: not UTF-8",
		                 m->cfg.log_path, content_type);
		goto out;
	}
	n = strlen(line);
	line[n++] = '\n'; /* json_dumps left room: it wrote n + 1 bytes with the NUL */
	/* One write with O_APPEND: a record is never interleaved; durable before any extend. */
	w = write(m->fd, line, n);
	if (w != (ssize_t)n || fdatasync(m->fd) < 0) {
		r = w >= 0 && w != (ssize_t)n ? -EIO : -errno; /* a short write sets no errno */
		m->broken = true;
		vigil_errorf(&m->err, r, "measurement log %s: writing record %llu: %s",
		             m->cfg.log_path, (unsigned long long)m->next, strerror(-r));
		goto out;
	}
	r = extend_registers(m, &d);
	if (r < 0) {
		m->broken = true;
		vigil_errorf(&m->err, r,
		             "record %llu logged but not extended (%s): refusing further "
		             "measurements",
		             (unsigned long long)m->next, attest_tpm_strerror(r));
		goto out;
	}
	if (ret_recnum)
		*ret_recnum = m->next;
	m->next++;
out:
	pthread_mutex_unlock(&m->lock);
	free(line);
	return r;
}
