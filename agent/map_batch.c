/* Batched map inserts and deletes: one syscall per chunk, per-element where the kernel has none. */
#include "agent/agent.h"
#include "lib/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>

/* Entries per syscall: the kernel walks a batch element by element anyway, so a chunk only
 * bounds the count to u32; 100,000 rules go in one call (4,096 took 25 per direction). */
#define BATCH_CHUNK (1u << 20)

/* ENOTSUPP (524) is kernel-internal but reaches user space from maps without batch ops. */
#define ENOTSUPP_KERNEL 524

/* Maps whose kernel type refused a batch call; each is logged once. */
static const struct bpf_map *unbatched[8];
static size_t n_unbatched;

static bool batch_refused(int r)
{
	return r == -EINVAL || r == -ENOTSUPP_KERNEL || r == -EOPNOTSUPP;
}

static bool batched(const struct bpf_map *map)
{
	size_t i;

	for (i = 0; i < n_unbatched; i++)
		if (unbatched[i] == map)
			return false;
	return true;
}

static void refuse_batch(const struct bpf_map *map, const char *op, int r)
{
	log_info("map %s: the kernel refused batch %s (%s): one syscall per entry from now on",
	         bpf_map__name(map), op, strerror(-r));
	/* Past the table's end we only log again; per-element still follows every refusal. */
	if (n_unbatched < sizeof(unbatched) / sizeof(unbatched[0]))
		unbatched[n_unbatched++] = map;
}

int agent_map_update_batch(const struct bpf_map *map, const void *keys, const void *vals, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	const char *k = keys, *v = vals;
	int fd = bpf_map__fd(map);
	size_t done = 0;

	while (done < n && batched(map)) {
		uint32_t count = (uint32_t)(n - done < BATCH_CHUNK ? n - done : BATCH_CHUNK);
		int r = bpf_map_update_batch(fd, k + done * ksz, v + done * vsz, &count, &opts);

		/* Per-element redoes the whole chunk: count is not reliable after a refusal. */
		if (r < 0 && batch_refused(r)) {
			refuse_batch(map, "update", r);
			break;
		}
		if (r < 0)
			return r;
		done += count;
	}
	for (; done < n; done++)
		if (bpf_map_update_elem(fd, k + done * ksz, v + done * vsz, BPF_ANY) < 0)
			return -errno;
	return 0;
}

void agent_map_delete_batch(const struct bpf_map *map, const void *keys, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t ksz = bpf_map__key_size(map);
	int fd = bpf_map__fd(map);
	const char *k = keys;
	size_t done = 0;

	while (done < n && batched(map)) {
		uint32_t count = (uint32_t)(n - done < BATCH_CHUNK ? n - done : BATCH_CHUNK);
		int r = bpf_map_delete_batch(fd, k + done * ksz, &count, &opts);

		if (r < 0 && batch_refused(r)) {
			refuse_batch(map, "delete", r);
			break;
		}
		done += count;
		/* The kernel stops at the first missing key; missing is fine (a partial insert). */
		if (r < 0)
			done++;
	}
	for (; done < n; done++)
		bpf_map_delete_elem(fd, k + done * ksz);
}

void agent_map_delete_keys(const struct bpf_map *map, size_t n,
                           void (*key)(const void *ctx, size_t i, void *out), const void *ctx)
{
	size_t ksz = bpf_map__key_size(map), i;
	char *keys = calloc(n + 1, ksz), one[256];

	if (keys) {
		for (i = 0; i < n; i++)
			key(ctx, i, keys + i * ksz);
		agent_map_delete_batch(map, keys, n);
		free(keys);
		return;
	}
	/* Out of memory: still remove them, one syscall each (no key is larger than one[]). */
	for (i = 0; i < n && ksz <= sizeof(one); i++) {
		key(ctx, i, one);
		bpf_map_delete_elem(bpf_map__fd(map), one);
	}
}

ssize_t agent_map_dump(const struct bpf_map *map, void *keys, void *vals, size_t cap)
{
	static bool refused; /* logged once; the callers fall back to lookups one by one */
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map), n = 0;
	/* The batch token is the kernel's bucket index: a u32 for hash maps. */
	uint64_t token[2][2] = {{0}};
	int fd = bpf_map__fd(map), turn = 0;
	void *in = NULL;

	if (refused)
		return -EOPNOTSUPP;
	for (;;) {
		uint32_t count = (uint32_t)(cap - n < BATCH_CHUNK ? cap - n : BATCH_CHUNK);
		int r;

		if (count == 0)
			return -E2BIG;
		r = bpf_map_lookup_batch(fd, in, token[turn], (char *)keys + n * ksz,
		                         (char *)vals + n * vsz, &count, &opts);
		if (r < 0 && r != -ENOENT) {
			if (!batch_refused(r))
				return r;
			log_info("map %s: the kernel refused batch lookup (%s): one syscall per "
			         "entry for revocation checks",
			         bpf_map__name(map), strerror(-r));
			refused = true;
			return -EOPNOTSUPP;
		}
		n += count;
		if (r == -ENOENT) /* the whole map was read */
			return (ssize_t)n;
		in = token[turn];
		turn ^= 1;
	}
}
