/* vigild logging: one line per message on stderr, errors returned as negative errno. */
#ifndef VIGIL_AGENT_LOG_H
#define VIGIL_AGENT_LOG_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern int vigil_log_verbose;

#define log_info(fmt, ...) fprintf(stderr, "vigild: " fmt "\n", ##__VA_ARGS__)
#define log_debug(fmt, ...)                                                                        \
	do {                                                                                       \
		if (vigil_log_verbose)                                                             \
			fprintf(stderr, "vigild: " fmt "\n", ##__VA_ARGS__);                       \
	} while (0)
/* Logs with the error's text and evaluates to r, so `return log_error_errno(r, ...)` propagates. */
#define log_error_errno(r, fmt, ...)                                                               \
	({                                                                                         \
		int _r = (r);                                                                      \
		fprintf(stderr, "vigild: error: " fmt ": %s\n", ##__VA_ARGS__, strerror(-_r));     \
		_r;                                                                                \
	})
#define log_error(fmt, ...) fprintf(stderr, "vigild: error: " fmt "\n", ##__VA_ARGS__)

#endif /* VIGIL_AGENT_LOG_H */
