/* The kernel's requirements, checked by vigild at start and by `vigil doctor`: one line each. */
#include "agent/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void set(struct kcheck *c, enum kcheck_status st, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set(struct kcheck *c, enum kcheck_status st, const char *fix, const char *fmt, ...)
{
	va_list ap;

	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", fix ?: "");
}

/* Reads a small sysfs/securityfs file into buf without its newline; false when unreadable. */
static bool read_line(const char *sysroot, const char *file, char *buf, size_t size)
{
	char path[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", sysroot, file);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

static void check_lsm(const char *sysroot, struct kcheck *c)
{
	char lsm[256];

	c->name = "lsm";
	if (!read_line(sysroot, "/sys/kernel/security/lsm", lsm, sizeof(lsm)))
		set(c, KCHECK_WARN, "mount -t securityfs securityfs /sys/kernel/security",
		    "cannot read the active LSM list (/sys/kernel/security/lsm): securityfs is "
		    "not mounted");
	else if (!in_list(lsm, "bpf"))
		set(c, KCHECK_FAIL,
		    "add bpf to the kernel command line's lsm= list, e.g. "
		    "lsm=landlock,lockdown,yama,integrity,apparmor,bpf, and reboot",
		    "the BPF LSM is not active (active LSMs: %s)", lsm);
	else
		set(c, KCHECK_OK, NULL, "the BPF LSM is active (%s)", lsm);
}

static void check_btf(const char *sysroot, struct kcheck *c)
{
	char path[512];
	struct stat st;

	c->name = "btf";
	snprintf(path, sizeof(path), "%s/sys/kernel/btf/vmlinux", sysroot);
	if (stat(path, &st) < 0 || st.st_size == 0)
		set(c, KCHECK_FAIL,
		    "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's linux-image-amd64 "
		    "is)",
		    "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing): vigil's CO-RE "
		    "programs cannot load");
	else
		set(c, KCHECK_OK, NULL, "kernel BTF present (%lld bytes)", (long long)st.st_size);
}

/* "none [integrity] confidentiality": the bracketed word is the mode in force. */
static void check_lockdown(const char *sysroot, struct kcheck *c)
{
	char buf[128], *open, *close;

	c->name = "lockdown";
	if (!read_line(sysroot, "/sys/kernel/security/lockdown", buf, sizeof(buf))) {
		set(c, KCHECK_OK, NULL, "no lockdown LSM (no lockdown restrictions)");
		return;
	}
	open = strchr(buf, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!open || !close) {
		set(c, KCHECK_WARN, NULL, "lockdown mode unreadable ('%s')", buf);
		return;
	}
	*close = 0;
	if (strcmp(open + 1, "confidentiality") == 0)
		set(c, KCHECK_FAIL,
		    "boot with lockdown=integrity (or none): confidentiality lockdown refuses the "
		    "kernel-memory reads vigil's programs make",
		    "kernel lockdown is 'confidentiality': BPF programs may not read kernel "
		    "memory");
	else
		set(c, KCHECK_OK, NULL, "kernel lockdown is '%s' (BPF LSM allowed)", open + 1);
}

void agent_kernel_requirements(const char *sysroot, struct kcheck out[KCHECK_COUNT])
{
	memset(out, 0, sizeof(*out) * KCHECK_COUNT);
	check_lsm(sysroot, &out[0]);
	check_btf(sysroot, &out[1]);
	check_lockdown(sysroot, &out[2]);
}
