# vm suite: OTLP through a QEMU guestfwd: the guest's only network path is a restricted user network (restrict=on) whose one guestfwd takes 10.0.2.100:4318 to the host's loopback, where tests/vm/otlpfwd.host.sh runs the OpenTelemetry-decoding receiver; a denied exec and a denied read (with process.command_line) arrive decoded (tests/vm/otlpfwd.post.sh), and nothing else is reachable.
# vigil-vm-args: --vigild-args --otlp=endpoint=http://10.0.2.100:4318,batch-ms=50,backoff-ms=200,backoff-max-ms=1000,metrics-ms=2000
. /tests/vm/lib.sh
ip -4 addr show dev eth0 | grep -q 'inet 10.0.2.15/24' && ok "eth0 is 10.0.2.15/24" || not_ok "eth0 is not 10.0.2.15/24" "$(ip addr 2>&1)"
# restrict=on: with a default route through slirp's gateway, neither the host (10.0.2.2) nor
# the outside is reachable; only the guestfwd answers (the exporter's delivery, below).
outside ip route add default via 10.0.2.2
for dst in "10.0.2.2 22" "10.0.2.2 4318" "8.8.8.8 53" "10.0.2.3 53"; do
	if timeout 5 nc -w 3 $dst < /dev/null > /dev/null 2>&1; then
		not_ok "restrict=on: a TCP connection to ${dst% *}:${dst#* } succeeded"
	else
		ok "restrict=on: no TCP connection to ${dst% *}:${dst#* }"
	fi
done

mkdir -p /tmp/x
cp /bin/busybox /tmp/x/unlisted
expect_eperm "unlisted binary denied" /tmp/x/unlisted true
expect_event "deny event in the event log" '"type":"exec"' '"verdict":"deny"' '"path":"/tmp/x/unlisted"'
# A long-running process (this shell's child) that reads a denied file itself (a builtin's
# redirection), more than a clock tick after its start: its command line is provable. The
# trailing `exit` keeps sleep a child: busybox sh execs a -c string's last command in place,
# and the consumer, reading /proc/PID/cmdline at consume time, would then find sleep's argv
# (or, during the exec, none) when the guest is slow to schedule it.
sh -c 'usleep 300000; read x < /tests/vm/file-data/secret/a.txt; sleep 600; exit 0' &
reader=$!
i=0
while [ $i -lt 100 ] && ! grep -qF "\"pid\":$reader," "$EVENTS"; do usleep 100000; i=$((i + 1)); done
expect_event "denied read by the long-running shell" '"type":"file"' '"verdict":"deny"' "\"pid\":$reader," '"cmdline":"sh -c usleep 300000; read x < /tests/vm/file-data/secret/a.txt; sleep 600; exit 0"' ||
	grep -F "\"pid\":$reader," "$EVENTS" | sed 's/^/#   its events: /'
echo "$reader" > /out/reader.pid

# The exporter's cursor moves only on the receiver's 2xx: once it reaches the last record, the
# host's receiver has them all (checked there, decoded).
last=$(cat /var/log/vigil/audit.*.jsonl | grep -F '/tests/vm/file-data/secret/a.txt' | tail -n 1 | sed 's/^{"n":\([0-9]*\),.*/\1/')
i=0
while [ $i -lt 600 ]; do
	cur=$(cut -d' ' -f1 /var/lib/vigil/otlp.cursor 2> /dev/null)
	[ -n "$last" ] && [ "${cur:-0}" -ge "$last" ] && break
	usleep 100000
	i=$((i + 1))
done
if [ -n "$last" ] && [ "${cur:-0}" -ge "$last" ]; then
	ok "the receiver on the host acknowledged records 1..$cur through the guestfwd"
else
	not_ok "the cursor did not reach record ${last:-?} (at ${cur:-none})" "$(grep otlp /out/vigild.log | tail -3)"
fi
kill "$reader" 2> /dev/null
finish
