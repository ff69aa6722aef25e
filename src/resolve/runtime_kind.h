/*
 * The container runtimes nfs_ebpf tells apart: which one a cgroup name's
 * prefix belongs to (cgroup_path.c) and which one's state file a container
 * was read from (runtime_state.c, runtime_json.c). One enum for both.
 *
 * A new runtime goes in four places, each a table row:
 *   - a value here;
 *   - its cgroup name prefix: `prefixes` in cgroup_path.c
 *     (cgroup_path_component_container);
 *   - where its bundles are below a state dir and what its state file is
 *     called, one row per layout: runtime_layout_defs in runtime_state.c
 *     (and its default state dir in runtime_state_default_dirs);
 *   - where that file keeps the Kubernetes labels and their keys:
 *     runtime_json_defs in runtime_json.c (the "hook" is data: the path to
 *     the labels object, and whether linux.cgroupsPath is read).
 * A runtime named only in cgroups (no state file read, like libpod) needs
 * the first two.
 */
#ifndef NFS_EBPF_RUNTIME_KIND_H
#define NFS_EBPF_RUNTIME_KIND_H

typedef enum {
  RUNTIME_KIND_NONE = 0, /* no container */
  RUNTIME_KIND_PLAIN,    /* a bare id (cgroupfs driver: containerd, Docker) */
  RUNTIME_KIND_CONTAINERD,
  RUNTIME_KIND_CRIO,
  RUNTIME_KIND_DOCKER,
  RUNTIME_KIND_LIBPOD, /* podman: named in cgroups, no state file read */
} runtime_kind_t;

#endif /* NFS_EBPF_RUNTIME_KIND_H */
