/* vigil log: verify the hash-chained audit log and its signed checkpoints offline. */
#include "tools/vigil.h"
#include "audit/audit.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes of `vigil log verify` beyond the common ones (docs/AUDIT-LOG.md). */
enum {
	LOG_EXIT_TORN = 4,     /* only the last line is incomplete: vigild crashed, not restarted */
	LOG_EXIT_UNSIGNED = 5, /* the chain is intact but no signed checkpoint covers a record */
	LOG_EXIT_UNPINNED = 6, /* consistent, but only under the key the log names itself */
};

#define VERIFY_USAGE "verify [--checkpoint FILE] [--pubkey FILE] [DIR]"

static int do_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"checkpoint", required_argument, NULL, 'c'},
	    {"pubkey", required_argument, NULL, 'k'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct audit_verify_options o = {.dir = "/var/log/vigil"};
	struct audit_verify_result res;
	struct audit_key key = {0};
	const char *pubkey = NULL;
	char hex[AUDIT_HEX_LEN + 1];
	bool quiet = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:k:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.checkpoint_file = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("usage: vigil log " VERIFY_USAGE "\n\n"
			       "Checks every record's hash chain in DIR (default /var/log/vigil),\n"
			       "every checkpoint's signature and that each matches the chain.\n"
			       "--pubkey pins the checkpoint key (a note vkey or PEM public key:\n"
			       "the vigil/audit-key record of the attested measurement log).\n"
			       "Without it the log is checked under the key its own start records\n"
			       "name, which a rebuilt log names too: never exit 0.\n\n"
			       "Exit status: 0 verified under the pinned key (a signed checkpoint\n"
			       "covers records), 1 tampering or mismatch (first bad record\n"
			       "reported), 2 usage, 3 a missing, empty or unreadable log file,\n"
			       "checkpoints.jsonl or key, 4 torn last line, 5 chain intact but no\n"
			       "signed checkpoint covers it, 6 consistent but not verified: no\n"
			       "--pubkey (the log's own key was used).\n");
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "usage: vigil log " VERIFY_USAGE "\n");
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "usage: vigil log " VERIFY_USAGE "\n");
		return VIGIL_EXIT_USAGE;
	}
	if (optind == argc - 1)
		o.dir = argv[optind];
	if (pubkey) {
		r = audit_key_read_public(pubkey, NULL, &key);
		if (r < 0) {
			fprintf(stderr, "vigil: log verify: %s: %s\n", pubkey,
			        r == -ENODATA       ? "empty"
			        : r == -EMEDIUMTYPE ? "not a regular file"
			        : r == -EBADMSG || r == -EKEYREJECTED
			            ? "not an Ed25519 or ECDSA P-256 vkey or PEM public key"
			            : strerror(-r));
			return VIGIL_EXIT_INVALID;
		}
		o.key = &key;
	}
	/*
	 * Fail closed: exit 0 only on AUDIT_OK, which only a completed check sets, and only under a
	 * key the verifier was given: the log's own key proves consistency, not origin (a log
	 * rebuilt as a whole, re-chained and re-signed with a new key, is consistent too).
	 */
	r = audit_verify(&o, &res);
	audit_key_free(&key);
	if (r == 0 && res.status == AUDIT_OK && !pubkey) {
		vigil_hex(res.last_hash, AUDIT_HASH_LEN, hex);
		fprintf(stderr,
		        "vigil: log verify: not verified: key not pinned; consistent under the "
		        "log's own key only (%s; last record %llu hash %s): pass --pubkey with the "
		        "vigil/audit-key of the attested measurement log\n",
		        res.msg, (unsigned long long)res.records, hex);
		return LOG_EXIT_UNPINNED;
	}
	if (r == 0 && res.status == AUDIT_OK) {
		vigil_hex(res.last_hash, AUDIT_HASH_LEN, hex);
		if (!quiet)
			printf("verified: %s; %llu gap and %llu loss records; last record %llu "
			       "hash %s\n",
			       res.msg, (unsigned long long)res.gaps,
			       (unsigned long long)res.losses, (unsigned long long)res.records,
			       hex);
		return VIGIL_EXIT_OK;
	}
	switch (res.status) {
	case AUDIT_NO_LOG:
	case AUDIT_INCOMPLETE:
		fprintf(stderr, "vigil: log verify: %s\n", res.msg);
		return VIGIL_EXIT_INVALID;
	case AUDIT_UNCOVERED:
		fprintf(stderr, "vigil: log verify: not verified: %s\n", res.msg);
		return LOG_EXIT_UNSIGNED;
	default:
		break;
	}
	fprintf(stderr, "vigil: log verify: %s: first bad record %llu (%s offset %llu): %s\n",
	        audit_verify_status_name(res.status), (unsigned long long)res.bad_record,
	        res.bad_file[0] ? res.bad_file : "-", (unsigned long long)res.bad_offset, res.msg);
	return res.status == AUDIT_TORN_TAIL ? LOG_EXIT_TORN : VIGIL_EXIT_FAIL;
}

int do_log(int argc, char **argv)
{
	static const struct vigil_cmd cmds[] = {
	    {"verify", do_verify, "check the chain and the signed checkpoints"},
	};

	return vigil_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), "log", argc - 1, argv + 1);
}
