/* Shared by the guest test programs that drive io_uring (vtest, netprobe): one operation on a ring
 * of its own. Header-only: each program is one static binary built from its one .c file. */
#ifndef VIGIL_TEST_URING_ONCE_H
#define VIGIL_TEST_URING_ONCE_H

#include <liburing.h>

/*
 * Submits the one SQE prep fills on a fresh ring and waits for its completion. Returns 0 with the
 * operation's result (>= 0, or a negative errno) in *res; or io_uring's own negative errno, with
 * *stage naming the call that failed.
 */
static int uring_once(void (*prep)(struct io_uring_sqe *, void *), void *arg, int *res,
                      const char **stage)
{
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int r;

	*stage = "io_uring_queue_init";
	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0)
		return r;
	prep(io_uring_get_sqe(&ring), arg);
	io_uring_submit(&ring);
	*stage = "io_uring_wait_cqe";
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r < 0)
		return r;
	*res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return 0;
}

#endif /* VIGIL_TEST_URING_ONCE_H */
