# vm suite: the example policies pass `vigil policy check` against the guest's files and load into vigild.
# policies/examples/*.json name Debian paths (python3.11, bash, tar, their libraries) and a
# deployment's directories (/srv/models, /srv/batch, ...). The platform installs the Debian files
# they pin (examples.prep.sh copies them from the build host's packages and re-pins each example
# for them, as an image build would) and creates the deployment's directories; then each example
# passes `vigil policy check` in the guest (every digest against the guest's file), a copy with one wrong digest is refused
# naming the file, the field and the rule, and each example (re-serialed and signed) is pushed
# to vigild, which loads only a policy whose every path exists.
. /tests/vm/lib.sh
E=/gen/examples

# The platform installs the image's files (files the guest already has are kept: vigild maps some).
outside sh -c 'cd /gen/root && find . -type f | while read -r f; do [ -e "/$f" ] || { mkdir -p "/${f%/*}" && cp "$f" "/$f"; }; done'
# The deployment: the model, scratch, batch and code directories, the configuration files the
# examples' files rules name, and the workloads' cgroups.
outside mkdir -p /srv/models /var/lib/inference/scratch /opt/inference /srv/batch/input \
	/srv/batch/output /opt/batch /etc/ssl/certs /var/log /boot \
	/sys/fs/cgroup/inference /sys/fs/cgroup/batch
outside sh -c 'for f in /etc/hosts /etc/resolv.conf /etc/ld.so.cache /etc/nsswitch.conf /etc/passwd /etc/group /etc/shadow; do [ -e $f ] || : > $f; done'
outside sh -c 'printf "#!/usr/bin/bash\ntar -C /srv/batch/input -cf - . | gzip > /srv/batch/output/in.tar.gz\n" > /opt/batch/run.sh'
missing=
while read -r f; do [ -e "$f" ] || missing="$missing $f"; done < $E/files-paths
expect_rc "every path a files rule of the examples names exists in the guest" 0 test -z "$missing"
[ -z "$missing" ] || echo "# missing:$missing"

n=0
for p in $E/*.json; do
	case $p in *.bundle.json) continue ;; esac
	ex=$(basename "$p" .json)
	n=$((n + 1))
	expect_rc "$ex: vigil policy check in the guest" 0 outside vigil policy check "$p"
	cp /tmp/.out /tmp/check.out
	expect_rc "$ex: ... every digest matches the guest's file" 0 grep -q "valid, .*every digest matches" /tmp/check.out
done
expect_rc "checked the 5 examples" 0 test "$n" = 5

# One wrong digest in a copy: refused with the file, the field and the rule.
expect_rc "the copy differs from the example" 1 cmp -s /gen/bad-digest.json $E/batch-job.json
expect_rc "a changed digest fails vigil policy check (exit 3)" 3 outside vigil policy check /gen/bad-digest.json
cp /tmp/.err /tmp/bad.err
cat /tmp/bad.err
expect_rc "... naming the file, the field and the rule" 0 grep -q \
	"^vigil: /gen/bad-digest.json: exec.allow\[0\].sha256: rule 'bash': /usr/bin/bash has sha256 " /tmp/bad.err

# vigild loads each example: its paths exist and its digests are the guest files'. The
# guest-wide one goes last: it puts every process, the platform's included, in its scope.
loaded() { grep -c '"type":"policy_loaded"' "$EVENTS"; }
for b in $(ls $E/*.bundle.json | grep -v baseline-audit) $E/baseline-audit.bundle.json; do
	ex=$(basename "$b" .bundle.json)
	want=$(($(loaded) + 1))
	expect_rc "$ex: vigil policy push (vigild replies once it is loaded)" 0 outside vigil policy push "$b"
	cp /tmp/.out /tmp/push.out
	expect_rc "$ex: ... vigild says ok" 0 grep -q '^ok' /tmp/push.out
	[ "$ex" = baseline-audit ] && break # the log is vigil's, and the scope is now everything
	i=0
	while [ "$(loaded)" -lt $want ] && [ $i -lt 100 ]; do usleep 50000; i=$((i + 1)); done
	expect_rc "$ex: ... policy_loaded event" 0 grep -q "\"type\":\"policy_loaded\".*\"policy\":\"$ex\"" "$EVENTS"
done
finish
