/* Policy authoring subcommands of `vigil policy` (tools/vigil-author.c, tools/vigil-learn.c). */
#ifndef VIGIL_TOOLS_AUTHOR_H
#define VIGIL_TOOLS_AUTHOR_H

#include <stddef.h>

int do_policy_test(int argc, char **argv);
int do_policy_explain(int argc, char **argv);
int do_policy_learn(int argc, char **argv);
int do_policy_diff(int argc, char **argv);

struct policy;
/* `vigil policy diff --cases/--log`: the accesses of case files and event or audit logs whose
 * decision (verdict or rule) differs between policies a and b; an exit code. */
int policy_diff_decisions(const char *path_a, const struct policy *pa, const char *path_b,
                          const struct policy *pb, const char *root, char *const *cases,
                          size_t n_cases, char *const *logs, size_t n_logs);

#endif /* VIGIL_TOOLS_AUTHOR_H */
