#!/usr/bin/env bash
# Installs the OTLP test receiver's decoder (tests/otlp/package.json: the OpenTelemetry
# project's @opentelemetry/otlp-transformer and protobufjs, pinned by package-lock.json) into
# DIR/node_modules (default build/npm; never committed). Quick when already installed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/npm}
mkdir -p "$dir"
if [ -f "$dir/node_modules/.vigil-lock" ] && cmp -s "$dir/node_modules/.vigil-lock" "$top/tests/otlp/package-lock.json"; then
	exit 0
fi
cp "$top/tests/otlp/package.json" "$top/tests/otlp/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
cp "$top/tests/otlp/package-lock.json" "$dir/node_modules/.vigil-lock"
