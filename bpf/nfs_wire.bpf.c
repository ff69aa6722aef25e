// SPDX-License-Identifier: GPL-2.0-only
/*
 * nfs_wire: the wire level. Per finished NFS RPC attempt, exactly what
 * rpc_count_iostats_metrics() adds to /proc/self/mountstats, aggregated in
 * rpc_stats by (cgroup that caused the RPC, mount, procedure). Counted at
 * the rpc_stats_latency tracepoint, which that function fires once it has
 * counted (with the queue, RTT and execute times it added), not at an fentry
 * on it: an fentry program runs preemptible, and the kernel skips it on a
 * CPU where a preempted run of it is still in progress (recursion
 * protection: prog->active), which Debian's 7.2 did for 5 of 1014 RPCs in
 * the lab; a tracepoint runs with preemption disabled.
 *
 * Who caused an RPC (../shared/notes/rpc-attribution.md):
 *  - its creator, at rpc_task_begin, when that is a user task: reads and
 *    readahead, O_DIRECT, fsync and close flushes, synchronous metadata;
 *  - for WRITE and COMMIT, the cgroup that last wrote through the open
 *    context the request carries (the flusher and rpciod create them in
 *    kernel threads that belong to no pod), learnt at nfs_file_write and
 *    nfs_vm_page_mkwrite;
 *  - NFS_EBPF_CGROUP_NFS_CLIENT for a kernel thread's RPC on the server's
 *    shared client (lease renewal, state recovery);
 *  - NFS_EBPF_CGROUP_UNATTRIBUTED otherwise. Never dropped.
 * Which mount: READ / WRITE / COMMIT through their I/O header's inode,
 * everything else through the rpc client, mapped to its superblock where
 * the NFS client checks permissions on an inode (every path walk) or
 * revalidates one; the server's shared client also from the nfs_client
 * that NFSv4 lease renewals carry (learn_shared_client). An RPC of a client
 * not mapped yet (one a mount sends before its superblock exists, or before
 * any of its inodes was seen since the plugin started) is counted as
 * NFS_LOST_RPC_MOUNT_UNKNOWN.
 *
 * Needs the sunrpc and nfs modules' BTF for its CO-RE reads (5.11+): user
 * space (src/probe/wire.c) leaves the wire level off without it, and
 * attaches either the tp_btf / fentry programs or, in AttachMode "kprobe"
 * (and where those cannot attach), the raw_tp / kprobe ones.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "nfs_ebpf.h"
#include "sunrpc_min.h"
#include "current_cgroup.bpf.h"
#include "aggregate.bpf.h"

/* include/linux/sched.h */
#define PF_WQ_WORKER 0x00000020
#define PF_KTHREAD 0x00200000

#define EEXIST_ERR 17

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, struct rpc_key);
  __type(value, struct rpc_stats);
} rpc_stats SEC(".maps");

/* What rpc_task_begin saw of an RPC's creator, until the RPC is counted
 * (again after each restart). LRU: nothing marks a task's end for all
 * kernels alike, and a task's address is reused only after it is freed;
 * the oldest entries are those of tasks long gone. An entry evicted while
 * its task was still running leaves the RPC unattributed, never wrong. */
struct creator {
  __u64 cgroup_id;
  __u32 kernel_thread;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, __u64); /* struct rpc_task * */
  __type(value, struct creator);
} rpc_creators SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, __u64); /* struct nfs_open_context * */
  __type(value, struct context_writer);
} context_writers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, __u64); /* struct rpc_clnt * */
  __type(value, struct client_mount);
} client_mounts SEC(".maps");

static __always_inline bool proc_is(const char *proc, const char *name,
                                    int len) {
  for (int i = 0; i < len; i++)
    if (proc[i] != name[i])
      return false;
  return true;
}
#define PROC_IS(proc, literal) proc_is(proc, literal, sizeof(literal))

static __always_inline bool in_kernel_thread(void) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();

  return BPF_CORE_READ(task, flags) & (PF_KTHREAD | PF_WQ_WORKER);
}

/* Remember which mount an rpc client serves: its own clone (scope MOUNT)
 * and the server's shared client (scope SERVER, any mount of the server).
 * A lookup when nothing changed; an update only for a new or reused
 * client. */
static __always_inline void learn_client(__u64 client, __u64 server, __u32 dev,
                                         __u32 scope) {
  struct client_mount *known = bpf_map_lookup_elem(&client_mounts, &client);
  struct client_mount cm = {.server = server, .dev = dev, .scope = scope};

  if (!client || (known && (scope == NFS_RPC_SCOPE_SERVER ||
                            (known->server == server && known->dev == dev))))
    return;
  bpf_map_update_elem(&client_mounts, &client, &cm, BPF_ANY);
}

static __always_inline void learn_mount(struct inode *inode) {
  struct super_block *sb = BPF_CORE_READ(inode, i_sb);
  struct nfs_server *server = BPF_CORE_READ(sb, s_fs_info);
  __u32 dev = BPF_CORE_READ(sb, s_dev);

  if (!server)
    return;
  learn_client((__u64)BPF_CORE_READ(server, client), (__u64)server, dev,
               NFS_RPC_SCOPE_MOUNT);
  learn_client((__u64)BPF_CORE_READ(server, nfs_client, cl_rpcclient),
               (__u64)server, dev, NFS_RPC_SCOPE_SERVER);
}

/* The mount of an RPC on a client learnt before, checked against the
 * nfs_server it was learnt from (a client of an unmounted server may have
 * been freed and its address reused). */
static __always_inline bool mount_of_client(struct rpc_clnt *client,
                                            struct rpc_key *key) {
  __u64 c = (__u64)client;
  struct client_mount *cm = bpf_map_lookup_elem(&client_mounts, &c);
  struct nfs_server *server;
  struct rpc_clnt *now;

  if (!cm)
    return false;
  server = (struct nfs_server *)cm->server;
  now = cm->scope == NFS_RPC_SCOPE_MOUNT
            ? BPF_CORE_READ(server, client)
            : BPF_CORE_READ(server, nfs_client, cl_rpcclient);
  if (now != client || BPF_CORE_READ(server, s_dev) != cm->dev) {
    bpf_map_delete_elem(&client_mounts, &c); /* relearnt at the next walk */
    return false;
  }
  key->dev = cm->dev;
  key->scope = cm->scope;
  return true;
}

/* An RPC the NFSv4 client sends on a server's shared client for the
 * server itself: lease renewal and session upkeep, which go on while no
 * inode of the server is touched (an idle mount, or one not walked since
 * the plugin started) and so would never find their client learnt. Their
 * call data starts with the nfs_client (fs/nfs/nfs4proc.c: struct
 * nfs4_sequence_data of SEQUENCE, nfs4_renewdata of RENEW,
 * nfs4_reclaim_complete_data of RECLAIM_COMPLETE), whose cl_superblocks
 * lists the server's mounts: learn the client from the first one. Taken
 * only when that nfs_client's shared client is the task's own. */
static __always_inline bool learn_shared_client(const struct rpc_task *task,
                                                struct rpc_clnt *client,
                                                const char *proc) {
  struct nfs_client *clp = NULL;
  struct list_head *head, *first;
  struct nfs_server *server;
  void *calldata;

  if (!PROC_IS(proc, "SEQUENCE") && !PROC_IS(proc, "RENEW") &&
      !PROC_IS(proc, "RECLAIM_COMPLETE"))
    return false;
  calldata = BPF_CORE_READ(task, tk_calldata);
  if (!calldata || bpf_probe_read_kernel(&clp, sizeof(clp), calldata) || !clp ||
      BPF_CORE_READ(clp, cl_rpcclient) != client)
    return false;
  head = (void *)clp + bpf_core_field_offset(struct nfs_client, cl_superblocks);
  first = BPF_CORE_READ(clp, cl_superblocks.next);
  if (!first || first == head)
    return false; /* the server has no mount left */
  server =
      (void *)first - bpf_core_field_offset(struct nfs_server, client_link);
  learn_client((__u64)client, (__u64)server, BPF_CORE_READ(server, s_dev),
               NFS_RPC_SCOPE_SERVER);
  return true;
}

static __always_inline void learn_writer(struct file *file) {
  __u64 context = (__u64)BPF_CORE_READ(file, private_data);
  struct context_writer w = {
      .cgroup_id = current_cgroup_id(),
      .inode = (__u64)BPF_CORE_READ(file, f_inode),
  };
  struct context_writer *known;

  if (!context)
    return;
  known = bpf_map_lookup_elem(&context_writers, &context);
  if (known && known->cgroup_id == w.cgroup_id && known->inode == w.inode)
    return;
  bpf_map_update_elem(&context_writers, &context, &w, BPF_ANY);
}

/* Mount of a READ, WRITE or COMMIT from its call data, and for WRITE and
 * COMMIT the open context whose writer is charged (0 for reads).
 * READ_PLUS (NFSv4.2) is a READ whose reply may describe holes: the client
 * uses it where the server offers it (Debian's 6.12 and later do), with the
 * same I/O header. */
static __always_inline bool io_of_task(const struct rpc_task *task,
                                       const char *proc, struct inode **inode,
                                       __u64 *context) {
  void *calldata = BPF_CORE_READ(task, tk_calldata);

  if (PROC_IS(proc, "READ") || PROC_IS(proc, "READ_PLUS") ||
      PROC_IS(proc, "WRITE")) {
    struct nfs_pgio_header *hdr = calldata;

    *inode = BPF_CORE_READ(hdr, inode);
    if (proc[0] == 'W') /* of READ, READ_PLUS and WRITE */
      *context = (__u64)BPF_CORE_READ(hdr, args.context);
    return true;
  }
  if (PROC_IS(proc, "COMMIT")) {
    struct nfs_commit_data *data = calldata;

    *inode = BPF_CORE_READ(data, inode);
    *context = (__u64)BPF_CORE_READ(data, context);
    return true;
  }
  return false;
}

/* Who to charge: see the top of this file. */
static __always_inline __u64 charged_cgroup(const struct rpc_task *task,
                                            struct inode *inode, __u64 context,
                                            __u32 scope) {
  __u64 key = (__u64)task;
  struct creator *c;

  if (context) { /* WRITE or COMMIT */
    struct context_writer *w = bpf_map_lookup_elem(&context_writers, &context);

    if (w && w->inode == (__u64)inode)
      return w->cgroup_id;
  }
  c = bpf_map_lookup_elem(&rpc_creators, &key);
  if (c && !c->kernel_thread)
    return c->cgroup_id;
  if (c && scope == NFS_RPC_SCOPE_SERVER)
    return NFS_EBPF_CGROUP_NFS_CLIENT;
  return NFS_EBPF_CGROUP_UNATTRIBUTED;
}

static __always_inline struct rpc_stats *rpc_slot(const struct rpc_key *key) {
  struct rpc_stats *s = bpf_map_lookup_elem(&rpc_stats, key);
  struct rpc_stats zero;
  long err;

  if (s)
    return s;
  __builtin_memset(&zero, 0, sizeof(zero));
  err = map_op_err(bpf_map_update_elem(&rpc_stats, key, &zero, BPF_NOEXIST));
  if (err && err != -EEXIST_ERR) {
    count_lost(NFS_LOST_RPC_STATS_MAP_FULL);
    return NULL;
  }
  return bpf_map_lookup_elem(&rpc_stats, key);
}

/* What rpc_count_iostats_metrics added for this attempt: the columns it
 * reads from the task and request (net/sunrpc/stats.c), and the three times
 * it computed and passed to the tracepoint. */
struct rpc_times {
  ktime_t queue, rtt, execute;
};

static __always_inline void count_rpc(const struct rpc_task *task,
                                      const struct rpc_rqst *req,
                                      const struct rpc_times *t,
                                      struct rpc_stats *s) {
  int ntrans = BPF_CORE_READ(req, rq_ntrans);
  __u64 received = BPF_CORE_READ(req, rq_reply_bytes_recvd);

  __sync_fetch_and_add(&s->requests, 1);
  __sync_fetch_and_add(&s->transmissions, ntrans > 1 ? ntrans : 1);
  __sync_fetch_and_add(&s->major_timeouts, BPF_CORE_READ(task, tk_timeouts));
  if (BPF_CORE_READ(task, tk_status) < 0)
    __sync_fetch_and_add(&s->errors, 1);
  __sync_fetch_and_add(&s->sent_bytes, BPF_CORE_READ(req, rq_xmit_bytes_sent));
  __sync_fetch_and_add(&s->received_bytes, received);
  __sync_fetch_and_add(&s->queue_ns, t->queue);
  __sync_fetch_and_add(&s->rtt_ns, t->rtt);
  __sync_fetch_and_add(&s->execute_ns, t->execute);
  /* replies is the RTT histogram's +Inf bucket */
  if (received) {
    __sync_fetch_and_add(&s->replies, 1);
    bucket_add(s->rtt_buckets, t->rtt);
  }
}

static __always_inline int on_rpc_counted(const struct rpc_task *task,
                                          ktime_t queue, ktime_t rtt,
                                          ktime_t execute) {
  struct rpc_times times = {.queue = queue, .rtt = rtt, .execute = execute};
  struct rpc_clnt *client;
  struct rpc_rqst *req;
  struct rpc_key key = {};
  struct inode *inode = NULL;
  __u64 context = 0;
  const char *name;
  struct rpc_stats *s;

  /* the verifier of 6.12 treats a tp_btf task argument as possibly NULL */
  if (!task)
    return 0;
  req = BPF_CORE_READ(task, tk_rqstp);
  client = BPF_CORE_READ(task, tk_client);

  /* The tracepoint fires only for an attempt the kernel counted: one with
   * a request and per-op metrics. */
  if (!req || BPF_CORE_READ(client, cl_prog) != NFS_EBPF_NFS_PROGRAM)
    return 0;
  name = BPF_CORE_READ(task, tk_msg.rpc_proc, p_name);
  if (name)
    bpf_probe_read_kernel_str(key.proc, sizeof(key.proc), name);
  if (io_of_task(task, key.proc, &inode, &context)) {
    key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
    key.scope = NFS_RPC_SCOPE_MOUNT;
    learn_mount(inode);
  } else if (!mount_of_client(client, &key) &&
             !(learn_shared_client(task, client, key.proc) &&
               mount_of_client(client, &key))) {
    count_lost(NFS_LOST_RPC_MOUNT_UNKNOWN);
    return 0;
  }
  key.cgroup_id = charged_cgroup(task, inode, context, key.scope);
  s = rpc_slot(&key);
  if (s)
    count_rpc(task, req, &times, s);
  return 0;
}

static __always_inline int on_rpc_begin(const struct rpc_task *task) {
  __u64 key = (__u64)task;
  struct creator c = {};

  if (!task || BPF_CORE_READ(task, tk_client, cl_prog) != NFS_EBPF_NFS_PROGRAM)
    return 0;
  c.kernel_thread = in_kernel_thread();
  if (!c.kernel_thread)
    c.cgroup_id = current_cgroup_id();
  bpf_map_update_elem(&rpc_creators, &key, &c, BPF_ANY);
  return 0;
}

/* Every hook has two thin wrappers over the same code: the BTF-typed one
 * (tp_btf, fentry) and, for AttachMode "kprobe", one that uses no
 * trampoline (raw_tp, kprobe); src/probe/wire.c loads one set. Both read
 * every field through CO-RE probe reads, so both see the same values. */

/* ---- sunrpc ---- */
SEC("tp_btf/rpc_task_begin")
int BPF_PROG(tp_btf_rpc_task_begin, const struct rpc_task *task) {
  return on_rpc_begin(task);
}

SEC("raw_tp/rpc_task_begin")
int BPF_PROG(raw_tp_rpc_task_begin, const struct rpc_task *task) {
  return on_rpc_begin(task);
}

/* Fired at the end of rpc_count_iostats_metrics, with what it added to
 * the queue, RTT and execute columns (ns). */
SEC("tp_btf/rpc_stats_latency")
int BPF_PROG(tp_btf_rpc_stats_latency, const struct rpc_task *task,
             ktime_t backlog, ktime_t rtt, ktime_t execute) {
  return on_rpc_counted(task, backlog, rtt, execute);
}

SEC("raw_tp/rpc_stats_latency")
int BPF_PROG(raw_tp_rpc_stats_latency, const struct rpc_task *task,
             ktime_t backlog, ktime_t rtt, ktime_t execute) {
  return on_rpc_counted(task, backlog, rtt, execute);
}

/* ---- nfs: who writes through which open context, which client serves
 * which mount ---- */
static __always_inline int on_file_write(struct kiocb *iocb) {
  struct file *file = BPF_CORE_READ(iocb, ki_filp);

  learn_writer(file);
  learn_mount(BPF_CORE_READ(file, f_inode));
  return 0;
}

SEC("fentry/nfs_file_write")
int BPF_PROG(fentry_nfs_file_write, struct kiocb *iocb) {
  return on_file_write(iocb);
}

SEC("kprobe/nfs_file_write")
int BPF_KPROBE(kprobe_nfs_file_write, struct kiocb *iocb) {
  return on_file_write(iocb);
}

SEC("fentry/nfs_vm_page_mkwrite")
int BPF_PROG(fentry_nfs_vm_page_mkwrite, struct vm_fault *vmf) {
  learn_writer(BPF_CORE_READ(vmf, vma, vm_file));
  return 0;
}

SEC("kprobe/nfs_vm_page_mkwrite")
int BPF_KPROBE(kprobe_nfs_vm_page_mkwrite, struct vm_fault *vmf) {
  learn_writer(BPF_CORE_READ(vmf, vma, vm_file));
  return 0;
}

/* nfs_permission has had an idmap / user namespace first argument since
 * 5.12 (core_fixes.bpf.h); every kernel with module BTF has it. Every path
 * walk through an NFS directory calls it. */
SEC("fentry/nfs_permission")
int BPF_PROG(fentry_nfs_permission, void *idmap, struct inode *inode) {
  learn_mount(inode);
  return 0;
}

SEC("kprobe/nfs_permission")
int BPF_KPROBE(kprobe_nfs_permission, void *idmap, struct inode *inode) {
  learn_mount(inode);
  return 0;
}

/* Before every GETATTR that revalidates an inode: stat() of a mount's root
 * and fstat() of an open file walk no directory. */
SEC("fentry/__nfs_revalidate_inode")
int BPF_PROG(fentry___nfs_revalidate_inode, void *server, struct inode *inode) {
  learn_mount(inode);
  return 0;
}

SEC("kprobe/__nfs_revalidate_inode")
int BPF_KPROBE(kprobe___nfs_revalidate_inode, void *server,
               struct inode *inode) {
  learn_mount(inode);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
