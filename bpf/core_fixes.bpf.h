/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every kernel difference nfs_ebpf.bpf.c cares about, detected with CO-RE
 * (type and field existence in the running kernel's BTF), never with version
 * numbers: distributions backport.
 */
#ifndef NFS_EBPF_CORE_FIXES_BPF_H
#define NFS_EBPF_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Idmapped mounts gave nfs_getattr, nfs_setattr, nfs_create, nfs_mkdir and
 * nfs_rename (and every other inode_operations member they implement) a new
 * first argument:
 *   - 5.12, commit 549c7297717c ("fs: make helpers idmap mount aware"):
 *     struct user_namespace *mnt_userns. The same idmapped-mounts series
 *     (v5.12-rc1) added struct vfsmount.mnt_userns, which we test for.
 *   - 6.3, commit c1632a0f1120 ("fs: port ->setattr() to pass mnt_idmap")
 *     and its siblings: struct mnt_idmap *idmap. The type itself came with
 *     commit 256c8aed2b42 ("fs: introduce dedicated idmap type for mounts"),
 *     which also replaced vfsmount.mnt_userns by mnt_idmap.
 * Verified in the BTF of Debian's 6.1 (user_namespace *) and 6.12
 * (mnt_idmap *) nfs.ko; 5.10 has no first argument.
 * Either way the arguments we read move one slot right; we never read the
 * first one itself.
 */
struct mnt_idmap {
  int __unused_marker;
} __attribute__((preserve_access_index));

struct vfsmount___userns {
  void *mnt_userns;
} __attribute__((preserve_access_index));

static __always_inline bool inode_ops_have_idmap_arg(void) {
  return bpf_core_type_exists(struct mnt_idmap) ||
         bpf_core_field_exists(struct vfsmount___userns, mnt_userns);
}

/*
 * FMODE_OPENED: set by do_dentry_open() once ->open succeeded (or when
 * atomic_open called finish_open()). Value 0x80000 since 4.18, commit
 * 73a09dd94377 ("introduce FMODE_OPENED"); the VM lab confirms it on
 * Debian's 6.1 and 6.12 (NFSv4 fresh opens are counted exactly once).
 */
#define NFS_EBPF_FMODE_OPENED 0x80000

/*
 * Error codes from bpf_map_update_elem / bpf_map_delete_elem: the verifier
 * turns these helpers into direct calls of the map's ops, which returned
 * int until 6.4, commit d7ba4cc900bf ("bpf: return long from bpf_map_ops
 * funcs"). Before it the upper half of the 64-bit result is not a sign
 * extension: Debian's 6.1 gives 0x00000000ffffffef for -EEXIST, so a
 * 64-bit compare with -EEXIST never matches (seen by tests/unit/tracer_test in
 * the VM lab). Compare the low 32 bits, which every kernel sets.
 */
static __always_inline int map_op_err(long rc) { return (int)rc; }

/*
 * kernfs_node->id: a u64 since 5.5, commit 67c0496e87d1 ("kernfs: convert
 * kernfs_node->id from union kernfs_node_id to u64"); before that a union
 * whose u64 member `id` holds the same value cgroup ids are built from
 * (bpf_get_current_cgroup_id() returned kn->id.id there).
 */
union kernfs_node_id___old {
  struct {
    u32 ino;
    u32 generation;
  };
  u64 id;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
  union kernfs_node_id___old id;
} __attribute__((preserve_access_index));

static __always_inline u64 kernfs_node_id(struct kernfs_node *kn) {
  if (bpf_core_type_exists(union kernfs_node_id___old)) {
    struct kernfs_node___old *old = (void *)kn;

    return BPF_CORE_READ(old, id.id);
  }
  return BPF_CORE_READ(kn, id);
}

/* Largest errno a failed call returns: include/linux/err.h, where
 * IS_ERR_VALUE() tells an ERR_PTR from a pointer. */
#define MAX_ERRNO 4095

/*
 * nfs_mkdir returns int up to 6.14 and struct dentry * (ERR_PTR on failure)
 * since 6.15, commit 88d5baf69082 ("Change inode_operations.mkdir to return
 * struct dentry *"). User space reads the return type from the kernel's BTF
 * (src/probe/tracer.c) and sets mkdir_ret_kind (enum nfs_ebpf_ret_kind in
 * nfs_ebpf.h); fexit needs two
 * programs since the verifier types the return slot after the BTF: a
 * pointer there refuses the shifts an int test uses ("R1 bitwise operator
 * on pointer prohibited", EACCES), so the pointer variant reads the slot as
 * a number with bpf_get_func_ret() (5.17+, present on every kernel with the
 * pointer return).
 */
/*
 * Without BTF (kprobes on a kernel lacking module BTF) the register may hold
 * either. An int return leaves the upper half of the register undefined (in
 * practice zero after a 32-bit move, or the sign extension after a 64-bit
 * one), an ERR_PTR is a sign-extended -errno, and a valid kernel pointer
 * never has an upper half of 0 or 0xffffffff with the lower half in
 * [-MAX_ERRNO, -1]. So one test covers both.
 */
static __always_inline long int_or_errptr_errno(u64 rc) {
  u32 hi = rc >> 32;
  int lo = (int)rc;

  if ((hi == 0 || hi == 0xffffffff) && lo < 0 && lo >= -MAX_ERRNO)
    return lo;
  return 0;
}

/* The errno in a return of the given kind, or 0. */
static __always_inline long ret_errno(enum nfs_ebpf_ret_kind kind, u64 rc) {
  long ptr = (long)rc;
  int val = (int)rc;

  switch (kind) {
  case NFS_RET_PTR:
    return ptr < 0 && ptr >= -MAX_ERRNO ? ptr : 0;
  case NFS_RET_INT:
    return val < 0 && val >= -MAX_ERRNO ? val : 0;
  default:
    return int_or_errptr_errno(rc);
  }
}

/*
 * -EIOCBQUEUED (529, include/linux/errno.h, kernel-internal): an
 * asynchronous kiocb (io_submit, io_uring) on an O_DIRECT file was queued;
 * nfs_file_read / nfs_file_write return it from nfs_file_direct_read /
 * _write, and the result arrives later through ki_complete. Not an error.
 */
#define NFS_EBPF_EIOCBQUEUED 529

/*
 * Optional targets, resolved in user space (src/probe/tracer.c) by looking the
 * function up in /proc/kallsyms, not here:
 *   - nfs_file_splice_read: 6.5, David Howells' splice rework ("nfs: Provide
 *     a splice-read wrapper"); before it splice/sendfile reads went through
 *     nfs_file_read, so nothing is lost on older kernels.
 *   - nfs_atomic_open_v23: NFSv2/3 atomic_open (handles O_TRUNC); absent in
 *     Debian's 6.1, present in 6.12.
 */

#endif /* NFS_EBPF_CORE_FIXES_BPF_H */
