/*
 * The containers runtime_state knows: see container_table.h.
 */
#include "collectd_compat.h"

#include "container_table.h"
#include "log_once.h"

#include <errno.h>

/* Both indexes are sized once for the table's bound, at least this many
 * buckets. */
#define CONTAINER_TABLE_MIN_BUCKETS 1024

static uint64_t container_key_hash(const char *key) {
  return hash_fnv1a64(key, strlen(key));
}

static bool container_id_equal(const hash_node_t *n, const void *id) {
  return strcmp(HASH_ENTRY(n, const container_entry_t, by_id)->c.id, id) == 0;
}

static bool container_pod_equal(const hash_node_t *n, const void *pod_uid) {
  return strcmp(HASH_ENTRY(n, const container_entry_t, by_pod)->c.pod_uid,
                pod_uid) == 0;
}

static container_entry_t *container_of(hash_node_t *n) {
  return HASH_ENTRY(n, container_entry_t, by_id);
}

int container_table_init(container_table_t *t, size_t max) {
  memset(t, 0, sizeof(*t));
  t->max = max;
  if (hash_table_init_bounded(&t->by_id, max, CONTAINER_TABLE_MIN_BUCKETS) !=
          0 ||
      hash_table_init_bounded(&t->by_pod, max, CONTAINER_TABLE_MIN_BUCKETS) !=
          0) {
    container_table_destroy(t);
    return -ENOMEM;
  }
  return 0;
}

static void container_pod_unindex(container_table_t *t, container_entry_t *e) {
  if (e->pod_indexed)
    hash_table_remove(&t->by_pod, &e->by_pod);
  e->pod_indexed = false;
}

/* Takes e out of both indexes and frees it. */
static void container_table_free_entry(container_table_t *t,
                                       container_entry_t *e) {
  container_pod_unindex(t, e);
  hash_table_remove(&t->by_id, &e->by_id);
  free(e);
  t->count--;
}

void container_table_clear(container_table_t *t) {
  HASH_TABLE_FOREACH(&t->by_id, n, next) {
    container_table_free_entry(t, container_of(n));
  }
}

void container_table_destroy(container_table_t *t) {
  container_table_clear(t);
  hash_table_destroy(&t->by_id, NULL);
  hash_table_destroy(&t->by_pod, NULL);
}

container_entry_t *container_table_find(const container_table_t *t,
                                        const char *id) {
  hash_node_t *n = hash_table_find(&t->by_id, container_key_hash(id),
                                   container_id_equal, id);
  return n != NULL ? container_of(n) : NULL;
}

void container_table_set(container_table_t *t, container_entry_t *e,
                         const runtime_container_t *c) {
  container_pod_unindex(t, e);
  e->c = *c;
  e->missing = false;
  if (e->c.is_pod) {
    hash_table_insert(&t->by_pod, &e->by_pod, container_key_hash(e->c.pod_uid));
    e->pod_indexed = true;
  }
}

/* Room for one more: forget misses first, then the oldest tombstone. */
static bool container_table_make_room(container_table_t *t) {
  if (t->count < t->max)
    return true;
  container_entry_t *victim = NULL;
  HASH_TABLE_FOREACH(&t->by_id, n, next) {
    container_entry_t *e = container_of(n);
    if (e->c.alive && !e->missing)
      continue;
    if (victim == NULL || (e->missing && !victim->missing) ||
        (e->missing == victim->missing && e->dead_since < victim->dead_since))
      victim = e;
  }
  if (victim == NULL) {
    log_once(LOG_WARNING, "runtime_state:full",
             "nfs_ebpf plugin: more than %zu containers in the runtime state "
             "dirs; the others are reported under their cgroup",
             t->max);
    return false;
  }
  container_table_free_entry(t, victim);
  return true;
}

container_entry_t *container_table_add(container_table_t *t, const char *id) {
  if (!container_table_make_room(t))
    return NULL;
  container_entry_t *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  sstrncpy(e->c.id, id, sizeof(e->c.id));
  hash_table_insert(&t->by_id, &e->by_id, container_key_hash(id));
  t->count++;
  return e;
}

/* Frees every entry for which drop(entry, ctx) is true. */
static void container_table_drop_if(container_table_t *t,
                                    bool (*drop)(const container_entry_t *e,
                                                 const void *ctx),
                                    const void *ctx) {
  HASH_TABLE_FOREACH(&t->by_id, n, next) {
    container_entry_t *e = container_of(n);
    if (drop(e, ctx))
      container_table_free_entry(t, e);
  }
}

static bool container_is_miss(const container_entry_t *e, const void *ctx) {
  (void)ctx;
  return e->missing;
}

void container_table_drop_misses(container_table_t *t) {
  container_table_drop_if(t, container_is_miss, NULL);
}

typedef struct {
  cdtime_t now;
  cdtime_t ttl;
} container_expiry_t;

static bool container_is_expired(const container_entry_t *e, const void *ctx) {
  const container_expiry_t *x = ctx;
  return !e->missing && !e->c.alive && x->now > e->dead_since &&
         x->now - e->dead_since > x->ttl;
}

void container_table_expire(container_table_t *t, cdtime_t now, cdtime_t ttl) {
  container_expiry_t x = {.now = now, .ttl = ttl};
  container_table_drop_if(t, container_is_expired, &x);
}

void container_table_end_unseen(container_table_t *t, size_t layout,
                                uint64_t scan, cdtime_t now) {
  HASH_TABLE_FOREACH(&t->by_id, n, next) {
    container_entry_t *e = container_of(n);
    if (e->layout == layout && !e->missing && e->c.alive &&
        e->seen_scan < scan) {
      e->c.alive = false;
      e->dead_since = now ? now : 1;
    }
  }
}

size_t container_table_live(const container_table_t *t) {
  size_t live = 0;
  HASH_TABLE_FOREACH(&t->by_id, n, next) {
    const container_entry_t *e = container_of(n);
    live += (!e->missing && e->c.alive);
  }
  return live;
}

const runtime_container_t *container_table_find_pod(const container_table_t *t,
                                                    const char *pod_uid) {
  uint64_t h = container_key_hash(pod_uid);
  const runtime_container_t *any = NULL;
  for (hash_node_t *n =
           hash_table_find(&t->by_pod, h, container_pod_equal, pod_uid);
       n != NULL;
       n = hash_table_find_next(&t->by_pod, n, container_pod_equal, pod_uid)) {
    const container_entry_t *e = HASH_ENTRY(n, const container_entry_t, by_pod);
    if (e->c.sandbox)
      return &e->c;
    if (any == NULL)
      any = &e->c;
  }
  return any;
}
