# Guest side of bench/kbs-guest-bench.sh. This shell is the platform: it starts vigild (unsigned
# bench policy, no audit log so no checkpoint is measured mid-run), the broker on the guest's
# loopback, and times RUNS full key releases against vigild's own measurement log and the vTPM.
. /bench/lib.sh
RUNS=${RUNS:-100}
ip link set lo up
mkdir -p /run/vigil
vigild --policy /bench/kbs.policy.json --audit-dir none --event-log /tmp/ev.jsonl \
	--ready-file /run/vigil/bench-ready > /tmp/vigild.log 2>&1 &
wait_ready 3000
vigil attest quote --tcti device:/dev/tpmrm0 --nonce 00 --out /tmp/akq > /dev/null || exit 1
head -c 32 /dev/urandom > /tmp/secret
cat > /tmp/kbs.json << JSON
{"trusted_aks": ["/tmp/akq/ak.pem"], "nonce_ttl_s": 600,
 "resources": {"b/k/k": {"file": "/tmp/secret", "release": {}}}}
JSON
vigil-kbs --config /tmp/kbs.json --port 8380 > /tmp/kbs.out 2>&1 &
usleep 500000
/t/kbs_fetch http://127.0.0.1:8380 b/k/k device:/dev/tpmrm0 /run/vigil/measurements.log 3 > /dev/null
/t/kbs_fetch http://127.0.0.1:8380 b/k/k device:/dev/tpmrm0 /run/vigil/measurements.log "$RUNS"
