/* otlp_sink PORT DIR: a minimal OTLP/HTTP endpoint for the guest (no decoding: the host decodes
 * later with the OpenTelemetry project's decoder). Listens on 127.0.0.1:PORT, one connection at
 * a time with keep-alive; stores each request body as DIR/otlp-NNNNNN-logs.bin or -metrics.bin (and
 * its headers as .hdr), answers 200 with an empty body (an empty Export*ServiceResponse). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REQ (8 << 20)

static int save(const char *dir, unsigned int n, const char *kind, const char *ext, const char *p,
                size_t len)
{
	char path[512], tmp[520];
	int fd;

	snprintf(path, sizeof(path), "%s/otlp-%06u-%s.%s", dir, n, kind, ext);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	unsigned int n = 0;
	char *buf = malloc(MAX_REQ);
	int one = 1, ls;

	if (argc != 3 || !buf)
		return fprintf(stderr, "usage: otlp_sink PORT DIR\n"), 2;
	mkdir(argv[2], 0755);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 8) < 0)
		return perror("otlp_sink: listen"), 1;
	printf("listening on 127.0.0.1:%s\n", argv[1]);
	fflush(stdout);
	for (;;) {
		int c = accept(ls, NULL, NULL);
		size_t have = 0;

		if (c < 0)
			continue;
		for (;;) { /* requests on this connection */
			char *end, *cl;
			size_t hdr, body = 0;
			ssize_t got;

			while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
				if (have >= MAX_REQ ||
				    (got = read(c, buf + have, MAX_REQ - have)) <= 0)
					goto next;
				have += (size_t)got;
			}
			hdr = (size_t)(end - buf) + 4;
			buf[hdr - 1] = 0;
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl)
				body = strtoul(cl + 17, NULL, 10);
			if (hdr + body > MAX_REQ)
				goto next;
			while (have < hdr + body) {
				got = read(c, buf + have, MAX_REQ - have);
				if (got <= 0)
					goto next;
				have += (size_t)got;
			}
			n++;
			{
				const char *kind = strstr(buf, "POST /v1/logs ") == buf ? "logs"
				                   : strstr(buf, "POST /v1/metrics ") == buf
				                       ? "metrics"
				                       : "other";

				save(argv[2], n, kind, "hdr", buf, hdr - 1);
				save(argv[2], n, kind, "bin", buf + hdr, body);
			}
			static const char ok[] =
			    "HTTP/1.1 200 OK\r\nContent-Type: "
			    "application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
			if (write(c, ok, sizeof(ok) - 1) < 0)
				goto next;
			memmove(buf, buf + hdr + body, have - hdr - body);
			have -= hdr + body;
		}
	next:
		close(c);
	}
}
