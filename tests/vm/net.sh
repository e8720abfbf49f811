# vm suite: network enforcement: connect, bind, listen, sendto, io_uring, IPv6 and IPv4-mapped IPv6.
# Network enforcement: connect, bind, listen, unconnected UDP sendto, io_uring connect, IPv6 and
# IPv4-mapped IPv6, CIDR longest-prefix match, ports, protocol, default, audit, scope.
# vigil-vm-args: --copy build/guest-tests:/t
. /tests/vm/lib.sh
V=/t/vtest
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"network"' "$@"
}

outside insmod /lib/modules/dummy.ko
outside ip link add d0 type dummy
outside ip addr add 10.1.0.1/24 dev d0
outside ip addr add fd00::1/64 dev d0 nodad 2>/dev/null || outside ip addr add fd00::1/64 dev d0
outside ip link set d0 up
outside ip link set lo up
outside ip route add default dev d0

expect_rc "connect to allowed loopback port" 0 $V connect 127.0.0.1 8080
expect_eperm "connect to a port range denied inside an allowed /8" $V connect 127.0.0.1 7001
ev "event: rule, peer, port, transport" '"verdict":"deny"' '"reason":"rule"' '"op":"connect"' \
	'"network.peer.address":"127.0.0.1"' '"network.peer.port":7001' '"network.transport":"tcp"' \
	'"rule":"lo-blocked-port"' '"errno":1' '"comm":"vtest"'
expect_rc "udp to the tcp-only denied range is allowed" 0 $V connect 127.0.0.1 7001 udp
expect_eperm "connect to an address no rule covers (default deny)" $V connect 10.2.0.1 80
ev "event: default" '"verdict":"deny"' '"reason":"default"' '"rule":null' '"network.peer.address":"10.2.0.1"'
expect_rc "connect inside an allowed /24" 0 $V connect 10.1.0.5 80
expect_eperm "connect to a /32 denied inside an allowed /24" $V connect 10.1.0.66 80
ev "event: longest prefix" '"rule":"dummy-host-denied"' '"network.peer.address":"10.1.0.66"' '"network.peer.port":80'
expect_eperm "::ffff:-mapped connect to a denied IPv4 host" $V connect ::ffff:10.1.0.66 443
ev "event: mapped address reported as IPv4" '"rule":"dummy-host-denied"' '"network.type":"ipv4"' \
	'"network.peer.address":"10.1.0.66"' '"network.peer.port":443'
expect_eperm "::ffff:-mapped connect to a default-denied IPv4 host" $V connect ::ffff:10.2.0.1 80
expect_eperm "io_uring connect to a denied host" $V uring-connect 10.1.0.66 8443
ev "event: io_uring connect" '"rule":"dummy-host-denied"' '"network.peer.port":8443' '"op":"connect"'
expect_rc "io_uring connect to an allowed host" 0 $V uring-connect 127.0.0.1 8443
expect_eperm "unconnected UDP sendto to a default-denied host" $V sendto 10.2.0.9 53
ev "event: sendmsg" '"op":"sendmsg"' '"reason":"default"' '"network.transport":"udp"' \
	'"network.peer.address":"10.2.0.9"' '"network.peer.port":53'
expect_eperm "unconnected UDP sendto to a ::ffff:-mapped denied host" $V sendto ::ffff:10.1.0.66 53
ev "event: mapped sendmsg" '"op":"sendmsg"' '"rule":"dummy-host-denied"' '"network.peer.port":53'
expect_rc "UDP sendto allowed by a udp/53 rule" 0 $V sendto 10.9.0.53 53
expect_eperm "UDP sendto to the udp/53 host on another port" $V sendto 10.9.0.53 54
expect_eperm "TCP connect to the udp/53 host" $V connect 10.9.0.53 53
expect_rc "bind to an allowed address" 0 $V bind 127.0.0.1 0
expect_eperm "bind to a default-denied address" $V bind 0.0.0.0 8000
ev "event: bind" '"op":"bind"' '"network.peer.address":"0.0.0.0"' '"network.peer.port":8000'
expect_rc "listen on an allowed port" 0 $V listen 127.0.0.1 8001
expect_eperm "listen on a port a listen rule denies" $V listen 127.0.0.1 9001
ev "event: listen" '"op":"listen"' '"rule":"no-listen-lo-9k"' '"network.peer.port":9001'
expect_rc "IPv6 loopback connect" 0 $V connect ::1 8080
expect_rc "IPv6 connect inside an allowed /64" 0 $V connect fd00::5 80
expect_eperm "IPv6 connect to a denied /128 inside an allowed /64" $V connect fd00::66 80
ev "event: IPv6" '"network.type":"ipv6"' '"network.peer.address":"fd00::66"' '"rule":"v6-host-denied"'
expect_eperm "IPv6 connect to an address no rule covers" $V connect 2001:db8::1 80
expect_rc "audit rule: connect allowed" 0 $V connect 10.1.0.77 80
ev "event: audit rule" '"verdict":"audit"' '"rule":"dummy-host-audited"' '"errno":0'
expect_rc "outside the scope nothing is checked" 0 outside $V connect 10.2.0.77 80
expect_no_event "no event for the out-of-scope connect" '"network.peer.address":"10.2.0.77"' 
finish
