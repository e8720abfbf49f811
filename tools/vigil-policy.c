/* vigil policy: check, show and pin policy files. */
#include "tools/vigil.h"
#include "policies/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct policy_args {
	const char *file;
	const char *root;
	const char *output;
	bool no_digests;
};

static int parse_policy_args(int argc, char **argv, struct policy_args *pa, const char *usage)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'R'},
	    {"output", required_argument, NULL, 'o'},
	    {"no-digests", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			pa->root = optarg;
			break;
		case 'o':
			pa->output = optarg;
			break;
		case 'n':
			pa->no_digests = true;
			break;
		case 'h':
			printf("usage: vigil policy %s\n", usage);
			exit(VIGIL_EXIT_OK);
		default:
			fprintf(stderr, "usage: vigil policy %s\n", usage);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: vigil policy %s\n", usage);
		return -EINVAL;
	}
	pa->file = argv[optind];
	if (!pa->root)
		pa->root = "";
	return 0;
}

static int do_check(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_exec_entry *entries = NULL;
	struct policy_error err = {{0}};
	struct policy *p;
	size_t n = 0;
	int r;

	if (parse_policy_args(argc, argv, &pa, "check [--root DIR] [--no-digests] FILE") < 0)
		return VIGIL_EXIT_USAGE;
	r = policy_load_file(pa.file, &p, &err);
	if (r >= 0 && !pa.no_digests) {
		r = policy_resolve_exec(p, pa.root, &entries, &n, &err);
		if (r >= 0)
			r = policy_verify_exec(p, pa.root, entries, n, &err);
		free(entries);
		if (r < 0)
			policy_free(p);
	}
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_INVALID;
	}
	printf("%s: policy '%s' serial %llu: valid, %zu exec rules%s\n", pa.file, p->name,
	       (unsigned long long)p->serial, p->n_exec,
	       pa.no_digests ? " (digests not checked)" : ", every digest matches");
	policy_free(p);
	return VIGIL_EXIT_OK;
}

static int do_show(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {{0}};
	struct policy *p;
	size_t i;

	if (parse_policy_args(argc, argv, &pa, "show FILE") < 0)
		return VIGIL_EXIT_USAGE;
	if (policy_load_file(pa.file, &p, &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_INVALID;
	}
	printf("name:    %s\nserial:  %llu\nmode:    %s\nscope:   ", p->name,
	       (unsigned long long)p->serial, p->audit ? "audit" : "enforce");
	if (p->scope_guest)
		printf("whole guest\n");
	for (i = 0; i < p->n_cgroups; i++)
		printf("%s%s", p->cgroups[i], i + 1 < p->n_cgroups ? ", " : "\n");
	printf("exec:    %zu allowed, fileless %s\n", p->n_exec,
	       p->allow_fileless ? "allowed" : "denied");
	for (i = 0; i < p->n_exec; i++) {
		char hex[2 * POLICY_SHA256_LEN + 1];

		policy_hex(p->exec[i].sha256, POLICY_SHA256_LEN, hex);
		printf("  %-20s %s %s%s\n", p->exec[i].name, hex, p->exec[i].path,
		       p->exec[i].audit && !p->audit ? " (audit)" : "");
	}
	policy_free(p);
	return VIGIL_EXIT_OK;
}

/* Fills in every exec rule's sha256 from the file it names (under --root). */
static int do_pin(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {{0}};
	json_t *root, *allow, *rule;
	json_error_t jerr;
	struct policy *p;
	size_t i;
	int r;

	if (parse_policy_args(argc, argv, &pa, "pin [--root DIR] [-o OUT] FILE") < 0)
		return VIGIL_EXIT_USAGE;
	root = json_load_file(pa.file, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fprintf(stderr, "vigil: %s:%d:%d: %s\n", pa.file, jerr.line, jerr.column,
		        jerr.text);
		return VIGIL_EXIT_INVALID;
	}
	allow = json_object_get(json_object_get(root, "exec"), "allow");
	json_array_foreach(allow, i, rule)
	{
		const char *path = json_string_value(json_object_get(rule, "path"));
		uint8_t digest[POLICY_SHA256_LEN];
		char full[8192], hex[2 * POLICY_SHA256_LEN + 1];
		int fd;

		if (!path)
			continue;
		snprintf(full, sizeof(full), "%s%s", pa.root, path);
		fd = open(full, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || policy_sha256_fd(fd, digest) < 0) {
			fprintf(stderr, "vigil: %s: exec.allow[%zu].path: %s: %s\n", pa.file, i,
			        full, strerror(errno));
			if (fd >= 0)
				close(fd);
			json_decref(root);
			return VIGIL_EXIT_FAIL;
		}
		close(fd);
		policy_hex(digest, sizeof(digest), hex);
		json_object_set_new(rule, "sha256", json_string(hex));
	}
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return VIGIL_EXIT_FAIL;
	/* Never write out something vigild would refuse. */
	r = policy_parse(text, strlen(text), pa.file, &p, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		free(text);
		return VIGIL_EXIT_INVALID;
	}
	policy_free(p);
	FILE *out = pa.output ? fopen(pa.output, "w") : stdout;
	if (!out) {
		fprintf(stderr, "vigil: %s: %s\n", pa.output, strerror(errno));
		free(text);
		return VIGIL_EXIT_FAIL;
	}
	fprintf(out, "%s\n", text);
	free(text);
	if (out != stdout && fclose(out) != 0)
		return VIGIL_EXIT_FAIL;
	return VIGIL_EXIT_OK;
}

int do_policy(int argc, char **argv)
{
	static const struct vigil_cmd sub[] = {
	    {"check", do_check, "validate a policy and check its digests"},
	    {"show", do_show, "print a policy's rules"},
	    {"pin", do_pin, "fill in each exec rule's sha256 from the file it names"},
	};

	return vigil_dispatch(sub, sizeof(sub) / sizeof(sub[0]), "policy", argc - 1, argv + 1);
}
