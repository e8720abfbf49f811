/*
 * agent/kernel.c against kernel BTFs built here: the 6.1 and 6.12 signatures of inode_setattr
 * pick their programs; a missing hook and a signature no program serves (bpf's `bool kernel`
 * of 6.16) refuse the start with one line naming the hook.
 */
#include "testutil.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>

#include "agent/agent.h"
#include "lib/log.h"
#include "vigil.skel.h"

/* A kernel BTF with bpf_lsm_HOOK for every program's hook and the function of every fentry program
 * (except skip), taking nargs(hook) ints. */
static struct btf *fake_vmlinux(struct bpf_object *obj, const char *skip, int setattr_args,
                                int bpf_args)
{
	struct btf *btf = btf__new_empty();
	struct bpf_program *p;
	int int_id;

	assert_non_null(btf);
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	assert_true(int_id > 0);
	bpf_object__for_each_program(p, obj)
	{
		const char *sec = bpf_program__section_name(p), *hook = sec + 4;
		char fn[128];
		int proto, n, i;

		if (strncmp(sec, "fentry/", 7) == 0)
			hook = sec + 7; /* a kernel function, traced */
		snprintf(fn, sizeof(fn), "%s%s", hook == sec + 7 ? "" : "bpf_lsm_", hook);
		if ((skip && strcmp(hook, skip) == 0) ||
		    btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC) > 0)
			continue;
		n = strcmp(hook, "inode_setattr") == 0 ? setattr_args
		    : strcmp(hook, "bpf") == 0         ? bpf_args
		                                       : 2;
		proto = btf__add_func_proto(btf, int_id);
		assert_true(proto > 0);
		for (i = 0; i < n; i++)
			assert_int_equal(btf__add_func_param(btf, "a", int_id), 0);
		assert_true(btf__add_func(btf, fn, BTF_FUNC_STATIC, proto) > 0);
	}
	return btf;
}

static bool autoload(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	assert_non_null(p);
	return bpf_program__autoload(p);
}

/* Runs agent_kernel_check with stderr captured into out. */
static int check(struct bpf_object *obj, struct btf *btf, const char *release, char *out,
                 size_t len)
{
	char path[] = "/tmp/vigil-kernel-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), r;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	r = agent_kernel_check(obj, btf, release);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return r;
}

static void test_kernel_6_1(void **state)
{
	struct vigil_bpf *skel = vigil_bpf__open();
	struct btf *btf;
	char out[1024];

	assert_non_null(skel);
	btf = fake_vmlinux(skel->obj, NULL, 2, 3);
	assert_int_equal(check(skel->obj, btf, "6.1.0-56-amd64", out, sizeof(out)), 0);
	assert_true(autoload(skel->obj, "vigil_self_setattr"));
	assert_false(autoload(skel->obj, "vigil_self_setattr_idmap"));
	assert_true(autoload(skel->obj, "vigil_self_bpf"));
	assert_string_equal(out, "");
	btf__free(btf);
	vigil_bpf__destroy(skel);
}

static void test_kernel_6_12(void **state)
{
	struct vigil_bpf *skel = vigil_bpf__open();
	struct btf *btf;
	char out[1024];

	assert_non_null(skel);
	btf = fake_vmlinux(skel->obj, NULL, 3, 3);
	assert_int_equal(check(skel->obj, btf, "6.12.95+deb12-amd64", out, sizeof(out)), 0);
	assert_false(autoload(skel->obj, "vigil_self_setattr"));
	assert_true(autoload(skel->obj, "vigil_self_setattr_idmap"));
	assert_string_equal(out, "");
	btf__free(btf);
	vigil_bpf__destroy(skel);
}

/* A kernel whose BTF lacks what a program attaches to: refused with the line want. */
static void expect_missing(const char *omit, const char *release, const char *want)
{
	struct vigil_bpf *skel = vigil_bpf__open();
	struct btf *btf;
	char out[1024];

	assert_non_null(skel);
	btf = fake_vmlinux(skel->obj, omit, 2, 3);
	assert_int_equal(check(skel->obj, btf, release, out, sizeof(out)), -EOPNOTSUPP);
	assert_string_equal(out, want);
	btf__free(btf);
	vigil_bpf__destroy(skel);
}

static void test_kernel_missing_hook(void **state)
{
	expect_missing("userns_create", "5.15.0-1-amd64",
	               "vigild: error: kernel 5.15.0-1-amd64 has no LSM hook userns_create "
	               "(program vigil_userns_create); vigil needs 6.1 or later "
	               "(docs/KERNELS.md)\n");
}

/* The function the creation program traces (bpf/platform.bpf.h) is required like a hook. */
static void test_kernel_missing_traced_function(void **state)
{
	expect_missing("security_inode_init_security", "6.1.0-56-amd64",
	               "vigild: error: kernel 6.1.0-56-amd64 has no function "
	               "security_inode_init_security (program vigil_platform_init_security); "
	               "vigil needs 6.1 or later (docs/KERNELS.md)\n");
}

static void test_kernel_unknown_signature(void **state)
{
	struct vigil_bpf *skel = vigil_bpf__open();
	struct btf *btf;
	char out[1024];

	assert_non_null(skel);
	btf = fake_vmlinux(skel->obj, NULL, 3, 4);
	assert_int_equal(check(skel->obj, btf, "6.16.1-amd64", out, sizeof(out)), -EOPNOTSUPP);
	assert_string_equal(out,
	                    "vigild: error: kernel 6.16.1-amd64: LSM hook bpf takes 4 arguments, "
	                    "which no program of vigil's is written for; this kernel is not "
	                    "supported (docs/KERNELS.md)\n");
	btf__free(btf);
	vigil_bpf__destroy(skel);
}

static void test_kernel_newer_is_noted(void **state)
{
	struct vigil_bpf *skel = vigil_bpf__open();
	struct btf *btf;
	char out[1024];

	assert_non_null(skel);
	btf = fake_vmlinux(skel->obj, NULL, 3, 3);
	assert_int_equal(check(skel->obj, btf, "6.14.2-amd64", out, sizeof(out)), 0);
	assert_contains(out, "kernel 6.14.2-amd64 is newer than the newest tested (6.12)");
	btf__free(btf);
	vigil_bpf__destroy(skel);
}

int main(void)
{
	/* The messages checked are vigild's. */
	vigil_log_name = "vigild";
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kernel_6_1),
	    cmocka_unit_test(test_kernel_6_12),
	    cmocka_unit_test(test_kernel_missing_hook),
	    cmocka_unit_test(test_kernel_missing_traced_function),
	    cmocka_unit_test(test_kernel_unknown_signature),
	    cmocka_unit_test(test_kernel_newer_is_noted),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests_name("kernel", tests, NULL, NULL);
}
