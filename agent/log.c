/* vigild logging state shared by the agent library. */
#include "agent/log.h"

int vigil_log_verbose;
