/* vigil policy: check, show and pin policy files; keygen, sign, verify and push bundles. */
#include "tools/vigil.h"
#include "tools/vigil-author.h"
#include "policies/bundle.h"
#include "policies/policy.h"
#include "agent/control.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct policy_args {
	const char *file;
	const char *root;
	const char *output;
	bool no_digests;
	const char *keys[BUNDLE_MAX_SIGS]; /* sign: --key, repeatable */
	size_t n_keys;
	const char *type;      /* keygen: ed25519 or p256 */
	const char *trust_dir; /* verify */
	const char *socket;    /* push */
};

static int parse_policy_args(int argc, char **argv, struct policy_args *pa, const char *usage)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'R'},
	    {"output", required_argument, NULL, 'o'},
	    {"no-digests", no_argument, NULL, 'n'},
	    {"key", required_argument, NULL, 'k'},
	    {"type", required_argument, NULL, 't'},
	    {"trust-dir", required_argument, NULL, 'T'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (pa->n_keys == BUNDLE_MAX_SIGS) {
				fprintf(stderr, "vigil: at most %u --key\n", BUNDLE_MAX_SIGS);
				return -EINVAL;
			}
			pa->keys[pa->n_keys++] = optarg;
			break;
		case 't':
			pa->type = optarg;
			break;
		case 'T':
			pa->trust_dir = optarg;
			break;
		case 'S':
			pa->socket = optarg;
			break;
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

static void print_bundle_digests(const struct bundle *b)
{
	char hex[2 * POLICY_SHA256_LEN + 1];

	vigil_hex(b->digest, sizeof(b->digest), hex);
	printf("bundle:  sha256:%s\n", hex);
	vigil_hex(b->payload_digest, sizeof(b->payload_digest), hex);
	printf("payload: sha256:%s\n", hex);
}

/* One warning line per grant of a capability the default refuses: what the policy gives up. */
static void print_cap_grants(const struct policy *p)
{
	uint64_t granted = policy_cap_allow(p) & POLICY_CAP_REFUSED;
	unsigned int cap;

	for (cap = 0; cap <= POLICY_CAP_LAST; cap++)
		if (granted & (1ull << cap))
			fprintf(stderr, "vigil: warning: capabilities: grant %s: %s\n",
			        policy_cap_name(cap), policy_cap_risk(cap));
	if (p->userns)
		fprintf(stderr, "vigil: warning: capabilities: grant user_namespaces: the workload "
		                "holds every capability inside namespaces it creates (vigil still "
		                "bounds it there, but the kernel's unprivileged-namespace attack "
		                "surface is open)\n");
}

static int do_check(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_exec_entry *entries = NULL;
	struct policy_error err = {0};
	struct policy *p;
	size_t n = 0;
	int r;

	if (parse_policy_args(argc, argv, &pa, "check [--root DIR] [--no-digests] FILE|BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	r = policy_load_path(pa.file, POLICY_LOAD_POLICY | POLICY_LOAD_BUNDLE, NULL, &p, NULL, NULL,
	                     &err);
	if (r >= 0 && !pa.no_digests) {
		r = policy_resolve_exec(p, pa.root, &entries, &n, &err);
		if (r >= 0)
			r = policy_verify_exec(p, pa.root, entries, n, NULL, &err);
		/* A key rule's exe, as vigild checks it at load. */
		for (size_t i = 0; r >= 0 && i < p->n_keys; i++) {
			uint64_t dev, ino;

			if (p->keys[i].exe_path)
				r = policy_resolve_key_exe(p, i, pa.root, &dev, &ino, &err);
		}
		for (size_t i = 0; r >= 0 && i < n; i++) {
			const struct policy_exec_rule *rule = &p->exec[entries[i].rule_id];

			if (!(entries[i].flags & POLICY_EXEC_WRITER))
				continue;
			fprintf(stderr, "vigil: warning: exec.allow[%u]: rule '%s': %s %s\n",
			        entries[i].rule_id, rule->name, rule->path,
			        (entries[i].flags & POLICY_EXEC_UNPROVEN)
			            ? "cannot be proved free of writers here (no lease granted: "
			              "not root, or no lease support): not checked"
			            : "is open for writing: vigild would not let it run");
		}
		free(entries);
		if (r < 0)
			policy_free(p);
	}
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_INVALID;
	}
	print_cap_grants(p);
	printf("%s: policy '%s' serial %llu: valid, %zu exec rules%s\n", pa.file, p->name,
	       (unsigned long long)p->serial, p->n_exec,
	       pa.no_digests ? " (digests not checked)" : ", every digest matches");
	policy_free(p);
	return VIGIL_EXIT_OK;
}

static int do_show(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	struct bundle *b = NULL;
	struct policy *p;
	size_t i;

	if (parse_policy_args(argc, argv, &pa, "show FILE|BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	if (policy_load_path(pa.file, POLICY_LOAD_POLICY | POLICY_LOAD_BUNDLE, NULL, &p, &b, NULL,
	                     &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_INVALID;
	}
	if (b) {
		print_bundle_digests(b);
		for (i = 0; i < b->n_sigs; i++)
			printf("signed:  %s (not verified; see 'vigil policy verify')\n",
			       b->sigs[i].keyid);
		bundle_free(b);
	}
	printf("name:    %s\nserial:  %llu\nmode:    %s\nscope:   ", p->name,
	       (unsigned long long)p->serial,
	       p->learn   ? "learn"
	       : p->audit ? "audit"
	                  : "enforce");
	if (p->scope_guest)
		printf("whole guest\n");
	for (i = 0; i < p->n_cgroups; i++)
		printf("%s%s", p->cgroups[i], i + 1 < p->n_cgroups ? ", " : "\n");
	printf("exec:    %zu allowed, fileless %s\n", p->n_exec,
	       p->allow_fileless ? "allowed" : "denied");
	for (i = 0; i < p->n_exec; i++) {
		char hex[2 * POLICY_SHA256_LEN + 1];

		vigil_hex(p->exec[i].sha256, POLICY_SHA256_LEN, hex);
		printf("  %-20s %s %s%s\n", p->exec[i].name, hex, p->exec[i].path,
		       p->exec[i].audit && !p->audit ? " (audit)" : "");
	}
	policy_free(p);
	return VIGIL_EXIT_OK;
}

/* Sets obj's "sha256" to the digest of the file its "path" names under root; where names the
 * object in errors (e.g. "exec.allow[3]"). */
static int pin_one(const struct policy_args *pa, json_t *obj, const char *where)
{
	const char *path = json_string_value(json_object_get(obj, "path"));
	uint8_t digest[POLICY_SHA256_LEN];
	char full[8192], hex[2 * POLICY_SHA256_LEN + 1];
	int fd;

	if (!path)
		return 0;
	snprintf(full, sizeof(full), "%s%s", pa->root, path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || vigil_sha256_fd(fd, digest) < 0) {
		fprintf(stderr, "vigil: %s: %s.path: %s: %s\n", pa->file, where, full,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	vigil_hex(digest, sizeof(digest), hex);
	json_object_set_new(obj, "sha256", json_string(hex));
	return 0;
}

/* Fills in the sha256 of every exec rule and of every key rule's exe from the file it names
 * (under --root). */
static int do_pin(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	json_t *root, *rule;
	json_error_t jerr;
	struct policy *p;
	char where[64];
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
	json_array_foreach(json_object_get(json_object_get(root, "exec"), "allow"), i, rule)
	{
		snprintf(where, sizeof(where), "exec.allow[%zu]", i);
		if (pin_one(&pa, rule, where) < 0) {
			json_decref(root);
			return VIGIL_EXIT_FAIL;
		}
	}
	json_array_foreach(json_object_get(json_object_get(root, "keys"), "rules"), i, rule)
	{
		json_t *exe = json_object_get(rule, "exe");

		snprintf(where, sizeof(where), "keys.rules[%zu].exe", i);
		if (json_is_object(exe) && pin_one(&pa, exe, where) < 0) {
			json_decref(root);
			return VIGIL_EXIT_FAIL;
		}
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

static int do_keygen(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	enum bundle_key_type type = BUNDLE_KEY_ED25519;
	char priv[4096], pub[4096], keyid[BUNDLE_KEYID_HEX];
	struct bundle_key *k;
	int r;

	if (parse_policy_args(argc, argv, &pa, "keygen [--type ed25519|p256] PREFIX") < 0)
		return VIGIL_EXIT_USAGE;
	if (pa.type && strcmp(pa.type, "p256") == 0)
		type = BUNDLE_KEY_P256;
	else if (pa.type && strcmp(pa.type, "ed25519") != 0) {
		fprintf(stderr, "vigil: --type: expected ed25519 or p256\n");
		return VIGIL_EXIT_USAGE;
	}
	snprintf(priv, sizeof(priv), "%s.key", pa.file);
	snprintf(pub, sizeof(pub), "%s.pem", pa.file);
	if (bundle_key_generate(type, &k) < 0) {
		fprintf(stderr, "vigil: key generation failed\n");
		return VIGIL_EXIT_FAIL;
	}
	r = bundle_key_save(k, priv, pub, &err);
	bundle_key_keyid(k, keyid);
	bundle_key_free(k);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_FAIL;
	}
	printf("private key: %s (keep it off the image)\npublic key:  %s (copy into the trust "
	       "directory)\nkeyid:       %s\n",
	       priv, pub, keyid);
	return VIGIL_EXIT_OK;
}

static int write_output(const char *path, const char *text, size_t len)
{
	FILE *out = path ? fopen(path, "we") : stdout;

	if (!out) {
		fprintf(stderr, "vigil: %s: %s\n", path, strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	fwrite(text, 1, len, out);
	fputc('\n', out);
	if (out != stdout ? fclose(out) != 0 : fflush(out) != 0) {
		fprintf(stderr, "vigil: %s: write failed\n", path ? path : "stdout");
		return VIGIL_EXIT_FAIL;
	}
	return VIGIL_EXIT_OK;
}

/* Signs a policy into a new bundle, or adds signatures to an existing bundle (k-of-n signing). */
static int do_sign(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	struct bundle *b = NULL;
	struct policy *p = NULL;
	char *buf, *text = NULL;
	size_t len, i;
	int r;

	if (parse_policy_args(argc, argv, &pa,
	                      "sign --key KEY [--key KEY]... [-o OUT] FILE|BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	if (!pa.n_keys) {
		fprintf(stderr,
		        "vigil: sign needs --key (a PEM private key; see 'vigil policy keygen')\n");
		return VIGIL_EXIT_USAGE;
	}
	r = bundle_read_file(pa.file, BUNDLE_MAX_BYTES, &buf, &len, &err);
	if (r >= 0) {
		r = bundle_is_envelope(buf, len) ? bundle_decode(buf, len, pa.file, &b, &err)
		                                 : bundle_new(buf, len, &b);
		free(buf);
	}
	/* Never sign something vigild would refuse to parse. */
	if (r >= 0)
		r = policy_parse((const char *)b->payload, b->payload_len, pa.file, &p, &err);
	policy_free(p);
	for (i = 0; r >= 0 && i < pa.n_keys; i++) {
		struct bundle_key *k;

		r = bundle_key_load(pa.keys[i], &k, &err);
		if (r >= 0) {
			r = bundle_sign(b, k, &err);
			bundle_key_free(k);
		}
	}
	if (r >= 0)
		r = bundle_encode(b, &text, &len);
	bundle_free(b);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg[0] ? err.msg : strerror(-r));
		return r == -ENOMEM || r == -EIO ? VIGIL_EXIT_FAIL : VIGIL_EXIT_INVALID;
	}
	r = write_output(pa.output, text, len);
	free(text);
	return r;
}

/* Exit 0 only when the bundle's signatures met the trust store's threshold; starts failed. */
static int do_verify(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	struct bundle_signers signers;
	struct trust_store *t = NULL;
	struct bundle *b = NULL;
	struct policy *p = NULL;
	size_t len, i;
	char *buf = NULL;
	int r, rc = VIGIL_EXIT_FAIL;

	if (parse_policy_args(argc, argv, &pa, "verify [--trust-dir DIR] BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	r = trust_load_dir(pa.trust_dir ? pa.trust_dir : BUNDLE_DEFAULT_TRUST_DIR, &t, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: policy verify: %s\n", err.msg[0] ? err.msg : strerror(-r));
		goto out;
	}
	r = bundle_read_file(pa.file, BUNDLE_MAX_BYTES, &buf, &len, &err);
	if (r >= 0)
		r = bundle_open(buf, len, pa.file, t, &b, &signers, &p, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: policy verify: %s\n", err.msg[0] ? err.msg : strerror(-r));
		rc = VIGIL_EXIT_INVALID;
		goto out;
	}
	printf("%s: verified, %zu of %u required signers\npolicy:  '%s' serial %llu\n", pa.file,
	       signers.n, t->threshold, p->name, (unsigned long long)p->serial);
	print_bundle_digests(b);
	for (i = 0; i < signers.n; i++)
		printf("signer:  %s\n", signers.keyid[i]);
	rc = VIGIL_EXIT_OK; /* set only here: the whole check completed */
out:
	free(buf);
	policy_free(p);
	bundle_free(b);
	trust_free(t);
	return rc;
}

/* Sends a bundle to vigild's control socket; vigild verifies, measures and enforces it. */
static int do_push(int argc, char **argv)
{
	struct policy_args pa = {0};
	struct policy_error err = {0};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char reply[VIGIL_CONTROL_REPLY_MAX + 1];
	size_t len, off = 0;
	ssize_t n;
	char *buf;
	int fd;

	if (parse_policy_args(argc, argv, &pa, "push [--socket PATH] BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
	         pa.socket ? pa.socket : VIGIL_CONTROL_SOCKET);
	if (bundle_read_file(pa.file, BUNDLE_MAX_BYTES + 1, &buf, &len, &err) < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return VIGIL_EXIT_INVALID;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		fprintf(stderr,
		        "vigil: %s: %s (is vigild running? are you root, outside the policy's "
		        "scope?)\n",
		        addr.sun_path, strerror(e));
		free(buf);
		if (fd >= 0)
			close(fd);
		return VIGIL_EXIT_FAIL;
	}
	/* MSG_NOSIGNAL: vigild may refuse and close before reading it all (not the platform,
	 * too large); its reply line is still there to read, so no SIGPIPE. */
	n = send(fd, VIGIL_CONTROL_PUSH, strlen(VIGIL_CONTROL_PUSH), MSG_NOSIGNAL);
	while (n >= 0 && off < len && (n = send(fd, buf + off, len - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	free(buf);
	shutdown(fd, SHUT_WR);
	off = 0;
	while (off < VIGIL_CONTROL_REPLY_MAX &&
	       (n = read(fd, reply + off, VIGIL_CONTROL_REPLY_MAX - off)) > 0)
		off += (size_t)n;
	close(fd);
	reply[off] = 0;
	if (strncmp(reply, "ok", 2) == 0) {
		printf("%s", reply);
		return VIGIL_EXIT_OK;
	}
	fprintf(stderr, "vigil: vigild: %s", off ? reply : "no reply\n");
	return VIGIL_EXIT_FAIL;
}

int do_policy(int argc, char **argv)
{
	static const struct vigil_cmd sub[] = {
	    {"check", do_check, "validate a policy or bundle and check its digests"},
	    {"show", do_show, "print a policy's or bundle's rules"},
	    {"keygen", do_keygen, "create a signing key pair (Ed25519 or ECDSA P-256)"},
	    {"sign", do_sign, "sign a policy into a bundle, or add a signature to a bundle"},
	    {"verify", do_verify, "check a bundle's signatures against a trust directory"},
	    {"push", do_push, "send a bundle to the running vigild"},
	    {"pin", do_pin,
	     "fill in each exec rule's (and key rule's exe) sha256 from the file it names"},
	    {"test", do_policy_test, "decide the accesses of case files offline, check verdicts"},
	    {"explain", do_policy_explain, "say which rule decided an event, and why"},
	    {"learn", do_policy_learn, "write a policy allowing what a learning run's log shows"},
	    {"diff", do_policy_diff,
	     "show, per section, what one policy allows that another does not"},
	};

	return vigil_dispatch(sub, sizeof(sub) / sizeof(sub[0]), "policy", argc - 1, argv + 1);
}
