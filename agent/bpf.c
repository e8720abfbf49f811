/* Opens, loads and attaches the vigil BPF object and reads its counters. */
#include "agent/agent.h"
#include "lib/log.h"
#include "lib/util.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <stdlib.h>
#include <unistd.h>

#include "vigil.skel.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !vigil_log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * What the verifier did: the programs loaded and the instructions it processed (the kernel's
 * verified_insns, 5.16+), each program's with --verbose: the figure to watch when a change to
 * bpf/ makes vigild slow to start.
 */
static const char *verified_summary(struct vigil_bpf *skel)
{
	static char text[64];
	struct bpf_program *prog;
	unsigned long long total = 0;
	unsigned int n = 0;

	bpf_object__for_each_program(prog, skel->obj)
	{
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
			continue;
		n++;
		total += info.verified_insns;
		log_debug("BPF program %s: %u instructions, %u verified", bpf_program__name(prog),
		          info.xlated_prog_len / 8, info.verified_insns);
	}
	snprintf(text, sizeof(text), "%u programs, %llu instructions verified", n, total);
	return text;
}

int agent_bpf_open(struct agent *a)
{
	struct vigil_bpf *skel;
	uint64_t t0;
	int r;

	libbpf_set_print(libbpf_print);
	skel = vigil_bpf__open();
	if (!skel)
		return log_error_errno(-errno, "opening the BPF object");
	r = agent_kernel_adapt(skel->obj);
	if (r < 0)
		goto err_destroy;
	/* Attached by self-protection (agent/self.c protect_platform_code): the creation program
	 * before its filesystem probes, the d_instantiate program only where needed. */
	bpf_program__set_autoattach(skel->progs.vigil_platform_init_security, false);
	bpf_program__set_autoattach(skel->progs.vigil_platform_instantiate, false);
	if (a->opt.ringbuf_size) {
		r = bpf_map__set_max_entries(skel->maps.events, a->opt.ringbuf_size);
		if (r < 0) {
			log_error_errno(r, "setting the ring buffer size to %u",
			                a->opt.ringbuf_size);
			goto err_destroy;
		}
	}
	r = agent_pin_maps(a, skel);
	if (r < 0)
		goto err_destroy;
	skel->rodata->key_free_hooked = bpf_program__autoload(skel->progs.vigil_key_free);
	t0 = vigil_clock_ns(CLOCK_MONOTONIC);
	r = vigil_bpf__load(skel);
	if (r < 0) {
		log_error_errno(r, "loading the BPF programs (is the BPF LSM active? "
		                   "/sys/kernel/security/lsm must list bpf)");
		goto err_destroy;
	}
	if (skel->data->abi_version != VIGIL_ABI_VERSION) {
		r = log_error_errno(-EPROTO, "BPF object ABI %u, vigild ABI %u",
		                    skel->data->abi_version, VIGIL_ABI_VERSION);
		goto err_destroy;
	}
	/* The kernel verifies every program here: most of a start under emulation (TCG). */
	log_info("BPF object loaded in %.1f ms (%s)",
	         (double)(vigil_clock_ns(CLOCK_MONOTONIC) - t0) / 1e6, verified_summary(skel));
	/* Exempt ourselves before any program runs. */
	__atomic_store_n(&skel->bss->agent_tgid, (uint32_t)getpid(), __ATOMIC_RELEASE);
	a->skel = skel;
	return 0;

err_destroy:
	vigil_bpf__destroy(skel);
	return r;
}

int agent_bpf_attach(struct agent *a)
{
	/* Last, so the event log and every file vigild created at start are covered. */
	int r = agent_self_protect(a);

	if (r < 0)
		return r;
	r = vigil_bpf__attach(a->skel);
	if (r < 0)
		return log_error_errno(r, "attaching the BPF-LSM programs");
	r = agent_pin_links(a);
	a->links_attached = r == 0;
	return r;
}

void agent_bpf_close(struct agent *a)
{
	/* The pinned programs outlive us; a later process with our pid must not be exempt. */
	if (a->skel && a->skel->bss)
		__atomic_store_n(&a->skel->bss->agent_tgid, 0, __ATOMIC_RELEASE);
	vigil_bpf__destroy(a->skel);
	a->skel = NULL;
}

uint64_t agent_stat(struct agent *a, unsigned int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0;
	uint64_t *vals;
	int i;

	if (ncpu <= 0)
		return 0;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.stats), &idx, vals) == 0)
		for (i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}
