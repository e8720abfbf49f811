# vm suite: OTLP export from the guest: a denied exec reaches an OTLP/HTTP endpoint (tests/bin/otlp_sink on the guest's loopback) through vigild's exporter thread; tests/vm/otlp.post.sh decodes the captured requests on the host with the OpenTelemetry decoder and checks them against the audit log.
# vigil-vm-args: --vigild-args --otlp=endpoint=http://127.0.0.1:4318,gzip=off,batch-ms=50,backoff-ms=200,backoff-max-ms=1000,metrics-ms=2000
. /tests/vm/lib.sh
outside ip link set lo up
outside sh -c '/tests/bin/otlp_sink 4318 /out > /out/otlp-sink.log 2>&1 &'
mkdir -p /tmp/x
cp /bin/busybox /tmp/x/unlisted
expect_eperm "unlisted binary denied" /tmp/x/unlisted true
expect_event "deny event in the event log" '"type":"exec"' '"verdict":"deny"' '"path":"/tmp/x/unlisted"'
# The exporter sends durable records (group commit: up to 20 ms) in batches of 50 ms.
i=0
while [ $i -lt 600 ] && ! grep -qsF /tmp/x/unlisted /out/otlp-*-logs.bin; do
	usleep 100000
	i=$((i + 1))
done
if grep -qsF /tmp/x/unlisted /out/otlp-*-logs.bin; then
	ok "the exporter posted the denial to /v1/logs ($(ls /out/otlp-*-logs.bin | wc -l) requests)"
else
	not_ok "no /v1/logs request carries the denial" "$(ls /out 2>&1 | head -5)" "$(grep otlp /out/vigild.log | tail -3)"
fi
i=0
while [ $i -lt 100 ] && ! ls /out/otlp-*-metrics.bin > /dev/null 2>&1; do usleep 100000; i=$((i + 1)); done
if ls /out/otlp-*-metrics.bin > /dev/null 2>&1; then ok "metrics posted to /v1/metrics"; else not_ok "no /v1/metrics request"; fi
finish
