#!/usr/bin/env bash
# Host side of the python suite: Debian's python3.11 (the interpreter, the standard library
# modules and C extension modules the suite's scripts load, and the shared libraries they link),
# copied from this machine's Debian packages into GEN/py/ at their own paths. Never committed.
set -euo pipefail
gen=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3.11
[ -x $py ] || { echo "python suite: $py missing (apt-get install python3.11)" >&2; exit 1; }
files=$(for s in "$top"/tests/vm/python/*.py; do
	$py -S -I -B -c '
import contextlib, io, runpy, sys
try:
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(sys.argv[1])
except Exception:
    pass
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f:
        print(f)
' "$s" 2>/dev/null
done | sort -u)
libs=$(ldd $py $(grep '\.so$' <<<"$files") | awk '/=>/ { print $3 } /^\t\/.*ld-linux/ { print $1 }' | sort -u)
for f in $py $files $libs; do
	mkdir -p "$gen/py$(dirname "$f")"
	cp -L "$f" "$gen/py$f"
done
echo "python suite: $(echo $py $files $libs | wc -w) files from $(dpkg -S $py | cut -d: -f1) $(dpkg-query -W -f '${Version}' python3.11)"
