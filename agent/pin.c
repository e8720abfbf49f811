/* Pinning: maps and links live in bpffs, so enforcement outlasts vigild; a new vigild adopts them.
 */
#include "agent/agent.h"
#include "lib/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil.skel.h"

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX], *s;

	snprintf(path, sizeof(path), "%s", dir);
	for (s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The pinned ring buffer outlives vigild (events wait in it across a restart), so its size is
 * the one it was created with: a different --ringbuf-size would make libbpf refuse the pin.
 * Adopted as it is, said once; a new size takes `vigild --unload` first (fail open on a tuning
 * option: keeping enforcement and the waiting events matters more).
 */
static void adopt_ringbuf_size(struct vigil_bpf *skel, const char *pin)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), want = bpf_map__max_entries(skel->maps.events);
	int fd = bpf_obj_get(pin);

	if (fd < 0)
		return; /* libbpf's load reports it */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.max_entries != want) {
		log_info("the pinned ring buffer has %u bytes, not %u: keeping it (a new size "
		         "needs 'vigild --unload' first)",
		         info.max_entries, want);
		bpf_map__set_max_entries(skel->maps.events, info.max_entries);
	}
	close(fd);
}

/*
 * Called between open and load: every map gets a pin path. libbpf reuses a compatible pinned
 * map (its content, .bss with active_gen included, stays) or creates and pins a new one.
 */
int agent_pin_maps(struct agent *a, struct vigil_bpf *skel)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], probe[PATH_MAX + 16];
	struct bpf_map *map;
	struct stat st;
	int r;

	snprintf(dir, sizeof(dir), "%s/maps", a->opt.pin_dir);
	r = mkdir_p(dir);
	if (r < 0)
		return log_error_errno(r, "creating %s (is bpffs mounted on /sys/fs/bpf?)", dir);
	snprintf(probe, sizeof(probe), "%s/events", dir);
	a->adopting = stat(probe, &st) == 0;
	bpf_object__for_each_map(map, skel->obj)
	{
		char *c;

		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		/* bpffs refuses names with a dot (vigil_bp.bss). */
		for (c = path + strlen(dir) + 1; *c; c++)
			if (*c == '.')
				*c = '_';
		r = bpf_map__set_pin_path(map, path);
		if (r < 0)
			return log_error_errno(r, "pin path for map %s", bpf_map__name(map));
	}
	if (a->adopting) {
		log_info("adopting the maps pinned in %s: enforcement continues meanwhile", dir);
		adopt_ringbuf_size(skel, probe);
	}
	return 0;
}

/* BPFFS/links, created if missing, into dir (PATH_MAX bytes). */
static int links_dir(struct agent *a, char *dir)
{
	int r;

	snprintf(dir, PATH_MAX, "%s/links", a->opt.pin_dir);
	r = mkdir_p(dir);
	return r < 0 ? log_error_errno(r, "creating %s", dir) : 0;
}

/* Pins link at dir/name; a link pinned there before is released only after, so no gap. */
static int pin_at(const char *dir, const char *name, struct bpf_link *link, int *replaced)
{
	char path[PATH_MAX + 256];
	struct bpf_link *old;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* Only an adopted pin is opened: libbpf warns about every missing one. */
	old = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
	if (old) {
		unlink(path);
		(*replaced)++;
	}
	r = link ? bpf_link__pin(link, path) : 0;
	bpf_link__destroy(old); /* drops the last reference: the old program detaches */
	return r < 0 ? log_error_errno(r, "pinning link %s", path) : 0;
}

int agent_pin_link(struct agent *a, const char *name, struct bpf_link *link)
{
	char dir[PATH_MAX];
	int replaced = 0, r = links_dir(a, dir);

	return r < 0 ? r : pin_at(dir, name, link, &replaced);
}

/*
 * Pins each new link under its program's name. An old link pinned there is released only
 * after the new one is attached, so both run for a moment and there is no gap. A program this
 * vigild loaded but did not attach (the d_instantiate program where no directory needs it)
 * releases an earlier vigild's link of that name.
 */
int agent_pin_links(struct agent *a)
{
	const struct bpf_object_skeleton *s = a->skel->skeleton;
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;
	int i, r, replaced = 0;

	if ((r = links_dir(a, dir)) < 0)
		return r;
	for (i = 0; i < s->prog_cnt; i++)
		if ((r = pin_at(dir, s->progs[i].name, *s->progs[i].link, &replaced)) < 0)
			return r;
	/* Links of programs this vigild no longer has (an upgrade removed them). */
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		bool known = false;

		for (i = 0; i < s->prog_cnt && !known; i++)
			known = strcmp(de->d_name, s->progs[i].name) == 0;
		if (!known && de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
			log_info("removed the stale pinned link %s", de->d_name);
		}
	}
	if (d)
		closedir(d);
	if (replaced)
		log_info("adopted: %d pinned links replaced by this vigild's programs", replaced);
	return 0;
}

/* Deletes entries of every generation but keep (and 0, self-protection) from one map. */
static void sweep_map(struct bpf_map *map, size_t gen_off, uint32_t keep)
{
	int fd = bpf_map__fd(map);
	size_t ksz = bpf_map__key_size(map);
	unsigned char *key = calloc(2, ksz), *next = key + ksz;
	bool first = true;
	unsigned int deleted = 0;

	if (!key)
		return;
	/* Restart after each delete: get_next_key after a deleted key may skip entries. */
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		uint32_t gen;

		memcpy(&gen, next + gen_off, sizeof(gen));
		memcpy(key, next, ksz);
		first = false;
		if (gen == keep || gen == 0)
			continue;
		if (bpf_map_delete_elem(fd, next) == 0) {
			deleted++;
			first = true;
		}
	}
	if (deleted)
		log_info("adopted: removed %u entries of older generations from %s", deleted,
		         bpf_map__name(map));
	free(key);
}

void agent_cfg_clear(struct agent *a, uint32_t gen)
{
	int fd = bpf_map__fd(a->skel->maps.policy_cfg);
	uint32_t slot = gen % VIGIL_CFG_SLOTS;
	struct vigil_policy_cfg cfg, zero = {0};

	if (bpf_map_lookup_elem(fd, &slot, &cfg) == 0 && cfg.gen == gen)
		bpf_map_update_elem(fd, &slot, &zero, BPF_ANY);
}

void agent_sweep_generations(struct agent *a, uint32_t keep)
{
	struct vigil_bpf_maps_sweep {
		struct bpf_map *map;
		size_t gen_off;
	} maps[] = {
	    {a->skel->maps.scope_cgroups, offsetof(struct vigil_scope_key, gen)},
	    {a->skel->maps.exec_allow, offsetof(struct vigil_exec_key, gen)},
	    {a->skel->maps.net_rules, offsetof(struct vigil_net_key, gen)},
	    {a->skel->maps.file_rules, offsetof(struct vigil_file_key, gen)},
	    {a->skel->maps.key_rules, offsetof(struct vigil_key_key, gen)},
	    {a->skel->maps.key_exes, offsetof(struct vigil_file_key, gen)},
	};
	uint32_t slot;
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		sweep_map(maps[i].map, maps[i].gen_off, keep);
	/* policy_cfg is an array: clear the slots of other generations. */
	for (slot = 0; slot < VIGIL_CFG_SLOTS; slot++) {
		struct vigil_policy_cfg cfg;

		if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.policy_cfg), &slot, &cfg) == 0 &&
		    cfg.gen && cfg.gen != keep)
			agent_cfg_clear(a, cfg.gen);
	}
}

static int remove_dir(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			n++;
	}
	closedir(d);
	rmdir(dir);
	return n;
}

/* Opens a pinned map of pin_dir by its pin name; -errno. */
static int pinned_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/*
 * The scope of the generation the pins enforce, read from the pinned maps. Anything unreadable
 * reads as a whole-guest scope, under which only the service manager is the platform (fail
 * closed). Returns -ENOENT when nothing is pinned.
 */
static int pinned_scope(const char *pin_dir, struct agent_scope *s, uint64_t *ids, size_t cap)
{
	struct vigil_bpf__bss bss;
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info), zero = 0, slot;
	struct vigil_policy_cfg cfg;
	struct vigil_scope_key key = {0}, next;
	int bss_fd, cfg_fd = -1, scope_fd = -1;
	unsigned char *val = NULL;
	size_t n = 0;

	*s = (struct agent_scope){.guest = true};
	bss_fd = pinned_map(pin_dir, "vigil_bp_bss");
	if (bss_fd == -ENOENT)
		return -ENOENT;
	if (bss_fd < 0 || bpf_obj_get_info_by_fd(bss_fd, &info, &len) < 0 ||
	    info.value_size <
	        offsetof(struct vigil_bpf__bss, active_gen) + sizeof(bss.active_gen) ||
	    !(val = calloc(1, info.value_size)) || bpf_map_lookup_elem(bss_fd, &zero, val) < 0)
		goto out;
	memcpy(&bss.active_gen, val + offsetof(struct vigil_bpf__bss, active_gen),
	       sizeof(bss.active_gen));
	slot = bss.active_gen % VIGIL_CFG_SLOTS;
	cfg_fd = pinned_map(pin_dir, "policy_cfg");
	if (!bss.active_gen || cfg_fd < 0 || bpf_map_lookup_elem(cfg_fd, &slot, &cfg) < 0 ||
	    cfg.gen != bss.active_gen || (cfg.flags & VIGIL_CFG_SCOPE_GUEST))
		goto out;
	if (cfg.flags & VIGIL_CFG_SCOPE_INLINE) {
		for (n = 0; n < cfg.n_scope && n < VIGIL_CFG_SCOPE_MAX && n < cap; n++)
			ids[n] = cfg.scope_id[n];
	} else {
		scope_fd = pinned_map(pin_dir, "scope_cgroups");
		if (scope_fd < 0)
			goto out;
		bool first = true;

		while (bpf_map_get_next_key(scope_fd, first ? NULL : &key, &next) == 0) {
			first = false;
			key = next;
			if (next.gen != bss.active_gen)
				continue;
			if (n == cap)
				goto out; /* more than we can hold: fail closed */
			ids[n++] = next.cgroup_id;
		}
	}
	*s = (struct agent_scope){.guest = false, .ids = ids, .n = n};
out:
	free(val);
	if (scope_fd >= 0)
		close(scope_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (bss_fd >= 0)
		close(bss_fd);
	return 0;
}

/*
 * vigild --unload: the deliberate end of enforcement (links first, then maps), for the platform
 * only. The kernel already lets only the platform start vigild's binary; this is the same test
 * once more, against the policy the pins enforce: a caller inside its cgroup scope is refused;
 * under a whole-guest scope only PID 1 and its direct children (the service manager's
 * ExecStop=), as the kernel's vigil_self_exec decides.
 */
int agent_unload(const char *pin_dir, const char *cgroup_root)
{
	char dir[PATH_MAX + 16];
	uint64_t ids[4096];
	struct agent_scope scope;
	int links, maps, r;

	r = pinned_scope(pin_dir, &scope, ids, sizeof(ids) / sizeof(ids[0]));
	if (r == 0) {
		bool platform = scope.guest
		                    ? getppid() == 1 || getpid() == 1
		                    : agent_pid_is_platform(cgroup_root, &scope, getpid()) > 0;

		if (!platform) {
			log_error("--unload: refused: the caller is not the platform (it is in the "
			          "scope of the policy the pins enforce); enforcement continues");
			return -EPERM;
		}
	}
	snprintf(dir, sizeof(dir), "%s/links", pin_dir);
	links = remove_dir(dir);
	snprintf(dir, sizeof(dir), "%s/maps", pin_dir);
	maps = remove_dir(dir);
	rmdir(pin_dir);
	log_info("unloaded: %d pinned links and %d pinned maps removed; vigil no longer enforces",
	         links, maps);
	return 0;
}

/* SIGUSR2 (restart, upgrade): re-executes vigild in place; the pins hold enforcement meanwhile. */
void agent_reexec(struct agent *a, char **argv)
{
	log_info("SIGUSR2: re-executing /proc/self/exe; the pinned programs keep enforcing");
	agent_events_close(a);
	execv("/proc/self/exe", argv);
	log_error_errno(-errno, "re-exec failed; exiting, enforcement stays pinned");
	exit(1);
}

/*
 * With kernel.bpf_stats_enabled=1, the kernel times every program run: one log line per
 * program that ran, so an operator (and bench/) sees what each hook costs per call.
 */
void agent_log_prog_stats(struct agent *a)
{
	const struct bpf_object_skeleton *s = a->skel->skeleton;
	int i;

	for (i = 0; i < s->prog_cnt; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(*s->progs[i].prog), &info, &len) < 0 ||
		    !info.run_cnt)
			continue;
		log_info("program %s: %llu runs, %llu ns in all, %.1f ns per run", s->progs[i].name,
		         (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
		         (double)info.run_time_ns / (double)info.run_cnt);
	}
}
