/* The library modules' error value (lib/error.h). */
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>

int vigil_reasonf(struct vigil_error *err, int r, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = r;
		err->reason = reason;
	}
	return r;
}
