/* The control socket: platform peers only, non-blocking, a deadline and a bounded buffer per
 * client.
 */
#include "agent/agent.h"
#include "agent/control.h"
#include "agent/config.h"
#include "lib/log.h"
#include "policies/bundle.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Platform clients only, so a handful is plenty; more wait in the listen backlog. */
#define CONTROL_MAX_CLIENTS 4
#define CONTROL_CHUNK       (256u << 10)
#define CONTROL_READ_BUDGET (1u << 20)
/* However much a client sends, its request ends within this. */
#define CONTROL_MAX_DEADLINE_MS 60000

struct control_client {
	int fd;
	int pid;
	unsigned int uid;
	char comm[32];
	char *buf;
	size_t len, cap;
	bool overflow; /* sent more than a push may be: refused without reading the rest */
	int64_t start_ms, deadline_ms;
};

struct agent_control {
	int fd;
	struct control_client c[CONTROL_MAX_CLIENTS];
	unsigned long long refused, dropped;
};

/* Never blocks and never raises SIGPIPE: a client that does not read loses its reply. */
static void reply_line(int fd, const char *msg)
{
	char line[VIGIL_CONTROL_REPLY_MAX];
	int n = snprintf(line, sizeof(line) - 1, "%s", msg);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("control reply: %s", strerror(errno));
}

int agent_control_open(struct agent *a)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *path = a->opt.control_socket;
	struct agent_control *c;
	int fd, i, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return log_error_errno(-ENAMETOOLONG, "control socket %s", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->c[i].fd = -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	vigil_mkdir_parent(path, 0700); /* an error shows in bind's below */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		free(c);
		return log_error_errno(r, "control socket");
	}
	unlink(path);
	/* Root only by mode; the platform only by SO_PEERCRED and the peer's cgroup. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		free(c);
		return log_error_errno(r, "control socket %s", path);
	}
	c->fd = fd;
	a->control = c;
	return 0;
}

static void client_close(struct control_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->buf);
	*cl = (struct control_client){.fd = -1};
}

void agent_control_close(struct agent *a)
{
	struct agent_control *c = a->control;
	int i;

	if (!c)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(&c->c[i]);
	close(c->fd);
	unlink(a->opt.control_socket);
	free(c);
	a->control = NULL;
}

static struct control_client *free_slot(struct agent_control *c)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->c[i].fd < 0)
			return &c->c[i];
	return NULL;
}

size_t agent_control_pollfds(struct agent *a, struct pollfd *fds, size_t max)
{
	struct agent_control *c = a->control;
	size_t n = 0;
	int i;

	if (!c)
		return 0;
	/* Full: new connections wait in the backlog until a slot frees. */
	if (n < max && free_slot(c))
		fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	for (i = 0; i < CONTROL_MAX_CLIENTS && n < max; i++)
		if (c->c[i].fd >= 0)
			fds[n++] = (struct pollfd){.fd = c->c[i].fd, .events = POLLIN};
	return n;
}

int agent_control_timeout(struct agent *a)
{
	struct agent_control *c = a->control;
	int64_t now = (int64_t)vigil_now_ms(), next = -1;
	int i;

	for (i = 0; c && i < CONTROL_MAX_CLIENTS; i++)
		if (c->c[i].fd >= 0 && (next < 0 || c->c[i].deadline_ms < next))
			next = c->c[i].deadline_ms;
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void peer_event(struct agent *a, const char *type, const struct control_client *cl,
                       const char *why)
{
	agent_event_write(a, type,
	                  json_pack("{s:i, s:i, s:s, s:s}", "peer_pid", cl->pid, "peer_uid",
	                            (int)cl->uid, "peer_comm", cl->comm, "reason", why));
}

/* SO_PEERCRED names the process that connected; it must be root and the platform. */
static void accept_one(struct agent *a, int fd)
{
	struct agent_control *c = a->control;
	struct control_client *cl = free_slot(c), tmp = {.fd = fd};
	struct agent_scope scope;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const char *why = NULL;
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		why = "no_credentials"; /* cannot tell who it is: fail closed */
		cred = (struct ucred){.pid = 0, .uid = (uid_t)-1};
	}
	tmp.pid = cred.pid;
	tmp.uid = cred.uid;
	agent_pid_comm(cred.pid, tmp.comm, sizeof(tmp.comm));
	agent_scope_of(a, &scope);
	if (!why && cred.uid != 0)
		why = "not_root";
	if (!why) {
		r = agent_pid_is_platform(a->opt.cgroup_root, &scope, cred.pid);
		/* Gone already: nothing shows it was outside the scope (fail closed). */
		if (r <= 0)
			why = r == -ESRCH ? "peer_gone" : "in_scope";
	}
	if (why || !cl) {
		why = why ?: "busy";
		c->refused++;
		log_info("control: refused pid %d uid %u (%s): %s (%llu refused so far)", tmp.pid,
		         tmp.uid, tmp.comm, why, c->refused);
		reply_line(fd, strcmp(why, "busy") == 0
		                   ? "error: vigild is serving other requests; try again"
		                   : "error: the control socket serves the platform only (root "
		                     "outside the policy's scope)");
		peer_event(a, "control_refused", &tmp, why);
		close(fd);
		return;
	}
	tmp.start_ms = (int64_t)vigil_now_ms();
	tmp.deadline_ms = tmp.start_ms + VIGIL_CONTROL_DEADLINE_MS;
	*cl = tmp;
}

static void serve(struct agent *a, struct control_client *cl)
{
	char reply[VIGIL_CONTROL_REPLY_MAX];

	/* `vigil status` and `vigil doctor`: what is in force (agent/service.c). */
	if (!cl->overflow && cl->len == strlen(VIGIL_CONTROL_STATUS) &&
	    memcmp(cl->buf, VIGIL_CONTROL_STATUS, cl->len) == 0) {
		agent_status_send(a, cl->fd);
		client_close(cl);
		return;
	}
	agent_reload_push(a, cl->overflow ? NULL : cl->buf, cl->len, reply, sizeof(reply));
	reply_line(cl->fd, reply);
	client_close(cl);
}

/* Reads what is there without waiting; serves the request at EOF. */
static void client_read(struct agent *a, struct control_client *cl)
{
	size_t max = strlen(VIGIL_CONTROL_PUSH) + BUNDLE_MAX_BYTES, budget = CONTROL_READ_BUDGET;
	ssize_t n;

	/* A budget per pass: the loop goes back to the ring buffer between chunks of a big push. */
	while (budget) {
		if (cl->len == cl->cap) {
			size_t cap = cl->cap ? cl->cap * 2 : CONTROL_CHUNK;
			char *tmp;

			if (cap > max + 1)
				cap = max + 1;
			tmp = realloc(cl->buf, cap);
			if (!tmp) {
				reply_line(cl->fd, "error: vigild is out of memory");
				client_close(cl);
				return;
			}
			cl->buf = tmp;
			cl->cap = cap;
		}
		n = recv(cl->fd, cl->buf + cl->len,
		         cl->cap - cl->len < budget ? cl->cap - cl->len : budget, MSG_DONTWAIT);
		if (n > 0) {
			cl->len += (size_t)n;
			budget -= (size_t)n;
			/* Bounded: past the cap nothing more is read; refused at once. */
			if (cl->len > max) {
				cl->overflow = true;
				serve(a, cl);
				return;
			}
			/* A big bundle may take longer than a line: 1 s more per MiB, up to a cap.
			 */
			cl->deadline_ms = cl->start_ms + VIGIL_CONTROL_DEADLINE_MS +
			                  (int64_t)(cl->len >> 20) * 1000;
			if (cl->deadline_ms > cl->start_ms + CONTROL_MAX_DEADLINE_MS)
				cl->deadline_ms = cl->start_ms + CONTROL_MAX_DEADLINE_MS;
			continue;
		}
		if (n == 0) {
			serve(a, cl);
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("control: reading from pid %d: %s", cl->pid, strerror(errno));
		client_close(cl);
		return;
	}
}

void agent_control_dispatch(struct agent *a, const struct pollfd *fds, size_t n)
{
	struct agent_control *c = a->control;
	int64_t now;
	size_t i;
	int j, fd;

	if (!c)
		return;
	for (i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == c->fd) {
			/* A few per pass: the loop returns to the ring buffer in between. */
			for (j = 0; j < 8 && (fd = accept4(c->fd, NULL, NULL,
			                                   SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;
			     j++)
				accept_one(a, fd);
			continue;
		}
		for (j = 0; j < CONTROL_MAX_CLIENTS; j++)
			if (c->c[j].fd == fds[i].fd) {
				client_read(a, &c->c[j]);
				break;
			}
	}
	now = (int64_t)vigil_now_ms();
	for (j = 0; j < CONTROL_MAX_CLIENTS; j++) {
		struct control_client *cl = &c->c[j];

		if (cl->fd < 0 || cl->deadline_ms > now)
			continue;
		c->dropped++;
		log_info("control: dropped pid %d (%s): no complete request within %d ms (%llu "
		         "dropped so far)",
		         cl->pid, cl->comm, VIGIL_CONTROL_DEADLINE_MS, c->dropped);
		reply_line(cl->fd, "error: request not complete within the deadline");
		peer_event(a, "control_dropped", cl, "deadline");
		client_close(cl);
	}
}
