/* Fakes for tracer, kstats and identity used by nfs_ebpf_test (see
 * fake_kernel.c). */
#ifndef NFS_EBPF_FAKE_KERNEL_H
#define NFS_EBPF_FAKE_KERNEL_H

#include <linux/types.h>

#include "identity.h"
#include "kstats.h"
#include "nfs_ebpf.h"
#include "tracer.h"
#include "wire.h"

#define FAKE_STATS_FD 1001
#define FAKE_ERRORS_FD 1002
#define FAKE_RPC_FD 1003
#define FAKE_LOST_FD 1004
#define FAKE_MAX 64

typedef struct {
  uint64_t id;
  pod_identity_t identity;
  identity_state_t state; /* FINAL unless a test says otherwise */
  bool dead;              /* identity_resolve says not alive */
} fake_cgroup_t;

typedef struct {
  tracer_config_t tracer_config;
  int tracer_open_status;
  int tracer_opened, tracer_closed, syncs;
  int identities; /* created and not destroyed (the real one has a thread) */
  uint64_t lost[NFS_LOST_MAX];

  struct op_key stats_keys[FAKE_MAX];
  struct op_stats stats_vals[FAKE_MAX];
  size_t n_stats;
  struct err_key err_keys[FAKE_MAX];
  __u64 err_vals[FAKE_MAX];
  size_t n_errs;
  size_t deleted_stats, deleted_errs;
  /* the wire level: wire_open fails with wire_open_status */
  int wire_open_status;
  int wire_opened, wire_closed;
  wire_config_t wire_config;
  struct rpc_key rpc_keys[FAKE_MAX];
  struct rpc_stats rpc_vals[FAKE_MAX];
  size_t n_rpc;
  size_t deleted_rpc;
  uint64_t rpc_skipped;                      /* wire_skipped */
  int stats_read_status, errors_read_status; /* kstats_read's result */
  int delete_status;     /* non-zero: deletions fail with it */
  uint64_t late_count;   /* operations landing just before a deletion */
  bool take_unsupported; /* no lookup-and-delete (before Linux 5.14) */

  /* identity_cgroup_mode: NULL = cgroup v2, else the v1 controller. */
  const char *v1_controller;

  fake_cgroup_t cgroups[FAKE_MAX];
  size_t n_cgroups;
} fake_kernel_t;

extern fake_kernel_t fake;

void fake_reset(void);
void fake_add_pod(uint64_t id, const char *ns, const char *pod,
                  const char *container);
void fake_add_cgroup(uint64_t id, const char *name);
/* identity's answer for a cgroup added above becomes provisional (its
 * runtime state is not readable yet), or the pod's, final (it now is). */
void fake_set_provisional(uint64_t id);
void fake_resolve_to_pod(uint64_t id, const char *ns, const char *pod,
                         const char *container);
void fake_kill_cgroup(uint64_t id);
/* The op_stats value of a key, created zeroed if new. */
struct op_stats *fake_set_stats(uint64_t cgroup_id, uint32_t dev, uint32_t op);
/* The rpc_stats value of a key, created zeroed if new. */
struct rpc_stats *fake_set_rpc(uint64_t cgroup_id, uint32_t dev, uint32_t scope,
                               const char *proc);
void fake_set_error(uint64_t cgroup_id, uint32_t dev, uint32_t op, int err,
                    uint64_t count);

#endif
