/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sunrpc and nfs module types nfs_wire.bpf.c reads, declared by hand
 * with CO-RE relocations like vmlinux_min.h. They live in the modules' BTF
 * (CONFIG_DEBUG_INFO_BTF_MODULES, 5.11+), so only the wire level uses them.
 * Every member below has the same name and type in Debian's 6.1, 6.12 and
 * 7.2 trees (../shared/notes/rpc-attribution.md, "CO-RE differences").
 */
#ifndef NFS_EBPF_SUNRPC_MIN_H
#define NFS_EBPF_SUNRPC_MIN_H

#include "vmlinux_min.h"

typedef __s64 ktime_t;

struct rpc_procinfo {
  const char *p_name; /* the name mountstats prints */
} __attribute__((preserve_access_index));

struct rpc_message {
  const struct rpc_procinfo *rpc_proc;
} __attribute__((preserve_access_index));

struct rpc_clnt {
  u32 cl_prog;
} __attribute__((preserve_access_index));

struct rpc_rqst {
  size_t rq_xmit_bytes_sent;
  size_t rq_reply_bytes_recvd;
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

struct nfs_open_context;

struct list_head {
  struct list_head *next;
} __attribute__((preserve_access_index));

struct nfs_client {
  struct rpc_clnt *cl_rpcclient;   /* shared by the server's mounts */
  struct list_head cl_superblocks; /* its nfs_servers, by client_link */
} __attribute__((preserve_access_index));

/* super_block.s_fs_info of an NFS mount */
struct nfs_server {
  struct nfs_client *nfs_client;
  struct list_head client_link; /* in nfs_client.cl_superblocks */
  struct rpc_clnt *client;      /* this mount's own clone */
  dev_t s_dev;
} __attribute__((preserve_access_index));

struct nfs_pgio_args {
  struct nfs_open_context *context;
} __attribute__((preserve_access_index));

/* READ and WRITE: tk_calldata (nfs_initiate_pgio) */
struct nfs_pgio_header {
  struct inode *inode;
  struct nfs_pgio_args args;
} __attribute__((preserve_access_index));

/* COMMIT: tk_calldata (nfs_initiate_commit) */
struct nfs_commit_data {
  struct inode *inode;
  struct nfs_open_context *context;
} __attribute__((preserve_access_index));

struct vm_area_struct {
  struct file *vm_file;
} __attribute__((preserve_access_index));

/* vma sits in an anonymous struct since 5.17; CO-RE finds it there */
struct vm_fault {
  struct vm_area_struct *vma;
} __attribute__((preserve_access_index));

#endif /* NFS_EBPF_SUNRPC_MIN_H */
