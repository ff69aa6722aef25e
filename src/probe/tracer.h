/*
 * Loader of the nfs_ebpf BPF programs: opens the object, attaches the NFS
 * client hooks when the nfs / nfsv4 modules appear (they load at the first
 * NFS mount, possibly long after collectd started) and detaches them when
 * the modules go away. The kernel maps it creates outlive every attach and
 * detach, so counters stay cumulative.
 */
#ifndef NFS_EBPF_TRACER_H
#define NFS_EBPF_TRACER_H

#include <stdint.h>

#include "nfs_ebpf.h"

typedef enum {
  TRACER_ATTACH_AUTO,   /* fentry/fexit, falling back to kprobes */
  TRACER_ATTACH_FENTRY, /* fentry/fexit or fail */
  TRACER_ATTACH_KPROBE, /* kprobe/kretprobe only */
} tracer_attach_mode_t;

typedef struct {
  tracer_attach_mode_t mode;
  /* Upper bounds of the latency buckets in ns, strictly increasing;
   * nr_buckets of them (0..NFS_EBPF_MAX_BUCKETS). */
  uint64_t bucket_bounds_ns[NFS_EBPF_MAX_BUCKETS];
  uint32_t nr_buckets;
  /* Capacity (keys) of op_stats, op_errors, op_starts and start_refused;
   * 0: NFS_EBPF_DEFAULT_MAX_ENTRIES. */
  uint32_t max_entries;
  /* enum nfs_ebpf_cgroup_controller: cgroup v2 ids, or the cgroup v1
   * controller whose hierarchy identifies pods. */
  uint32_t cgroup_controller;
  /* Where the kernel lists loaded modules; NULL = "/sys/module". With
   * HostRoot this is "<HostRoot>/sys/module". */
  const char *sys_module_dir;
} tracer_config_t;

typedef struct tracer_s tracer_t;

/* Checks BTF and privileges, validates cfg and creates the kernel maps.
 * Attaches nothing yet (see tracer_sync_modules). Returns 0 or -errno, after
 * one ERROR line that says what to do. */
int tracer_open(const tracer_config_t *cfg, tracer_t **out);

/* Attaches the hooks of each NFS module that is loaded and not attached
 * yet, detaches those whose module disappeared or was reloaded. Call it
 * every read interval; cheap when nothing changed. Returns the number of
 * programs attached in total (0 while no NFS module is loaded), or -errno
 * when FENTRY mode was forced and is impossible. */
int tracer_sync_modules(tracer_t *t);

/* File descriptors of the op_stats (struct op_key -> struct op_stats) and
 * op_errors (struct err_key -> __u64) hash maps, valid until tracer_close. */
int tracer_stats_fd(const tracer_t *t);
int tracer_errors_fd(const tracer_t *t);

/* Copies the lost-event counters (cumulative, index enum
 * nfs_ebpf_lost_reason). Returns 0 or -errno. */
int tracer_read_lost(tracer_t *t, uint64_t lost[NFS_LOST_MAX]);

/* File descriptor of the lost_events array map, which the wire level's
 * object shares. */
int tracer_lost_fd(const tracer_t *t);

/* libbpf's words about the last failure since tracer_libbpf_reset (the
 * verifier's reason when it refused a program): tracer_open installs the
 * log hook every BPF object of the plugin goes through. "" if none. */
void tracer_libbpf_reset(void);
const char *tracer_libbpf_warning(void);

/* Detaches everything and frees t (NULL is fine). */
void tracer_close(tracer_t *t);

#endif /* NFS_EBPF_TRACER_H */
