/* vigil policy test and explain: offline decisions of a policy (policies/evaluate.c). */
#include "tools/vigil.h"
#include "tools/vigil-author.h"
#include "policies/cases.h"
#include "policies/evaluate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Messages name paths of up to PATH_MAX; a longer one is cut. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *rule_or_none(const char *name)
{
	return name ? name : "(none)";
}

static bool case_passes(const struct policy_case *c, const struct policy_verdict *v)
{
	if (v->verdict != c->expect)
		return false;
	if (c->has_rule &&
	    (c->rule ? !v->rule_name || strcmp(c->rule, v->rule_name) != 0 : v->rule_name != NULL))
		return false;
	return !c->reason || strcmp(c->reason, v->reason) == 0;
}

int do_policy_test(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'R'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] = "usage: vigil policy test [--root DIR] [-v] POLICY CASES...\n";
	struct policy_error err = {0};
	struct policy_eval *ev = NULL;
	struct policy *p = NULL;
	const char *root = NULL;
	size_t total = 0, failed = 0, *counts = NULL;
	struct policy_case **files = NULL;
	bool verbose = false;
	int c, i, rc = VIGIL_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			root = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			printf("%s", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "%s", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "%s", usage);
		return VIGIL_EXIT_USAGE;
	}
	if (policy_load_file(argv[optind], &p, &err) < 0 ||
	    policy_eval_new(p, root, &ev, &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		policy_free(p);
		return VIGIL_EXIT_INVALID;
	}
	/* Every case file is read before any is run: a bad one reports nothing else. */
	files = calloc((size_t)argc, sizeof(*files));
	counts = calloc((size_t)argc, sizeof(*counts));
	if (!files || !counts) {
		rc = VIGIL_EXIT_FAIL;
		goto out;
	}
	for (i = optind + 1; i < argc; i++)
		if (policy_cases_load(argv[i], &files[i], &counts[i], &err) < 0) {
			fprintf(stderr, "vigil: %s\n", err.msg);
			rc = VIGIL_EXIT_INVALID;
			goto out;
		}
	for (i = optind + 1; i < argc; i++) {
		struct policy_case *cases = files[i];
		size_t k;

		for (k = 0; k < counts[i]; k++) {
			struct policy_verdict v;
			bool ok;

			policy_eval_decide(ev, &cases[k].access, &v);
			ok = case_passes(&cases[k], &v);
			total++;
			failed += !ok;
			printf("%-4s %s:%u %s%s%s: %s, rule %s, reason %s", ok ? "ok" : "FAIL",
			       argv[i], cases[k].line, cases[k].name ? cases[k].name : "",
			       cases[k].name ? ": " : "", cases[k].text,
			       policy_eval_verdict_name(v.verdict), rule_or_none(v.rule_name),
			       v.reason);
			if (!ok)
				printf(" (expected %s%s%s%s%s)",
				       policy_eval_verdict_name(cases[k].expect),
				       cases[k].has_rule ? ", rule " : "",
				       cases[k].has_rule ? rule_or_none(cases[k].rule) : "",
				       cases[k].reason ? ", reason " : "",
				       cases[k].reason ? cases[k].reason : "");
			printf("\n");
			if (!ok || verbose)
				printf("     why: %s\n", v.why);
		}
	}
	printf("policy '%s' serial %llu: %zu cases, %zu passed, %zu failed\n", p->name,
	       (unsigned long long)p->serial, total, total - failed, failed);
	rc = failed ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
out:
	for (i = 0; files && i < argc; i++)
		policy_cases_free(files[i], counts[i]);
	free(files);
	free(counts);
	policy_eval_free(ev);
	policy_free(p);
	return rc;
}

/* The "e" member of audit record n in dir's audit.*.jsonl files (a new reference), or NULL. */
static json_t *audit_record(const char *dir, unsigned long long n, char *msg, size_t msg_len)
{
	struct dirent **names = NULL;
	json_t *found = NULL;
	char prefix[48], path[4096];
	int count, i;

	count = scandir(dir, &names, NULL, alphasort);
	if (count < 0) {
		snprintf(msg, msg_len, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	snprintf(prefix, sizeof(prefix), "{\"n\":%llu,", n);
	snprintf(msg, msg_len, "%s: no audit record %llu", dir, n);
	for (i = 0; i < count; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		char *line = NULL;
		size_t cap = 0;
		FILE *f;

		if (found || strncmp(name, "audit.", 6) != 0 || len < 7 ||
		    strcmp(name + len - 6, ".jsonl") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		f = fopen(path, "re");
		if (!f) {
			snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
			break;
		}
		while (!found && getline(&line, &cap, f) >= 0) {
			json_error_t je;
			json_t *rec;

			if (strncmp(line, prefix, strlen(prefix)) != 0)
				continue;
			rec = json_loads(line, 0, &je);
			if (!rec || !json_is_object(json_object_get(rec, "e")))
				snprintf(msg, msg_len,
				         "%s: record %llu is a '%s' record, not a decision", path,
				         n,
				         rec ? json_string_value(json_object_get(rec, "k")) ?: "?"
				             : "unreadable");
			else if (strcmp(json_string_value(json_object_get(rec, "k")) ?: "",
			                "event"))
				snprintf(msg, msg_len,
				         "%s: record %llu is a '%s' record, not a decision", path,
				         n, json_string_value(json_object_get(rec, "k")));
			else
				found = json_incref(json_object_get(rec, "e"));
			json_decref(rec);
			break;
		}
		free(line);
		fclose(f);
		if (strstr(msg, "not a decision"))
			break;
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return found;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Fills the access an event reports; false (with why) when it names no offline access. */
static bool access_of_event(const json_t *e, struct policy_access *a, char *why, size_t len)
{
	const char *type = jstr(e, "type") ?: "", *path = jstr(e, "path") ?: "";
	int k;

	memset(a, 0, sizeof(*a));
	if (!strcmp(type, "exec") || !strcmp(type, "mmap_exec") || !strcmp(type, "mprotect_exec")) {
		a->kind = POLICY_EVAL_EXEC;
		a->path = path;
		a->fileless = !strcmp(jstr(e, "reason") ?: "", "fileless");
		if (!a->fileless && path[0] != '/') {
			snprintf(why, len,
			         "the event carries no path (the kernel gives none to %s)", type);
			return false;
		}
		return true;
	}
	if (!strcmp(type, "file")) {
		k = policy_file_access_from_name(jstr(e, "access"));
		a->kind = POLICY_EVAL_FILE;
		a->path = path;
		a->access = (unsigned int)k;
		if (k < 0 || path[0] != '/') {
			snprintf(why, len,
			         "the event names only the last component '%s' (a path_* "
			         "hook): its directory is known by identity only",
			         path);
			return false;
		}
		return true;
	}
	if (!strcmp(type, "network")) {
		const char *addr = jstr(e, "network.peer.address"),
		           *tr = jstr(e, "network.transport");

		k = policy_net_op_from_name(jstr(e, "op"));
		if (k < 0 || !addr || !tr || (strcmp(tr, "tcp") && strcmp(tr, "udp"))) {
			snprintf(why, len,
			         "a socket refused by its kind (raw, packet, ping, or a "
			         "transport or family the rules do not name): decided by the "
			         "section's raw setting or default");
			return false;
		}
		a->kind = POLICY_EVAL_NET;
		a->access = (unsigned int)k;
		a->proto = !strcmp(tr, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
		a->port = (uint16_t)json_integer_value(json_object_get(e, "network.peer.port"));
		if (policy_net_addr(addr, (unsigned int)k, &a->family, a->addr) < 0) {
			snprintf(why, len, "'%s' is not an address", addr);
			return false;
		}
		return true;
	}
	if (!strcmp(type, "key")) {
		k = policy_key_perm_from_name(jstr(e, "perm"));
		if (k < 0 || !jstr(e, "key")) {
			snprintf(why, len,
			         "a trace of a key-grant holder: refused whatever the rules");
			return false;
		}
		a->kind = POLICY_EVAL_KEY;
		a->access = (unsigned int)k;
		a->key = jstr(e, "key");
		a->uid = (uint32_t)json_integer_value(json_object_get(e, "uid"));
		return true;
	}
	snprintf(why, len, "a '%s' event is not decided by the policy's rules", type);
	return false;
}

/* The rule of a section, described as the policy states it. */
static void print_rule(const struct policy *p, const char *section, long i)
{
	char hex[2 * POLICY_SHA256_LEN + 1];
	unsigned int a;

	if (i < 0)
		return;
	if (!strcmp(section, "exec.allow")) {
		policy_hex(p->exec[i].sha256, POLICY_SHA256_LEN, hex);
		printf("rule:     exec.allow[%ld] '%s': path %s, sha256 %s%s\n", i, p->exec[i].name,
		       p->exec[i].path, hex, p->exec[i].audit ? ", mode audit" : "");
	} else if (!strcmp(section, "files.rules")) {
		printf("rule:     files.rules[%ld] '%s': path %s, action %s, access", i,
		       p->files[i].name, p->files[i].path,
		       p->files[i].action == POLICY_ACT_DENY    ? "deny"
		       : p->files[i].action == POLICY_ACT_AUDIT ? "audit"
		                                                : "allow");
		for (a = 0; a < POLICY_FA_COUNT; a++)
			if (p->files[i].access & (1u << a))
				printf(" %s", policy_file_access_name(a));
		printf("\n");
	} else if (!strcmp(section, "network.rules")) {
		const struct policy_net_rule *r = &p->net[i];

		printf("rule:     network.rules[%ld] '%s': prefix /%u (IPv%u), ports %u-%u, %s, "
		       "action %s\n",
		       i, r->name, r->prefix, r->family, r->port_lo, r->port_hi,
		       r->proto == IPPROTO_TCP   ? "tcp"
		       : r->proto == IPPROTO_UDP ? "udp"
		                                 : "any protocol",
		       r->action == POLICY_ACT_DENY    ? "deny"
		       : r->action == POLICY_ACT_AUDIT ? "audit"
		                                       : "allow");
	} else if (!strcmp(section, "keys.rules")) {
		printf("rule:     keys.rules[%ld] '%s': key '%s'%s%s\n", i, p->keys[i].name,
		       p->keys[i].key, p->keys[i].exe_path ? ", exe " : "",
		       p->keys[i].exe_path ? p->keys[i].exe_path : "");
	}
}

/* nftw has no context argument: the cgroup id sought and the path found. */
static uint64_t cg_want;
static char cg_found[PATH_MAX];

static int cg_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_D || (uint64_t)st->st_ino != cg_want)
		return 0;
	snprintf(cg_found, sizeof(cg_found), "%s", path);
	return 1;
}

/*
 * Who asked for a key, from the event: the key event names the acting executable by identity
 * (dev, ino) and the task's cgroup by id. The executable is the file of a key rule naming this
 * key whose identity is the event's (under root), with its digest now; the cgroup is the
 * directory of cgfs whose inode number is the id (cgroup v2). Both are found only where the
 * event was made (or under a copy of its root): what is not found is an executable or cgroup
 * no rule names, and the output says so.
 */
static void key_subject(const struct policy *p, const json_t *e, struct policy_access *a,
                        const char *root, const char *cgfs, char *cg, size_t cg_len)
{
	const char *dev = jstr(e, "dev");
	json_int_t ino = json_integer_value(json_object_get(e, "ino"));
	json_int_t cgid = json_integer_value(json_object_get(e, "cgroup_id"));
	unsigned int maj, min;
	char full[PATH_MAX + 256];
	size_t i;

	a->exe = NULL;
	a->cgroup = NULL;
	for (i = 0; dev && ino > 0 && sscanf(dev, "%u:%u", &maj, &min) == 2 && i < p->n_keys; i++) {
		const struct policy_key_rule *r = &p->keys[i];
		struct stat st;
		int fd;

		if (!r->exe_path || strcmp(r->key, a->key) != 0)
			continue;
		snprintf(full, sizeof(full), "%s%s", root, r->exe_path);
		fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && major(st.st_dev) == maj && minor(st.st_dev) == min &&
		    st.st_ino == (ino_t)ino && policy_sha256_fd(fd, a->exe_sha256) == 0) {
			a->exe = r->exe_path;
			a->has_exe_sha256 = true;
		}
		close(fd);
		if (a->exe)
			break;
	}
	if (a->exe)
		printf("asked by: %s (the event's dev %s ino %lld; its digest now)\n", a->exe, dev,
		       (long long)ino);
	else
		printf("asked by: dev %s ino %lld: no executable a key rule names (under '%s/')\n",
		       dev ? dev : "?", (long long)ino, root);
	cg_want = (uint64_t)cgid;
	cg_found[0] = 0;
	if (cgid > 0 && nftw(cgfs, cg_visit, 16, FTW_PHYS) == 1) {
		size_t n = strlen(cgfs);

		while (n > 1 && cgfs[n - 1] == '/')
			n--;
		snprintf(cg, cg_len, "%s", cg_found[n] ? cg_found + n : "/");
		a->cgroup = cg;
		printf("cgroup:   %s (id %lld)\n", cg, (long long)cgid);
	} else {
		printf("cgroup:   id %lld: not under %s (explain where the event was made): "
		       "a cgroup no rule names\n",
		       (long long)cgid, cgfs);
	}
}

int do_policy_explain(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"audit-dir", required_argument, NULL, 'A'},
	    {"record", required_argument, NULL, 'n'},
	    {"root", required_argument, NULL, 'R'},
	    {"cgroup-fs", required_argument, NULL, 'G'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] =
	    "usage: vigil policy explain [--root DIR] [--cgroup-fs DIR] POLICY EVENT_JSON|-\n"
	    "       vigil policy explain [...] POLICY --audit-dir DIR --record N\n";
	struct policy_error err = {0};
	struct policy_eval *ev = NULL;
	struct policy *p = NULL;
	struct policy_access a;
	struct policy_verdict v;
	const char *dir = NULL, *type, *rule, *root = "", *cgfs = "/sys/fs/cgroup";
	unsigned long long record = 0;
	char msg[1024] = "", why[256], cg[PATH_MAX];
	json_error_t je;
	json_t *e = NULL;
	char *end;
	int c, rc = VIGIL_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			dir = optarg;
			break;
		case 'R':
			root = optarg;
			break;
		case 'G':
			cgfs = optarg;
			break;
		case 'n':
			errno = 0;
			record = strtoull(optarg, &end, 10);
			if (errno || *end || !record) {
				fprintf(stderr, "vigil: --record: '%s' is not a record number\n",
				        optarg);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "%s", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (argc - optind != (dir ? 1 : 2) || !dir != !record) {
		fprintf(stderr, "%s", usage);
		return VIGIL_EXIT_USAGE;
	}
	if (dir) {
		e = audit_record(dir, record, msg, sizeof(msg));
	} else if (!strcmp(argv[optind + 1], "-")) {
		e = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
		snprintf(msg, sizeof(msg), "stdin:%d: %s", je.line, je.text);
	} else {
		e = json_loads(argv[optind + 1], 0, &je);
		snprintf(msg, sizeof(msg), "event:%d:%d: %s", je.line, je.column, je.text);
	}
	if (!json_is_object(e) || !jstr(e, "type") || !jstr(e, "verdict")) {
		fprintf(stderr, "vigil: %s\n",
		        e ? "the event has no type or verdict: not a decision event" : msg);
		json_decref(e);
		return VIGIL_EXIT_INVALID;
	}
	if (policy_load_file(argv[optind], &p, &err) < 0 ||
	    policy_eval_new(p, NULL, &ev, &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		rc = VIGIL_EXIT_INVALID;
		goto out;
	}
	type = jstr(e, "type");
	rule = jstr(e, "rule");
	printf("event:    %s %s%s%s by pid %lld (%s) uid %lld: %s, reason %s, errno %lld\n", type,
	       jstr(e, "access") ?: jstr(e, "op") ?: jstr(e, "perm") ?: "",
	       (jstr(e, "access") || jstr(e, "op") || jstr(e, "perm")) ? " " : "",
	       jstr(e, "network.peer.address") ?: jstr(e, "key") ?: jstr(e, "path") ?: "",
	       json_integer_value(json_object_get(e, "pid")), jstr(e, "comm") ?: "?",
	       json_integer_value(json_object_get(e, "uid")), jstr(e, "verdict"),
	       jstr(e, "reason") ?: "?", json_integer_value(json_object_get(e, "errno")));
	printf("decided:  policy '%s' serial %lld, generation %lld, rule %s\n",
	       jstr(e, "policy") ?: "?", json_integer_value(json_object_get(e, "policy_serial")),
	       json_integer_value(json_object_get(e, "generation")), rule ? rule : "(none)");
	if ((unsigned long long)json_integer_value(json_object_get(e, "policy_serial")) !=
	        p->serial ||
	    strcmp(jstr(e, "policy") ?: "", p->name)) {
		printf("note:     %s is policy '%s' serial %llu, not the one that decided: the "
		       "explanation below is what it would decide\n",
		       argv[optind], p->name, (unsigned long long)p->serial);
		rc = VIGIL_EXIT_FAIL;
	}
	if (!access_of_event(e, &a, why, sizeof(why))) {
		printf("why:      not evaluated offline: %s\n", why);
		goto out;
	}
	if (a.kind == POLICY_EVAL_KEY)
		key_subject(p, e, &a, root, cgfs, cg, sizeof(cg));
	policy_eval_decide(ev, &a, &v);
	print_rule(p, v.section, v.rule);
	printf("why:      %s\n", v.why);
	if (strcmp(policy_eval_verdict_name(v.verdict), jstr(e, "verdict")) ||
	    (v.rule_name ? !rule || strcmp(rule, v.rule_name) : rule != NULL)) {
		printf("offline:  %s, rule %s: DIFFERS from the event\n",
		       policy_eval_verdict_name(v.verdict), rule_or_none(v.rule_name));
		rc = VIGIL_EXIT_FAIL;
	} else {
		printf("offline:  %s, rule %s: agrees with the event\n",
		       policy_eval_verdict_name(v.verdict), rule_or_none(v.rule_name));
	}
out:
	json_decref(e);
	policy_eval_free(ev);
	policy_free(p);
	return rc;
}

/* The access an event reports, as `vigil policy test` prints a case's. */
static void access_text(const struct policy_access *a, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	switch (a->kind) {
	case POLICY_EVAL_EXEC:
		snprintf(buf, len, "exec %s", a->path);
		break;
	case POLICY_EVAL_FILE:
		snprintf(buf, len, "%s %s", policy_file_access_name(a->access), a->path);
		break;
	case POLICY_EVAL_NET:
		inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, addr, sizeof(addr));
		snprintf(buf, len, "%s %s %s%s%s:%u", policy_net_op_name(a->access),
		         a->proto == IPPROTO_TCP ? "tcp" : "udp", a->family == 6 ? "[" : "", addr,
		         a->family == 6 ? "]" : "", a->port);
		break;
	default:
		snprintf(buf, len, "%s key %s uid %u", policy_key_perm_name(a->access), a->key,
		         a->uid);
		break;
	}
}

struct diff_ctx {
	const struct policy_eval *a, *b;
	void *seen; /* tsearch tree of the accesses already compared, by text */
	size_t compared, changed;
};

/* Compares one access under both policies; prints it when its decision changes. */
static int diff_one(struct diff_ctx *d, const struct policy_access *a, const char *text,
                    const char *where)
{
	struct policy_verdict va, vb;
	char *key = strdup(text), **node;

	if (!key)
		return -ENOMEM;
	node = tsearch(key, &d->seen, (int (*)(const void *, const void *))strcmp);
	if (!node) {
		free(key);
		return -ENOMEM;
	}
	if (*node != key) {
		free(key);
		return 0; /* a log repeats accesses: each is compared once */
	}
	policy_eval_decide(d->a, a, &va);
	policy_eval_decide(d->b, a, &vb);
	d->compared++;
	if (va.verdict == vb.verdict &&
	    !strcmp(va.rule_name ? va.rule_name : "", vb.rule_name ? vb.rule_name : ""))
		return 0;
	d->changed++;
	printf("%c %s (%s): %s (rule %s, %s) -> %s (rule %s, %s)\n",
	       va.verdict == vb.verdict   ? '~'
	       : vb.verdict == VIGIL_DENY ? '-'
	       : va.verdict == VIGIL_DENY ? '+'
	                                  : '~',
	       text, where, policy_eval_verdict_name(va.verdict), rule_or_none(va.rule_name),
	       va.reason, policy_eval_verdict_name(vb.verdict), rule_or_none(vb.rule_name),
	       vb.reason);
	return 0;
}

/* Every decided access of an event or audit log; a line that is no JSON object is an error. */
static int diff_log(struct diff_ctx *d, const char *path, struct policy_error *err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, where[PATH_MAX + 32], text[PATH_MAX + 64], why[256];
	size_t cap = 0;
	unsigned int n = 0;
	int r = 0;

	if (!f)
		return policy_errorf(err, -errno, "%s: %s", path, strerror(errno));
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		struct policy_access a;
		json_error_t je;
		json_t *o, *e;

		n++;
		if (line[strspn(line, " \t\r\n")] == 0)
			continue;
		o = json_loads(line, 0, &je);
		if (!json_is_object(o)) {
			r = policy_errorf(err, -EINVAL,
			                  "%s:%u: not a JSON event or audit record (%s)", path, n,
			                  o ? "not an object" : je.text);
			json_decref(o);
			break;
		}
		e = json_object_get(o, "k") ? json_object_get(o, "e") : o;
		if (json_is_object(e) && access_of_event(e, &a, why, sizeof(why))) {
			snprintf(where, sizeof(where), "%s:%u", path, n);
			access_text(&a, text, sizeof(text));
			r = diff_one(d, &a, text, where);
			if (r == -ENOMEM)
				policy_errorf(err, r, "out of memory");
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	return r;
}

int policy_diff_decisions(const char *path_a, const struct policy *pa, const char *path_b,
                          const struct policy *pb, const char *root, char *const *cases,
                          size_t n_cases, char *const *logs, size_t n_logs)
{
	struct diff_ctx d = {0};
	struct policy_eval *ea = NULL, *eb = NULL;
	struct policy_error err = {0};
	struct policy_case *cs = NULL;
	size_t n = 0, i, k;
	int r = 0, rc = VIGIL_EXIT_INVALID;

	if (policy_eval_new(pa, root, &ea, &err) < 0 || policy_eval_new(pb, root, &eb, &err) < 0)
		goto fail;
	d.a = ea;
	d.b = eb;
	/* Every case file is read before anything is printed: a bad one reports nothing else. */
	for (i = 0; i < n_cases; i++) {
		if (policy_cases_load(cases[i], &cs, &n, &err) < 0)
			goto fail;
		policy_cases_free(cs, n);
		cs = NULL;
	}
	printf("--- %s (policy '%s' serial %llu)\n+++ %s (policy '%s' serial %llu)\n", path_a,
	       pa->name, (unsigned long long)pa->serial, path_b, pb->name,
	       (unsigned long long)pb->serial);
	for (i = 0; r == 0 && i < n_cases; i++) {
		if ((r = policy_cases_load(cases[i], &cs, &n, &err)) < 0)
			break;
		for (k = 0; r == 0 && k < n; k++) {
			char where[PATH_MAX + 32];

			snprintf(where, sizeof(where), "%s:%u", cases[i], cs[k].line);
			r = diff_one(&d, &cs[k].access, cs[k].text, where);
			if (r == -ENOMEM)
				policy_errorf(&err, r, "out of memory");
		}
		policy_cases_free(cs, n);
		cs = NULL;
	}
	for (i = 0; r == 0 && i < n_logs; i++)
		r = diff_log(&d, logs[i], &err);
	if (r < 0) {
		rc = r == -ENOMEM ? VIGIL_EXIT_FAIL : VIGIL_EXIT_INVALID;
		goto fail;
	}
	printf("%zu accesses compared, %zu decided differently\n", d.compared, d.changed);
	rc = d.changed ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "vigil: %s\n", err.msg);
out:
	tdestroy(d.seen, free);
	policy_eval_free(ea);
	policy_eval_free(eb);
	return rc;
}
