/* Reading the measurement log strictly, and replaying it into the register values it predicts. */
#include "attest/attest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int unhex(const char *s, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > max || vigil_unhex(s, n / 2, out) < 0)
		return -EINVAL;
	*ret_len = n / 2;
	return 0;
}

static int get_register(json_t *rec, const char *key, int max, int *ret)
{
	json_t *v = json_object_get(rec, key);

	*ret = -1;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -EINVAL;
	*ret = (int)json_integer_value(v);
	return 0;
}

/* Each digest must be H(content) in its bank: the log cannot claim one thing and extend another. */
static int parse_digests(json_t *arr, const char *content, size_t len, struct attest_digests *out)
{
	json_t *d;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > ATTEST_MAX_BANKS)
		return -EINVAL;
	json_array_foreach(arr, i, d)
	{
		const char *alg = json_string_value(json_object_get(d, "hashAlg"));
		const char *hex = json_string_value(json_object_get(d, "digest"));
		struct attest_digest *v = &out->v[i], want;
		size_t n;

		if (!alg || !hex || json_object_size(d) != 2 || !attest_alg_from_name(alg))
			return -EINVAL;
		v->alg = attest_alg_from_name(alg);
		if (unhex(hex, v->d, sizeof(v->d), &n) < 0)
			return -EINVAL;
		v->len = (uint8_t)n;
		if (attest_hash(v->alg, content, len, &want) < 0 || want.len != v->len ||
		    memcmp(want.d, v->d, v->len) != 0)
			return -EBADMSG;
		out->n++;
	}
	return 0;
}

static int parse_record(const char *line, size_t len, uint64_t want, json_t **ret_json,
                        struct measure_entry *e)
{
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *recnum = json_object_get(rec, "recnum");
	json_t *content = json_object_get(rec, "content");
	json_t *type = json_object_get(rec, "content_type");
	size_t known = 4;
	int r = -EINVAL;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(rec) || !json_is_integer(recnum) || !json_is_string(content) ||
	    !json_is_string(type))
		goto out;
	e->recnum = (uint64_t)json_integer_value(recnum);
	if (e->recnum != want) {
		r = -ERANGE;
		goto out;
	}
	if (get_register(rec, "pcr", 23, &e->pcr) < 0 || get_register(rec, "rtmr", 3, &e->rtmr) < 0)
		goto out;
	known += (e->pcr >= 0) + (e->rtmr >= 0);
	if (json_object_size(rec) != known)
		goto out;
	e->content_type = json_string_value(type);
	e->content = json_string_value(content);
	e->content_len = json_string_length(content);
	r = parse_digests(json_object_get(rec, "digests"), e->content, e->content_len, &e->digests);
out:
	if (r < 0) {
		json_decref(rec);
		return r;
	}
	*ret_json = rec;
	return 0;
}

int measure_log_read(const char *path, int (*cb)(const struct measure_entry *e, void *ctx),
                     void *ctx, char *errbuf, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	uint64_t want = 0;
	struct stat st;
	ssize_t n;
	FILE *f;
	int r = 0, fd;

	/* A FIFO in the log's place is refused, not waited on. */
	fd = vigil_open_regular(path, 0, &st);
	if (fd == -VIGIL_ENOTREG)
		return fail(errbuf, errlen, -EINVAL, "%s: not a regular file", path);
	if (fd < 0)
		return fail(errbuf, errlen, fd, "%s: %s", path, strerror(-fd));
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return fail(errbuf, errlen, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
	}
	while (r == 0 && (n = getline(&line, &cap, f)) > 0) {
		struct measure_entry e;
		json_t *rec = NULL;

		if (line[n - 1] != '\n') {
			r = fail(errbuf, errlen, -EBADMSG, "%s: record %llu is truncated", path,
			         (unsigned long long)want);
			break;
		}
		if ((size_t)n > ATTEST_RECORD_MAX) {
			r = fail(errbuf, errlen, -EFBIG, "%s: record %llu is over %u bytes", path,
			         (unsigned long long)want, ATTEST_RECORD_MAX);
			break;
		}
		r = parse_record(line, (size_t)n - 1, want, &rec, &e);
		if (r == -ERANGE)
			r = fail(errbuf, errlen, r, "%s: record %llu: recnum out of sequence", path,
			         (unsigned long long)want);
		else if (r == -EBADMSG)
			r = fail(errbuf, errlen, r,
			         "%s: record %llu: a digest does not match its content", path,
			         (unsigned long long)want);
		else if (r < 0)
			r = fail(errbuf, errlen, r, "%s: record %llu: malformed", path,
			         (unsigned long long)want);
		else
			r = cb(&e, ctx);
		json_decref(rec);
		want++;
	}
	if (r == 0 && ferror(f))
		r = fail(errbuf, errlen, -EIO, "%s: read error after record %llu", path,
		         (unsigned long long)want);
	free(line);
	fclose(f);
	return r;
}

static struct attest_digest *bank(struct attest_digests *regs, uint16_t alg, uint8_t len)
{
	size_t i;

	for (i = 0; i < regs->n; i++)
		if (regs->v[i].alg == alg)
			return &regs->v[i];
	if (regs->n == ATTEST_MAX_BANKS)
		return NULL;
	regs->v[regs->n] = (struct attest_digest){.alg = alg, .len = len};
	return &regs->v[regs->n++];
}

static int replay_one(const struct measure_entry *e, void *ctx)
{
	struct measure_replay *rp = ctx;
	size_t i;
	int r;

	if (rp->records++ == 0)
		snprintf(rp->first_type, sizeof(rp->first_type), "%s", e->content_type);
	if (e->pcr >= 0) {
		if (rp->pcr >= 0 && rp->pcr != e->pcr)
			return -EXDEV; /* one log, one PCR */
		rp->pcr = e->pcr;
		rp->pcr_banks_before_last = rp->pcr_banks;
		rp->last_digests = e->digests;
		for (i = 0; i < e->digests.n; i++) {
			struct attest_digest *reg =
			    bank(&rp->pcr_banks, e->digests.v[i].alg, e->digests.v[i].len);

			r = reg ? attest_extend_value(reg, &e->digests.v[i]) : -E2BIG;
			if (r < 0)
				return r;
		}
	}
	if (e->rtmr >= 0) {
		for (i = 0; i < e->digests.n; i++)
			if (e->digests.v[i].alg == 0x000c)
				break;
		if (i == e->digests.n)
			return -EBADMSG; /* an RTMR record needs its sha384 digest */
		if (!rp->rtmr)
			rp->rtmr_value = (struct attest_digest){.alg = 0x000c, .len = 48};
		rp->rtmr = true;
		return attest_extend_value(&rp->rtmr_value, &e->digests.v[i]);
	}
	return 0;
}

int measure_replay(const char *path, struct measure_replay *ret, char *errbuf, size_t errlen)
{
	struct measure_replay rp = {.pcr = -1};
	int r;

	errbuf[0] = 0;
	r = measure_log_read(path, replay_one, &rp, errbuf, errlen);
	if (r > 0 || (r < 0 && !*errbuf))
		return fail(errbuf, errlen, r < 0 ? r : -EINVAL,
		            "%s: record %llu: registers inconsistent", path,
		            (unsigned long long)rp.records - 1);
	if (r < 0)
		return r;
	*ret = rp;
	return 0;
}

int measure_replay_strict(const char *path, bool require_start, struct measure_replay *ret,
                          char *errbuf, size_t errlen)
{
	struct measure_replay rp;
	int r = measure_replay(path, &rp, errbuf, errlen);

	if (r < 0)
		return r;
	/* An empty log predicts the registers' reset value: that proves nothing, so it fails. */
	if (rp.records == 0)
		return fail(errbuf, errlen, -ENODATA, "%s: empty: no measurement to replay", path);
	/* PCR 23 is resettable: only a chain that starts at vigild's start record is vigild's. */
	if (require_start && strcmp(rp.first_type, ATTEST_CT_START) != 0)
		return fail(errbuf, errlen, -ENOENT,
		            "%s: no start record: record 0 is %s, not " ATTEST_CT_START
		            " (a log not started by vigild, or its head was cut)",
		            path, rp.first_type);
	if (rp.pcr < 0 && !rp.rtmr)
		return fail(errbuf, errlen, -ENOENT, "%s: the log names no register to compare",
		            path);
	*ret = rp;
	return 0;
}
