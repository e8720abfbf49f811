/* Probes of a running system shared by `vigil doctor` and `vigil status`. */
#include "tools/vigil-sys.h"
#include "tools/vigil.h"
#include "agent/control.h"
#include "attest/attest.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil.skel.h"

static int pinned(const char *pin_dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* One __u32 of a pinned global-data map (.bss/.data) at off. */
static int read_global(int fd, size_t off, uint32_t *ret)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info), zero = 0;
	unsigned char *val;
	int r = -EIO;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || info.value_size < off + sizeof(*ret))
		return -EPROTO;
	val = calloc(1, info.value_size);
	if (val && bpf_map_lookup_elem(fd, &zero, val) == 0) {
		memcpy(ret, val + off, sizeof(*ret));
		r = 0;
	}
	free(val);
	return r;
}

static void probe_pins(struct vigil_sys *s)
{
	char path[4096];
	struct dirent *e;
	int fd, ncpu;
	DIR *d;

	snprintf(path, sizeof(path), "%s/links", s->opt.pin_dir);
	d = opendir(path);
	if (!d) {
		s->pins = errno == ENOENT ? 0 : -errno;
		return;
	}
	while ((e = readdir(d)))
		s->n_links += e->d_name[0] != '.';
	closedir(d);
	s->pins = s->n_links > 0;
	fd = pinned(s->opt.pin_dir, "vigil_bp_data");
	if (fd < 0 ||
	    read_global(fd, offsetof(struct vigil_bpf__data, abi_version), &s->abi_version) < 0)
		s->pins = fd < 0 ? fd : -EPROTO;
	if (fd >= 0)
		close(fd);
	fd = pinned(s->opt.pin_dir, "vigil_bp_bss");
	if (fd >= 0) {
		read_global(fd, offsetof(struct vigil_bpf__bss, active_gen), &s->active_gen);
		close(fd);
	}
	fd = pinned(s->opt.pin_dir, "stats");
	ncpu = libbpf_num_possible_cpus();
	if (fd >= 0 && ncpu > 0) {
		uint64_t *vals = calloc((size_t)ncpu, sizeof(*vals));

		s->have_stats = vals != NULL;
		for (uint32_t i = 0; vals && i < VIGIL_STAT_MAX; i++) {
			if (bpf_map_lookup_elem(fd, &i, vals) < 0) {
				s->have_stats = false;
				break;
			}
			for (int c = 0; c < ncpu; c++)
				s->stats[i] += vals[c];
		}
		free(vals);
	}
	if (fd >= 0)
		close(fd);
}

/* Asks the running vigild ("status" on its control socket); false when it does not answer. */
static bool query_vigild(struct vigil_sys *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	json_t *j, *st;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->opt.control_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, VIGIL_CONTROL_STATUS, strlen(VIGIL_CONTROL_STATUS), MSG_NOSIGNAL) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		close(fd);
		return false;
	}
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	if (strncmp(buf, "ok {", 4) != 0 ||
	    !(j = json_loads(buf + 3, JSON_DISABLE_EOF_CHECK, NULL)))
		return false;
	s->from_vigild = true;
	s->abi_version = (uint32_t)json_integer_value(json_object_get(j, "abi"));
	s->active_gen = (uint32_t)json_integer_value(json_object_get(j, "generation"));
	s->n_links = (unsigned int)json_integer_value(json_object_get(j, "links"));
	s->pins = s->n_links > 0;
	st = json_object_get(j, "stats");
	s->have_stats = json_array_size(st) > 0;
	for (size_t i = 0; i < VIGIL_STAT_MAX && i < json_array_size(st); i++)
		s->stats[i] = (uint64_t)json_integer_value(json_array_get(st, i));
	static const char *sec[] = {"exec", "files", "net", "keys"};
	for (size_t i = 0; i < 4; i++)
		s->rules[i] = (size_t)json_integer_value(
		    json_object_get(json_object_get(j, "rules"), sec[i]));
	json_decref(j);
	return true;
}

/* vigild's pid: a process whose executable is named vigild; its age from /proc/PID/stat. */
static void probe_vigild(struct vigil_sys *s)
{
	char path[300], exe[4096], stat[1024], *p;
	double up = 0;
	unsigned long long start = 0;
	struct dirent *e;
	ssize_t n;
	FILE *f;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = 0;
		p = strrchr(exe, '/');
		if (p && (strcmp(p, "/vigild") == 0 || strcmp(p, "/vigild (deleted)") == 0)) {
			s->vigild_pid = atoi(e->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
	if (!s->vigild_pid)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", s->vigild_pid);
	f = fopen(path, "re");
	if (f && fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')))
		/* Field 22, starttime, counted after the comm's closing parenthesis (field 2). */
		sscanf(p + 2,
		       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		       "%*d %*d %llu",
		       &start);
	if (f)
		fclose(f);
	f = fopen("/proc/uptime", "re");
	if (f && fscanf(f, "%lf", &up) == 1 && start)
		s->vigild_uptime = up - (double)start / (double)sysconf(_SC_CLK_TCK);
	if (f)
		fclose(f);
}

void vigil_sys_probe(struct vigil_sys *s, const char *config_path)
{
	bool must = config_path != NULL;

	memset(s, 0, sizeof(*s));
	agent_options_defaults(&s->opt);
	s->config_path = config_path ?: AGENT_CONFIG_DEFAULT;
	if (agent_config_load(s->config_path, must, &s->opt, &s->cfg, s->config_err,
	                      sizeof(s->config_err)) == 0)
		s->config_err[0] = 0;
	if (!s->opt.tcti || strcmp(s->opt.tcti, "auto") == 0)
		s->tcti = access("/dev/tpmrm0", F_OK) == 0 ? "device:/dev/tpmrm0" : NULL;
	else if (strcmp(s->opt.tcti, "none") != 0)
		s->tcti = s->opt.tcti;
	if (!s->opt.pcr)
		s->opt.pcr = ATTEST_DEFAULT_PCR;
	libbpf_set_print(NULL);
	if (!query_vigild(s))
		probe_pins(s);
	probe_vigild(s);
}

void vigil_sys_free(struct vigil_sys *s)
{
	agent_config_free(&s->cfg);
}

struct last_policy {
	char type[64];
	char *json;
};

static int last_policy_cb(const struct measure_entry *e, void *ctx)
{
	struct last_policy *lp = ctx;

	if (strcmp(e->content_type, ATTEST_CT_BUNDLE) &&
	    strcmp(e->content_type, ATTEST_CT_UNSIGNED))
		return 0;
	snprintf(lp->type, sizeof(lp->type), "%s", e->content_type);
	free(lp->json);
	lp->json = strndup(e->content, e->content_len);
	return 0;
}

int vigil_sys_last_policy(const char *log_path, char *type, size_t type_size, char **ret_json)
{
	struct last_policy lp = {0};
	char err[256];
	int r;

	r = measure_log_read(log_path, last_policy_cb, &lp, err, sizeof(err));
	if (r < 0 || !lp.json) {
		free(lp.json);
		return r < 0 ? r : -ENOENT;
	}
	snprintf(type, type_size, "%s", lp.type);
	*ret_json = lp.json;
	return 0;
}

int vigil_sys_args(int argc, char **argv, const char *usage, const char *help, const char **config)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			break;
		case 'h':
			printf("%s\n\n%s", usage, help);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "%s\n", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	return -1;
}
