/* Kept for code written before lib/: vigild's logging is lib/log.h. */
#include "lib/log.h"
