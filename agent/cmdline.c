/*
 * process.command_line for an event, read from /proc at consume time, only when the process now
 * at the event's pid is provably the one the event names. BPF captures no argv (copying it on
 * every exec would cost the hot path); this is the best effort that cannot name the wrong
 * process:
 *  - the process there started before the event: its start tick (/proc/PID/stat field 22,
 *    boot-time clock ticks) ends before the event's ts_boot_ns (same clock). A pid is reused
 *    only after its process died, and a process that died before the event could not act in
 *    it; so a process alive now that started before the event is the event's process;
 *  - for exec events, /proc/PID/exe is the executable the event names (dev, ino): the argv is
 *    then the new program's, not the caller's (a refused exec therefore never gets one);
 *  - every file is read through one open /proc/PID directory: once that process is gone, the
 *    reads fail (ESRCH) rather than reach a process that reused the pid.
 * The argv is the process's own, mutable memory (it can rewrite it, or exec another program
 * after the event: its argv then, none while the exec runs): best effort, documented.
 */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static ssize_t read_at(int dir, const char *name, char *buf, size_t size)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (got < size && (n = read(fd, buf + got, size - got)) > 0)
		got += (size_t)n;
	n = n < 0 && got == 0 ? -errno : (ssize_t)got;
	close(fd);
	return n;
}

/* The start of the process at dir, in boot-time clock ticks; -errno when unreadable. */
static int64_t start_ticks(int dir)
{
	char buf[1024], *p;
	ssize_t n = read_at(dir, "stat", buf, sizeof(buf) - 1);
	unsigned long long ticks;
	int field;

	if (n < 0)
		return n;
	buf[n] = 0;
	/* comm (field 2) may hold spaces and parentheses: fields after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	for (field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return -EBADMSG;
	return (int64_t)ticks;
}

static bool is_exec(uint16_t type)
{
	return type == VIGIL_EV_EXEC;
}

/*
 * The last answer: a burst of events from one process (a storm of denials) costs one read.
 * Process X, started before start_end_ns, was at pid at checked_ns (the clock was read before
 * its stat): it held the pid in between, so an event of that pid in [start_end_ns, checked_ns]
 * is X's. Only the consumer thread calls this.
 */
static struct {
	uint32_t pid;
	uint64_t start_end_ns, checked_ns, exe_dev, exe_ino;
	char text[AGENT_CMDLINE_MAX];
	int len;
} last;

int agent_cmdline(const struct vigil_event *e, char *out, size_t size)
{
	static long tick_ns;
	char path[32];
	int64_t ticks;
	uint64_t now, exe_dev = 0, exe_ino = 0;
	struct timespec ts;
	ssize_t n;
	int dir;

	if (size < 2 || !e->pid)
		return -EINVAL;
	if (!tick_ns) {
		long hz = sysconf(_SC_CLK_TCK);

		tick_ns = hz > 0 ? 1000000000L / hz : 10000000L;
	}
	if (last.len > 0 && last.pid == e->pid && last.start_end_ns <= e->ts_boot_ns &&
	    e->ts_boot_ns <= last.checked_ns &&
	    (!is_exec(e->type) || (last.exe_dev == e->dev && last.exe_ino == e->ino))) {
		n = last.len < (int)size ? last.len : (int)size - 1;
		memcpy(out, last.text, (size_t)n);
		out[n] = 0;
		return (int)n;
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	snprintf(path, sizeof(path), "/proc/%u", e->pid);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	ticks = start_ticks(dir);
	/* Not provably before the event (the same tick included): could be a reused pid. */
	if (ticks >= 0 && (uint64_t)(ticks + 1) * (uint64_t)tick_ns > e->ts_boot_ns)
		ticks = -ESTALE;
	if (ticks >= 0 && is_exec(e->type)) {
		struct stat st = {0};

		if (fstatat(dir, "exe", &st, 0) < 0)
			ticks = -errno;
		exe_dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);
		exe_ino = st.st_ino;
		if (ticks >= 0 && (exe_dev != e->dev || exe_ino != e->ino))
			ticks = -ESTALE; /* the exec failed, or another exec followed */
	}
	if (ticks < 0) {
		close(dir);
		return (int)ticks;
	}
	n = read_at(dir, "cmdline", out, size - 1);
	close(dir);
	if (n < 0)
		return (int)n;
	/* argv's NULs as spaces; the trailing NUL(s) dropped. */
	while (n > 0 && out[n - 1] == 0)
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = ' ';
	out[n] = 0;
	if (n <= 0)
		return -ENOENT; /* a kernel thread or a zombie: no argv */
	if (size - 1 >= sizeof(last.text) || n < (ssize_t)sizeof(last.text)) {
		last.pid = e->pid;
		last.start_end_ns = (uint64_t)(ticks + 1) * (uint64_t)tick_ns;
		last.checked_ns = now;
		last.exe_dev = exe_dev;
		last.exe_ino = exe_ino;
		last.len =
		    (int)(n < (ssize_t)sizeof(last.text) ? n : (ssize_t)sizeof(last.text) - 1);
		memcpy(last.text, out, (size_t)last.len);
	}
	return (int)n;
}
