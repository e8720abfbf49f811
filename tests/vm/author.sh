# vm suite: the offline evaluator and the kernel agree: every case of author.cases.jsonl, made for real.
# Each case of tests/vm/author.cases.jsonl (which tests/host/test_policy_author.sh decides
# offline with `vigil policy test`) is made in the scope: the kernel's verdict (EPERM, or the
# deny/audit event) and rule (named by the event; exec events name it on allow too) must be
# the case's. Precedence: nearest file rule, deny > audit > allow, longest prefix, port ranges,
# protocol, operations, IPv4-mapped IPv6.
# vigil-vm-args: --copy build/guest-tests:/t
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
[ "$n" -ge 25 ] && ok "ran $n cases" || not_ok "ran $n cases, want at least 25"

finish
