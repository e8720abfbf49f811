/*
 * Logging for vigil's programs: one line per message on stderr, prefixed with the program's
 * name (vigil_log_name: the executable's, unless main sets another). Only programs log:
 * library modules fill an error value and leave the reporting to their caller.
 */
#ifndef VIGIL_LIB_LOG_H
#define VIGIL_LIB_LOG_H

#include <stdio.h>
#include <string.h>

extern const char *vigil_log_name;
extern int vigil_log_verbose;

#define log_info(fmt, ...) fprintf(stderr, "%s: " fmt "\n", vigil_log_name, ##__VA_ARGS__)
#define log_debug(fmt, ...)                                                                        \
	do {                                                                                       \
		if (vigil_log_verbose)                                                             \
			log_info(fmt, ##__VA_ARGS__);                                              \
	} while (0)
/* Logs with the error's text and evaluates to r, so `return log_error_errno(r, ...)` propagates. */
#define log_error_errno(r, fmt, ...)                                                               \
	({                                                                                         \
		int _r = (r);                                                                      \
		fprintf(stderr, "%s: error: " fmt ": %s\n", vigil_log_name, ##__VA_ARGS__,         \
		        strerror(-_r));                                                            \
		_r;                                                                                \
	})
#define log_error(fmt, ...) fprintf(stderr, "%s: error: " fmt "\n", vigil_log_name, ##__VA_ARGS__)

#endif /* VIGIL_LIB_LOG_H */
