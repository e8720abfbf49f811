/* Self-protection setup: which devices and files are vigild's alone, before any program runs. */
#include "agent/agent.h"
#include "agent/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vigil.skel.h"

/* Character devices that produce or extend measurements and quotes. */
static const char *const protected_devices[] = {"/dev/tdx_guest", "/dev/sev-guest", NULL};
/* vigil's config, state and logs; binaries and the files named on the command line join them. */
static const char *const protected_dirs[] = {"/etc/vigil", "/var/lib/vigil", "/var/log/vigil",
                                             NULL};

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

/* No write, create, unlink, rename or link on the file or anything beneath the directory. */
static int protect_tree(struct agent *a, const char *path)
{
	struct vigil_file_val val;
	struct vigil_file_key key;
	struct stat st;
	unsigned int acc;

	if (!path || stat(path, &st) < 0)
		return 0;
	memset(&val, 0, sizeof(val));
	memset(&key, 0, sizeof(key));
	key.dev = policy_kdev(st.st_dev);
	key.ino = st.st_ino;
	for (acc = VIGIL_FA_WRITE; acc <= VIGIL_FA_LINK; acc++)
		val.action[acc] = VIGIL_ACT_DENY;
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_rules), &key, &val, BPF_ANY))
		return log_error_errno(-errno, "protecting %s", path);
	log_debug("self-protection: %s", path);
	return 0;
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

int agent_self_protect(struct agent *a)
{
	char exe[PATH_MAX], cli[PATH_MAX + 8];
	const char *const *s;
	struct stat st;
	ssize_t n;
	int r;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0 || stat("/proc/self/exe", &st) < 0)
		return log_error_errno(-errno, "self-protection: cannot identify vigild's binary");
	exe[n] = 0;
	a->skel->bss->agent_exe_dev = policy_kdev(st.st_dev);
	a->skel->bss->agent_exe_ino = st.st_ino;
	snprintf(cli, sizeof(cli), "%s/vigil", dirname(exe));
	if ((r = protect_tree(a, "/proc/self/exe")) < 0 || (r = protect_tree(a, cli)) < 0 ||
	    (r = protect_tpm_devices(a)) < 0)
		return r;
	for (s = protected_devices; *s; s++)
		if ((r = protect_device(a, *s)) < 0)
			return r;
	for (s = protected_dirs; *s; s++)
		if ((r = protect_tree(a, *s)) < 0)
			return r;
	if ((r = protect_tree(a, a->opt.policy_path)) < 0)
		return r;
	if (strcmp(a->opt.event_log_path, "-") != 0)
		r = protect_tree(a, a->opt.event_log_path);
	return r;
}
