/* vigil command line: the command table and the helpers subcommands share. */
#ifndef VIGIL_TOOLS_H
#define VIGIL_TOOLS_H

#include <stddef.h>

#include "bpf/vigil_abi.h"
#include "lib/util.h"

/* Exit codes of every vigil subcommand (docs/CLI.md). */
enum {
	VIGIL_EXIT_OK = 0,
	VIGIL_EXIT_FAIL = 1,    /* the check failed or the operation did not happen */
	VIGIL_EXIT_USAGE = 2,   /* wrong arguments */
	VIGIL_EXIT_INVALID = 3, /* the input (policy, bundle, log) is malformed */
};

struct vigil_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand's own name */
	const char *help;
};

int vigil_dispatch(const struct vigil_cmd *table, size_t n, const char *what, int argc,
                   char **argv);

int do_policy(int argc, char **argv);
int do_attest(int argc, char **argv);
int do_log(int argc, char **argv);
int do_key(int argc, char **argv); /* tools/vigil-key.c */
int do_attest_quote(int argc, char **argv);
int do_attest_binding(int argc, char **argv);
int do_attest_jwe(int argc, char **argv);
int do_attest_evidence(int argc, char **argv); /* tools/vigil-verify.c */
int do_attest_verify(int argc, char **argv);
int do_attest_tsm(int argc, char **argv);
int do_attest_tee_report(int argc, char **argv);
int do_attest_firmware_log(int argc, char **argv);

#endif /* VIGIL_TOOLS_H */
