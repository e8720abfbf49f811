/* Helpers shared by the policy section parsers (policy.c, policy_net.c, policy_file.c,
 * policy_key.c). */
#ifndef VIGIL_POLICY_INTERNAL_H
#define VIGIL_POLICY_INTERNAL_H

#include "policies/json.h"
#include "policies/policy.h"

/* Parses len bytes of JSON (at most max, duplicate keys refused) into *ret; errors name
 * "ORIGIN:LINE:COL" (what: "policy", "bundle") and are -EFBIG or -EINVAL. */
int policy_json_load(const char *buf, size_t len, size_t max, const char *origin, const char *what,
                     struct vjson_doc **ret, struct policy_error *err);
/* Fails with -EINVAL when obj has a key outside allowed (NULL-terminated). */
int policy_check_keys(const vjson *obj, const char *const *allowed, const char *origin,
                      const char *where, struct policy_error *err);
int policy_get_string(const vjson *obj, const char *key, bool required, const char *origin,
                      const char *where, const char **ret, struct policy_error *err);
/* "SECTION[I]" into buf (a rule's place in messages); no printf: it runs once per rule. */
void policy_where(char *buf, size_t len, const char *section, size_t i);
int policy_parse_hex256(const char *s, uint8_t out[POLICY_SHA256_LEN]);

/* "allow" | "deny" | "audit" at obj.key; absent leaves *ret unchanged unless required. */
int policy_get_action(const vjson *obj, const char *key, bool required, const char *origin,
                      const char *where, uint8_t *ret, struct policy_error *err);
/* An array of names from table (NULL-terminated, index = bit) at obj.key as a bit mask;
 * absent gives all_mask. */
int policy_get_mask(const vjson *obj, const char *key, const char *const *table, uint32_t all_mask,
                    const char *origin, const char *where, uint32_t *ret, struct policy_error *err);
/* The rule's name, or fallback; duplicated into *ret. */
int policy_rule_name(const vjson *obj, const char *fallback, const char *origin, const char *where,
                     char **ret, struct policy_error *err);
/* The section object at root.key with its allowed keys checked; NULL (and 0) when absent. */
int policy_section(const vjson *root, const char *key, const char *const *allowed,
                   const char *origin, const vjson **ret, struct policy_error *err);

int policy_parse_network(struct policy *p, const vjson *root, struct policy_error *err);
int policy_parse_files(struct policy *p, const vjson *root, struct policy_error *err);
int policy_parse_keys(struct policy *p, const vjson *root, struct policy_error *err);
int policy_parse_capabilities(struct policy *p, const vjson *root, struct policy_error *err);
void policy_free_network(struct policy *p);
void policy_free_files(struct policy *p);
void policy_free_keys(struct policy *p);

#endif /* VIGIL_POLICY_INTERNAL_H */
