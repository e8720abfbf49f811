/* ctlclient: a deliberately slow control-socket client for the VM tests.
 *
 * ctlclient SOCKET SECONDS: connects, then sends one byte every 2 s without ever finishing a
 * request, for at most SECONDS. Prints vigild's reply (or "closed") and the seconds it took.
 * Exit status: 0 when vigild ended the connection first, 1 when it was still open at the end,
 * 2 on a usage or connect error.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char reply[1024];
	time_t t0 = time(NULL);
	int fd, limit;

	if (argc != 3)
		return fprintf(stderr, "usage: ctlclient SOCKET SECONDS\n"), 2;
	limit = atoi(argv[2]);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return fprintf(stderr, "connect: %s\n", strerror(errno)), 2;
	while (time(NULL) - t0 < limit) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 2000) > 0) {
			n = read(fd, reply, sizeof(reply) - 1);
			reply[n > 0 ? n : 0] = 0;
			reply[strcspn(reply, "\n")] = 0;
			printf("%s after %ld s\n", n > 0 ? reply : "closed",
			       (long)(time(NULL) - t0));
			return 0;
		}
		if (send(fd, "p", 1, MSG_NOSIGNAL) < 0) {
			printf("closed (%s) after %ld s\n", strerror(errno),
			       (long)(time(NULL) - t0));
			return 0;
		}
	}
	printf("still open after %ld s\n", (long)(time(NULL) - t0));
	return 1;
}
