/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The cgroup id that names the current task's pod, as both BPF objects
 * (nfs_ebpf.bpf.c, nfs_wire.bpf.c) charge their events to it: the cgroup v2
 * id, or on v1-only hosts the id of the task's cgroup in the configured v1
 * controller's hierarchy (enum nfs_ebpf_cgroup_controller).
 */
#ifndef NFS_EBPF_CURRENT_CGROUP_BPF_H
#define NFS_EBPF_CURRENT_CGROUP_BPF_H

#include "core_fixes.bpf.h"

/* enum nfs_ebpf_cgroup_controller: whose cgroup ids name pods; set by user
 * space before load, the same in every object. */
const volatile __u32 cgroup_controller = NFS_CGROUP_V2;

/* css_set.subsys[] length as declared in vmlinux_min.h: the bound of the
 * relocated enum cgroup_subsys_id value used as an index into it. */
#define CSS_SET_SUBSYS_LEN                                                     \
  ((int)(sizeof(((struct css_set *)0)->subsys) /                               \
         sizeof(((struct css_set *)0)->subsys[0])))

/*
 * css_set.subsys[] index of the configured v1 controller: the kernel's own
 * enum cgroup_subsys_id value, relocated at load time. Its position in
 * /proc/cgroups is not it: since 6.12, commit af000ce85293 ("cgroup: Do not
 * report unavailable v1 controllers in /proc/cgroups"), that file leaves out
 * controllers without v1 files (memory with CONFIG_MEMCG_V1=n). Only the
 * configured case survives the verifier's dead-code pruning (rodata), so a
 * kernel without one of the other controllers still loads. -1: unknown.
 */
static __always_inline int v1_subsys_index(void) {
  switch (cgroup_controller) {
  case NFS_CGROUP_V1_MEMORY:
    if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
      return bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
    break;
  case NFS_CGROUP_V1_PIDS:
    if (bpf_core_enum_value_exists(enum cgroup_subsys_id, pids_cgrp_id))
      return bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
    break;
  case NFS_CGROUP_V1_CPUSET:
    if (bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuset_cgrp_id))
      return bpf_core_enum_value(enum cgroup_subsys_id, cpuset_cgrp_id);
    break;
  }
  return -1;
}

static __always_inline __u64 current_cgroup_id(void) {
  struct task_struct *task;
  struct css_set *cset;
  struct cgroup_subsys_state **slot;
  struct cgroup_subsys_state *css = NULL;
  struct kernfs_node *kn;
  int idx;

  if (cgroup_controller == NFS_CGROUP_V2)
    return bpf_get_current_cgroup_id();

  /* On a v1-only host bpf_get_current_cgroup_id() is the v2 root for
   * everyone, so follow the chosen controller's hierarchy instead. */
  idx = v1_subsys_index();
  if (idx < 0 || idx >= CSS_SET_SUBSYS_LEN)
    return 0;
  task = (struct task_struct *)bpf_get_current_task();
  cset = BPF_CORE_READ(task, cgroups);
  if (!cset)
    return 0;
  slot = __builtin_preserve_access_index(&cset->subsys[0]);
  if (bpf_probe_read_kernel(&css, sizeof(css), slot + idx) || !css)
    return 0;
  kn = BPF_CORE_READ(css, cgroup, kn);
  if (!kn)
    return 0;
  return kernfs_node_id(kn);
}

#endif /* NFS_EBPF_CURRENT_CGROUP_BPF_H */
