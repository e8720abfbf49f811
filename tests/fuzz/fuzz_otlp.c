/*
 * libFuzzer target: record lines -> OTLP log records. Each line of the input without a control
 * byte (the chain check, audit_record_check, refuses those before the exporter sees a line; the
 * structure is not checked: the writer must not read or write out of bounds on any such bytes)
 * is written by the exporter's one-pass writer; what it writes must unpack as an
 * ExportLogsServiceRequest and repack to the same bytes (protobuf-c's own encoding); its JSON
 * (otlp_logs_json, the exporter's protocol=json) must be read back by jansson, and equal the
 * reference JSON built through jansson from the line parsed apart (otlp_rec_parse,
 * otlp_encode_logs) wherever that one succeeds.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/otlp_int.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

static const char *const kinds[] = {"event", "policy", "loss", "start", "gap", "attest"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct otlp_resource res = {"0.1.0", "hid", "hn", "none", "vigil/fuzz"};
	const char *p = (const char *)data, *end = p + size;
	int lines = 0;

	/* A few lines of a record's size at most: a run of this target stays within seconds. */
	if (size > 2 * AUDIT_RECORD_MAX)
		return 0;
	while (p < end && lines++ < 2) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const char *kind = kinds[len % 6];
		size_t room = otlp_logs_head_room(&res);
		struct otlp_wbuf b = {malloc(room), room, room};
		struct otlp_rec_info info;
		json_t *fast = NULL;
		/* A copy of exactly the line: reading past it is a heap overflow ASan sees. */
		char *line = malloc(len ? len : 1);
		size_t i;

		if (!line || !b.p)
			abort();
		for (i = 0; i < len && (unsigned char)p[i] >= 0x20; i++)
			;
		if (i < len) { /* a control byte: never past the chain check */
			free(line);
			otlp_wbuf_free(&b);
			p += len + (eol != NULL);
			continue;
		}
		memcpy(line, p, len);
		if (otlp_write_log_record(&b, line, len, 7, kind, res.origin, 42, &info) == 0) {
			Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
			uint8_t *out, *again;
			size_t out_len, n;

			if (otlp_logs_request(&res, b.p + room, b.len - room, room, &out,
			                      &out_len) < 0)
				abort();
			req =
			    opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
			        NULL, out_len, out);
			if (!req)
				abort();
			n = protobuf_c_message_get_packed_size(&req->base);
			again = malloc(n);
			if (!again || n != out_len ||
			    protobuf_c_message_pack(&req->base, again) != n ||
			    memcmp(again, out, n) != 0)
				abort();
			free(again);
			opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
			    req, NULL);
			{
				struct otlp_wbuf j = {0};

				if (otlp_logs_json(out, out_len, &j) < 0)
					abort();
				fast = json_loadb((const char *)j.p, j.len, 0, NULL);
				if (!fast)
					abort();
				otlp_wbuf_free(&j);
			}
		}
		/* The JSON path (otlp_rec_parse) on the same line, with its newline. */
		{
			struct audit_record_view v = {.n = 7, .len = len + 1};
			char *nl = malloc(len + 1);
			struct otlp_rec r;
			uint8_t *json;
			size_t json_len;

			if (!nl)
				abort();
			memcpy(nl, p, len);
			nl[len] = '\n';
			v.line = nl;
			strcpy(v.kind, kind);
			if (len >= AUDIT_TRAILER_LEN && otlp_rec_parse(&v, 42, &r) == 0) {
				if (otlp_encode_logs(&res, &r, 1, true, &json, &json_len) == 0) {
					json_t *ref =
					    json_loadb((const char *)json, json_len, 0, NULL);

					if (!ref || (fast && !json_equal(fast, ref)))
						abort();
					json_decref(ref);
					free(json);
				}
				otlp_rec_free(&r);
			}
			free(nl);
		}
		json_decref(fast);
		otlp_wbuf_free(&b);
		free(line);
		p += len + (eol != NULL);
	}
	return 0;
}
