#!/usr/bin/env bash
# Shared by the tests/host scripts that check a command's exit and message: tests/lib.sh, and check.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# check NAME WANT_RC WANT_MSG CMD...: CMD exits WANT_RC and its output (stdout and stderr) holds
# WANT_MSG.
check() {
	local name=$1 want=$2 msg=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$msg" <<<"$out"; then
		ok "$name"
	else
		not_ok "$name (exit $rc, want $want; output: $out)"
	fi
}
