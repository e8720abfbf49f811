# vm suite: the offline evaluator and the kernel agree: every case of author.cases.jsonl, made for real.
# Each case of tests/vm/author.cases.jsonl (which tests/host/test_policy_author.sh decides
# offline with `vigil policy test`) is made in the scope: the kernel's verdict (EPERM, or the
# deny/audit event) and rule (named by the event; exec events name it on allow too) must be
# the case's. Precedence: nearest file rule, deny > audit > allow, longest prefix, port ranges,
# protocol, operations, IPv4-mapped IPv6; keys by executable, uid and cgroup (keyctl), every
# condition of a grant, the first rule that holds.
# vigil-vm-args: --copy build/guest-tests:/t --copy build/guest-tests/vtest:/t/keyreader
# The key cases change only keys the scope created: the suite runs in a session keyring of its
# own (as tests/vm/keys.sh does).
if [ -z "$KEYS_SESSION" ]; then
	KEYS_SESSION=1 exec /t/vtest key-session /bin/sh /tests/vm/author.sh "$@"
fi
. /tests/vm/lib.sh
V=/t/vtest
C=/tests/vm/author.cases.jsonl

get() { printf '%s' "$line" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
getn() { printf '%s' "$line" | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"; }

# new_event N PATTERN...: an event line past line N of the log with every PATTERN, within 5 s
# (one poll for a case that expects none); prints it.
new_event() {
	_n=$1 _tries=$2
	shift 2
	_i=0
	while [ $_i -lt "$_tries" ]; do
		tail -n +$((_n + 1)) "$EVENTS" > /tmp/.new 2>/dev/null || : > /tmp/.new
		for _p in "$@"; do
			grep -F -- "$_p" /tmp/.new > /tmp/.new2
			mv /tmp/.new2 /tmp/.new
		done
		if [ -s /tmp/.new ]; then
			head -n 1 /tmp/.new
			return 0
		fi
		usleep 100000
		_i=$((_i + 1))
	done
	return 1
}

cp /bin/busybox /tmp/bb-copy
# The managed key, added by the binary a write rule names; its permissions let a process the
# platform places in a cgroup (no possessor of the suite's session keyring) ask for it too.
key=$($V key-add author:key s3cr3t)
other=$($V key-add author:other hello)
expect_rc "the managed key is added" 0 test -n "$key" -a -n "$other"
$V key-setperm "$key" 0x3f3f3f3f
$V key-setperm "$other" 0x3f3f3f3f
mkdir -p /sys/fs/cgroup/workload/keyok
n=0
while IFS= read -r line; do
	case $line in '{'*) ;; *) continue ;; esac
	n=$((n + 1))
	name=$(get case)
	want=$(get expect)
	rule=$(get rule)
	case $line in *'"rule": null'*) rule=null ;; esac
	before=$(wc -l < "$EVENTS" 2>/dev/null || echo 0)
	pat=
	if [ -n "$(get exec)" ]; then
		path=$(get exec)
		"$path" true > /tmp/.out 2> /tmp/.err
		set -- '"type":"exec"' "\"path\":\"$path\""
	elif [ -n "$(get file)" ]; then
		path=$(get file)
		acc=$(get access)
		base=${path##*/}
		case $acc in
		read) cat "$path" > /tmp/.out 2> /tmp/.err ;;
		write) sh -c "echo x >> '$path'" > /tmp/.out 2> /tmp/.err ;;
		create) mkdir "$path" > /tmp/.out 2> /tmp/.err ;;
		unlink) rm "$path" > /tmp/.out 2> /tmp/.err ;;
		link) ln "$path" /tests/vm/author-data/data/link.$n > /tmp/.out 2> /tmp/.err ;;
		esac
		# open and mmap events carry the full path, the path_* hooks the last component
		case $acc in read | write) pat=$path ;; *) pat=$base ;; esac
		set -- '"type":"file"' "\"access\":\"$acc\"" "\"path\":\"$pat\""
	elif [ -n "$(get key)" ]; then
		desc=$(get key) perm=$(get perm) exe=$(get exe) uid=$(getn uid) cg=$(get cgroup)
		id=$key
		[ "$desc" = author:other ] && id=$other
		case $perm in
		read) set -- "$exe" key-read "$id" ;;
		write) set -- "$exe" key-add "$desc" overwritten ;;
		esac
		[ -n "$uid" ] && set -- $V as-uid "$uid" "$@"
		if [ "$cg" != /workload ]; then
			# The platform places the task (the scope moves none, bound.sh).
			outside sh -c 'echo $$ > /sys/fs/cgroup$0/cgroup.procs && exec "$@"' "$cg" "$@" \
				> /tmp/.out 2> /tmp/.err
		else
			"$@" > /tmp/.out 2> /tmp/.err
		fi
		set -- '"type":"key"' "\"key\":\"$desc\"" "\"perm\":\"$perm\"" "\"comm\":\"${exe##*/}\"" \
			"\"uid\":${uid:-0},"
	else
		op=$(get net) addr=$(get addr) port=$(getn port) proto=$(get protocol)
		case $op in
		sendmsg) $V sendto "$addr" "$port" > /tmp/.out 2> /tmp/.err ;;
		*) $V "$op" "$addr" "$port" "$proto" > /tmp/.out 2> /tmp/.err ;;
		esac
		set -- '"type":"network"' "\"op\":\"$op\"" "\"network.peer.port\":$port" \
			"\"network.transport\":\"$proto\""
	fi
	if grep -q "Operation not permitted" /tmp/.err; then got=deny; else got=allow; fi
	# A decision that is not allow is logged; an exec is logged whatever the verdict.
	case $want in allow) tries=5 ;; *) tries=50 ;; esac
	case $1 in '"type":"exec"') tries=50 ;; esac
	ev=$(new_event "$before" "$tries" "$@")
	if [ -n "$ev" ]; then
		case $ev in *'"verdict":"audit"'*) [ "$got" = allow ] && got=audit ;; esac
		erule=$(printf '%s' "$ev" | sed -n 's/.*"rule":"\([^"]*\)".*/\1/p')
		[ -z "$erule" ] && erule=null
		case $ev in *'"verdict":"allow"'*) evv=allow ;; *'"verdict":"audit"'*) evv=audit ;; *) evv=deny ;; esac
		[ "$evv" = "$got" ] || got="$got (event says $evv)"
	else
		erule="(no event)"
	fi
	# The rule the kernel names: on every logged decision; an allowed file or network access
	# is not logged, so its rule is the offline evaluator's alone.
	if [ "$got" = "$want" ] && { [ "$erule" = "$rule" ] || { [ "$want" = allow ] && [ "$erule" = "(no event)" ]; }; }; then
		ok "$n $name: kernel $got, rule $erule"
	else
		not_ok "$n $name: kernel $got rule $erule, the case (and vigil policy test) say $want rule $rule" \
			"stderr: $(head -c 200 /tmp/.err)" "event: $ev"
	fi
done < "$C"

# explain of real key events: the event names the acting executable by identity and the cgroup
# by id; explain, run where the event was made, finds the key rule's file and the cgroup.
explain_key() { # NAME EXE UID: explains the deny event of a read of author:key by EXE as UID
	grep -F '"type":"key"' "$EVENTS" | grep -F '"key":"author:key"' | grep -F '"perm":"read"' |
		grep -F "\"comm\":\"${2##*/}\"" | grep -F "\"uid\":$3," | head -n 1 > /tmp/key.ev
	expect_rc "$1: a deny event to explain" 0 test -s /tmp/key.ev
	expect_rc "$1: vigil policy explain" 0 outside vigil policy explain /vigil-vm/policy.json "$(cat /tmp/key.ev)"
	cp /tmp/.out /tmp/explain.out
	cat /tmp/explain.out | sed 's/^/# /'
	expect_rc "$1: explain names the executable" 0 grep -q "^asked by: $2 (the event's dev " /tmp/explain.out
	expect_rc "$1: explain names the cgroup" 0 grep -q "^cgroup:   /workload (id " /tmp/explain.out
	expect_rc "$1: explain names the generation" 0 grep -q "^decided:  policy 'author' serial 1, generation 1, rule (none)" /tmp/explain.out
	expect_rc "$1: the offline decision agrees" 0 grep -q "^offline:  deny, rule (none): agrees with the event" /tmp/explain.out
}
explain_key "key event of an executable no read rule names" /t/vtest 0
explain_key "key event of the granted executable under another uid" /t/keyreader 1001

[ "$n" -ge 33 ] && ok "ran $n cases" || not_ok "ran $n cases, want at least 33"

finish
