/* SPDX-License-Identifier: GPL-2.0-only */
/* What wire_probe.bpf.c and wire_probe.c share. */
#ifndef WIRE_PROBE_H
#define WIRE_PROBE_H

#define WIRE_PROBE_NFS_PROGRAM 100003
#define WIRE_PROBE_PROC_LEN 16
#define WIRE_PROBE_MAX_KEYS 4096
#define WIRE_PROBE_MAX_TRACKED 16384

/* Where an RPC's cgroup came from. */
enum wire_probe_source {
  WIRE_SOURCE_CREATOR = 0,   /* a user task created it: its cgroup */
  WIRE_SOURCE_WRITER = 1,    /* a kernel thread created it: the cgroup that
                                last wrote through its open context */
  WIRE_SOURCE_NO_WRITER = 2, /* a kernel thread, no writer known */
  WIRE_SOURCE_NO_BEGIN = 3,  /* counted without a begin seen */
};

struct wire_key {
  __u64 cgroup_id;
  __u32 version;            /* rpc_clnt.cl_vers: 3 or 4 */
  __u32 source;             /* enum wire_probe_source */
  __u32 counted_in_kthread; /* context of rpc_count_iostats_metrics */
  __u32 pad;
  char proc[WIRE_PROBE_PROC_LEN];
};

/* What rpc_count_iostats_metrics adds to mountstats' per-op line. */
struct wire_val {
  __u64 ops;
  __u64 ntrans;
  __u64 timeouts;
  __u64 bytes_sent;
  __u64 bytes_recv;
  __u64 errors;
};

#endif /* WIRE_PROBE_H */
