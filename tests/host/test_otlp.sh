#!/usr/bin/env bash
# OTLP export against a loopback receiver that decodes with the OpenTelemetry project's own
# JavaScript decoder (tests/otlp/receiver.js; npm @opentelemetry/otlp-transformer, pinned),
# checked field by field against the audit log written by the real audit library
# (tests/otlp/check.js re-hashes the chain itself). Faults: 503 + Retry-After, 429, dropped
# connections (retried); 413 and 400 (the request split in halves down to one record; a record
# refused alone is a loss in the chain); 500 (not retried: a loss); partial_success (counted); receiver
# down then up with a kill -9 of the exporting process in the middle (nothing lost, duplicates
# only, identical); records rotated away before export (a loss record, source otlp, in the chain);
# TLS with a CA file and a client certificate.
set -uo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
cd "$top" || exit 1
make -s "$BUILD/bench/otlp_export" "$BUILD/vigil" >/dev/null || exit 1
case $BUILD in /*) babs=$BUILD ;; *) babs=$top/$BUILD ;; esac
scripts/otlp-npm.sh "$babs/npm" || { echo "not ok - npm install of the decoder"; exit 1; }
export OTLP_NODE_MODULES=$babs/npm/node_modules
X=$BUILD/bench/otlp_export
tmp=$(mktemp -d)
rx_pid=
x_pid=
cleanup() {
	[ -n "$x_pid" ] && kill -9 "$x_pid" 2>/dev/null
	[ -n "$rx_pid" ] && kill "$rx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0 passes=0
check() { # check NAME STATUS
	if [ "$2" = 0 ]; then echo "ok - $1"; passes=$((passes + 1)); else echo "not ok - $1"; fails=$((fails + 1)); fi
}
RES='{"host.id":"otlp-test-host-id","host.name":"otlp-test","vigil.tee.type":"none","service.version":"0.1.0","vigil.audit.origin":"vigil/otlp-test"}'

# rx_start NAME [FAULTS [RECEIVER ARGS...]]: a receiver writing into $tmp/NAME/rx; sets $port.
rx_start() {
	local name=$1 faults=${2:-}
	shift $(($# < 2 ? $# : 2))
	rm -f "$tmp/port"
	node tests/otlp/receiver.js --port-file "$tmp/port" --out "$tmp/$name/rx" ${faults:+--faults "$faults"} \
		"$@" > "$tmp/$name.rx.log" 2>&1 &
	rx_pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	port=$(cat "$tmp/port")
}
rx_stop() { kill "$rx_pid" 2>/dev/null; wait "$rx_pid" 2>/dev/null; rx_pid=; }
# run NAME SPEC ARGS...: one exporting process on $tmp/NAME's log; figures in $tmp/NAME.out.
run() {
	local name=$1 spec=$2
	shift 2
	"$X" --otlp "endpoint=http://127.0.0.1:$port,$spec" "$@" "$tmp/$name/log" "$tmp/$name/state" \
		> "$tmp/$name.out" 2> "$tmp/$name.err"
}
fig() { jq -r ".$2" < "$tmp/$1.out"; }
verify() { # the chain and the SIEM rows: check.js output becomes this script's lines
	local name=$1
	shift
	node tests/otlp/check.js "$tmp/$name/log" "$tmp/$name/rx" --resource "$RES" "$@" > "$tmp/$name.check"
	local st=$?
	sed "s/^/    /" "$tmp/$name.check"
	return $st
}

# 1. protobuf + gzip, two batch triggers (size and time), metrics.
rx_start basic
run basic "batch=256,catchup-batch=1024,batch-ms=50,metrics-ms=300" --records 3000 --linger-ms 800
verify basic
check "protobuf+gzip: 3000 events + start record decoded, every field as in the chain" $?
check "protobuf+gzip: cursor reached the head ($(fig basic cursor)/$(fig basic head)), no retry" \
	"$([ "$(fig basic cursor)" = "$(fig basic head)" ] && [ "$(fig basic retries)" = 0 ] && echo 0 || echo 1)"
check "requests were gzip'ed protobuf of at most 1024 records (256, more only while behind)" \
	"$(jq -s 'all(.[] | select(.path == "/v1/logs"); .gzip and (.json | not) and .records <= 1024) and length >= 3' "$tmp/basic/rx/requests.jsonl" | grep -qx true; echo $?)"
# Decisions by kind and verdict in the last metrics request = the chain's event records.
want=$(cat "$tmp"/basic/log/audit.*.jsonl | jq -c 'select(.k == "event") | [.e.type, .e.verdict]' | sort | uniq -c | awk '{print $2" "$1}' | sort)
have=$(tail -1 "$tmp/basic/rx/metrics.jsonl" | jq -c '.metrics["vigil.decisions"].points[] | [[.attrs["vigil.access.kind"], .attrs["vigil.verdict"]], .value]' | jq -r '"\(.[0] | tostring) \(.[1])"' | sort)
check "metrics: vigil.decisions (cumulative, monotonic) per kind and verdict = the chain's counts" \
	"$([ -n "$want" ] && [ "$want" = "$have" ] && tail -1 "$tmp/basic/rx/metrics.jsonl" | jq -e '.metrics["vigil.decisions"].monotonic and .metrics["vigil.decisions"].temporality == 2 and .metrics["vigil.export.lag"].kind == "gauge" and .metrics["vigil.export.queue.depth"].kind == "gauge" and (.metrics["vigil.export.failures"].points | length) == 3' > /dev/null && echo 0 || echo 1)"
rx_stop

# 1b. The writer's tap (vigild's default when exporting): records still in it are taken from
# memory, those it left out while the exporter was behind are read from the file. A 64 KiB tap
# under a storm has both; tap=0 reads everything from the file. The rows are the chain's.
rx_start tap
run tap "metrics-ms=0" --records 20000 --audit tap=64K
verify tap
st=$?
check "tap of 64 KiB: 20000 events, $(fig tap from_tap) from memory and $(fig tap from_file) from the file ($(fig tap tap_missed) left out), every field as in the chain" \
	"$([ $st = 0 ] && [ "$(fig tap from_tap)" -gt 0 ] && [ "$(fig tap from_file)" -gt 0 ] && [ "$(fig tap tap_missed)" -gt 0 ] && [ $(($(fig tap from_tap) + $(fig tap from_file))) = "$(fig tap head)" ] && echo 0 || echo 1)"
rx_stop
rx_start notap
run notap "metrics-ms=0" --records 3000 --audit tap=0
verify notap
st=$?
check "tap=0: all $(fig notap from_file) records read back from the file, every field as in the chain" \
	"$([ $st = 0 ] && [ "$(fig notap from_tap)" = 0 ] && [ "$(fig notap from_file)" = "$(fig notap head)" ] && echo 0 || echo 1)"
rx_stop

# 2. OTLP/HTTP JSON, no gzip, an auth header.
rx_start json "ok,partial3"
run json "protocol=json,gzip=off,header=Authorization:Bearer t0k3n,batch=200,catchup-batch=200,metrics-ms=300" --records 700 --linger-ms 500
verify json
check "json: every record decoded (protobufjs fromObject) and matches the chain" $?
check "json: requests were uncompressed JSON with the configured Authorization header" \
	"$(jq -s 'all(.[] | select(.path == "/v1/logs"); .json and (.gzip | not) and .auth == "Bearer t0k3n")' "$tmp/json/rx/requests.jsonl" | grep -qx true; echo $?)"
check "json: metrics decoded" "$([ -s "$tmp/json/rx/metrics.jsonl" ] && echo 0 || echo 1)"
check "json: a partial_success in a JSON answer counted ($(fig json rejected) rejected)" \
	"$([ "$(fig json rejected)" = 3 ] && echo 0 || echo 1)"
rx_stop

# 3. Retried faults: 503 with Retry-After: 2, 429, two dropped connections, 502, 504.
rx_start retry "ok,503+ra2,429,drop,drop,502,504"
run retry "batch=100,catchup-batch=100,batch-ms=20,backoff-ms=100,backoff-max-ms=400,metrics-ms=0" --records 600
verify retry
check "retried faults: every record delivered, duplicates identical" $?
# libcurl may itself resend once on a reused connection that died without an answer, so the
# exporter counts 5 or 6 retries for the receiver's 7 tries of one batch.
check "retried faults: $(fig retry retries) retries counted (5 or 6), nothing dropped" \
	"$([ "$(fig retry retries)" -ge 5 ] && [ "$(fig retry retries)" -le 6 ] && [ "$(fig retry dropped)" = 0 ] && echo 0 || echo 1)"
# The request after the 503 came at least 2 s later (Retry-After honoured), the same batch.
gap=$(jq -s '[.[] | select(.path == "/v1/logs")] as $r | ($r | map(.fault) | index("503+ra2")) as $i | (($r[$i + 1].t - $r[$i].t)) ' "$tmp/retry/rx/requests.jsonl")
same=$(jq -s '[.[] | select(.path == "/v1/logs")] as $r | ($r | map(.fault) | index("503+ra2")) as $i | [$r[$i:$i + 7][] | .first] | unique | length' "$tmp/retry/rx/requests.jsonl")
check "503 + Retry-After: 2 waited ${gap} ms, then the same batch again (one batch for all 7 tries: $same)" \
	"$([ "$gap" -ge 1900 ] && [ "$same" = 1 ] && echo 0 || echo 1)"
grep -q 'receiver answered 503 .* retrying in 2000 ms' "$tmp/retry.err"
check "the exporter says why it retries (its own log line)" $?
rx_stop

# 4. Not retried, not split: 500 (and any status but 400, 413 and the retried ones): the
# batch is given up, counted, logged, and its records enter the chain as a loss (source otlp,
# reason refused); partial_success is counted.
rx_start noretry "ok,500,ok,partial2"
run noretry "batch=50,catchup-batch=50,batch-ms=20,backoff-ms=100,metrics-ms=0" --records 400
refused=$(jq -rs '[.[] | select(.fault == "500") | "\(.first)-\(.last)"] | join(",")' "$tmp/noretry/rx/requests.jsonl")
n_refused=$(jq -s '[.[] | select(.fault == "500") | .records] | add' "$tmp/noretry/rx/requests.jsonl")
verify noretry --missing-ok "$refused"
check "500: exactly the refused batch ($refused) is missing, the rest delivered" $?
check "500: sent once (no retry, no split), 1 failed batch, $n_refused records dropped, 0 retries, 0 splits" \
	"$([ "$(jq -s '[.[] | select(.first != null)] | group_by(.first) | map(length) | max' "$tmp/noretry/rx/requests.jsonl")" = 1 ] && [ "$(fig noretry failed_batches)" = 1 ] && [ "$(fig noretry dropped)" = "$n_refused" ] && [ "$(fig noretry retries)" = 0 ] && [ "$(fig noretry splits)" = 0 ] && echo 0 || echo 1)"
loss=$(cat "$tmp"/noretry/log/audit.*.jsonl | jq -c 'select(.k == "loss" and .source == "otlp") | [.reason, .status, .first, .count, .total]')
check "500: the refused records are a loss record in the chain ($loss), and that record was delivered" \
	"$([ "$loss" = "[\"refused\",500,${refused%-*},$n_refused,$n_refused]" ] && jq -s 'any(.[]; .attributes["vigil.loss.reason"] == "refused" and .attributes["vigil.loss.status"] == "500")' "$tmp/noretry/rx/logs.jsonl" | grep -qx true && echo 0 || echo 1)"
check "partial_success: 2 rejected records counted and logged" \
	"$([ "$(fig noretry rejected)" = 2 ] && grep -q 'receiver rejected 2 of records .*test rejects' "$tmp/noretry.err" && echo 0 || echo 1)"
check "500 logged as not retried" "$(grep -q 'receiver answered 500 .* (not retried' "$tmp/noretry.err"; echo $?)"
rx_stop

# 4b. 413 over 40 records: batches of 100 are split in halves until the receiver takes them;
# nothing is lost.
rx_start split413 "" --max-records 40
run split413 "batch=100,catchup-batch=100,batch-ms=20,backoff-ms=100,metrics-ms=0" --records 1000
verify split413
check "413 over 40 records: batches of 100 split in halves, every record delivered" $?
n413=$(jq -s '[.[] | select(.fault == "413")] | length' "$tmp/split413/rx/requests.jsonl")
check "413: $n413 refused requests = $(fig split413 splits) splits, 0 retries, 0 dropped, accepted requests <= 40 records" \
	"$([ "$n413" -gt 0 ] && [ "$(fig split413 splits)" = "$n413" ] && [ "$(fig split413 retries)" = 0 ] && [ "$(fig split413 dropped)" = 0 ] && jq -s 'all(.[] | select(.fault == "ok" and .path == "/v1/logs"); .records <= 40)' "$tmp/split413/rx/requests.jsonl" | grep -qx true && echo 0 || echo 1)"
! cat "$tmp"/split413/log/audit.*.jsonl | jq -e 'select(.k == "loss")' > /dev/null
check "413: no loss record in the chain" $?
rx_stop

# 4c. 400 for any request holding record 300: split down to that one record, which alone is
# refused, counted and put into the chain as a loss; its 63 neighbours are delivered.
rx_start refuse400 "" --refuse-seq 300
run refuse400 "batch=64,catchup-batch=64,batch-ms=1000,backoff-ms=100,metrics-ms=0" --records 1000
verify refuse400 --missing-ok 300-300
check "400 for record 300: only record 300 is missing, its batch's other records delivered" $?
loss=$(cat "$tmp"/refuse400/log/audit.*.jsonl | jq -c 'select(.k == "loss" and .source == "otlp") | [.reason, .status, .first, .count, .total]')
check "400: the record refused alone is a loss record in the chain ($loss), delivered as vigil.log.loss" \
	"$([ "$loss" = '["refused",400,300,1,1]' ] && jq -s 'any(.[]; .event_name == "vigil.log.loss" and .attributes["vigil.loss.first"] == "300")' "$tmp/refuse400/rx/logs.jsonl" | grep -qx true && echo 0 || echo 1)"
n400=$(jq -s '[.[] | select(.fault == "400")] | length' "$tmp/refuse400/rx/requests.jsonl")
check "400: $n400 refused requests (6 halvings of 64 + the record alone), $(fig refuse400 splits) splits, 1 dropped" \
	"$([ "$n400" = 7 ] && [ "$(fig refuse400 splits)" = 6 ] && [ "$(fig refuse400 dropped)" = 1 ] && [ "$(fig refuse400 failed_batches)" = 1 ] && echo 0 || echo 1)"
check "400 logged as not retried" "$(grep -q 'receiver answered 400 to records 300-300 (not retried' "$tmp/refuse400.err"; echo $?)"
rx_stop

# 5. Receiver down for DOWN s, kill -9 of the exporting process during the outage, restart:
# every record exactly once after dedup by seq, the cursor never ahead of the receiver.
DOWN=${OTLP_TEST_DOWN_S:-20}
rx_start outage
"$X" --otlp "endpoint=http://127.0.0.1:$port,batch=200,batch-ms=50,backoff-ms=200,backoff-max-ms=2000,metrics-ms=0" \
	--records 100000 --rate 1000 "$tmp/outage/log" "$tmp/outage/state" > "$tmp/outage1.out" 2> "$tmp/outage1.err" &
x_pid=$!
sleep 2
curl -s "http://127.0.0.1:$port/down?ms=$((DOWN * 1000))" > /dev/null
sleep $((DOWN / 2))
kill -9 "$x_pid"
wait "$x_pid" 2>/dev/null
x_pid=
cur1=$(cut -d' ' -f1 "$tmp/outage/state/otlp.cursor")
got1=$(jq -s 'map(.attributes["vigil.audit.seq"] | tonumber) | max' "$tmp/outage/rx/logs.jsonl")
check "kill -9 during the outage: the cursor ($cur1) is not ahead of what the receiver has ($got1)" \
	"$([ "$cur1" -le "$got1" ] && echo 0 || echo 1)"
# A new process on the same log: the writer recovers the torn tail (gap record), the exporter
# resumes from the cursor, retries until the receiver is back, then catches up.
run outage "batch=200,batch-ms=50,backoff-ms=200,backoff-max-ms=2000,metrics-ms=0" --records 3000 --rate 1000 --wait-ms 120000
verify outage
check "after the outage and kill -9: every record of the chain received exactly once after dedup" $?
check "the restarted exporter retried during the outage ($(fig outage retries) retries) and caught up ($(fig outage cursor)/$(fig outage head))" \
	"$([ "$(fig outage retries)" -gt 0 ] && [ "$(fig outage cursor)" = "$(fig outage head)" ] && echo 0 || echo 1)"
"$BUILD/vigil" log verify --pubkey "$tmp/outage/log/audit.vkey" "$tmp/outage/log" > /dev/null 2>&1
st=$?
check "vigil log verify accepts the log the rows were checked against (exit $st)" "$st"
rx_stop

# 6. Records rotated away before export: counted, and the loss enters the chain (source otlp).
mkdir -p "$tmp/rot" "$tmp/bad"
"$X" --records 3000 --audit rotate=64K "$tmp/rot/log" "$tmp/rot/state" > /dev/null 2>&1
rm "$tmp/rot/log/audit.000001.jsonl" "$tmp/rot/log/audit.000002.jsonl" # as an outside rotation would
oldest=$(head -1 "$(ls "$tmp/rot/log"/audit.*.jsonl | head -1)" | jq .n)
rx_start rot
run rot "metrics-ms=0" --records 10
loss=$(cat "$tmp"/rot/log/audit.*.jsonl | jq -c 'select(.k == "loss" and .source == "otlp") | [.count, .total]' | head -1)
check "rotation before export: $((oldest - 1)) records counted lost ($(fig rot lost)) and a loss record in the chain ($loss)" \
	"$([ "$(fig rot lost)" = $((oldest - 1)) ] && [ "$loss" = "[$((oldest - 1)),$((oldest - 1))]" ] && echo 0 || echo 1)"
node tests/otlp/check.js "$tmp/rot/log" "$tmp/rot/rx" > "$tmp/rot.check"
check "rotation before export: everything still on disk was exported, from the file record on" $?
big=$(jq -s '[.[] | select(.path == "/v1/logs") | .records] | max' "$tmp/rot/rx/requests.jsonl")
check "a backlog goes out in catch-up requests larger than the batch of 512 (largest: $big, at most 1024)" \
	"$([ "$big" -gt 512 ] && [ "$big" -le 1024 ] && echo 0 || echo 1)"
rx_stop

# 7. TLS: the receiver's certificate checked against ca=, a client certificate (cert=, key=)
# required by the receiver; without either nothing is delivered (transport failures, retried).
tls=$tmp/tls
mkdir -p "$tls" "$tmp/tls1" "$tmp/tls2" "$tmp/tls3"
(
	cd "$tls" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
		-keyout ca.key -out ca.crt
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=receiver -keyout server.key -out server.csr
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out server.crt
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=cvm-7 -keyout client.key -out client.csr
	openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt
) > "$tmp/tls.log" 2>&1
rm -f "$tmp/port"
node tests/otlp/receiver.js --port-file "$tmp/port" --out "$tmp/tls1/rx" --tls "$tls" > "$tmp/tls1.rx.log" 2>&1 &
rx_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
"$X" --otlp "endpoint=https://127.0.0.1:$port,ca=$tls/ca.crt,cert=$tls/client.crt,key=$tls/client.key,metrics-ms=0" \
	--records 300 "$tmp/tls1/log" "$tmp/tls1/state" > "$tmp/tls1.out" 2> "$tmp/tls1.err"
node tests/otlp/check.js "$tmp/tls1/log" "$tmp/tls1/rx" > "$tmp/tls1.check"
st=$?
check "TLS with ca=, cert=, key=: every record delivered, the receiver saw client cvm-7" \
	"$([ "$st" = 0 ] && jq -s 'all(.[] | select(.path == "/v1/logs"); .client_cn == "cvm-7") and length > 0' "$tmp/tls1/rx/requests.jsonl" | grep -qx true && echo 0 || echo 1)"
"$X" --otlp "endpoint=https://127.0.0.1:$port,cert=$tls/client.crt,key=$tls/client.key,backoff-ms=100,metrics-ms=0" \
	--records 10 --wait-ms 1500 "$tmp/tls2/log" "$tmp/tls2/state" > "$tmp/tls2.out" 2> "$tmp/tls2.err"
check "TLS without ca=: the receiver's certificate is refused, nothing sent, retried ($(fig tls2 retries))" \
	"$([ "$(fig tls2 exported)" = 0 ] && [ "$(fig tls2 retries)" -gt 0 ] && grep -qi 'certificate' "$tmp/tls2.err" && echo 0 || echo 1)"
"$X" --otlp "endpoint=https://127.0.0.1:$port,ca=$tls/ca.crt,backoff-ms=100,metrics-ms=0" \
	--records 10 --wait-ms 1500 "$tmp/tls3/log" "$tmp/tls3/state" > "$tmp/tls3.out" 2> "$tmp/tls3.err"
check "TLS without a client certificate: the receiver refuses, nothing delivered, retried ($(fig tls3 retries))" \
	"$([ "$(fig tls3 exported)" = 0 ] && [ "$(fig tls3 retries)" -gt 0 ] && echo 0 || echo 1)"
rx_stop

# 8. Bad options: one line naming the item.
out=$("$X" --otlp "endpoint=ftp://x" "$tmp/bad/log" "$tmp/bad/state" 2>&1)
check "bad endpoint refused: $out" "$([ "$out" = "--otlp: endpoint 'ftp://x': expected http:// or https://" ] && echo 0 || echo 1)"
out=$("$X" --otlp "endpoint=http://x,batch=0" "$tmp/bad/log" "$tmp/bad/state" 2>&1)
check "bad batch refused: $out" "$([ "$out" = "--otlp: batch: bad value '0'" ] && echo 0 || echo 1)"

echo "host otlp: $passes passed, $fails failed"
[ "$fails" = 0 ]
