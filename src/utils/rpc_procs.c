/*
 * RPC procedure names as series ops (see rpc_procs.h). Only the read
 * callback uses this table, so it needs no lock.
 */
#include "collectd_compat.h"

#include "log_once.h"
#include "rpc_procs.h"

#include <errno.h>

static char procs[RPC_PROCS_MAX][NFS_EBPF_PROC_LEN];
static uint32_t n_procs;

static bool valid_proc(const char proc[NFS_EBPF_PROC_LEN]) {
  size_t len = strnlen(proc, NFS_EBPF_PROC_LEN);
  if (len == 0 || len == NFS_EBPF_PROC_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((proc[i] >= 'A' && proc[i] <= 'Z') ||
          (proc[i] >= '0' && proc[i] <= '9') || proc[i] == '_'))
      return false;
  return true;
}

int rpc_op_of(const char proc[NFS_EBPF_PROC_LEN], uint32_t scope,
              uint32_t *op) {
  if (!valid_proc(proc) || scope >= NFS_RPC_SCOPE_MAX) {
    log_once(LOG_ERR, "nfs_ebpf:rpc-proc-name",
             "nfs_ebpf plugin: an RPC procedure name from the kernel is not "
             "one (not a short upper-case name, or scope %" PRIu32
             "); its RPCs are not reported (logged once).",
             scope);
    return -EINVAL;
  }
  uint32_t i = 0;
  while (i < n_procs && strcmp(procs[i], proc) != 0)
    i++;
  if (i == n_procs) {
    if (n_procs == RPC_PROCS_MAX) {
      log_once(LOG_ERR, "nfs_ebpf:rpc-procs-full",
               "nfs_ebpf plugin: more than %d RPC procedure names; the RPCs "
               "of the others are not reported (logged once).",
               RPC_PROCS_MAX);
      return -ENOSPC;
    }
    sstrncpy(procs[n_procs++], proc, NFS_EBPF_PROC_LEN);
  }
  *op = RPC_OP_FLAG | scope << RPC_OP_SCOPE_SHIFT | i;
  return 0;
}

const char *rpc_op_proc(uint32_t op) {
  uint32_t i = op & ((1U << RPC_OP_SCOPE_SHIFT) - 1);
  return rpc_op_is_rpc(op) && i < n_procs ? procs[i] : NULL;
}

int rpc_binding_key(const struct rpc_key *k, struct op_key *out) {
  uint32_t op;
  int status = rpc_op_of(k->proc, k->scope, &op);
  if (status != 0)
    return status;
  *out = (struct op_key){.cgroup_id = k->cgroup_id, .dev = k->dev, .op = op};
  return 0;
}
