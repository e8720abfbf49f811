/* unixsrv: a stand-in for a platform daemon's unix socket in the VM tests.
 *
 * unixsrv listen PATH: binds and listens on PATH, answers "hi" to every client, forever.
 * unixsrv connect PATH: connects to PATH and reads the answer. Exit status: 0 when connected and
 * answered, 1 (with strerror on stderr) when the connect or the read failed, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char buf[8];
	int fd, c;

	if (argc != 3 || strlen(argv[2]) >= sizeof(addr.sun_path))
		return fprintf(stderr, "usage: unixsrv listen|connect PATH\n"), 2;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[2]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perror("socket"), 1;
	if (strcmp(argv[1], "listen") == 0) {
		unlink(argv[2]);
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0)
			return perror("bind/listen"), 1;
		for (;;) {
			c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			(void)!write(c, "hi\n", 3);
			close(c);
		}
	}
	if (strcmp(argv[1], "connect") != 0)
		return fprintf(stderr, "usage: unixsrv listen|connect PATH\n"), 2;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return fprintf(stderr, "connect: %s\n", strerror(errno)), 1;
	if (read(fd, buf, sizeof(buf)) != 3 || memcmp(buf, "hi\n", 3) != 0)
		return fprintf(stderr, "no answer\n"), 1;
	printf("answered\n");
	return 0;
}
