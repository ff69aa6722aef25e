/*
 * Dispatch: the last stage of a read. Turns each series into collectd
 * value lists, named as identifier.h says, so that write_prometheus,
 * write_graphite and network carry them on.
 */
#ifndef NFS_EBPF_DISPATCH_H
#define NFS_EBPF_DISPATCH_H

#include "collectd_compat.h"
#include "histogram.h"
#include "nfs_ebpf.h"
#include "series.h"

/* Registers the type the buckets of h travel as (one data source per
 * bucket; docs/identifiers.md, "The bucket type") and logs its types.db
 * line; with `wire`, also the wire level's types (its RTT buckets and its
 * columns). Call before dispatch_series, with the histogram it will be
 * given. Returns 0, or -1 (logged). */
int dispatch_register_buckets(const histogram_t *h, bool wire);
void dispatch_unregister_buckets(void);

/* Every series of the table, stamped `now`. */
void dispatch_series(series_table_t *series, const histogram_t *histogram,
                     cdtime_t now);

/* The lost-event counters, zeros included: a missing series would look
 * like "nothing lost" for the wrong reason. */
void dispatch_lost(const uint64_t lost[NFS_LOST_MAX], cdtime_t now);

#endif /* NFS_EBPF_DISPATCH_H */
