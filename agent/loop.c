/* vigild's main loop: decisions from the ring buffer, the control socket, and signals read with
 * their sender (signalfd), acted on only when the platform sent them. */
#include "agent/agent.h"
#include "agent/keyrelease.h"
#include "lib/log.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* Loop wake-up without any fd ready: ring-buffer drop reports and client deadlines. */
#define LOOP_TIMEOUT_MS 500
/* Ignored signals logged per window; the rest are counted and summed up in one line. */
#define IGNORED_LOG_MAX    20
#define IGNORED_WINDOW_SEC 10

static int sig_fd = -1;

/*
 * Every catchable signal whose default action would stop, suspend or end vigild. The kernel
 * can deliver a signal without the task_kill hook seeing it (F_SETOWN/F_SETSIG, a tty hangup,
 * RLIMIT_CPU's SIGXCPU); blocked and read from the signalfd, none of them acts by default.
 * SIGKILL and SIGSTOP cannot be caught: the kernel's task_kill hook keeps them from the scope.
 */
static void handled_set(sigset_t *set)
{
	/*
	 * The fault signals too: sent (F_SETSIG can name any signal), they would end vigild;
	 * a real fault still does, as the kernel unblocks a fault signal it forces.
	 */
	static const int sigs[] = {SIGTERM, SIGINT,    SIGHUP,  SIGUSR2,   SIGUSR1, SIGQUIT,
	                           SIGALRM, SIGVTALRM, SIGPROF, SIGPWR,    SIGXCPU, SIGXFSZ,
	                           SIGTSTP, SIGTTIN,   SIGTTOU, SIGSTKFLT, SIGSEGV, SIGBUS,
	                           SIGILL,  SIGFPE,    SIGTRAP, SIGSYS,    SIGABRT};
	size_t i;
	int s;

	sigemptyset(set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
	for (s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(set, s);
}

int agent_signals_block(void)
{
	sigset_t set;

	/*
	 * SIGIO: the digest check's lease probe makes vigild a lease holder for a moment, and a
	 * writer opening then makes the kernel signal it. SIGPIPE: a client gone before its reply.
	 * Ignored, neither can end vigild.
	 */
	signal(SIGIO, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	handled_set(&set);
	/* Before any thread exists: threads inherit the mask, so no thread takes these. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return sig_fd < 0 ? -errno : 0;
}

/* The sender as the kernel filled it in; false when the signal carries no trustworthy sender. */
static bool has_sender(const struct signalfd_siginfo *si)
{
	/*
	 * SI_USER (kill, pidfd_send_signal) and SI_TKILL (tgkill): the kernel writes the pid.
	 * Other negative codes come from sigqueue-like calls whose siginfo the sender writes,
	 * pid included; positive codes and SI_KERNEL are the kernel's own (F_SETSIG, tty).
	 */
	return si->ssi_code == SI_USER || si->ssi_code == SI_TKILL;
}

enum sig_action { ACT_IGNORE, ACT_STOP, ACT_RELOAD, ACT_REEXEC };

static const char *action_name(enum sig_action act)
{
	static const char *names[] = {"ignored", "stop", "reload", "reexec"};

	return names[act];
}

static enum sig_action action_of(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		return ACT_STOP;
	case SIGHUP:
		return ACT_RELOAD;
	case SIGUSR2:
		return ACT_REEXEC;
	}
	return ACT_IGNORE;
}

struct ignored_log {
	time_t window;
	unsigned int logged;
	unsigned long long suppressed;
};

/* Logs and records one signal; ignored ones are rate-limited, acted-on ones never. */
static void record_signal(struct agent *a, const struct signalfd_siginfo *si, enum sig_action act,
                          const char *sender, const char *why, const char *comm,
                          struct ignored_log *il)
{
	const char *name = sigabbrev_np((int)si->ssi_signo);
	time_t now = time(NULL);

	if (act == ACT_IGNORE) {
		if (now / IGNORED_WINDOW_SEC != il->window) {
			if (il->suppressed)
				log_info("signals: %llu more ignored signals not logged",
				         il->suppressed);
			il->window = now / IGNORED_WINDOW_SEC;
			il->logged = 0;
			il->suppressed = 0;
		}
		if (++il->logged > IGNORED_LOG_MAX) {
			il->suppressed++;
			return;
		}
	}
	log_info("signal SIG%s (code %d) from %s pid %d uid %u (%s): %s%s%s", name ?: "?",
	         si->ssi_code, sender, (int)si->ssi_pid, si->ssi_uid, comm, action_name(act),
	         why ? ": " : "", why ?: "");
	agent_event_write(a, "signal",
	                  json_pack("{s:i, s:s, s:i, s:s, s:i, s:i, s:s, s:s, s:s?}", "signal",
	                            (int)si->ssi_signo, "name", name ?: "?", "code", si->ssi_code,
	                            "sender", sender, "sender_pid", (int)si->ssi_pid, "sender_uid",
	                            (int)si->ssi_uid, "sender_comm", comm, "action",
	                            action_name(act), "reason", why));
}

/* Decides one signal: acts only on a stop, reload or re-exec the platform sent. */
static enum sig_action decide(struct agent *a, const struct signalfd_siginfo *si,
                              const char **sender, const char **why, char *comm, size_t size)
{
	enum sig_action act = action_of((int)si->ssi_signo);
	struct agent_scope scope;
	int r;

	*why = NULL;
	snprintf(comm, size, "-");
	if (!has_sender(si)) {
		*sender = "kernel";
		*why = "no sender the kernel vouches for";
		return ACT_IGNORE;
	}
	agent_pid_comm((int)si->ssi_pid, comm, size);
	agent_scope_of(a, &scope);
	/* vigild itself counts as the platform (raise(), a thread's tgkill). */
	r = (pid_t)si->ssi_pid == getpid()
	        ? 1
	        : agent_pid_is_platform(a->opt.cgroup_root, &scope, (int)si->ssi_pid);
	if (r == 0) {
		*sender = "workload";
		*why = "the sender is not the platform";
		return ACT_IGNORE;
	}
	/*
	 * Gone before vigild looked (a `kill` command exits at once). Fail open here, on purpose:
	 * a kill(2) or tgkill(2) signal reached vigild only past the task_kill hook, which refuses
	 * every sender in the scope; refusing would make stopping vigild from a script a race.
	 */
	*sender = r == -ESRCH ? "exited" : "platform";
	if (r == -ESRCH)
		*why = "sender exited before it could be checked; vetted by the task_kill hook";
	if (act == ACT_IGNORE && !*why)
		*why = "vigild does not act on this signal";
	return act;
}

/* Reads every pending signal; returns true when vigild is to stop. */
static bool read_signals(struct agent *a, char **argv)
{
	static struct ignored_log il;
	struct signalfd_siginfo si;
	const char *sender, *why;
	char comm[32];

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		enum sig_action act = decide(a, &si, &sender, &why, comm, sizeof(comm));

		record_signal(a, &si, act, sender, why, comm, &il);
		switch (act) {
		case ACT_STOP:
			snprintf(a->stop_members, sizeof(a->stop_members),
			         "\"sender\":\"%s\",\"sender_pid\":%d,\"sender_uid\":%u,"
			         "\"sender_comm\":\"%s\",\"enforcement\":\"continues\"",
			         sender, (int)si.ssi_pid, si.ssi_uid, comm);
			a->stop_signal = (int)si.ssi_signo;
			return true;
		case ACT_RELOAD:
			agent_reload_file(a, "sighup");
			break;
		case ACT_REEXEC:
			agent_reexec(a, argv);
		case ACT_IGNORE:
			break;
		}
	}
	return false;
}

int agent_loop(struct agent *a, char **argv)
{
	struct pollfd fds[16];
	int r;

	for (;;) {
		int timeout = agent_control_timeout(a);
		size_t n;

		fds[0] = (struct pollfd){.fd = ring_buffer__epoll_fd(a->rb), .events = POLLIN};
		fds[1] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		n = 2 + agent_control_pollfds(a, fds + 2, sizeof(fds) / sizeof(fds[0]) - 2);
		if (timeout < 0 || timeout > LOOP_TIMEOUT_MS)
			timeout = LOOP_TIMEOUT_MS;
		r = poll(fds, n, timeout);
		if (r < 0) {
			if (errno != EINTR)
				return log_error_errno(-errno, "poll");
			for (size_t i = 0; i < n; i++)
				fds[i].revents = 0;
		}
		/* Decisions first: nothing a client or a signal does delays their record. */
		r = agent_events_poll(a, 0);
		if (r < 0)
			return log_error_errno(r, "reading the ring buffer");
		if ((fds[1].revents & POLLIN) && read_signals(a, argv))
			return 0;
		agent_control_dispatch(a, fds + 2, n - 2);
		agent_keys_tick(a);
	}
}
