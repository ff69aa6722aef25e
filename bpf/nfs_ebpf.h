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

#endif /* NFS_EBPF_H */
