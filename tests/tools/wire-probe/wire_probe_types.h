/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel types wire_probe.bpf.c reads, declared by hand with CO-RE
 * relocations (as bpf/vmlinux_min.h does for the plugin): sunrpc's task,
 * client and request, and the two NFS call data that carry an open context.
 * Field types are those of Debian's 5.10, 6.1, 6.12 and 7.2 trees.
 */
#ifndef WIRE_PROBE_TYPES_H
#define WIRE_PROBE_TYPES_H

#ifndef __VMLINUX_H__
#define __VMLINUX_H__
#endif

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u32 u32;
typedef __s64 ktime_t;
typedef unsigned long size_t;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* uapi constants (include/uapi/linux/bpf.h) */
enum bpf_map_type {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_LRU_HASH = 9,
};
enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
};

struct task_struct {
  unsigned int flags;
} __attribute__((preserve_access_index));

struct file {
  void *private_data; /* struct nfs_open_context * on NFS */
} __attribute__((preserve_access_index));

struct kiocb {
  struct file *ki_filp;
} __attribute__((preserve_access_index));

struct rpc_procinfo {
  const char *p_name;
} __attribute__((preserve_access_index));

struct rpc_message {
  const struct rpc_procinfo *rpc_proc;
} __attribute__((preserve_access_index));

struct rpc_clnt {
  u32 cl_prog;
  u32 cl_vers;
} __attribute__((preserve_access_index));

struct rpc_rqst {
  size_t rq_xmit_bytes_sent;
  size_t rq_reply_bytes_recvd;
  ktime_t rq_rtt;
  int rq_ntrans;
} __attribute__((preserve_access_index));

struct rpc_task {
  int tk_status;
  struct rpc_message tk_msg;
  void *tk_calldata;
  struct rpc_clnt *tk_client;
  struct rpc_rqst *tk_rqstp;
  unsigned short tk_timeouts;
} __attribute__((preserve_access_index));

struct rpc_iostats;
struct nfs_open_context;

struct nfs_pgio_args {
  struct nfs_open_context *context;
} __attribute__((preserve_access_index));

/* READ and WRITE: tk_calldata (nfs_initiate_pgio) */
struct nfs_pgio_header {
  struct nfs_pgio_args args;
} __attribute__((preserve_access_index));

/* COMMIT: tk_calldata (nfs_initiate_commit) */
struct nfs_commit_data {
  struct nfs_open_context *context;
} __attribute__((preserve_access_index));

#endif /* WIRE_PROBE_TYPES_H */
