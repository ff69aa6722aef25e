/*
 * What a cgroup path says about the process inside it: the Kubernetes pod
 * uid and the container id that kubelet and the runtimes encode in
 * directory names, and the short name used for processes outside pods.
 * Pure string work; no file system access.
 */
#ifndef NFS_EBPF_CGROUP_PATH_H
#define NFS_EBPF_CGROUP_PATH_H

#include "runtime_kind.h"

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_CONTAINER_ID_LEN 64 /* hex characters */
#define CGROUP_POD_UID_MAX 36      /* 8-4-4-4-12 uuid; static pods: 32 hex */

typedef struct {
  char pod_uid[CGROUP_POD_UID_MAX + 1];           /* "" if none; '-' form */
  char container_id[CGROUP_CONTAINER_ID_LEN + 1]; /* "" if none; lower hex */
} cgroup_path_info_t;

/* Parses a cgroup path relative to its hierarchy's root ("/kubepods.slice/
 * .../cri-containerd-<id>.scope", "/kubepods/burstable/pod<uid>/<id>",
 * "/system.slice/kubelet.service", "/"). The pod component and the
 * container id are the topmost ones (the container's only below the pod
 * component), so crun's extra "container" sub-cgroup, and anything a pod
 * creates below its container's cgroup (whatever names it copies),
 * resolve to that container; conmon scopes never give a container id.
 * Anything unrecognised leaves the fields empty. */
void cgroup_path_parse(const char *path, cgroup_path_info_t *info);

/* How far below a container's own cgroup path is: -1 outside containers,
 * 0 for the container's cgroup (the topmost component naming one, as
 * cgroup_path_parse takes it), 1 for its children, and so on. */
int cgroup_path_below_container(const char *path);

/* If one path component names a container, stores its 64-hex id and (if
 * runtime is not NULL) the runtime its prefix belongs to, RUNTIME_KIND_PLAIN
 * for a bare id, and returns true. */
bool cgroup_path_component_container(const char *component, size_t len,
                                     char id[CGROUP_CONTAINER_ID_LEN + 1],
                                     runtime_kind_t *runtime);

/* If one component is a pod's ("pod<uid>" or "...-pod<uid_>.slice"), stores
 * the uid in '-' form and returns true. */
bool cgroup_path_component_pod(const char *component, size_t len,
                               char uid[CGROUP_POD_UID_MAX + 1]);

/* The name reported for a process outside pods: the last component of the
 * path, skipping crun's generic "container" leaf; "/" for the root. A
 * component longer than size - 1 is cut (cgroup names are at most
 * NAME_MAX = 255 bytes, so 256 always suffices). */
void cgroup_path_short_name(const char *path, char *buf, size_t size);

#endif /* NFS_EBPF_CGROUP_PATH_H */
