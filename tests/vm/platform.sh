# vm suite: platform code is immutable from the scope: root in the workload cannot write, create,
# truncate, rename, unlink or chmod what the platform runs (ld.so.preload/cache/conf.d, cron, systemd
# units, udev rules, modprobe.d, and under this cgroup scope /usr, /lib, /bin), while the platform still can, the workload writes its own files
# and vigild still re-executes (its loader reads ld.so.preload and ld.so.cache again); nor connect
# to the service manager's private socket, the system D-Bus or a container runtime (stand-ins made
# by the platform); platform code and sockets the platform creates after vigild's start included.
# vigil-vm-args: --copy build/guest-tests:/t --copy tests/vm/platform-data/ld.so.cache:/etc/ld.so.cache --copy tests/vm/platform-data/ld.so.conf.d:/etc/ld.so.conf.d --copy tests/vm/platform-data/cron.d:/etc/cron.d --copy tests/vm/platform-data/systemd:/etc/systemd --copy tests/vm/platform-data/udev:/etc/udev --copy tests/vm/platform-data/modprobe.d:/etc/modprobe.d
. /tests/vm/lib.sh
pid=$(cat /run/vigild.pid)
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"self"' '"verdict":"deny"' '"reason":"self_protection"' '"errno":1' "$@"
}
# ev_new NAME N PATTERN...: within 3 s more than N self-protection refusals contain every
# PATTERN (N counted before the attempt: an earlier refusal of the same name cannot pass for it).
ev_count() {
	cp "$EVENTS" /tmp/.evc 2> /dev/null || : > /tmp/.evc
	for p in '"type":"self"' '"verdict":"deny"' '"errno":1' "$@"; do
		grep -F -- "$p" /tmp/.evc > /tmp/.evc2
		mv /tmp/.evc2 /tmp/.evc
	done
	wc -l < /tmp/.evc
}
ev_new() {
	name=$1
	n=$2
	shift 2
	i=0
	while [ $i -lt 30 ]; do
		if [ "$(ev_count "$@")" -gt "$n" ]; then
			ok "$name"
			return 0
		fi
		usleep 100000
		i=$((i + 1))
	done
	not_ok "$name" "no new event with: $*"
}
echo x > /tmp/lib.so

# /etc/ld.so.preload is absent: its name in /etc is the platform's to create.
expect_eperm "create /etc/ld.so.preload" sh -c 'echo /tmp/lib.so > /etc/ld.so.preload'
ev "event: create ld.so.preload" '"protects":"file"' '"path":"ld.so.preload"' '"comm":"sh"'
expect_eperm "symlink /etc/ld.so.preload" ln -s /tmp/lib.so /etc/ld.so.preload
ev "event: symlink ld.so.preload" '"protects":"file"' '"path":"ld.so.preload"' '"comm":"ln"'
expect_eperm "mknod /etc/ld.so.preload" mknod /etc/ld.so.preload p
expect_eperm "mkdir /etc/ld.so.preload" mkdir /etc/ld.so.preload
# Other names in /etc stay the workload's: the refusal is by name, not of the directory.
expect_rc "the workload creates /etc/app.conf" 0 sh -c 'echo /tmp/lib.so > /etc/app.conf'
expect_eperm "hard link onto /etc/ld.so.preload" ln /etc/app.conf /etc/ld.so.preload
expect_eperm "rename onto /etc/ld.so.preload" mv /etc/app.conf /etc/ld.so.preload
ev "event: rename onto ld.so.preload" '"protects":"file"' '"path":"ld.so.preload"' '"comm":"mv"'
expect_rc "no /etc/ld.so.preload after all that" 1 test -e /etc/ld.so.preload

# Present platform code: the file or the tree.
expect_eperm "write /etc/ld.so.cache" sh -c 'echo x >> /etc/ld.so.cache'
ev "event: write ld.so.cache" '"protects":"file"' '"path":"ld.so.cache"'
expect_eperm "truncate /etc/ld.so.cache" truncate -s 0 /etc/ld.so.cache
expect_eperm "chmod /etc/ld.so.cache" chmod 666 /etc/ld.so.cache
ev "event: chmod ld.so.cache" '"protects":"metadata"' '"path":"ld.so.cache"' '"comm":"chmod"'
expect_eperm "unlink /etc/ld.so.cache" rm -f /etc/ld.so.cache
expect_eperm "rename /etc/ld.so.cache away" mv /etc/ld.so.cache /etc/ld.so.cache.old
expect_eperm "rename a file over /etc/ld.so.cache" mv /etc/app.conf /etc/ld.so.cache
expect_rc "ld.so.cache unchanged" 0 grep -q "stand-in" /etc/ld.so.cache
expect_eperm "create /etc/ld.so.conf.d/x.conf" sh -c 'echo /tmp > /etc/ld.so.conf.d/x.conf'
ev "event: create in ld.so.conf.d (the directory named)" '"protects":"file"' '"path":"ld.so.conf.d"'
expect_eperm "write /etc/ld.so.conf.d/libc.conf" sh -c 'echo /tmp > /etc/ld.so.conf.d/libc.conf'
expect_eperm "create /etc/ld.so.conf (absent)" touch /etc/ld.so.conf
expect_eperm "rename /etc/ld.so.conf.d away" mv /etc/ld.so.conf.d /etc/ld.so.conf.x
expect_eperm "create a cron job" sh -c 'echo "* * * * * root sh /tmp/x" > /etc/cron.d/evil'
ev "event: cron job (the directory named)" '"protects":"file"' '"path":"cron.d"'
expect_eperm "write an existing cron job" sh -c 'echo "* * * * * root sh /tmp/x" >> /etc/cron.d/job'
expect_eperm "create /etc/crontab (absent)" sh -c 'echo "* * * * * root sh /tmp/x" > /etc/crontab'
expect_eperm "create /var/spool/cron (absent)" mkdir -p /var/spool/cron/crontabs
expect_eperm "a unit drop-in" mkdir /etc/systemd/system/getty.service.d
expect_eperm "a new unit" sh -c 'printf "[Service]\nExecStart=/tmp/x\n" > /etc/systemd/system/evil.service'
expect_eperm "chmod a unit" chmod 777 /etc/systemd/system/getty.service
expect_eperm "a runtime unit directory (absent /run/systemd)" mkdir -p /run/systemd/system
expect_eperm "a udev rule" sh -c 'echo "RUN+=\"/tmp/x\"" > /etc/udev/rules.d/99-evil.rules'
ev "event: udev rule (the directory named)" '"protects":"file"' '"path":"rules.d"'
expect_eperm "unlink a udev rule" rm -f /etc/udev/rules.d/10-local.rules
expect_eperm "modprobe.d install command" sh -c 'echo "install dummy /tmp/x" > /etc/modprobe.d/evil.conf'
expect_eperm "unlink modprobe.d/local.conf" rm -f /etc/modprobe.d/local.conf
expect_eperm "rename /etc/modprobe.d away" mv /etc/modprobe.d /etc/modprobe.old
# The run-time directories the same tools read (absent here: the name itself is refused).
expect_eperm "a run-time modprobe.d install command (/run/modprobe.d)" \
	sh -c 'mkdir -p /run/modprobe.d && echo "install dummy /tmp/x" > /run/modprobe.d/evil.conf'
ev "event: /run/modprobe.d" '"protects":"file"' '"path":"modprobe.d"'
expect_eperm "a run-time tmpfiles.d rule (/run/tmpfiles.d)" mkdir /run/tmpfiles.d
expect_eperm "a dpkg post-invoke hook (/etc/dpkg/dpkg.cfg.d)" mkdir -p /etc/dpkg/dpkg.cfg.d
expect_eperm "create /etc/rc.local (absent)" sh -c 'echo "sh /tmp/x" > /etc/rc.local'
expect_eperm "rename /etc away (an ancestor of platform code)" mv /etc /etc2
expect_eperm "add a uid-0 user to /etc/passwd" sh -c 'echo "evil::0:0::/:/bin/sh" >> /etc/passwd'
ev "event: /etc/passwd" '"protects":"file"' '"path":"passwd"'
expect_eperm "a login script for root (/root/.profile)" sh -c 'mkdir -p /root && echo "sh /tmp/x" > /root/.profile'
expect_eperm "an /etc/profile.d script" sh -c 'mkdir -p /etc/profile.d && echo "sh /tmp/x" > /etc/profile.d/x.sh'

# The OS's code (/usr, /lib, /bin, ...) is the platform's under a cgroup scope.
expect_eperm "a new binary in /usr/sbin" sh -c 'echo x > /usr/sbin/evil'
ev "event: a new binary in /usr/sbin (the directory named)" '"protects":"file"' '"path":"sbin"'
expect_eperm "replace a command in /bin" sh -c 'rm -f /bin/ls'
expect_eperm "a library in /lib" touch /lib/evil.so
expect_eperm "chmod /usr" chmod 777 /usr
expect_eperm "rename /usr away" mv /usr /usr.old
expect_rc "the platform writes /usr/sbin" 0 outside sh -c 'echo x > /usr/sbin/ok && rm /usr/sbin/ok'

# The workload still writes its own directories.
expect_rc "the workload writes /opt/app" 0 sh -c 'mkdir -p /opt/app && echo x > /opt/app/f && rm /opt/app/f'
expect_rc "the workload writes /tmp" 0 sh -c 'echo x > /tmp/y && mv /tmp/y /tmp/z && rm /tmp/z'
expect_rc "the workload removes its /etc/app.conf" 0 rm /etc/app.conf

# The platform installs and upgrades its own code.
expect_rc "the platform writes a cron job" 0 outside sh -c 'echo "0 * * * * root true" > /etc/cron.d/ok'
expect_rc "the platform writes ld.so.conf.d" 0 outside sh -c 'echo /usr/lib > /etc/ld.so.conf.d/x.conf'
expect_rc "the platform creates and removes /etc/ld.so.preload" 0 \
	outside sh -c ': > /etc/ld.so.preload && rm /etc/ld.so.preload'
expect_rc "the platform chmods a unit" 0 outside chmod 644 /etc/systemd/system/getty.service
expect_rc "the platform makes /run/systemd/system" 0 outside mkdir -p /run/systemd/system

# Platform code the platform creates after vigild's start is protected from the moment it exists
# (bpf/platform.bpf.h: d_instantiate of a protected name, the target of the platform's rename),
# not from vigild's next policy load.
expect_rc "the platform creates /etc/ld.so.preload (after vigild's start)" 0 \
	outside sh -c ': > /etc/ld.so.preload'
n=$(ev_count '"protects":"file"' '"path":"ld.so.preload"' '"comm":"dd"')
expect_eperm "write the platform's new /etc/ld.so.preload" \
	dd if=/tmp/lib.so of=/etc/ld.so.preload conv=notrunc
ev_new "event: write of the new ld.so.preload" "$n" '"protects":"file"' '"path":"ld.so.preload"' '"comm":"dd"'
expect_eperm "truncate the new /etc/ld.so.preload" truncate -s 1 /etc/ld.so.preload
n=$(ev_count '"protects":"metadata"' '"path":"ld.so.preload"')
expect_eperm "chmod the new /etc/ld.so.preload" chmod 666 /etc/ld.so.preload
ev_new "event: chmod of the new ld.so.preload" "$n" '"protects":"metadata"' '"path":"ld.so.preload"' '"comm":"chmod"'
n=$(ev_count '"protects":"file"' '"path":"ld.so.preload"' '"comm":"rm"')
expect_eperm "unlink the new /etc/ld.so.preload" rm -f /etc/ld.so.preload
ev_new "event: unlink of the new ld.so.preload" "$n" '"protects":"file"' '"path":"ld.so.preload"' '"comm":"rm"'
expect_eperm "rename the new /etc/ld.so.preload away" mv /etc/ld.so.preload /tmp/preload
expect_eperm "rename a file over the new /etc/ld.so.preload" sh -c 'echo /tmp/lib.so > /etc/app2.conf && mv /etc/app2.conf /etc/ld.so.preload'
rm -f /etc/app2.conf
expect_rc "the new /etc/ld.so.preload is still empty" 0 sh -c 'test -f /etc/ld.so.preload && ! test -s /etc/ld.so.preload'
expect_rc "the platform still writes it" 0 outside sh -c 'echo >> /etc/ld.so.preload && : > /etc/ld.so.preload'
# An atomic replace (a temporary renamed over the name), as ldconfig and editors do.
expect_rc "the platform replaces it by a rename" 0 \
	outside sh -c ': > /etc/.preload.new && mv /etc/.preload.new /etc/ld.so.preload'
expect_eperm "write the renamed-in /etc/ld.so.preload" \
	dd if=/tmp/lib.so of=/etc/ld.so.preload conv=notrunc
expect_rc "the platform removes it" 0 outside rm /etc/ld.so.preload
# A temporary the scope made and still holds open for writing (ldconfig reuses an existing
# /etc/ld.so.cache~ without O_EXCL): renamed over platform code, it would stay writable through
# that descriptor. The rename is refused while the scope holds it; once closed, it goes through.
sh -c 'exec 3<> /etc/.preload.tmp; touch /tmp/held; exec sleep 30' &
held=$!
for _ in $(seq 50); do [ -e /tmp/held ] && break; usleep 100000; done
n=$(ev_count '"protects":"file"' '"path":"ld.so.preload"' '"comm":"mv"')
expect_eperm "the platform renames a file the scope holds open for writing over /etc/ld.so.preload" \
	outside mv /etc/.preload.tmp /etc/ld.so.preload
ev_new "event: a held writer's file refused as platform code" "$n" '"protects":"file"' \
	'"path":"ld.so.preload"' '"comm":"mv"'
expect_rc "... /etc/ld.so.preload was not replaced" 1 test -e /etc/ld.so.preload
kill $held
wait $held 2> /dev/null
expect_rc "once the scope has closed it, the platform's rename goes through" 0 \
	outside mv /etc/.preload.tmp /etc/ld.so.preload
expect_rc "the platform removes it again" 0 outside rm /etc/ld.so.preload
expect_rc "the platform renames a temporary it holds open itself (systemd-sysusers does)" 0 \
	outside sh -c 'exec 3<> /etc/.preload.own && echo >&3 && mv /etc/.preload.own /etc/ld.so.preload'
expect_rc "... and removes it" 0 outside rm /etc/ld.so.preload
# A directory that did not exist: /etc/default (absent in the guest), a runtime unit directory.
expect_eperm "create /etc/default (absent)" mkdir /etc/default
expect_rc "the platform creates /etc/default" 0 outside sh -c 'mkdir /etc/default && echo X=1 > /etc/default/app'
n=$(ev_count '"protects":"file"' '"path":"default"')
expect_eperm "a file in the platform's new /etc/default" sh -c 'echo X=2 > /etc/default/evil'
ev_new "event: create in the new /etc/default (the directory named)" "$n" '"protects":"file"' '"path":"default"'
expect_eperm "write the platform's file in the new /etc/default" sh -c 'echo X=2 >> /etc/default/app'
expect_eperm "rename the new /etc/default away" mv /etc/default /etc/default.old
expect_eperm "a unit in the platform's new /run/systemd/system (no reload since)" \
	touch /run/systemd/system/evil.service
expect_rc "the platform creates a unit in it" 0 outside touch /run/systemd/system/ok.service
# Code the platform's daemons and the kernel run as the platform (absent in the guest):
# logrotate's postrotate scripts, request-key helpers, sysctl and binfmt settings applied at
# boot, network hooks.
for d in /etc/logrotate.d /etc/sysctl.d /etc/binfmt.d /etc/network/if-up.d; do
	expect_eperm "create $d (platform code, absent)" mkdir -p $d
done
expect_eperm "create /etc/request-key.conf (platform code, absent)" sh -c 'echo x > /etc/request-key.conf'
expect_rc "the platform creates /etc/logrotate.d/app" 0 outside sh -c 'mkdir -p /etc/logrotate.d && echo "/var/log/app {}" > /etc/logrotate.d/app'
expect_eperm "write the platform's new /etc/logrotate.d/app" sh -c 'echo "postrotate" >> /etc/logrotate.d/app'

# Stand-ins for the platform's request sockets (the guest has no systemd, no D-Bus), bound
# after vigild's start: protected from their bind on (/run/dbus did not exist either).
outside sh -c '/t/unixsrv listen /run/systemd/private > /dev/null 2>&1 &
	mkdir -p /run/dbus && /t/unixsrv listen /run/dbus/system_bus_socket > /dev/null 2>&1 &'
for _ in $(seq 50); do [ -S /run/systemd/private ] && [ -S /run/dbus/system_bus_socket ] && break; usleep 100000; done
n=$(ev_count '"protects":"platform_socket"' '"path":"system_bus_socket"')
expect_eperm "connect to the D-Bus socket the platform bound after vigild's start" \
	/t/unixsrv connect /run/dbus/system_bus_socket
ev_new "event: the new D-Bus socket" "$n" '"protects":"platform_socket"' '"path":"system_bus_socket"' '"comm":"unixsrv"'
expect_eperm "connect to the new service manager socket" /t/unixsrv connect /run/systemd/private
# Container runtimes, by name: a socket in a directory that did not exist, one in /run.
expect_eperm "the scope binds its own /run/docker.sock" /t/unixsrv listen /run/docker.sock
outside sh -c 'mkdir -p /run/containerd && /t/unixsrv listen /run/containerd/containerd.sock > /dev/null 2>&1 &
	/t/unixsrv listen /run/docker.sock > /dev/null 2>&1 &'
for _ in $(seq 50); do [ -S /run/containerd/containerd.sock ] && [ -S /run/docker.sock ] && break; usleep 100000; done
n=$(ev_count '"protects":"platform_socket"' '"path":"containerd.sock"')
expect_eperm "connect to containerd's new socket (its directory new too)" \
	/t/unixsrv connect /run/containerd/containerd.sock
ev_new "event: containerd socket" "$n" '"protects":"platform_socket"' '"path":"containerd.sock"'
expect_eperm "connect to the new /run/docker.sock" /t/unixsrv connect /run/docker.sock
expect_eperm "unlink the new /run/docker.sock (to bind its own)" rm -f /run/docker.sock
expect_rc "the platform connects to the new sockets" 0 outside sh -c \
	'/t/unixsrv connect /run/containerd/containerd.sock && /t/unixsrv connect /run/docker.sock && /t/unixsrv connect /run/dbus/system_bus_socket'

# Platform code created on tmpfs (the guest's filesystem) was protected by the tracing program on
# security_inode_init_security alone (the kernel preempts no kernel code: "voluntary"). The next
# load attaches the d_instantiate program too where that program could miss a creation: a
# protected name's directory on a filesystem that does not call the function (ramfs on 6.1), and
# a kernel that may preempt the tracing program (a task preempted inside it makes it skip the
# next creation on that CPU; the platform switches the model to "full" through debugfs).
L=/sys/fs/bpf/vigil/links/vigil_platform_instantiate
expect_rc "no d_instantiate program while every protected directory is on tmpfs" 1 outside test -e $L
expect_rc "the platform mounts ramfs at /var/spool (where /var/spool/cron is platform code)" 0 \
	outside sh -c 'mkdir -p /var/spool && mount -t ramfs ramfs /var/spool'
expect_rc "the platform switches the kernel to full preemption" 0 outside sh -c \
	'mount -t debugfs debugfs /sys/kernel/debug && echo full > /sys/kernel/debug/sched/preempt &&
	grep -q "(full)" /sys/kernel/debug/sched/preempt'

# vigild still re-executes (and the protection holds across it).
outside kill -USR2 $pid
t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 300 ] && ! grep -q "pinned links replaced" /out/vigild.log; do
	sleep 1
done
expect_rc "SIGUSR2: vigild re-executed" 0 grep -q "adopted: .* pinned links replaced" /out/vigild.log
expect_rc "... in the same process" 0 kill -0 $pid
expect_eperm "create /etc/ld.so.preload after the re-exec" touch /etc/ld.so.preload
expect_eperm "a unit in the platform's new /run/systemd/system after the re-exec" \
	touch /run/systemd/system/evil.service
expect_eperm "the platform's file in its new /etc/default after the re-exec" sh -c 'echo X=3 >> /etc/default/app'
expect_rc "the re-exec's load attached the d_instantiate program: full preemption" 0 \
	grep -q "the kernel may preempt kernel code (preemption: full (debugfs sched/preempt))" /out/vigild.log
case $(uname -r) in
6.1.*)
	expect_rc "... and for /var/spool: ramfs does not call security_inode_init_security on 6.1" 0 \
		grep -q "/var/spool is on a filesystem that does not label new inodes" /out/vigild.log
	;;
esac
expect_rc "... and pinned it" 0 outside test -e $L
expect_rc "the platform creates /var/spool/cron on ramfs" 0 \
	outside sh -c 'mkdir /var/spool/cron && echo "* * * * * true" > /var/spool/cron/root'
n=$(ev_count '"protects":"file"' '"path":"cron"')
expect_eperm "a file in the platform's new /var/spool/cron (ramfs)" touch /var/spool/cron/evil
ev_new "event: create in the new /var/spool/cron" "$n" '"protects":"file"' '"path":"cron"'
expect_eperm "write the platform's file in it" sh -c 'echo "* * * * * evil" >> /var/spool/cron/root'
expect_rc "the platform still writes it" 0 outside sh -c 'echo "# ok" >> /var/spool/cron/root'
# The kernel's entries for what the platform removed since (both /etc/ld.so.preload inodes) went.
expect_rc "the re-exec's load dropped the entries of removed platform code" 0 \
	grep -q "stale entries of created platform code dropped" /out/vigild.log

expect_eperm "connect to the service manager's private socket" /t/unixsrv connect /run/systemd/private
ev "event: systemd private socket" '"protects":"platform_socket"' '"path":"private"' '"comm":"unixsrv"'
expect_eperm "connect to the system D-Bus socket" /t/unixsrv connect /run/dbus/system_bus_socket
ev "event: D-Bus socket" '"protects":"platform_socket"' '"path":"system_bus_socket"'
expect_eperm "connect through a hard link to the D-Bus socket" sh -c \
	'ln /run/dbus/system_bus_socket /tmp/bus 2>/dev/null || ln -s /run/dbus/system_bus_socket /tmp/bus; /t/unixsrv connect /tmp/bus'
expect_eperm "unlink the D-Bus socket (to bind its own)" rm -f /run/dbus/system_bus_socket
expect_rc "the platform connects to both" 0 outside sh -c \
	'/t/unixsrv connect /run/systemd/private && /t/unixsrv connect /run/dbus/system_bus_socket'
# The daemon re-creates its socket (a new inode), with no reload since.
expect_rc "the platform re-creates the D-Bus socket" 0 outside sh -c \
	'rm /run/dbus/system_bus_socket && { /t/unixsrv listen /run/dbus/system_bus_socket > /dev/null 2>&1 & } &&
	for _ in $(seq 50); do [ -S /run/dbus/system_bus_socket ] && exit 0; usleep 100000; done; exit 1'
n=$(ev_count '"protects":"platform_socket"' '"path":"system_bus_socket"')
expect_eperm "connect to the re-created D-Bus socket" /t/unixsrv connect /run/dbus/system_bus_socket
ev_new "event: the re-created D-Bus socket" "$n" '"protects":"platform_socket"' '"path":"system_bus_socket"'
expect_rc "the platform connects to the re-created socket" 0 outside /t/unixsrv connect /run/dbus/system_bus_socket
/t/unixsrv listen /tmp/own.sock > /dev/null 2>&1 &
own=$!
for _ in $(seq 50); do [ -S /tmp/own.sock ] && break; usleep 100000; done
expect_rc "the workload connects to its own unix socket" 0 /t/unixsrv connect /tmp/own.sock
kill $own
finish
