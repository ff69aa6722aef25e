/*
 * Drain: copy the kernel maps and move their values into the series
 * (see drain.h).
 */
#include "collectd_compat.h"

#include "drain.h"
#include "log_once.h"
#include "rpc_procs.h"

#include <errno.h>

void drain_init(drain_t *d) {
  kstats_snapshot_init(&d->stats, sizeof(struct op_key),
                       sizeof(struct op_stats));
  kstats_snapshot_init(&d->errors, sizeof(struct err_key), sizeof(__u64));
  kstats_snapshot_init(&d->rpc, sizeof(struct rpc_key),
                       sizeof(struct rpc_stats));
}

void drain_free(drain_t *d) {
  kstats_snapshot_free(&d->stats);
  kstats_snapshot_free(&d->errors);
  kstats_snapshot_free(&d->rpc);
}

int drain_read_maps(drain_t *d, tracer_t *tracer, wire_t *wire) {
  const char *map = "op_stats";
  int status = kstats_read(tracer_stats_fd(tracer), &d->stats);
  if (status == 0) {
    map = "op_errors";
    status = kstats_read(tracer_errors_fd(tracer), &d->errors);
  }
  d->rpc.len = 0;
  if (status == 0 && wire != NULL) {
    map = "rpc_stats";
    status = kstats_read(wire_stats_fd(wire), &d->rpc);
  }
  if (status != 0)
    ERROR("nfs_ebpf plugin: reading the %s map failed: %s; this "
          "interval's values are not reported.",
          map, STRERROR(-status));
  return status;
}

/* The op_stats key an op_errors entry belongs to: same cgroup, device, op. */
static struct op_key op_key_of_error(const struct err_key *ek) {
  return (struct op_key){
      .cgroup_id = ek->cgroup_id, .dev = ek->dev, .op = ek->op};
}

/* Take one ended key out of a kernel map. `last` is this read's value,
 * final enough where the kernel cannot return the value on deletion (the
 * key was quiet for a read). Returns 0 once the key is out of the map. */
static int take_key(int fd, const void *key, const void *last, void *final,
                    size_t val_size) {
  int status = kstats_take(fd, key, final);
  if (status == 1 || status == -ENOENT) /* ENOENT: gone already */
    memcpy(final, last, val_size);
  if (status < 0 && status != -ENOENT) {
    log_once(LOG_ERR, "nfs_ebpf:retire-failed",
             "nfs_ebpf plugin: deleting an ended cgroup's kernel map entry "
             "failed: %s; it is kept and tried again next read (logged "
             "once).",
             STRERROR(-status));
    return status;
  }
  return 0;
}

/* Errors before stats: a retiring key's errors leave the map with their
 * final counts, which stay with its series for good; if one of them cannot
 * be removed, the key is kept (its errors still need the binding). The
 * BPF side updates op_stats before op_errors, so a bound stats key exists
 * for every error except one that raced with this read: it is picked up
 * next time (counts are cumulative). */
static void collect_errors(drain_t *d, tracer_t *tracer,
                           series_table_t *series) {
  for (size_t i = 0; i < d->errors.len; i++) {
    const struct err_key *ek = kstats_key(&d->errors, i);
    struct op_key key = op_key_of_error(ek);
    __u64 count, final;
    memcpy(&count, kstats_val(&d->errors, i), sizeof(count));
    int status;
    if (series_retiring(series, &key) &&
        take_key(tracer_errors_fd(tracer), ek, &count, &final, sizeof(final)) ==
            0)
      status = series_retire_key_errors(series, &key, ek->err, final);
    else {
      series_retire_cancel(series, &key);
      status = series_add_key_errors(series, &key, ek->err, count);
    }
    if (status != 0)
      ERROR("nfs_ebpf plugin: out of memory recording errors.");
  }
}

/* Every key's cumulative values into its series. A retiring key leaves the
 * map with its final value, which moves into its series for good; it is
 * unbound only after it left the map, so it is never counted again. */
static void collect_key(int fd, const void *kernel_key,
                        const struct op_key *key, const void *val,
                        size_t val_size, series_table_t *series) {
  series_values_t values = {0}, final = {0};
  memcpy(&values, val, val_size);
  if (series_retiring(series, key) &&
      take_key(fd, kernel_key, &values, &final, val_size) == 0) {
    series_retire_key_stats(series, key, &final);
    series_unbind(series, key);
    return;
  }
  series_retire_cancel(series, key);
  series_add_key_stats(series, key, &values);
}

static void collect_stats(drain_t *d, tracer_t *tracer,
                          series_table_t *series) {
  for (size_t i = 0; i < d->stats.len; i++)
    collect_key(tracer_stats_fd(tracer), kstats_key(&d->stats, i),
                kstats_key(&d->stats, i), kstats_val(&d->stats, i),
                sizeof(struct op_stats), series);
}

/* The wire level's keys, under their binding keys (rpc_procs.h). */
static void collect_rpc(drain_t *d, wire_t *wire, series_table_t *series) {
  for (size_t i = 0; i < d->rpc.len; i++) {
    const struct rpc_key *rk = kstats_key(&d->rpc, i);
    struct op_key key;
    if (rpc_binding_key(rk, &key) == 0)
      collect_key(wire_stats_fd(wire), rk, &key, kstats_val(&d->rpc, i),
                  sizeof(struct rpc_stats), series);
  }
}

void drain_collect(drain_t *d, tracer_t *tracer, wire_t *wire,
                   series_table_t *series) {
  collect_errors(d, tracer, series);
  collect_stats(d, tracer, series);
  if (wire != NULL)
    collect_rpc(d, wire, series);
}
