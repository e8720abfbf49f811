# vm suite: network enforcement: connect, bind, listen, sendto, io_uring, IPv6 and IPv4-mapped IPv6, sockaddr lengths, AF_UNSPEC, raw sockets.
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

# Addresses read as the kernel reads them (netprobe OP SOCK TYPE SAFAM ADDR PORT LEN).
P=/t/netprobe
expect_eperm "IPv6 connect, length 24, to a denied /128" $P connect 6 tcp inet6 fd00::66 8101 24
ev "event: length-24 connect" '"rule":"v6-host-denied"' '"network.peer.address":"fd00::66"' \
	'"network.peer.port":8101' '"op":"connect"' '"errno":1'
expect_eperm "IPv6 connect, length 24, ::ffff:-mapped to a denied IPv4 host" $P connect 6 tcp inet6 ::ffff:10.1.0.66 8102 24
ev "event: length-24 mapped connect" '"rule":"dummy-host-denied"' '"network.type":"ipv4"' \
	'"network.peer.address":"10.1.0.66"' '"network.peer.port":8102'
expect_eperm "IPv6 UDP connect, length 24, to an address no rule covers" $P connect 6 udp inet6 2001:db8::2 8103 24
ev "event: length-24 UDP connect" '"reason":"default"' '"network.peer.address":"2001:db8::2"' '"network.transport":"udp"'
expect_eperm "IPv6 bind, length 24, of [::]" $P bind 6 tcp inet6 :: 8104 24
ev "event: length-24 bind" '"op":"bind"' '"network.peer.address":"::"' '"network.peer.port":8104' '"network.type":"ipv6"'
expect_eperm "IPv6 UDP sendto, length 24, ::ffff:-mapped default-denied host" $P sendto 6 udp inet6 ::ffff:10.2.0.10 8105 24
ev "event: length-24 mapped sendto" '"op":"sendmsg"' '"network.peer.address":"10.2.0.10"' '"network.peer.port":8105'
expect_rc "IPv6 connect, length 24, to allowed ::1 still works" 0 $P connect 6 tcp inet6 ::1 8080 24
expect_eperm "UDP sendto with sin_family AF_UNSPEC to a default-denied host" $P sendto 4 udp unspec 10.2.0.11 8106 16
ev "event: AF_UNSPEC sendto" '"op":"sendmsg"' '"reason":"default"' '"network.peer.address":"10.2.0.11"' \
	'"network.peer.port":8106' '"network.type":"ipv4"'
expect_eperm "UDP bind with sin_family AF_UNSPEC of 0.0.0.0" $P bind 4 udp unspec 0.0.0.0 8107 16
ev "event: AF_UNSPEC bind" '"op":"bind"' '"network.peer.address":"0.0.0.0"' '"network.peer.port":8107'
expect_rc "AF_UNSPEC connect (a UDP disconnect) still works" 0 $P connect 4 udp unspec 0.0.0.0 0 16
expect_eperm "IPv6 UDP socket, AF_INET address: an IPv4 connect, denied" $P connect 6 udp inet 10.2.0.12 8108 16
ev "event: AF_INET on an IPv6 socket" '"network.peer.address":"10.2.0.12"' '"network.peer.port":8108' '"network.type":"ipv4"'
expect_eperm "IPv6 UDP socket, AF_INET address: an IPv4 sendto, denied" $P sendto 6 udp inet 10.2.0.13 8109 16
expect_eperm "connect to 0.0.0.0 reaches loopback: the loopback port rule denies" $P connect 4 tcp inet 0.0.0.0 7002 16
ev "event: 0.0.0.0 read as 127.0.0.1" '"rule":"lo-blocked-port"' '"network.peer.address":"127.0.0.1"' '"network.peer.port":7002'
expect_eperm "a sockaddr the kernel would refuse (IPv4, length 8) fails closed" $P connect 4 tcp inet 10.1.0.5 8110 8
ev "event: bad address" '"reason":"bad_address"' '"op":"connect"' '"errno":1'
expect_eperm "sendmsg to a default-denied host" $P sendmsg 4 udp inet 10.2.0.14 8111 16
ev "event: sendmsg" '"op":"sendmsg"' '"network.peer.address":"10.2.0.14"' '"network.peer.port":8111'
expect_eperm "sendmmsg to a ::ffff:-mapped denied host" $P sendmmsg 6 udp inet6 ::ffff:10.2.0.15 8112 24
ev "event: sendmmsg" '"op":"sendmsg"' '"network.peer.address":"10.2.0.15"' '"network.peer.port":8112'
expect_rc "sendmmsg: allowed first message sent, denied second refused" 0 $P sendmmsg2 4 udp inet 10.2.0.16 8113 16
cp /tmp/.out /tmp/sendmmsg.out
expect_rc "... exactly one message sent" 0 grep -qx "sent 1" /tmp/sendmmsg.out
ev "event: sendmmsg second message" '"network.peer.address":"10.2.0.16"' '"network.peer.port":8113'
expect_eperm "io_uring sendmsg to a default-denied host" $P uring-sendmsg 4 udp unspec 10.2.0.17 8114 16
ev "event: io_uring sendmsg" '"op":"sendmsg"' '"network.peer.address":"10.2.0.17"' '"network.peer.port":8114'
expect_eperm "io_uring connect, length 24, to a denied /128" $P uring-connect 6 tcp inet6 fd00::66 8115 24
ev "event: io_uring length-24 connect" '"rule":"v6-host-denied"' '"network.peer.port":8115'
expect_rc "allowed UDP send still works (udp/53 rule)" 0 $P sendto 4 udp inet 10.9.0.53 53 16
expect_rc "allowed IPv6 UDP sendmsg to ::1 still works" 0 $P sendmsg 6 udp inet6 ::1 5353 28
expect_rc "allowed bind still works" 0 $P bind 4 tcp inet 127.0.0.1 0 16

# Raw, packet and ping sockets ("raw" absent: deny), and transports and families the rules cannot
# express: decided when the socket is used (connect, bind, listen, sendmsg), not at socket(). Raw
# IP and packet sockets receive from socket() on: they need CAP_NET_RAW, which a network section
# that refuses raw sockets withdraws (refused even where the policy grants it).
outside sh -c 'echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range'
capev() { expect_event "$1" '"type":"capability"' '"verdict":"deny"' '"errno":1' '"capability":"CAP_NET_RAW"' '"comm":"netprobe"'; }
expect_eperm "AF_INET SOCK_RAW socket (CAP_NET_RAW withdrawn)" $P socket inet raw 255
capev "event: raw socket (CAP_NET_RAW)"
expect_eperm "IP_HDRINCL raw send (denied header destination, allowed msg_name)" $P hdrincl 127.0.0.1 10.2.0.18
expect_eperm "AF_INET6 SOCK_RAW socket" $P socket inet6 raw 58
expect_eperm "AF_PACKET socket sending frames" $P packet
expect_rc "the platform sends a packet frame (the kernel would allow it)" 0 outside $P packet
expect_rc "an ICMP datagram (ping) socket is made" 0 $P socket inet dgram icmp
expect_eperm "... but sends no echo request (sendto loopback, which the rules allow)" $P use inet dgram icmp sendto
ev "event: ping socket" '"op":"sendmsg"' '"reason":"raw_socket"' '"network.transport":"icmp"' \
	'"socket.domain":2' '"socket.type":2' '"socket.protocol":1' '"errno":1'
expect_eperm "... nor connects" $P use inet dgram icmp connect
ev "event: ping connect" '"op":"connect"' '"reason":"raw_socket"' '"network.transport":"icmp"'
expect_eperm "ICMPv6 ping socket: bind" $P use inet6 dgram icmpv6 bind
ev "event: ICMPv6 ping bind" '"op":"bind"' '"reason":"raw_socket"' '"socket.domain":10' '"socket.protocol":58'
expect_rc "the platform sends an echo request from a ping socket" 0 outside $P use inet dgram icmp sendto
expect_eperm "MPTCP: connect to loopback (allowed by the rules) refused, a transport they cannot express" \
	$P use inet stream mptcp connect
ev "event: MPTCP connect" '"op":"connect"' '"reason":"socket_kind"' '"network.transport":"other"' \
	'"socket.domain":2' '"socket.type":1' '"socket.protocol":262'
expect_eperm "MPTCP: listen" $P use inet6 stream mptcp listen
ev "event: MPTCP listen" '"op":"listen"' '"reason":"socket_kind"' '"socket.protocol":262'
expect_eperm "MPTCP: bind" $P use inet stream mptcp bind
expect_rc "the platform connects an MPTCP socket (the kernel would allow it)" 0 outside $P use inet stream mptcp connect
expect_rc "UDP-Lite stays a datagram socket the rules decide: sendto loopback" 0 $P use inet dgram udplite sendto
# SCTP and vsock are modules: the scope cannot have them loaded (module requests are refused),
# so the platform loads them, as a host that uses them would.
expect_rc "SCTP socket while the module is absent: refused (the scope loads no module)" 1 $P socket inet6 seqpacket sctp
outside sh -c 'for m in $(cat /lib/modules/load-order); do
	case $m in crc32c_generic | libcrc32c | *udp_tunnel | sctp | vsock | vmw_vsock_* | vsock_loopback)
		insmod /lib/modules/$m.ko || echo "insmod $m failed" ;;
	esac; done' > /tmp/insmod.out 2>&1
expect_rc "the platform loads the SCTP and vsock modules" 1 grep -q failed /tmp/insmod.out
expect_eperm "SCTP: connect" $P use inet6 seqpacket sctp connect
ev "event: SCTP connect" '"op":"connect"' '"reason":"socket_kind"' '"socket.type":5' '"socket.protocol":132'
expect_eperm "SCTP: connectx (setsockopt), which never passes socket_connect" $P use inet seqpacket sctp connectx
ev "event: SCTP connectx" '"op":"connect"' '"reason":"socket_kind"' '"socket.domain":2' '"socket.protocol":132'
expect_eperm "SCTP: sendto (an implicit association)" $P use inet stream sctp sendto
expect_eperm "SCTP: listen" $P use inet stream sctp listen
expect_rc "the platform connects an SCTP socket" 0 outside $P use inet seqpacket sctp connect
expect_rc "an AF_VSOCK socket is made" 0 $P socket vsock stream 0
expect_eperm "... its connect refused under a default-deny section" $P use vsock stream 0 connect
ev "event: other family" '"op":"connect"' '"reason":"socket_kind"' '"socket.domain":40'
expect_eperm "... and its bind" $P use vsock stream 0 bind
finish
