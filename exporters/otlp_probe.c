/* One request to the configured receiver, for `vigil doctor`: is the exporter's endpoint reachable?
 */
#include "exporters/otlp_int.h"

#include <errno.h>
#include <stdio.h>

/*
 * An empty ExportLogsServiceRequest (no bytes in protobuf, "{}" in JSON) is a valid request a
 * receiver answers like any other, through the same client the exporter uses (TLS files,
 * headers, gzip): so the answer covers the address, the TLS set-up and the credentials, and
 * adds no record to the receiver's store.
 */
int otlp_probe(const struct otlp_options *o, long *status, char *msg, size_t msg_size)
{
	static const uint8_t json_empty[] = "{}";
	struct otlp_response resp;
	struct otlp_http *h;
	enum otlp_result r;
	uint64_t sent = 0;
	int err;

	*status = 0;
	if (!o->endpoint) {
		snprintf(msg, msg_size, "no endpoint");
		return -EINVAL;
	}
	err = otlp_http_new(o, NULL, &h);
	if (err < 0) {
		snprintf(msg, msg_size, "cannot set up the HTTP client");
		return err;
	}
	r = otlp_http_post(h, "/v1/logs", json_empty, o->json ? 2 : 0, &resp, &sent);
	*status = resp.status;
	if (r == OTLP_OK)
		snprintf(msg, msg_size, "HTTP %ld", resp.status);
	else if (resp.status)
		snprintf(msg, msg_size, "answered HTTP %ld", resp.status);
	else
		snprintf(msg, msg_size, "%s", resp.error[0] ? resp.error : "no answer");
	err = r == OTLP_OK ? 0 : resp.status ? -EPROTO : -ECONNREFUSED;
	otlp_response_free(&resp);
	otlp_http_free(h);
	return err;
}
