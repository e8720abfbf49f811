/* The library modules' error value (lib/error.h). */
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>

static void fill(struct vigil_error *err, int r, const char *reason, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	err->code = r;
	err->reason = reason;
}

int vigil_errorf(struct vigil_error *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, r, NULL, fmt, ap);
		va_end(ap);
	}
	return r;
}

int vigil_reasonf(struct vigil_error *err, int r, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, r, reason, fmt, ap);
		va_end(ap);
	}
	return r;
}
