# vm suite: families that carry IP through the kernel's own sockets (SMC, RDS over TCP, RxRPC) refused under a default-allow network section that denies a destination.
# Their traffic leaves through sockets the kernel opens and connects itself (kernel_connect asks
# no LSM hook; their sends run in kernel threads or carry no name), so a default-allow
# section's deny rules would not hold for them; they are refused as SCTP and MPTCP are (bpf/net.bpf.h net_sock_kind). The platform
# loads the modules (the scope loads none; fcrypt and pcbc: rxrpc's rxkad asks the crypto API
# for them at load, with no modprobe in the guest) and still uses them.
# vigil-vm-args: --copy build/guest-tests:/t --copy @kernel/modules/kernel/net/rds/rds.ko:/lib/modules/rds.ko --copy @kernel/modules/kernel/net/rds/rds_tcp.ko:/lib/modules/rds_tcp.ko --copy @kernel/modules/kernel/crypto/fcrypt.ko:/lib/modules/fcrypt.ko --copy @kernel/modules/kernel/crypto/pcbc.ko:/lib/modules/pcbc.ko --copy @kernel/modules/kernel/net/rxrpc/rxrpc.ko:/lib/modules/rxrpc.ko --copy @kernel/modules/kernel/drivers/infiniband/core/ib_core.ko:/lib/modules/ib_core.ko --copy @kernel/modules/kernel/net/smc/smc.ko:/lib/modules/smc.ko
. /tests/vm/lib.sh
V=/t/vtest
P=/t/netprobe
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"network"' '"verdict":"deny"' '"reason":"socket_kind"' "$@"
}

outside ip link set lo up
# The rules: loopback port 9 denied, everything else allowed by default.
expect_eperm "TCP connect to the denied loopback port 9" $V connect 127.0.0.1 9
expect_rc "TCP connect to another loopback port (default allow)" 0 $V connect 127.0.0.1 8080
outside sh -c 'for m in $(cat /lib/modules/load-order); do
	case $m in crc32c_generic | libcrc32c | *udp_tunnel) insmod /lib/modules/$m.ko ;; esac; done
	for m in rds rds_tcp fcrypt pcbc rxrpc ib_core smc; do insmod /lib/modules/$m.ko || { echo "insmod $m failed"; dmesg | tail -n 3; }; done' \
	> /tmp/insmod.out 2>&1
sed "s/^/#   /" /tmp/insmod.out
expect_rc "the platform loads the RDS, RxRPC and SMC modules" 1 grep -q failed /tmp/insmod.out

expect_rc "an AF_RDS socket is made (nothing decided at socket())" 0 $P socket rds seqpacket 0
expect_eperm "RDS: bind (to send over TCP to any peer's port 16385)" $P use rds seqpacket 0 bind
ev "event: RDS bind" '"op":"bind"' '"socket.domain":21' '"socket.type":5'
expect_eperm "RDS: sendto the denied loopback port 9" $P use rds seqpacket 0 sendto
ev "event: RDS sendto" '"op":"sendmsg"' '"socket.domain":21'
expect_rc "the platform binds an RDS socket (the kernel would allow it)" 0 outside $P use rds seqpacket 0 bind

expect_eperm "RxRPC: sendto a service over UDP at the denied loopback port 9" $P use rxrpc dgram 2 sendto
ev "event: RxRPC sendto" '"op":"sendmsg"' '"socket.domain":33' '"socket.type":2'
expect_eperm "RxRPC: bind" $P use rxrpc dgram 2 bind

expect_eperm "SMC: connect to the denied loopback port 9" $P use smc stream 0 connect
ev "event: SMC connect" '"op":"connect"' '"socket.domain":43' '"socket.type":1'
expect_eperm "SMC: listen" $P use smc stream 0 listen
expect_rc "the platform's SMC connect goes through (refused by the closed port, fallback to TCP)" 0 outside $P use smc stream 0 connect
# The other ways to an SMC socket where the kernel has them: the "smc" TCP ULP on a TCP socket,
# and (6.11 on) IPPROTO_SMC.
case $(uname -r) in
6.1.*)
	expect_rc "the smc TCP ULP: not in 6.1" 1 $P ulp-smc-connect
	expect_rc "IPPROTO_SMC: no such protocol before 6.11" 1 $P socket inet stream 256
	;;
*)
	expect_eperm "SMC through the TCP ULP: connect to the denied loopback port 9" $P ulp-smc-connect
	ev "event: SMC through the TCP ULP" '"op":"connect"' '"socket.domain":43'
	expect_eperm "SMC by IPPROTO_SMC on AF_INET: connect" $P use inet stream 256 connect
	ev "event: SMC by IPPROTO_SMC" '"op":"connect"' '"socket.domain":2' '"socket.protocol":256'
	;;
esac
finish
