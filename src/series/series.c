/*
 * Output series storage and the kernel-key index (see series.h).
 * Two chained hash tables with power-of-two sizes that double when their
 * load passes 1; nothing here is on the kernel's hot path, only in the read
 * callback.
 */
#include "collectd_compat.h"

#include "series.h"

#include <errno.h>

#define INITIAL_BUCKETS 64

/* The part of one op_errors value (one errno of a key) that belongs to
 * the series the key fed before its device changed hands. */
typedef struct {
  uint16_t err;
  uint64_t count;
} err_base_t;

/* A kernel key's entry in the index: bound to a series, or pending (series
 * NULL) since first_seen.
 *
 * The kernel's values are cumulative over the key's whole life, so after a
 * rebinding (its device now belongs to another mount) the part read up to
 * then stays with the old series and only the increase goes to the new
 * one: `base` (and err_bases) hold what the key had at the rebinding. */
typedef struct binding_s {
  struct op_key key;
  series_t *series;
  uint64_t first_seen;
  uint64_t mount; /* mount generation the key was bound under */

  struct op_stats base;
  err_base_t *err_bases;
  size_t n_err_bases;
  series_t *prev;          /* the series of the mount before, until folded */
  series_t *prev_errors;   /* the same for the errors */
  bool rebase_stats;       /* base to be taken from the next stats value */
  bool rebase_errors;      /* err_bases to be taken at the next errors pass */
  uint64_t rebase_errors_stamp; /* the read whose errors pass takes them */

  bool dead_seen;      /* read once with its cgroup gone */
  uint64_t dead_count; /* the count then */
  bool retiring;       /* quiet since: to be taken out of the kernel map */

  struct binding_s *next;
} binding_t;

struct series_table_s {
  series_t **series_buckets;
  size_t series_nbuckets;
  size_t series_len;

  binding_t **binding_buckets;
  size_t binding_nbuckets;
  size_t binding_len;

  uint64_t stamp;
};

/* FNV-1a: cheap, good enough for short names, stable. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ULL

static uint64_t series_hash(const char *who, const char *server,
                            const char *export_, uint32_t op) {
  uint64_t h = FNV_OFFSET;
  /* Include the terminating NULs so ("ab","c") and ("a","bc") differ. */
  h = fnv1a(h, who, strlen(who) + 1);
  h = fnv1a(h, server, strlen(server) + 1);
  h = fnv1a(h, export_, strlen(export_) + 1);
  return fnv1a(h, &op, sizeof(op));
}

static uint64_t key_hash(const struct op_key *k) {
  uint64_t h = FNV_OFFSET;
  h = fnv1a(h, &k->cgroup_id, sizeof(k->cgroup_id));
  h = fnv1a(h, &k->dev, sizeof(k->dev));
  return fnv1a(h, &k->op, sizeof(k->op));
}

static bool key_equal(const struct op_key *a, const struct op_key *b) {
  return a->cgroup_id == b->cgroup_id && a->dev == b->dev && a->op == b->op;
}

series_table_t *series_table_create(void) {
  series_table_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->series_buckets = calloc(INITIAL_BUCKETS, sizeof(*t->series_buckets));
  t->binding_buckets = calloc(INITIAL_BUCKETS, sizeof(*t->binding_buckets));
  if (t->series_buckets == NULL || t->binding_buckets == NULL) {
    series_table_destroy(t);
    return NULL;
  }
  t->series_nbuckets = t->binding_nbuckets = INITIAL_BUCKETS;
  return t;
}

static void series_free(series_t *s) {
  free(s->server);
  free(s->export_);
  free(s->errnos);
  free(s);
}

void series_table_destroy(series_table_t *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; t->series_buckets && i < t->series_nbuckets; i++) {
    series_t *s = t->series_buckets[i];
    while (s != NULL) {
      series_t *next = s->next;
      series_free(s);
      s = next;
    }
  }
  for (size_t i = 0; t->binding_buckets && i < t->binding_nbuckets; i++) {
    binding_t *b = t->binding_buckets[i];
    while (b != NULL) {
      binding_t *next = b->next;
      free(b->err_bases);
      free(b);
      b = next;
    }
  }
  free(t->series_buckets);
  free(t->binding_buckets);
  free(t);
}

void series_begin_interval(series_table_t *t, uint64_t stamp) {
  t->stamp = stamp;
  for (size_t i = 0; i < t->series_nbuckets; i++)
    for (series_t *s = t->series_buckets[i]; s != NULL; s = s->next) {
      memset(&s->staged_live, 0, sizeof(s->staged_live));
      memset(&s->staged_retired, 0, sizeof(s->staged_retired));
      for (size_t j = 0; j < s->n_errnos; j++)
        s->errnos[j].staged_live = s->errnos[j].staged_retired = 0;
    }
}

/* Double the series table when it is as full as it has buckets. A failed
 * allocation only leaves the chains longer. */
static void series_grow(series_table_t *t) {
  size_t n = t->series_nbuckets * 2;
  series_t **nb = calloc(n, sizeof(*nb));
  if (nb == NULL)
    return;
  for (size_t i = 0; i < t->series_nbuckets; i++) {
    series_t *s = t->series_buckets[i];
    while (s != NULL) {
      series_t *next = s->next;
      size_t j = series_hash(s->who, s->server, s->export_, s->op) & (n - 1);
      s->next = nb[j];
      nb[j] = s;
      s = next;
    }
  }
  free(t->series_buckets);
  t->series_buckets = nb;
  t->series_nbuckets = n;
}

series_t *series_get(series_table_t *t, const char *who, const char *server,
                     const char *export_, uint32_t op) {
  uint64_t h = series_hash(who, server, export_, op);
  size_t i = h & (t->series_nbuckets - 1);
  for (series_t *s = t->series_buckets[i]; s != NULL; s = s->next)
    if (s->op == op && strcmp(s->who, who) == 0 &&
        strcmp(s->server, server) == 0 && strcmp(s->export_, export_) == 0)
      return s;

  series_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->server = strdup(server);
  s->export_ = strdup(export_);
  if (s->server == NULL || s->export_ == NULL) {
    series_free(s);
    return NULL;
  }
  sstrncpy(s->who, who, sizeof(s->who));
  s->op = op;
  s->last_live = t->stamp;
  s->next = t->series_buckets[i];
  t->series_buckets[i] = s;
  if (++t->series_len > t->series_nbuckets)
    series_grow(t);
  return s;
}

static void stats_add(struct op_stats *dst, const struct op_stats *src) {
  dst->count += src->count;
  dst->bytes += src->bytes;
  dst->latency_ns += src->latency_ns;
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    dst->buckets[i] += src->buckets[i];
}

void series_commit_interval(series_table_t *t) {
  for (size_t i = 0; i < t->series_nbuckets; i++)
    for (series_t *s = t->series_buckets[i]; s != NULL; s = s->next) {
      s->live = s->staged_live;
      stats_add(&s->retired, &s->staged_retired);
      for (size_t j = 0; j < s->n_errnos; j++) {
        series_errno_t *e = &s->errnos[j];
        e->live = e->staged_live;
        e->retired += e->staged_retired;
      }
    }
}

void series_add_stats(series_table_t *t, series_t *s,
                      const struct op_stats *val, bool retire) {
  if (retire) {
    stats_add(&s->staged_retired, val);
  } else {
    stats_add(&s->staged_live, val);
    s->last_live = t->stamp;
  }
}

int series_add_errors(series_table_t *t, series_t *s, uint16_t err,
                      uint64_t count, bool retire) {
  series_errno_t *e = NULL;
  for (size_t i = 0; i < s->n_errnos; i++)
    if (s->errnos[i].err == err)
      e = &s->errnos[i];
  if (e == NULL) {
    series_errno_t *grown =
        realloc(s->errnos, (s->n_errnos + 1) * sizeof(*s->errnos));
    if (grown == NULL)
      return -ENOMEM;
    s->errnos = grown;
    e = &s->errnos[s->n_errnos++];
    *e = (series_errno_t){.err = err};
  }
  if (retire) {
    e->staged_retired += count;
  } else {
    e->staged_live += count;
    s->last_live = t->stamp;
  }
  return 0;
}

void series_total(const series_t *s, struct op_stats *out) {
  *out = s->retired;
  stats_add(out, &s->live);
}

size_t series_expire(series_table_t *t, uint64_t oldest_stamp) {
  size_t dropped = 0;
  for (size_t i = 0; i < t->series_nbuckets; i++) {
    series_t **pp = &t->series_buckets[i];
    while (*pp != NULL) {
      series_t *s = *pp;
      /* A series with a bound key is still fed by the kernel, however
       * quiet it is; only orphaned series age out. */
      if (s->n_keys == 0 && s->last_live < oldest_stamp) {
        *pp = s->next;
        series_free(s);
        t->series_len--;
        dropped++;
      } else {
        pp = &s->next;
      }
    }
  }
  return dropped;
}

int series_for_each(const series_table_t *t, series_cb cb, void *user_data) {
  for (size_t i = 0; i < t->series_nbuckets; i++)
    for (series_t *s = t->series_buckets[i]; s != NULL; s = s->next) {
      int status = cb(s, user_data);
      if (status != 0)
        return status;
    }
  return 0;
}

size_t series_count(const series_table_t *t) { return t->series_len; }

static binding_t *binding_find(const series_table_t *t,
                               const struct op_key *key) {
  size_t i = key_hash(key) & (t->binding_nbuckets - 1);
  for (binding_t *b = t->binding_buckets[i]; b != NULL; b = b->next)
    if (key_equal(&b->key, key))
      return b;
  return NULL;
}

series_t *series_bound(const series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  return b != NULL ? b->series : NULL;
}

static void binding_grow(series_table_t *t) {
  size_t n = t->binding_nbuckets * 2;
  binding_t **nb = calloc(n, sizeof(*nb));
  if (nb == NULL)
    return;
  for (size_t i = 0; i < t->binding_nbuckets; i++) {
    binding_t *b = t->binding_buckets[i];
    while (b != NULL) {
      binding_t *next = b->next;
      size_t j = key_hash(&b->key) & (n - 1);
      b->next = nb[j];
      nb[j] = b;
      b = next;
    }
  }
  free(t->binding_buckets);
  t->binding_buckets = nb;
  t->binding_nbuckets = n;
}

static binding_t *binding_insert(series_table_t *t, const struct op_key *key) {
  binding_t *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return NULL;
  b->key = *key;
  b->first_seen = t->stamp;
  size_t i = key_hash(key) & (t->binding_nbuckets - 1);
  b->next = t->binding_buckets[i];
  t->binding_buckets[i] = b;
  if (++t->binding_len > t->binding_nbuckets)
    binding_grow(t);
  return b;
}

int series_bind(series_table_t *t, const struct op_key *key, series_t *s,
                uint64_t mount) {
  binding_t *b = binding_find(t, key);
  if (b != NULL && b->series != NULL)
    return -EEXIST;
  if (b == NULL && (b = binding_insert(t, key)) == NULL)
    return -ENOMEM;
  b->series = s;
  b->mount = mount;
  s->n_keys++;
  return 0;
}

uint64_t series_bound_mount(const series_table_t *t,
                            const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  return b != NULL ? b->mount : 0;
}

int series_rebind(series_table_t *t, const struct op_key *key, series_t *s,
                  uint64_t mount) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return -ENOENT;
  /* A second change before the first one's values were read: the series
   * in between never got anything, the first one keeps waiting for its
   * final part. */
  if (!b->rebase_stats)
    b->prev = b->series;
  if (!(b->rebase_errors && b->rebase_errors_stamp == 0))
    b->prev_errors = b->series;
  b->series->n_keys--;
  b->series = s;
  s->n_keys++;
  b->mount = mount;
  b->rebase_stats = true;
  b->rebase_errors = true;
  b->rebase_errors_stamp = 0;
  return 0;
}

/* a - b, field by field; b <= a unless the kernel key was recreated (then
 * nothing of it belongs to the old series: all of a is new). */
static void stats_since(const struct op_stats *a, const struct op_stats *b,
                        struct op_stats *out) {
  if (a->count < b->count) {
    *out = *a;
    return;
  }
  out->count = a->count - b->count;
  out->bytes = a->bytes >= b->bytes ? a->bytes - b->bytes : 0;
  out->latency_ns =
      a->latency_ns >= b->latency_ns ? a->latency_ns - b->latency_ns : 0;
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    out->buckets[i] = a->buckets[i] >= b->buckets[i]
                          ? a->buckets[i] - b->buckets[i]
                          : 0;
}

/* The first stats value after a rebinding: everything up to now happened
 * on the old mount, so its series keeps it for good and the new one starts
 * from here. */
static void take_stats_base(series_table_t *t, binding_t *b,
                            const struct op_stats *val) {
  if (!b->rebase_stats)
    return;
  struct op_stats part;
  stats_since(val, &b->base, &part);
  if (b->prev != NULL)
    series_add_stats(t, b->prev, &part, true);
  b->base = *val;
  b->prev = NULL;
  b->rebase_stats = false;
}

static void key_stats(series_table_t *t, const struct op_key *key,
                      const struct op_stats *val, bool retire) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return;
  take_stats_base(t, b, val);
  struct op_stats part;
  stats_since(val, &b->base, &part);
  series_add_stats(t, b->series, &part, retire);
}

void series_add_key_stats(series_table_t *t, const struct op_key *key,
                          const struct op_stats *val) {
  key_stats(t, key, val, false);
}

void series_retire_key_stats(series_table_t *t, const struct op_key *key,
                             const struct op_stats *val) {
  key_stats(t, key, val, true);
}

bool series_retire_ready(series_table_t *t, const struct op_key *key,
                         uint64_t count) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return false;
  b->retiring = b->dead_seen && b->dead_count == count;
  b->dead_seen = true;
  b->dead_count = count;
  return b->retiring;
}

bool series_retiring(const series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  return b != NULL && b->series != NULL && b->retiring;
}

void series_retire_cancel(series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  if (b != NULL)
    b->retiring = false;
}

static err_base_t *err_base(binding_t *b, uint16_t err, bool add) {
  for (size_t i = 0; i < b->n_err_bases; i++)
    if (b->err_bases[i].err == err)
      return &b->err_bases[i];
  if (!add)
    return NULL;
  err_base_t *grown =
      realloc(b->err_bases, (b->n_err_bases + 1) * sizeof(*grown));
  if (grown == NULL)
    return NULL;
  b->err_bases = grown;
  b->err_bases[b->n_err_bases] = (err_base_t){.err = err};
  return &b->err_bases[b->n_err_bases++];
}

/* The part of an errno's count that is the bound series', given the base
 * taken at the last rebinding. */
static uint64_t errors_since(binding_t *b, uint16_t err, uint64_t count) {
  err_base_t *e = err_base(b, err, false);
  if (e == NULL)
    return count;
  return count >= e->count ? count - e->count : count;
}

static int key_errors(series_table_t *t, const struct op_key *key,
                      uint16_t err, uint64_t count, bool retire) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return 0;
  /* The first errors pass after a rebinding (whichever read that is)
   * takes the bases of all the key's errnos. */
  if (b->rebase_errors && b->rebase_errors_stamp == 0)
    b->rebase_errors_stamp = t->stamp;
  if (b->rebase_errors && b->rebase_errors_stamp == t->stamp) {
    uint64_t old_part = errors_since(b, err, count);
    err_base_t *e = err_base(b, err, true);
    if (e == NULL)
      return -ENOMEM;
    if (b->prev_errors != NULL && old_part > 0 &&
        series_add_errors(t, b->prev_errors, err, old_part, true) != 0)
      return -ENOMEM;
    e->count = count;
  } else if (b->rebase_errors) {
    b->rebase_errors = false;
    b->prev_errors = NULL;
  }
  return series_add_errors(t, b->series, err, errors_since(b, err, count),
                           retire);
}

int series_add_key_errors(series_table_t *t, const struct op_key *key,
                          uint16_t err, uint64_t count) {
  return key_errors(t, key, err, count, false);
}

int series_retire_key_errors(series_table_t *t, const struct op_key *key,
                             uint16_t err, uint64_t count) {
  return key_errors(t, key, err, count, true);
}

uint64_t series_pending_since(series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  if (b == NULL && (b = binding_insert(t, key)) == NULL)
    return 0;
  return b->first_seen;
}

void series_unbind(series_table_t *t, const struct op_key *key) {
  size_t i = key_hash(key) & (t->binding_nbuckets - 1);
  for (binding_t **pp = &t->binding_buckets[i]; *pp != NULL;
       pp = &(*pp)->next) {
    binding_t *b = *pp;
    if (!key_equal(&b->key, key))
      continue;
    *pp = b->next;
    if (b->series != NULL)
      b->series->n_keys--;
    free(b->err_bases);
    free(b);
    t->binding_len--;
    return;
  }
}
