// SPDX-License-Identifier: GPL-2.0-only
/*
 * nfs_ebpf: per (cgroup, device, op) latency, bytes and errors of the Linux
 * NFS client's application-facing functions, aggregated in kernel maps that
 * the collectd plugin reads every interval.
 *
 * Every hook exists twice: fentry/fexit (needs the module's BTF at load time,
 * 5.11+) and kprobe/kretprobe (works everywhere, can miss returns under
 * concurrency). User space (src/probe/tracer.c) enables exactly one twin of
 * each hook whose target exists with bpf_program__set_autoload().
 *
 * Hot path per call: the start record is a slot in the thread's own
 * task-local storage (one lookup at entry, one at return; a hash update,
 * lookup and delete in op_starts on 5.10, which lacks it); at return one
 * lookup (rarely an insert) in op_stats, atomic adds, and for failures the
 * same in op_errors. No output buffers, no locks, no loop other than the
 * bounded bucket search.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "nfs_ebpf.h"
#include "core_fixes.bpf.h"
#include "current_cgroup.bpf.h"
#include "aggregate.bpf.h"

/* 1 when the inode operations take an idmap/userns first argument. */
#define IDMAP_SHIFT (inode_ops_have_idmap_arg() ? 1 : 0)

#define EEXIST_ERR 17
/* Settings, written by user space between open and load (the bucket bounds
 * and the cgroup controller in aggregate.bpf.h and current_cgroup.bpf.h). */
/* enum nfs_ebpf_ret_kind of nfs_mkdir on this kernel. */
const volatile __u32 mkdir_ret_kind = NFS_RET_UNKNOWN;
/* 1: start records live in task_starts (task-local storage); 0: in
 * op_starts (5.10). Chosen by user space from what the kernel lets tracing
 * programs use. */
const volatile __u32 starts_in_task = 0;

/* Sizes are defaults; user space sets MaxEntries before load. The key and
 * value types are in nfs_ebpf.h, op_starts' too: user space shares them
 * with every instance. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, struct op_key);
  __type(value, struct op_stats);
} op_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, struct err_key);
  __type(value, __u64);
} op_errors SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, struct start_key);
  __type(value, struct start_val);
} op_starts SEC(".maps");

/*
 * Calls in flight, per thread: one slot per hook (ts 0: free). Task-local
 * storage, usable from tracing programs since commit a10787e6d58c ("bpf:
 * Enable task local storage for tracing programs"), goes with its thread,
 * so it can neither fill up nor outlive it, and reaching it is a lookup in
 * the task itself, without a lock or a hash. Only this thread (and its
 * exit, below) touches its slots. On kernels without it (Debian's 5.10)
 * user space turns this map into a one-entry hash that nothing uses
 * (starts_in_task 0), and op_starts holds the records.
 */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct task_starts);
} task_starts SEC(".maps");

/*
 * Calls whose entry found op_starts full and was counted as start_map_full
 * at once: their return must not count missed_entry as well. Same key and
 * size as op_starts; the value is unused. When this map is full too the
 * entry counts nothing and its return counts missed_entry, so every call
 * is still counted exactly once.
 */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, NFS_EBPF_DEFAULT_MAX_ENTRIES);
  __type(key, struct start_key);
  __type(value, __u8);
} start_refused SEC(".maps");

/* Device of the superblock, from whichever object the hook gets first. */
static __always_inline __u32 dev_of_inode(struct inode *inode) {
  return BPF_CORE_READ(inode, i_sb, s_dev);
}

static __always_inline __u32 dev_of_file(struct file *file) {
  return BPF_CORE_READ(file, f_inode, i_sb, s_dev);
}

static __always_inline __u32 dev_of_kiocb(struct kiocb *iocb) {
  return BPF_CORE_READ(iocb, ki_filp, f_inode, i_sb, s_dev);
}

static __always_inline __u32 dev_of_dentry(struct dentry *dentry) {
  return BPF_CORE_READ(dentry, d_sb, s_dev);
}

static __always_inline __u32 dev_of_path(struct path *path) {
  return BPF_CORE_READ(path, dentry, d_sb, s_dev);
}

/*
 * The same for fentry programs, whose arguments the verifier knows as typed
 * kernel pointers (BTF): each field is one load it checks against the
 * type (a fault reads 0), where the kprobe twins above need a
 * bpf_probe_read_kernel() call per pointer. The accesses are still CO-RE
 * relocated (preserve_access_index in vmlinux_min.h).
 */
static __always_inline __u32 btf_dev_of_inode(struct inode *inode) {
  return inode->i_sb->s_dev;
}

static __always_inline __u32 btf_dev_of_file(struct file *file) {
  return file->f_inode->i_sb->s_dev;
}

static __always_inline __u32 btf_dev_of_kiocb(struct kiocb *iocb) {
  return iocb->ki_filp->f_inode->i_sb->s_dev;
}

static __always_inline __u32 btf_dev_of_dentry(struct dentry *dentry) {
  return dentry->d_sb->s_dev;
}

static __always_inline __u32 btf_dev_of_path(struct path *path) {
  return path->dentry->d_sb->s_dev;
}

/* This thread's start slots, created at entry. NULL when the storage cannot
 * be created (out of memory; the call counts as start_map_full), and,
 * before 6.2 ("bpf: Avoid taking spinlock in bpf_task_storage_get if
 * potential deadlock is detected"), also while another task-storage helper
 * call is under way on this CPU. NFS calls do not run in interrupts, so
 * that takes a fully preemptible kernel preempting a helper call: then an
 * entry counts start_map_full, and a return missed_entry whose record is
 * later counted again as missed_return. */
static __always_inline struct task_starts *my_starts(__u64 flags) {
  return bpf_task_storage_get(&task_starts, bpf_get_current_task_btf(), 0,
                              flags);
}

/* Store a start record: 0, or a negative error when there is no room.
 * *replaced: the previous call of this hook on this thread had left its
 * record, its return never seen. */
static __always_inline long store_start(__u32 hook, const struct start_val *val,
                                        bool *replaced) {
  if (starts_in_task) {
    struct task_starts *ts = my_starts(BPF_LOCAL_STORAGE_GET_F_CREATE);

    if (!ts || hook >= NFS_HOOK_MAX)
      return -1;
    *replaced = ts->hook[hook].ts != 0;
    ts->hook[hook] = *val;
    return 0;
  }

  struct start_key key = {
      .tid = (__u32)bpf_get_current_pid_tgid(),
      .hook = hook,
  };
  long err =
      map_op_err(bpf_map_update_elem(&op_starts, &key, val, BPF_NOEXIST));
  if (err == -EEXIST_ERR) {
    *replaced = true;
    err = map_op_err(bpf_map_update_elem(&op_starts, &key, val, BPF_ANY));
  }
  return err;
}

static __always_inline int on_entry(__u32 hook, __u32 dev, __u64 aux) {
  struct start_key key = {.hook = hook};
  struct start_val val = {
      .ts = bpf_ktime_get_ns(),
      .cgroup_id = current_cgroup_id(),
      .dev = dev,
      .aux = aux,
  };
  bool replaced = false;
  __u8 mark = 1;
  long err;

  err = store_start(hook, &val, &replaced);
  /* The previous call of this hook on this thread has returned (a thread
   * runs one call of a hook at a time) without its return being seen:
   * kretprobe out of instances, a program skipped by recursion protection,
   * or detached in between. Count it; this call starts over. */
  if (replaced)
    count_lost(NFS_LOST_MISSED_RETURN);
  if (!err)
    return 0;
  /* No room: count the call now, and leave a mark so that its return
   * does not count it again as missed_entry. Without room for the mark
   * either, the return counts it (missed_entry) instead. EEXIST: a mark
   * left by an earlier refused call whose return was missed; that call
   * was counted already, the mark now stands for this one. */
  key.tid = (__u32)bpf_get_current_pid_tgid();
  err =
      map_op_err(bpf_map_update_elem(&start_refused, &key, &mark, BPF_NOEXIST));
  if (!err || err == -EEXIST_ERR)
    count_lost(NFS_LOST_START_MAP_FULL);
  return 0;
}

/* Take (copy and free) this thread's start record of a hook. */
static __always_inline bool take_start(__u32 hook, struct start_val *out) {
  struct start_key key = {
      .tid = starts_in_task ? 0 : (__u32)bpf_get_current_pid_tgid(),
      .hook = hook,
  };

  if (starts_in_task) {
    struct task_starts *ts = my_starts(0);

    if (ts && hook < NFS_HOOK_MAX && ts->hook[hook].ts != 0) {
      *out = ts->hook[hook];
      ts->hook[hook].ts = 0;
      return true;
    }
  } else {
    struct start_val *v = bpf_map_lookup_elem(&op_starts, &key);

    if (v) {
      /* Copy before deleting: a preallocated element is recycled at
       * once. */
      *out = *v;
      bpf_map_delete_elem(&op_starts, &key);
      return true;
    }
  }
  /* Counted at entry (start_map_full) if it left a mark. */
  key.tid = (__u32)bpf_get_current_pid_tgid();
  if (map_op_err(bpf_map_delete_elem(&start_refused, &key)) != 0)
    count_lost(NFS_LOST_MISSED_ENTRY);
  return false;
}

static __always_inline struct op_stats *stats_slot(struct op_key *key) {
  struct op_stats zero;
  struct op_stats *s;
  long err;

  s = bpf_map_lookup_elem(&op_stats, key);
  if (s)
    return s;
  __builtin_memset(&zero, 0, sizeof(zero));
  err = map_op_err(bpf_map_update_elem(&op_stats, key, &zero, BPF_NOEXIST));
  /* -EEXIST: another CPU inserted it first; use theirs. */
  if (err && err != -EEXIST_ERR) {
    count_lost(NFS_LOST_STATS_MAP_FULL);
    return NULL;
  }
  return bpf_map_lookup_elem(&op_stats, key);
}

static __always_inline void count_error(const struct op_key *key, long err) {
  struct err_key ekey = {
      .cgroup_id = key->cgroup_id,
      .dev = key->dev,
      .op = (__u16)key->op,
      .err = (__u16)(-err),
  };
  __u64 one = 1, *v;
  long rc;

  v = bpf_map_lookup_elem(&op_errors, &ekey);
  if (v) {
    __sync_fetch_and_add(v, 1);
    return;
  }
  rc = map_op_err(bpf_map_update_elem(&op_errors, &ekey, &one, BPF_NOEXIST));
  if (rc == -EEXIST_ERR) {
    v = bpf_map_lookup_elem(&op_errors, &ekey);
    if (v)
      __sync_fetch_and_add(v, 1);
  } else if (rc) {
    count_lost(NFS_LOST_ERRORS_MAP_FULL);
  }
}

/*
 * Account one completed operation. err is 0 or a negative errno, bytes the
 * positive byte count (read/write only).
 */
static __always_inline void account(__u32 op, const struct start_val *start,
                                    long err, __u64 bytes) {
  struct op_key key = {
      .cgroup_id = start->cgroup_id,
      .dev = start->dev,
      .op = op,
  };
  __u64 delta = bpf_ktime_get_ns() - start->ts;
  struct op_stats *s;

  s = stats_slot(&key);
  if (!s)
    return;
  __sync_fetch_and_add(&s->count, 1);
  __sync_fetch_and_add(&s->latency_ns, delta);
  if (bytes)
    __sync_fetch_and_add(&s->bytes, bytes);
  /* count is the +Inf bucket */
  bucket_add(s->buckets, delta);
  if (err < 0)
    count_error(&key, err);
}

/* Return kinds: how the raw return register becomes (err, bytes). */
static __always_inline int ret_ssize(__u32 op, __u64 rc) {
  struct start_val start;
  long ret = (long)rc;

  if (!take_start(op, &start))
    return 0;
  /* Queued asynchronous direct I/O: the call is counted, with the
   * time to queue it, but its bytes and result come later through
   * ki_complete and are not seen here (README, "Limits"). */
  if (ret == -NFS_EBPF_EIOCBQUEUED) {
    account(op, &start, 0, 0);
    return 0;
  }
  /* A negative value outside the errno range is not an error code:
   * count the operation but neither an error nor bytes. */
  if (ret < 0)
    account(op, &start, ret >= -MAX_ERRNO ? ret : 0, 0);
  else
    account(op, &start, 0, ret);
  return 0;
}

static __always_inline int ret_int(__u32 op, __u64 rc) {
  struct start_val start;
  int ret = (int)rc; /* upper half of the register is undefined */

  if (!take_start(op, &start))
    return 0;
  account(op, &start, ret < 0 && ret >= -MAX_ERRNO ? ret : 0, 0);
  return 0;
}

static __always_inline int ret_ptr(__u32 op, __u64 rc) {
  struct start_val start;
  long ret = (long)rc;

  if (!take_start(op, &start))
    return 0;
  account(op, &start, ret < 0 && ret >= -MAX_ERRNO ? ret : 0, 0);
  return 0;
}

/* A return whose type differs between kernels (enum nfs_ebpf_ret_kind). */
static __always_inline int ret_of_kind(__u32 op, __u32 kind, __u64 rc) {
  struct start_val start;

  if (!take_start(op, &start))
    return 0;
  account(op, &start, ret_errno(kind, rc), 0);
  return 0;
}

/*
 * ->atomic_open: counted as an open only when it opened the file itself
 * (FMODE_OPENED set, NFSv4's finish_open() with its own callback) or failed
 * before any ->open ran. When it ends in finish_no_open() the VFS calls
 * ->open next, and when it went through finish_open(..., NULL) (the v2/v3
 * variant) ->open already ran inside it; in both cases that ->open hook is
 * the one counted, so nothing is counted twice.
 */
static __always_inline int on_atomic_open_return(__u64 rc) {
  struct start_val start;
  int ret = (int)rc;
  struct file *file;
  fmode_t mode;

  if (!take_start(NFS_HOOK_ATOMIC_OPEN, &start))
    return 0;
  if (start.inner_open)
    return 0;
  if (ret < 0) {
    account(NFS_OP_OPEN, &start, ret >= -MAX_ERRNO ? ret : 0, 0);
    return 0;
  }
  /* Not BPF_CORE_READ((struct file *)start.aux, ...): that would also
   * relocate start.aux, a local type unknown to the kernel. */
  file = (struct file *)start.aux;
  mode = BPF_CORE_READ(file, f_mode);
  if (mode & NFS_EBPF_FMODE_OPENED)
    account(NFS_OP_OPEN, &start, 0, 0);
  return 0;
}

/* ->open entry: tell an enclosing atomic_open that ->open is counted. */
static __always_inline int on_open_entry(__u32 dev) {
  struct start_val *outer = NULL;

  if (starts_in_task) {
    struct task_starts *ts = my_starts(0);

    if (ts && ts->hook[NFS_HOOK_ATOMIC_OPEN].ts != 0)
      outer = &ts->hook[NFS_HOOK_ATOMIC_OPEN];
  } else {
    struct start_key key = {
        .tid = (__u32)bpf_get_current_pid_tgid(),
        .hook = NFS_HOOK_ATOMIC_OPEN,
    };

    outer = bpf_map_lookup_elem(&op_starts, &key);
  }
  if (outer)
    outer->inner_open = 1;
  return on_entry(NFS_OP_OPEN, dev, 0);
}

/* fentry/fexit programs see the arguments as a u64 array; the return value
 * of fexit follows the last argument. */
#define FARG(i) ((void *)ctx[i])
#define FRET(nargs) (ctx[nargs])

/*
 * Arguments after an optional idmap/userns first argument. Both candidate
 * slots are loaded with constant offsets and only the values are selected:
 * left alone, clang folds the choice into a variable offset on the context
 * pointer, which the verifier refuses ("dereference of modified ctx ptr").
 */
static __always_inline __u64 pick_shifted(__u64 unshifted, __u64 shifted) {
  barrier_var(unshifted);
  barrier_var(shifted);
  return IDMAP_SHIFT ? shifted : unshifted;
}

/* FRET_SHIFTED also loads ctx[nargs + 1]: on a kernel whose functions lack
 * the extra argument but that has fentry on modules (5.11 only) the
 * verifier refuses that slot, the load fails and the loader falls back to
 * kprobes, which is still correct. */
#define FARG_SHIFTED(i) ((void *)pick_shifted(ctx[i], ctx[(i) + 1]))
#define FRET_SHIFTED(nargs) pick_shifted(ctx[nargs], ctx[(nargs) + 1])

#define KARG1 ((void *)PT_REGS_PARM1(ctx))
#define KARG_SHIFTED1                                                          \
  ((void *)pick_shifted(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx)))
#define KRET ((__u64)PT_REGS_RC(ctx))

/* ---- read ---- */
SEC("fentry/nfs_file_read")
int fentry_nfs_file_read(__u64 *ctx) {
  return on_entry(NFS_OP_READ, btf_dev_of_kiocb(FARG(0)), 0);
}

SEC("fexit/nfs_file_read")
int fexit_nfs_file_read(__u64 *ctx) { return ret_ssize(NFS_OP_READ, FRET(2)); }

SEC("kprobe/nfs_file_read")
int kprobe_nfs_file_read(struct pt_regs *ctx) {
  return on_entry(NFS_OP_READ, dev_of_kiocb(KARG1), 0);
}

SEC("kretprobe/nfs_file_read")
int kretprobe_nfs_file_read(struct pt_regs *ctx) {
  return ret_ssize(NFS_OP_READ, KRET);
}

/* splice/sendfile reads (6.5+); ssize_t (struct file *in, loff_t *, ...) */
SEC("fentry/nfs_file_splice_read")
int fentry_nfs_file_splice_read(__u64 *ctx) {
  return on_entry(NFS_OP_READ, btf_dev_of_file(FARG(0)), 0);
}

SEC("fexit/nfs_file_splice_read")
int fexit_nfs_file_splice_read(__u64 *ctx) {
  return ret_ssize(NFS_OP_READ, FRET(5));
}

SEC("kprobe/nfs_file_splice_read")
int kprobe_nfs_file_splice_read(struct pt_regs *ctx) {
  return on_entry(NFS_OP_READ, dev_of_file(KARG1), 0);
}

SEC("kretprobe/nfs_file_splice_read")
int kretprobe_nfs_file_splice_read(struct pt_regs *ctx) {
  return ret_ssize(NFS_OP_READ, KRET);
}

/* ---- write ---- */
SEC("fentry/nfs_file_write")
int fentry_nfs_file_write(__u64 *ctx) {
  return on_entry(NFS_OP_WRITE, btf_dev_of_kiocb(FARG(0)), 0);
}

SEC("fexit/nfs_file_write")
int fexit_nfs_file_write(__u64 *ctx) {
  return ret_ssize(NFS_OP_WRITE, FRET(2));
}

SEC("kprobe/nfs_file_write")
int kprobe_nfs_file_write(struct pt_regs *ctx) {
  return on_entry(NFS_OP_WRITE, dev_of_kiocb(KARG1), 0);
}

SEC("kretprobe/nfs_file_write")
int kretprobe_nfs_file_write(struct pt_regs *ctx) {
  return ret_ssize(NFS_OP_WRITE, KRET);
}

/* ---- open: ->open of v2/v3 (nfs.ko) and v4 (nfsv4.ko) ---- */
SEC("fentry/nfs_file_open")
int fentry_nfs_file_open(__u64 *ctx) {
  return on_open_entry(btf_dev_of_inode(FARG(0)));
}

SEC("fexit/nfs_file_open")
int fexit_nfs_file_open(__u64 *ctx) { return ret_int(NFS_OP_OPEN, FRET(2)); }

SEC("kprobe/nfs_file_open")
int kprobe_nfs_file_open(struct pt_regs *ctx) {
  return on_open_entry(dev_of_inode(KARG1));
}

SEC("kretprobe/nfs_file_open")
int kretprobe_nfs_file_open(struct pt_regs *ctx) {
  return ret_int(NFS_OP_OPEN, KRET);
}

SEC("fentry/nfs4_file_open")
int fentry_nfs4_file_open(__u64 *ctx) {
  return on_open_entry(btf_dev_of_inode(FARG(0)));
}

SEC("fexit/nfs4_file_open")
int fexit_nfs4_file_open(__u64 *ctx) { return ret_int(NFS_OP_OPEN, FRET(2)); }

SEC("kprobe/nfs4_file_open")
int kprobe_nfs4_file_open(struct pt_regs *ctx) {
  return on_open_entry(dev_of_inode(KARG1));
}

SEC("kretprobe/nfs4_file_open")
int kretprobe_nfs4_file_open(struct pt_regs *ctx) {
  return ret_int(NFS_OP_OPEN, KRET);
}

/* ---- open: ->atomic_open (inode *dir, dentry *, file *, flags, mode) ---- */
SEC("fentry/nfs_atomic_open")
int fentry_nfs_atomic_open(__u64 *ctx) {
  return on_entry(NFS_HOOK_ATOMIC_OPEN, btf_dev_of_inode(FARG(0)), ctx[2]);
}

SEC("fexit/nfs_atomic_open")
int fexit_nfs_atomic_open(__u64 *ctx) { return on_atomic_open_return(FRET(5)); }

SEC("kprobe/nfs_atomic_open")
int kprobe_nfs_atomic_open(struct pt_regs *ctx) {
  return on_entry(NFS_HOOK_ATOMIC_OPEN, dev_of_inode(KARG1),
                  (__u64)PT_REGS_PARM3(ctx));
}

SEC("kretprobe/nfs_atomic_open")
int kretprobe_nfs_atomic_open(struct pt_regs *ctx) {
  return on_atomic_open_return(KRET);
}

SEC("fentry/nfs_atomic_open_v23")
int fentry_nfs_atomic_open_v23(__u64 *ctx) {
  return on_entry(NFS_HOOK_ATOMIC_OPEN, btf_dev_of_inode(FARG(0)), ctx[2]);
}

SEC("fexit/nfs_atomic_open_v23")
int fexit_nfs_atomic_open_v23(__u64 *ctx) {
  return on_atomic_open_return(FRET(5));
}

SEC("kprobe/nfs_atomic_open_v23")
int kprobe_nfs_atomic_open_v23(struct pt_regs *ctx) {
  return on_entry(NFS_HOOK_ATOMIC_OPEN, dev_of_inode(KARG1),
                  (__u64)PT_REGS_PARM3(ctx));
}

SEC("kretprobe/nfs_atomic_open_v23")
int kretprobe_nfs_atomic_open_v23(struct pt_regs *ctx) {
  return on_atomic_open_return(KRET);
}

/* ---- close: ->flush (file *, fl_owner_t) ---- */
SEC("fentry/nfs_file_flush")
int fentry_nfs_file_flush(__u64 *ctx) {
  return on_entry(NFS_OP_CLOSE, btf_dev_of_file(FARG(0)), 0);
}

SEC("fexit/nfs_file_flush")
int fexit_nfs_file_flush(__u64 *ctx) { return ret_int(NFS_OP_CLOSE, FRET(2)); }

SEC("kprobe/nfs_file_flush")
int kprobe_nfs_file_flush(struct pt_regs *ctx) {
  return on_entry(NFS_OP_CLOSE, dev_of_file(KARG1), 0);
}

SEC("kretprobe/nfs_file_flush")
int kretprobe_nfs_file_flush(struct pt_regs *ctx) {
  return ret_int(NFS_OP_CLOSE, KRET);
}

SEC("fentry/nfs4_file_flush")
int fentry_nfs4_file_flush(__u64 *ctx) {
  return on_entry(NFS_OP_CLOSE, btf_dev_of_file(FARG(0)), 0);
}

SEC("fexit/nfs4_file_flush")
int fexit_nfs4_file_flush(__u64 *ctx) { return ret_int(NFS_OP_CLOSE, FRET(2)); }

SEC("kprobe/nfs4_file_flush")
int kprobe_nfs4_file_flush(struct pt_regs *ctx) {
  return on_entry(NFS_OP_CLOSE, dev_of_file(KARG1), 0);
}

SEC("kretprobe/nfs4_file_flush")
int kretprobe_nfs4_file_flush(struct pt_regs *ctx) {
  return ret_int(NFS_OP_CLOSE, KRET);
}

/* ---- fsync (file *, loff_t, loff_t, int) ---- */
SEC("fentry/nfs_file_fsync")
int fentry_nfs_file_fsync(__u64 *ctx) {
  return on_entry(NFS_OP_FSYNC, btf_dev_of_file(FARG(0)), 0);
}

SEC("fexit/nfs_file_fsync")
int fexit_nfs_file_fsync(__u64 *ctx) { return ret_int(NFS_OP_FSYNC, FRET(4)); }

SEC("kprobe/nfs_file_fsync")
int kprobe_nfs_file_fsync(struct pt_regs *ctx) {
  return on_entry(NFS_OP_FSYNC, dev_of_file(KARG1), 0);
}

SEC("kretprobe/nfs_file_fsync")
int kretprobe_nfs_file_fsync(struct pt_regs *ctx) {
  return ret_int(NFS_OP_FSYNC, KRET);
}

/* ---- getattr ([idmap,] const struct path *, kstat *, u32, unsigned) ---- */
SEC("fentry/nfs_getattr")
int fentry_nfs_getattr(__u64 *ctx) {
  return on_entry(NFS_OP_GETATTR, btf_dev_of_path(FARG_SHIFTED(0)), 0);
}

SEC("fexit/nfs_getattr")
int fexit_nfs_getattr(__u64 *ctx) {
  return ret_int(NFS_OP_GETATTR, FRET_SHIFTED(4));
}

SEC("kprobe/nfs_getattr")
int kprobe_nfs_getattr(struct pt_regs *ctx) {
  return on_entry(NFS_OP_GETATTR, dev_of_path(KARG_SHIFTED1), 0);
}

SEC("kretprobe/nfs_getattr")
int kretprobe_nfs_getattr(struct pt_regs *ctx) {
  return ret_int(NFS_OP_GETATTR, KRET);
}

/* ---- setattr ([idmap,] struct dentry *, struct iattr *) ---- */
SEC("fentry/nfs_setattr")
int fentry_nfs_setattr(__u64 *ctx) {
  return on_entry(NFS_OP_SETATTR, btf_dev_of_dentry(FARG_SHIFTED(0)), 0);
}

SEC("fexit/nfs_setattr")
int fexit_nfs_setattr(__u64 *ctx) {
  return ret_int(NFS_OP_SETATTR, FRET_SHIFTED(2));
}

SEC("kprobe/nfs_setattr")
int kprobe_nfs_setattr(struct pt_regs *ctx) {
  return on_entry(NFS_OP_SETATTR, dev_of_dentry(KARG_SHIFTED1), 0);
}

SEC("kretprobe/nfs_setattr")
int kretprobe_nfs_setattr(struct pt_regs *ctx) {
  return ret_int(NFS_OP_SETATTR, KRET);
}

/* ---- lookup (inode *dir, dentry *, unsigned) -> struct dentry * ---- */
SEC("fentry/nfs_lookup")
int fentry_nfs_lookup(__u64 *ctx) {
  return on_entry(NFS_OP_LOOKUP, btf_dev_of_inode(FARG(0)), 0);
}

SEC("fexit/nfs_lookup")
int fexit_nfs_lookup(__u64 *ctx) { return ret_ptr(NFS_OP_LOOKUP, FRET(3)); }

SEC("kprobe/nfs_lookup")
int kprobe_nfs_lookup(struct pt_regs *ctx) {
  return on_entry(NFS_OP_LOOKUP, dev_of_inode(KARG1), 0);
}

SEC("kretprobe/nfs_lookup")
int kretprobe_nfs_lookup(struct pt_regs *ctx) {
  return ret_ptr(NFS_OP_LOOKUP, KRET);
}

/* ---- readdir (file *, struct dir_context *) ---- */
SEC("fentry/nfs_readdir")
int fentry_nfs_readdir(__u64 *ctx) {
  return on_entry(NFS_OP_READDIR, btf_dev_of_file(FARG(0)), 0);
}

SEC("fexit/nfs_readdir")
int fexit_nfs_readdir(__u64 *ctx) { return ret_int(NFS_OP_READDIR, FRET(2)); }

SEC("kprobe/nfs_readdir")
int kprobe_nfs_readdir(struct pt_regs *ctx) {
  return on_entry(NFS_OP_READDIR, dev_of_file(KARG1), 0);
}

SEC("kretprobe/nfs_readdir")
int kretprobe_nfs_readdir(struct pt_regs *ctx) {
  return ret_int(NFS_OP_READDIR, KRET);
}

/* ---- create ([idmap,] inode *dir, dentry *, umode_t, bool) ---- */
SEC("fentry/nfs_create")
int fentry_nfs_create(__u64 *ctx) {
  return on_entry(NFS_OP_CREATE, btf_dev_of_inode(FARG_SHIFTED(0)), 0);
}

SEC("fexit/nfs_create")
int fexit_nfs_create(__u64 *ctx) {
  return ret_int(NFS_OP_CREATE, FRET_SHIFTED(4));
}

SEC("kprobe/nfs_create")
int kprobe_nfs_create(struct pt_regs *ctx) {
  return on_entry(NFS_OP_CREATE, dev_of_inode(KARG_SHIFTED1), 0);
}

SEC("kretprobe/nfs_create")
int kretprobe_nfs_create(struct pt_regs *ctx) {
  return ret_int(NFS_OP_CREATE, KRET);
}

/* ---- unlink (inode *dir, dentry *) ---- */
SEC("fentry/nfs_unlink")
int fentry_nfs_unlink(__u64 *ctx) {
  return on_entry(NFS_OP_UNLINK, btf_dev_of_inode(FARG(0)), 0);
}

SEC("fexit/nfs_unlink")
int fexit_nfs_unlink(__u64 *ctx) { return ret_int(NFS_OP_UNLINK, FRET(2)); }

SEC("kprobe/nfs_unlink")
int kprobe_nfs_unlink(struct pt_regs *ctx) {
  return on_entry(NFS_OP_UNLINK, dev_of_inode(KARG1), 0);
}

SEC("kretprobe/nfs_unlink")
int kretprobe_nfs_unlink(struct pt_regs *ctx) {
  return ret_int(NFS_OP_UNLINK, KRET);
}

/* ---- rename ([idmap,] old_dir, old_dentry, new_dir, new_dentry, flags) */
SEC("fentry/nfs_rename")
int fentry_nfs_rename(__u64 *ctx) {
  return on_entry(NFS_OP_RENAME, btf_dev_of_inode(FARG_SHIFTED(0)), 0);
}

SEC("fexit/nfs_rename")
int fexit_nfs_rename(__u64 *ctx) {
  return ret_int(NFS_OP_RENAME, FRET_SHIFTED(5));
}

SEC("kprobe/nfs_rename")
int kprobe_nfs_rename(struct pt_regs *ctx) {
  return on_entry(NFS_OP_RENAME, dev_of_inode(KARG_SHIFTED1), 0);
}

SEC("kretprobe/nfs_rename")
int kretprobe_nfs_rename(struct pt_regs *ctx) {
  return ret_int(NFS_OP_RENAME, KRET);
}

/* ---- mkdir ([idmap,] inode *dir, dentry *, umode_t) -> int or dentry *
 * (core_fixes.bpf.h). User space loads fexit_nfs_mkdir where it returns
 * int and fexit_nfs_mkdir_dentry where it returns a pointer. */
SEC("fentry/nfs_mkdir")
int fentry_nfs_mkdir(__u64 *ctx) {
  return on_entry(NFS_OP_MKDIR, btf_dev_of_inode(FARG_SHIFTED(0)), 0);
}

SEC("fexit/nfs_mkdir")
int fexit_nfs_mkdir(__u64 *ctx) {
  return ret_of_kind(NFS_OP_MKDIR, NFS_RET_INT, FRET_SHIFTED(3));
}

SEC("fexit/nfs_mkdir")
int fexit_nfs_mkdir_dentry(__u64 *ctx) {
  __u64 rc = 0;

  /* The verifier types ctx[n] as the BTF says: a struct dentry *,
   * which cannot be tested for an ERR_PTR with arithmetic. */
  bpf_get_func_ret(ctx, &rc);
  return ret_of_kind(NFS_OP_MKDIR, NFS_RET_PTR, rc);
}

SEC("kprobe/nfs_mkdir")
int kprobe_nfs_mkdir(struct pt_regs *ctx) {
  return on_entry(NFS_OP_MKDIR, dev_of_inode(KARG_SHIFTED1), 0);
}

SEC("kretprobe/nfs_mkdir")
int kretprobe_nfs_mkdir(struct pt_regs *ctx) {
  return ret_of_kind(NFS_OP_MKDIR, mkdir_ret_kind, KRET);
}

/* ---- rmdir (inode *dir, dentry *) ---- */
SEC("fentry/nfs_rmdir")
int fentry_nfs_rmdir(__u64 *ctx) {
  return on_entry(NFS_OP_RMDIR, btf_dev_of_inode(FARG(0)), 0);
}

SEC("fexit/nfs_rmdir")
int fexit_nfs_rmdir(__u64 *ctx) { return ret_int(NFS_OP_RMDIR, FRET(2)); }

SEC("kprobe/nfs_rmdir")
int kprobe_nfs_rmdir(struct pt_regs *ctx) {
  return on_entry(NFS_OP_RMDIR, dev_of_inode(KARG1), 0);
}

SEC("kretprobe/nfs_rmdir")
int kretprobe_nfs_rmdir(struct pt_regs *ctx) {
  return ret_int(NFS_OP_RMDIR, KRET);
}

/*
 * A thread that exits is inside no NFS call: a start record or a mark it
 * left belongs to a call that returned unseen. Count each record once as
 * missed_return (marks were counted as start_map_full at entry) and remove
 * records and marks, so that leaked ones cannot outlive their thread and
 * fill op_starts (a missed kretprobe return of a short-lived process).
 * Task storage is freed with the task, after this. Attached once, by the
 * instance that owns the maps (src/probe/tracer.c).
 */
SEC("raw_tracepoint/sched_process_exit")
int reap_exited_thread(void *ctx) {
  struct start_key key = {.tid = (__u32)bpf_get_current_pid_tgid()};
  struct task_starts *ts = NULL;
  __u32 hook;

  if (starts_in_task)
    ts = my_starts(0);
  for (hook = 0; hook < NFS_HOOK_MAX; hook++) {
    key.hook = hook;
    if (starts_in_task) {
      if (ts && ts->hook[hook].ts != 0) {
        ts->hook[hook].ts = 0;
        count_lost(NFS_LOST_MISSED_RETURN);
      }
    } else if (map_op_err(bpf_map_delete_elem(&op_starts, &key)) == 0) {
      count_lost(NFS_LOST_MISSED_RETURN);
    }
    bpf_map_delete_elem(&start_refused, &key);
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
