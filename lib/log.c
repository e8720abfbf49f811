/* Logging state of the program that links the vigil library. */
#include "lib/log.h"

#include <errno.h>

const char *vigil_log_name = "vigil";
int vigil_log_verbose;

/* The executable's own name until main says otherwise. */
__attribute__((constructor)) static void log_name_init(void)
{
	if (program_invocation_short_name && *program_invocation_short_name)
		vigil_log_name = program_invocation_short_name;
}
