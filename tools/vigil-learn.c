/*
 * vigil policy learn and diff: a least-privilege policy from what a learning run's event or
 * audit log shows, and what one policy allows that another does not.
 */
#include "tools/vigil.h"
#include "tools/vigil-author.h"
#include "tools/vigil-sys.h"
#include "policies/evaluate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Messages name paths of up to PATH_MAX; a longer one is cut. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define LEARN_NAME_MAX POLICY_NAME_MAX

/* One distinct thing the run did: a path, a destination or a key, and how. */
struct seen {
	char *key;     /* path; "ADDR\tTRANSPORT\tPORT"; key description */
	uint32_t mask; /* access kinds, operations or permissions */
	char *exe;     /* keys: the executable that asked, or NULL */
	uint32_t uid;  /* keys */
	size_t count;  /* files: in a directory, how many the run saw (not compared) */
	bool gone;     /* files: one of them no longer exists */
};

struct seen_set {
	struct seen *v;
	size_t n, cap;
};

struct learn {
	struct seen_set exec, files, net, keys;
	struct seen_set names; /* last components of the path_* hooks' events, and how */
	size_t events, skipped_names, lost, dropped;
	bool raw;
	json_t *exe_of_pid; /* pid -> executable path, from exec events */
};

static int seen_add(struct seen_set *set, const char *key, uint32_t mask, const char *exe,
                    uint32_t uid)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].key, key) && set->v[i].uid == uid &&
		    !strcmp(set->v[i].exe ?: "", exe ?: "")) {
			set->v[i].mask |= mask;
			return 0;
		}
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		struct seen *grown = realloc(set->v, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		set->v = grown;
		set->cap = cap;
	}
	set->v[set->n] = (struct seen){.key = strdup(key), .mask = mask, .uid = uid};
	if (exe)
		set->v[set->n].exe = strdup(exe);
	if (!set->v[set->n].key || (exe && !set->v[set->n].exe)) {
		free(set->v[set->n].key);
		free(set->v[set->n].exe);
		return -ENOMEM;
	}
	set->n++;
	return 0;
}

static void seen_free(struct seen_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].key);
		free(set->v[i].exe);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}

static int cmp_seen(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	c = strcmp(x->exe ?: "", y->exe ?: "");
	return c ? c : (x->uid > y->uid) - (x->uid < y->uid);
}

static void seen_sort(struct seen_set *set)
{
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), cmp_seen);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* One decision event of the learning run. */
/* "dev ino" of an event, a key of exe_of_pid no pid can equal. */
static void exe_key(const json_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s %lld", jstr(e, "dev") ?: "",
	         json_integer_value(json_object_get(e, "ino")));
}

static int learn_event(struct learn *l, const json_t *e)
{
	const char *type = jstr(e, "type"), *path = jstr(e, "path") ?: "", *op = jstr(e, "op");
	char pid[24], key[128];
	int k;

	if (!type)
		return 0;
	snprintf(pid, sizeof(pid), "%lld", json_integer_value(json_object_get(e, "pid")));
	if (!strcmp(type, "exec") || !strcmp(type, "mmap_exec") || !strcmp(type, "mprotect_exec")) {
		l->events++;
		if (path[0] != '/')
			return 0; /* mprotect: the kernel gives no path; the mapping was seen */
		if (!strcmp(type, "exec")) {
			json_object_set_new(l->exe_of_pid, pid, json_string(path));
			exe_key(e, key, sizeof(key));
			json_object_set_new(l->exe_of_pid, key, json_string(path));
		}
		return seen_add(&l->exec, path, 0, NULL, 0);
	}
	if (!strcmp(type, "file")) {
		l->events++;
		k = policy_file_access_from_name(jstr(e, "access"));
		if (k < 0)
			return 0;
		if (path[0] != '/') {
			l->skipped_names++; /* a path_* hook: the last component only */
			return seen_add(&l->names, path, 1u << k, NULL, 0);
		}
		return seen_add(&l->files, path, 1u << k, NULL, 0);
	}
	if (!strcmp(type, "network")) {
		const char *addr = jstr(e, "network.peer.address"),
		           *tr = jstr(e, "network.transport");
		char norm[INET6_ADDRSTRLEN];
		uint8_t fam, bin[16];

		l->events++;
		/* A socket refused by its kind carries no address (op create: older vigil). */
		if ((op && !strcmp(op, "create")) || !addr) {
			l->raw |= !strcmp(jstr(e, "reason") ?: "", "raw_socket");
			return 0;
		}
		k = policy_net_op_from_name(op);
		if (k < 0 || !addr || !tr)
			return 0;
		/* As the kernel reports it: an IPv4-mapped IPv6 address is IPv4. */
		if (policy_net_addr(addr, VIGIL_NET_BIND, &fam, bin) == 0)
			inet_ntop(fam == 4 ? AF_INET : AF_INET6, bin, norm, sizeof(norm));
		else
			snprintf(norm, sizeof(norm), "%s", addr);
		snprintf(key, sizeof(key), "%s\t%s\t%lld", norm, tr,
		         json_integer_value(json_object_get(e, "network.peer.port")));
		return seen_add(&l->net, key, 1u << k, NULL, 0);
	}
	if (!strcmp(type, "key")) {
		l->events++;
		k = policy_key_perm_from_name(jstr(e, "perm"));
		if (k < 0 || !jstr(e, "key"))
			return 0;
		/* The executable's identity (dev, ino) first: learning mode logs one exec of each
		 * program per caller, so this pid's own exec may not be in the log. */
		exe_key(e, key, sizeof(key));
		return seen_add(&l->keys, jstr(e, "key"), 1u << k,
		                json_string_value(json_object_get(l->exe_of_pid, key)
		                                      ?: json_object_get(l->exe_of_pid, pid)),
		                (uint32_t)json_integer_value(json_object_get(e, "uid")));
	}
	return 0;
}

/* One line of an event log (one event per line) or an audit log (records; "event" ones carry
 * it); n is its line number, for the message. */
static int learn_line(struct learn *l, const char *path, unsigned int n, const char *line,
                      char *msg, size_t msg_len)
{
	json_error_t je;
	json_t *o;
	int r = 0;

	if (line[strspn(line, " \t\r\n")] == 0)
		return 0;
	o = json_loads(line, 0, &je);
	if (!json_is_object(o)) {
		snprintf(msg, msg_len, "%s:%u: not a JSON event or audit record (%s)", path, n,
		         o ? "not an object" : je.text);
		r = -EINVAL;
	} else if (json_object_get(o, "k")) {
		const char *kind = jstr(o, "k") ?: "";
		json_t *e = json_object_get(o, "e");

		if (!strcmp(kind, "event") && json_is_object(e))
			r = learn_event(l, e);
		else if (!strcmp(kind, "loss"))
			l->lost += (size_t)json_integer_value(json_object_get(o, "count"));
	} else if (!strcmp(jstr(o, "type") ?: "", "ringbuf_drops")) {
		/* vigild's event log says so when the kernel's ring buffer overflowed. */
		l->lost += (size_t)json_integer_value(json_object_get(o, "count"));
	} else {
		r = learn_event(l, o);
	}
	json_decref(o);
	if (r == -ENOMEM)
		snprintf(msg, msg_len, "out of memory");
	return r;
}

static int learn_file(struct learn *l, const char *path, char *msg, size_t msg_len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *line = NULL;
	size_t cap = 0;
	unsigned int n = 0;
	int r = 0, read_err = 0;

	if (!f) {
		r = -errno;
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return r;
	}
	/* getline's own errno, taken before any other call can change it. */
	while (r == 0 && (errno = 0, getline(&line, &cap, f) >= 0 || (read_err = errno, false)))
		r = learn_line(l, path, ++n, line, msg, msg_len);
	if (r == 0 && ferror(f)) {
		snprintf(msg, msg_len, "%s:%u: %s", path, n + 1, strerror(read_err ?: EIO));
		r = -EIO;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

static volatile sig_atomic_t collect_stop;

static void on_collect_signal(int sig)
{
	(void)sig;
	collect_stop = 1;
}

/* "60", "60s", "2m", "1h": seconds, or 0 when it is not a duration. */
static unsigned long parse_duration(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || s[0] == '-')
		return 0;
	if (!*end || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "m"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	return 0;
}

static double mono_now(void)
{
	return vigil_now_ms() / 1e3;
}

/*
 * Live learning: follows vigild's event (or audit) log from its current end for `seconds`
 * (or until SIGINT/SIGTERM), learning each line as it is appended, with a progress line on
 * stderr every `every` seconds. A line still being written is read again when complete.
 */
static int learn_collect(struct learn *l, const char *path, unsigned long seconds, char *msg,
                         size_t msg_len)
{
	struct sigaction sa = {.sa_handler = on_collect_signal}, old_int, old_term;
	struct vigil_sys sys0, sys1;
	FILE *f = fopen(path, "re");
	double t0, next, end;
	char *line = NULL;
	size_t cap = 0;
	unsigned int n = 0;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fseeko(f, 0, SEEK_END) < 0) {
		r = -errno;
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		fclose(f);
		return r;
	}
	/* The kernel's count of distinct accesses logged (learning mode's dedup map insertions):
	 * vigild's counters before and after. */
	vigil_sys_probe(&sys0, NULL);
	vigil_sys_free(&sys0);
	collect_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	t0 = mono_now();
	end = t0 + (double)seconds;
	next = t0 + 5;
	fprintf(stderr, "vigil: collecting from %s for %lus (Ctrl-C ends it early)\n", path,
	        seconds);
	while (r == 0 && !collect_stop) {
		ssize_t len = getline(&line, &cap, f);
		double now = mono_now();

		if (len > 0 && line[len - 1] == '\n') {
			r = learn_line(l, path, ++n, line, msg, msg_len);
			continue;
		}
		if (len > 0) /* vigild is mid-line: read it again once complete */
			fseeko(f, -(off_t)len, SEEK_CUR);
		clearerr(f);
		if (now >= end)
			break;
		if (now >= next) {
			fprintf(
			    stderr,
			    "vigil: %4.0fs: %zu events (%zu exec, %zu file, %zu network, %zu key "
			    "distinct)%s\n",
			    now - t0, l->events, l->exec.n, l->files.n, l->net.n, l->keys.n,
			    l->lost ? ", events lost" : "");
			next += 5;
		}
		usleep(100000);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (r == 0)
		fprintf(stderr, "vigil: collected %zu events in %.0fs%s\n", l->events,
		        mono_now() - t0, collect_stop ? " (interrupted)" : "");
	vigil_sys_probe(&sys1, NULL);
	vigil_sys_free(&sys1);
	if (r == 0 && sys0.have_stats && sys1.have_stats) {
		unsigned long long distinct =
		    sys1.stats[VIGIL_STAT_LEARN_NEW] - sys0.stats[VIGIL_STAT_LEARN_NEW];

		fprintf(
		    stderr,
		    "vigil: %llu distinct accesses, map size %u: above %u, duplicates may repeat "
		    "(never lost)\n",
		    distinct, VIGIL_LEARN_SEEN_MAX, VIGIL_LEARN_SEEN_MAX);
		if (distinct > VIGIL_LEARN_SEEN_MAX)
			fprintf(stderr,
			        "vigil: %llu is above %u: some accesses were logged more than "
			        "once (the policy is the same)\n",
			        distinct, VIGIL_LEARN_SEEN_MAX);
	} else if (r == 0) {
		/* The count is informative: the events learned are complete without it. */
		fprintf(stderr,
		        "vigil: distinct accesses: unknown (vigild's counters unavailable)\n");
	}
	free(line);
	fclose(f);
	return r;
}

static int sha256_hex(const char *root, const char *path, char hex[2 * POLICY_SHA256_LEN + 1],
                      char *msg, size_t msg_len)
{
	uint8_t d[POLICY_SHA256_LEN];
	char full[4096 + 256];
	int fd, r;

	snprintf(full, sizeof(full), "%s%s", root, path);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msg_len, "%s: cannot hash an executable the run used: %s", full,
		         strerror(errno));
		return r;
	}
	r = policy_sha256_fd(fd, d);
	close(fd);
	if (r < 0) {
		snprintf(msg, msg_len, "%s: %s", full, strerror(-r));
		return r;
	}
	policy_hex(d, sizeof(d), hex);
	return 0;
}

static json_t *rule_name(const char *kind, const char *what)
{
	char name[POLICY_NAME_MAX + 1];

	snprintf(name, sizeof(name), "learned:%s:%s", kind, what);
	return json_string(name);
}

static json_t *mask_array(uint32_t mask, const char *(*name)(unsigned int), unsigned int lo,
                          unsigned int hi)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = lo; i <= hi; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(name(i)));
	return a;
}

static bool exists(const char *root, const char *path)
{
	char full[4096 + 256];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return lstat(full, &st) == 0;
}

static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/*
 * Files: one rule per file, except where the run shows a directory: at least fold files seen
 * in it, or a file the run made and removed (it no longer exists, its directory does). Then one
 * rule on the directory, with the union of the accesses seen in it.
 */
static int learn_files(struct learn *l, const char *root, unsigned int fold, json_t *rules)
{
	struct seen_set dirs = {0}, out = {0};
	size_t i, j;
	int r = 0;

	for (i = 0; r == 0 && i < l->files.n; i++) {
		struct seen *f = &l->files.v[i];
		const char *base = strrchr(f->key, '/') + 1;
		char *dir = parent_of(f->key);

		if (!dir)
			return -ENOMEM;
		/* A create, unlink or rename event names the file by its last component only. */
		for (j = 0; j < l->names.n; j++)
			if (!strcmp(l->names.v[j].key, base))
				f->mask |= l->names.v[j].mask;
		r = seen_add(&dirs, dir, f->mask, NULL, 0);
		for (j = 0; r == 0 && j < dirs.n; j++)
			if (!strcmp(dirs.v[j].key, dir)) {
				dirs.v[j].count++;
				dirs.v[j].gone |= !exists(root, f->key) && exists(root, dir);
			}
		free(dir);
	}
	for (i = 0; r == 0 && i < l->files.n; i++) {
		char *dir = parent_of(l->files.v[i].key);
		bool folded = false;

		if (!dir)
			return -ENOMEM;
		/* Gone with its directory (/proc/PID/...): no identity a policy could name. */
		if (!exists(root, l->files.v[i].key) && !exists(root, dir)) {
			l->dropped++;
			free(dir);
			continue;
		}
		for (j = 0; j < dirs.n; j++)
			if (!strcmp(dirs.v[j].key, dir))
				folded = dirs.v[j].count >= fold || dirs.v[j].gone;
		r = folded ? seen_add(&out, dir, l->files.v[i].mask, "d", 0)
		           : seen_add(&out, l->files.v[i].key, l->files.v[i].mask, NULL, 0);
		free(dir);
	}
	seen_sort(&out);
	for (i = 0; r == 0 && i < out.n; i++) {
		json_t *rule = json_object();

		json_object_set_new(rule, "name",
		                    rule_name(out.v[i].exe ? "directory" : "file", out.v[i].key));
		json_object_set_new(rule, "path", json_string(out.v[i].key));
		json_object_set_new(
		    rule, "access",
		    mask_array(out.v[i].mask, policy_file_access_name, 0, POLICY_FA_COUNT - 1));
		json_object_set_new(rule, "action", json_string("allow"));
		json_array_append_new(rules, rule);
	}
	seen_free(&dirs);
	seen_free(&out);
	return r;
}

static json_t *learn_net(const struct learn *l)
{
	json_t *rules = json_array();
	size_t i;

	for (i = 0; i < l->net.n; i++) {
		char addr[64], tr[16], what[128];
		unsigned int port;
		json_t *rule;

		if (sscanf(l->net.v[i].key, "%63[^\t]\t%15[^\t]\t%u", addr, tr, &port) != 3)
			continue;
		rule = json_object();
		snprintf(what, sizeof(what), strchr(addr, ':') ? "%s [%s]:%u" : "%s %s:%u", tr,
		         addr, port);
		json_object_set_new(rule, "name", rule_name("net", what));
		json_object_set_new(rule, "cidr", json_string(addr));
		if (!strcmp(tr, "tcp") || !strcmp(tr, "udp"))
			json_object_set_new(rule, "protocol", json_string(tr));
		json_object_set_new(rule, "ports", json_integer(port));
		json_object_set_new(rule, "ops",
		                    mask_array(l->net.v[i].mask, policy_net_op_name, 0, 3));
		json_object_set_new(rule, "action", json_string("allow"));
		json_array_append_new(rules, rule);
	}
	return rules;
}

static int learn_keys(const struct learn *l, const char *root, json_t *rules, char *msg,
                      size_t msg_len)
{
	size_t i;
	int r;

	for (i = 0; i < l->keys.n; i++) {
		const struct seen *s = &l->keys.v[i];
		char hex[2 * POLICY_SHA256_LEN + 1], what[256];
		json_t *rule = json_object();

		snprintf(what, sizeof(what), "%s by %s", s->key, s->exe ? s->exe : "uid");
		json_object_set_new(rule, "name", rule_name("key", what));
		json_object_set_new(rule, "key", json_string(s->key));
		json_object_set_new(
		    rule, "perms",
		    mask_array(s->mask, policy_key_perm_name, VIGIL_KEY_VIEW, VIGIL_KEY_UNLINK));
		if (s->exe) {
			if ((r = sha256_hex(root, s->exe, hex, msg, msg_len)) < 0) {
				json_decref(rule);
				return r;
			}
			json_object_set_new(rule, "exe",
			                    json_pack("{s:s, s:s}", "path", s->exe, "sha256", hex));
		} else {
			/* The process was started before the log began: only its uid is known. */
			json_object_set_new(rule, "uid", json_integer(s->uid));
		}
		json_array_append_new(rules, rule);
	}
	return 0;
}

/* json_equal, with two absent members equal. */
static bool same_member(const json_t *a, const json_t *b, const char *key)
{
	const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	return (!x && !y) || (x && y && json_equal(x, y));
}

/* Adds to into's array at key the strings of from's that it lacks. */
static void union_strings(json_t *into, const json_t *from, const char *key)
{
	json_t *a = json_object_get(into, key), *b = json_object_get(from, key), *v, *w;
	size_t i, j;

	if (!json_is_array(a) || !json_is_array(b))
		return;
	json_array_foreach(b, i, v)
	{
		bool have = false;

		json_array_foreach(a, j, w) have |= json_equal(v, w);
		if (!have)
			json_array_append(a, v);
	}
}

/*
 * Adds learned rules (add) to the old policy's section array at key: a rule with the same
 * subject (field, ports, exe, uid) as an old allow rule widens it; else it is appended. An exec
 * rule with the same path takes the digest the run's file has now.
 */
static size_t merge_rules(json_t *section, const char *key, json_t *add, const char *field)
{
	json_t *list = json_object_get(section, key), *v, *w;
	size_t i, j, added = 0;

	if (!json_is_array(list)) {
		json_object_set(section, key, add);
		return json_array_size(add);
	}
	json_array_foreach(add, i, v)
	{
		json_t *same = NULL;

		json_array_foreach(list, j, w)
		{
			const char *act = jstr(w, "action");

			if (!same && (!act || !strcmp(act, "allow")) && same_member(v, w, field) &&
			    same_member(v, w, "protocol") && same_member(v, w, "ports") &&
			    same_member(v, w, "uid") && same_member(v, w, "cgroup") &&
			    (!strcmp(field, "path") ||
			     same_member(json_object_get(v, "exe"), json_object_get(w, "exe"),
			                 "path")))
				same = w;
		}
		if (!same) {
			json_array_append(list, v);
			added++;
			continue;
		}
		if (json_object_get(v, "sha256"))
			json_object_set(same, "sha256", json_object_get(v, "sha256"));
		union_strings(same, v, "access");
		union_strings(same, v, "ops");
		union_strings(same, v, "perms");
	}
	return added;
}

static json_t *section_of(json_t *policy, const char *key)
{
	json_t *s = json_object_get(policy, key);

	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(policy, key, s);
	}
	return s;
}

int do_policy_learn(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'R'},
	    {"output", required_argument, NULL, 'o'},
	    {"name", required_argument, NULL, 'N'},
	    {"scope", required_argument, NULL, 's'},
	    {"files-default", required_argument, NULL, 'F'},
	    {"fold", required_argument, NULL, 'f'},
	    {"merge", required_argument, NULL, 'm'},
	    {"serial", required_argument, NULL, 'S'},
	    {"collect", no_argument, NULL, 'C'},
	    {"duration", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] =
	    "usage: vigil policy learn (--scope guest|CGROUP... | --merge OLD.json) [--name NAME]\n"
	    "         [--serial N] [--files-default allow|deny|audit] [--fold N] [--root DIR]\n"
	    "         [--collect [--duration 60s]] [-o OUT] LOG...\n"
	    "  --collect: follow each live LOG (vigild's event or audit log) from its end for the\n"
	    "             duration or until Ctrl-C, then learn what was appended\n";
	struct learn l = {0};
	struct policy_error err = {0};
	const char *root = "", *out = NULL, *name = "learned", *files_default = "deny";
	const char *merge = NULL;
	json_t *scope = NULL, *policy = NULL, *exec, *files, *net, *keys;
	struct policy *check = NULL;
	unsigned int fold = 3;
	unsigned long long serial = 0;
	unsigned long duration = 60;
	bool collect = false;
	char msg[1024] = "", *text = NULL, *tmp = NULL;
	size_t i;
	int c, r = 0, rc = VIGIL_EXIT_INVALID;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			root = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 's':
			if (!scope)
				scope = strcmp(optarg, "guest") ? json_pack("{s:[]}", "cgroups")
				                                : json_string("guest");
			if (json_is_object(scope))
				json_array_append_new(json_object_get(scope, "cgroups"),
				                      json_string(optarg));
			break;
		case 'F':
			files_default = optarg;
			break;
		case 'f':
			fold = (unsigned int)strtoul(optarg, NULL, 10);
			if (!fold)
				fold = 1;
			break;
		case 'S':
			serial = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			merge = optarg;
			break;
		case 'C':
			collect = true;
			break;
		case 'D':
			duration = parse_duration(optarg);
			if (!duration) {
				fprintf(
				    stderr,
				    "vigil: --duration: '%s' is not a duration (60, 60s, 2m, 1h)\n",
				    optarg);
				json_decref(scope);
				return VIGIL_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "%s", usage);
			json_decref(scope);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind == argc || (!scope && !merge)) {
		fprintf(stderr, "%s", usage);
		json_decref(scope);
		return VIGIL_EXIT_USAGE;
	}
	l.exe_of_pid = json_object();
	if (collect && argc - optind != 1) {
		fprintf(stderr, "vigil: --collect follows one log\n%s", usage);
		json_decref(scope);
		json_decref(l.exe_of_pid);
		return VIGIL_EXIT_USAGE;
	}
	for (i = (size_t)optind; r == 0 && i < (size_t)argc; i++)
		r = collect ? learn_collect(&l, argv[i], duration, msg, sizeof(msg))
		            : learn_file(&l, argv[i], msg, sizeof(msg));
	if (r < 0)
		goto fail;
	if (!l.events) {
		snprintf(msg, sizeof(msg), "%s: no decision events: nothing learned",
		         argc - optind == 1 ? argv[optind] : "the logs");
		goto fail;
	}
	if (merge) {
		json_error_t je;

		if (policy_load_file(merge, &check, &err) < 0) {
			snprintf(msg, sizeof(msg), "%s", err.msg);
			goto fail;
		}
		policy_free(check);
		check = NULL;
		policy = json_load_file(merge, 0, &je);
		if (!policy) {
			snprintf(msg, sizeof(msg), "%s:%d: %s", merge, je.line, je.text);
			goto fail;
		}
		json_object_set_new(
		    policy, "serial",
		    json_integer(json_integer_value(json_object_get(policy, "serial")) + 1));
		if (scope)
			json_object_set(policy, "scope", scope);
	} else {
		policy = json_pack("{s:i, s:s, s:i, s:s, s:O}", "version", 1, "name", name,
		                   "serial", 1, "mode", "enforce", "scope", scope);
	}
	if (serial)
		json_object_set_new(policy, "serial", json_integer((json_int_t)serial));
	if (l.lost) {
		char incomplete[POLICY_NAME_MAX + 1];

		snprintf(incomplete, sizeof(incomplete), "%.*s-incomplete", POLICY_NAME_MAX - 11,
		         jstr(policy, "name") ?: name);
		json_object_set_new(policy, "name", json_string(incomplete));
	}
	/* exec */
	exec = json_array();
	seen_sort(&l.exec);
	for (i = 0; i < l.exec.n; i++) {
		char hex[2 * POLICY_SHA256_LEN + 1];

		if (sha256_hex(root, l.exec.v[i].key, hex, msg, sizeof(msg)) < 0) {
			json_decref(exec);
			goto fail;
		}
		json_array_append_new(exec, json_pack("{s:o, s:s, s:s}", "name",
		                                      rule_name("exec", l.exec.v[i].key), "path",
		                                      l.exec.v[i].key, "sha256", hex));
	}
	merge_rules(section_of(policy, "exec"), "allow", exec, "path");
	json_decref(exec);
	/* files */
	seen_sort(&l.files);
	files = json_array();
	if (learn_files(&l, root, fold, files) < 0) {
		json_decref(files);
		snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	if (!json_object_get(section_of(policy, "files"), "default"))
		json_object_set_new(section_of(policy, "files"), "default",
		                    json_string(files_default));
	merge_rules(section_of(policy, "files"), "rules", files, "path");
	json_decref(files);
	/* network */
	seen_sort(&l.net);
	net = learn_net(&l);
	if (!json_object_get(section_of(policy, "network"), "default"))
		json_object_set_new(section_of(policy, "network"), "default", json_string("deny"));
	if (l.raw)
		json_object_set_new(section_of(policy, "network"), "raw", json_string("allow"));
	merge_rules(section_of(policy, "network"), "rules", net, "cidr");
	json_decref(net);
	/* keys */
	seen_sort(&l.keys);
	keys = json_array();
	if (learn_keys(&l, root, keys, msg, sizeof(msg)) < 0) {
		json_decref(keys);
		goto fail;
	}
	if (json_array_size(keys))
		merge_rules(section_of(policy, "keys"), "rules", keys, "key");
	json_decref(keys);
	text = json_dumps(policy, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	/* What is written must be a valid policy v1: parsed as vigild will. */
	if (!text ||
	    policy_parse(text, strlen(text), out ? out : "learned policy", &check, &err) < 0) {
		snprintf(msg, sizeof(msg), "%s", text ? err.msg : "out of memory");
		goto fail;
	}
	if (out) {
		FILE *f;

		if (asprintf(&tmp, "%s.tmp", out) < 0 || !(f = fopen(tmp, "we"))) {
			snprintf(msg, sizeof(msg), "%s: %s", out, strerror(errno));
			rc = VIGIL_EXIT_FAIL;
			goto fail;
		}
		if (fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 || rename(tmp, out) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s", out, strerror(errno));
			unlink(tmp);
			rc = VIGIL_EXIT_FAIL;
			goto fail;
		}
	} else {
		printf("%s\n", text);
	}
	fprintf(stderr,
	        "vigil: learned %zu events: %zu exec, %zu file, %zu network, %zu key rules%s%s\n",
	        l.events, check->n_exec, check->n_files, check->n_net, check->n_keys,
	        out ? " -> " : "", out ? out : "");
	if (l.dropped)
		fprintf(stderr,
		        "vigil: note: %zu files no longer exist, nor their directories "
		        "(/proc/PID/...): not learned\n",
		        l.dropped);
	if (l.lost)
		fprintf(
		    stderr,
		    "vigil: warning: %zu events were lost during the learning run: the policy may "
		    "be incomplete (its name says so)\n",
		    l.lost);
	if (l.skipped_names)
		fprintf(stderr,
		        "vigil: note: %zu create, unlink, rename or link events name only a last "
		        "component: covered by the directory rules learned, or add them by hand\n",
		        l.skipped_names);
	rc = VIGIL_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "vigil: %s\n", msg);
out:
	policy_free(check);
	free(text);
	free(tmp);
	json_decref(policy);
	json_decref(scope);
	json_decref(l.exe_of_pid);
	seen_free(&l.exec);
	seen_free(&l.files);
	seen_free(&l.net);
	seen_free(&l.keys);
	seen_free(&l.names);
	return rc;
}

static const char *act_name(uint8_t a)
{
	return a == POLICY_ACT_DENY ? "deny" : a == POLICY_ACT_AUDIT ? "audit" : "allow";
}

/* One line per (rule subject, access): what a policy states, as comparable strings. */
static int describe(const struct policy *p, struct seen_set *set)
{
	char line[4096 + 512], hex[2 * POLICY_SHA256_LEN + 1], addr[INET6_ADDRSTRLEN];
	unsigned int a;
	size_t i;
	int r = 0;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		snprintf(line, sizeof(line), __VA_ARGS__);                                         \
		if ((r = seen_add(set, line, 0, NULL, 0)) < 0)                                     \
			return r;                                                                  \
	} while (0)
	ADD("policy: mode %s", p->audit ? "audit" : "enforce");
	if (p->scope_guest)
		ADD("policy: scope guest");
	for (i = 0; i < p->n_cgroups; i++)
		ADD("policy: scope cgroup %s", p->cgroups[i]);
	ADD("exec: fileless %s", p->allow_fileless ? "allowed" : "denied");
	for (i = 0; i < p->n_exec; i++) {
		policy_hex(p->exec[i].sha256, POLICY_SHA256_LEN, hex);
		ADD("exec: %s %s sha256:%s", p->exec[i].audit ? "audit" : "allow", p->exec[i].path,
		    hex);
	}
	if (p->file_default)
		ADD("files: default %s", act_name(p->file_default));
	for (i = 0; i < p->n_files; i++)
		for (a = 0; a < POLICY_FA_COUNT; a++)
			if (p->files[i].access & (1u << a))
				ADD("files: %s %s %s", act_name(p->files[i].action),
				    policy_file_access_name(a), p->files[i].path);
	if (p->net_default)
		ADD("network: default %s, raw %s", act_name(p->net_default),
		    p->net_raw ? "allow" : "deny");
	for (i = 0; i < p->n_net; i++) {
		const struct policy_net_rule *n = &p->net[i];

		inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, addr, sizeof(addr));
		for (a = 0; a < 4; a++)
			if (n->ops & (1u << a))
				ADD("network: %s %s %s/%u ports %u-%u %s", act_name(n->action),
				    policy_net_op_name(a), addr, n->prefix, n->port_lo, n->port_hi,
				    n->proto == IPPROTO_TCP   ? "tcp"
				    : n->proto == IPPROTO_UDP ? "udp"
				                              : "any");
	}
	for (i = 0; i < p->n_keys; i++) {
		const struct policy_key_rule *k = &p->keys[i];

		policy_hex(k->exe_sha256, POLICY_SHA256_LEN, hex);
		for (a = VIGIL_KEY_VIEW; a <= VIGIL_KEY_UNLINK; a++)
			if (k->perms & (1u << a)) {
				char uid[16] = "any";

				if (k->uid != UINT32_MAX)
					snprintf(uid, sizeof(uid), "%u", k->uid);
				ADD("keys: %s '%s' exe %s%s%s cgroup %s uid %s",
				    policy_key_perm_name(a), k->key,
				    k->exe_path ? k->exe_path : "any",
				    k->exe_path ? " sha256:" : "", k->exe_path ? hex : "",
				    k->cgroup ? k->cgroup : "any", uid);
			}
	}
#undef ADD
	seen_sort(set);
	return r;
}

static bool has(const struct seen_set *set, const char *key)
{
	struct seen probe = {.key = (char *)key};

	return bsearch(&probe, set->v, set->n, sizeof(*set->v), cmp_seen) != NULL;
}

int do_policy_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"cases", required_argument, NULL, 'c'},
	    {"log", required_argument, NULL, 'l'},
	    {"root", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] =
	    "usage: vigil policy diff [--cases CASES]... [--log LOG]... [--root DIR] A.json "
	    "B.json\n"
	    "  without --cases/--log: the rules one allows that the other does not, per section;\n"
	    "  with them: the accesses (case file lines, logged events) decided differently\n";
	struct policy_error err = {0};
	struct policy *a = NULL, *b = NULL;
	struct seen_set sa = {0}, sb = {0};
	size_t i, only_a = 0, only_b = 0, n_cases = 0, n_logs = 0;
	char **cases = calloc((size_t)argc, sizeof(char *)),
	     **logs = calloc((size_t)argc, sizeof(char *));
	const char *root = NULL;
	int c, rc = VIGIL_EXIT_INVALID;

	if (!cases || !logs) {
		free(cases);
		free(logs);
		fprintf(stderr, "vigil: out of memory\n");
		return VIGIL_EXIT_FAIL;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cases[n_cases++] = optarg;
			break;
		case 'l':
			logs[n_logs++] = optarg;
			break;
		case 'R':
			root = optarg;
			break;
		case 'h':
			printf("%s", usage);
			rc = VIGIL_EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "%s", usage);
			rc = VIGIL_EXIT_USAGE;
			goto out;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "%s", usage);
		rc = VIGIL_EXIT_USAGE;
		goto out;
	}
	argv += optind - 1;
	if (policy_load_file(argv[1], &a, &err) < 0 || policy_load_file(argv[2], &b, &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		goto out;
	}
	if (n_cases || n_logs) {
		rc = policy_diff_decisions(argv[1], a, argv[2], b, root, cases, n_cases, logs,
		                           n_logs);
		goto out;
	}
	if (describe(a, &sa) < 0 || describe(b, &sb) < 0) {
		fprintf(stderr, "vigil: out of memory\n");
		rc = VIGIL_EXIT_FAIL;
		goto out;
	}
	printf("--- %s (policy '%s' serial %llu)\n+++ %s (policy '%s' serial %llu)\n", argv[1],
	       a->name, (unsigned long long)a->serial, argv[2], b->name,
	       (unsigned long long)b->serial);
	/* Sorted by section then subject: each section's lines stay together. */
	for (i = 0; i < sa.n; i++)
		if (!has(&sb, sa.v[i].key)) {
			printf("- %s\n", sa.v[i].key);
			only_a++;
		}
	for (i = 0; i < sb.n; i++)
		if (!has(&sa, sb.v[i].key)) {
			printf("+ %s\n", sb.v[i].key);
			only_b++;
		}
	printf("%zu only in %s, %zu only in %s\n", only_a, argv[1], only_b, argv[2]);
	rc = only_a || only_b ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
out:
	free(cases);
	free(logs);
	seen_free(&sa);
	seen_free(&sb);
	policy_free(a);
	policy_free(b);
	return rc;
}
