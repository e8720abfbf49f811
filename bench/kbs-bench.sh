#!/usr/bin/env bash
# Key release (issue 12): latency of a full KBS fetch (auth -> TPM quote -> attest -> resource ->
# JWE decrypt) with swtpm and vigil-kbs on host loopback, median and p95 over RUNS (default 100),
# the TPM's share; and the broker's throughput: attestations per CPU-second of its one thread
# (utime + stime of vigil-kbs over the same runs). Host wall-clock (no TCG). Results in
# BUILD/bench/kbs.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
RUNS=${RUNS:-100}
make -s -C "$top" BUILD="$BUILD" "$BUILD/vigil" "$BUILD/vigil-kbs" "$BUILD/bench/kbs_fetch" > /dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-kbs-bench.XXXXXX")
swtpm_pid= kbs_pid=
cleanup() {
	[ -n "$kbs_pid" ] && kill "$kbs_pid" 2> /dev/null && wait "$kbs_pid" 2> /dev/null
	[ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2> /dev/null && wait "$swtpm_pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
port=$((20000 + RANDOM % 20000))
swtpm socket --tpm2 --tpmstate dir="$tmp" --server type=tcp,port=$port \
	--ctrl type=tcp,port=$((port + 1)) --flags not-need-init,startup-clear > swtpm.log 2>&1 &
swtpm_pid=$!
for _ in $(seq 50); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break; sleep 0.1; done
export VIGIL_TCTI="swtpm:host=127.0.0.1,port=$port" TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
# A vigild-shaped measurement log of 3 records, extended into PCR 23.
rec() {
	jq -cn --argjson n "$1" --arg t "$2" --arg c "$3" --arg d "$(printf '%s' "$3" | sha256sum | cut -c1-64)" \
		'{recnum:$n,pcr:23,digests:[{hashAlg:"sha256",digest:$d}],content_type:$t,content:$c}'
}
{
	rec 0 vigil/agent-start '{"agent":"vigild","vigild_sha256":"11"}'
	rec 1 vigil/policy-bundle '{"policy":"prod","serial":1,"bundle_sha256":"22","signers":["ab"]}'
	rec 2 vigil/audit-key 'vigil/x+00+AA'
} > ml.log
tpm2_pcrreset 23 > /dev/null
jq -r '.digests[0].digest' ml.log | while read -r d; do tpm2_pcrextend "23:sha256=$d" > /dev/null; done
"$BUILD/vigil" attest quote --nonce 00 --out akq > /dev/null
head -c 32 /dev/urandom > secret
jq -n --arg ak "$tmp/akq/ak.pem" --arg s "$tmp/secret" '{trusted_aks: [$ak], nonce_ttl_s: 60,
	resources: {"b/k/k": {file: $s, release: {policies: [{name: "prod", min_serial: 1}]}}}}' > kbs.json
"$BUILD/vigil-kbs" --config kbs.json --port 0 --port-file kport > kbs.out 2>&1 &
kbs_pid=$!
for _ in $(seq 50); do [ -s kport ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat kport)
"$BUILD/bench/kbs_fetch" "$url" b/k/k "$VIGIL_TCTI" ml.log 3 > /dev/null # warm-up: AK, caches
cpu0=$(awk '{print $14 + $15}' "/proc/$kbs_pid/stat")
"$BUILD/bench/kbs_fetch" "$url" b/k/k "$VIGIL_TCTI" ml.log "$RUNS" > ec.txt
cpu1=$(awk '{print $14 + $15}' "/proc/$kbs_pid/stat")
"$BUILD/bench/kbs_fetch" "$url" b/k/k "$VIGIL_TCTI" ml.log 20 rsa > rsa.txt
hz=$(getconf CLK_TCK)
rate=$(awk -v n="$RUNS" -v c=$((cpu1 - cpu0)) -v hz="$hz" 'BEGIN { if (c == 0) c = 1; printf "%.0f", n / (c / hz) }')
v() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
mkdir -p "$BUILD/bench"
{
	echo "### Key release with swtpm on the host ($(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "| | median | p95 |"
	echo "|---|---|---|"
	echo "| auth -> key decrypted, EC P-256 ephemeral key ($RUNS runs) | $(v total_median_ms ec.txt) ms | $(v total_p95_ms ec.txt) ms |"
	echo "| of which the TPM (AK load, quote, 24 PCR reads) | $(v tpm_median_ms ec.txt) ms | $(v tpm_p95_ms ec.txt) ms |"
	echo "| of which HTTP round trips (broker work included) | $(v http_median_ms ec.txt) ms | $(v http_p95_ms ec.txt) ms |"
	echo "| auth -> key, RSA-2048 ephemeral key (20 runs) | $(v total_median_ms rsa.txt) ms | $(v total_p95_ms rsa.txt) ms |"
	echo
	echo "Broker: $RUNS attestations + releases took $((cpu1 - cpu0)) ticks (1/$hz s) of vigil-kbs CPU: ~$rate attestations/s on one core."
} | tee "$BUILD/bench/kbs.md"
