#!/usr/bin/env bash
# OTLP export against a loopback receiver that decodes with the OpenTelemetry project's own
# JavaScript decoder (tests/otlp/receiver.js; npm @opentelemetry/otlp-transformer, pinned),
# checked field by field against the audit log written by the real audit library
# (tests/otlp/check.js re-hashes the chain itself). Faults: 503 + Retry-After, 429, dropped
# connections (retried); 400, 413 (not retried, counted); partial_success (counted); receiver
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

# rx_start NAME [FAULTS]: a receiver writing into $tmp/NAME/rx; sets $port.
rx_start() {
	rm -f "$tmp/port"
	node tests/otlp/receiver.js --port-file "$tmp/port" --out "$tmp/$1/rx" ${2:+--faults "$2"} \
		> "$tmp/$1.rx.log" 2>&1 &
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
run basic "batch=256,batch-ms=50,metrics-ms=300" --records 3000 --linger-ms 800
verify basic
check "protobuf+gzip: 3000 events + start record decoded, every field as in the chain" $?
check "protobuf+gzip: cursor reached the head ($(fig basic cursor)/$(fig basic head)), no retry" \
	"$([ "$(fig basic cursor)" = "$(fig basic head)" ] && [ "$(fig basic retries)" = 0 ] && echo 0 || echo 1)"
check "requests were gzip'ed protobuf of at most 256 records" \
	"$(jq -s 'all(.[] | select(.path == "/v1/logs"); .gzip and (.json | not) and .records <= 256) and length >= 12' "$tmp/basic/rx/requests.jsonl" | grep -qx true; echo $?)"
# Decisions by kind and verdict in the last metrics request = the chain's event records.
want=$(cat "$tmp"/basic/log/audit.*.jsonl | jq -c 'select(.k == "event") | [.e.type, .e.verdict]' | sort | uniq -c | awk '{print $2" "$1}' | sort)
have=$(tail -1 "$tmp/basic/rx/metrics.jsonl" | jq -c '.metrics["vigil.decisions"].points[] | [[.attrs["vigil.access.kind"], .attrs["vigil.verdict"]], .value]' | jq -r '"\(.[0] | tostring) \(.[1])"' | sort)
check "metrics: vigil.decisions (cumulative, monotonic) per kind and verdict = the chain's counts" \
	"$([ -n "$want" ] && [ "$want" = "$have" ] && tail -1 "$tmp/basic/rx/metrics.jsonl" | jq -e '.metrics["vigil.decisions"].monotonic and .metrics["vigil.decisions"].temporality == 2 and .metrics["vigil.export.lag"].kind == "gauge" and .metrics["vigil.export.queue.depth"].kind == "gauge" and (.metrics["vigil.export.failures"].points | length) == 3' > /dev/null && echo 0 || echo 1)"
rx_stop

# 2. OTLP/HTTP JSON, no gzip, an auth header.
rx_start json "ok,partial3"
run json "protocol=json,gzip=off,header=Authorization:Bearer t0k3n,batch=200,metrics-ms=300" --records 700 --linger-ms 500
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
run retry "batch=100,batch-ms=20,backoff-ms=100,backoff-max-ms=400,metrics-ms=0" --records 600
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

# 4. Not retried: 400, 413, 500 (counted, logged, the batch is given up); partial_success.
rx_start noretry "ok,400,ok,413,500,partial2"
run noretry "batch=50,batch-ms=20,backoff-ms=100,metrics-ms=0" --records 400
refused=$(jq -rs '[.[] | select(.fault == "400" or .fault == "413" or .fault == "500") | "\(.first)-\(.last)"] | join(",")' "$tmp/noretry/rx/requests.jsonl")
n_refused=$(jq -s '[.[] | select(.fault == "400" or .fault == "413" or .fault == "500") | .records] | add' "$tmp/noretry/rx/requests.jsonl")
verify noretry --missing-ok "$refused"
check "400/413/500: exactly the refused batches ($refused) are missing, the rest delivered" $?
check "400/413/500: each sent once (no retry), 3 failed batches, $n_refused records dropped, 0 retries" \
	"$([ "$(jq -s '[.[] | select(.first != null)] | group_by(.first) | map(length) | max' "$tmp/noretry/rx/requests.jsonl")" = 1 ] && [ "$(fig noretry failed_batches)" = 3 ] && [ "$(fig noretry dropped)" = "$n_refused" ] && [ "$(fig noretry retries)" = 0 ] && echo 0 || echo 1)"
check "partial_success: 2 rejected records counted and logged" \
	"$([ "$(fig noretry rejected)" = 2 ] && grep -q 'receiver rejected 2 of records .*test rejects' "$tmp/noretry.err" && echo 0 || echo 1)"
check "400 logged as not retried" "$(grep -q 'receiver answered 400 .* (not retried' "$tmp/noretry.err"; echo $?)"
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
"$BUILD/vigil" log verify "$tmp/outage/log" > /dev/null 2>&1
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
