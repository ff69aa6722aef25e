/*
 * Dispatch: series -> collectd value lists (see dispatch.h).
 */
#include "collectd_compat.h"

#include "dispatch.h"
#include "errno_names.h"
#include "identifier.h"
#include "op_names.h"

#define PLUGIN_NAME "nfs_ebpf"

/* One value of one series. `what` is the already encoded type_instance. */
static void submit_value(cdtime_t now, const char *who, const char *type,
                         const char *what, value_t value) {
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &value;
  vl.values_len = 1;
  vl.time = now;
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, who, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, what, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

static void submit_derive(cdtime_t now, const char *who, const char *type,
                          const char *what, uint64_t value) {
  submit_value(now, who, type, what, (value_t){.derive = (derive_t)value});
}

typedef struct {
  const histogram_t *histogram;
  cdtime_t now;
} dispatch_ctx_t;

static int submit_series(const series_t *s, void *user_data) {
  const dispatch_ctx_t *ctx = user_data;
  const histogram_t *histogram = ctx->histogram;
  cdtime_t now = ctx->now;
  const char *op = op_name(s->op);
  struct op_stats total;
  series_total(s, &total);

  /* __u64 is unsigned long long, uint64_t unsigned long: copy, don't
   * alias. */
  uint64_t buckets[NFS_EBPF_MAX_BUCKETS], cumulative[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    buckets[i] = total.buckets[i];
  histogram_cumulative(histogram, buckets, total.count, cumulative);

  char what[SERIES_NAME_LEN];
  identifier_what_join(what, sizeof(what), op, NULL, s->what_tail, s->server,
                       s->export_);
  /* _count is the +Inf bucket, so the two always agree. */
  submit_derive(now, s->who, "operations", what, cumulative[histogram->count]);
  submit_value(now, s->who, "duration", what,
               (value_t){.gauge = (gauge_t)total.latency_ns / 1e9});
  if (s->op == NFS_OP_READ || s->op == NFS_OP_WRITE)
    submit_derive(now, s->who, "total_bytes", what, total.bytes);

  /* Cumulative buckets, Prometheus style; +Inf is the count (raised to
   * the buckets' sum if this copy caught a bucket before its count). */
  for (size_t i = 0; i <= histogram->count; i++) {
    identifier_what_join(what, sizeof(what), op, histogram->le[i], s->what_tail,
                         s->server, s->export_);
    submit_derive(now, s->who, "total_operations", what, cumulative[i]);
  }

  for (size_t i = 0; i < s->n_errnos; i++) {
    char name[32];
    errno_name(s->errnos[i].err, name, sizeof(name));
    identifier_what_join(what, sizeof(what), op, name, s->what_tail, s->server,
                         s->export_);
    submit_derive(now, s->who, "errors", what,
                  s->errnos[i].retired + s->errnos[i].live);
  }
  return 0;
}

void dispatch_series(series_table_t *series, const histogram_t *histogram,
                     cdtime_t now) {
  dispatch_ctx_t ctx = {.histogram = histogram, .now = now};
  series_for_each(series, submit_series, &ctx);
}

void dispatch_lost(const uint64_t lost[NFS_LOST_MAX], cdtime_t now) {
  for (int i = 0; i < NFS_LOST_MAX; i++)
    submit_derive(now, "", "derive", lost_reason_name(i), lost[i]);
}
