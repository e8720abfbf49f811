/* JSON fields of file, network, key and self-protection events. */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const char *const file_access[VIGIL_FA_MAX] = {
    [VIGIL_FA_READ] = "read",         [VIGIL_FA_WRITE] = "write",   [VIGIL_FA_CREATE] = "create",
    [VIGIL_FA_UNLINK] = "unlink",     [VIGIL_FA_RENAME] = "rename", [VIGIL_FA_LINK] = "link",
    [VIGIL_FA_EXEC_MAP] = "exec_map",
};
static const char *const net_op[] = {
    [VIGIL_NET_CONNECT] = "connect", [VIGIL_NET_BIND] = "bind",     [VIGIL_NET_LISTEN] = "listen",
    [VIGIL_NET_SENDMSG] = "sendmsg", [VIGIL_NET_CREATE] = "create",
};
static const char *const key_perm[] = {
    [VIGIL_KEY_VIEW] = "view",     [VIGIL_KEY_READ] = "read",     [VIGIL_KEY_WRITE] = "write",
    [VIGIL_KEY_SEARCH] = "search", [VIGIL_KEY_LINK] = "link",     [VIGIL_KEY_SETATTR] = "setattr",
    [VIGIL_KEY_UNLINK] = "unlink", [VIGIL_KEY_PTRACE] = "ptrace",
};
static const char *const self_kind[] = {
    [VIGIL_SELF_DEVICE] = "device",
    [VIGIL_SELF_FILE] = "file",
    [VIGIL_SELF_BPF] = "bpf",
    [VIGIL_SELF_PTRACE] = "ptrace",
    [VIGIL_SELF_SIGNAL] = "signal",
    [VIGIL_SELF_EXEC] = "exec",
    [VIGIL_SELF_TSM] = "configfs_tsm",
    [VIGIL_SELF_SCHED] = "scheduling",
    [VIGIL_SELF_RLIMIT] = "rlimit",
    [VIGIL_SELF_CGROUP] = "cgroup",
    [VIGIL_SELF_MOUNT] = "mount",
    [VIGIL_SELF_SECRET] = "secret",
    [VIGIL_SELF_SOCKET] = "control_socket",
    [VIGIL_SELF_KERNEL] = "kernel",
    [VIGIL_SELF_PROC] = "proc",
    [VIGIL_SELF_ATTR] = "metadata",
    [VIGIL_SELF_PLATFORM_SOCKET] = "platform_socket",
};

#define NAME_OF(table, i)                                                                          \
	((i) < sizeof(table) / sizeof(table[0]) && (table)[i] ? (table)[i] : "unknown")

static const char *proto_name(unsigned int proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_RAW:
		return "raw";
	}
	return "other";
}

void agent_event_format_kind(const struct vigil_event *e, char *out, size_t size, int *ret_len)
{
	char addr[INET6_ADDRSTRLEN] = "";
	char desc[VIGIL_KEY_DESC_LEN * 6 + 1];
	size_t i, j = 0;

	*ret_len = 0;
	switch (e->type) {
	case VIGIL_EV_FILE:
		*ret_len =
		    snprintf(out, size, ",\"access\":\"%s\"", NAME_OF(file_access, e->access));
		break;
	case VIGIL_EV_NET:
		if (e->access == VIGIL_NET_CREATE || e->family == 0) {
			/* No address (a socket refused by its kind, an unreadable address, or an
			 * older vigil's socket() refusal): dev and ino carry the socket's family,
			 * type and protocol. */
			*ret_len =
			    snprintf(out, size,
			             ",\"op\":\"%s\",\"socket.domain\":%llu,"
			             "\"socket.type\":%u,\"socket.protocol\":%u,"
			             "\"network.transport\":\"%s\"",
			             NAME_OF(net_op, e->access), (unsigned long long)e->dev,
			             (unsigned int)(uint32_t)e->ino, (unsigned int)(e->ino >> 32),
			             proto_name((unsigned int)(e->ino >> 32))); /* MPTCP: 262 */
			break;
		}
		inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr));
		*ret_len = snprintf(out, size,
		                    ",\"op\":\"%s\",\"network.peer.address\":\"%s\","
		                    "\"network.peer.port\":%u,\"network.transport\":\"%s\","
		                    "\"network.type\":\"ipv%u\"",
		                    NAME_OF(net_op, e->access), addr, e->port, proto_name(e->proto),
		                    e->family);
		break;
	case VIGIL_EV_KEY:
		/* Descriptions are user data: keep printable ASCII, escape the rest. */
		for (i = 0; i < sizeof(e->key_desc) && e->key_desc[i]; i++) {
			unsigned char c = (unsigned char)e->key_desc[i];

			if (c == '"' || c == '\\')
				j += (size_t)snprintf(desc + j, sizeof(desc) - j, "\\%c", c);
			else if (c < 0x20 || c >= 0x7f)
				j += (size_t)snprintf(desc + j, sizeof(desc) - j, "\\u%04x", c);
			else
				desc[j++] = (char)c;
		}
		desc[j] = 0;
		*ret_len = snprintf(out, size, ",\"key\":\"%s\",\"perm\":\"%s\"", desc,
		                    NAME_OF(key_perm, e->access));
		if (e->access == VIGIL_KEY_PTRACE && *ret_len >= 0 && (size_t)*ret_len < size)
			*ret_len += snprintf(out + *ret_len, size - (size_t)*ret_len,
			                     ",\"target_pid\":%u", e->target_pid);
		break;
	case VIGIL_EV_SELF:
		*ret_len = snprintf(out, size, ",\"protects\":\"%s\",\"target_pid\":%u",
		                    NAME_OF(self_kind, e->access), e->target_pid);
		break;
	case VIGIL_EV_CAP:
		*ret_len = snprintf(out, size, ",\"capability\":\"%s\"",
		                    e->access == VIGIL_CAP_USERNS ? "user_namespace"
		                    : policy_cap_name(e->access)  ? policy_cap_name(e->access)
		                                                  : "unknown");
		break;
	}
}

const char *agent_event_rule_name(const struct policy *p, const struct vigil_event *e)
{
	switch (e->type) {
	case VIGIL_EV_FILE:
		return e->rule_id < p->n_files ? p->files[e->rule_id].name : NULL;
	case VIGIL_EV_NET:
		return e->rule_id < p->n_net ? p->net[e->rule_id].name : NULL;
	case VIGIL_EV_KEY:
		return e->rule_id < p->n_keys ? p->keys[e->rule_id].name : NULL;
	case VIGIL_EV_SELF:
	case VIGIL_EV_CAP:
		return NULL;
	}
	return e->rule_id < p->n_exec ? p->exec[e->rule_id].name : NULL;
}
