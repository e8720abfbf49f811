/* Self-protection setup: which devices and files are vigild's alone, before any program runs. */
#include "agent/agent.h"
#include "audit/audit.h"
#include "lib/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vigil.skel.h"

/* Character devices that produce or extend measurements and quotes. */
static const char *const protected_devices[] = {"/dev/tdx_guest", "/dev/sev-guest", NULL};
/*
 * vigil's config, state, runtime files and logs; binaries, the files named on the command line
 * and every file vigild and PID 1 map join them.
 */
static const char *const protected_dirs[] = {"/etc/vigil", "/var/lib/vigil", "/var/log/vigil",
                                             "/run/vigil", NULL};

/*
 * Platform code: files the platform (PID 1, the service manager, cron, udev, the dynamic loader of
 * every later start, a restarted vigild's included) reads as code or as orders to run code. The
 * scope may not write, create, replace or remove any of them; a missing one may not be created
 * (protect_name). The platform still may (upgrades). docs/ARCHITECTURE.md lists them.
 */
static const char *const platform_code[] = {
    "/etc/ld.so.preload", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly",
    "/etc/cron.monthly", "/var/spool/cron", "/etc/systemd", "/run/systemd/system",
    "/run/systemd/transient", "/run/systemd/generator", "/lib/systemd", "/usr/lib/systemd",
    "/etc/udev", "/lib/udev", "/usr/lib/udev", "/run/udev/rules.d", "/etc/modprobe.d",
    "/lib/modprobe.d", "/usr/lib/modprobe.d", "/etc/modules", "/etc/modules-load.d", "/etc/init.d",
    "/etc/inittab", "/etc/rc.local", "/etc/default",
    /* Run as the platform by its daemons and by the kernel: logrotate's postrotate scripts,
     * request-key's helpers, binfmt_misc and sysctl settings applied at boot, tmpfiles' rules,
     * login banners, package-manager and kernel-install hooks, network hooks. */
    "/etc/logrotate.conf", "/etc/logrotate.d", "/etc/request-key.conf", "/etc/request-key.d",
    "/etc/binfmt.d", "/etc/sysctl.conf", "/etc/sysctl.d", "/etc/tmpfiles.d", "/etc/update-motd.d",
    "/etc/apt/apt.conf.d", "/etc/kernel", "/etc/initramfs-tools", "/etc/network",
    "/etc/NetworkManager/dispatcher.d", "/etc/dhcp",
    /* The service manager's other unit and generator paths (systemd.unit(5),
     * systemd.generator(7)), and the run-time and local directories of the tools above
     * (modprobe.d(5), tmpfiles.d(5), sysctl.d(5), binfmt.d(5), modules-load.d(5)); apt's main
     * file and dpkg's hooks (post-invoke=). */
    "/run/systemd/system.control", "/run/systemd/system.attached", "/run/systemd/generator.early",
    "/run/systemd/generator.late", "/run/systemd/system-generators", "/usr/local/lib/systemd",
    "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/run/tmpfiles.d", "/run/sysctl.d",
    "/run/binfmt.d", "/run/modules-load.d", "/etc/apt/apt.conf", "/etc/dpkg/dpkg.cfg",
    "/etc/dpkg/dpkg.cfg.d",
    /* Who logs in as what, and what a platform login runs first. */
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
    "/etc/pam.d", "/etc/security", "/etc/ssh", "/etc/profile", "/etc/profile.d", "/etc/environment",
    "/etc/bash.bashrc", "/root/.profile", "/root/.bashrc", "/root/.bash_profile",
    "/root/.bash_login", "/root/.ssh", NULL};

/*
 * The platform's request sockets: a connect from the scope asks it to run code. Platform code
 * too (the scope may not replace them), and by name: a daemon that starts, or re-creates its
 * socket, after vigild's start is covered from its bind on (bpf/platform.bpf.h).
 */
static const char *const platform_sockets[] = {"/run/systemd/private",
                                               "/run/dbus/system_bus_socket",
                                               "/run/containerd/containerd.sock",
                                               "/run/docker.sock",
                                               "/var/run/docker.sock",
                                               "/run/podman/podman.sock",
                                               NULL};

/*
 * The OS's code: the platform's under a cgroup scope, unless the policy says
 * files.system_writable. Under a guest-wide scope the platform is PID 1 alone and every package
 * manager runs in the scope, so these stay writable there (the files vigild and PID 1 map are
 * trees whatever the scope).
 */
static const char *const system_trees[] = {"/usr", "/lib",  "/lib32", "/lib64", "/libx32",
                                           "/bin", "/sbin", "/boot",  NULL};

enum protect_kind {
	PROTECT_TREE,     /* the file, or the directory and everything beneath it */
	PROTECT_ANCESTOR, /* the directory itself: no unlink, rename or metadata change */
};

static int protect_device(struct agent *a, const char *path)
{
	struct vigil_protect_val val = {.kind = VIGIL_PROT_DEVICE};
	struct stat st;
	uint32_t rdev;

	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0; /* absent on this machine: nothing to protect */
	rdev = (uint32_t)policy_kdev(st.st_rdev);
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.protected_devs), &rdev, &val, BPF_ANY))
		return log_error_errno(-errno, "protecting %s", path);
	log_debug("self-protection: device %s (%u:%u)", path, major(st.st_rdev), minor(st.st_rdev));
	return 0;
}

/* One generation-0 entry; kdev is the kernel's encoding (policy_kdev). */
static int protect_identity(struct agent *a, uint64_t kdev, uint64_t ino, enum protect_kind kind,
                            const char *what)
{
	struct vigil_file_val val;
	struct vigil_file_key key;
	unsigned int acc;
	int r;

	memset(&val, 0, sizeof(val));
	memset(&key, 0, sizeof(key));
	key.dev = kdev;
	key.ino = ino;
	if (kind == PROTECT_ANCESTOR) {
		val.action[VIGIL_FA_SELF_ONLY] = VIGIL_ACT_DENY;
		/* Never downgrade a tree (a directory that is both protected and an ancestor). */
		r = bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_rules), &key, &val,
		                        BPF_NOEXIST);
		if (r < 0 && errno == EEXIST) {
			struct vigil_file_val old;

			/* A tree the kernel added (created since the last load) is dropped after
			 * this load unless the path makes it one again: it stays an ancestor. */
			if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.file_rules), &key,
			                        &old) ||
			    old.rule_id[VIGIL_FA_SELF_ONLY] != VIGIL_FILE_SELF_CREATED)
				return 0;
			r = bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_rules), &key, &val,
			                        BPF_ANY);
		}
	} else {
		for (acc = VIGIL_FA_WRITE; acc <= VIGIL_FA_LINK; acc++)
			val.action[acc] = VIGIL_ACT_DENY;
		r = bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_rules), &key, &val, BPF_ANY);
	}
	if (r < 0)
		return log_error_errno(-errno, "protecting %s", what);
	log_debug("self-protection: %s %s", kind == PROTECT_TREE ? "tree" : "ancestor", what);
	return 0;
}

/* Every directory above path, up to the root: replacing one would replace what lies below. */
static int protect_ancestors(struct agent *a, const char *path)
{
	char buf[PATH_MAX], *slash;
	struct stat st;
	int r;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		return 0;
	strcpy(buf, path);
	while ((slash = strrchr(buf, '/'))) {
		slash[slash == buf] = 0; /* "/x" -> "/", "/a/b" -> "/a" */
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (r = protect_identity(a, policy_kdev(st.st_dev), st.st_ino, PROTECT_ANCESTOR,
		                          buf)) < 0)
			return r;
		if (slash == buf)
			break;
	}
	return 0;
}

/* No write, create, unlink, rename, link or metadata change on the file or beneath the directory,
 * nor on the directories above it. */
static int protect_tree(struct agent *a, const char *path)
{
	char real[PATH_MAX];
	struct stat st;
	int r;

	if (!path || stat(path, &st) < 0)
		return 0;
	r = protect_identity(a, policy_kdev(st.st_dev), st.st_ino, PROTECT_TREE, path);
	if (r < 0)
		return r;
	return realpath(path, real) ? protect_ancestors(a, real) : 0;
}

/*
 * Whether the creation program (bpf/platform.bpf.h vigil_platform_init_security) sees what is
 * created in dir: its filesystem must call security_inode_init_security (ext4 without
 * CONFIG_EXT4_FS_SECURITY, FUSE, 9p, NFS, vfat, overlayfs' own inodes and ramfs before 6.7 do
 * not). Found by trying, not from a list: an O_TMPFILE in dir while the program watches for dir's
 * device (platform_probe_dev). A read-only filesystem needs nothing: nobody creates there.
 * Results are kept per device for one load (probes).
 */
struct fs_probes {
	uint64_t dev[32];
	bool labels[32];
	size_t n;
};

static bool fs_labels_new_inodes(struct agent *a, struct fs_probes *pr, const char *dir,
                                 uint64_t kdev, bool *fresh)
{
	struct vigil_bpf__bss *bss = a->skel->bss;
	bool seen;
	size_t i;
	int fd;

	*fresh = false;
	for (i = 0; i < pr->n; i++)
		if (pr->dev[i] == kdev)
			return pr->labels[i];
	*fresh = true;
	__atomic_store_n(&bss->platform_probe_seen, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&bss->platform_probe_dev, (uint32_t)kdev, __ATOMIC_RELEASE);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	seen = fd < 0 ? errno == EROFS : true;
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&bss->platform_probe_dev, 0, __ATOMIC_RELEASE);
	if (fd >= 0)
		seen = __atomic_load_n(&bss->platform_probe_seen, __ATOMIC_ACQUIRE) != 0;
	if (pr->n < sizeof(pr->dev) / sizeof(pr->dev[0])) {
		pr->dev[pr->n] = kdev;
		pr->labels[pr->n++] = seen;
	}
	return seen;
}

/*
 * True unless the kernel is known not to preempt kernel code (preemption "none" or
 * "voluntary"): a tracing program is skipped, silently, when it is entered on a CPU where
 * another task was preempted inside it (the program's per-CPU recursion guard), and an LSM
 * program is not. The model: uname's flags (PREEMPT_RT; PREEMPT_DYNAMIC with the boot default
 * PREEMPT or not), then, for a dynamic one, debugfs' sched/preempt or preempt= on the command
 * line. *why names it for the log.
 */
static bool kernel_may_preempt(char *why, size_t len)
{
	char buf[256], *p, *q;
	struct utsname u;
	bool dynamic, full;
	FILE *f;

	if (uname(&u) < 0) {
		snprintf(why, len, "unknown (uname failed)");
		return true;
	}
	dynamic = strstr(u.version, "PREEMPT_DYNAMIC") != NULL;
	full = strstr(u.version, "PREEMPT ") != NULL || strstr(u.version, "PREEMPT_RT") ||
	       strstr(u.version, "PREEMPT_LAZY") ||
	       (strlen(u.version) >= 8 && !strcmp(u.version + strlen(u.version) - 8, " PREEMPT"));
	if (!dynamic || strstr(u.version, "PREEMPT_RT")) {
		snprintf(why, len, "%s (uname)", full ? "preemptible" : "not preemptible");
		return full;
	}
	/* "none (voluntary) full": the model in use in parentheses */
	f = fopen("/sys/kernel/debug/sched/preempt", "re");
	if (f && fgets(buf, sizeof(buf), f) && (p = strchr(buf, '(')) && (q = strchr(p, ')'))) {
		fclose(f);
		*q = 0;
		snprintf(why, len, "%s (debugfs sched/preempt)", p + 1);
		return strcmp(p + 1, "none") != 0 && strcmp(p + 1, "voluntary") != 0;
	}
	if (f)
		fclose(f);
	f = fopen("/proc/cmdline", "re");
	if (f && fgets(buf, sizeof(buf), f) && (p = strstr(buf, "preempt="))) {
		fclose(f);
		p += strlen("preempt=");
		p[strcspn(p, " \n")] = 0;
		snprintf(why, len, "%s (preempt= on the command line)", p);
		return strcmp(p, "none") != 0 && strcmp(p, "voluntary") != 0;
	}
	if (f)
		fclose(f);
	snprintf(why, len, "%s (the kernel's default)", full ? "full" : "voluntary");
	return full;
}

/*
 * The d_instantiate program, attached (and pinned) from the first load that needs it: a
 * protected_names directory the creation program does not see, or a kernel that may preempt it.
 * It stays attached until vigild stops. Before the skeleton's own attach at start, it is pinned
 * with the others then.
 */
static int attach_instantiate(struct agent *a, const char *reason)
{
	struct bpf_link *link;

	if (reason)
		log_info("self-protection: %s: platform code created after a load is caught by the "
		         "d_instantiate program too, which runs on every socket(), pipe and dcache "
		         "miss",
		         reason);
	if (a->skel->links.vigil_platform_instantiate)
		return 0;
	link = bpf_program__attach(a->skel->progs.vigil_platform_instantiate);
	if (!link)
		return log_error_errno(-errno, "attaching the d_instantiate program");
	a->skel->links.vigil_platform_instantiate = link;
	return a->links_attached ? agent_pin_link(a, "vigil_platform_instantiate", link) : 0;
}

/* A name only the platform may create in the existing directory dir; flags: VIGIL_NAME_*. */
static int protect_name(struct agent *a, struct fs_probes *pr, const char *dir, const char *name,
                        uint32_t flags)
{
	struct vigil_protect_val val = {.kind = VIGIL_PROT_TREE, .flags = flags};
	struct vigil_name_key key;
	char why[PATH_MAX + 96];
	struct statfs sf;
	struct stat st;
	uint64_t bit;
	bool fresh;
	int r;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (!fs_labels_new_inodes(a, pr, dir, policy_kdev(st.st_dev), &fresh)) {
		snprintf(why, sizeof(why),
		         "%s is on a filesystem that does not label new inodes (type 0x%lx)", dir,
		         statfs(dir, &sf) == 0 ? (unsigned long)sf.f_type : 0ul);
		if ((r = attach_instantiate(a, fresh ? why : NULL)) < 0)
			return r;
	}
	if (strlen(name) >= sizeof(key.name))
		return log_error_errno(-ENAMETOOLONG, "protecting the name %s in %s", name, dir);
	memset(&key, 0, sizeof(key));
	key.dev = policy_kdev(st.st_dev);
	key.dir_ino = st.st_ino;
	memcpy(key.name, name, strlen(name));
	/* The directory's filter bit first: a name whose bit is clear is never looked up. */
	bit = vigil_name_dir_bit(key.dev, key.dir_ino);
	__atomic_fetch_or(&a->skel->bss->name_dir_bits[bit >> 6], 1ull << (bit & 63),
	                  __ATOMIC_RELEASE);
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.protected_names), &key, &val, BPF_ANY))
		return log_error_errno(-errno, "protecting the name %s in %s", name, dir);
	log_debug("self-protection: name %s in %s", name, dir);
	return 0;
}

/*
 * One platform-code path. Present: the file or tree (and, for a symlink, the link itself) is
 * immutable. Its name in its directory, and for a missing path the first missing component in
 * the deepest directory that exists, may not be created by the scope: removing the name is
 * already refused, so this only matters for what is absent at start.
 */
static int protect_platform_path(struct agent *a, struct fs_probes *pr, const char *path,
                                 uint32_t flags)
{
	char dir[PATH_MAX], first[VIGIL_NAME_MAX], *slash;
	const char *name;
	struct stat st;
	size_t n;
	int r;

	if (strlen(path) >= sizeof(dir))
		return 0;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode) &&
		    (r = protect_identity(a, policy_kdev(st.st_dev), st.st_ino, PROTECT_TREE,
		                          path)) < 0)
			return r;
		if ((r = protect_tree(a, path)) < 0)
			return r;
	}
	strcpy(dir, path);
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			return 0;
		*slash = 0;
		name = path + (slash - dir) + 1;
		if (lstat(dir[0] ? dir : "/", &st) == 0)
			break;
	}
	/* name runs to the end of path: only its first component is created in dir */
	n = strcspn(name, "/");
	if (n >= sizeof(first))
		return log_error_errno(-ENAMETOOLONG, "protecting %s", path);
	memcpy(first, name, n);
	first[n] = 0;
	if ((r = protect_name(a, pr, dir[0] ? dir : "/", first, flags)) < 0)
		return r;
	return protect_ancestors(a, path);
}

static int protect_platform_code(struct agent *a)
{
	struct vigil_protect_val val = {.kind = VIGIL_PROT_TREE};
	struct fs_probes pr = {.n = 0};
	char why[192], model[96];
	struct vigil_file_key key;
	const char *const *s;
	struct stat st;
	int r;

	/* The creation program first (at start, before the others): the probes watch it. */
	if (!a->skel->links.vigil_platform_init_security) {
		struct bpf_link *link =
		    bpf_program__attach(a->skel->progs.vigil_platform_init_security);

		if (!link)
			return log_error_errno(-errno, "attaching the creation program");
		a->skel->links.vigil_platform_init_security = link;
		if (a->links_attached &&
		    (r = agent_pin_link(a, "vigil_platform_init_security", link)) < 0)
			return r;
	}
	/* The creation program is a tracing program: where the kernel may preempt it, a task
	 * preempted inside it makes it skip the next creation on that CPU (kernel_may_preempt). */
	if (kernel_may_preempt(model, sizeof(model))) {
		snprintf(why, sizeof(why), "the kernel may preempt kernel code (preemption: %s)",
		         model);
		if ((r = attach_instantiate(
		         a, a->skel->links.vigil_platform_instantiate ? NULL : why)) < 0)
			return r;
	}
	for (s = platform_code; *s; s++)
		if ((r = protect_platform_path(a, &pr, *s, 0)) < 0)
			return r;
	for (s = platform_sockets; *s; s++) {
		if ((r = protect_platform_path(a, &pr, *s, VIGIL_NAME_SOCKET)) < 0)
			return r;
		if (stat(*s, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue; /* not (yet) there: its name is protected */
		memset(&key, 0, sizeof(key));
		key.dev = policy_kdev(st.st_dev);
		key.ino = st.st_ino;
		if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.platform_socks), &key, &val,
		                        BPF_ANY))
			return log_error_errno(-errno, "protecting the socket %s", *s);
		log_debug("self-protection: platform socket %s", *s);
	}
	return 0;
}

/*
 * The generation-0 entries the kernel added for platform code created since the last load
 * (platform_created), collected before the paths are protected again: what is still marked
 * VIGIL_FILE_SELF_CREATED afterwards no longer sits at a platform-code path (removed, or replaced
 * by a newer file). At most VIGIL_MAX_PROTECTED keys (an LRU map).
 */
struct created_keys {
	struct vigil_file_key keys[VIGIL_MAX_PROTECTED];
	size_t n;
};

static void collect_created(struct agent *a, struct created_keys *c)
{
	int fd = bpf_map__fd(a->skel->maps.platform_created);
	struct vigil_file_key key, next;
	void *prev = NULL;

	c->n = 0;
	while (c->n < VIGIL_MAX_PROTECTED && bpf_map_get_next_key(fd, prev, &next) == 0) {
		c->keys[c->n++] = next;
		key = next;
		prev = &key;
	}
}

static void drop_created(struct agent *a, const struct created_keys *c)
{
	int rules = bpf_map__fd(a->skel->maps.file_rules);
	int created = bpf_map__fd(a->skel->maps.platform_created);
	struct vigil_file_val val;
	size_t i, n = 0;

	for (i = 0; i < c->n; i++) {
		bpf_map_delete_elem(created, &c->keys[i]);
		if (bpf_map_lookup_elem(rules, &c->keys[i], &val) ||
		    val.rule_id[VIGIL_FA_SELF_ONLY] != VIGIL_FILE_SELF_CREATED)
			continue; /* protected again by its path */
		if (bpf_map_delete_elem(rules, &c->keys[i]) == 0)
			n++;
	}
	if (n)
		log_info("self-protection: %zu stale entries of created platform code dropped", n);
}

/* A secret: also no open for reading by anyone but vigild (see is_secret in self.bpf.h). */
static int protect_secret(struct agent *a, const char *path)
{
	struct vigil_bpf__bss *bss = a->skel->bss;
	const unsigned int n_slots = sizeof(bss->self_secret_ino) / sizeof(bss->self_secret_ino[0]);
	struct stat st;
	unsigned int i;
	uint64_t kdev;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* not created (no audit log, or a TPM-held key): nothing to hide */
	kdev = policy_kdev(st.st_dev);
	for (i = 0; i < n_slots; i++) {
		if (bss->self_secret_ino[i] == st.st_ino && bss->self_secret_dev[i] == kdev)
			break;
		if (bss->self_secret_ino[i] == 0) {
			/* The filter bit first: the kernel looks at the slots only when it is set.
			 */
			__atomic_fetch_or(&bss->self_secret_bits, 1ull << (st.st_ino & 63),
			                  __ATOMIC_RELEASE);
			bss->self_secret_dev[i] = kdev;
			__atomic_store_n(&bss->self_secret_ino[i], (uint64_t)st.st_ino,
			                 __ATOMIC_RELEASE);
			break;
		}
	}
	if (i == n_slots)
		return log_error_errno(-ENOSPC, "protecting the secret %s: no free slot", path);
	log_debug("self-protection: secret %s", path);
	return protect_tree(a, path);
}

/*
 * Every file pid maps (its binary, the loader, the libraries, dlopen()ed modules): code that
 * runs in the trusted base. /proc/PID/maps gives the kernel's (dev, ino) of each mapping, so a
 * renamed or hidden path cannot mislead; the path is only used for its ancestors.
 */
static int protect_maps_of(struct agent *a, const char *pid)
{
	char path[64], line[PATH_MAX + 128], last[PATH_MAX] = "";
	unsigned int maj, min;
	unsigned long long ino;
	FILE *f;
	int n, r = 0, count = 0;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return log_error_errno(-errno, "self-protection: reading %s", path);
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char *file;

		n = 0;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &maj, &min, &ino, &n) != 3 || !n ||
		    ino == 0)
			continue; /* anonymous memory */
		file = line + n;
		file[strcspn(file, "\n")] = 0;
		/* Deleted files and memfds cannot be reached by name; special files are not code.
		 */
		if (file[0] != '/' || strstr(file, " (deleted)") ||
		    strncmp(file, "/dev/", 5) == 0 || strcmp(file, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", file);
		r = protect_identity(a, ((uint64_t)maj << 20) | min, ino, PROTECT_TREE, file);
		if (r == 0)
			r = protect_ancestors(a, file);
		count++;
	}
	fclose(f);
	if (r == 0)
		log_debug("self-protection: %d files mapped by %s", count, pid);
	return r;
}

/*
 * The system trees on or off (a policy load may change the scope or the knob): a tree entry, or
 * back to an ancestor entry (the directory itself stays protected: it is above vigild's files or
 * the loader). A symlink among them (/lib -> usr/lib) is a tree always: replacing it would
 * redirect every path through it.
 */
static int protect_system_trees(struct agent *a, bool on)
{
	struct vigil_file_val val;
	struct vigil_file_key key;
	const char *const *s;
	unsigned int acc;
	struct stat st;
	int r;

	for (s = system_trees; *s; s++) {
		if (lstat(*s, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if ((r = protect_identity(a, policy_kdev(st.st_dev), st.st_ino,
			                          PROTECT_TREE, *s)) < 0)
				return r;
			if (stat(*s, &st) < 0)
				continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		memset(&val, 0, sizeof(val));
		memset(&key, 0, sizeof(key));
		key.dev = policy_kdev(st.st_dev);
		key.ino = st.st_ino;
		if (on) {
			for (acc = VIGIL_FA_WRITE; acc <= VIGIL_FA_LINK; acc++)
				val.action[acc] = VIGIL_ACT_DENY;
		} else {
			val.action[VIGIL_FA_SELF_ONLY] = VIGIL_ACT_DENY;
		}
		if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_rules), &key, &val, BPF_ANY))
			return log_error_errno(-errno, "protecting %s", *s);
		log_debug("self-protection: system %s %s", on ? "tree" : "ancestor", *s);
	}
	return 0;
}

/*
 * Adds the cgroup of pid ("self", "1") and its ancestors below the root to ids (by inode
 * number, the kernel's cgroup id), without duplicates. A cgroup v1-only task has no 0:: line:
 * nothing to add.
 */
static int guard_cgroups_of(struct agent *a, const char *pid, uint64_t *ids, size_t *n)
{
	char buf[4096], dir[4096 + 256];
	const size_t max = VIGIL_GUARD_CGROUPS;
	char *cg, *slash;
	int r;

	r = agent_pid_cgroup(pid, buf, sizeof(buf), &cg);
	if (r < 0) {
		log_info("warning: cgroup guard: reading /proc/%s/cgroup: %s", pid, strerror(-r));
		return r;
	}
	if (!cg)
		return 0;
	if (strstr(cg, " (deleted)")) {
		log_info("warning: cgroup guard: /proc/%s/cgroup names a removed cgroup", pid);
		return -ENOENT;
	}
	/* The cgroup, then each ancestor; the root's files (no freeze, no kill) stay writable. */
	while (strcmp(cg, "/") != 0 && cg[0] == '/') {
		struct stat st;
		size_t i;

		snprintf(dir, sizeof(dir), "%s%s", a->opt.cgroup_root, cg);
		if (stat(dir, &st) < 0) {
			r = -errno;
			log_info("warning: cgroup guard: %s: %s", dir, strerror(-r));
			return r;
		}
		for (i = 0; i < *n && ids[i] != (uint64_t)st.st_ino; i++)
			;
		if (i == *n) {
			if (*n == max) {
				log_info(
				    "warning: cgroup guard: more than %zu cgroups above vigild "
				    "and PID 1",
				    max);
				return -E2BIG;
			}
			ids[(*n)++] = st.st_ino;
		}
		slash = strrchr(cg, '/');
		if (slash == cg)
			break;
		*slash = 0;
	}
	return 0;
}

/*
 * vigild's and PID 1's cgroups and their ancestors: under a guest-wide scope, where every cgroup
 * is the workload's, their control files (freeze, kill, limits) stay the platform's
 * (bpf/bound.bpf.h cgroupfs_write_ok). Published after every policy load, as the maps are.
 */
static int protect_cgroups(struct agent *a)
{
	uint64_t ids[VIGIL_GUARD_CGROUPS] = {0};
	size_t n = 0, i;
	int r;

	if ((r = guard_cgroups_of(a, "self", ids, &n)) < 0 ||
	    (r = guard_cgroups_of(a, "1", ids, &n)) < 0)
		return r;
	/* The new set first, then the tail cleared: a reader stops at the first 0. */
	for (i = 0; i < VIGIL_GUARD_CGROUPS; i++)
		if (i < n)
			__atomic_store_n(&a->skel->bss->guard_cgroup_ids[i], ids[i],
			                 __ATOMIC_RELEASE);
	for (i = n; i < VIGIL_GUARD_CGROUPS; i++)
		__atomic_store_n(&a->skel->bss->guard_cgroup_ids[i], 0, __ATOMIC_RELEASE);
	return 0;
}

int agent_self_protect_maps(struct agent *a)
{
	const struct policy *p = a->cur.policy;
	int r = protect_maps_of(a, "self");

	/* PID 1 is the platform: its code is part of the trusted base too. */
	if (r == 0)
		r = protect_maps_of(a, "1");
	/* Unguarded cgroups are said, not fatal: a host without cgroup2 at --cgroup-root (v1,
	 * hybrid) has none of these files, and a vigild that refused to start would enforce
	 * nothing. */
	if (r == 0 && protect_cgroups(a) < 0)
		log_info("warning: vigild's and PID 1's cgroups are not guarded under a guest-wide "
		         "scope (above)");
	/* Again after every policy load: platform code the platform created since (a first
	 * /etc/ld.so.preload, a unit directory, a daemon's new socket) was protected by the kernel
	 * when it appeared (bpf/platform.bpf.h); its path now protects it, and the kernel's entries
	 * for what is gone are dropped (the map has room for VIGIL_MAX_PROTECTED). */
	if (r == 0) {
		static struct created_keys c; /* 6 KiB: one load at a time, in the main loop */

		collect_created(a, &c);
		r = protect_platform_code(a);
		if (r == 0)
			drop_created(a, &c);
	}
	/* No policy yet: nothing names a scope, so nothing is taken from anyone. */
	return r < 0 ? r : protect_system_trees(a, p && !p->scope_guest && !p->system_writable);
}

/* The TPM character devices (/dev/tpm0, /dev/tpmrm0, ...) present at start. */
static int protect_tpm_devices(struct agent *a)
{
	DIR *d = opendir("/dev");
	struct dirent *de;
	int r = 0;

	if (!d)
		return 0;
	while (r == 0 && (de = readdir(d))) {
		char path[300];

		if (strncmp(de->d_name, "tpm", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		r = protect_device(a, path);
	}
	closedir(d);
	return r;
}

static int protect_files(struct agent *a, const char *exe)
{
	char cli[PATH_MAX + 8], dir[PATH_MAX], key[PATH_MAX + 32];
	const char *const *s;
	int r;

	snprintf(dir, sizeof(dir), "%s", exe);
	snprintf(cli, sizeof(cli), "%s/vigil", dirname(dir));
	if ((r = protect_tree(a, exe)) < 0 || (r = protect_tree(a, cli)) < 0)
		return r;
	for (s = protected_dirs; *s; s++)
		if ((r = protect_tree(a, *s)) < 0)
			return r;
	if ((r = protect_tree(a, a->opt.state_dir)) < 0 ||
	    (r = protect_tree(a, a->opt.trust_dir)) < 0 ||
	    (r = protect_tree(a, a->opt.policy_path)) < 0 ||
	    (r = protect_tree(a, a->opt.bundle_path)) < 0 ||
	    (r = protect_tree(a, a->opt.measure_log)) < 0)
		return r;
	if (a->opt.audit_dir && strcmp(a->opt.audit_dir, "none") != 0 &&
	    (r = protect_tree(a, a->opt.audit_dir)) < 0)
		return r;
	if (a->opt.state_dir) {
		/* The file key signs checkpoints; the TPM blob loads only in this TPM, which the
		 * scope cannot open, but nothing in the scope needs to read it either. */
		snprintf(key, sizeof(key), "%s/%s", a->opt.state_dir, AUDIT_KEY_FILE);
		if ((r = protect_secret(a, key)) < 0)
			return r;
		snprintf(key, sizeof(key), "%s/%s", a->opt.state_dir, AUDIT_KEY_TPM);
		if ((r = protect_secret(a, key)) < 0)
			return r;
	}
	if (a->opt.event_log_path && strcmp(a->opt.event_log_path, "-") != 0)
		return protect_tree(a, a->opt.event_log_path);
	return 0;
}

int agent_self_protect(struct agent *a)
{
	char exe[PATH_MAX];
	const char *const *s;
	struct stat st;
	ssize_t n;
	int r;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0 || stat("/proc/self/exe", &st) < 0)
		return log_error_errno(-errno, "self-protection: cannot identify vigild's binary");
	exe[n] = 0;
	a->skel->bss->agent_exe_dev = policy_kdev(st.st_dev);
	__atomic_store_n(&a->skel->bss->agent_exe_ino, (uint64_t)st.st_ino, __ATOMIC_RELEASE);
	if ((r = protect_tpm_devices(a)) < 0)
		return r;
	for (s = protected_devices; *s; s++)
		if ((r = protect_device(a, *s)) < 0)
			return r;
	if ((r = protect_files(a, exe)) < 0)
		return r;
	return agent_self_protect_maps(a);
}
