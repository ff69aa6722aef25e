/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A lab probe for the wire level: per finished NFS RPC attempt, what
 * rpc_count_iostats_metrics adds to /proc/self/mountstats, charged to the
 * cgroup that caused the RPC. A user task that creates an RPC
 * (rpc_task_begin in its context) is charged itself. An RPC created by a
 * kernel thread (the flusher's buffered writeback, COMMITs from rpciod) is
 * charged to the cgroup that last wrote through the open context the
 * request carries (WRITE: hdr->args.context, COMMIT: data->context),
 * learned at nfs_file_write. Needs module BTF (fentry and tp_btf on
 * sunrpc / nfs): 6.1 and later.
 */
#include "wire_probe_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "wire_probe.h"

#define PF_WQ_WORKER 0x00000020
#define PF_KTHREAD 0x00200000

struct owner {
  __u64 cgroup_id;
  __u32 source;
  __u32 pad;
};

/* open context -> cgroup id of its last writer */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, WIRE_PROBE_MAX_TRACKED);
  __type(key, __u64);
  __type(value, __u64);
} writer_of_context SEC(".maps");

/* rpc_task -> who caused it; a task restarted after its count keeps it */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, WIRE_PROBE_MAX_TRACKED);
  __type(key, __u64);
  __type(value, struct owner);
} owner_of_task SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, WIRE_PROBE_MAX_KEYS);
  __type(key, struct wire_key);
  __type(value, struct wire_val);
} charged SEC(".maps");

static __always_inline bool in_kernel_thread(void) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  return BPF_CORE_READ(task, flags) & (PF_KTHREAD | PF_WQ_WORKER);
}

static __always_inline bool is_nfs(const struct rpc_task *task) {
  return BPF_CORE_READ(task, tk_client, cl_prog) == WIRE_PROBE_NFS_PROGRAM;
}

/* The procedure's name as mountstats prints it (on NFSv4 the operation). */
static __always_inline void proc_name(const struct rpc_task *task,
                                      char name[WIRE_PROBE_PROC_LEN]) {
  const char *p = BPF_CORE_READ(task, tk_msg.rpc_proc, p_name);
  if (p)
    bpf_probe_read_kernel_str(name, WIRE_PROBE_PROC_LEN, p);
}

static __always_inline bool same(const char *a, const char *b, int len) {
  for (int i = 0; i < len; i++)
    if (a[i] != b[i])
      return false;
  return true;
}

/* The open context a WRITE or COMMIT carries; NULL for other procedures. */
static __always_inline void *context_of(const struct rpc_task *task) {
  char name[WIRE_PROBE_PROC_LEN] = {};
  void *calldata = BPF_CORE_READ(task, tk_calldata);
  proc_name(task, name);
  if (same(name, "WRITE", sizeof("WRITE")))
    return BPF_CORE_READ((struct nfs_pgio_header *)calldata, args.context);
  if (same(name, "COMMIT", sizeof("COMMIT")))
    return BPF_CORE_READ((struct nfs_commit_data *)calldata, context);
  return NULL;
}

SEC("fentry/nfs_file_write")
int BPF_PROG(fentry_nfs_file_write, struct kiocb *iocb) {
  __u64 context = (__u64)BPF_CORE_READ(iocb, ki_filp, private_data);
  __u64 cgroup_id = bpf_get_current_cgroup_id();
  bpf_map_update_elem(&writer_of_context, &context, &cgroup_id, BPF_ANY);
  return 0;
}

SEC("tp_btf/rpc_task_begin")
int BPF_PROG(tp_rpc_task_begin, const struct rpc_task *task) {
  /* 6.12's verifier treats this argument as possibly NULL */
  if (!task || !is_nfs(task))
    return 0;
  struct owner o = {.source = WIRE_SOURCE_CREATOR};
  if (!in_kernel_thread()) {
    o.cgroup_id = bpf_get_current_cgroup_id();
  } else {
    __u64 context = (__u64)context_of(task);
    __u64 *writer =
        context ? bpf_map_lookup_elem(&writer_of_context, &context) : NULL;
    o.source = writer ? WIRE_SOURCE_WRITER : WIRE_SOURCE_NO_WRITER;
    o.cgroup_id = writer ? *writer : 0;
  }
  __u64 key = (__u64)task;
  bpf_map_update_elem(&owner_of_task, &key, &o, BPF_ANY);
  return 0;
}

SEC("fentry/rpc_count_iostats_metrics")
int BPF_PROG(fentry_rpc_count_iostats_metrics, const struct rpc_task *task,
             struct rpc_iostats *stats) {
  struct rpc_rqst *req = BPF_CORE_READ(task, tk_rqstp);
  /* the kernel counts nothing either without both */
  if (!stats || !req || !is_nfs(task))
    return 0;
  struct wire_key k = {
      .version = BPF_CORE_READ(task, tk_client, cl_vers),
      .counted_in_kthread = in_kernel_thread(),
      .source = WIRE_SOURCE_NO_BEGIN,
  };
  __u64 key = (__u64)task;
  struct owner *o = bpf_map_lookup_elem(&owner_of_task, &key);
  if (o) {
    k.cgroup_id = o->cgroup_id;
    k.source = o->source;
  }
  proc_name(task, k.proc);

  struct wire_val *v = bpf_map_lookup_elem(&charged, &k);
  if (!v) {
    struct wire_val zero = {};
    bpf_map_update_elem(&charged, &k, &zero, BPF_NOEXIST);
    v = bpf_map_lookup_elem(&charged, &k);
    if (!v)
      return 0;
  }
  int ntrans = BPF_CORE_READ(req, rq_ntrans);
  __sync_fetch_and_add(&v->ops, 1);
  __sync_fetch_and_add(&v->ntrans, ntrans > 1 ? ntrans : 1);
  __sync_fetch_and_add(&v->timeouts, BPF_CORE_READ(task, tk_timeouts));
  __sync_fetch_and_add(&v->bytes_sent, BPF_CORE_READ(req, rq_xmit_bytes_sent));
  __sync_fetch_and_add(&v->bytes_recv,
                       BPF_CORE_READ(req, rq_reply_bytes_recvd));
  if (BPF_CORE_READ(task, tk_status) < 0)
    __sync_fetch_and_add(&v->errors, 1);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
