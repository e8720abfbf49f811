/* vigild's local control socket protocol, shared by the agent and `vigil policy push`. */
#ifndef VIGIL_AGENT_CONTROL_H
#define VIGIL_AGENT_CONTROL_H

/*
 * A client connects (root and the platform only: never a process in the policy's scope),
 * sends one command line and its body, shuts down its write side, and reads one reply line:
 * "ok ..." or "error: ...". The whole request must arrive within VIGIL_CONTROL_DEADLINE_MS of
 * the connect (1 s more per MiB received, at most 60 s), or vigild drops the connection.
 * Commands:
 *   "push\n" BUNDLE-BYTES   verify, measure and enforce the bundle
 *   "status\n"              reply "ok " and one JSON object: ABI, generation, policy, rules
 *                           per section, counters, pid and start time (agent/service.c)
 */
#define VIGIL_CONTROL_SOCKET      "/run/vigil/control.sock"
#define VIGIL_CONTROL_PUSH        "push\n"
#define VIGIL_CONTROL_STATUS      "status\n"
#define VIGIL_CONTROL_REPLY_MAX   1024
#define VIGIL_CONTROL_DEADLINE_MS 5000

#endif /* VIGIL_AGENT_CONTROL_H */
