/*
 * Tables behind op_names.h. Indexed by the enum values of bpf/nfs_ebpf.h,
 * so the order here is the order there.
 */
#include "collectd_compat.h"

#include "op_names.h"

static const char *const op_names[] = {
    [NFS_OP_READ] = "read",       [NFS_OP_WRITE] = "write",
    [NFS_OP_OPEN] = "open",       [NFS_OP_CLOSE] = "close",
    [NFS_OP_FSYNC] = "fsync",     [NFS_OP_GETATTR] = "getattr",
    [NFS_OP_SETATTR] = "setattr", [NFS_OP_LOOKUP] = "lookup",
    [NFS_OP_READDIR] = "readdir", [NFS_OP_CREATE] = "create",
    [NFS_OP_UNLINK] = "unlink",   [NFS_OP_RENAME] = "rename",
    [NFS_OP_MKDIR] = "mkdir",     [NFS_OP_RMDIR] = "rmdir",
};

static const char *const lost_reason_names[] = {
    [NFS_LOST_START_MAP_FULL] = "start_map_full",
    [NFS_LOST_STATS_MAP_FULL] = "stats_map_full",
    [NFS_LOST_ERRORS_MAP_FULL] = "errors_map_full",
    [NFS_LOST_MISSED_ENTRY] = "missed_entry",
    [NFS_LOST_MISSED_RETURN] = "missed_return",
    [NFS_LOST_RPC_STATS_MAP_FULL] = "rpc_stats_map_full",
    [NFS_LOST_RPC_MOUNT_UNKNOWN] = "rpc_mount_unknown",
    [NFS_LOST_RPC_PROGRAM_SKIPPED] = "rpc_program_skipped",
};

/* Sized by their initializers, not by the enums, so that the build fails
 * when an enum gains a value (before its _MAX) that has no name here. A
 * value inserted in the middle without a name leaves a NULL hole instead,
 * which the build cannot see: errno_names_test walks every index and
 * demands a name. */
_Static_assert(STATIC_ARRAY_SIZE(op_names) == NFS_OP_MAX,
               "every enum nfs_ebpf_op value needs a name in op_names");
_Static_assert(STATIC_ARRAY_SIZE(lost_reason_names) == NFS_LOST_MAX,
               "every enum nfs_ebpf_lost_reason value needs a name in "
               "lost_reason_names");

const char *op_name(unsigned int op) {
  return op < NFS_OP_MAX ? op_names[op] : NULL;
}

int op_from_name(const char *name) {
  if (name == NULL)
    return -1;
  for (int op = 0; op < NFS_OP_MAX; op++)
    if (op_names[op] != NULL && strcmp(op_names[op], name) == 0)
      return op;
  return -1;
}

const char *lost_reason_name(unsigned int reason) {
  return reason < NFS_LOST_MAX ? lost_reason_names[reason] : NULL;
}

int lost_reason_from_name(const char *name) {
  if (name == NULL)
    return -1;
  for (int reason = 0; reason < NFS_LOST_MAX; reason++)
    if (lost_reason_names[reason] != NULL &&
        strcmp(lost_reason_names[reason], name) == 0)
      return reason;
  return -1;
}
