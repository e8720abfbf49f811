/* Consumes decisions from the BPF ring buffer and writes one JSON line per event. */
#include "agent/agent.h"
#include "agent/log.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vigil.skel.h"

const char *vigil_reason_name(unsigned int reason)
{
	static const char *const names[] = {
	    [VIGIL_R_RULE] = "rule",
	    [VIGIL_R_NOT_LISTED] = "not_listed",
	    [VIGIL_R_FILELESS] = "fileless",
	    [VIGIL_R_MODIFIED] = "modified",
	    [VIGIL_R_OPEN_WRITE] = "open_write",
	    [VIGIL_R_WRITE_OPEN] = "opened_for_write",
	    [VIGIL_R_TRUNCATE] = "truncated",
	    [VIGIL_R_NO_POLICY] = "no_policy",
	    [VIGIL_R_DEFAULT] = "default",
	    [VIGIL_R_TOO_DEEP] = "too_deep",
	    [VIGIL_R_SELF] = "self_protection",
	    [VIGIL_R_NOT_NAMED] = "not_named",
	};

	return reason < sizeof(names) / sizeof(names[0]) && names[reason] ? names[reason]
	                                                                  : "unknown";
}

bool vigil_reason_has_rule(unsigned int reason)
{
	return reason == VIGIL_R_RULE || reason == VIGIL_R_MODIFIED || reason == VIGIL_R_OPEN_WRITE;
}

const char *vigil_verdict_name(unsigned int verdict)
{
	switch (verdict) {
	case VIGIL_ALLOW:
		return "allow";
	case VIGIL_DENY:
		return "deny";
	case VIGIL_AUDIT:
		return "audit";
	}
	return "unknown";
}

const char *vigil_event_type_name(unsigned int type)
{
	switch (type) {
	case VIGIL_EV_EXEC:
		return "exec";
	case VIGIL_EV_MMAP_EXEC:
		return "mmap_exec";
	case VIGIL_EV_MPROTECT_EXEC:
		return "mprotect_exec";
	case VIGIL_EV_EXEC_INVALIDATED:
		return "exec_invalidated";
	case VIGIL_EV_FILE:
		return "file";
	case VIGIL_EV_NET:
		return "network";
	case VIGIL_EV_KEY:
		return "key";
	case VIGIL_EV_SELF:
		return "self";
	}
	return "unknown";
}

struct out {
	char *p;
	size_t left;
	bool overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->p, o->left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->left) {
		o->overflow = true;
		o->left = 0;
		return;
	}
	o->p += n;
	o->left -= (size_t)n;
}

/* A JSON string from at most max bytes of s; bytes outside printable ASCII are escaped. */
static void put_str(struct out *o, const char *key, const char *s, size_t max)
{
	size_t i;

	put(o, ",\"%s\":\"", key);
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

static const struct policy *policy_of_gen(const struct agent *a, uint32_t gen)
{
	if (gen && gen == a->cur.gen)
		return a->cur.policy;
	if (gen && gen == a->prev.gen)
		return a->prev.policy;
	return NULL;
}

int agent_event_format(const struct agent *a, const struct vigil_event *e, char *buf, size_t size)
{
	const struct policy *p = policy_of_gen(a, e->gen);
	int64_t real = (int64_t)e->ts_boot_ns + a->boot_to_real_ns;
	struct out o = {buf, size, false};
	time_t sec = (time_t)(real / 1000000000);
	const char *rule;
	struct tm tm;
	char ts[32];
	int n;

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	put(&o, "{\"time\":\"%s.%09lldZ\",\"type\":\"%s\",\"verdict\":\"%s\",\"reason\":\"%s\"", ts,
	    (long long)(real % 1000000000), vigil_event_type_name(e->type),
	    vigil_verdict_name(e->verdict), vigil_reason_name(e->reason));
	put(&o, ",\"errno\":%d,\"pid\":%u,\"tid\":%u,\"ppid\":%u,\"uid\":%u,\"gid\":%u", -e->err,
	    e->pid, e->tid, e->ppid, e->uid, e->gid);
	put(&o, ",\"cgroup_id\":%llu", (unsigned long long)e->cgroup_id);
	put_str(&o, "comm", e->comm, sizeof(e->comm));
	put_str(&o, "path", e->path, sizeof(e->path));
	put(&o, ",\"dev\":\"%llu:%llu\",\"ino\":%llu", (unsigned long long)(e->dev >> 20),
	    (unsigned long long)(e->dev & 0xfffff), (unsigned long long)e->ino);
	agent_event_format_kind(e, o.p, o.left, &n);
	if (n < 0 || (size_t)n >= o.left) {
		o.overflow = true;
		o.left = 0;
	} else {
		o.p += n;
		o.left -= (size_t)n;
	}
	rule = p && vigil_reason_has_rule(e->reason) ? agent_event_rule_name(p, e) : NULL;
	if (rule)
		put_str(&o, "rule", rule, POLICY_NAME_MAX * 32);
	else
		put(&o, ",\"rule\":null");
	if (p)
		put_str(&o, "policy", p->name, POLICY_NAME_MAX);
	put(&o, ",\"policy_serial\":%llu,\"generation\":%u}\n",
	    (unsigned long long)e->policy_serial, e->gen);
	if (o.overflow)
		return -ENOBUFS;
	return (int)(o.p - buf);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	const struct vigil_event *e = data;
	char line[2048];
	int n;

	if (size < sizeof(*e) || e->abi_version != VIGIL_ABI_VERSION) {
		log_error("ring buffer record of %zu bytes, ABI %u: skipped", size,
		          size >= sizeof(*e) ? e->abi_version : 0);
		return 0;
	}
	n = agent_event_format(a, e, line, sizeof(line));
	if (n < 0)
		return 0;
	if (fwrite(line, 1, (size_t)n, a->event_log) != (size_t)n)
		log_error("event log write failed");
	a->events_written++;
	return 0;
}

static void format_time(int64_t real_ns, char *out, size_t size)
{
	time_t sec = (time_t)(real_ns / 1000000000);
	struct tm tm;
	char ts[32];

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%09lldZ", ts, (long long)(real_ns % 1000000000));
}

int agent_event_write(struct agent *a, const char *type, json_t *fields)
{
	json_t *obj = json_object();
	struct timespec now;
	char ts[48], *line;
	int r = -ENOMEM;

	clock_gettime(CLOCK_REALTIME, &now);
	format_time(now.tv_sec * 1000000000LL + now.tv_nsec, ts, sizeof(ts));
	if (obj && !json_object_set_new(obj, "time", json_string(ts)) &&
	    !json_object_set_new(obj, "type", json_string(type)) &&
	    (!fields || !json_object_update(obj, fields))) {
		line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line && a->event_log) {
			fprintf(a->event_log, "%s\n", line);
			fflush(a->event_log);
			r = 0;
		} else if (line) {
			r = -EBADF; /* before the event log is open (start-up): stderr has it */
		}
		free(line);
	}
	json_decref(fields);
	json_decref(obj);
	return r;
}

void agent_events_report_drops(struct agent *a)
{
	uint64_t drops = agent_stat(a, VIGIL_STAT_RB_DROPS);

	if (drops == a->drops_reported)
		return;
	fprintf(a->event_log, "{\"type\":\"ringbuf_drops\",\"count\":%llu,\"total\":%llu}\n",
	        (unsigned long long)(drops - a->drops_reported), (unsigned long long)drops);
	log_info("ring buffer full: %llu events lost (%llu in total); decisions were still made",
	         (unsigned long long)(drops - a->drops_reported), (unsigned long long)drops);
	a->drops_reported = drops;
}

int agent_events_open(struct agent *a)
{
	struct timespec real, boot;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	a->boot_to_real_ns =
	    (real.tv_sec - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
	if (strcmp(a->opt.event_log_path, "-") == 0) {
		a->event_log = stdout;
	} else {
		int fd = open(a->opt.event_log_path,
		              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0)
			return log_error_errno(-errno, "opening event log %s",
			                       a->opt.event_log_path);
		a->event_log = fdopen(fd, "a");
		if (!a->event_log) {
			close(fd);
			return -ENOMEM;
		}
	}
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), handle_event, a, NULL);
	if (!a->rb)
		return log_error_errno(-errno, "creating the ring buffer reader");
	return 0;
}

int agent_events_poll(struct agent *a, int timeout_ms)
{
	int n = ring_buffer__poll(a->rb, timeout_ms);

	if (n == -EINTR)
		n = 0;
	agent_events_report_drops(a);
	fflush(a->event_log);
	return n;
}

void agent_events_close(struct agent *a)
{
	if (a->rb) {
		ring_buffer__consume(a->rb);
		ring_buffer__free(a->rb);
		a->rb = NULL;
	}
	if (a->event_log) {
		fflush(a->event_log);
		if (a->event_log != stdout)
			fclose(a->event_log);
		a->event_log = NULL;
	}
}
