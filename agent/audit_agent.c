/* vigild's audit log: opens the writer, binds it to the start measurement, records agent events. */
#include "agent/agent.h"
#include "lib/log.h"
#include "attest/attest.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "vigil/<host id>": the machine id when there is one, else the host name. */
static void host_origin(char *out, size_t size)
{
	char id[128] = "";
	FILE *f = fopen("/etc/machine-id", "re");
	size_t i;

	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = 0;
		fclose(f);
	}
	id[strcspn(id, "\r\n")] = 0;
	if (!id[0] && (gethostname(id, sizeof(id) - 1) < 0 || strcmp(id, "(none)") == 0))
		snprintf(id, sizeof(id), "localhost");
	for (i = 0; id[i]; i++)
		if (id[i] == ' ' || id[i] == '+' || id[i] == '"' || id[i] == '\\' ||
		    (unsigned char)id[i] < 0x21)
			id[i] = '_'; /* note key names allow neither spaces nor '+' */
	snprintf(out, size, "vigil/%s", id[0] ? id : "localhost");
}

/*
 * Ring-buffer drops already in the chain are not counted twice: when the per-CPU counter
 * outlived the last vigild (pinned maps), counting resumes from the last recorded total; a
 * counter below that total is a fresh map, counted from zero.
 */
static void resume_drop_count(struct agent *a, const char *dir)
{
	uint64_t total = 0, now = agent_stat(a, VIGIL_STAT_RB_DROPS);

	if (audit_last_loss_total(dir, "ringbuf", &total) == 0 && total <= now)
		a->drops_reported = total;
}

/* The audit library says nothing itself: vigild logs what it reports. */
static void audit_report(void *ctx, bool error, const char *msg)
{
	if (error)
		log_error("%s", msg);
	else
		log_info("%s", msg);
}

int agent_audit_open(struct agent *a)
{
	struct audit_options o;
	char origin[AUDIT_ORIGIN_MAX], start[512], err[256], hex[AUDIT_HEX_LEN + 1];
	struct vigil_error verr;
	uint8_t self[AUDIT_HASH_LEN];
	int r;

	if (!a->opt.audit_dir || strcmp(a->opt.audit_dir, "none") == 0)
		return 0;
	audit_options_defaults(&o);
	o.dir = a->opt.audit_dir;
	o.state_dir = a->opt.state_dir;
	o.ack_path = "/run/vigil/audit.ack";
	/* The OTLP exporter takes the records the writer wrote from memory (audit_writer_tap). */
	if (a->opt.otlp_spec)
		o.tap_bytes = AUDIT_TAP_DEFAULT;
	if (a->opt.audit_spec && audit_options_parse(&o, a->opt.audit_spec, err, sizeof(err)) < 0) {
		log_error("%s; enforcing without the audit log", err);
		return -EINVAL;
	}
	vigil_mkdir_parent(o.ack_path, 0755); /* /run/vigil */
	host_origin(origin, sizeof(origin));
	o.origin = origin;
	/* The binary's digest: the start measurement attest/ extends, named in the chain. */
	r = vigil_sha256_file("/proc/self/exe", self);
	if (r < 0) {
		log_error("audit: measuring /proc/self/exe: %s; enforcing without the audit log",
		          strerror(-r));
		return r;
	}
	vigil_hex(self, sizeof(self), hex);
	snprintf(start, sizeof(start), "\"binary_sha256\":\"%s\",\"version\":\"%s\",\"pid\":%d",
	         hex, vigil_version, (int)getpid());
	o.start_members = start;
	o.anchor = a->audit_anchor;
	o.anchor_ctx = a->audit_anchor_ctx;
	o.report = audit_report;
	/*
	 * With a TPM the checkpoint key lives in it. No fallback to a file key when the TPM
	 * refuses: that downgrade would hand whoever can upset the TPM a key they can steal.
	 */
	if (agent_measure_log(a) && measure_tpm(agent_measure_log(a))) {
		o.key_open = audit_tpm_key_open;
		o.key_ctx = measure_tpm(agent_measure_log(a));
	}
	resume_drop_count(a, o.dir);
	r = audit_writer_open(&o, &a->audit, &verr);
	if (r < 0) {
		log_error("%s; enforcing without the audit log", verr.msg);
		return r;
	}
	log_info("audit log in %s (origin %s, checkpoint key %s/%s)", o.dir, origin, o.state_dir,
	         o.key_open ? AUDIT_KEY_TPM " in the TPM" : AUDIT_KEY_FILE);
	return 0;
}

void agent_audit_record(struct agent *a, const char *kind, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (!a->audit)
		return;
	va_start(ap, fmt);
	n = audit_vformat_members(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		log_error("audit: %s record too long: dropped (counted)", kind);
		audit_submit(a->audit, kind, NULL, SIZE_MAX); /* counts it as a queue drop */
		return;
	}
	audit_submit(a->audit, kind, buf, (size_t)n);
}

void agent_audit_close(struct agent *a, int sig)
{
	struct audit_stats st;
	int r;

	if (!a->audit)
		return;
	/* Who asked (agent/loop.c fills it from the signal's sender); a stop never unloads. */
	agent_audit_record(a, "stop", "\"signal\":%d,\"events\":%llu,\"ringbuf_drops\":%llu%s%s",
	                   sig, (unsigned long long)a->events_written,
	                   (unsigned long long)a->drops_reported, a->stop_members[0] ? "," : "",
	                   a->stop_members);
	audit_writer_sync(a->audit);
	audit_writer_stats(a->audit, &st);
	r = audit_writer_close(a->audit);
	a->audit = NULL;
	if (r < 0)
		log_error_errno(r, "audit: closing the log");
	log_info("audit: %llu records, %llu checkpoints, %llu lost to a full queue, %llu to "
	         "write failures",
	         (unsigned long long)st.records, (unsigned long long)st.checkpoints,
	         (unsigned long long)st.queue_drops, (unsigned long long)st.write_drops);
}
