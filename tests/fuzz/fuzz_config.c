/*
 * libFuzzer target: vigild.conf's parser accepts or rejects any input without crashing; a
 * rejection is one line naming the file and line and leaves the options untouched, an
 * acceptance sets only absolute paths (or the documented words) and in-range numbers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/config.h"

static void check_path(const char *p, const char *word)
{
	if (p && p[0] != '/' && !(word && strcmp(p, word) == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_options o = {.pcr = 23}, before;
	struct agent_config c = {0};
	char err[AGENT_CONFIG_ERR_MAX] = "";
	int r;

	before = o;
	r = agent_config_parse("fuzz.conf", (const char *)data, size, &o, &c, err, sizeof(err));
	if (r < 0) {
		if (memcmp(&o, &before, sizeof(o)) != 0 || c.text || c.has_file)
			abort();
		if (strncmp(err, "fuzz.conf:", 10) != 0 || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (r != 0 || o.pcr > 23 || (o.ringbuf_size && (o.ringbuf_size & (o.ringbuf_size - 1))))
		abort();
	if (o.bundle_path && o.policy_path)
		abort();
	check_path(o.bundle_path, NULL);
	check_path(o.trust_dir, NULL);
	check_path(o.event_log_path, "-");
	check_path(o.audit_dir, "none");
	check_path(o.pin_dir, NULL);
	agent_config_free(&c);
	return 0;
}
