/*
 * The containers runtime_state knows: see container_table.h.
 */
#include "collectd_compat.h"

#include "container_table.h"
#include "log_once.h"

static size_t container_hash(const char *id) {
  uint64_t h = 14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  return (size_t)(h % CONTAINER_TABLE_BUCKETS);
}

void container_table_init(container_table_t *t, size_t max) {
  memset(t, 0, sizeof(*t));
  t->max = max;
}

void container_table_clear(container_table_t *t) {
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++) {
    for (container_entry_t *e = t->buckets[b], *next; e; e = next) {
      next = e->next;
      free(e);
    }
    t->buckets[b] = NULL;
  }
  t->count = 0;
}

container_entry_t *container_table_find(const container_table_t *t,
                                        const char *id) {
  for (container_entry_t *e = t->buckets[container_hash(id)]; e; e = e->next)
    if (strcmp(e->c.id, id) == 0)
      return e;
  return NULL;
}

static void container_table_unlink(container_table_t *t,
                                   container_entry_t *victim) {
  container_entry_t **pp = &t->buckets[container_hash(victim->c.id)];
  while (*pp != victim)
    pp = &(*pp)->next;
  *pp = victim->next;
  free(victim);
  t->count--;
}

/* Room for one more: forget misses first, then the oldest tombstone. */
static bool container_table_make_room(container_table_t *t) {
  if (t->count < t->max)
    return true;
  container_entry_t *victim = NULL;
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++)
    for (container_entry_t *e = t->buckets[b]; e; e = e->next) {
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
  container_table_unlink(t, victim);
  return true;
}

container_entry_t *container_table_add(container_table_t *t, const char *id) {
  if (!container_table_make_room(t))
    return NULL;
  container_entry_t *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  sstrncpy(e->c.id, id, sizeof(e->c.id));
  size_t b = container_hash(id);
  e->next = t->buckets[b];
  t->buckets[b] = e;
  t->count++;
  return e;
}

/* Frees every entry for which drop(entry, ctx) is true. */
static void container_table_drop_if(container_table_t *t,
                                    bool (*drop)(const container_entry_t *e,
                                                 const void *ctx),
                                    const void *ctx) {
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++)
    for (container_entry_t **pp = &t->buckets[b]; *pp;) {
      container_entry_t *e = *pp;
      if (drop(e, ctx)) {
        *pp = e->next;
        free(e);
        t->count--;
      } else {
        pp = &e->next;
      }
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
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++)
    for (container_entry_t *e = t->buckets[b]; e; e = e->next)
      if (e->layout == layout && !e->missing && e->c.alive &&
          e->seen_scan < scan) {
        e->c.alive = false;
        e->dead_since = now ? now : 1;
      }
}

size_t container_table_live(const container_table_t *t) {
  size_t live = 0;
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++)
    for (const container_entry_t *e = t->buckets[b]; e; e = e->next)
      live += (!e->missing && e->c.alive);
  return live;
}

const runtime_container_t *container_table_find_pod(const container_table_t *t,
                                                    const char *pod_uid) {
  const runtime_container_t *any = NULL;
  for (size_t b = 0; b < CONTAINER_TABLE_BUCKETS; b++)
    for (const container_entry_t *e = t->buckets[b]; e; e = e->next) {
      if (e->missing || !e->c.is_pod || strcmp(e->c.pod_uid, pod_uid) != 0)
        continue;
      if (e->c.sandbox)
        return &e->c;
      if (any == NULL)
        any = &e->c;
    }
  return any;
}
