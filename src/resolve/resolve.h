/*
 * Resolve: the third stage of a read. Binds each kernel key (cgroup id,
 * device, op) to the series of its labels: the cgroup id becomes a pod or
 * a cgroup name (identity.c), the device an NFS server and export
 * (mount_table.c). Keys of ended cgroups are marked for retirement.
 */
#ifndef NFS_EBPF_RESOLVE_H
#define NFS_EBPF_RESOLVE_H

#include "identity.h"
#include "kstats.h"
#include "mount_table.h"
#include "series.h"

#include <stdint.h>

/* Reads a key may stay unresolved (pod state or mount not visible yet)
 * before it is reported under a fallback name. Waiting loses nothing: the
 * kernel values are cumulative. */
#define RESOLVE_GRACE_READS 3

typedef struct {
  mount_table_t *mounts;
  identity_t *identity;
  series_table_t *series;
  uint64_t read_number; /* this read's number (the series table's stamp) */
} resolve_t;

/* Bind every key of an op_stats snapshot to its series. */
void resolve_keys(const resolve_t *r, const kstats_snapshot_t *stats);

/* The `cgroup` label of RPCs no process can be charged with
 * (NFS_EBPF_CGROUP_UNATTRIBUTED), and of the NFS client's own work on a
 * server's shared client: lease renewal, state recovery
 * (NFS_EBPF_CGROUP_NFS_CLIENT). */
#define RESOLVE_CGROUP_UNATTRIBUTED "unattributed"
#define RESOLVE_CGROUP_NFS_CLIENT "nfs-client"

/* The same for an rpc_stats snapshot. RPCs on a server's shared client
 * (NFS_RPC_SCOPE_SERVER) are reported under the server with an empty
 * export: they belong to every mount of it. */
void resolve_rpc_keys(const resolve_t *r, const kstats_snapshot_t *rpc);

#endif /* NFS_EBPF_RESOLVE_H */
