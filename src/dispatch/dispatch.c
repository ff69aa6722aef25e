/*
 * Dispatch: series -> collectd value lists (see dispatch.h).
 */
#include "collectd_compat.h"

#include "dispatch.h"
#include "errno_names.h"
#include "hash.h"
#include "identifier.h"
#include "op_names.h"
#include "rpc_procs.h"

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
static char rtt_bucket_type[DATA_MAX_NAME_LEN];
static bool rpc_type_registered;

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
                             const char *base, char *name, size_t size) {
  histogram_t defaults;
  bool same =
      histogram_init_default(&defaults) == 0 && defaults.count == h->count;
  for (size_t i = 0; same && i <= h->count; i++)
    same = strcmp(defaults.le[i], h->le[i]) == 0;
  if (same) {
    sstrncpy(name, base, size);
    return;
  }

  uint64_t hash = HASH_FNV1A64_OFFSET;
  for (size_t i = 0; i <= h->count; i++) {
    if (i > 0)
      hash = hash_fnv1a64_update(hash, " ", 1);
    hash = hash_fnv1a64_update(hash, sources[i].name, strlen(sources[i].name));
  }
  snprintf(name, size, "%s_%0*" PRIx32, base, IDENTIFIER_BUCKET_HASH_LEN,
           (uint32_t)(hash >> 32));
}

/* Registers a data set and logs the types.db line a collectd receiving
 * it (network plugin) needs. Returns 0, or -1 (logged). */
static int register_type(const data_set_t *ds) {
  if (plugin_register_data_set(ds) != 0) {
    ERROR("nfs_ebpf plugin: registering the type %s failed.", ds->type);
    return -1;
  }
  char line[(NFS_EBPF_MAX_BUCKETS + 1) * (DATA_MAX_NAME_LEN + 16)];
  size_t len = (size_t)snprintf(line, sizeof(line), "%s", ds->type);
  for (size_t i = 0; i < ds->ds_num && len < sizeof(line); i++)
    len += (size_t)snprintf(
        line + len, sizeof(line) - len, "%s%s:%s:0:U", i == 0 ? " " : ", ",
        ds->ds[i].name, ds->ds[i].type == DS_TYPE_GAUGE ? "GAUGE" : "DERIVE");
  INFO("nfs_ebpf plugin: type %s; a collectd receiving it needs this "
       "types.db line: %s",
       ds->type, line);
  return 0;
}

/* The wire level's columns (struct rpc_stats), in this order: counters as
 * DERIVE, time sums in seconds as monotonic GAUGEs (DERIVE is integer). */
static const struct {
  const char *name;
  int type;
} rpc_sources[] = {
    {"requests", DS_TYPE_DERIVE},       {"transmissions", DS_TYPE_DERIVE},
    {"major_timeouts", DS_TYPE_DERIVE}, {"errors", DS_TYPE_DERIVE},
    {"sent_bytes", DS_TYPE_DERIVE},     {"received_bytes", DS_TYPE_DERIVE},
    {"replies", DS_TYPE_DERIVE},        {"queue_seconds", DS_TYPE_GAUGE},
    {"rtt_seconds", DS_TYPE_GAUGE},     {"execute_seconds", DS_TYPE_GAUGE},
};
#define RPC_SOURCES (sizeof(rpc_sources) / sizeof(rpc_sources[0]))

static int register_rpc_type(void) {
  data_source_t sources[RPC_SOURCES];
  for (size_t i = 0; i < RPC_SOURCES; i++) {
    sources[i] =
        (data_source_t){.type = rpc_sources[i].type, .min = 0, .max = NAN};
    sstrncpy(sources[i].name, rpc_sources[i].name, sizeof(sources[i].name));
  }
  data_set_t ds = {.ds_num = RPC_SOURCES, .ds = sources};
  sstrncpy(ds.type, IDENTIFIER_RPC_TYPE, sizeof(ds.type));
  if (register_type(&ds) != 0)
    return -1;
  rpc_type_registered = true;
  return 0;
}

int dispatch_register_buckets(const histogram_t *h, bool wire) {
  data_source_t sources[NFS_EBPF_MAX_BUCKETS + 1];
  if (bucket_sources(h, sources) != 0) {
    ERROR("nfs_ebpf plugin: a bucket bound has no data source name.");
    return -1;
  }
  data_set_t ds = {.ds_num = h->count + 1, .ds = sources};
  bucket_type_name(h, sources, IDENTIFIER_BUCKET_TYPE, ds.type,
                   sizeof(ds.type));
  if (register_type(&ds) != 0)
    return -1;
  sstrncpy(bucket_type, ds.type, sizeof(bucket_type));
  if (!wire)
    return 0;

  bucket_type_name(h, sources, IDENTIFIER_RTT_BUCKET_TYPE, ds.type,
                   sizeof(ds.type));
  if (register_type(&ds) != 0) {
    dispatch_unregister_buckets();
    return -1;
  }
  sstrncpy(rtt_bucket_type, ds.type, sizeof(rtt_bucket_type));
  if (register_rpc_type() != 0) {
    dispatch_unregister_buckets();
    return -1;
  }
  return 0;
}

void dispatch_unregister_buckets(void) {
  char *types[] = {bucket_type, rtt_bucket_type};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (types[i][0] != '\0')
      plugin_unregister_data_set(types[i]);
    types[i][0] = '\0';
  }
  if (rpc_type_registered)
    plugin_unregister_data_set(IDENTIFIER_RPC_TYPE);
  rpc_type_registered = false;
}

typedef struct {
  const histogram_t *histogram;
  cdtime_t now;
} dispatch_ctx_t;

/* A wire level series: its columns in one value list, its RTT histogram
 * in another; what is `<PROC>@<server>:<export>`. */
static int submit_rpc_series(const series_t *s, const dispatch_ctx_t *ctx) {
  const histogram_t *histogram = ctx->histogram;
  const char *proc = rpc_op_proc(s->op);
  if (proc == NULL)
    return 0; /* impossible: every RPC op comes from rpc_op_of */
  series_values_t values;
  series_total(s, &values);
  const struct rpc_stats *total = &values.rpc;

  submit_t sub;
  submit_begin(&sub, ctx->now, s->who);
  identifier_what_join(submit_what(&sub), sizeof(sub.vl.type_instance), proc,
                       NULL, s->what_tail, s->server, s->export_);
  value_t columns[RPC_SOURCES] = {
      {.derive = (derive_t)total->requests},
      {.derive = (derive_t)total->transmissions},
      {.derive = (derive_t)total->major_timeouts},
      {.derive = (derive_t)total->errors},
      {.derive = (derive_t)total->sent_bytes},
      {.derive = (derive_t)total->received_bytes},
      {.derive = (derive_t)total->replies},
      {.gauge = (gauge_t)total->queue_ns / 1e9},
      {.gauge = (gauge_t)total->rtt_ns / 1e9},
      {.gauge = (gauge_t)total->execute_ns / 1e9},
  };
  submit_type(&sub, IDENTIFIER_RPC_TYPE);
  submit_values(&sub, columns, RPC_SOURCES);

  /* +Inf is replies, the RTT histogram's count */
  uint64_t buckets[NFS_EBPF_MAX_BUCKETS], cumulative[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    buckets[i] = total->rtt_buckets[i];
  histogram_cumulative(histogram, buckets, total->replies, cumulative);
  value_t le_values[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i <= histogram->count; i++)
    le_values[i].derive = (derive_t)cumulative[i];
  submit_type(&sub, rtt_bucket_type);
  submit_values(&sub, le_values, histogram->count + 1);
  return 0;
}

static int submit_series(const series_t *s, void *user_data) {
  const dispatch_ctx_t *ctx = user_data;
  if (rpc_op_is_rpc(s->op))
    return submit_rpc_series(s, ctx);
  const histogram_t *histogram = ctx->histogram;
  const char *op = op_name(s->op);
  series_values_t values;
  series_total(s, &values);
  const struct op_stats total = values.op;

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
