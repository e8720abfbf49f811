/*
 * vigild --hand-over PATH: the initramfs's vigild gives its identity to the real root's.
 *
 * The kernel knows vigild by one binary, (dev, inode) in the pinned .bss (agent_exe_dev/ino,
 * bpf/common.bpf.h). The initramfs's copy is another file than the real root's, so the real
 * root's vigild could not reach the pins it must adopt. This command, run by the platform with
 * the binary the pins know (so the kernel lets it open bpffs), moves the identity to PATH when
 * PATH has the same SHA-256 as itself: the same program, so nothing new is trusted. The pinned
 * programs enforce throughout; the next vigild started from PATH adopts them.
 */
#include "agent/agent.h"
#include "lib/log.h"
#include "lib/util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil.skel.h"

/* True while the vigild the pins registered still runs the binary the pins know. */
static bool registered_vigild_runs(uint32_t tgid, uint64_t dev, uint64_t ino)
{
	char exe[64];
	struct stat st;

	if (!tgid)
		return false;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", tgid);
	return stat(exe, &st) == 0 && policy_kdev(st.st_dev) == dev && st.st_ino == ino;
}

int agent_hand_over(const char *pin_dir, const char *to)
{
	uint8_t mine[VIGIL_SHA256_LEN], theirs[VIGIL_SHA256_LEN];
	char hex_mine[VIGIL_SHA256_HEX], hex_theirs[VIGIL_SHA256_HEX], path[PATH_MAX + 64];
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	struct vigil_bpf__bss *bss;
	struct stat st;
	size_t size;
	int fd, r;

	r = vigil_sha256_file("/proc/self/exe", mine);
	if (r < 0)
		return log_error_errno(r, "--hand-over: reading this vigild's binary");
	r = vigil_sha256_file(to, theirs);
	if (r < 0)
		return log_error_errno(r, "--hand-over: reading %s", to);
	if (stat(to, &st) < 0)
		return log_error_errno(-errno, "--hand-over: %s", to);
	/* Digest, not path or inode: the successor is trusted because it is this very program. */
	if (memcmp(mine, theirs, sizeof(mine)) != 0) {
		vigil_hex(mine, sizeof(mine), hex_mine);
		vigil_hex(theirs, sizeof(theirs), hex_theirs);
		log_error("--hand-over: refused: %s (sha256 %s) is not this vigild (sha256 %s); "
		          "the pins keep their vigild",
		          to, hex_theirs, hex_mine);
		return -EPERM;
	}
	snprintf(path, sizeof(path), "%s/maps/vigil_bp_bss", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return log_error_errno(-errno,
		                       "--hand-over: %s (nothing pinned, or this binary is "
		                       "not the one the pins know)",
		                       path);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ||
	    info.value_size != sizeof(struct vigil_bpf__bss)) {
		close(fd);
		log_error("--hand-over: %s is not this vigild's .bss (another ABI): reboot, or "
		          "vigild --unload",
		          path);
		return -EPROTO;
	}
	size = ((size_t)info.value_size + 4095) & ~(size_t)4095;
	bss = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = bss == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0)
		return log_error_errno(r, "--hand-over: mapping %s", path);
	/* Two vigilds at once would both believe they own the pins: the running one stops first. */
	if (__atomic_load_n(&bss->agent_tgid, __ATOMIC_ACQUIRE) != (uint32_t)getpid() &&
	    registered_vigild_runs(__atomic_load_n(&bss->agent_tgid, __ATOMIC_ACQUIRE),
	                           bss->agent_exe_dev, bss->agent_exe_ino)) {
		log_error("--hand-over: refused: vigild (pid %u) still runs; stop it first (the "
		          "pins enforce meanwhile)",
		          bss->agent_tgid);
		munmap(bss, size);
		return -EBUSY;
	}
	/*
	 * ino is cleared first and published last: between the stores no task matches (nobody is
	 * vigild, fail closed), never a mix of the old dev and the new inode.
	 */
	__atomic_store_n(&bss->agent_exe_ino, 0, __ATOMIC_RELEASE);
	bss->agent_exe_dev = policy_kdev(st.st_dev);
	__atomic_store_n(&bss->agent_exe_ino, (uint64_t)st.st_ino, __ATOMIC_RELEASE);
	munmap(bss, size);
	vigil_hex(mine, sizeof(mine), hex_mine);
	log_info("handed over: the pins' vigild is now %s (inode %llu, sha256 %s, the same "
	         "program); start it to adopt the pins",
	         to, (unsigned long long)st.st_ino, hex_mine);
	return 0;
}
