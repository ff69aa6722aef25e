/*
 * Container runtime state on the node: which Kubernetes namespace, pod and
 * container a container id belongs to, read from the runtimes' own state
 * files (no Kubernetes API, no runtime socket):
 *
 *   containerd (CRI)
 * <state>/io.containerd.runtime.v2.task/k8s.io/<id>/config.json containerd v1
 * <state>/io.containerd.runtime.v1.linux/k8s.io/<id>/config.json CRI-O
 * <state>/overlay-containers/<id>/userdata/config.json Docker
 * <state>/containers/<id>/config.v2.json (cri-dockerd labels)
 *
 * Every configured state directory is probed for all four layouts. The
 * files are written by the runtimes from data the pod's author controls,
 * so they are read defensively (safe_file.h), parsed by a streaming parser
 * that keeps only the few fields needed, and every extracted name is
 * validated; a problem is logged once and the container is then treated as
 * unknown (the caller falls back to the cgroup name).
 *
 * Not thread-safe: one owner (identity.c) calls it under its lock, from
 * the read callback and from its watcher thread (see runtime_state_set_lock
 * for how scans share that lock).
 *
 * Three parts: runtime_state.c (state dirs, layouts, scans, inotify; this
 * API), container_table.c (the containers known, by id, and their bounds)
 * and runtime_json.c (one state file to one runtime_container_t). Where a
 * new runtime goes: runtime_kind.h.
 */
#ifndef NFS_EBPF_RUNTIME_STATE_H
#define NFS_EBPF_RUNTIME_STATE_H

#include "collectd_compat.h"

#include "runtime_kind.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define RUNTIME_ID_LEN 64
#define RUNTIME_NS_MAX 63        /* DNS-1123 label */
#define RUNTIME_POD_MAX 253      /* DNS-1123 subdomain */
#define RUNTIME_CONTAINER_MAX 63 /* DNS-1123 label */
#define RUNTIME_UID_MAX 36
#define RUNTIME_CGROUPS_PATH_MAX 255
#define RUNTIME_DEFAULT_MAX_CONTAINERS 16384
/* Layouts probed in each state dir, one inotify watch each. */
#define RUNTIME_LAYOUTS_PER_DIR 4
/* The name given to pod sandbox (pause / infra) containers, as kubelet and
 * CRI-O call them. */
#define RUNTIME_SANDBOX_NAME "POD"

typedef struct {
  char id[RUNTIME_ID_LEN + 1];
  runtime_kind_t kind; /* of the layout read from: containerd, CRI-O, Docker */
  bool is_pod;         /* namespace, pod and container are valid */
  bool sandbox;        /* the pod's sandbox/infra container */
  char ns[RUNTIME_NS_MAX + 1];
  char pod[RUNTIME_POD_MAX + 1];
  char container[RUNTIME_CONTAINER_MAX + 1]; /* "POD" for sandboxes */
  char pod_uid[RUNTIME_UID_MAX + 1];         /* "" if the runtime omits it */
  char cgroups_path[RUNTIME_CGROUPS_PATH_MAX + 1]; /* linux.cgroupsPath */
  bool alive; /* bundle present at the last scan */
} runtime_container_t;

typedef struct {
  const char *host_root;         /* prefix for every state dir; NULL or "/" */
  const char *const *state_dirs; /* NULL: runtime_state_default_dirs */
  size_t n_state_dirs;
  size_t max_file_size;      /* 0: SAFE_FILE_DEFAULT_MAX_SIZE */
  size_t max_containers;     /* 0: RUNTIME_DEFAULT_MAX_CONTAINERS */
  cdtime_t tombstone_ttl;    /* how long removed bundles are kept */
  size_t max_bundle_watches; /* 0 (or more): 1024; bundles watched
                                while their state file is missing */
  bool any_owner;            /* tests only: accept non-root files */
  bool no_inotify;           /* tests only */
} runtime_state_config_t;

typedef struct runtime_state_s runtime_state_t;

/* containerd, k3s/RKE2, microk8s, k0s, CRI-O, Docker; NULL-terminated. */
extern const char *const runtime_state_default_dirs[];

/* Never NULL on success even if no state dir exists yet (they are probed
 * again on every full rescan). NULL only on allocation failure. */
runtime_state_t *runtime_state_create(const runtime_state_config_t *cfg);
void runtime_state_destroy(runtime_state_t *rs);

/* The owner's mutex, held around every call. With one set, a scan of a
 * layout (runtime_state_rescan, and runtime_state_poll's re-listings) lists
 * it without the lock and takes the lock for one bundle at a time, so the
 * owner's other threads wait for one bundle's read at most. No pointer
 * returned by runtime_state_find may be kept across such a call.
 * scan_hook (tests; may be NULL) is called once per layout listing,
 * without the lock. */
void runtime_state_set_lock(runtime_state_t *rs, pthread_mutex_t *lock,
                            void (*scan_hook)(void *ctx), void *ctx);

/* Re-probes every state dir and layout and re-reads changed bundles
 * (unchanged files, by dev/inode/size/mtime, are not parsed again).
 * Returns the number of live containers or -errno. */
int runtime_state_rescan(runtime_state_t *rs, cdtime_t now);

/* Drains inotify events: re-lists the layouts that changed, or everything
 * after IN_Q_OVERFLOW; retries bundles whose config was not written yet
 * (such a bundle directory, and CRI-O's userdata/, is watched until its
 * state file is read, so that the file's close or rename is an event too);
 * drops tombstones older than the ttl. Returns how many layouts were
 * re-listed. Never blocks. */
int runtime_state_poll(runtime_state_t *rs, cdtime_t now);

/* The inotify fd to poll() for POLLIN (then call runtime_state_poll), or
 * -1 without inotify. */
int runtime_state_inotify_fd(const runtime_state_t *rs);

/* The container (live or tombstone) with that 64-hex id. A live one's
 * state file is checked again (stat; parsed again only if it changed). An
 * id not known yet is looked up on demand in every layout (a handful of
 * openat calls); misses are remembered until the next full rescan. NULL if
 * unknown. */
const runtime_container_t *runtime_state_find(runtime_state_t *rs,
                                              const char *id, cdtime_t now);

/* Some container of the pod with that uid, the sandbox preferred (for
 * processes in the pod's cgroup but in no container, e.g. conmon). */
const runtime_container_t *runtime_state_find_pod(runtime_state_t *rs,
                                                  const char *pod_uid);

size_t runtime_state_count(const runtime_state_t *rs);

#endif /* NFS_EBPF_RUNTIME_STATE_H */
