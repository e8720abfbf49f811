# vm suite: platform code is immutable from the scope: root in the workload cannot write, create,
# truncate, rename, unlink or chmod what the platform runs (ld.so.preload/cache/conf.d, cron, systemd
# units, udev rules, modprobe.d, and under this cgroup scope /usr, /lib, /bin), while the platform still can, the workload writes its own files
# and vigild still re-executes (its loader reads ld.so.preload and ld.so.cache again); nor connect
# to the service manager's private socket or the system D-Bus (stand-ins made by the platform).
# vigil-vm-args: --copy build/guest-tests:/t --copy tests/vm/platform-data/ld.so.cache:/etc/ld.so.cache --copy tests/vm/platform-data/ld.so.conf.d:/etc/ld.so.conf.d --copy tests/vm/platform-data/cron.d:/etc/cron.d --copy tests/vm/platform-data/systemd:/etc/systemd --copy tests/vm/platform-data/udev:/etc/udev --copy tests/vm/platform-data/modprobe.d:/etc/modprobe.d
. /tests/vm/lib.sh
pid=$(cat /run/vigild.pid)
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"self"' '"verdict":"deny"' '"reason":"self_protection"' '"errno":1' "$@"
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

# Stand-ins for the platform's request sockets (the guest has no systemd, no D-Bus): vigild
# finds them at its next start.
outside sh -c '/t/unixsrv listen /run/systemd/private > /dev/null 2>&1 &
	mkdir -p /run/dbus && /t/unixsrv listen /run/dbus/system_bus_socket > /dev/null 2>&1 &'
for _ in $(seq 50); do [ -S /run/systemd/private ] && [ -S /run/dbus/system_bus_socket ] && break; usleep 100000; done
expect_rc "before vigild knows them, the scope reaches the stand-in D-Bus" 0 \
	/t/unixsrv connect /run/dbus/system_bus_socket

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

expect_eperm "connect to the service manager's private socket" /t/unixsrv connect /run/systemd/private
ev "event: systemd private socket" '"protects":"platform_socket"' '"path":"private"' '"comm":"unixsrv"'
expect_eperm "connect to the system D-Bus socket" /t/unixsrv connect /run/dbus/system_bus_socket
ev "event: D-Bus socket" '"protects":"platform_socket"' '"path":"system_bus_socket"'
expect_eperm "connect through a hard link to the D-Bus socket" sh -c \
	'ln /run/dbus/system_bus_socket /tmp/bus 2>/dev/null || ln -s /run/dbus/system_bus_socket /tmp/bus; /t/unixsrv connect /tmp/bus'
expect_eperm "unlink the D-Bus socket (to bind its own)" rm -f /run/dbus/system_bus_socket
expect_rc "the platform connects to both" 0 outside sh -c \
	'/t/unixsrv connect /run/systemd/private && /t/unixsrv connect /run/dbus/system_bus_socket'
/t/unixsrv listen /tmp/own.sock > /dev/null 2>&1 &
own=$!
for _ in $(seq 50); do [ -S /tmp/own.sock ] && break; usleep 100000; done
expect_rc "the workload connects to its own unix socket" 0 /t/unixsrv connect /tmp/own.sock
kill $own
finish
