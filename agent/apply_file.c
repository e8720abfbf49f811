/* Fills and removes a generation's file rule entries. */
#include "agent/agent.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.skel.h"

static struct vigil_file_key file_key(const struct policy_file_entry *e, uint32_t gen)
{
	return (struct vigil_file_key){.dev = e->dev, .ino = e->ino, .gen = gen};
}

/*
 * The generation's filter slot (gen % 2): the other slot is the generation in force; this one
 * last held gen - 2, which no program reads any more (vigild waits a grace period after each
 * switch). Every entry's bit is set, so a clear bit proves there is no entry.
 */
static int fill_filter(struct agent *a, const struct applied_policy *ap)
{
	struct vigil_file_filter *f = calloc(1, sizeof(*f));
	uint32_t slot = ap->gen % 2;
	size_t i;
	int r = 0;

	if (!f)
		return -ENOMEM;
	f->gen = ap->gen;
	for (i = 0; i < ap->n_files; i++) {
		uint64_t bit = vigil_file_filter_bit(ap->files[i].dev, ap->files[i].ino);

		f->bits[bit >> 6] |= 1ull << (bit & 63);
	}
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.file_filter), &slot, f, BPF_ANY))
		r = -errno;
	free(f);
	return r;
}

int agent_apply_files(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	struct vigil_file_key *keys = NULL;
	struct vigil_file_val *vals = NULL;
	size_t i;
	int r;

	r = policy_resolve_files(p, a->opt.root, &ap->files, &ap->n_files, err);
	if (r < 0)
		return r;
	if (ap->n_files > VIGIL_MAX_FILE_RULES)
		return policy_errorf(err, -E2BIG, "%s: files.rules: %zu distinct files, at most %d",
		                     p->origin, ap->n_files, VIGIL_MAX_FILE_RULES);
	keys = calloc(ap->n_files + 1, sizeof(*keys));
	vals = calloc(ap->n_files + 1, sizeof(*vals));
	r = -ENOMEM;
	if (!keys || !vals)
		goto out;
	for (i = 0; i < ap->n_files; i++) {
		_Static_assert(sizeof(vals[i].rule_id) == sizeof(ap->files[i].rule_id) &&
		                   sizeof(vals[i].action) == sizeof(ap->files[i].action),
		               "file entry layout");
		keys[i] = file_key(&ap->files[i], ap->gen);
		memcpy(vals[i].rule_id, ap->files[i].rule_id, sizeof(vals[i].rule_id));
		memcpy(vals[i].action, ap->files[i].action, sizeof(vals[i].action));
	}
	r = agent_map_update_batch(a->skel->maps.file_rules, keys, vals, ap->n_files);
	if (r < 0) {
		policy_errorf(err, r, "%s: file rules: map insert failed: %s", p->origin,
		              strerror(-r));
		goto out;
	}
	r = fill_filter(a, ap);
	if (r < 0)
		policy_errorf(err, r, "%s: file rules: filter update failed: %s", p->origin,
		              strerror(-r));
out:
	free(keys);
	free(vals);
	return r;
}

static void file_key_at(const void *ctx, size_t i, void *out)
{
	const struct applied_policy *ap = ctx;

	*(struct vigil_file_key *)out = file_key(&ap->files[i], ap->gen);
}

void agent_remove_files(struct agent *a, const struct applied_policy *ap)
{
	agent_map_delete_keys(a->skel->maps.file_rules, ap->n_files, file_key_at, ap);
}
