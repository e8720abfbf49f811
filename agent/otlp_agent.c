/* vigild's OTLP exporter: started after the audit log opens, stopped before it closes. */
#include "agent/agent.h"
#include "lib/log.h"
#include "lib/util.h"
#include "attest/attest.h"
#include "exporters/otlp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct agent_otlp {
	struct otlp_options o;
	struct otlp_exporter *x;
	char cursor[4200], host_id[128], host_name[256];
};

static void source_stats(void *ctx, struct otlp_source_stats *s)
{
	struct agent *a = ctx;
	struct audit_stats st;

	audit_writer_stats(a->audit, &st);
	s->durable = st.durable;
	s->queue_drops = st.queue_drops;
	s->write_drops = st.write_drops;
	s->ringbuf_drops = agent_stat(a, VIGIL_STAT_RB_DROPS);
}

static void lost(void *ctx, uint64_t count, uint64_t total)
{
	agent_audit_record(ctx, "loss",
	                   "\"source\":\"otlp\",\"count\":%" PRIu64 ",\"total\":%" PRIu64, count,
	                   total);
}

static void refused(void *ctx, uint64_t first, uint64_t count, long status, uint64_t total)
{
	agent_audit_record(ctx, "loss",
	                   "\"source\":\"otlp\",\"reason\":\"refused\",\"status\":%ld,"
	                   "\"first\":%" PRIu64 ",\"count\":%" PRIu64 ",\"total\":%" PRIu64,
	                   status, first, count, total);
}

int agent_otlp_check(const char *spec, char *err, size_t err_size)
{
	struct otlp_options o;
	int r;

	otlp_options_defaults(&o);
	r = otlp_options_parse(&o, spec, err, err_size);
	if (r == 0 && !o.endpoint) {
		snprintf(err, err_size, "--otlp: endpoint=URL is required");
		r = -EINVAL;
	}
	otlp_options_free(&o);
	return r;
}

int agent_otlp_start(struct agent *a)
{
	struct agent_otlp *ao;
	enum attest_platform p = ATTEST_PLATFORM_NONE;
	char err[256];
	FILE *f;
	int r;

	if (!a->opt.otlp_spec)
		return 0;
	if (!a->audit) {
		log_error("otlp: no audit log to export (--audit-dir none or unavailable)");
		return -ENOENT;
	}
	ao = calloc(1, sizeof(*ao));
	if (!ao)
		return -ENOMEM;
	otlp_options_defaults(&ao->o);
	if (otlp_options_parse(&ao->o, a->opt.otlp_spec, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto fail;
	}
	ao->o.audit_dir = a->opt.audit_dir;
	if (!ao->o.cursor_path) {
		snprintf(ao->cursor, sizeof(ao->cursor), "%s/otlp.cursor", a->opt.state_dir);
		ao->o.cursor_path = ao->cursor;
	}
	f = fopen("/etc/machine-id", "re");
	if (f) {
		if (fgets(ao->host_id, sizeof(ao->host_id), f))
			ao->host_id[strcspn(ao->host_id, "\r\n")] = 0;
		fclose(f);
	}
	if (gethostname(ao->host_name, sizeof(ao->host_name) - 1) < 0)
		ao->host_name[0] = 0;
	measure_platform_parse(a->opt.platform ?: "auto", &p);
	ao->o.service_version = vigil_version;
	ao->o.host_id = ao->host_id;
	ao->o.host_name = ao->host_name;
	ao->o.tee = p != ATTEST_PLATFORM_NONE ? measure_platform_name(p)
	            : agent_measure_log(a) && measure_tpm(agent_measure_log(a)) ? "vtpm"
	                                                                        : "none";
	ao->o.source_stats = source_stats;
	ao->o.source_ctx = a;
	ao->o.lost = lost;
	ao->o.lost_ctx = a;
	ao->o.refused = refused;
	ao->o.tap = audit_writer_tap(a->audit);
	r = otlp_exporter_start(&ao->o, &ao->x);
	if (r < 0) {
		log_error_errno(r, "otlp: starting the exporter");
		goto fail;
	}
	log_info("otlp: exporting %s to %s (%s%s), cursor %s", ao->o.audit_dir, ao->o.endpoint,
	         ao->o.json ? "json" : "protobuf", ao->o.gzip ? ", gzip" : "", ao->o.cursor_path);
	a->otlp = ao;
	/* The SOC's process.command_line: what the chain's event records carry from now on. */
	a->cmdline = true;
	return 0;
fail:
	otlp_options_free(&ao->o);
	free(ao);
	return -EINVAL;
}

void agent_otlp_stop(struct agent *a)
{
	struct agent_otlp *ao = a->otlp;
	struct otlp_stats st;

	if (!ao)
		return;
	otlp_exporter_stats(ao->x, &st);
	otlp_exporter_stop(ao->x);
	log_info("otlp: %" PRIu64 " records acknowledged, cursor %" PRIu64 " of %" PRIu64
	         ", %" PRIu64 " retries, %" PRIu64 " records refused, %" PRIu64 " rejected",
	         st.exported, st.cursor, st.head, st.retries, st.dropped, st.rejected);
	otlp_options_free(&ao->o);
	free(ao);
	a->otlp = NULL;
}
