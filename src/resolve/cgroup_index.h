/*
 * Index of one cgroup hierarchy: cgroup id -> path below the hierarchy's
 * mount, built by walking the mount and kept up to date by rescans and by
 * resolving single unknown ids. Cgroups that disappear stay as tombstones
 * for a while, so the last interval of a short-lived container can still be
 * attributed; tombstones are bounded in time (the caller's ttl) and memory
 * (max_entries, oldest tombstones evicted first).
 *
 * The id is what bpf_get_current_cgroup_id() (or a v1 controller's kernfs
 * id) returns: the 8-byte FILEID_KERNFS handle of the directory, which
 * equals st_ino on 64-bit 5.5+ kernels. On file systems that are not
 * kernfs (a test tree in a temp dir) st_ino is used.
 */
#ifndef NFS_EBPF_CGROUP_INDEX_H
#define NFS_EBPF_CGROUP_INDEX_H

#include "collectd_compat.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CGROUP_INDEX_DEFAULT_MAX_ENTRIES 65536
/* Deeper trees than this are not walked (kubelet nests 5 levels). */
#define CGROUP_INDEX_MAX_DEPTH 32
/* Below a container's own cgroup the pod decides what exists (a delegated
 * subtree, systemd inside the container, crun's "container" leaf): at most
 * this many cgroups, this many levels deep, are indexed per container by a
 * walk (and this many of its children from watch events). The rest cost
 * no entry and no watch; resolved on demand, their path still names the
 * container (cgroup_path_parse takes the topmost container component). */
#define CGROUP_INDEX_MAX_BELOW_CONTAINER 32
#define CGROUP_INDEX_MAX_DEPTH_BELOW_CONTAINER 4

typedef struct cgroup_index_s cgroup_index_t;

typedef struct {
  uint64_t id;
  const char *path;    /* "/" for the root, "/a/b" below; owned by the index */
  bool alive;          /* seen by the last scan or lookup */
  cdtime_t dead_since; /* when it was first missed; 0 while alive */
  uint64_t serial;     /* changes when the id starts naming another path */
} cgroup_index_entry_t;

/* mount_path: the hierarchy's mount point (with any host-root prefix).
 * max_entries: 0 for the default. Returns NULL (logged) if the mount
 * cannot be opened. */
cgroup_index_t *cgroup_index_create(const char *mount_path, size_t max_entries);
void cgroup_index_destroy(cgroup_index_t *idx);

/* The owner's mutex, held around every call into the index. With one
 * set, a walk (cgroup_index_rescan, also from cgroup_index_watch_poll on
 * queue overflow) drops it for its file system work and takes it only to
 * change the index, one directory entry at a time: the owner's other
 * threads wait for one entry at most, never for a walk. So no pointer from
 * cgroup_index_find may be kept across such a call. walk_hook (tests; may
 * be NULL) is called once per walk, in the middle of it, without the lock. */
void cgroup_index_set_lock(cgroup_index_t *idx, pthread_mutex_t *lock,
                           void (*walk_hook)(void *ctx), void *ctx);

/* Walks the whole hierarchy: new cgroups are added, missing ones become
 * tombstones dated now, an id found under another path gets a new serial.
 * Returns the number of live cgroups, or -errno. */
int cgroup_index_rescan(cgroup_index_t *idx, cdtime_t now);

/* Resolves one id without a walk, through open_by_handle_at() on the
 * mount (kernfs only, needs CAP_DAC_READ_SEARCH). Returns 0 and updates
 * the index, -ENOENT if no such cgroup exists now, or -EOPNOTSUPP if the
 * hierarchy cannot be asked this way (then the caller rescans). */
int cgroup_index_resolve(cgroup_index_t *idx, uint64_t id, cdtime_t now);

/* The entry for id (live or tombstone) or NULL. Valid until the next call
 * that changes the index. */
const cgroup_index_entry_t *cgroup_index_find(const cgroup_index_t *idx,
                                              uint64_t id);

/* Drops tombstones dead for longer than ttl. Returns how many. */
size_t cgroup_index_expire(cgroup_index_t *idx, cdtime_t now, cdtime_t ttl);

size_t cgroup_index_count(const cgroup_index_t *idx);

/* Watching the pods' subtree with inotify, so that a cgroup created and
 * removed between two reads is still known (see identity.c's watcher).
 * Watched: the hierarchy's root (for a kubepods cgroup appearing) and every
 * directory with a path component starting with "kubepods", down to the
 * containers' own cgroups (not below), at most max_watches of them (0:
 * max_entries). Beyond that, or when the kernel refuses a watch (ENOSPC:
 * fs.inotify.max_user_watches is shared by every process of the user),
 * logged once, the other cgroups are found by rescans and on-demand
 * resolution. */

/* Creates the inotify instance; the next rescan adds the watches. Returns
 * 0, or -errno (logged; the index works without it). */
int cgroup_index_watch_start(cgroup_index_t *idx, size_t max_watches);

/* The inotify fd to poll() for POLLIN, or -1 if not watching. */
int cgroup_index_watch_fd(const cgroup_index_t *idx);

/* Called for each cgroup a watch event made known (new or re-created). */
typedef void (*cgroup_index_new_cb)(void *ctx, uint64_t id);

/* Drains the inotify events without blocking: a created directory is
 * opened at once, its id recorded (and cb called), and watched with its
 * children if in the pods' subtree; a removed one becomes a tombstone
 * dated now; a queue overflow rescans. Returns how many cgroups were
 * recorded or ended. */
int cgroup_index_watch_poll(cgroup_index_t *idx, cdtime_t now,
                            cgroup_index_new_cb cb, void *ctx);

/* Number of directories watched now. */
size_t cgroup_index_watch_count(const cgroup_index_t *idx);

/* True once a watch was refused (max_watches reached, or ENOSPC). */
bool cgroup_index_watches_short(const cgroup_index_t *idx);

/* How many times a walk or a watch event left cgroups below a container
 * out of the index (and the watches) by the CGROUP_INDEX_*_BELOW_CONTAINER
 * bounds (a walk stops listing such a directory at the first one). */
uint64_t cgroup_index_skipped(const cgroup_index_t *idx);

/* The id of the directory name in dirfd (name "" or NULL: dirfd itself).
 * Returns 0 or -errno. */
int cgroup_id_at(int dirfd, const char *name, uint64_t *id);

#endif /* NFS_EBPF_CGROUP_INDEX_H */
