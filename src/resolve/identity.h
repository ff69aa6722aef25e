/*
 * Who did an NFS operation: the kernel side keys its counters by cgroup id;
 * this module turns a cgroup id into a Kubernetes namespace/pod/container,
 * or, for processes outside pods, into the cgroup's short name
 * (kubelet.service, "/" for the root cgroup).
 *
 * All the work happens here, never on the kernel's hot path: cgroup ids are
 * mapped to paths by cgroup_index (walk of the cgroup mount, on-demand
 * open_by_handle_at for ids never seen), container ids in those paths to
 * pods by runtime_state (containerd, CRI-O, Docker state files). Ended
 * cgroups keep their identity for tombstone_ttl, so the last interval of a
 * short-lived container is still attributed to it.
 *
 * A watcher thread (started by identity_create, joined by
 * identity_destroy) blocks in poll() on inotify: on the pods' cgroup
 * subtree (a new cgroup's id and path are recorded, and its identity
 * resolved and cached, within milliseconds of its mkdir) and on the
 * runtime state dirs (a bundle is parsed as soon as its state file is
 * written). So a pod created and deleted between two reads is still known
 * when the read finds its kernel counters. Without inotify (or watches),
 * the periodic rescan and on-demand resolution remain. The watcher thread
 * also does the periodic rescans, so the read callback never walks.
 *
 * Calls, and the watcher's work, are serialised by an internal mutex. A
 * rescan holds it only to change the index, one entry at a time (see
 * cgroup_index_set_lock): a lookup never waits for a whole walk.
 *
 * Bounds: inotify watches (MaxInotifyWatches, see max_watches), the index
 * (max_cgroups, max_containers), and what a pod may make the index hold
 * below its containers' cgroups (CGROUP_INDEX_*_BELOW_CONTAINER).
 */
#ifndef NFS_EBPF_IDENTITY_H
#define NFS_EBPF_IDENTITY_H

#include "collectd_compat.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  char ns[64];
  char pod[254];
  char container[64]; /* "POD" for sandbox / pod-level processes (conmon) */
  char cgroup[256];   /* filled only when !in_pod */
  bool in_pod;
} pod_identity_t;

/* cgroup name reported for an id that no longer exists and was never
 * seen (born and gone between two scans): see IDENTITY_UNKNOWN. */
#define IDENTITY_UNRESOLVED_CGROUP "unresolved"

typedef struct {
  const char
      *host_root; /* prefix of cgroup_root and state dirs; NULL or "/": none */
  const char
      *cgroup_root; /* NULL: "/sys/fs/cgroup"; v2, hybrid or v1 is detected */
  const char *const *state_dirs; /* NULL: runtime_state_default_dirs */
  size_t n_state_dirs;
  cdtime_t rescan_interval; /* 0: 60 s */
  cdtime_t tombstone_ttl;   /* 0: 5 min */
  size_t max_cgroups;       /* 0: CGROUP_INDEX_DEFAULT_MAX_ENTRIES */
  size_t max_containers;    /* 0: RUNTIME_DEFAULT_MAX_CONTAINERS */
  size_t max_file_size;     /* 0: 16 MiB */
  /* inotify watches, all together (cgroups, state dirs, bundles waiting
   * for their state file); 0: IDENTITY_DEFAULT_MAX_WATCHES or 1/8 of
   * fs.inotify.max_user_watches, whichever is lower */
  size_t max_watches;
  /* tests only: called once in the middle of each rescan's cgroup walk and
   * of each state dir listing, without the identity lock held */
  void (*scan_hook)(void *ctx);
  void *scan_hook_ctx;
  bool any_owner;  /* tests only: accept state files not owned by root */
  bool no_inotify; /* tests only: no inotify, no watcher thread */
  bool no_watcher; /* tests only: inotify read by identity_tick only */
} identity_config_t;

#define IDENTITY_DEFAULT_MAX_WATCHES 4096

typedef enum {
  IDENTITY_CGROUP_V2,     /* unified hierarchy at cgroup_root */
  IDENTITY_CGROUP_HYBRID, /* v1 controllers + v2 at cgroup_root/unified */
  IDENTITY_CGROUP_V1,     /* v1 only: ids of one controller's hierarchy */
} identity_cgroup_mode_t;

typedef struct identity_s identity_t;

/* Detects the cgroup layout, scans cgroups and runtime state once. NULL
 * (logged) if the cgroup hierarchy cannot be opened. */
identity_t *identity_create(const identity_config_t *cfg);
void identity_destroy(identity_t *id);

/* Which hierarchy cgroup ids must come from. For IDENTITY_CGROUP_V1,
 * *v1_controller (if not NULL) is set to "memory", "pids" or "cpuset":
 * the BPF side must then read that controller's cgroup id instead of
 * bpf_get_current_cgroup_id(). */
identity_cgroup_mode_t identity_cgroup_mode(const identity_t *id,
                                            const char **v1_controller);

/* The same for the BPF side: an enum nfs_ebpf_cgroup_controller (bpf/
 * nfs_ebpf.h), NFS_CGROUP_V2 on v2 and hybrid hosts, else the v1 controller
 * whose ids name pods. The kernel's index of that controller is resolved by
 * the BPF program itself (CO-RE), never taken from /proc/cgroups. */
uint32_t identity_bpf_cgroup_controller(const identity_t *id);

/* How far an answer of identity_resolve can be trusted. */
typedef enum {
  /* A pod's process (in_pod), or a plain cgroup whose name will not
   * improve: it names no container nor pod, or its container's state says
   * it is in no pod, is refused, or names another pod than the cgroup
   * (both logged). */
  IDENTITY_FINAL,
  /* The cgroup's short name for now: it names a container or a pod (the
   * pod's own cgroup, CRI-O's conmon) whose runtime state is not readable
   * yet (its bundle is being written, or a runtime we do not read). Asked
   * again later, it may be a pod. */
  IDENTITY_PROVISIONAL,
  /* Not found even after resolving the id on demand: a cgroup created and
   * removed between two scans, or one whose tombstone expired. *out is a
   * plain cgroup named IDENTITY_UNRESOLVED_CGROUP, so a caller may
   * aggregate such counts under it rather than drop them. */
  IDENTITY_UNKNOWN,
} identity_state_t;

typedef struct {
  identity_state_t state;
  /* The cgroup exists, or ended less than tombstone_ttl ago; always false
   * with IDENTITY_UNKNOWN. False means the kernel map keys of that id can
   * be garbage-collected. */
  bool alive;
} identity_answer_t;

/* Everything identity knows of a cgroup id, in one call (the lock taken
 * once): fills *out with its pod or its short name, and says how final
 * that is and whether the cgroup is alive. An id never seen is first
 * resolved on demand (open_by_handle_at; where the hierarchy does not
 * allow that, a walk, at most one per tick). No identity: UNKNOWN. */
identity_answer_t identity_resolve(identity_t *id, uint64_t cgroup_id,
                                   pod_identity_t *out);

/* Once per read interval: inotify events not yet handled by the watcher,
 * periodic rescan, expiry of tombstones. */
void identity_tick(identity_t *id, cdtime_t now);

/* Tests only: waits until the watcher thread has handled every inotify
 * event queued before the call (it is back in poll() and nothing is left
 * to read), so that a test can remove what it created only once the
 * watcher has seen it, whatever the scheduler does. True at once without
 * a watcher thread (nothing will handle the events); false if timeout
 * passed first. */
bool identity_watcher_settle(identity_t *id, cdtime_t timeout);

#endif /* NFS_EBPF_IDENTITY_H */
