/* Consumes decisions from the BPF ring buffer and writes one JSON line per event. */
#include "agent/agent.h"
#include "agent/keyrelease.h"
#include "lib/log.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vigil.skel.h"

#define EVENT_LOG_BUF (1u << 20)

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
	    [VIGIL_R_WRITER_AT_LOAD] = "writer_at_load",
	    [VIGIL_R_BAD_ADDR] = "bad_address",
	    [VIGIL_R_RAW_SOCKET] = "raw_socket",
	    [VIGIL_R_SOCKET_KIND] = "socket_kind",
	    [VIGIL_R_DISCONNECTED] = "disconnected",
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
	case VIGIL_EV_CAP:
		return "capability";
	}
	return "unknown";
}

/*
 * The formatter is on the audit pipeline's hot path (docs/BENCHMARKS.md): no printf, the date
 * part of the timestamp cached per second, and one room check per group of fields instead of
 * one per append. The checks assume the worst case (every string byte escaped), so a buffer
 * they refuse may still hold the line: agent_event_format then retries in a buffer sized for
 * the worst case, and the result is exact either way.
 */
#define ROOM_NUMBERS 512   /* literals, names and numbers between two strings, with margin */
#define FORMAT_MAX   65536 /* > every field's worst case: rule names are the longest strings */

struct out {
	char *p;
	char *end;
};

static bool room(const struct out *o, size_t n)
{
	return (size_t)(o->end - o->p) > n;
}

#define put_lit(o, s) (memcpy((o)->p, s, sizeof(s) - 1), (o)->p += sizeof(s) - 1)

static void put_mem(struct out *o, const char *s, size_t n)
{
	memcpy(o->p, s, n);
	o->p += n;
}

static void put_u64(struct out *o, uint64_t v)
{
	o->p = audit_put_u64(o->p, v);
}

static void put_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		*o->p++ = '-';
		put_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(o, (uint64_t)v);
	}
}

static void put_name(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

/* Bytes copied as they are into a JSON string: printable ASCII except '"' and '\\'. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* True when no byte of x needs escaping (a byte below 0x20 or above 0x7e, '"' or '\\'). */
static bool plain8(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\'), d = x ^ (ONES * 0x7f);

	/* (v - ONES*n) & ~v & HIGHS: some byte of v is below n (for bytes below 0x80). */
	return !((x | ((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b) |
	          ((d - ONES) & ~d)) &
	         HIGHS);
}

/* A JSON string member from at most max bytes of s; bytes outside printable ASCII escaped. */
static bool put_str(struct out *o, const char *key, size_t key_len, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strnlen(s, max), i = 0;

	if (!room(o, key_len + 6 * len + 8))
		return false;
	put_lit(o, ",\"");
	put_mem(o, key, key_len);
	put_lit(o, "\":\"");
	/* Paths and names rarely need escaping: eight bytes at a time while none does. */
	for (; i + 8 <= len; i += 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		if (!plain8(x))
			break;
		memcpy(o->p, &x, 8);
		o->p += 8;
	}
	/* Then the last (up to) eight at once too, overlapping what was copied already. */
	if (i < len && i + 8 > len && len >= 8) {
		uint64_t x;

		memcpy(&x, s + len - 8, 8);
		if (plain8(x)) {
			memcpy(o->p - (i - (len - 8)), &x, 8);
			o->p += len - i;
			i = len;
		}
	}
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (plain(c)) {
			*o->p++ = (char)c;
		} else if (c == '"' || c == '\\') {
			o->p[0] = '\\';
			o->p[1] = (char)c;
			o->p += 2;
		} else {
			memcpy(o->p, "\\u00", 4);
			o->p[4] = hex[c >> 4];
			o->p[5] = hex[c & 15];
			o->p += 6;
		}
	}
	*o->p++ = '"';
	return true;
}

#define PUT_STR(o, key, s, max) put_str(o, key, sizeof(key) - 1, s, max)

/* The length of the valid UTF-8 sequence at s (of at most len bytes) and its code point; 0
 * when invalid (overlong, a surrogate, above U+10FFFF, cut short). */
static size_t utf8_at(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t c;

	if (!need || s[0] > 0xf4 || need > len)
		return 0;
	c = s[0] & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[need] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return 0;
	*cp = c;
	return need;
}

/*
 * A JSON string member from s: valid UTF-8 as \u escapes (the audit log is ASCII), other bytes
 * as U+FFFD; cut at a character so that the member leaves at least keep bytes of o. False when
 * cut (the member is still complete JSON).
 */
static bool put_utf8(struct out *o, const char *key, size_t key_len, const char *s, size_t len,
                     size_t keep)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	put_lit(o, ",\"");
	put_mem(o, key, key_len);
	put_lit(o, "\":\"");
	while (i < len) {
		uint32_t c = u[i], units[2];
		size_t n = 1, nu = 1;

		if (c >= 0x80 && !(n = utf8_at(u + i, len - i, &c))) {
			n = 1;
			c = 0xfffd;
		}
		if (!room(o, keep + 13))
			break;
		if (c < 0x80 && plain((unsigned char)c)) {
			*o->p++ = (char)c;
		} else if (c == '"' || c == '\\') {
			o->p[0] = '\\';
			o->p[1] = (char)c;
			o->p += 2;
		} else {
			units[0] = c;
			if (c >= 0x10000) {
				units[0] = 0xd800 + ((c - 0x10000) >> 10);
				units[1] = 0xdc00 + ((c - 0x10000) & 0x3ff);
				nu = 2;
			}
			for (size_t k = 0; k < nu; k++) {
				memcpy(o->p, "\\u", 2);
				for (int sh = 12, d = 2; sh >= 0; sh -= 4, d++)
					o->p[d] = hex[(units[k] >> sh) & 15];
				o->p += 6;
			}
		}
		i += n;
	}
	*o->p++ = '"';
	return i >= len;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; the seconds are formatted once per second. */
static void put_time(struct out *o, int64_t real_ns)
{
	static __thread time_t cached_sec = -1;
	static __thread char cached[VIGIL_RFC3339_LEN];
	time_t sec = (time_t)(real_ns / 1000000000);
	uint64_t ns = (uint64_t)(real_ns % 1000000000) % 1000000000;
	char frac[20], *end;
	size_t digits;

	if (sec != cached_sec) {
		vigil_rfc3339_ns(real_ns, cached); /* its first 19 characters: the second */
		cached_sec = sec;
	}
	memcpy(o->p, cached, 19);
	o->p[19] = '.';
	/* Nine digits with leading zeros: the decimal digits of 1e9 + ns, without the 1. */
	end = audit_put_u64(frac, 1000000000ull + ns);
	digits = (size_t)(end - frac);
	memcpy(o->p + 20, frac + digits - 9, 9);
	o->p[29] = 'Z';
	o->p += 30;
}

static const struct policy *policy_of_gen(const struct agent *a, uint32_t gen)
{
	if (gen && gen == a->cur.gen)
		return a->cur.policy;
	if (gen && gen == a->prev.gen)
		return a->prev.policy;
	return NULL;
}

/* Formats into [buf, buf + size); -ENOBUFS when a room check fails (conservatively). */
static int format_event(const struct agent *a, const struct vigil_event *e, char *buf, size_t size)
{
	const struct policy *p = policy_of_gen(a, e->gen);
	struct out o = {buf, buf + size};
	const char *rule;
	int n;

	if (!room(&o, ROOM_NUMBERS))
		return -ENOBUFS;
	put_lit(&o, "{\"time\":\"");
	put_time(&o, (int64_t)e->ts_boot_ns + a->boot_to_real_ns);
	put_lit(&o, "\",\"type\":\"");
	put_name(&o, vigil_event_type_name(e->type));
	put_lit(&o, "\",\"verdict\":\"");
	put_name(&o, vigil_verdict_name(e->verdict));
	put_lit(&o, "\",\"reason\":\"");
	put_name(&o, vigil_reason_name(e->reason));
	put_lit(&o, "\",\"errno\":");
	put_i64(&o, -(int64_t)e->err);
	put_lit(&o, ",\"pid\":");
	put_u64(&o, e->pid);
	put_lit(&o, ",\"tid\":");
	put_u64(&o, e->tid);
	put_lit(&o, ",\"ppid\":");
	put_u64(&o, e->ppid);
	put_lit(&o, ",\"uid\":");
	put_u64(&o, e->uid);
	put_lit(&o, ",\"gid\":");
	put_u64(&o, e->gid);
	put_lit(&o, ",\"cgroup_id\":");
	put_u64(&o, e->cgroup_id);
	if (!PUT_STR(&o, "comm", e->comm, sizeof(e->comm)) ||
	    !PUT_STR(&o, "path", e->path, sizeof(e->path)) || !room(&o, ROOM_NUMBERS))
		return -ENOBUFS;
	put_lit(&o, ",\"dev\":\"");
	put_u64(&o, e->dev >> 20);
	*o.p++ = ':';
	put_u64(&o, e->dev & 0xfffff);
	put_lit(&o, "\",\"ino\":");
	put_u64(&o, e->ino);
	agent_event_format_kind(e, o.p, (size_t)(o.end - o.p), &n);
	if (n < 0 || n >= o.end - o.p)
		return -ENOBUFS;
	o.p += n;
	rule = p && vigil_reason_has_rule(e->reason) ? agent_event_rule_name(p, e) : NULL;
	if (rule ? !PUT_STR(&o, "rule", rule, POLICY_NAME_MAX * 32) : !room(&o, ROOM_NUMBERS))
		return -ENOBUFS;
	if (!rule)
		put_lit(&o, ",\"rule\":null");
	if (p && !PUT_STR(&o, "policy", p->name, POLICY_NAME_MAX))
		return -ENOBUFS;
	if (!room(&o, ROOM_NUMBERS))
		return -ENOBUFS;
	put_lit(&o, ",\"policy_serial\":");
	put_u64(&o, e->policy_serial);
	put_lit(&o, ",\"generation\":");
	put_u64(&o, e->gen);
	if (a->cmdline) {
		char argv[AGENT_CMDLINE_MAX];
		int len = agent_cmdline(e, argv, sizeof(argv));

		/* Absent unless provably the event's process (agent/cmdline.c); cut to what the
		 * line's buffer holds: the event is worth more than the end of its argv. */
		size_t left = (size_t)(o.end - o.p);

		/* At most ~1.5 KiB of the line: the size check of agent_event_format's second try.
		 */
		if (len > 0 && room(&o, 64) &&
		    !put_utf8(&o, "cmdline", 7, argv, (size_t)len, left > 1600 ? left - 1536 : 32))
			put_lit(&o, ",\"cmdline_truncated\":true");
	}
	put_lit(&o, "}\n");
	*o.p = 0;
	return (int)(o.p - buf);
}

struct agent *agent_event_context_new(int64_t boot_to_real_ns)
{
	struct agent *a = calloc(1, sizeof(*a));

	if (a)
		a->boot_to_real_ns = boot_to_real_ns;
	return a;
}

void agent_event_context_free(struct agent *a)
{
	free(a);
}

int agent_event_format(const struct agent *a, const struct vigil_event *e, char *buf, size_t size)
{
	char *tmp;
	int n = format_event(a, e, buf, size);

	if (n != -ENOBUFS)
		return n;
	/* Refused by a worst-case check: the line may still fit. */
	tmp = malloc(FORMAT_MAX);
	if (!tmp)
		return -ENOMEM;
	n = format_event(a, e, tmp, FORMAT_MAX);
	if (n >= 0 && (size_t)n < size)
		memcpy(buf, tmp, (size_t)n + 1);
	else if (n >= 0)
		n = -ENOBUFS;
	free(tmp);
	return n;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	const struct vigil_event *e = data;
	/* "e": then the event object: the audit record's members, formatted in the audit queue. */
	char buf[4 + 2048], *slot = NULL, *line = buf + 4;
	int n;

	if (size < sizeof(*e) || e->abi_version != VIGIL_ABI_VERSION) {
		log_error("ring buffer record of %zu bytes, ABI %u: skipped", size,
		          size >= sizeof(*e) ? e->abi_version : 0);
		return 0;
	}
	/* A full queue has counted the drop; the event log still gets the line. */
	if (a->audit && audit_submit_reserve(a->audit, "event", sizeof(buf), &slot) == 0) {
		memcpy(slot, "\"e\":", 4);
		line = slot + 4;
	}
	n = agent_event_format(a, e, line, sizeof(buf) - 4);
	/* Written from the queue slot before the commit: one formatting serves both sinks (the
	 * event log's 1 MiB buffer keeps write(2) under the lock rare). */
	if (n >= 0 && fwrite(line, 1, (size_t)n, a->event_log) != (size_t)n)
		log_error("event log write failed");
	if (slot)
		audit_submit_commit(a->audit, n < 0 ? -1 : n + 4 - 1); /* without the '\n' */
	if (n >= 0)
		a->events_written++;
	if (a->keys && e->verdict == VIGIL_DENY)
		agent_keys_on_deny(a, e->type); /* a revocation trigger (agent/keyrelease.c) */
	return 0;
}

int agent_event_write(struct agent *a, const char *type, json_t *fields)
{
	json_t *obj = json_object();
	char ts[VIGIL_RFC3339_LEN], *line;
	int r = -ENOMEM;

	vigil_rfc3339_now(ts);
	if (obj && !json_object_set_new(obj, "time", json_string(ts)) &&
	    !json_object_set_new(obj, "type", json_string(type)) &&
	    (!fields || !json_object_update(obj, fields))) {
		/* ASCII only: the audit log's records are plain bytes. */
		line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		if (line && a->audit) {
			char *members;

			if (asprintf(&members, "\"e\":%s", line) >= 0) {
				audit_submit(a->audit, "policy", members, strlen(members));
				free(members);
			}
		}
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
	agent_audit_record(a, "loss", "\"source\":\"ringbuf\",\"count\":%llu,\"total\":%llu",
	                   (unsigned long long)(drops - a->drops_reported),
	                   (unsigned long long)drops);
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
		/* handle_event writes lines under the audit queue's lock and each poll flushes
		 * (agent_events_poll): a large buffer leaves at most one write(2) per MiB there. */
		setvbuf(a->event_log, NULL, _IOFBF, EVENT_LOG_BUF);
	}
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), handle_event, a, NULL);
	if (!a->rb)
		return log_error_errno(-errno, "creating the ring buffer reader");
	return 0;
}

/*
 * Allowed decisions do not wake vigild (BPF_RB_NO_WAKEUP, bpf/common.bpf.h): every allowed exec
 * is one, and a wakeup with a consumer pass per exec cost more than the decision itself. They
 * are read here on the main loop's next turn (at most its 500 ms poll timeout), together with
 * whatever woke it: a deny, audit or invalidation event, or a ring more than a quarter full.
 */
int agent_events_poll(struct agent *a, int timeout_ms)
{
	int n = 0, m;

	if (timeout_ms) {
		n = ring_buffer__poll(a->rb, timeout_ms);
		if (n == -EINTR)
			n = 0;
	}
	/* ring_buffer__poll reads only the rings epoll reported, and an allowed decision made no
	 * wakeup: read whatever is there on every turn. */
	m = ring_buffer__consume(a->rb);
	if (n >= 0)
		n = m < 0 ? m : n + m;
	agent_events_report_drops(a);
	fflush(a->event_log);
	return n;
}

void agent_events_close(struct agent *a)
{
	if (a->rb) {
		ring_buffer__consume(a->rb);
		/* Drops since the last poll go into the log before it closes. */
		agent_events_report_drops(a);
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
