/* Fills and removes a generation's file rule entries. */
#include "agent/agent.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include "vigil.skel.h"

static struct vigil_file_key file_key(const struct policy_file_entry *e, uint32_t gen)
{
	return (struct vigil_file_key){.dev = e->dev, .ino = e->ino, .gen = gen};
}

int agent_apply_files(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	int fd = bpf_map__fd(a->skel->maps.file_rules);
	size_t i;
	int r;

	r = policy_resolve_files(p, a->opt.root, &ap->files, &ap->n_files, err);
	if (r < 0)
		return r;
	if (ap->n_files > VIGIL_MAX_FILE_RULES)
		return policy_errorf(err, -E2BIG, "%s: files.rules: %zu distinct files, at most %d",
		                     p->origin, ap->n_files, VIGIL_MAX_FILE_RULES);
	for (i = 0; i < ap->n_files; i++) {
		struct vigil_file_key key = file_key(&ap->files[i], ap->gen);
		struct vigil_file_val val;

		_Static_assert(sizeof(val.rule_id) == sizeof(ap->files[i].rule_id) &&
		                   sizeof(val.action) == sizeof(ap->files[i].action),
		               "file entry layout");
		memcpy(val.rule_id, ap->files[i].rule_id, sizeof(val.rule_id));
		memcpy(val.action, ap->files[i].action, sizeof(val.action));
		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) < 0)
			return policy_errorf(err, -errno, "%s: file rules: map insert failed: %s",
			                     p->origin, strerror(errno));
	}
	return 0;
}

void agent_remove_files(struct agent *a, const struct applied_policy *ap)
{
	int fd = bpf_map__fd(a->skel->maps.file_rules);
	size_t i;

	for (i = 0; i < ap->n_files; i++) {
		struct vigil_file_key key = file_key(&ap->files[i], ap->gen);

		bpf_map_delete_elem(fd, &key);
	}
}
