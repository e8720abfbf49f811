/* vigil: the command line for policy authors, operators and auditors. */
#include "tools/vigil.h"
#include "tools/vigil-sys.h"

#include <stdio.h>
#include <signal.h>
#include <string.h>

static int do_version(int argc, char **argv)
{
	printf("vigil %s (ABI %d)\n", vigil_version, VIGIL_ABI_VERSION);
	return VIGIL_EXIT_OK;
}

static int do_help(int argc, char **argv);

static const struct vigil_cmd cmds[] = {
    {"policy", do_policy, "check, show and pin policies; sign, verify and push bundles"},
    {"attest", do_attest, "print and replay the runtime measurement log"},
    {"log", do_log, "verify the audit log and its checkpoints"},
    {"key", do_key, "attestation-gated key release from a KBS into a keyring"},
    {"status", do_status, "show the policy in force, counters and the audit head"},
    {"doctor", do_doctor, "check this system for vigil, with a fix for each problem"},
    {"version", do_version, "print the version"},
    {"help", do_help, "this list"},
};

static int do_help(int argc, char **argv)
{
	size_t i;

	printf("usage: vigil COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
	printf("\n'vigil COMMAND --help' describes one command. Exit status: 0 ok, 1 failure, "
	       "2 usage, 3 invalid input.\n");
	return VIGIL_EXIT_OK;
}

int vigil_dispatch(const struct vigil_cmd *table, size_t n, const char *what, int argc, char **argv)
{
	size_t i;

	if (argc < 1) {
		fprintf(stderr, "vigil: %s needs a subcommand (see 'vigil %s --help')\n", what,
		        what);
		return VIGIL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: vigil %s SUBCOMMAND\n\n", what);
		for (i = 0; i < n; i++)
			printf("  %-10s %s\n", table[i].name, table[i].help);
		return VIGIL_EXIT_OK;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[0], table[i].name) == 0)
			return table[i].fn(argc, argv);
	fprintf(stderr, "vigil: unknown %s subcommand '%s' (see 'vigil %s --help')\n", what,
	        argv[0], what);
	return VIGIL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* `policy check` probes for writers with a lease: a lease break must not kill us. */
	signal(SIGIO, SIG_IGN);
	if (argc < 2) {
		do_help(argc, argv);
		return VIGIL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return do_help(argc, argv);
	return vigil_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), "", argc - 1, argv + 1);
}
