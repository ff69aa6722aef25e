/*
 * The containers runtime_state knows, by 64-hex id: live ones (bundle
 * present at the last scan), tombstones (bundle gone, kept for the
 * tombstone ttl so that counts drained late still resolve) and misses (ids
 * looked up in every layout and found in none, remembered until the next
 * full rescan).
 *
 * Bounded: at the configured maximum, misses are forgotten first, then the
 * oldest tombstone; live containers are never evicted, and one more than
 * the maximum is refused (logged once).
 *
 * The scanner (runtime_state.c) keeps its own bookkeeping in each entry:
 * which layout the bundle was read from, the identity of the file last
 * parsed, and the scan that last saw it. Not thread-safe: used under the
 * owner's lock, as runtime_state is.
 */
#ifndef NFS_EBPF_CONTAINER_TABLE_H
#define NFS_EBPF_CONTAINER_TABLE_H

#include "collectd_compat.h"

#include "hash.h"
#include "runtime_state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct container_entry_s {
  hash_node_t by_id;  /* in the table's by_id */
  hash_node_t by_pod; /* in the table's by_pod while pod_indexed */
  bool pod_indexed;
  runtime_container_t c; /* written through container_table_set */
  size_t layout;         /* the scanner's index of the layout read from */
  bool missing;          /* negative cache entry: looked up, not found */
  bool failed;           /* the file last parsed could not be used */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime; /* identity of the file last parsed */
  uint64_t seen_scan;    /* the layout's scan that last read it */
  cdtime_t dead_since;   /* tombstones: when the bundle was found gone */
} container_entry_t;

typedef struct {
  hash_table_t by_id;
  /* The entries that are a pod's containers (c.is_pod, not a miss), by
   * pod uid: a pod-level cgroup is named by the uid alone, and looking it
   * up must not cost a walk over every container of the node. */
  hash_table_t by_pod;
  size_t count; /* entries of every kind: live, tombstones, misses */
  size_t max;
} container_table_t;

/* An empty table of at most max entries. 0, or -ENOMEM. */
int container_table_init(container_table_t *t, size_t max);
/* Frees every entry and the indexes (init makes it usable again). */
void container_table_destroy(container_table_t *t);
/* Frees every entry; the table is empty again. */
void container_table_clear(container_table_t *t);

/* The entry (of any kind) with that id, or NULL. */
container_entry_t *container_table_find(const container_table_t *t,
                                        const char *id);

/* A new zeroed entry with that id (the caller checked it is not there
 * yet), made room for as the header says. NULL if the table is full of
 * live containers, or on allocation failure. */
container_entry_t *container_table_add(container_table_t *t, const char *id);

/* Sets e's container (what its state file says), keeping the pod index
 * right: the only way to change e->c.is_pod or e->c.pod_uid, and to make
 * a miss a real entry (missing is cleared). */
void container_table_set(container_table_t *t, container_entry_t *e,
                         const runtime_container_t *c);

/* Forgets every miss (before a full rescan looks again). */
void container_table_drop_misses(container_table_t *t);

/* The live containers of that layout not seen by its scan number `scan`
 * (seen_scan < scan) become tombstones, dead since now. */
void container_table_end_unseen(container_table_t *t, size_t layout,
                                uint64_t scan, cdtime_t now);

/* Drops the tombstones dead for longer than ttl. */
void container_table_expire(container_table_t *t, cdtime_t now, cdtime_t ttl);

/* How many live containers the table holds. */
size_t container_table_live(const container_table_t *t);

/* Some container of the pod with that uid, the sandbox preferred. */
const runtime_container_t *container_table_find_pod(const container_table_t *t,
                                                    const char *pod_uid);

#endif /* NFS_EBPF_CONTAINER_TABLE_H */
