/*
 * shape_plugin: a stand-in for nfs_ebpf inside a real collectd, to measure
 * what collectd itself (its cache, write queue and write_prometheus or
 * network) spends on the value lists the plugin dispatches, for each way of
 * shaping them. Every interval it dispatches NFS_EBPF_SHAPE_SERIES series
 * under the plugin name "nfs_ebpf", with nfs_ebpf's identifiers and growing
 * values, shaped by NFS_EBPF_SHAPE:
 *
 *   bucket   what nfs_ebpf dispatched until it took multids: operations,
 *            duration, total_bytes (reads and writes), one total_operations
 *            per latency bucket (16 bounds and +Inf) and, for one series in
 *            ten, errors;
 *   coarse   the same with 8 bounds;
 *   multids  what nfs_ebpf dispatches now: the buckets as one value list of
 *            a type with 17 data sources (registered here with
 *            plugin_register_data_set; named b00..b16 here, le_* in the
 *            plugin, which costs the same), the rest as in bucket.
 *
 * NFS_EBPF_SHAPE_CHURN series are replaced by new ones (new pod names)
 * each interval, as pods come and go. Used by run.sh; not a product part.
 */
#include "collectd_compat.h"

#include <stdlib.h>

#define SHAPE_BUCKETS_MAX 17

static const char *const le_16[] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
    "1",      "2.5",     "5",      "10",    "+Inf"};
static const char *const le_8[] = {"0.0005", "0.001", "0.005", "0.01", "0.05",
                                   "0.1",    "0.5",   "1",     "+Inf"};
static const char *const ops[] = {"read", "write", "getattr", "lookup", "open"};

static enum { SHAPE_BUCKET, SHAPE_COARSE, SHAPE_MULTIDS } shape;
static size_t n_series, churn;
static uint64_t reads, first_pod;

static data_source_t bucket_ds[SHAPE_BUCKETS_MAX];
static data_set_t bucket_set = {"nfs_ebpf_buckets", SHAPE_BUCKETS_MAX,
                                bucket_ds};

static int shape_init(void) {
  const char *s = getenv("NFS_EBPF_SHAPE");
  shape = s == NULL || strcmp(s, "bucket") == 0 ? SHAPE_BUCKET
          : strcmp(s, "coarse") == 0            ? SHAPE_COARSE
                                                : SHAPE_MULTIDS;
  const char *n = getenv("NFS_EBPF_SHAPE_SERIES");
  const char *c = getenv("NFS_EBPF_SHAPE_CHURN");
  n_series = n != NULL ? strtoul(n, NULL, 10) : 1000;
  churn = c != NULL ? strtoul(c, NULL, 10) : 0;
  for (size_t i = 0; i < SHAPE_BUCKETS_MAX; i++) {
    snprintf(bucket_ds[i].name, sizeof(bucket_ds[i].name), "b%02zu", i);
    bucket_ds[i].type = DS_TYPE_DERIVE;
    bucket_ds[i].min = 0;
    bucket_ds[i].max = NAN;
  }
  if (shape == SHAPE_MULTIDS)
    return plugin_register_data_set(&bucket_set);
  return 0;
}

static void submit(value_list_t *vl, const char *type, const char *what,
                   value_t *values, size_t n) {
  sstrncpy(vl->type, type, sizeof(vl->type));
  sstrncpy(vl->type_instance, what, sizeof(vl->type_instance));
  vl->values = values;
  vl->values_len = n;
  plugin_dispatch_values(vl);
}

static int shape_read(void) {
  cdtime_t now = cdtime();
  reads++;
  first_pod += churn;
  for (size_t i = 0; i < n_series; i++) {
    uint64_t pod = first_pod + i / 20; /* 4 mounts x 5 ops per pod */
    const char *op = ops[i % 5];
    value_list_t vl = VALUE_LIST_INIT;
    vl.time = now;
    sstrncpy(vl.plugin, "nfs_ebpf", sizeof(vl.plugin));
    snprintf(vl.plugin_instance, sizeof(vl.plugin_instance),
             "team-%" PRIu64 "_web-%" PRIu64 "-7f9c6d5b8-x2x9q_app", pod % 40,
             pod);
    char what[DATA_MAX_NAME_LEN];
    snprintf(what, sizeof(what), "%s@10.0.0.%zu:|srv|nfs|pvc-%zu", op,
             (i / 5) % 4, (i / 5) % 4);
    uint64_t count = reads * (i + 1);
    value_t v = {.derive = (derive_t)count};
    submit(&vl, "operations", what, &v, 1);
    v.gauge = (double)count * 0.001;
    submit(&vl, "duration", what, &v, 1);
    if (i % 5 < 2) {
      v.derive = (derive_t)(count * 4096);
      submit(&vl, "total_bytes", what, &v, 1);
    }
    const char *const *le = shape == SHAPE_COARSE ? le_8 : le_16;
    size_t n_le = shape == SHAPE_COARSE ? 9 : 17;
    if (shape == SHAPE_MULTIDS) {
      value_t b[SHAPE_BUCKETS_MAX];
      for (size_t j = 0; j < n_le; j++)
        b[j].derive = (derive_t)(count * (j + 1) / n_le);
      submit(&vl, "nfs_ebpf_buckets", what, b, n_le);
    } else {
      for (size_t j = 0; j < n_le; j++) {
        char bucket[DATA_MAX_NAME_LEN];
        snprintf(bucket, sizeof(bucket), "%s-%s@10.0.0.%zu:|srv|nfs|pvc-%zu",
                 op, le[j], (i / 5) % 4, (i / 5) % 4);
        v.derive = (derive_t)(count * (j + 1) / n_le);
        submit(&vl, "total_operations", bucket, &v, 1);
      }
    }
    if (i % 10 == 0) {
      char err[DATA_MAX_NAME_LEN];
      snprintf(err, sizeof(err), "%s-EIO@10.0.0.%zu:|srv|nfs|pvc-%zu", op,
               (i / 5) % 4, (i / 5) % 4);
      v.derive = (derive_t)reads;
      submit(&vl, "errors", err, &v, 1);
    }
  }
  return 0;
}

void module_register(void) {
  plugin_register_init("shape", shape_init);
  plugin_register_read("shape", shape_read);
}
