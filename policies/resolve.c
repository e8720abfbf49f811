/* Resolves exec rules to kernel file identities and checks their content digests. */
#include "policies/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

uint64_t policy_kdev(uint64_t st_dev)
{
	return ((uint64_t)major(st_dev) << 20) | minor(st_dev);
}

/* Opens rule i's file for hashing. Returns the fd or -errno with err naming the rule. */
static int open_rule(const struct policy *p, const char *root, size_t i, struct stat *st,
                     struct policy_error *err)
{
	const struct policy_exec_rule *rule = &p->exec[i];
	char full[4096 + 256];
	int fd;

	snprintf(full, sizeof(full), "%s%s", root ? root : "", rule->path);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return policy_errorf(err, -errno, "%s: exec.allow[%zu].path: rule '%s': %s: %s",
		                     p->origin, i, rule->name, full, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return policy_errorf(
		    err, -EINVAL, "%s: exec.allow[%zu].path: rule '%s': %s is not a regular file",
		    p->origin, i, rule->name, full);
	}
	return fd;
}

/* The directory of the previous rule, kept open: rules list many files of one directory, and a
 * stat relative to it walks one component instead of the whole path. */
struct dir_cache {
	int fd;
	size_t len; /* of the directory's path, root included, up to its last '/' */
	char path[4096 + 256];
};

/*
 * stat(root + path), through the cached directory when the path has a plain last component.
 * Same answer as stat() of the full path (symlinks followed, a relative link target resolved
 * from the link's directory); any failure is answered by stat() of the full path, so errors
 * read the same.
 */
static int stat_rule(struct dir_cache *dc, const char *root, const char *path, struct stat *st)
{
	size_t rlen = root ? strlen(root) : 0, plen = strlen(path);
	const char *slash = strrchr(path, '/'), *base;
	char full[4096 + 256];

	if (rlen + plen >= sizeof(full))
		return -ENAMETOOLONG;
	if (rlen)
		memcpy(full, root, rlen);
	memcpy(full + rlen, path, plen + 1);
	base = slash ? slash + 1 : path;
	if (slash && *base && strcmp(base, ".") && strcmp(base, "..")) {
		size_t dlen = rlen + (size_t)(slash - path) + 1;

		if (dc->fd < 0 || dc->len != dlen || memcmp(dc->path, full, dlen) != 0) {
			if (dc->fd >= 0)
				close(dc->fd);
			memcpy(dc->path, full, dlen);
			dc->path[dlen] = 0;
			dc->len = dlen;
			dc->fd = open(dc->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
		if (dc->fd >= 0 && fstatat(dc->fd, base, st, 0) == 0)
			return 0;
	}
	return stat(full, st) < 0 ? -errno : 0;
}

static int resolve_exec(const struct policy *p, const char *root, bool lenient,
                        struct policy_exec_entry **ret, size_t *ret_n, struct policy_error *err)
{
	struct dir_cache dc = {.fd = -1};
	struct policy_exec_entry *e;
	size_t i;
	int r = 0;

	e = calloc(p->n_exec + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < p->n_exec && (r == 0 || (lenient && r != -ENOMEM)); i++) {
		const struct policy_exec_rule *rule = &p->exec[i];
		struct stat st;

		r = stat_rule(&dc, root, rule->path, &st);
		if (r < 0)
			r = policy_errorf(err, r, "%s: exec.allow[%zu].path: rule '%s': %s%s: %s",
			                  p->origin, i, rule->name, root ? root : "", rule->path,
			                  strerror(-r));
		else if (!S_ISREG(st.st_mode))
			r = policy_errorf(
			    err, -EINVAL,
			    "%s: exec.allow[%zu].path: rule '%s': %s%s is not a regular "
			    "file",
			    p->origin, i, rule->name, root ? root : "", rule->path);
		e[i].rule_id = (uint32_t)i;
		if (r < 0) {
			/* Lenient: this rule has no file to allow; the caller reports it. */
			e[i].flags = POLICY_EXEC_BAD;
			continue;
		}
		e[i].dev = policy_kdev(st.st_dev);
		e[i].ino = st.st_ino;
		e[i].ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		e[i].size = (uint64_t)st.st_size;
	}
	if (dc.fd >= 0)
		close(dc.fd);
	if (r < 0 && (!lenient || r == -ENOMEM)) {
		free(e);
		return r;
	}
	*ret = e;
	*ret_n = p->n_exec;
	return 0;
}

int policy_resolve_exec(const struct policy *p, const char *root, struct policy_exec_entry **ret,
                        size_t *ret_n, struct policy_error *err)
{
	return resolve_exec(p, root, false, ret, ret_n, err);
}

int policy_resolve_exec_lenient(const struct policy *p, const char *root,
                                struct policy_exec_entry **ret, size_t *ret_n,
                                struct policy_error *err)
{
	return resolve_exec(p, root, true, ret, ret_n, err);
}

int policy_fd_writer(int fd)
{
	/*
	 * The kernel grants a read lease only while no open file has the inode open for writing
	 * (i_writecount, which a shared writable mapping also holds): the one view of it user space
	 * gets. Released at once: a writer opening meanwhile waits for the lease to break.
	 */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return errno == EAGAIN ? 1 : -errno;
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return 0;
}

/* Checks one entry's identity and digest; sets POLICY_EXEC_WRITER. 0 or -errno with err. */
static int verify_one(const struct policy *p, const char *root, struct policy_exec_entry *e,
                      struct policy_error *err)
{
	const struct policy_exec_rule *rule = &p->exec[e->rule_id];
	uint8_t digest[POLICY_SHA256_LEN];
	char want[2 * POLICY_SHA256_LEN + 1], got[2 * POLICY_SHA256_LEN + 1];
	struct stat st;
	int fd, r;

	fd = open_rule(p, root, e->rule_id, &st, err);
	if (fd < 0)
		return fd;
	if (policy_kdev(st.st_dev) != e->dev || st.st_ino != e->ino) {
		close(fd);
		return policy_errorf(err, -ESTALE,
		                     "%s: exec.allow[%u].path: rule '%s': %s was replaced "
		                     "while the policy loaded",
		                     p->origin, e->rule_id, rule->name, rule->path);
	}
	/*
	 * Before reading: a writer that opens from here on goes through file_open, which revokes
	 * the entry the caller inserted first; one that already holds the file could write after
	 * the read, unseen, so the caller must not vouch for it.
	 */
	e->flags &= ~(POLICY_EXEC_WRITER | POLICY_EXEC_UNPROVEN);
	r = policy_fd_writer(fd);
	if (r != 0) /* a writer, or no way to tell: not vouched for either way */
		e->flags |= POLICY_EXEC_WRITER | (r < 0 ? POLICY_EXEC_UNPROVEN : 0);
	r = vigil_sha256_fd(fd, digest);
	close(fd);
	if (r < 0)
		return policy_errorf(err, r, "%s: exec.allow[%u]: rule '%s': reading %s: %s",
		                     p->origin, e->rule_id, rule->name, rule->path, strerror(-r));
	if (memcmp(digest, rule->sha256, sizeof(digest)) != 0) {
		vigil_hex(rule->sha256, sizeof(digest), want);
		vigil_hex(digest, sizeof(digest), got);
		return policy_errorf(err, -EBADMSG,
		                     "%s: exec.allow[%u].sha256: rule '%s': %s has sha256 %s, "
		                     "the policy says %s",
		                     p->origin, e->rule_id, rule->name, rule->path, got, want);
	}
	return 0;
}

/*
 * Reading and hashing are per file and independent: a first load of 100,000 files spreads them
 * over the CPUs. The error reported is the lowest-numbered failing entry's, as one thread in
 * order would report: chunks are handed out in order and a thread stops only past a failure.
 */
#define VERIFY_CHUNK        32
#define VERIFY_MIN_PARALLEL 512
#define VERIFY_MAX_THREADS  8

struct verify_job {
	const struct policy *p;
	const char *root;
	struct policy_exec_entry *entries;
	size_t n, next, hashed, fail_at;
	int fail_r;
	struct policy_error fail_err;
	pthread_mutex_t lock;
};

static void *verify_worker(void *arg)
{
	struct verify_job *j = arg;
	struct policy_error err;
	size_t i, end, hashed = 0;

	for (;;) {
		i = __atomic_fetch_add(&j->next, VERIFY_CHUNK, __ATOMIC_RELAXED);
		if (i >= j->n)
			break;
		end = i + VERIFY_CHUNK < j->n ? i + VERIFY_CHUNK : j->n;
		for (; i < end && i < __atomic_load_n(&j->fail_at, __ATOMIC_RELAXED); i++) {
			int r;

			if (j->entries[i].flags & POLICY_EXEC_UNCHANGED)
				continue;
			hashed++;
			j->entries[i].flags &= ~POLICY_EXEC_BAD;
			r = verify_one(j->p, j->root, &j->entries[i], &err);
			if (r == 0)
				continue;
			j->entries[i].flags |= POLICY_EXEC_BAD;
			pthread_mutex_lock(&j->lock);
			if (i < j->fail_at) {
				j->fail_r = r;
				j->fail_err = err;
				__atomic_store_n(&j->fail_at, i, __ATOMIC_RELAXED);
			}
			pthread_mutex_unlock(&j->lock);
			break;
		}
	}
	__atomic_fetch_add(&j->hashed, hashed, __ATOMIC_RELAXED);
	return NULL;
}

int policy_verify_exec(const struct policy *p, const char *root, struct policy_exec_entry *entries,
                       size_t n, size_t *ret_hashed, struct policy_error *err)
{
	struct verify_job j = {
	    .p = p, .root = root, .entries = entries, .n = n, .fail_at = SIZE_MAX};
	pthread_t tid[VERIFY_MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, to_read = 0, threads = 1, started = 0;

	for (i = 0; i < n; i++)
		to_read += !(entries[i].flags & POLICY_EXEC_UNCHANGED);
	if (to_read >= VERIFY_MIN_PARALLEL && cpus > 1)
		threads = cpus < VERIFY_MAX_THREADS ? (size_t)cpus : VERIFY_MAX_THREADS;
	pthread_mutex_init(&j.lock, NULL);
	/* The calling thread is one of the workers; a thread that cannot start is not needed. */
	for (i = 1; i < threads; i++)
		if (pthread_create(&tid[started], NULL, verify_worker, &j) == 0)
			started++;
	verify_worker(&j);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&j.lock);
	if (j.fail_at != SIZE_MAX) {
		*err = j.fail_err;
		return j.fail_r;
	}
	if (ret_hashed)
		*ret_hashed = j.hashed;
	return 0;
}

static int cmp_identity(const void *a, const void *b)
{
	const struct policy_exec_entry *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

ssize_t policy_exec_mark_unchanged(const struct policy *prev,
                                   const struct policy_exec_entry *prev_entries, size_t prev_n,
                                   const struct policy *p, struct policy_exec_entry *entries,
                                   size_t n)
{
	struct policy_exec_entry *index;
	size_t i, marked = 0;

	if (!prev || !prev_n || !n)
		return 0;
	index = malloc(prev_n * sizeof(*index));
	if (!index)
		return -ENOMEM;
	memcpy(index, prev_entries, prev_n * sizeof(*index));
	qsort(index, prev_n, sizeof(*index), cmp_identity);
	for (i = 0; i < n; i++) {
		const struct policy_exec_entry *old =
		    bsearch(&entries[i], index, prev_n, sizeof(*index), cmp_identity);

		entries[i].flags &= ~(POLICY_EXEC_UNCHANGED | POLICY_EXEC_WRITER);
		/* A file a writer held at that check, or that failed it, was never vouched for. */
		if (!old || (old->flags & (POLICY_EXEC_WRITER | POLICY_EXEC_BAD)) ||
		    old->ctime_ns != entries[i].ctime_ns || old->size != entries[i].size ||
		    memcmp(prev->exec[old->rule_id].sha256, p->exec[entries[i].rule_id].sha256,
		           POLICY_SHA256_LEN) != 0)
			continue;
		entries[i].flags |= POLICY_EXEC_UNCHANGED;
		marked++;
	}
	free(index);
	return (ssize_t)marked;
}
