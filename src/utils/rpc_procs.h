/*
 * RPC procedures of the wire level as series ops. A series' `op` is an
 * enum nfs_ebpf_op for operations; for the wire level it is an RPC op:
 * RPC_OP_FLAG, the scope (enum nfs_ebpf_rpc_scope) and the index of the
 * procedure's name in a table this module fills as names come from the
 * kernel (mountstats' names: READ, GETATTR, ...; on NFSv4 the operation).
 * So one op_key (cgroup id, device, op) names one rpc_stats key, and the
 * series machinery serves both levels.
 */
#ifndef NFS_EBPF_RPC_PROCS_H
#define NFS_EBPF_RPC_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "nfs_ebpf.h"

#define RPC_OP_FLAG 0x80000000U
#define RPC_OP_SCOPE_SHIFT 16
/* Distinct procedure names kept; NFSv3 and v4.2 have about 90 together. */
#define RPC_PROCS_MAX 1024

/* The op of an rpc_key's procedure and scope. Returns 0, or -errno (logged
 * once) when the name is not a procedure name (not NUL-terminated, empty,
 * or holding anything but A-Z, 0-9 and '_') or the table is full. */
int rpc_op_of(const char proc[NFS_EBPF_PROC_LEN], uint32_t scope, uint32_t *op);

/* The key an rpc_stats key is bound to series by: its cgroup id and device,
 * and the RPC op of its procedure and scope. 0 or -errno (logged once). */
int rpc_binding_key(const struct rpc_key *k, struct op_key *out);

static inline bool rpc_op_is_rpc(uint32_t op) {
  return (op & RPC_OP_FLAG) != 0;
}
static inline uint32_t rpc_op_scope(uint32_t op) {
  return (op & ~RPC_OP_FLAG) >> RPC_OP_SCOPE_SHIFT;
}
/* The procedure's name; NULL if op is not an RPC op from rpc_op_of. */
const char *rpc_op_proc(uint32_t op);

#endif /* NFS_EBPF_RPC_PROCS_H */
