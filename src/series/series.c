/*
 * Output series storage and the kernel-key index (see series.h).
 * Two growing hash tables (hash.h); nothing here is on the kernel's hot
 * path, only in the read callback.
 */
#include "collectd_compat.h"

#include "identifier.h"
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

  series_values_t *base; /* NULL: zero (never rebound) */
  err_base_t *err_bases;
  size_t n_err_bases;
  series_t *prev;        /* the series of the mount before, until folded */
  series_t *prev_errors; /* the same for the errors */
  bool rebase_stats;     /* base to be taken from the next stats value */
  bool rebase_errors;    /* err_bases to be taken at the next errors pass */
  uint64_t rebase_errors_stamp; /* the read whose errors pass takes them */

  bool dead_seen;      /* read once with its cgroup gone */
  uint64_t dead_count; /* the count then */
  bool retiring;       /* quiet since: to be taken out of the kernel map */

  hash_node_t node; /* in the table's binding index */
} binding_t;

struct series_table_s {
  hash_table_t series;   /* series_t by (who, server, export, op) */
  hash_table_t bindings; /* binding_t by kernel key */
  uint64_t stamp;
};

#define SERIES_OF(n) HASH_ENTRY(n, series_t, node)
#define BINDING_OF(n) HASH_ENTRY(n, binding_t, node)

static uint64_t series_hash(const char *who, const char *server,
                            const char *export_, uint32_t op) {
  uint64_t h = HASH_FNV1A64_OFFSET;
  /* Include the terminating NULs so ("ab","c") and ("a","bc") differ. */
  h = hash_fnv1a64_update(h, who, strlen(who) + 1);
  h = hash_fnv1a64_update(h, server, strlen(server) + 1);
  h = hash_fnv1a64_update(h, export_, strlen(export_) + 1);
  return hash_fnv1a64_update(h, &op, sizeof(op));
}

typedef struct {
  const char *who, *server, *export_;
  uint32_t op;
} series_name_t;

static bool series_equal(const hash_node_t *n, const void *key) {
  const series_t *s = SERIES_OF(n);
  const series_name_t *name = key;
  return s->op == name->op && strcmp(s->who, name->who) == 0 &&
         strcmp(s->server, name->server) == 0 &&
         strcmp(s->export_, name->export_) == 0;
}

static uint64_t key_hash(const struct op_key *k) {
  uint64_t h = HASH_FNV1A64_OFFSET;
  h = hash_fnv1a64_update(h, &k->cgroup_id, sizeof(k->cgroup_id));
  h = hash_fnv1a64_update(h, &k->dev, sizeof(k->dev));
  return hash_fnv1a64_update(h, &k->op, sizeof(k->op));
}

static bool key_equal(const hash_node_t *n, const void *key) {
  const struct op_key *a = &BINDING_OF(n)->key, *b = key;
  return a->cgroup_id == b->cgroup_id && a->dev == b->dev && a->op == b->op;
}

series_table_t *series_table_create(void) {
  series_table_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  if (hash_table_init(&t->series, INITIAL_BUCKETS, HASH_TABLE_GROWS) != 0 ||
      hash_table_init(&t->bindings, INITIAL_BUCKETS, HASH_TABLE_GROWS) != 0) {
    series_table_destroy(t);
    return NULL;
  }
  return t;
}

static void series_free(series_t *s) {
  free(s->ended);
  free(s->server);
  free(s->export_);
  free(s->what_tail);
  free(s->errnos);
  free(s);
}

static void series_free_node(hash_node_t *n) { series_free(SERIES_OF(n)); }

static void binding_free_node(hash_node_t *n) {
  binding_t *b = BINDING_OF(n);
  free(b->base);
  free(b->err_bases);
  free(b);
}

void series_table_destroy(series_table_t *t) {
  if (t == NULL)
    return;
  hash_table_destroy(&t->series, series_free_node);
  hash_table_destroy(&t->bindings, binding_free_node);
  free(t);
}

void series_begin_interval(series_table_t *t, uint64_t stamp) {
  t->stamp = stamp;
  HASH_TABLE_FOREACH(&t->series, n, next) {
    series_t *s = SERIES_OF(n);
    memset(&s->staged_live, 0, sizeof(s->staged_live));
    if (s->ended != NULL)
      memset(&s->ended->staged, 0, sizeof(s->ended->staged));
    for (size_t j = 0; j < s->n_errnos; j++)
      s->errnos[j].staged_live = s->errnos[j].staged_retired = 0;
  }
}

series_t *series_get(series_table_t *t, const char *who, const char *server,
                     const char *export_, uint32_t op) {
  uint64_t h = series_hash(who, server, export_, op);
  series_name_t name = {who, server, export_, op};
  hash_node_t *found = hash_table_find(&t->series, h, series_equal, &name);
  if (found != NULL)
    return SERIES_OF(found);

  series_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->server = strdup(server);
  s->export_ = strdup(export_);
  if (s->server == NULL || s->export_ == NULL) {
    series_free(s);
    return NULL;
  }
  /* No memory for it only costs time: identifier_what_join copes. */
  s->what_tail = identifier_what_tail(server, export_);
  sstrncpy(s->who, who, sizeof(s->who));
  s->op = op;
  s->last_live = t->stamp;
  hash_table_insert(&t->series, &s->node, h);
  return s;
}

/* series_values_t as the counters it is made of */
#define VALUE_WORDS (sizeof(series_values_t) / sizeof(__u64))
_Static_assert(sizeof(series_values_t) % sizeof(__u64) == 0,
               "series values are __u64 counters");
_Static_assert(offsetof(struct op_stats, count) == 0 &&
                   offsetof(struct rpc_stats, requests) == 0,
               "both levels count events in their first word");

static __u64 *words(series_values_t *v) { return (__u64 *)v; }
static const __u64 *cwords(const series_values_t *v) {
  return (const __u64 *)v;
}

static void stats_add(series_values_t *dst, const series_values_t *src) {
  for (size_t i = 0; i < VALUE_WORDS; i++)
    words(dst)[i] += cwords(src)[i];
}

void series_commit_interval(series_table_t *t) {
  HASH_TABLE_FOREACH(&t->series, n, next) {
    series_t *s = SERIES_OF(n);
    s->live = s->staged_live;
    if (s->ended != NULL)
      stats_add(&s->ended->committed, &s->ended->staged);
    for (size_t j = 0; j < s->n_errnos; j++) {
      series_errno_t *e = &s->errnos[j];
      e->live = e->staged_live;
      e->retired += e->staged_retired;
    }
  }
}

/* The series' ended part, made if it has none. 0 or -ENOMEM. */
static int series_reserve_ended(series_t *s) {
  if (s->ended == NULL)
    s->ended = calloc(1, sizeof(*s->ended));
  return s->ended != NULL ? 0 : -ENOMEM;
}

void series_add_stats(series_table_t *t, series_t *s,
                      const series_values_t *val, bool retire) {
  if (retire) {
    if (series_reserve_ended(s) != 0) {
      ERROR("nfs_ebpf plugin: out of memory: %" PRIu64 " events of an "
            "ended key are lost from series %s.",
            (uint64_t)cwords(val)[0], s->who);
      return;
    }
    stats_add(&s->ended->staged, val);
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

void series_total(const series_t *s, series_values_t *out) {
  *out = s->live;
  if (s->ended != NULL)
    stats_add(out, &s->ended->committed);
}

size_t series_expire(series_table_t *t, uint64_t oldest_stamp) {
  size_t dropped = 0;
  HASH_TABLE_FOREACH(&t->series, n, next) {
    series_t *s = SERIES_OF(n);
    /* A series with a bound key is still fed by the kernel, however
     * quiet it is; only orphaned series age out. */
    if (s->n_keys == 0 && s->last_live < oldest_stamp) {
      hash_table_remove(&t->series, &s->node);
      series_free(s);
      dropped++;
    }
  }
  return dropped;
}

int series_for_each(const series_table_t *t, series_cb cb, void *user_data) {
  HASH_TABLE_FOREACH(&t->series, n, next) {
    series_t *s = SERIES_OF(n);
    int status = cb(s, user_data);
    if (status != 0)
      return status;
  }
  return 0;
}

size_t series_count(const series_table_t *t) {
  return hash_table_count(&t->series);
}

static binding_t *binding_find(const series_table_t *t,
                               const struct op_key *key) {
  hash_node_t *n = hash_table_find(&t->bindings, key_hash(key), key_equal, key);
  return n != NULL ? BINDING_OF(n) : NULL;
}

series_t *series_bound(const series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  return b != NULL ? b->series : NULL;
}

static binding_t *binding_insert(series_table_t *t, const struct op_key *key) {
  binding_t *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return NULL;
  b->key = *key;
  b->first_seen = t->stamp;
  hash_table_insert(&t->bindings, &b->node, key_hash(key));
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

uint64_t series_bound_mount(const series_table_t *t, const struct op_key *key) {
  binding_t *b = binding_find(t, key);
  return b != NULL ? b->mount : 0;
}

int series_rebind(series_table_t *t, const struct op_key *key, series_t *s,
                  uint64_t mount) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return -ENOENT;
  /* Made here, where a failure leaves the binding as it was: the old
   * series' ended part takes the key's values up to now, and base what it
   * had then. */
  series_t *prev = b->rebase_stats ? b->prev : b->series;
  if (prev != NULL && series_reserve_ended(prev) != 0)
    return -ENOMEM;
  if (b->base == NULL && (b->base = calloc(1, sizeof(*b->base))) == NULL)
    return -ENOMEM;
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

/* a - b, word by word; b <= a unless the kernel key was recreated (its
 * event count went down: then nothing of it belongs to the old series, all
 * of a is new). b NULL: 0. */
static void stats_since(const series_values_t *a, const series_values_t *b,
                        series_values_t *out) {
  if (b == NULL || cwords(a)[0] < cwords(b)[0]) {
    *out = *a;
    return;
  }
  for (size_t i = 0; i < VALUE_WORDS; i++)
    words(out)[i] =
        cwords(a)[i] >= cwords(b)[i] ? cwords(a)[i] - cwords(b)[i] : 0;
}

/* The first stats value after a rebinding: everything up to now happened
 * on the old mount, so its series keeps it for good and the new one starts
 * from here. */
static void take_stats_base(series_table_t *t, binding_t *b,
                            const series_values_t *val) {
  if (!b->rebase_stats)
    return;
  series_values_t part;
  stats_since(val, b->base, &part);
  if (b->prev != NULL)
    series_add_stats(t, b->prev, &part, true);
  *b->base = *val; /* made by series_rebind, which set rebase_stats */
  b->prev = NULL;
  b->rebase_stats = false;
}

static void key_stats(series_table_t *t, const struct op_key *key,
                      const series_values_t *val, bool retire) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return;
  take_stats_base(t, b, val);
  series_values_t part;
  stats_since(val, b->base, &part);
  series_add_stats(t, b->series, &part, retire);
}

void series_add_key_stats(series_table_t *t, const struct op_key *key,
                          const series_values_t *val) {
  key_stats(t, key, val, false);
}

void series_retire_key_stats(series_table_t *t, const struct op_key *key,
                             const series_values_t *val) {
  key_stats(t, key, val, true);
}

bool series_retire_ready(series_table_t *t, const struct op_key *key,
                         uint64_t count) {
  binding_t *b = binding_find(t, key);
  if (b == NULL || b->series == NULL)
    return false;
  /* Its final values will go to the series' ended part: made now, while
   * the key can still wait in the kernel map for memory. */
  b->retiring = b->dead_seen && b->dead_count == count &&
                series_reserve_ended(b->series) == 0;
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

static int key_errors(series_table_t *t, const struct op_key *key, uint16_t err,
                      uint64_t count, bool retire) {
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
  binding_t *b = binding_find(t, key);
  if (b == NULL)
    return;
  hash_table_remove(&t->bindings, &b->node);
  if (b->series != NULL)
    b->series->n_keys--;
  binding_free_node(&b->node);
}
