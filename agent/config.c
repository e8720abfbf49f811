/* vigild.conf: a strict "key = value" parser; every key is one of vigild's long options. */
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum key_type {
	K_PATH,         /* an absolute path */
	K_PATH_OR_DASH, /* an absolute path or "-" (stdout) */
	K_PATH_OR_NONE, /* an absolute path or "none" */
	K_WORD,         /* printable, no blanks: a TCTI string */
	K_PLATFORM,     /* auto, none, tdx, snp */
	K_PCR,          /* 0..23 */
	K_RINGBUF,      /* a power of two in [4096, 1 GiB] */
	K_BOOL,         /* true, false, yes, no, 1, 0 */
	K_AUDIT,        /* audit_options_parse() */
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t off; /* into struct agent_options; SIZE_MAX for verbose */
	const char *help;
};

#define OPT(f) offsetof(struct agent_options, f)

static const struct key_def keys[] = {
    {"bundle", K_PATH, OPT(bundle_path), "signed policy bundle to enforce (none: run idle)"},
    {"trust-dir", K_PATH, OPT(trust_dir), "public keys allowed to sign bundles"},
    {"policy", K_PATH, OPT(policy_path), "unsigned policy JSON: development only"},
    {"dev-unsigned", K_BOOL, OPT(dev_unsigned), "control socket takes unsigned policies (dev)"},
    {"measure-log", K_PATH, OPT(measure_log), "runtime measurement log"},
    {"tcti", K_WORD, OPT(tcti), "vTPM: auto, none or a tctildr string"},
    {"pcr", K_PCR, OPT(pcr), "PCR to extend (0-23)"},
    {"platform", K_PLATFORM, OPT(platform), "auto, none, tdx or snp"},
    {"tdx-rtmr", K_PATH, OPT(tdx_rtmr), "RTMR3 sysfs file"},
    {"state", K_PATH, OPT(state_path), "rollback marks without a TPM"},
    {"control-socket", K_PATH, OPT(control_socket), "control socket path"},
    {"event-log", K_PATH_OR_DASH, OPT(event_log_path), "decision log (- for stdout)"},
    {"ready-file", K_PATH, OPT(ready_file), "file created once the policy is enforcing"},
    {"root", K_PATH, OPT(root), "resolve policy paths under this directory"},
    {"cgroup-root", K_PATH, OPT(cgroup_root), "cgroup2 mount"},
    {"ringbuf-size", K_RINGBUF, OPT(ringbuf_size), "ring buffer bytes (power of two)"},
    {"pin-dir", K_PATH, OPT(pin_dir), "bpffs directory of the pinned programs and maps"},
    {"audit-dir", K_PATH_OR_NONE, OPT(audit_dir), "hash-chained audit log (none: off)"},
    {"state-dir", K_PATH, OPT(state_dir), "vigil's state (checkpoint key)"},
    {"audit", K_AUDIT, OPT(audit_spec), "audit tuning: fsync=N,checkpoint=N,..."},
    {"otlp", K_WORD, OPT(otlp_spec), "OTLP export: endpoint=URL,... (docs/OBSERVABILITY.md)"},
    {"kbs-url", K_WORD, OPT(kbs_url), "key broker for the policy's keys.release"},
    {"kbs-cafile", K_PATH, OPT(kbs_cafile), "CA file for the key broker's TLS"},
    {"kbs-enroll", K_BOOL, OPT(kbs_enroll), "prove the AK's EK to the broker before attesting"},
    {"verbose", K_BOOL, SIZE_MAX, "debug output"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void agent_config_print_keys(FILE *f)
{
	for (size_t i = 0; i < N_KEYS; i++)
		fprintf(f, "  %-15s %s\n", keys[i].name, keys[i].help);
}

const char *agent_config_path(int argc, char **argv, bool *ret_explicit)
{
	const char *path = AGENT_CONFIG_DEFAULT;
	bool explicit = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
			explicit = true;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
			explicit = true;
		}
	}
	*ret_explicit = explicit;
	return path;
}

static int fail(char *err, size_t size, const char *path, unsigned line, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(char *err, size_t size, const char *path, unsigned line, const char *key,
                const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(err, size, "%s:%u: key '%s': %s", path, line, key, what);
	else
		snprintf(err, size, "%s:%u: %s", path, line, what);
	return -EINVAL;
}

static bool parse_bool(const char *v, bool *ret)
{
	static const char *yes[] = {"true", "yes", "1"}, *no[] = {"false", "no", "0"};

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(v, yes[i]) == 0)
			return *ret = true, true;
		if (strcmp(v, no[i]) == 0)
			return *ret = false, true;
	}
	return false;
}

static bool parse_ulong(const char *v, unsigned long *ret)
{
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*ret = strtoul(v, &end, 0);
	return !*end && !errno;
}

/* Checks v for key k; writes the parsed value into the staged options. Returns NULL or why. */
static const char *set_value(const struct key_def *k, char *v, struct agent_options *o,
                             bool *verbose)
{
	unsigned long n;
	bool b;

	switch (k->type) {
	case K_PATH_OR_DASH:
		if (strcmp(v, "-") == 0)
			break;
		/* fall through */
	case K_PATH_OR_NONE:
		if (k->type == K_PATH_OR_NONE && strcmp(v, "none") == 0)
			break;
		/* fall through */
	case K_PATH:
		if (v[0] != '/')
			return k->type == K_PATH           ? "expected an absolute path"
			       : k->type == K_PATH_OR_DASH ? "expected an absolute path or -"
			                                   : "expected an absolute path or none";
		if (strlen(v) >= 4096)
			return "path longer than 4095 bytes";
		break;
	case K_WORD:
		if (strpbrk(v, " \t"))
			return "blanks are not allowed in this value";
		break;
	case K_PLATFORM:
		if (strcmp(v, "auto") && strcmp(v, "none") && strcmp(v, "tdx") && strcmp(v, "snp"))
			return "expected auto, none, tdx or snp";
		break;
	case K_PCR:
		if (!parse_ulong(v, &n) || n > 23)
			return "expected a PCR number from 0 to 23";
		o->pcr = (unsigned int)n;
		return NULL;
	case K_RINGBUF:
		if (!parse_ulong(v, &n) || n < 4096 || n > (1ul << 30) || (n & (n - 1)))
			return "expected a power of two between 4096 and 1073741824";
		o->ringbuf_size = (uint32_t)n;
		return NULL;
	case K_BOOL:
		if (!parse_bool(v, &b))
			return "expected true or false";
		if (k->off == SIZE_MAX)
			*verbose = b;
		else
			*(bool *)((char *)o + k->off) = b;
		return NULL;
	case K_AUDIT: {
		static char why[200];
		struct audit_options ao;

		audit_options_defaults(&ao);
		if (audit_options_parse(&ao, v, why, sizeof(why)) < 0)
			return why;
		break;
	}
	}
	*(const char **)((char *)o + k->off) = v;
	return NULL;
}

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Blank-trims [s, e) in place; returns the start, NUL-terminates. */
static char *trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = 0;
	return s;
}

int agent_config_parse(const char *path, const char *text, size_t len, struct agent_options *opt,
                       struct agent_config *cfg, char *err, size_t err_size)
{
	unsigned set_on[N_KEYS] = {0};
	struct agent_options staged = *opt;
	bool verbose = cfg->verbose;
	unsigned line = 0;
	char *buf, *p, *end;
	int r = 0;

	if (len > AGENT_CONFIG_MAX_SIZE)
		return fail(err, err_size, path, 0, NULL, "larger than %u bytes",
		            AGENT_CONFIG_MAX_SIZE);
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = 0;
	for (p = buf, end = buf + len; p < end && r == 0;) {
		char *nl = memchr(p, '\n', (size_t)(end - p)) ?: end, *eq, *key, *val, *c;
		const struct key_def *k;
		const char *why;

		line++;
		for (c = p; c < nl; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				r = fail(err, err_size, path, line, NULL,
				         "control character 0x%02x (only tab is allowed)",
				         (unsigned char)*c);
				break;
			} else if (*c == 0x7f) {
				r = fail(err, err_size, path, line, NULL, "control character 0x7f");
				break;
			}
		if (r)
			break;
		key = trim(p, nl);
		p = nl + 1;
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			r = fail(err, err_size, path, line, NULL,
			         "expected 'key = value' or a '#' comment");
			break;
		}
		val = trim(eq + 1, eq + strlen(eq));
		key = trim(key, eq);
		k = find_key(key);
		if (!k) {
			r = fail(err, err_size, path, line, key,
			         "unknown key (see vigild(8), CONFIGURATION)");
			break;
		}
		if (set_on[k - keys]) {
			r = fail(err, err_size, path, line, key, "set twice (first on line %u)",
			         set_on[k - keys]);
			break;
		}
		set_on[k - keys] = line;
		if (!*val) {
			r = fail(err, err_size, path, line, key,
			         "empty value (comment the line out to keep the default)");
			break;
		}
		why = set_value(k, val, &staged, &verbose);
		if (why)
			r = fail(err, err_size, path, line, key, "'%.100s': %s", val, why);
	}
	if (r == 0 && set_on[find_key("bundle") - keys] && set_on[find_key("policy") - keys])
		r = fail(err, err_size, path, set_on[find_key("policy") - keys], "policy",
		         "bundle and policy are both set (line %u); keep one",
		         set_on[find_key("bundle") - keys]);
	if (r) {
		free(buf);
		return r;
	}
	/* All or nothing: the file is applied only once every line passed. */
	*opt = staged;
	free(cfg->text);
	cfg->text = buf;
	cfg->verbose = verbose;
	cfg->has_file = true;
	return 0;
}

void agent_options_defaults(struct agent_options *opt)
{
	*opt = (struct agent_options){.event_log_path = "/var/log/vigil/events.jsonl",
	                              .root = "",
	                              .cgroup_root = "/sys/fs/cgroup",
	                              .pin_dir = "/sys/fs/bpf/vigil",
	                              .control_socket = VIGIL_CONTROL_SOCKET,
	                              .audit_dir = "/var/log/vigil",
	                              .state_dir = "/var/lib/vigil"};
}

int agent_config_load(const char *path, bool must_exist, struct agent_options *opt,
                      struct agent_config *cfg, char *err, size_t err_size)
{
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return 0;
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "%s: not a regular file", path);
		return -EINVAL;
	}
	buf = malloc(AGENT_CONFIG_MAX_SIZE + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, AGENT_CONFIG_MAX_SIZE + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > AGENT_CONFIG_MAX_SIZE)
			break;
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		snprintf(err, err_size, "%s: cannot read: %s", path, strerror(-r));
	else
		r = agent_config_parse(path, buf, len, opt, cfg, err, err_size);
	free(buf);
	return r;
}

void agent_config_free(struct agent_config *cfg)
{
	free(cfg->text);
	cfg->text = NULL;
}
