/*
 * vigild's event lines, public: the one format the event log and the audit log carry, for
 * benchmarks and tools that format events as vigild does (agent/agent.h stays internal).
 */
#ifndef VIGIL_AGENT_EVENTS_H
#define VIGIL_AGENT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct vigil_event;

/* A formatting context as a fresh vigild has it (no policy yet): boot time to wall time. */
struct agent *agent_event_context_new(int64_t boot_to_real_ns);
void agent_event_context_free(struct agent *a);

/* Formats one event as a JSON line into out (NUL-terminated); returns its length. */
int agent_event_format(const struct agent *a, const struct vigil_event *e, char *out, size_t size);

#endif /* VIGIL_AGENT_EVENTS_H */
