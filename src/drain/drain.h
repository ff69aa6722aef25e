/*
 * Drain: the second stage of a read. Copies the two kernel maps (op_stats,
 * op_errors) into snapshots, and once resolve has bound each key to its
 * series, moves every key's cumulative values into it. A key whose cgroup
 * ended leaves the kernel map here, with its final values.
 *
 * Stages of one read: probe (bpf/) -> drain -> resolve -> series ->
 * dispatch; src/nfs_ebpf.c runs them in that order.
 */
#ifndef NFS_EBPF_DRAIN_H
#define NFS_EBPF_DRAIN_H

#include "kstats.h"
#include "series.h"
#include "tracer.h"
#include "wire.h"

typedef struct {
  kstats_snapshot_t stats;  /* op_stats: struct op_key -> struct op_stats */
  kstats_snapshot_t errors; /* op_errors: struct err_key -> __u64 */
  kstats_snapshot_t rpc;    /* rpc_stats: struct rpc_key -> struct rpc_stats
                               (empty without the wire level) */
} drain_t;

void drain_init(drain_t *d);
void drain_free(drain_t *d);

/* Copy the kernel maps (rpc_stats only with a wire level: NULL for none).
 * Returns 0, or the failed copy's negative errno (logged): then nothing of
 * this read may be staged or dispatched. */
int drain_read_maps(drain_t *d, tracer_t *tracer, wire_t *wire);

/* Move this read's values into the series (errors first: a retiring key's
 * errors must leave the map while its binding still exists). */
void drain_collect(drain_t *d, tracer_t *tracer, wire_t *wire,
                   series_table_t *series);

#endif /* NFS_EBPF_DRAIN_H */
