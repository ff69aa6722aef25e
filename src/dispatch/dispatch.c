/*
 * Dispatch: series -> collectd value lists (see dispatch.h).
 */
#include "collectd_compat.h"

#include "dispatch.h"
#include "errno_names.h"
#include "hash.h"
#include "identifier.h"
#include "op_names.h"

#define PLUGIN_NAME "nfs_ebpf"

/* The value lists of one series (or of the lost events) differ only in
 * type, type_instance and value: the rest is filled once, which costs more
 * than the values (a value_list_t is about 700 bytes and its names are
 * copied padded). plugin_dispatch_values copies what it is given, so one
 * value_list_t serves every dispatch. */
typedef struct {
  value_list_t vl;
  value_t value;
} submit_t;

static void submit_begin(submit_t *sub, cdtime_t now, const char *who) {
  sub->vl = (value_list_t)VALUE_LIST_INIT;
  sub->vl.values = &sub->value;
  sub->vl.values_len = 1;
  sub->vl.time = now;
  sstrncpy(sub->vl.plugin, PLUGIN_NAME, sizeof(sub->vl.plugin));
  sstrncpy(sub->vl.plugin_instance, who, sizeof(sub->vl.plugin_instance));
}

/* The type of the value lists that follow. */
static void submit_type(submit_t *sub, const char *type) {
  sstrncpy(sub->vl.type, type, sizeof(sub->vl.type));
}

/* Where the caller encodes the type_instance of the value lists that
 * follow: in place, not copied once more per value. */
static char *submit_what(submit_t *sub) { return sub->vl.type_instance; }

/* One value, under the type and type_instance set before. */
static void submit_value(submit_t *sub, value_t value) {
  sub->value = value;
  plugin_dispatch_values(&sub->vl);
}

static void submit_derive(submit_t *sub, uint64_t value) {
  submit_value(sub, (value_t){.derive = (derive_t)value});
}

/* Several values in one value list, under the type and type_instance set
 * before. */
static void submit_values(submit_t *sub, value_t *values, size_t n) {
  sub->vl.values = values;
  sub->vl.values_len = n;
  plugin_dispatch_values(&sub->vl);
  sub->vl.values = &sub->value;
  sub->vl.values_len = 1;
}

/* The type a histogram's buckets travel as: one value list, one DERIVE
 * data source per bucket (docs/identifiers.md, "The bucket type"). As one
 * value list per bucket, every bucket of every series would land in one
 * write_prometheus metric family, which collectd 5 sorts again on every
 * new metric: a busy node's family could never be filled. */
static char bucket_type[DATA_MAX_NAME_LEN];

/* The data sources of h's buckets. */
static int bucket_sources(const histogram_t *h, data_source_t *sources) {
  for (size_t i = 0; i <= h->count; i++) {
    sources[i] = (data_source_t){.type = DS_TYPE_DERIVE, .min = 0, .max = NAN};
    if (identifier_bucket_source(sources[i].name, sizeof(sources[i].name),
                                 h->le[i]) != 0)
      return -1;
  }
  return 0;
}

/* The default bounds keep the plain name, which the shipped types.db
 * (collectd.conf.d/nfs_ebpf-types.db) describes. Other bounds get a name
 * of their own, so a receiver that knows only the default bounds rejects
 * them rather than labelling their counts with the wrong le. */
static void bucket_type_name(const histogram_t *h, const data_source_t *sources,
                             char *name, size_t size) {
  histogram_t defaults;
  bool same =
      histogram_init_default(&defaults) == 0 && defaults.count == h->count;
  for (size_t i = 0; same && i <= h->count; i++)
    same = strcmp(defaults.le[i], h->le[i]) == 0;
  if (same) {
    sstrncpy(name, IDENTIFIER_BUCKET_TYPE, size);
    return;
  }

  uint64_t hash = HASH_FNV1A64_OFFSET;
  for (size_t i = 0; i <= h->count; i++) {
    if (i > 0)
      hash = hash_fnv1a64_update(hash, " ", 1);
    hash = hash_fnv1a64_update(hash, sources[i].name, strlen(sources[i].name));
  }
  snprintf(name, size, IDENTIFIER_BUCKET_TYPE "_%0*" PRIx32,
           IDENTIFIER_BUCKET_HASH_LEN, (uint32_t)(hash >> 32));
}

int dispatch_register_buckets(const histogram_t *h) {
  data_source_t sources[NFS_EBPF_MAX_BUCKETS + 1];
  if (bucket_sources(h, sources) != 0) {
    ERROR("nfs_ebpf plugin: a bucket bound has no data source name.");
    return -1;
  }
  data_set_t ds = {.ds_num = h->count + 1, .ds = sources};
  bucket_type_name(h, sources, ds.type, sizeof(ds.type));
  if (plugin_register_data_set(&ds) != 0) {
    ERROR("nfs_ebpf plugin: registering the type %s failed.", ds.type);
    return -1;
  }
  sstrncpy(bucket_type, ds.type, sizeof(bucket_type));

  /* What a collectd receiving these values needs in its types.db. */
  char line[(NFS_EBPF_MAX_BUCKETS + 1) * (DATA_MAX_NAME_LEN + 16)];
  size_t len = (size_t)snprintf(line, sizeof(line), "%s", ds.type);
  for (size_t i = 0; i < ds.ds_num && len < sizeof(line); i++)
    len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s:DERIVE:0:U",
                            i == 0 ? " " : ", ", sources[i].name);
  INFO("nfs_ebpf plugin: latency buckets are dispatched as type %s; a "
       "collectd receiving them needs this types.db line: %s",
       ds.type, line);
  return 0;
}

void dispatch_unregister_buckets(void) {
  if (bucket_type[0] != '\0')
    plugin_unregister_data_set(bucket_type);
  bucket_type[0] = '\0';
}

typedef struct {
  const histogram_t *histogram;
  cdtime_t now;
} dispatch_ctx_t;

static int submit_series(const series_t *s, void *user_data) {
  const dispatch_ctx_t *ctx = user_data;
  const histogram_t *histogram = ctx->histogram;
  const char *op = op_name(s->op);
  struct op_stats total;
  series_total(s, &total);

  /* __u64 is unsigned long long, uint64_t unsigned long: copy, don't
   * alias. */
  uint64_t buckets[NFS_EBPF_MAX_BUCKETS], cumulative[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    buckets[i] = total.buckets[i];
  histogram_cumulative(histogram, buckets, total.count, cumulative);

  submit_t sub;
  submit_begin(&sub, ctx->now, s->who);
  char *what = submit_what(&sub);
  size_t what_size = sizeof(sub.vl.type_instance);
  identifier_what_join(what, what_size, op, NULL, s->what_tail, s->server,
                       s->export_);
  /* _count is the +Inf bucket, so the two always agree. */
  submit_type(&sub, "operations");
  submit_derive(&sub, cumulative[histogram->count]);
  submit_type(&sub, "duration");
  submit_value(&sub, (value_t){.gauge = (gauge_t)total.latency_ns / 1e9});
  if (s->op == NFS_OP_READ || s->op == NFS_OP_WRITE) {
    submit_type(&sub, "total_bytes");
    submit_derive(&sub, total.bytes);
  }

  /* Cumulative buckets, Prometheus style; +Inf is the count (raised to
   * the buckets' sum if this copy caught a bucket before its count). */
  value_t le_values[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i <= histogram->count; i++)
    le_values[i].derive = (derive_t)cumulative[i];
  submit_type(&sub, bucket_type);
  submit_values(&sub, le_values, histogram->count + 1);

  submit_type(&sub, "errors");
  for (size_t i = 0; i < s->n_errnos; i++) {
    char name[32];
    errno_name(s->errnos[i].err, name, sizeof(name));
    identifier_what_join(what, what_size, op, name, s->what_tail, s->server,
                         s->export_);
    submit_derive(&sub, s->errnos[i].retired + s->errnos[i].live);
  }
  return 0;
}

void dispatch_series(series_table_t *series, const histogram_t *histogram,
                     cdtime_t now) {
  dispatch_ctx_t ctx = {.histogram = histogram, .now = now};
  series_for_each(series, submit_series, &ctx);
}

void dispatch_lost(const uint64_t lost[NFS_LOST_MAX], cdtime_t now) {
  submit_t sub;
  submit_begin(&sub, now, "");
  submit_type(&sub, "derive");
  for (int i = 0; i < NFS_LOST_MAX; i++) {
    sstrncpy(submit_what(&sub), lost_reason_name(i),
             sizeof(sub.vl.type_instance));
    submit_derive(&sub, lost[i]);
  }
}
