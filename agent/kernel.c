/*
 * The running kernel against the BPF object (docs/KERNELS.md): every LSM hook a program attaches
 * to must exist, and a hook whose arguments changed between kernels gets the program written for
 * its signature, read from the kernel's BTF. A kernel vigil cannot serve is named at start, in
 * one line, before anything is loaded.
 */
#include "agent/agent.h"
#include "lib/log.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <string.h>
#include <sys/utsname.h>

/* The newest kernel series the VM suites ran on; newer ones are said to be untested. */
#define KERNEL_TESTED_MAJOR 6
#define KERNEL_TESTED_MINOR 12

/* Hooks whose argument count differs between kernels, and the program for each count. */
static const struct hook_variant {
	const char *hook;
	unsigned int nargs;
	const char *prog;
} hook_variants[] = {
    {"inode_setattr", 2, "vigil_self_setattr"},       /* up to 6.9 */
    {"inode_setattr", 3, "vigil_self_setattr_idmap"}, /* 6.10 on: the mount's idmap first */
    {"bpf", 3, "vigil_self_bpf"},                     /* 6.16 adds `bool kernel`: not served */
};

/*
 * Hooks some kernels lack, whose program only tidies up: without it the program stays unloaded
 * and the check it serves holds by other means. key_free (gone in 6.12) forgets a freed key's
 * entry in key_owned; without it vigild records no ownership at all (key_free_hooked), so the
 * scope changes no key: fail closed. file_ioctl_compat (6.8 on, some stable kernels): where it
 * is missing, 32-bit ioctls reach file_ioctl, whose program checks them.
 */
static const struct hook_optional {
	const char *hook;
	const char *prog;
} hook_optionals[] = {
    {"key_free", "vigil_key_free"},
    {"file_ioctl_compat", "vigil_self_ioctl_compat"},
};

static bool hook_is_optional(const char *hook, const char *prog)
{
	size_t i;

	for (i = 0; i < sizeof(hook_optionals) / sizeof(hook_optionals[0]); i++)
		if (!strcmp(hook_optionals[i].hook, hook) && !strcmp(hook_optionals[i].prog, prog))
			return true;
	return false;
}

static const char *kernel_release(void)
{
	static struct utsname u;

	return uname(&u) == 0 ? u.release : "(unknown)";
}

/* The argument count of bpf_lsm_HOOK in the kernel's BTF, or -1 when the hook does not exist. */
static int hook_nargs(const struct btf *vmlinux, const char *hook)
{
	char fn[128];
	const struct btf_type *t;
	int id;

	snprintf(fn, sizeof(fn), "bpf_lsm_%s", hook);
	id = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC);
	if (id < 0)
		return -1;
	t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
	return t && btf_is_func_proto(t) ? btf_vlen(t) : -1;
}

static void note_untested(const char *release)
{
	unsigned int major = 0, minor = 0;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return;
	if (major > KERNEL_TESTED_MAJOR ||
	    (major == KERNEL_TESTED_MAJOR && minor > KERNEL_TESTED_MINOR))
		log_info("kernel %s is newer than the newest tested (%d.%d); its LSM hooks match "
		         "vigil's programs (docs/KERNELS.md)",
		         release, KERNEL_TESTED_MAJOR, KERNEL_TESTED_MINOR);
}

int agent_kernel_check(struct bpf_object *obj, const struct btf *vmlinux, const char *release)
{
	struct bpf_program *p;
	size_t i, nv = sizeof(hook_variants) / sizeof(hook_variants[0]);

	bpf_object__for_each_program(p, obj)
	{
		const char *sec = bpf_program__section_name(p), *name = bpf_program__name(p);
		const char *hook;
		bool variant = false, match = false, other = false;
		int n;

		if (strncmp(sec, "fentry/", 7) == 0) {
			/* A kernel function traced, not a hook: it must exist (and not be inlined).
			 */
			if (btf__find_by_name_kind(vmlinux, sec + 7, BTF_KIND_FUNC) < 0) {
				log_error(
				    "kernel %s has no function %s (program %s); vigil needs 6.1 "
				    "or later (docs/KERNELS.md)",
				    release, sec + 7, name);
				return -EOPNOTSUPP;
			}
			continue;
		}
		if (strncmp(sec, "lsm/", 4) != 0)
			continue;
		hook = sec + 4;
		n = hook_nargs(vmlinux, hook);
		if (n < 0 && hook_is_optional(hook, name)) {
			bpf_program__set_autoload(p, false);
			log_debug("kernel %s has no LSM hook %s: %s stays unloaded", release, hook,
			          name);
			continue;
		}
		if (n < 0) {
			log_error(
			    "kernel %s has no LSM hook %s (program %s); vigil needs 6.1 or later "
			    "(docs/KERNELS.md)",
			    release, hook, name);
			return -EOPNOTSUPP;
		}
		for (i = 0; i < nv; i++) {
			if (strcmp(hook_variants[i].prog, name) != 0)
				continue;
			variant = true;
			match = hook_variants[i].nargs == (unsigned int)n;
		}
		if (!variant || match)
			continue;
		/* Another program serves this hook's signature: this one stays unloaded. */
		for (i = 0; i < nv; i++)
			other |= strcmp(hook_variants[i].hook, hook) == 0 &&
			         hook_variants[i].nargs == (unsigned int)n;
		if (!other) {
			log_error("kernel %s: LSM hook %s takes %d arguments, which no program of "
			          "vigil's is written for; this kernel is not supported "
			          "(docs/KERNELS.md)",
			          release, hook, n);
			return -EOPNOTSUPP;
		}
		bpf_program__set_autoload(p, false);
		log_debug("kernel %s: %s takes %d arguments, %s stays unloaded", release, hook, n,
		          name);
	}
	note_untested(release);
	return 0;
}

int agent_kernel_adapt(struct bpf_object *obj)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int r;

	if (!vmlinux)
		return log_error_errno(-ENOENT,
		                       "kernel %s: no BTF at /sys/kernel/btf/vmlinux; vigil "
		                       "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
		                       kernel_release());
	r = agent_kernel_check(obj, vmlinux, kernel_release());
	btf__free(vmlinux);
	return r;
}
