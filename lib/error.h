/*
 * The error value of vigil's library modules (policies/, attest/, audit/): they fill one and
 * never print; the program that called them reports it once.
 */
#ifndef VIGIL_LIB_ERROR_H
#define VIGIL_LIB_ERROR_H

struct vigil_error {
	char msg[768];      /* one line naming what is wrong and where (file, field, record) */
	int code;           /* the negative errno returned with it */
	const char *reason; /* set where a refusal happens: a stable word for events, or NULL */
};

/* Fills err (when not NULL) and returns r, so `return vigil_errorf(err, -EINVAL, ...)` works. */
int vigil_errorf(struct vigil_error *err, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a reason (a static string). */
int vigil_reasonf(struct vigil_error *err, int r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* VIGIL_LIB_ERROR_H */
