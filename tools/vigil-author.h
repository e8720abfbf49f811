/* Policy authoring subcommands of `vigil policy` (tools/vigil-author.c, tools/vigil-learn.c). */
#ifndef VIGIL_TOOLS_AUTHOR_H
#define VIGIL_TOOLS_AUTHOR_H

int do_policy_test(int argc, char **argv);
int do_policy_explain(int argc, char **argv);
int do_policy_learn(int argc, char **argv);
int do_policy_diff(int argc, char **argv);

#endif /* VIGIL_TOOLS_AUTHOR_H */
