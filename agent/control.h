/* vigild's local control socket protocol, shared by the agent and `vigil policy push`. */
#ifndef VIGIL_AGENT_CONTROL_H
#define VIGIL_AGENT_CONTROL_H

/*
 * A client connects (root only), sends one command line and its body, shuts down its write
 * side, and reads one reply line: "ok ..." or "error: ...". Commands:
 *   "push\n" BUNDLE-BYTES   verify, measure and enforce the bundle
 */
#define VIGIL_CONTROL_SOCKET    "/run/vigil/control.sock"
#define VIGIL_CONTROL_PUSH      "push\n"
#define VIGIL_CONTROL_REPLY_MAX 1024

#endif /* VIGIL_AGENT_CONTROL_H */
