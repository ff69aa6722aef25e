/*
 * Names of the NFS operations and lost-event reasons as they appear in
 * nfs_ebpf's identifiers (docs/identifiers.md) and in the `op` / `reason`
 * labels. The enums live in bpf/nfs_ebpf.h; the tables in op_names.c are
 * indexed by them, and static assertions there fail the build when an enum
 * grows without a name.
 */
#ifndef NFS_EBPF_OP_NAMES_H
#define NFS_EBPF_OP_NAMES_H

#include <linux/types.h>

#include "nfs_ebpf.h"

/* "read", "write", ...; NULL for a value outside the enum (caller logs:
 * a number from the kernel that we cannot name must not become a label). */
const char *op_name(unsigned int op);

/* Inverse of op_name; -1 when the name is unknown. */
int op_from_name(const char *name);

/* "start_map_full", "stats_map_full", "errors_map_full", "missed_entry",
 * "missed_return"; NULL outside the enum. */
const char *lost_reason_name(unsigned int reason);

/* Inverse of lost_reason_name; -1 when unknown. */
int lost_reason_from_name(const char *name);

#endif /* NFS_EBPF_OP_NAMES_H */
