/* OTLP/HTTP requests through libcurl: gzip, TLS (CA, client certificate), extra headers. */
#include "exporters/otlp_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <isa-l/igzip_lib.h>

#define BODY_MAX (1 << 20)

struct otlp_http {
	CURL *curl;
	struct curl_slist *headers;
	char base[1024];
	bool gzip, json;
	volatile int *stop;
	struct otlp_response *cur;
	/* Kept between requests: the compressor's level buffer is allocated once, the output
	 * grows once. */
	struct otlp_gzip z;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct otlp_response *r = ctx;
	size_t len = size * n, keep = len;
	uint8_t *b;

	if (r->len + keep > BODY_MAX)
		keep = BODY_MAX - r->len;
	if (keep) {
		b = realloc(r->body, r->len + keep + 1);
		if (!b)
			return 0;
		memcpy(b + r->len, p, keep);
		r->body = b;
		r->len += keep;
		r->body[r->len] = 0;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct otlp_response *r = ctx;
	size_t len = size * n;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = 0;
	line[strcspn(line, "\r\n")] = 0;
	if (strncasecmp(line, "retry-after:", 12) == 0)
		r->retry_after_ms = otlp_parse_retry_after(line + 12, (long)time(NULL));
	else if (strncasecmp(line, "content-type:", 13) == 0)
		r->json = strstr(line + 13, "json") != NULL;
	else if (strncmp(line, "HTTP/", 5) == 0) /* a new response (after 100 Continue) */
		r->retry_after_ms = -1;
	return len;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const struct otlp_http *h = ctx;

	return h->stop && *h->stop; /* nonzero aborts the transfer */
}

long otlp_parse_retry_after(const char *value, long now_s)
{
	char *end;
	long v;
	time_t t;

	while (*value == ' ' || *value == '\t')
		value++;
	if (!*value)
		return -1;
	v = strtol(value, &end, 10);
	if (end != value && (*end == 0 || *end == ' ')) {
		if (v < 0)
			return -1;
		return v > 3600 ? 3600000 : v * 1000;
	}
	t = curl_getdate(value, NULL);
	if (t < 0)
		return -1;
	return t <= now_s ? 0 : (t - now_s > 3600 ? 3600000 : (long)(t - now_s) * 1000);
}

int otlp_http_new(const struct otlp_options *o, volatile int *stop, struct otlp_http **ret)
{
	struct otlp_http *h = calloc(1, sizeof(*h));
	size_t i;

	if (!h)
		return -ENOMEM;
	pthread_once(&curl_once, curl_init_once);
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return -ENOMEM;
	}
	snprintf(h->base, sizeof(h->base), "%s", o->endpoint);
	if (h->base[0] && h->base[strlen(h->base) - 1] == '/')
		h->base[strlen(h->base) - 1] = 0;
	h->gzip = o->gzip;
	h->z.level = o->gzip_level;
	h->json = o->json;
	h->stop = stop;
	h->headers = curl_slist_append(NULL, o->json ? "Content-Type: application/json"
	                                             : "Content-Type: application/x-protobuf");
	if (o->gzip)
		h->headers = curl_slist_append(h->headers, "Content-Encoding: gzip");
	h->headers = curl_slist_append(h->headers, "Expect:");
	for (i = 0; i < o->n_headers; i++)
		h->headers = curl_slist_append(h->headers, o->headers[i]);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "vigil-otlp/0.1.0");
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
	if (o->ca_file)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->ca_file);
	if (o->cert_file)
		curl_easy_setopt(h->curl, CURLOPT_SSLCERT, o->cert_file);
	if (o->key_file)
		curl_easy_setopt(h->curl, CURLOPT_SSLKEY, o->key_file);
	*ret = h;
	return 0;
}

void otlp_http_free(struct otlp_http *h)
{
	if (!h)
		return;
	curl_slist_free_all(h->headers);
	curl_easy_cleanup(h->curl);
	otlp_gzip_free(&h->z);
	free(h);
}

void otlp_response_free(struct otlp_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int otlp_gzip(struct otlp_gzip *g, const uint8_t *in, size_t len, size_t *out_len)
{
	struct isal_zstream z;
	/* Stored blocks at worst: 5 bytes per 64 KiB block, the gzip header and trailer. */
	size_t cap = len + len / 1024 + 1024;

	/*
	 * ISA-L's igzip, level 1, the whole request in one stateless call: 2.9 times as fast as
	 * libdeflate's level 1 on these requests for the same size (BENCHMARKS.md, eighth
	 * session); the level buffer (its hash table and tokens) is allocated once.
	 */
	static const uint32_t level_buf[] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
	                                     ISAL_DEF_LVL2_DEFAULT};
	unsigned int level = g->level < 3 ? g->level : 1;
	uint32_t lb = level_buf[level];

	if (!g->level_buf && lb) {
		g->level_buf = malloc(lb);
		if (!g->level_buf)
			return -ENOMEM;
	}
	if (cap > g->cap) {
		uint8_t *b = realloc(g->out, cap);

		if (!b)
			return -ENOMEM;
		g->out = b;
		g->cap = cap;
	}
	isal_deflate_stateless_init(&z);
	z.level = level;
	z.level_buf = g->level_buf;
	z.level_buf_size = lb;
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uint32_t)len;
	z.next_out = g->out;
	z.avail_out = (uint32_t)g->cap;
	if (len > UINT32_MAX / 2 || isal_deflate_stateless(&z) != COMP_OK)
		return -ENOBUFS;
	*out_len = z.total_out;
	return 0;
}

void otlp_gzip_free(struct otlp_gzip *g)
{
	free(g->level_buf);
	free(g->out);
	*g = (struct otlp_gzip){.level = g->level};
}

enum otlp_result otlp_http_post(struct otlp_http *h, const char *path, const uint8_t *payload,
                                size_t len, struct otlp_response *resp, uint64_t *sent_bytes)
{
	const uint8_t *z = NULL;
	size_t zlen = 0;
	char url[1200];
	CURLcode c;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	resp->json = h->json;
	if (h->gzip) {
		if (otlp_gzip(&h->z, payload, len, &zlen) < 0) {
			snprintf(resp->error, sizeof(resp->error), "gzip failed");
			return OTLP_RETRY;
		}
		z = h->z.out;
	}
	snprintf(url, sizeof(url), "%s%s", h->base, path);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, z ? z : payload);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(z ? zlen : len));
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, resp);
	c = curl_easy_perform(h->curl);
	*sent_bytes += z ? zlen : len;
	if (c != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(c));
		return OTLP_RETRY;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status >= 200 && resp->status < 300)
		return OTLP_OK;
	if (resp->status == 429 || resp->status == 502 || resp->status == 503 ||
	    resp->status == 504)
		return OTLP_RETRY;
	return OTLP_FAIL;
}
