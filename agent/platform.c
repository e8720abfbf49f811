/* Who is "the platform": the one user-space definition, matching bpf/self.bpf.h's. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel walks 16 levels and treats deeper cgroups as in scope; so do we. */
#define SCOPE_MAX_DEPTH 16

void agent_scope_of(const struct agent *a, struct agent_scope *ret)
{
	const struct policy *p = a->cur.policy;

	/* No policy yet: nothing names a scope, so only PID 1 is the platform (as in the kernel).
	 */
	*ret = (struct agent_scope){
	    .guest = !p || p->scope_guest, .ids = a->cur.cgroup_ids, .n = a->cur.n_cgroups};
}

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int r;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = 0;
	return n;
}

void agent_pid_comm(int pid, char *out, size_t size)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (pid <= 0 || read_small(path, buf, sizeof(buf)) <= 0) {
		snprintf(out, size, "?");
		return;
	}
	buf[strcspn(buf, "\n")] = 0;
	/* comm is the process's to choose: keep it printable and JSON-safe. */
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e || *c == '"' || *c == '\\')
			*c = '_';
	snprintf(out, size, "%s", buf);
}

static bool scope_has(const struct agent_scope *s, uint64_t id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

int agent_cgroup_is_platform(const char *cgroup_root, const struct agent_scope *scope,
                             const char *path)
{
	char cg[4096], dir[4096 + 256];
	int depth = 0;

	if (scope->guest)
		return 0;
	if (path[0] != '/' || strlen(path) >= sizeof(cg) || strstr(path, " (deleted)"))
		return 0; /* not a cgroup path we can place: fail closed */
	/* The root cgroup is never in a scope: the kernel compares ancestors from level 1. */
	if (strcmp(path, "/") == 0)
		return 1;
	snprintf(cg, sizeof(cg), "%s", path);
	/* The cgroup and every ancestor by id (inode), as the kernel compares: renames change
	 * no id. */
	for (;;) {
		struct stat st;
		char *slash;

		if (++depth > SCOPE_MAX_DEPTH)
			return 0; /* deeper than the kernel walks: in scope */
		snprintf(dir, sizeof(dir), "%s%s", cgroup_root, cg);
		if (stat(dir, &st) < 0)
			return 0; /* cannot tell where it is: fail closed */
		if (scope_has(scope, st.st_ino))
			return 0;
		slash = strrchr(cg, '/');
		if (!slash || slash == cg)
			return 1;
		*slash = 0;
	}
}

int agent_pid_cgroup(const char *pid, char *buf, size_t size, char **ret_path)
{
	char path[64], *cg, *end;
	ssize_t n;

	*ret_path = NULL;
	snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
	n = read_small(path, buf, size);
	if (n < 0)
		return (int)n;
	if (!(cg = strstr(buf, "0::/")) || (cg != buf && cg[-1] != '\n'))
		return 0;
	cg += 3;
	end = strchr(cg, '\n');
	if (end)
		*end = 0;
	*ret_path = cg;
	return 0;
}

int agent_pid_is_platform(const char *cgroup_root, const struct agent_scope *scope, int pid)
{
	char p[16], buf[4096], *cg;
	int r;

	if (pid == 1)
		return 1;
	if (pid <= 0)
		return 0;
	snprintf(p, sizeof(p), "%d", pid);
	r = agent_pid_cgroup(p, buf, sizeof(buf), &cg);
	if (r == -ENOENT || r == -ESRCH)
		return -ESRCH;
	if (scope->guest)
		return 0;
	/* Unreadable or without a v2 line: nothing proves it outside the scope (fail closed). */
	if (r < 0 || !cg)
		return 0;
	return agent_cgroup_is_platform(cgroup_root, scope, cg);
}
