/*
 * Audit records -> OTLP log records, vigil's counters -> OTLP metrics; protobuf through the
 * protoc-c code generated from proto/, JSON by walking the same messages' descriptors (the
 * OTLP/HTTP JSON mapping: lowerCamelCase names, 64-bit integers as strings, enums as numbers).
 */
#include "exporters/otlp_int.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsRequest;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint DataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsRequest;

#define SCOPE_NAME    "vigil.audit"
#define SCOPE_VERSION "0.1.0"
#define MAX_ATTRS     48
#define POOL          2048

/* The names, and their lengths for the per-record compares of spans (no strlen). */
#define ACCESS_KINDS(X)                                                                            \
	X("exec")                                                                                  \
	X("mmap_exec")                                                                             \
	X("mprotect_exec")                                                                         \
	X("exec_invalidated")                                                                      \
	X("file")                                                                                  \
	X("network")                                                                               \
	X("key")                                                                                   \
	X("self")                                                                                  \
	X("capability")                                                                            \
	X("unknown")
#define VERDICTS(X) X("allow") X("deny") X("audit")
#define NAME(s)     s,
#define LEN(s)      sizeof(s) - 1,
const char *const otlp_access_kinds[16] = {ACCESS_KINDS(NAME)};
static const uint8_t access_kind_lens[16] = {ACCESS_KINDS(LEN)};
const char *const otlp_verdicts[3] = {VERDICTS(NAME)};
static const uint8_t verdict_lens[3] = {VERDICTS(LEN)};
#undef NAME
#undef LEN

static int verdict_index_n(const char *v, size_t len)
{
	for (int i = 0; i < 3; i++)
		if (v && len == verdict_lens[i] && memcmp(v, otlp_verdicts[i], len) == 0)
			return i;
	return -1;
}

static int access_kind_index_n(const char *type, size_t len)
{
	for (int i = 0; i < 16 && otlp_access_kinds[i]; i++)
		if (len == access_kind_lens[i] && memcmp(type, otlp_access_kinds[i], len) == 0)
			return i;
	return 9; /* unknown */
}

int otlp_access_kind_index(const char *type)
{
	return access_kind_index_n(type, strlen(type));
}

int otlp_verdict_index(const char *verdict)
{
	return verdict_index_n(verdict, strlen(verdict));
}

/* --- records ----------------------------------------------------------------------- */

/* s[0, len) is the C string lit (inlined: strlen of a literal is a constant). */
static inline bool span_eq(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return s && len == n && memcmp(s, lit, n) == 0;
}

/* A record kind is lit: inlined for a literal (strcmp was called 5 times per record). */
static inline bool kind_is(const char *kind, const char *lit)
{
	for (; *lit && *kind == *lit; kind++, lit++)
		;
	return *kind == *lit;
}

/* The event name from the kind and the type and verdict strings (NULL when absent). */
static void event_name(const char *kind, const char *type, size_t tl, const char *verdict,
                       size_t vl, char *out, size_t size)
{
	if (kind_is(kind, "event") && type && verdict) {
		int vi = verdict_index_n(verdict, vl);
		static const char *const past[3] = {"allowed", "denied", "audited"};
		static const uint8_t past_lens[3] = {sizeof("allowed") - 1, sizeof("denied") - 1,
		                                     sizeof("audited") - 1};

		/* Not snprintf: this runs for every record (4% of the CPU as snprintf). */
		const char *parts[] = {"vigil.", type, ".", vi >= 0 ? past[vi] : verdict};
		size_t lens[] = {6, tl, 1, vi >= 0 ? past_lens[vi] : vl};
		size_t j = 0;

		for (size_t k = 0; k < 4; k++)
			for (size_t c = 0; c < lens[k] && j + 1 < size; c++)
				out[j++] = parts[k][c];
		out[j] = 0;
	} else if (kind_is(kind, "policy") && type && tl >= 7 && memcmp(type, "policy_", 7) == 0) {
		snprintf(out, size, "vigil.policy.%.*s", (int)(tl - 7), type + 7);
	} else if (kind_is(kind, "loss") || kind_is(kind, "gap") || kind_is(kind, "file")) {
		snprintf(out, size, "vigil.log.%s", kind);
	} else if (kind_is(kind, "start") || kind_is(kind, "stop")) {
		snprintf(out, size, "vigil.agent.%s", kind);
	} else {
		snprintf(out, size, "vigil.%s", kind);
	}
}

/* The severity number, and its text and the text's length. */
static int severity(const char *kind, const char *type, size_t tl, const char *verdict, size_t vl,
                    const char **text, size_t *text_len)
{
#define TEXT(t) (*text = t, *text_len = sizeof(t) - 1)
	if (kind_is(kind, "loss") || kind_is(kind, "gap")) {
		TEXT("ERROR");
		return 17;
	}
	if (span_eq(verdict, vl, "deny") || span_eq(type, tl, "policy_rejected")) {
		TEXT("WARN");
		return 13;
	}
	if (span_eq(verdict, vl, "audit")) {
		TEXT("INFO2");
		return 10;
	}
	TEXT("INFO");
	return 9;
#undef TEXT
}

void otlp_rec_event_name(const struct otlp_rec *r, char *out, size_t size)
{
	const char *type = otlp_rec_stri(r, r->i_type), *verdict = otlp_rec_stri(r, r->i_verdict);

	event_name(r->kind, type, type ? strlen(type) : 0, verdict, verdict ? strlen(verdict) : 0,
	           out, size);
}

int otlp_rec_severity(const struct otlp_rec *r, const char **text)
{
	const char *verdict = otlp_rec_stri(r, r->i_verdict), *type = otlp_rec_stri(r, r->i_type);
	size_t len;

	return severity(r->kind, type, type ? strlen(type) : 0, verdict,
	                verdict ? strlen(verdict) : 0, text, &len);
}

void otlp_rec_info_of(const struct otlp_rec *r, struct otlp_rec_info *info)
{
	*info = (struct otlp_rec_info){-1, -1, -1, false, 0};
	if (strcmp(r->kind, "event") == 0 && r->event_object) {
		const char *type = otlp_rec_stri(r, r->i_type);
		const char *verdict = otlp_rec_stri(r, r->i_verdict);
		int v = verdict ? otlp_verdict_index(verdict) : -1;

		if (type && v >= 0) {
			info->access = (int8_t)otlp_access_kind_index(type);
			info->verdict = (int8_t)v;
		}
	} else if (strcmp(r->kind, "loss") == 0) {
		const char *src = otlp_rec_str(r, "source"), *reason = otlp_rec_str(r, "reason");
		const struct otlp_member *t = otlp_rec_get(r, "total");

		info->loss_total = t && t->type == OTLP_V_INT && t->i > 0 ? (uint64_t)t->i : 0;
		info->loss_source = !src                          ? -1
		                    : strcmp(src, "ringbuf") == 0 ? 0
		                    : strcmp(src, "queue") == 0   ? 1
		                    : strcmp(src, "write") == 0   ? 2
		                                                  : -1;
		info->refusal =
		    src && strcmp(src, "otlp") == 0 && reason && strcmp(reason, "refused") == 0;
	}
}

/* n digits at s as a number; -1 unless all are digits. */
static int digits_at(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * The audit writer's fixed "YYYY-MM-DDTHH:MM:SS" read without strptime and timegm (both were
 * in the exporter's per-record profile); false for any other shape, which strptime then reads.
 * Days from the civil date: Howard Hinnant's days_from_civil.
 */
static bool fixed_time(const char *s, time_t *t)
{
	int y, mo, d, h, mi, sec, era, yoe, doy, doe;

	/* The fields sit at fixed offsets: a shorter string would be read past its end. */
	if (strnlen(s, 19) < 19)
		return false;
	y = digits_at(s, 4);
	mo = digits_at(s + 5, 2);
	d = digits_at(s + 8, 2);
	h = digits_at(s + 11, 2);
	mi = digits_at(s + 14, 2);
	sec = digits_at(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || sec < 0 || sec > 60 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return false;
	y -= mo <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*t = ((time_t)era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" -> ns since the epoch; 0 when unreadable. */
static uint64_t parse_time(const char *s)
{
	struct tm tm = {0};
	const char *p;
	uint64_t ns = 0;
	int digits = 0;
	time_t t;

	if (!s)
		return 0;
	if (fixed_time(s, &t)) {
		p = s + 19;
	} else {
		p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		if (!p)
			return 0;
		t = timegm(&tm);
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits < 9) {
				ns = ns * 10 + (uint64_t)(*p - '0');
				digits++;
			}
	for (; digits < 9; digits++)
		ns *= 10;
	return t < 0 ? 0 : (uint64_t)t * 1000000000ull + ns;
}

/* One log record's storage: the message, its attributes, generated keys and strings. */
struct lr_store {
	LogRecord lr;
	AnyValue body;
	KeyValue kv[MAX_ATTRS];
	KeyValue *kvp[MAX_ATTRS];
	AnyValue av[MAX_ATTRS];
	char pool[POOL];
	size_t pool_used;
	char event_name[64];
};

static char *pool_str(struct lr_store *s, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), need = la + lb + 1;
	char *p;

	if (s->pool_used + need > sizeof(s->pool))
		return NULL;
	p = s->pool + s->pool_used;
	memcpy(p, a, la);
	memcpy(p + la, b, lb + 1);
	s->pool_used += need;
	return p;
}

static AnyValue *add(struct lr_store *s, const char *key)
{
	size_t i = s->lr.n_attributes;

	if (!key || i >= MAX_ATTRS) {
		s->lr.dropped_attributes_count++;
		return NULL;
	}
	opentelemetry__proto__common__v1__key_value__init(&s->kv[i]);
	opentelemetry__proto__common__v1__any_value__init(&s->av[i]);
	s->kv[i].key = (char *)key;
	s->kv[i].value = &s->av[i];
	s->kvp[i] = &s->kv[i];
	s->lr.n_attributes++;
	return &s->av[i];
}

static void add_str(struct lr_store *s, const char *key, const char *val)
{
	AnyValue *v;

	if (!val || !(v = add(s, key)))
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = (char *)val;
}

static void add_int(struct lr_store *s, const char *key, int64_t val)
{
	AnyValue *v = add(s, key);

	if (!v)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = val;
}

/* A member as an attribute: strings, integers, reals, booleans; others as JSON text. */
static void add_member(struct lr_store *s, const char *key, const struct otlp_member *m)
{
	AnyValue *v;

	if (m->type == OTLP_V_NULL || !(v = add(s, key)))
		return;
	switch (m->type) {
	case OTLP_V_INT:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = m->i;
		break;
	case OTLP_V_REAL:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		v->double_value = m->d;
		break;
	case OTLP_V_BOOL:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = m->i != 0;
		break;
	default: /* strings, and objects, arrays and big numbers as their JSON text */
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = (char *)m->s;
		break;
	}
}

static bool is_exec_type(const char *type, size_t len)
{
	return type &&
	       (span_eq(type, len, "exec") || span_eq(type, len, "mmap_exec") ||
	        span_eq(type, len, "mprotect_exec") || span_eq(type, len, "exec_invalidated"));
}

/* The writer copies an attribute's key and value parts of up to this many bytes as one block of
 * this size when that many can be read (put_part). */
#define PART_BLOCK 32

/* Event members with a semantic-conventions or fixed vigil name (none: "vigil.<key>"). */
static const struct {
	char name[PART_BLOCK]; /* padded: copied a whole block at a time */
	size_t len;
} key_attrs[OTLP_K_COUNT] = {
#define A(id, name) [id] = {name, sizeof(name) - 1}
    A(OTLP_K_COMM, "process.executable.name"),
    A(OTLP_K_CMDLINE, "process.command_line"),
    A(OTLP_K_GID, "vigil.group.id"),
    A(OTLP_K_GENERATION, "vigil.generation"),
    A(OTLP_K_PID, "process.pid"),
    A(OTLP_K_PPID, "process.parent_pid"),
    A(OTLP_K_POLICY, "vigil.policy.name"),
    A(OTLP_K_POLICY_SERIAL, "vigil.policy.serial"),
    A(OTLP_K_REASON, "vigil.reason"),
    A(OTLP_K_RULE, "vigil.rule.name"),
    A(OTLP_K_TID, "thread.id"),
    A(OTLP_K_TYPE, "vigil.event.type"),
    A(OTLP_K_VERDICT, "vigil.verdict"),
#undef A
};

/* The attribute name of an event member key (its id: otlp_key_of); NULL: "vigil.<key>". */
static const char *event_attr(const char *key, size_t len, enum otlp_key id, size_t *attr_len)
{
	if (id == OTLP_K_NETWORK) { /* network.peer.address, .peer.port, .transport, .type */
		*attr_len = len;
		return key;
	}
	*attr_len = key_attrs[id].len;
	return key_attrs[id].len ? key_attrs[id].name : NULL;
}

/*
 * A record member sent as no attribute: the time (the record's own field), a non-event
 * record's n, k and h (sent as vigil.audit.*), and an event's uid and path (sent under their
 * semantic-convention names). Both writers (protobuf-c and the direct one) ask this.
 */
static bool member_skipped(enum otlp_key id, bool ev, bool event)
{
	switch (id) {
	case OTLP_K_TIME:
		return true;
	case OTLP_K_NKH:
		return !ev;
	case OTLP_K_UID:
	case OTLP_K_PATH:
		return event;
	default:
		return false;
	}
}

static void build_record(struct lr_store *s, const struct otlp_rec *r, const char *origin)
{
	const char *sev_text, *type = otlp_rec_stri(r, r->i_type);
	const char *path = otlp_rec_stri(r, r->i_path);
	bool ev = r->event_object, event = ev && strcmp(r->kind, "event") == 0;
	const struct otlp_member *uid = r->i_uid >= 0 ? &r->m[r->i_uid] : NULL;

	memset(s, 0, offsetof(struct lr_store, pool));
	s->pool_used = 0;
	opentelemetry__proto__logs__v1__log_record__init(&s->lr);
	opentelemetry__proto__common__v1__any_value__init(&s->body);
	s->lr.attributes = s->kvp;
	s->lr.time_unix_nano = parse_time(r->time);
	s->lr.observed_time_unix_nano = r->observed_ns;
	s->lr.severity_number =
	    (Opentelemetry__Proto__Logs__V1__SeverityNumber)otlp_rec_severity(r, &sev_text);
	s->lr.severity_text = (char *)sev_text;
	otlp_rec_event_name(r, s->event_name, sizeof(s->event_name));
	s->lr.event_name = s->event_name;
	s->body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	s->body.string_value = r->line;
	s->lr.body = &s->body;

	add_int(s, "vigil.audit.seq", (int64_t)r->n);
	add_str(s, "vigil.audit.hash", r->hash);
	add_str(s, "vigil.audit.kind", r->kind);
	if (origin)
		add_str(s, "vigil.audit.origin", origin);
	if (event) {
		if (uid && uid->type == OTLP_V_INT)
			add_str(s, "user.id", uid->s);
		if (path && *path)
			add_str(s,
			        is_exec_type(type, type ? strlen(type) : 0)
			            ? "process.executable.path"
			            : "file.path",
			        path);
	}
	for (size_t k = 0; k < r->n_m; k++) {
		const struct otlp_member *m = &r->m[k];
		const char *key = m->key, *attr;
		size_t klen = strlen(key), alen;
		enum otlp_key id = otlp_key_of(key, klen);

		if (member_skipped(id, ev, event))
			continue;
		if (ev && (attr = event_attr(key, klen, id, &alen))) {
			add_member(s, attr, m);
		} else if (ev) {
			add_member(s, pool_str(s, "vigil.", key), m);
		} else { /* start, stop, loss, gap, file, ...: vigil.<kind>.<member> */
			char pre[AUDIT_KIND_MAX + 8];

			snprintf(pre, sizeof(pre), "vigil.%s.", r->kind);
			add_member(s, pool_str(s, pre, key), m);
		}
	}
}

/* --- resource ---------------------------------------------------------------------- */

struct res_store {
	Resource res;
	KeyValue kv[8];
	KeyValue *kvp[8];
	AnyValue av[8];
	Scope scope;
};

static void res_add(struct res_store *s, const char *key, const char *val)
{
	size_t i = s->res.n_attributes;

	if (!val || !*val || i >= 8)
		return;
	opentelemetry__proto__common__v1__key_value__init(&s->kv[i]);
	opentelemetry__proto__common__v1__any_value__init(&s->av[i]);
	s->av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	s->av[i].string_value = (char *)val;
	s->kv[i].key = (char *)key;
	s->kv[i].value = &s->av[i];
	s->kvp[i] = &s->kv[i];
	s->res.n_attributes++;
}

static void build_resource(struct res_store *s, const struct otlp_resource *r)
{
	memset(s, 0, sizeof(*s));
	opentelemetry__proto__resource__v1__resource__init(&s->res);
	s->res.attributes = s->kvp;
	res_add(s, "service.name", "vigil");
	res_add(s, "service.version", r->service_version);
	res_add(s, "host.id", r->host_id);
	res_add(s, "host.name", r->host_name);
	res_add(s, "vigil.tee.type", r->tee);
	res_add(s, "vigil.audit.origin", r->origin);
	opentelemetry__proto__common__v1__instrumentation_scope__init(&s->scope);
	s->scope.name = SCOPE_NAME;
	s->scope.version = SCOPE_VERSION;
}

/* --- JSON from any message, by its descriptor --------------------------------------- */

static json_t *msg_to_json(const ProtobufCMessage *m);

static void camel(const char *snake, char *out, size_t size)
{
	size_t j = 0;
	bool up = false;

	for (; *snake && j + 1 < size; snake++) {
		if (*snake == '_') {
			up = true;
			continue;
		}
		out[j++] =
		    up ? (char)(*snake >= 'a' && *snake <= 'z' ? *snake - 32 : *snake) : *snake;
		up = false;
	}
	out[j] = 0;
}

static json_t *u64_json(uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	return json_string(num);
}

static json_t *i64_json(int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	return json_string(num);
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return i64_json(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return u64_json(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_STRING:
		return json_string(*(char *const *)p ? *(char *const *)p : "");
	case PROTOBUF_C_TYPE_BYTES: {
		/* OTLP JSON: trace and span ids are hex (vigil sends none; other bytes too). */
		const ProtobufCBinaryData *b = p;
		char *hex = malloc(b->len * 2 + 1);
		json_t *j;

		if (!hex)
			return NULL;
		audit_hex(b->data, b->len, hex);
		hex[b->len * 2] = 0;
		j = json_string(hex);
		free(hex);
		return j;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return msg_to_json(*(ProtobufCMessage *const *)p);
	}
	return NULL;
}

static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_STRING:
		return !*(char *const *)p || !**(char *const *)p;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return !*(void *const *)p;
	default:
		return *(const uint32_t *)p == 0;
	}
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

static json_t *msg_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();

	for (unsigned i = 0; o && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		const void *p = base + f->offset;
		char name[64];
		json_t *v;

		camel(f->name, name, sizeof(name));
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset), k;
			const char *arr = *(char *const *)p;

			if (!n)
				continue;
			v = json_array();
			/* An element jansson refuses (a string that is not UTF-8) fails the whole
			 * message: dropped from the array, it would go missing unseen. */
			for (k = 0; v && k < n; k++)
				if (json_array_append_new(
				        v, value_json(f, arr + k * type_size(f->type))) < 0) {
					json_decref(v);
					v = NULL;
				}
		} else {
			if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
				if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
					continue;
			} else if (is_default(f, p)) {
				continue;
			}
			v = value_json(f, p);
		}
		if (!v || json_object_set_new(o, name, v) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int pack(const ProtobufCMessage *m, bool json, uint8_t **ret, size_t *ret_len)
{
	if (json) {
		json_t *j = msg_to_json(m);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

		json_decref(j);
		if (!text)
			return -ENOMEM;
		*ret = (uint8_t *)text;
		*ret_len = strlen(text);
		return 0;
	}
	*ret_len = protobuf_c_message_get_packed_size(m);
	*ret = malloc(*ret_len ? *ret_len : 1);
	if (!*ret)
		return -ENOMEM;
	protobuf_c_message_pack(m, *ret);
	return 0;
}

/*
 * Protobuf of a logs request, written directly: protobuf-c's generic packer walks the
 * descriptors and computes every nested message's size again at each level (a quarter of the
 * exporter's CPU, measured with perf); here each log record's size is computed once, from the
 * same generated structs build_record filled. Field numbers: proto/ (logs.proto, common.proto).
 */
static size_t vsz(uint64_t v)
{
	size_t n = 1;

	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (uint8_t)(v | 0x80);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_fixed64(uint8_t *p, uint8_t tag, uint64_t v)
{
	*p++ = tag;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* A length-delimited field's tag and length (every tag here fits one byte). */
static uint8_t *put_len(uint8_t *p, uint8_t tag, size_t len)
{
	*p++ = tag;
	return put_varint(p, len);
}

static uint8_t *put_bytes(uint8_t *p, uint8_t tag, const char *s, size_t len)
{
	p = put_len(p, tag, len);
	memcpy(p, s, len);
	return p + len;
}

static size_t field_size(size_t len)
{
	return 1 + vsz(len) + len;
}

/*
 * The protobuf of log records written while each record's line is scanned once, without the
 * generated structs (filling ~100 protobuf-c structs per record, then walking them for sizes
 * and again to write, was most of the non-gzip CPU) and without copying the record: the scan
 * (otlp_scan_line) gives spans of the line, the writer copies them once, into the request. The
 * bytes are those protobuf-c writes for the messages build_record fills (the unit test unpacks
 * and repacks them).
 */
static bool wb_reserve(struct otlp_wbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 1 << 20;
	uint8_t *p;

	if (b->cap - b->len >= need)
		return true;
	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

void otlp_wbuf_free(struct otlp_wbuf *b)
{
	free(b->p);
	*b = (struct otlp_wbuf){0};
}

/*
 * n bytes from s to d, inlined for the short keys and values of a record (a memcpy call each
 * was most of what an attribute cost): two copies of a fixed size that overlap, never a byte
 * read or written outside [0, n).
 */
static inline uint8_t *put_short(uint8_t *d, const char *s, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;

	if (n >= 8 && n <= 16) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n > 0 && n < 4) {
		d[0] = (uint8_t)s[0];
		d[n / 2] = (uint8_t)s[n / 2];
		d[n - 1] = (uint8_t)s[n - 1];
	} else if (n) {
		memcpy(d, s, n);
	}
	return d + n;
}

/*
 * n bytes from s, which may be read for room bytes: as one block of PART_BLOCK bytes when both
 * allow (the bytes written past n are overwritten by what follows, or past the record within
 * the room otlp_write_log_record reserves: no branch on the length), else put_short.
 */
static inline uint8_t *put_part(uint8_t *d, const char *s, size_t n, size_t room)
{
	if (n <= PART_BLOCK && room >= PART_BLOCK) {
		memcpy(d, s, PART_BLOCK);
		return d + n;
	}
	return put_short(d, s, n);
}

/* A KeyValue attribute: key (two parts: a prefix and the name), AnyValue of value_len; r1 and
 * r2 the bytes of k1 and k2 that may be read (put_part). */
static inline uint8_t *put_kv_head(uint8_t *p, const char *k1, size_t l1, size_t r1, const char *k2,
                                   size_t l2, size_t r2, size_t any_len)
{
	size_t klen = l1 + l2, kv = field_size(klen) + field_size(any_len);

	if (kv < 128) { /* every length one byte (the usual attribute) */
		p[0] = 6 << 3 | 2;
		p[1] = (uint8_t)kv;
		p[2] = 1 << 3 | 2;
		p[3] = (uint8_t)klen;
		p = put_part(p + 4, k1, l1, r1);
		if (l2)
			p = put_part(p, k2, l2, r2);
		p[0] = 2 << 3 | 2;
		p[1] = (uint8_t)any_len;
		return p + 2;
	}
	p = put_len(p, 6 << 3 | 2, kv);
	p = put_len(p, 1 << 3 | 2, klen);
	memcpy(p, k1, l1);
	if (l2)
		memcpy(p + l1, k2, l2);
	return put_len(p + klen, 2 << 3 | 2, any_len);
}

/* One record's attributes, written into room reserved once for the record (ATTR_ROOM). */
struct wrec {
	struct otlp_wbuf *b;
	unsigned n_attrs, dropped;
	const char *line; /* the record's line, line[0, len): where keys and values may be read */
	size_t len;
};

/* The bytes of the line that may be read from s (0 when s is not in the line: an unescaped
 * string, a constant). */
static inline size_t line_room(const struct wrec *w, const char *s)
{
	uintptr_t off = (uintptr_t)s - (uintptr_t)w->line;

	return off < w->len ? w->len - off : 0;
}

/* The most an attribute adds beside its member's key and value bytes from the line: four tags
 * and lengths, a fixed name (at most 23 bytes) or vigil.<kind>., an integer's varint. */
#define ATTR_ROOM (4 * 6 + 23 + AUDIT_KIND_MAX + 8 + 11)

static inline __attribute__((always_inline)) void w_str(struct wrec *w, const char *k1, size_t l1,
                                                        size_t r1, const char *k2, size_t l2,
                                                        const char *val, size_t vl)
{
	uint8_t *p;

	if (w->n_attrs >= MAX_ATTRS) {
		w->dropped++;
		return;
	}
	p = put_kv_head(w->b->p + w->b->len, k1, l1, r1, k2, l2, line_room(w, k2), field_size(vl));
	p = put_len(p, 1 << 3 | 2, vl);
	p = put_part(p, val, vl, line_room(w, val));
	w->b->len = (size_t)(p - w->b->p);
	w->n_attrs++;
}

static inline __attribute__((always_inline)) void w_member(struct wrec *w, const char *k1,
                                                           size_t l1, size_t r1, const char *k2,
                                                           size_t l2, const struct otlp_smember *m)
{
	size_t any;
	uint64_t bits;
	uint8_t *p;

	if (m->type == OTLP_V_NULL)
		return;
	if (m->type == OTLP_V_STR || m->type == OTLP_V_RAW) {
		w_str(w, k1, l1, r1, k2, l2, m->s.p, m->s.len);
		return;
	}
	if (w->n_attrs >= MAX_ATTRS) {
		w->dropped++;
		return;
	}
	any = m->type == OTLP_V_INT ? 1 + vsz((uint64_t)m->i) : m->type == OTLP_V_BOOL ? 2 : 9;
	p = put_kv_head(w->b->p + w->b->len, k1, l1, r1, k2, l2, line_room(w, k2), any);
	switch (m->type) {
	case OTLP_V_INT:
		*p++ = 3 << 3;
		p = put_varint(p, (uint64_t)m->i);
		break;
	case OTLP_V_BOOL:
		*p++ = 2 << 3;
		*p++ = m->i != 0;
		break;
	default: /* OTLP_V_REAL */
		memcpy(&bits, &m->d, sizeof(bits));
		p = put_fixed64(p, 4 << 3 | 1, bits);
		break;
	}
	w->b->len = (size_t)(p - w->b->p);
	w->n_attrs++;
}

/* The string member at index i of a scan (-1: none), as a pointer and length. */
static const char *scan_str(const struct otlp_scan *sc, int i, size_t *len)
{
	if (i < 0 || sc->m[i].type != OTLP_V_STR) {
		*len = 0;
		return NULL;
	}
	*len = sc->m[i].s.len;
	return sc->m[i].s.p;
}

/* The first member named key (as otlp_rec_get), NULL when none. */
static const struct otlp_smember *scan_get(const struct otlp_scan *sc, const char *key)
{
	for (size_t i = 0; i < sc->n_m; i++)
		if (span_eq(sc->m[i].key.p, sc->m[i].key.len, key))
			return &sc->m[i];
	return NULL;
}

static void scan_info(const struct otlp_scan *sc, const char *kind, const char *type, size_t tl,
                      const char *verdict, size_t vl, struct otlp_rec_info *info)
{
	*info = (struct otlp_rec_info){-1, -1, -1, false, 0};
	if (kind_is(kind, "event") && sc->event_object) {
		int v = verdict ? verdict_index_n(verdict, vl) : -1;

		if (type && v >= 0) {
			info->access = (int8_t)access_kind_index_n(type, tl);
			info->verdict = (int8_t)v;
		}
	} else if (kind_is(kind, "loss")) {
		const struct otlp_smember *src = scan_get(sc, "source"),
		                          *reason = scan_get(sc, "reason");
		const struct otlp_smember *t = scan_get(sc, "total");

		if (src && src->type != OTLP_V_STR)
			src = NULL;
		if (reason && reason->type != OTLP_V_STR)
			reason = NULL;
		info->loss_total = t && t->type == OTLP_V_INT && t->i > 0 ? (uint64_t)t->i : 0;
		info->loss_source = !src                                       ? -1
		                    : span_eq(src->s.p, src->s.len, "ringbuf") ? 0
		                    : span_eq(src->s.p, src->s.len, "queue")   ? 1
		                    : span_eq(src->s.p, src->s.len, "write")   ? 2
		                                                               : -1;
		info->refusal = src && span_eq(src->s.p, src->s.len, "otlp") && reason &&
		                span_eq(reason->s.p, reason->s.len, "refused");
	}
}

/* A record's time (a span of its line) in ns since the epoch; 0 when absent or unreadable. */
static uint64_t span_time(struct otlp_span t)
{
	char s[64];

	if (!t.p)
		return 0;
	/* parse_time reads a C string: the time is short (at most ~40 bytes as vigil writes it;
	 * past 63 bytes only fraction digits beyond the ninth, which it ignores, are cut). */
	if (t.len >= sizeof(s))
		t.len = sizeof(s) - 1;
	memcpy(s, t.p, t.len);
	s[t.len] = 0;
	return parse_time(s);
}

int otlp_write_log_record(struct otlp_wbuf *b, const char *line, size_t len, uint64_t n,
                          const char *kind, const char *origin, uint64_t observed_ns,
                          struct otlp_rec_info *info)
{
	/* Kept between records: unescaped strings (rare) and odd numbers' text. */
	static __thread char *scratch;
	static __thread size_t scratch_cap;
	struct otlp_scan sc;
	struct wrec w = {b, 0, 0, line, len};
	/* Key prefixes padded to a block (put_part). */
	static const char vigil_pre[PART_BLOCK] = "vigil.";
	char pre[PART_BLOCK] = "";
	size_t pn = 0;
	const char *sev_text, *type, *verdict, *path, *hash;
	size_t tl, vl, pl, start = b->len, body_len = len, hl, ll, klen = strlen(kind), sl, nl;
	size_t olen = origin ? strlen(origin) : 0;
	bool ev, event;
	const struct otlp_smember *uid;
	uint64_t t;
	int sev, rc;
	char name[64];
	uint8_t *p;

	if (len < AUDIT_TRAILER_LEN)
		return -EBADMSG;
	if (2 * len + 64 > scratch_cap) {
		char *g = realloc(scratch, 2 * len + 64);

		if (!g)
			return -ENOMEM;
		scratch = g;
		scratch_cap = 2 * len + 64;
	}
	rc = otlp_scan_line(line, len, &sc, scratch, scratch_cap);
	if (rc < 0)
		return rc;
	type = scan_str(&sc, sc.i_type, &tl);
	verdict = scan_str(&sc, sc.i_verdict, &vl);
	path = scan_str(&sc, sc.i_path, &pl);
	ev = sc.event_object;
	event = ev && kind_is(kind, "event");
	uid = sc.i_uid >= 0 ? &sc.m[sc.i_uid] : NULL;
	hash = line + len - 2 - AUDIT_HEX_LEN;
	if (info)
		scan_info(&sc, kind, type, tl, verdict, vl, info);
	t = span_time(sc.time);
	sev = severity(kind, type, tl, verdict, vl, &sev_text, &sl);
	event_name(kind, type, tl, verdict, vl, name, sizeof(name));
	nl = strlen(name); /* not the parts' lengths: a NUL in the type ends the name */
	/* Room for the whole record, reserved once: the head, the body, every attribute (keys and
	 * values come from the line, unescaped strings are no longer than their escaped text) and
	 * the tail (and a block past it, put_part). The record's tag and length come first: the
	 * length is written as 2 bytes (a record of 128 bytes to 16 KiB, all of vigil's) and the
	 * message moved only when not. */
	if (!wb_reserve(b, 1 + 5 + 9 + 11 + field_size(sl) + 2 * 6 + body_len + len +
	                       (6 + sc.n_m) * ATTR_ROOM + AUDIT_HEX_LEN + klen + olen + 2 * 11 +
	                       field_size(nl) + 3 + PART_BLOCK))
		return -ENOMEM;
	p = b->p + start + 3;
	if (t)
		p = put_fixed64(p, 1 << 3 | 1, t);
	*p++ = 2 << 3;
	p = put_varint(p, (uint64_t)sev);
	p = put_bytes(p, 3 << 3 | 2, sev_text, sl);
	p = put_len(p, 5 << 3 | 2, field_size(body_len));
	p = put_bytes(p, 1 << 3 | 2, line, body_len);
	b->len = (size_t)(p - b->p);

	w_member(&w, "vigil.audit.seq", 15, 0, NULL, 0,
	         &(struct otlp_smember){.type = OTLP_V_INT, .i = (int64_t)n});
	w_str(&w, "vigil.audit.hash", 16, 0, NULL, 0, hash, AUDIT_HEX_LEN);
	w_str(&w, "vigil.audit.kind", 16, 0, NULL, 0, kind, klen);
	if (origin)
		w_str(&w, "vigil.audit.origin", 18, 0, NULL, 0, origin, olen);
	if (event) {
		if (uid && uid->type == OTLP_V_INT)
			w_str(&w, "user.id", 7, 0, NULL, 0, uid->s.p, uid->s.len);
		if (path && pl) {
			bool x = is_exec_type(type, tl);

			w_str(&w, x ? "process.executable.path" : "file.path", x ? 23 : 9, 0, NULL,
			      0, path, pl);
		}
	}
	for (size_t k = 0; k < sc.n_m; k++) {
		const struct otlp_smember *m = &sc.m[k];
		const char *key = m->key.p, *attr;
		size_t kl = m->key.len, al;

		if (member_skipped(m->key_id, ev, event))
			continue;
		if (ev && (attr = event_attr(key, kl, m->key_id, &al))) {
			/* a fixed name (padded) or a network.* key itself (in the line) */
			w_member(&w, attr, al, attr == key ? line_room(&w, key) : PART_BLOCK, NULL,
			         0, m);
		} else if (ev) {
			w_member(&w, vigil_pre, 6, PART_BLOCK, key, kl, m);
		} else { /* start, stop, loss, gap, file, ...: vigil.<kind>.<member> */
			if (!pn)
				pn = (size_t)snprintf(pre, sizeof(pre), "vigil.%s.", kind);
			w_member(&w, pre, pn, PART_BLOCK, key, kl, m);
		}
	}
	p = b->p + b->len;
	if (w.dropped) {
		*p++ = 7 << 3;
		p = put_varint(p, w.dropped);
	}
	p = put_fixed64(p, 11 << 3 | 1, observed_ns);
	if (nl)
		p = put_bytes(p, 12 << 3 | 2, name, nl);
	ll = (size_t)(p - b->p) - (start + 3);
	b->len = start + 3 + ll;
	hl = 1 + vsz(ll);
	if (hl != 3) /* under 128 or over 16 KiB: move the message to its real place */
		memmove(b->p + start + hl, b->p + start + 3, ll);
	put_len(b->p + start, 2 << 3 | 2, ll);
	b->len = start + hl + ll;
	return 0;
}

size_t otlp_logs_head_room(const struct otlp_resource *res)
{
	struct res_store rs;

	build_resource(&rs, res);
	/* Four tags and lengths (at most 11 bytes each), the resource and the scope. */
	return 4 * 11 + protobuf_c_message_get_packed_size(&rs.res.base) +
	       protobuf_c_message_get_packed_size(&rs.scope.base);
}

int otlp_logs_request(const struct otlp_resource *res, uint8_t *recs, size_t recs_len,
                      size_t head_room, uint8_t **ret, size_t *ret_len)
{
	struct res_store rs;
	size_t res_len, scope_len, sl, rl, head;
	uint8_t *p, *start;

	build_resource(&rs, res);
	res_len = protobuf_c_message_get_packed_size(&rs.res.base);
	scope_len = protobuf_c_message_get_packed_size(&rs.scope.base);
	sl = field_size(scope_len) + recs_len;
	rl = field_size(res_len) + field_size(sl);
	head = field_size(rl) - recs_len;
	if (head > head_room)
		return -EFAULT;
	p = start = recs - head;
	p = put_len(p, 1 << 3 | 2, rl);      /* request.resource_logs */
	p = put_len(p, 1 << 3 | 2, res_len); /* .resource */
	p += protobuf_c_message_pack(&rs.res.base, p);
	p = put_len(p, 2 << 3 | 2, sl);        /* .scope_logs */
	p = put_len(p, 1 << 3 | 2, scope_len); /* .scope */
	p += protobuf_c_message_pack(&rs.scope.base, p);
	if (p != recs) /* a size and its writer disagree: a bug, never sent */
		return -EFAULT;
	*ret = start;
	*ret_len = head + recs_len;
	return 0;
}

int otlp_encode_logs(const struct otlp_resource *res, const struct otlp_rec *recs, size_t n,
                     bool json, uint8_t **ret, size_t *ret_len)
{
	/* Kept between batches: a fresh multi-megabyte calloc per batch costs page faults. */
	static __thread struct lr_store *store;
	static __thread LogRecord **lrp;
	static __thread size_t cap;
	struct res_store rs;
	ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT, *slp = &sl;
	ResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT, *rlp = &rl;
	LogsRequest req =
	    OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
	int r = -ENOMEM;

	if (!n)
		return -EINVAL;
	if (!json) {
		/* The exporter's own path (otlp_write_log_record into one buffer) from parsed
		 * records' lines. */
		size_t room = otlp_logs_head_room(res);
		struct otlp_wbuf b = {0};
		uint8_t *req_p;
		size_t req_len;

		if (!wb_reserve(&b, room))
			return -ENOMEM;
		b.len = room;
		for (size_t i = 0; i < n; i++) {
			r = otlp_write_log_record(&b, recs[i].line, strlen(recs[i].line), recs[i].n,
			                          recs[i].kind, res->origin, recs[i].observed_ns,
			                          NULL);
			if (r < 0)
				goto out;
		}
		r = otlp_logs_request(res, b.p + room, b.len - room, room, &req_p, &req_len);
		if (r < 0)
			goto out;
		*ret = malloc(req_len);
		if (!*ret) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(*ret, req_p, req_len);
		*ret_len = req_len;
	out:
		otlp_wbuf_free(&b);
		return r;
	}
	build_resource(&rs, res);
	if (n > cap) {
		free(store);
		free(lrp);
		store = malloc(n * sizeof(*store));
		lrp = malloc(n * sizeof(*lrp));
		cap = store && lrp ? n : 0;
	}
	if (cap >= n) {
		for (size_t i = 0; i < n; i++) {
			build_record(&store[i], &recs[i], res->origin);
			lrp[i] = &store[i].lr;
		}
		sl.scope = &rs.scope;
		sl.n_log_records = n;
		sl.log_records = lrp;
		rl.resource = &rs.res;
		rl.n_scope_logs = 1;
		rl.scope_logs = &slp;
		req.n_resource_logs = 1;
		req.resource_logs = &rlp;
		r = pack(&req.base, json, ret, ret_len);
	}
	return r;
}

/* --- metrics ----------------------------------------------------------------------- */

#define MAX_METRICS 16
#define MAX_POINTS  64

struct metrics_store {
	Metric m[MAX_METRICS];
	Metric *mp[MAX_METRICS];
	Sum sum[MAX_METRICS];
	Gauge gauge[MAX_METRICS];
	DataPoint dp[MAX_POINTS];
	DataPoint *dpp[MAX_POINTS];
	KeyValue kv[MAX_POINTS][2];
	KeyValue *kvp[MAX_POINTS][2];
	AnyValue av[MAX_POINTS][2];
	size_t n_m, n_dp;
};

static Metric *metric(struct metrics_store *s, const char *name, const char *desc, const char *unit,
                      bool sum)
{
	Metric *m = &s->m[s->n_m];

	opentelemetry__proto__metrics__v1__metric__init(m);
	m->name = (char *)name;
	m->description = (char *)desc;
	m->unit = (char *)unit;
	if (sum) {
		opentelemetry__proto__metrics__v1__sum__init(&s->sum[s->n_m]);
		s->sum[s->n_m].aggregation_temporality =
		    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		s->sum[s->n_m].is_monotonic = 1;
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		m->sum = &s->sum[s->n_m];
	} else {
		opentelemetry__proto__metrics__v1__gauge__init(&s->gauge[s->n_m]);
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		m->gauge = &s->gauge[s->n_m];
	}
	s->mp[s->n_m] = m;
	s->n_m++;
	return m;
}

static void point(struct metrics_store *s, Metric *m, const struct otlp_metrics *mv, int64_t v,
                  const char *k1, const char *v1, const char *k2, const char *v2)
{
	DataPoint *d = &s->dp[s->n_dp];
	size_t i = s->n_dp++;
	const char *keys[2] = {k1, k2}, *vals[2] = {v1, v2};

	opentelemetry__proto__metrics__v1__number_data_point__init(d);
	d->start_time_unix_nano = mv->start_ns;
	d->time_unix_nano = mv->now_ns;
	d->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
	d->as_int = v;
	d->attributes = s->kvp[i];
	for (int k = 0; k < 2; k++) {
		if (!keys[k])
			continue;
		opentelemetry__proto__common__v1__key_value__init(&s->kv[i][k]);
		opentelemetry__proto__common__v1__any_value__init(&s->av[i][k]);
		s->av[i][k].value_case =
		    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		s->av[i][k].string_value = (char *)vals[k];
		s->kv[i][k].key = (char *)keys[k];
		s->kv[i][k].value = &s->av[i][k];
		s->kvp[i][d->n_attributes++] = &s->kv[i][k];
	}
	if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM) {
		if (!m->sum->n_data_points)
			m->sum->data_points = &s->dpp[i];
		m->sum->n_data_points++;
	} else {
		if (!m->gauge->n_data_points)
			m->gauge->data_points = &s->dpp[i];
		m->gauge->n_data_points++;
	}
	s->dpp[i] = d;
}

int otlp_encode_metrics(const struct otlp_resource *res, const struct otlp_metrics *mv, bool json,
                        uint8_t **ret, size_t *ret_len)
{
	struct metrics_store *s = calloc(1, sizeof(*s));
	struct res_store rs;
	ScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT, *smp = &sm;
	ResourceMetrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT, *rmp = &rm;
	MetricsRequest req =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	Metric *m;
	int r;

	if (!s)
		return -ENOMEM;
	build_resource(&rs, res);
	m = metric(s, "vigil.decisions", "Access decisions in the audit chain", "{decision}", true);
	for (int k = 0; k < 16; k++)
		for (int v = 0; v < 3; v++)
			if (mv->decisions[k][v] && otlp_access_kinds[k] &&
			    s->n_dp < MAX_POINTS - 16)
				point(s, m, mv, (int64_t)mv->decisions[k][v], "vigil.access.kind",
				      otlp_access_kinds[k], "vigil.verdict", otlp_verdicts[v]);
	if (!m->sum->n_data_points)
		s->n_m--; /* none yet */
	m = metric(s, "vigil.ringbuf.drops", "Events lost in a full BPF ring buffer", "{event}",
	           true);
	point(s, m, mv, (int64_t)mv->ringbuf_drops, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.audit.queue.drops", "Records lost in a full audit queue", "{record}",
	           true);
	point(s, m, mv, (int64_t)mv->queue_drops, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.audit.write.drops", "Records lost to audit write failures", "{record}",
	           true);
	point(s, m, mv, (int64_t)mv->write_drops, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.export.records", "Audit records acknowledged by the receiver",
	           "{record}", true);
	point(s, m, mv, (int64_t)mv->exported, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.export.failures", "Export failures by reason", "{failure}", true);
	point(s, m, mv, (int64_t)mv->failures_transport, "reason", "transport", NULL, NULL);
	point(s, m, mv, (int64_t)mv->failures_http, "reason", "http_status", NULL, NULL);
	point(s, m, mv, (int64_t)mv->failures_rejected, "reason", "rejected", NULL, NULL);
	m = metric(s, "vigil.export.lost", "Records rotated away before export", "{record}", true);
	point(s, m, mv, (int64_t)mv->lost, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.export.lag", "Durable records not yet acknowledged by the receiver",
	           "{record}", false);
	point(s, m, mv, (int64_t)mv->lag, NULL, NULL, NULL, NULL);
	m = metric(s, "vigil.export.queue.depth", "Records read and waiting for acknowledgement",
	           "{record}", false);
	point(s, m, mv, (int64_t)mv->queue_depth, NULL, NULL, NULL, NULL);
	sm.scope = &rs.scope;
	sm.n_metrics = s->n_m;
	sm.metrics = s->mp;
	rm.resource = &rs.res;
	rm.n_scope_metrics = 1;
	rm.scope_metrics = &smp;
	req.n_resource_metrics = 1;
	req.resource_metrics = &rmp;
	r = pack(&req.base, json, ret, ret_len);
	free(s);
	return r;
}

int otlp_decode_response(const uint8_t *body, size_t len, bool json, bool metrics,
                         int64_t *rejected, char *msg, size_t msg_size)
{
	*rejected = 0;
	msg[0] = 0;
	if (!len)
		return 0;
	if (json) {
		json_t *root = json_loadb((const char *)body, len, 0, NULL), *ps, *rj;
		const char *em;

		if (!root)
			return -EBADMSG;
		ps = json_object_get(root, "partialSuccess");
		rj = json_object_get(ps, metrics ? "rejectedDataPoints" : "rejectedLogRecords");
		if (json_is_integer(rj))
			*rejected = json_integer_value(rj);
		else if (json_is_string(rj))
			*rejected = strtoll(json_string_value(rj), NULL, 10);
		em = json_string_value(json_object_get(ps, "errorMessage"));
		snprintf(msg, msg_size, "%s", em ? em : "");
		json_decref(root);
		return 0;
	}
	if (metrics) {
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
		    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
		        NULL, len, body);

		if (!r)
			return -EBADMSG;
		if (r->partial_success) {
			*rejected = r->partial_success->rejected_data_points;
			snprintf(msg, msg_size, "%s", r->partial_success->error_message);
		}
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
		    r, NULL);
		return 0;
	}
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *r =
	    opentelemetry__proto__collector__logs__v1__export_logs_service_response__unpack(
	        NULL, len, body);
	if (!r)
		return -EBADMSG;
	if (r->partial_success) {
		*rejected = r->partial_success->rejected_log_records;
		snprintf(msg, msg_size, "%s", r->partial_success->error_message);
	}
	opentelemetry__proto__collector__logs__v1__export_logs_service_response__free_unpacked(
	    r, NULL);
	return 0;
}
