/* The vigil BPF object: one skeleton holding every LSM program and map. */
#include "common.bpf.h"
#include "exec.bpf.h"
#include "net.bpf.h"
#include "file.bpf.h"
#include "key.bpf.h"
#include "bound.bpf.h"

char LICENSE[] SEC("license") = "GPL";
