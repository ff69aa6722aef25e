/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What both BPF objects (nfs_ebpf.bpf.c, nfs_wire.bpf.c) aggregate with:
 * the histogram's bucket bounds, set by user space before load, and the
 * lost-event counters, one array both objects' instances share (user space
 * reuses its fd), indexed by enum nfs_ebpf_lost_reason.
 */
#ifndef NFS_EBPF_AGGREGATE_BPF_H
#define NFS_EBPF_AGGREGATE_BPF_H

/* Upper bounds of the buckets (ns), strictly increasing; nr_buckets of them. */
const volatile __u64 bucket_bounds_ns[NFS_EBPF_MAX_BUCKETS] = {};
const volatile __u32 nr_buckets = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, NFS_LOST_MAX);
  __type(key, __u32);
  __type(value, __u64);
} lost_events SEC(".maps");

static __always_inline void count_lost(__u32 reason) {
  __u64 *v = bpf_map_lookup_elem(&lost_events, &reason);

  if (v)
    __sync_fetch_and_add(v, 1);
}

/* One more in the bucket of `value` (not cumulative: user space sums).
 * A value above the last bound lands in no bucket: the +Inf bucket is the
 * count the caller keeps. */
static __always_inline void bucket_add(__u64 buckets[NFS_EBPF_MAX_BUCKETS],
                                       __u64 value) {
  __u32 n = nr_buckets;

  for (__u32 i = 0; i < NFS_EBPF_MAX_BUCKETS; i++) {
    if (i >= n)
      break;
    if (value <= bucket_bounds_ns[i]) {
      __sync_fetch_and_add(&buckets[i], 1);
      break;
    }
  }
}

#endif /* NFS_EBPF_AGGREGATE_BPF_H */
