# vm suite: Debian's python3.11 learned then enforced: same output; a modified C extension, a new import and a new destination refused.
# The interpreter, the standard library modules and C extension modules the scripts load and the
# libraries they link come from the build host's Debian packages (python.prep.sh, never
# committed). Under a learning policy the workload runs once; `vigil policy learn` turns the
# event log into a policy, which is pushed. Enforced, the workload gives the same output; a C
# extension module written since the policy loaded is refused (modified); a script importing an
# extension module the learning run never loaded is refused at that import; a connect to a
# destination the learning run never used is refused.
# vigil-vm-args: --timeout 1500
. /tests/vm/lib.sh
S=/tests/vm/python
P="/usr/bin/python3.11 -S -I -B"
JSON_SO=/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so
DEC_SO=/usr/lib/python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so

outside ip link set lo up
outside true
outside true
# The platform installs python (files the guest already has are kept: vigild maps some).
outside sh -c 'cd /gen/py && find . -type f | while read -r f; do [ -e "/$f" ] || { mkdir -p "/${f%/*}" && cp "$f" "/$f"; }; done'

# The deployment reads its scripts; the workload runs once, under the learning policy.
cat $S/*.py > /dev/null
expect_rc "learning run" 0 $P $S/work.py
cp /tmp/.out /tmp/py.out1
cat /tmp/py.out1
expect_event "learning: the interpreter's exec is logged" '"type":"exec"' '"path":"/usr/bin/python3.11"'
sleep 1
expect_rc "vigil policy learn" 0 outside vigil policy learn --scope /workload --name python-work \
	--serial 2 -o /tmp/py.json /out/events.jsonl
cat /tmp/.err
grep -q "\"path\": \"$JSON_SO\"" /tmp/py.json && ok "the C extension module is an exec rule" ||
	not_ok "exec rule for $JSON_SO"
grep -q '"path": "/usr/bin/python3.11"' /tmp/py.json && ok "the interpreter is an exec rule" ||
	not_ok "exec rule for the interpreter"
grep -q "\"path\": \"$DEC_SO\"" /tmp/py.json && not_ok "_decimal was never loaded, yet learned" ||
	ok "_decimal is not in the policy"
expect_rc "check" 0 outside vigil policy check /tmp/py.json
expect_rc "sign" 0 outside vigil policy sign --key /gen/keys/signer.key -o /tmp/py.bundle.json /tmp/py.json
expect_rc "push" 0 outside vigil policy push /tmp/py.bundle.json
cat /tmp/.err
expect_event "the learned policy is in force" '"type":"policy_loaded"' '"policy":"python-work"'

expect_rc "enforced: the workload runs" 0 $P $S/work.py
cmp /tmp/.out /tmp/py.out1 > /dev/null && ok "enforced: same output" ||
	not_ok "enforced: same output" "$(cat /tmp/.out)" "$(head -c 300 /tmp/.err)"

expect_rc "an import the learning run never loaded fails" 1 $P $S/new_import.py
tail -n 2 /tmp/.err
expect_event "event: refused at the import of _decimal (not listed, EPERM, path)" '"type":"mmap_exec"' \
	'"verdict":"deny"' '"reason":"not_listed"' "\"path\":\"$DEC_SO\"" '"errno":1'

expect_rc "a connect to a new destination fails" 1 $P $S/new_connect.py
grep -q "PermissionError" /tmp/.err && ok "... with EPERM (PermissionError)" || not_ok "PermissionError" "$(tail -c 300 /tmp/.err)"
expect_event "event: connect refused" '"type":"network"' '"verdict":"deny"' '"network.peer.port":7801'

# The platform replaces the module by a modified copy (in place: the same file, written).
outside sh -c "cp $JSON_SO /tmp/j.so && printf x >> /tmp/j.so && cat /tmp/j.so > $JSON_SO"
expect_rc "a modified C extension module is refused" 1 $P -c "import _json"
grep -q "Operation not permitted\|failed to map" /tmp/.err && ok "... the loader reports the refusal" ||
	not_ok "loader error" "$(tail -c 300 /tmp/.err)"
expect_event "event: modified, EPERM, path" '"type":"mmap_exec"' '"verdict":"deny"' '"reason":"modified"' \
	"\"path\":\"$JSON_SO\"" '"errno":1'

finish
