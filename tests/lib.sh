#!/usr/bin/env bash
# Shared by the host and tpm test scripts (sourced, through tests/host/lib.sh or tests/tpm/lib.sh
# or directly): TAP-style lines with the pass and fail counts, and a scratch directory. Sets top
# (the repository) unless the sourcing script did.
top=${top:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok - $1"; }
# not_ok NAME [DETAIL...]: each DETAIL on a line of its own.
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# test_start NAME: BUILD (absolute), V (the CLI), tmp (a scratch directory removed at exit).
test_start() {
	BUILD=${BUILD:-build}
	case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
	V=$BUILD/vigil
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
}
