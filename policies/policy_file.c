/* The "files" section of policy v1: rules on files and directory trees by access kind. */
#include "policies/policy_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const file_access[] = {"read",   "write", "create",   "unlink",
                                          "rename", "link",  "exec_map", NULL};
/* Recursion bound of the resolve-time walk; deeper trees are rejected, not truncated. */
#define VIGIL_POLICY_TREE_DEPTH 64
#define FILE_ALL_ACCESS         ((1u << POLICY_FA_COUNT) - 1)
/* A file a rule denies anything on gets no new name: a link or a rename could leave the tree. */
#define FILE_NAME_ACCESS ((1u << POLICY_FA_RENAME) | (1u << POLICY_FA_LINK))

static int parse_file_rule(struct policy *p, const vjson *v, size_t i, struct policy_error *err)
{
	static const char *const keys[] = {"name", "path", "access", "action", NULL};
	struct policy_file_rule *rule = &p->files[i];
	const char *path;
	char where[64];
	int r;

	policy_where(where, sizeof(where), "files.rules", i);
	if (!vjson_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", p->origin, where);
	if ((r = policy_check_keys(v, keys, p->origin, where, err)) < 0 ||
	    (r = policy_get_string(v, "path", true, p->origin, where, &path, err)) < 0 ||
	    (r = policy_rule_name(v, path, p->origin, where, &rule->name, err)) < 0)
		return r;
	if (path[0] != '/' || strlen(path) >= 4096)
		return policy_errorf(
		    err, -EINVAL,
		    "%s: %s.path: '%s' is not an absolute path shorter than PATH_MAX, "
		    "rule '%s'",
		    p->origin, where, path, rule->name);
	if ((r = policy_get_mask(v, "access", file_access, FILE_ALL_ACCESS, p->origin, where,
	                         &rule->access, err)) < 0 ||
	    (r = policy_get_action(v, "action", true, p->origin, where, &rule->action, err)) < 0)
		return r;
	if (rule->action == POLICY_ACT_DENY)
		rule->access |= FILE_NAME_ACCESS;
	rule->path = strdup(path);
	return rule->path ? 0 : -ENOMEM;
}

int policy_parse_files(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"default", "rules", "system_writable", NULL};
	const vjson *files, *rules, *v;
	size_t i;
	int r;

	r = policy_section(root, "files", keys, p->origin, &files, err);
	if (r < 0 || !files)
		return r;
	p->file_default = POLICY_ACT_ALLOW;
	r = policy_get_action(files, "default", false, p->origin, "files", &p->file_default, err);
	if (r < 0)
		return r;
	v = vjson_object_get(files, "system_writable");
	if (v && !vjson_is_boolean(v))
		return policy_errorf(
		    err, -EINVAL, "%s: files.system_writable: expected true or false", p->origin);
	p->system_writable = v && vjson_is_true(v);
	rules = vjson_object_get(files, "rules");
	if (!rules)
		return 0;
	if (!vjson_is_array(rules))
		return policy_errorf(err, -EINVAL, "%s: files.rules: expected an array", p->origin);
	p->files = calloc(vjson_array_size(rules) + 1, sizeof(*p->files));
	if (!p->files)
		return -ENOMEM;
	vjson_array_foreach(rules, i, v)
	{
		r = parse_file_rule(p, v, i, err);
		p->n_files = i + 1; /* so the partial rule is freed too */
		if (r < 0)
			return r;
	}
	return 0;
}

void policy_free_files(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n_files; i++) {
		free(p->files[i].name);
		free(p->files[i].path);
	}
	free(p->files);
}

/* Every file and directory found at resolve time, with the rule and distance that named it. */
struct found {
	uint64_t dev, ino;
	uint32_t rule_id;
	uint16_t distance;
	bool dir;
};

struct collect {
	struct found *v;
	size_t n, cap;
};

static int collect_add(struct collect *c, const struct stat *st, uint32_t rule_id, int distance)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct found *v;

		if (cap > POLICY_MAX_TREE_FILES + 1)
			return -E2BIG;
		v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct found){.dev = policy_kdev(st->st_dev),
	                              .ino = st->st_ino,
	                              .rule_id = rule_id,
	                              .distance = (uint16_t)distance,
	                              .dir = S_ISDIR(st->st_mode)};
	return 0;
}

/* Adds dir's entries, recursively, without following symlinks (their targets have their own
 * identity and rules). */
static int collect_tree(struct collect *c, int dirfd, uint32_t rule_id, int distance)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	if (distance > VIGIL_POLICY_TREE_DEPTH) {
		closedir(d);
		return -ELOOP;
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		int fd;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile: whatever replaces it is found by the kernel
			             walk */
		r = collect_add(c, &st, rule_id, distance);
		if (r < 0 || !S_ISDIR(st.st_mode))
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			r = collect_tree(c, fd, rule_id, distance + 1);
	}
	closedir(d);
	return r;
}

static int found_cmp(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->distance != y->distance)
		return x->distance < y->distance ? -1 : 1;
	return x->rule_id < y->rule_id ? -1 : x->rule_id > y->rule_id;
}

/* At equal distance deny beats audit beats allow; then policy order. */
static int action_rank(uint8_t action)
{
	return action == POLICY_ACT_DENY ? 0 : action == POLICY_ACT_AUDIT ? 1 : 2;
}

static void merge_rule(struct policy_file_entry *into, const struct policy *p,
                       const struct found *f)
{
	const struct policy_file_rule *rule = &p->files[f->rule_id];
	unsigned int a;

	for (a = 0; a < POLICY_FA_COUNT; a++) {
		if (!(rule->access & (1u << a)))
			continue;
		if (into->action[a] &&
		    (into->distance[a] < f->distance ||
		     (into->distance[a] == f->distance &&
		      action_rank(into->action[a]) <= action_rank(rule->action))))
			continue;
		into->action[a] = rule->action;
		into->rule_id[a] = f->rule_id;
		into->distance[a] = f->distance;
	}
}

static int resolve_rule(const struct policy *p, const char *root, size_t i, struct collect *c,
                        struct policy_error *err)
{
	char full[4096 + 256];
	struct stat st;
	int r, fd;

	/* Symlinks in a rule's own path are followed: the rule is on what the path names. */
	snprintf(full, sizeof(full), "%s%s", root ? root : "", p->files[i].path);
	if (stat(full, &st) < 0)
		return policy_errorf(err, -errno, "%s: files.rules[%zu].path: rule '%s': %s: %s",
		                     p->origin, i, p->files[i].name, full, strerror(errno));
	r = collect_add(c, &st, (uint32_t)i, 0);
	if (r == 0 && S_ISDIR(st.st_mode)) {
		fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = fd < 0 ? -errno : collect_tree(c, fd, (uint32_t)i, 1);
	}
	if (r == -E2BIG)
		return policy_errorf(err, r,
		                     "%s: files.rules[%zu].path: rule '%s': more than %d files "
		                     "under the policy's directory rules",
		                     p->origin, i, p->files[i].name, POLICY_MAX_TREE_FILES);
	if (r < 0)
		return policy_errorf(err, r, "%s: files.rules[%zu].path: rule '%s': reading %s: %s",
		                     p->origin, i, p->files[i].name, full, strerror(-r));
	return 0;
}

int policy_resolve_files(const struct policy *p, const char *root, struct policy_file_entry **ret,
                         size_t *ret_n, struct policy_error *err)
{
	struct collect c = {0};
	struct policy_file_entry *e;
	size_t i, n = 0;
	int r;

	for (i = 0; i < p->n_files; i++) {
		r = resolve_rule(p, root, i, &c, err);
		if (r < 0) {
			free(c.v);
			return r;
		}
	}
	e = calloc(c.n + 1, sizeof(*e));
	if (!e) {
		free(c.v);
		return -ENOMEM;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), found_cmp);
	for (i = 0; i < c.n; i++) {
		if (n == 0 || e[n - 1].dev != c.v[i].dev || e[n - 1].ino != c.v[i].ino) {
			e[n].dev = c.v[i].dev;
			e[n].ino = c.v[i].ino;
			e[n].dir = c.v[i].dir;
			n++;
		}
		merge_rule(&e[n - 1], p, &c.v[i]);
	}
	free(c.v);
	*ret = e;
	*ret_n = n;
	return 0;
}
