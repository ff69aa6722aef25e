/*
 * Loader of the wire level's BPF object (bpf/nfs_wire.bpf.c): per NFS RPC,
 * what /proc/self/mountstats counts, charged to the cgroup that caused it.
 * Its programs sit in sunrpc (where RPCs are counted) and nfs (where writers
 * and mounts are learnt); they are attached once both modules are loaded
 * and again whenever one of them is reloaded. Its maps, made at open, live
 * until wire_close, so counters stay cumulative across module reloads.
 *
 * The wire level reads those modules' structures through their BTF
 * (CONFIG_DEBUG_INFO_BTF_MODULES, 5.11+). It attaches as tp_btf and fentry
 * programs, or as raw_tp and kprobe ones in AttachMode "kprobe" and where
 * the former cannot attach in "auto". Where it cannot attach at all it
 * says so once and stays off; the operations (tracer.h) are traced
 * regardless.
 */
#ifndef NFS_EBPF_WIRE_H
#define NFS_EBPF_WIRE_H

#include <stdint.h>

#include "nfs_ebpf.h"
#include "tracer.h"

typedef struct {
  /* as tracer_config_t */
  tracer_attach_mode_t mode;
  uint64_t bucket_bounds_ns[NFS_EBPF_MAX_BUCKETS];
  uint32_t nr_buckets;
  uint32_t max_entries;
  uint32_t cgroup_controller;
  const char *sys_module_dir;
  /* the operations' lost_events map (tracer_lost_fd): one set of counters */
  int lost_events_fd;
} wire_config_t;

typedef struct wire_s wire_t;

/* Creates the maps. Returns 0 or -errno (logged: the wire level is off). */
int wire_open(const wire_config_t *cfg, wire_t **out);

/* Attaches when sunrpc and nfs are loaded, re-attaches after either was
 * reloaded, detaches when one is gone. Call every read; cheap when nothing
 * changed. Returns the number of programs attached. */
int wire_sync_modules(wire_t *w);

/* The rpc_stats hash map (struct rpc_key -> struct rpc_stats). */
int wire_stats_fd(const wire_t *w);

/* RPCs the kernel skipped the counting program for since wire_open
 * (NFS_LOST_RPC_PROGRAM_SKIPPED): the sum of its recursion_misses over
 * every attach. 0 without a wire level or before Linux 5.12. */
uint64_t wire_skipped(wire_t *w);

void wire_close(wire_t *w);

#endif /* NFS_EBPF_WIRE_H */
