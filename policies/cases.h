/*
 * Case files for `vigil policy test`: one JSON object per line, each an access and the verdict
 * it must get (docs/POLICY-AUTHORING.md). Blank lines and lines starting with '#' are skipped.
 */
#ifndef VIGIL_POLICY_CASES_H
#define VIGIL_POLICY_CASES_H

#include "policies/evaluate.h"

struct policy_case {
	unsigned int line;
	char *name;                  /* "case", or NULL */
	struct policy_access access; /* its strings are owned by the case */
	uint8_t expect;              /* enum vigil_verdict */
	bool has_rule;               /* "rule" given: a name, or null for "no rule" */
	char *rule;
	char *reason; /* "reason", or NULL */
	char *text;   /* the access, for output: "read /srv/x" */
};

/* Reads every case of path; on bad input one line in err: "FILE:LINE: FIELD: what". */
int policy_cases_load(const char *path, struct policy_case **ret, size_t *ret_n,
                      struct policy_error *err);
/* Parses one case line (len bytes) of file origin. */
int policy_case_parse(const char *buf, size_t len, const char *origin, unsigned int line,
                      struct policy_case *c, struct policy_error *err);
void policy_case_clear(struct policy_case *c);
void policy_cases_free(struct policy_case *cases, size_t n);

#endif /* VIGIL_POLICY_CASES_H */
