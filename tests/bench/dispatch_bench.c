/*
 * dispatch_bench: what one read's dispatch stage costs (dispatch_series:
 * every series -> collectd value lists, each named by identifier.c).
 *
 * For each N (default 10000 series) it fills a series table as a busy node
 * would (N pods' series over 50 exports of 10 servers, ops cycling through
 * read / write / getattr / lookup, one series in ten with two errnos) with
 * the default 16 latency buckets, then measures the CPU time of
 * dispatch_series over READS reads. plugin_dispatch_values is a stand-in that
 * only folds what it is given into a checksum, on a first read that is not
 * timed, and only counts on the timed ones (the real daemon's cost is not ours
 * to measure): the checksum, printed, tells whether two builds dispatch exactly
 * the same names and values, in the same order.
 *
 * It prints figures, it asserts no timing.
 *
 * Usage: dispatch_bench [N ...]
 */
#include "collectd_compat.h"

#include "dispatch.h"
#include "histogram.h"
#include "series.h"

#include <time.h>

#define READS 20

static uint64_t checksum;
static bool folding; /* the checksum's read; the timed ones only count */
static size_t dispatched;

static void fold(const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++)
    checksum = (checksum ^ p[i]) * UINT64_C(0x100000001b3);
}

/* The daemon's symbols the modules under test use. */
int plugin_dispatch_values(value_list_t const *vl) {
  dispatched++;
  if (!folding)
    return 0;
  fold(vl->plugin_instance, strlen(vl->plugin_instance) + 1);
  fold(vl->type, strlen(vl->type) + 1);
  fold(vl->type_instance, strlen(vl->type_instance) + 1);
  fold(vl->values, sizeof(*vl->values) * vl->values_len);
  return 0;
}

/* CPU time of this thread: on a shared machine the wall clock mostly
 * measures the other jobs. */
static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static series_table_t *fill(size_t n) {
  static const uint32_t ops[] = {NFS_OP_READ, NFS_OP_WRITE, NFS_OP_GETATTR,
                                 NFS_OP_LOOKUP};
  series_table_t *t = series_table_create();
  if (t == NULL)
    return NULL;
  series_begin_interval(t, 1);
  for (size_t i = 0; i < n; i++) {
    char who[SERIES_NAME_LEN], server[32], export_[64];
    snprintf(who, sizeof(who), "shop_web-%zu-7f9c6d5b8-x2x9q_app", i / 4);
    snprintf(server, sizeof(server), "10.0.0.%zu", i % 10);
    snprintf(export_, sizeof(export_), "/srv/nfs/volumes/pvc-%zu", i % 50);
    series_t *s = series_get(t, who, server, export_, ops[i % 4]);
    if (s == NULL)
      return NULL;
    series_values_t val = {.op = {.count = 1000 + i,
                                  .bytes = 4096 * i,
                                  .latency_ns = 1000000 * i}};
    for (size_t b = 0; b < NFS_EBPF_MAX_BUCKETS; b++)
      val.op.buckets[b] = (i + b) % 7;
    series_add_stats(t, s, &val, false);
    if (i % 10 == 0 && (series_add_errors(t, s, 5, i, false) != 0 ||
                        series_add_errors(t, s, 116, 1, false) != 0))
      return NULL;
  }
  series_commit_interval(t);
  return t;
}

static int bench(size_t n) {
  histogram_t histogram;
  if (histogram_init_default(&histogram) != 0 ||
      dispatch_register_buckets(&histogram, false) != 0)
    return -1;
  series_table_t *t = fill(n);
  if (t == NULL) {
    printf("not ok - N=%zu: cannot fill the series table\n", n);
    return -1;
  }

  checksum = UINT64_C(0xcbf29ce484222325);
  dispatched = 0;
  folding = true;
  dispatch_series(t, &histogram, 1);
  folding = false;
  uint64_t one_read = checksum;
  size_t per_read = dispatched;

  double start = cpu_ns();
  for (int r = 0; r < READS; r++)
    dispatch_series(t, &histogram, 1);
  double per_read_ns = (cpu_ns() - start) / READS;

  printf("# N=%zu series: %zu value lists per read, %.2f ms CPU per read, "
         "%.0f ns per value list; checksum %016" PRIx64 "\n",
         n, per_read, per_read_ns / 1e6, per_read_ns / (double)per_read,
         one_read);
  series_table_destroy(t);
  return 0;
}

int main(int argc, char **argv) {
  int status = 0;
  if (argc < 2)
    return bench(10000) == 0 ? 0 : 1;
  for (int i = 1; i < argc; i++)
    if (bench((size_t)strtoul(argv[i], NULL, 10)) != 0)
      status = 1;
  return status;
}
