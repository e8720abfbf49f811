/* The "capabilities" section of policy v1: which capabilities tasks in scope keep. */
#include "policies/policy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Index = capability number (include/uapi/linux/capability.h). */
static const char *const cap_names[POLICY_CAP_LAST + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

/* What a grant gives up. vigil's own refusals (mounts, modules, kexec, cgroup moves, writes to
 * kernel interfaces) hold whatever is granted; these say what is left. */
static const char *const cap_risks[POLICY_CAP_LAST + 1] = {
    [2] = "the workload can open files by handle (open_by_handle_at), with no path walk: "
          "on a disk file system a handle reaches a file whose dentry has no parent, where "
          "vigil's path rules cannot see the tree it lies in",
    [9] = "the workload can make files immutable or append-only, including where vigil "
          "writes (an append-only log it cannot rotate, an immutable file it cannot replace)",
    [12] = "the workload can change interfaces, addresses, routes (SRv6 and tunnel "
           "encapsulation included), firewall and traffic control: packets for an allowed "
           "host can be sent to a denied one, under every network hook",
    [13] = "the workload can open raw and packet sockets: it builds its own packets, headers "
           "and addresses included (the network section decides raw sockets only if it "
           "names them)",
    [16] = "the workload passes the kernel's module checks; vigil still refuses module loads "
           "from the scope, but sysfs/module parameters and the kernel's own trust in the "
           "capability are open",
    [17] = "the workload can reach I/O ports, /dev/mem-like interfaces and device ioctls that "
           "bypass file systems; vigil still refuses /dev/mem, /dev/port, kcore and raw block "
           "writes from the scope",
    [19] = "the workload can ptrace and read or write the memory of any process it can see, "
           "including granted key holders outside its own uid",
    [21] = "the workload can mount over vigil's trusted base were mounts not refused, set "
           "namespaces, change kernel tunables (keyrings, quotas, swap, hostname), and use "
           "most administrative interfaces; vigil still refuses mounts, modules and kexec",
    [22] = "the workload can reboot or power off the guest (reboot with kexec stays refused)",
    [23] = "the workload can give itself real-time scheduling (SCHED_FIFO 99) and starve "
           "every ordinary task, vigild included, without touching vigild",
    [24] = "the workload can exceed resource limits and reserved space: it can exhaust the "
           "disk and memory vigil needs",
    [25] = "the workload can set the system clock: event and audit timestamps, certificate and "
           "token validity follow it",
    [32] = "the workload can override mandatory access control (other LSMs' file checks)",
    [33] = "the workload can change the policy of other LSMs (AppArmor, SELinux, Smack)",
    [34] = "the workload can read and clear the kernel log, which holds kernel addresses",
    [38] = "the workload can profile the kernel and other processes (perf)",
    [39] = "the workload passes the kernel's BPF checks; vigil still refuses bpf() to every "
           "process but vigild",
};

const char *policy_cap_name(unsigned int cap)
{
	return cap <= POLICY_CAP_LAST ? cap_names[cap] : NULL;
}

const char *policy_cap_risk(unsigned int cap)
{
	return cap <= POLICY_CAP_LAST ? cap_risks[cap] : NULL;
}

uint64_t policy_cap_allow(const struct policy *p)
{
	uint64_t keep = 0;

	if (!p->cap_default_deny) {
		keep = POLICY_CAP_ALL & ~POLICY_CAP_REFUSED;
		if (p->net_raw)
			keep |= 1ull
			        << 13; /* CAP_NET_RAW: raw sockets are the network section's call */
	}
	/*
	 * A network section that refuses raw sockets withdraws CAP_NET_RAW, whatever "allow"
	 * says: raw IP and packet sockets receive from socket() on, before any hook that reads an
	 * address (bpf/net.bpf.h net_sock_kind); the capable program refuses it even where
	 * capabilities are only audited.
	 */
	if (policy_net_refuses_raw(p))
		return (keep | p->cap_grant) & ~p->cap_deny & ~(1ull << 13);
	return (keep | p->cap_grant) & ~p->cap_deny;
}

bool policy_net_refuses_raw(const struct policy *p)
{
	return !p->net_raw && (p->n_net || p->net_default);
}

static int parse_cap_list(struct policy *p, const vjson *sect, const char *key, uint64_t *ret,
                          struct policy_error *err)
{
	const vjson *list = vjson_object_get(sect, key), *v;
	size_t i;

	*ret = 0;
	if (!list)
		return 0;
	if (!vjson_is_array(list))
		return policy_errorf(err, -EINVAL,
		                     "%s: capabilities.%s: expected an array of capability names",
		                     p->origin, key);
	vjson_array_foreach(list, i, v)
	{
		const char *s = vjson_string_value(v);
		unsigned int cap;

		for (cap = 0; s && cap <= POLICY_CAP_LAST; cap++)
			if (strcmp(cap_names[cap], s) == 0)
				break;
		if (!s || cap > POLICY_CAP_LAST)
			return policy_errorf(
			    err, -EINVAL,
			    "%s: capabilities.%s[%zu]: '%s' is not a capability name "
			    "(CAP_CHOWN ... CAP_CHECKPOINT_RESTORE)",
			    p->origin, key, i, s ? s : "(not a string)");
		if (*ret & (1ull << cap))
			return policy_errorf(err, -EINVAL,
			                     "%s: capabilities.%s[%zu]: %s listed twice", p->origin,
			                     key, i, s);
		*ret |= 1ull << cap;
	}
	return 0;
}

int policy_parse_capabilities(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"default",         "allow", "deny",
	                                   "user_namespaces", "mode",  NULL};
	const vjson *sect, *userns;
	const char *s;
	uint64_t both;
	unsigned int cap;
	int r;

	r = policy_section(root, "capabilities", keys, p->origin, &sect, err);
	if (r < 0 || !sect)
		return r;
	if ((r = policy_get_string(sect, "default", false, p->origin, "capabilities", &s, err)) < 0)
		return r;
	if (s && strcmp(s, "deny") == 0)
		p->cap_default_deny = true;
	else if (s && strcmp(s, "ordinary") != 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: capabilities.default: '%s' is not one of ordinary | deny",
		                     p->origin, s);
	if ((r = policy_get_string(sect, "mode", false, p->origin, "capabilities", &s, err)) < 0)
		return r;
	if (s && strcmp(s, "audit") == 0)
		p->cap_audit = true;
	else if (s && strcmp(s, "enforce") != 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: capabilities.mode: '%s' is not a mode (enforce | audit)",
		                     p->origin, s);
	userns = vjson_object_get(sect, "user_namespaces");
	if (userns && !vjson_is_boolean(userns))
		return policy_errorf(err, -EINVAL,
		                     "%s: capabilities.user_namespaces: expected true or false",
		                     p->origin);
	p->userns = vjson_is_true(userns);
	if ((r = parse_cap_list(p, sect, "allow", &p->cap_grant, err)) < 0 ||
	    (r = parse_cap_list(p, sect, "deny", &p->cap_deny, err)) < 0)
		return r;
	both = p->cap_grant & p->cap_deny;
	if (both) {
		for (cap = 0; !(both & (1ull << cap)); cap++)
			;
		return policy_errorf(err, -EINVAL,
		                     "%s: capabilities: %s is both in allow and in deny", p->origin,
		                     cap_names[cap]);
	}
	return 0;
}
