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

/*
 * Fills err (when not NULL) with the message, r and the refusal's reason (a static string, or
 * NULL), and returns r, so `return vigil_reasonf(err, -ESTALE, "rollback", ...)` works.
 */
int vigil_reasonf(struct vigil_error *err, int r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same without a reason. */
#define vigil_errorf(err, r, ...) vigil_reasonf((err), (r), NULL, __VA_ARGS__)

#endif /* VIGIL_LIB_ERROR_H */
