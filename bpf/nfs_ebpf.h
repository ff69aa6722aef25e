/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by the BPF program (bpf/nfs_ebpf.bpf.c) and the collectd
 * plugin (src/). Only fixed-width __u* types: this header is compiled for
 * -target bpf and for the host, and both must agree on every byte.
 */
#ifndef NFS_EBPF_H
#define NFS_EBPF_H

/* Upper bound of configurable latency buckets. The +Inf bucket is not
 * stored: it equals op_stats.count. */
#define NFS_EBPF_MAX_BUCKETS 32

/* Capacity (keys) of the op_stats, op_errors, op_starts and start_refused
 * hash maps when MaxEntries is not configured. The BPF object declares its
 * maps with it; user space resizes them before load. */
#define NFS_EBPF_DEFAULT_MAX_ENTRIES 16384

/*
 * The device in op_key / err_key is super_block->s_dev as the kernel keeps
 * it, not the user-space dev_t: major << 20 | minor (MINORBITS in
 * include/linux/kdev_t.h), so a major has 12 bits and a minor 20. User
 * space splits it with these to match /proc/<pid>/mountinfo's major:minor.
 */
#define NFS_EBPF_DEV_MINOR_BITS 20
#define NFS_EBPF_DEV_MINOR_MASK ((1U << NFS_EBPF_DEV_MINOR_BITS) - 1)
#define NFS_EBPF_DEV_MAJOR_MAX (0xffffffffU >> NFS_EBPF_DEV_MINOR_BITS)

/* NFS client operations, in the order of the output contract's op list.
 * Their names are in src/utils/op_names.c, whose static assertion fails the
 * build when a value is added without one. */
enum nfs_ebpf_op {
  NFS_OP_READ,
  NFS_OP_WRITE,
  NFS_OP_OPEN,
  NFS_OP_CLOSE,
  NFS_OP_FSYNC,
  NFS_OP_GETATTR,
  NFS_OP_SETATTR,
  NFS_OP_LOOKUP,
  NFS_OP_READDIR,
  NFS_OP_CREATE,
  NFS_OP_UNLINK,
  NFS_OP_RENAME,
  NFS_OP_MKDIR,
  NFS_OP_RMDIR,
  NFS_OP_MAX,
};

/* Why the kernel side could not record an event. Every one of these is a
 * counter in the `lost_events` array map and reaches the user as
 * nfs_ebpf_lost_events_total{reason}; the names are in op_names.c too. */
enum nfs_ebpf_lost_reason {
  NFS_LOST_START_MAP_FULL,  /* entry timestamp could not be stored */
  NFS_LOST_STATS_MAP_FULL,  /* op_stats map at max_entries */
  NFS_LOST_ERRORS_MAP_FULL, /* op_errors map at max_entries */
  /* return seen without its entry (attached mid-call, or the entry
   * program skipped); never for a call counted as START_MAP_FULL */
  NFS_LOST_MISSED_ENTRY,
  /* a call returned unseen (kretprobe out of instances, program skipped
   * or detached mid-call); counted when its thread enters the same hook
   * again or exits */
  NFS_LOST_MISSED_RETURN,
  /* wire level (bpf/nfs_wire.bpf.c): rpc_stats map at max_entries */
  NFS_LOST_RPC_STATS_MAP_FULL,
  /* an RPC of no mount the BPF side knows yet: neither its I/O header nor
   * its rpc client led to a superblock (the client's mount was not
   * walked into since the plugin started) */
  NFS_LOST_RPC_MOUNT_UNKNOWN,
  /* RPCs the kernel did not run the wire level's counting program for
   * (recursion protection: a preempted run of it was still active on that
   * CPU). Not counted by the BPF side, which never ran: user space adds the
   * program's recursion_misses (src/probe/wire.c). */
  NFS_LOST_RPC_PROGRAM_SKIPPED,
  NFS_LOST_MAX,
};

/*
 * Whose cgroup id names the caller (the cgroup_controller setting). V2: the
 * task's cgroup v2 id (bpf_get_current_cgroup_id()). The others: the id of
 * the task's cgroup in that cgroup v1 controller's hierarchy, for hosts
 * where pods live only in v1 hierarchies. The BPF side turns the controller
 * into its css_set.subsys[] index with the kernel's own enum
 * cgroup_subsys_id (CO-RE), never from a position in /proc/cgroups.
 */
enum nfs_ebpf_cgroup_controller {
  NFS_CGROUP_V2,
  NFS_CGROUP_V1_MEMORY,
  NFS_CGROUP_V1_PIDS,
  NFS_CGROUP_V1_CPUSET,
  NFS_CGROUP_CONTROLLER_MAX,
};

/* How a traced function returns its result, as the kernel's BTF says
 * (the mkdir_ret_kind setting; see core_fixes.bpf.h). */
enum nfs_ebpf_ret_kind {
  NFS_RET_UNKNOWN, /* no BTF for the function: recognise either */
  NFS_RET_INT,
  NFS_RET_PTR,
};

/* Key of the op_stats map: who (cgroup), where (device), what (op). */
struct op_key {
  __u64 cgroup_id; /* cgroup v2 kernfs id, or a v1 controller's id */
  __u32 dev;       /* super_block->s_dev (NFS_EBPF_DEV_MINOR_BITS) */
  __u32 op;        /* enum nfs_ebpf_op */
};

/* Value of the op_stats map. Cumulative since the program was loaded;
 * updated with atomic adds, read (never reset) by user space. */
struct op_stats {
  __u64 count;      /* operations completed, successful or not */
  __u64 bytes;      /* sum of positive return values (read/write) */
  __u64 latency_ns; /* sum of entry-to-return time */
  /* buckets[i]: operations with latency <= bucket_bounds_ns[i] and
   * > bucket_bounds_ns[i-1] (not cumulative; user space sums) */
  __u64 buckets[NFS_EBPF_MAX_BUCKETS];
};

/* Key of the op_errors map; the value is a __u64 count. */
struct err_key {
  __u64 cgroup_id;
  __u32 dev;
  __u16 op;
  __u16 err; /* positive errno */
};

/*
 * op_starts: one record per call in flight, written at entry and taken at
 * return. Keyed by hook rather than op so that nested hooks sharing an op
 * cannot collide: nfs_atomic_open_v23 calls nfs_file_open through
 * finish_open() on the same thread. A record whose return was never seen
 * is counted as NFS_LOST_MISSED_RETURN and removed when its thread enters
 * the same hook again or exits (bpf: reap_exited_thread), never because
 * of its age: a call may hang for as long as a hard mount's server is away.
 */
#define NFS_HOOK_ATOMIC_OPEN NFS_OP_MAX
#define NFS_HOOK_MAX (NFS_HOOK_ATOMIC_OPEN + 1)

struct start_key {
  __u32 tid;
  __u32 hook; /* enum nfs_ebpf_op, or NFS_HOOK_ATOMIC_OPEN */
};

struct start_val {
  __u64 ts; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 cgroup_id;
  __u32 dev;
  __u32 inner_open; /* atomic open: ->open ran (and counted) inside */
  __u64 aux;        /* atomic open: struct file * */
};

/* One thread's calls in flight, a slot per hook (task_starts). */
struct task_starts {
  struct start_val hook[NFS_HOOK_MAX];
};

/*
 * Wire level (bpf/nfs_wire.bpf.c): per finished NFS RPC attempt, what
 * rpc_count_iostats_metrics adds to /proc/self/mountstats, charged to the
 * cgroup that caused it.
 */

/* The NFS program's RPC number: its rpc clients' cl_prog. */
#define NFS_EBPF_NFS_PROGRAM 100003

/* Room for a procedure name as mountstats prints it (rpc_procinfo.p_name;
 * the longest, NFSv4's "BIND_CONN_TO_SESSION", has 20 characters). */
#define NFS_EBPF_PROC_LEN 24

/* Who an RPC is charged to when it is not a cgroup (rpc_key.cgroup_id).
 * Real cgroup ids are kernfs ids, never 0 or all ones. */
#define NFS_EBPF_CGROUP_UNATTRIBUTED 0ULL
#define NFS_EBPF_CGROUP_NFS_CLIENT (~0ULL)

/* Which mountstats an RPC's client feeds (rpc_key.scope). */
enum nfs_ebpf_rpc_scope {
  NFS_RPC_SCOPE_MOUNT,  /* the mount's own rpc client (nfs_server.client) */
  NFS_RPC_SCOPE_SERVER, /* the server's shared client (nfs_client's
                           cl_rpcclient): lease, session and state RPCs,
                           shown in the mountstats of every mount of it */
  NFS_RPC_SCOPE_MAX,
};

/* Key of the rpc_stats map. */
struct rpc_key {
  __u64 cgroup_id; /* or NFS_EBPF_CGROUP_UNATTRIBUTED / _NFS_CLIENT */
  __u32 dev;       /* super_block->s_dev of the mount (of one mount of the
                      server for NFS_RPC_SCOPE_SERVER) */
  __u32 scope;     /* enum nfs_ebpf_rpc_scope */
  char proc[NFS_EBPF_PROC_LEN]; /* NUL-terminated */
};

/* Value of the rpc_stats map: mountstats' per-op columns, cumulative, and
 * the RTT histogram of the RPCs that got a reply. `requests` first, like
 * op_stats.count: user space treats both as vectors of counters whose first
 * one counts events. */
struct rpc_stats {
  __u64 requests;       /* mountstats "ops": attempts completed */
  __u64 transmissions;  /* "ntrans" */
  __u64 major_timeouts; /* "timeouts" */
  __u64 errors;         /* completed with tk_status < 0 */
  __u64 sent_bytes;     /* "bytes sent" (rq_xmit_bytes_sent) */
  __u64 received_bytes; /* "bytes received" (rq_reply_bytes_recvd) */
  __u64 queue_ns;       /* "queue": last transmission - start */
  __u64 rtt_ns;         /* "rtt" */
  __u64 execute_ns;     /* "execute": completion - start */
  __u64 replies;        /* RPCs with an RTT (a reply matched) */
  /* as op_stats.buckets, over the RTT of the RPCs counted in replies */
  __u64 rtt_buckets[NFS_EBPF_MAX_BUCKETS];
};

/* Value of client_mounts (key: struct rpc_clnt *): the mount an rpc
 * client belongs to, learnt where the NFS client walks an inode. */
struct client_mount {
  __u64 server; /* struct nfs_server *, to check the entry is current */
  __u32 dev;
  __u32 scope; /* enum nfs_ebpf_rpc_scope */
};

/* Value of context_writers (key: struct nfs_open_context *): the cgroup
 * that last wrote through that open file, and the inode it wrote (checked
 * against the WRITE's, so a context freed and reallocated for another file
 * is never taken for the old one). */
struct context_writer {
  __u64 cgroup_id;
  __u64 inode;
};

#endif /* NFS_EBPF_H */
