/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel types nfs_ebpf.bpf.c reads, declared by hand instead of a
 * generated vmlinux.h. Every struct carries preserve_access_index, so libbpf
 * relocates each field access against the BTF of the kernel the object is
 * loaded on: field order and the absent members below do not matter, only
 * the names and types of the members that are declared. This keeps the
 * object independent of the build machine's kernel (which may not even have
 * NFS). Only vmlinux types appear here; the wire level's sunrpc and nfs
 * types, which need those modules' BTF, are in sunrpc_min.h.
 */
#ifndef NFS_EBPF_VMLINUX_MIN_H
#define NFS_EBPF_VMLINUX_MIN_H

/* bpf_tracing.h picks the kernel's pt_regs member names (di, si, ...) when
 * this guard of a generated vmlinux.h is defined; our pt_regs below uses
 * those names. */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__
#endif

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

typedef __u32 dev_t; /* kernel encoding: major << 20 | minor */
typedef unsigned int fmode_t;
typedef long long loff_t;
typedef unsigned long size_t;
typedef long ssize_t;

/* The map types and update flags the program uses (uapi linux/bpf.h). */
enum bpf_map_type {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_TASK_STORAGE = 29,
};

#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_LOCAL_STORAGE_GET_F_CREATE (1ULL << 0)

enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
};

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
  long unsigned int r15;
  long unsigned int r14;
  long unsigned int r13;
  long unsigned int r12;
  long unsigned int bp;
  long unsigned int bx;
  long unsigned int r11;
  long unsigned int r10;
  long unsigned int r9;
  long unsigned int r8;
  long unsigned int ax;
  long unsigned int cx;
  long unsigned int dx;
  long unsigned int si;
  long unsigned int di;
  long unsigned int orig_ax;
  long unsigned int ip;
  long unsigned int cs;
  long unsigned int flags;
  long unsigned int sp;
  long unsigned int ss;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
/* arm64's bpf_tracing.h casts to user_pt_regs (regs[0..7] are the
 * arguments, regs[0] the return value). */
struct user_pt_regs {
  __u64 regs[31];
  __u64 sp;
  __u64 pc;
  __u64 pstate;
} __attribute__((preserve_access_index));

struct pt_regs {
  struct user_pt_regs user_regs;
} __attribute__((preserve_access_index));
#else
#error                                                                         \
    "vmlinux_min.h: only x86 and arm64 are described; add this architecture's pt_regs"
#endif

struct super_block {
  dev_t s_dev;
  void *s_fs_info; /* struct nfs_server * on NFS (sunrpc_min.h) */
} __attribute__((preserve_access_index));

struct inode {
  struct super_block *i_sb;
  unsigned long i_ino;
} __attribute__((preserve_access_index));

struct dentry {
  struct super_block *d_sb;
  struct inode *d_inode;
} __attribute__((preserve_access_index));

struct vfsmount;

struct path {
  struct vfsmount *mnt;
  struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
  struct path f_path;
  struct inode *f_inode;
  fmode_t f_mode;
  void *private_data; /* struct nfs_open_context * on NFS */
} __attribute__((preserve_access_index));

struct kiocb {
  struct file *ki_filp;
} __attribute__((preserve_access_index));

/* cgroup v1 attribution (rodata cgroup_controller != NFS_CGROUP_V2). The
 * kernel's css_set.subsys[] index of each controller: only the names
 * matter, bpf_core_enum_value() relocates the values against the running
 * kernel (they depend on its config: CONFIG_CPUSETS, CONFIG_MEMCG, ...). */
enum cgroup_subsys_id {
  cpuset_cgrp_id,
  memory_cgrp_id,
  pids_cgrp_id,
  CGROUP_SUBSYS_COUNT,
};

struct kernfs_node {
  u64 id; /* 5.5+; older layout in core_fixes.bpf.h */
} __attribute__((preserve_access_index));

struct cgroup {
  struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
  struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct css_set {
  /* The real array length is CGROUP_SUBSYS_COUNT (config dependent);
   * elements are reached through a relocated base offset plus an index
   * the BPF program bounds (CSS_SET_SUBSYS_LEN, nfs_ebpf.bpf.c). */
  struct cgroup_subsys_state *subsys[16];
} __attribute__((preserve_access_index));

struct task_struct {
  unsigned int flags; /* PF_* */
  struct css_set *cgroups;
} __attribute__((preserve_access_index));

#endif /* NFS_EBPF_VMLINUX_MIN_H */
