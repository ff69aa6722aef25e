/*
 * read_bench: what the read callback's own stages cost at a busy node's
 * key counts, on real kernel maps. For each N it creates op_stats and
 * op_errors as BPF hash maps of this host's kernel (root or CAP_BPF), fills
 * them with N keys (N / 20 pods' cgroups x the 4 NFS mounts of
 * tests/fixtures/mountinfo/k8s-node.mountinfo x 5 ops, one key in ten with
 * an errno), and runs a read's stages in src/nfs_ebpf.c's order:
 * drain_read_maps (the map copy), resolve_keys, drain_collect,
 * series_commit_interval, dispatch_series. It prints the CPU time of the
 * first read (every key bound, every series made), the median of READS
 * steady reads (a tenth of the keys grown in the kernel map before each,
 * outside the timing) with each stage's share, the value lists per read,
 * and the resident memory the reads added.
 *
 * Identity is a stand-in (every cgroup id is a pod, known at once): its
 * cost is tests/bench/identity_bench.c's. plugin_dispatch_values only
 * counts (collectd's own cost is not in this figure).
 *
 * It prints figures, it asserts no timing. Exit status 1 only when it
 * could not run (no BPF) or a read went wrong (a key not reported).
 *
 * Usage: read_bench MOUNTINFO [N ...]   (default N: 10000 100000)
 */
#include "collectd_compat.h"

#include "dispatch.h"
#include "drain.h"
#include "histogram.h"
#include "resolve.h"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#define READS 7
#define OPS_PER_MOUNT 5

static size_t dispatched;

/* ---- the daemon: a counting dispatcher (the rest: bench_daemon.c) ---- */
int plugin_dispatch_values(value_list_t const *vl) {
  (void)vl;
  dispatched++;
  return 0;
}

/* ---- stand-ins for the tracer (the maps) and identity ---- */
struct tracer_s {
  int stats_fd, errors_fd;
};
int tracer_stats_fd(const tracer_t *t) { return t->stats_fd; }
int tracer_errors_fd(const tracer_t *t) { return t->errors_fd; }
/* no wire level in this benchmark: drain never asks */
int wire_stats_fd(const wire_t *w) {
  (void)w;
  return -1;
}

/* Every cgroup id is pod (id / 4)'s container (id % 4): final, alive. */
identity_answer_t identity_resolve(identity_t *id, uint64_t cgroup_id,
                                   pod_identity_t *out) {
  (void)id;
  memset(out, 0, sizeof(*out));
  out->in_pod = true;
  snprintf(out->ns, sizeof(out->ns), "team-%" PRIu64, cgroup_id % 40);
  snprintf(out->pod, sizeof(out->pod), "web-%" PRIu64 "-7f9c6d5b8-x2x9q",
           cgroup_id);
  snprintf(out->container, sizeof(out->container), "app");
  return (identity_answer_t){.state = IDENTITY_FINAL, .alive = true};
}

/* CPU time of this thread: on a shared machine the wall clock mostly
 * measures the other jobs. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double rss_mib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static const uint32_t bench_ops[OPS_PER_MOUNT] = {
    NFS_OP_READ, NFS_OP_WRITE, NFS_OP_GETATTR, NFS_OP_LOOKUP, NFS_OP_OPEN};

static struct op_key key_of(size_t i, const uint32_t *devs, size_t n_devs) {
  size_t per_cgroup = n_devs * OPS_PER_MOUNT;
  return (struct op_key){.cgroup_id = 1000 + i / per_cgroup,
                         .dev = devs[(i / OPS_PER_MOUNT) % n_devs],
                         .op = bench_ops[i % OPS_PER_MOUNT]};
}

/* Key i's values, grown `round` times. */
static struct op_stats val_of(size_t i, int round) {
  struct op_stats v = {.count = 100 + i + (uint64_t)round * 10,
                       .bytes = 4096 * (i + (uint64_t)round),
                       .latency_ns = 1000000 * (i + 1 + (uint64_t)round)};
  for (size_t b = 0; b < NFS_EBPF_MAX_BUCKETS; b++)
    v.buckets[b] = (i + b + (size_t)round) % 7;
  return v;
}

typedef struct {
  double copy, resolve, collect, dispatch;
} stage_ms_t;

/* One read, as nfs_ebpf_read runs it; each stage's CPU time added to *t. */
static int one_read(drain_t *d, tracer_t *tracer, resolve_t *r, histogram_t *h,
                    stage_ms_t *t) {
  double t0 = cpu_ms();
  series_begin_interval(r->series, r->read_number);
  if (drain_read_maps(d, tracer, NULL) != 0)
    return -1;
  double t1 = cpu_ms();
  resolve_keys(r, &d->stats);
  double t2 = cpu_ms();
  drain_collect(d, tracer, NULL, r->series);
  series_commit_interval(r->series);
  double t3 = cpu_ms();
  dispatch_series(r->series, h, cdtime());
  double t4 = cpu_ms();
  t->copy += t1 - t0;
  t->resolve += t2 - t1;
  t->collect += t3 - t2;
  t->dispatch += t4 - t3;
  r->read_number++;
  return 0;
}

static int bench(const char *mountinfo, size_t n) {
  mount_table_t *mounts = mount_table_create(mountinfo);
  if (mounts == NULL || mount_table_count(mounts) == 0) {
    printf("not ok - cannot read %s\n", mountinfo);
    return -1;
  }
  /* The fixture's distinct NFS devices (several mounts share one). */
  uint32_t devs[8];
  size_t n_devs = 0;
  for (uint32_t minor = 0; minor < 256 && n_devs < 8; minor++) {
    uint32_t dev = mountinfo_kernel_dev(0, minor);
    if (mount_table_lookup(mounts, dev) != NULL)
      devs[n_devs++] = dev;
  }

  LIBBPF_OPTS(bpf_map_create_opts, opts);
  tracer_t tracer = {
      .stats_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_stats",
                                 sizeof(struct op_key), sizeof(struct op_stats),
                                 n, &opts),
      .errors_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_errors",
                                  sizeof(struct err_key), sizeof(__u64),
                                  n / 10 + 1, &opts)};
  if (tracer.stats_fd < 0 || tracer.errors_fd < 0) {
    printf("not ok - bpf_map_create failed: %s (root or CAP_BPF needed)\n",
           strerror(errno));
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    struct op_key k = key_of(i, devs, n_devs);
    struct op_stats v = val_of(i, 0);
    if (bpf_map_update_elem(tracer.stats_fd, &k, &v, BPF_ANY) != 0) {
      printf("not ok - filling op_stats: %s\n", strerror(errno));
      return -1;
    }
    if (i % 10 == 0) {
      struct err_key ek = {
          .cgroup_id = k.cgroup_id, .dev = k.dev, .op = k.op, .err = 5};
      __u64 count = i;
      bpf_map_update_elem(tracer.errors_fd, &ek, &count, BPF_ANY);
    }
  }

  histogram_t histogram;
  if (histogram_init_default(&histogram) != 0 ||
      dispatch_register_buckets(&histogram, false) != 0)
    return -1;
  drain_t drained;
  drain_init(&drained);
  resolve_t r = {.mounts = mounts,
                 .identity = NULL,
                 .series = series_table_create(),
                 .read_number = 1};
  double rss_before = rss_mib();

  stage_ms_t first = {0};
  dispatched = 0;
  if (one_read(&drained, &tracer, &r, &histogram, &first) != 0)
    return -1;
  size_t lists = dispatched;
  size_t series = series_count(r.series);
  double rss_first = rss_mib();

  double total[READS];
  stage_ms_t sum = {0};
  for (int round = 1; round <= READS; round++) {
    for (size_t i = (size_t)round; i < n; i += 10) { /* a tenth grows */
      struct op_key k = key_of(i, devs, n_devs);
      struct op_stats v = val_of(i, round);
      bpf_map_update_elem(tracer.stats_fd, &k, &v, BPF_EXIST);
    }
    stage_ms_t t = {0};
    if (one_read(&drained, &tracer, &r, &histogram, &t) != 0)
      return -1;
    total[round - 1] = t.copy + t.resolve + t.collect + t.dispatch;
    sum.copy += t.copy;
    sum.resolve += t.resolve;
    sum.collect += t.collect;
    sum.dispatch += t.dispatch;
  }
  qsort(total, READS, sizeof(total[0]), cmp_double);
  double all = sum.copy + sum.resolve + sum.collect + sum.dispatch;

  /* Every key must have become a series: N keys, one series each. */
  int status = series == n ? 0 : -1;
  printf("%s - N=%zu keys: %zu series after the first read\n",
         status == 0 ? "ok" : "not ok", n, series);
  printf("# N=%zu keys (%zu pods' cgroups x %zu mounts x %d ops): first read "
         "%.1f ms CPU (copy %.1f, resolve %.1f, collect %.1f, dispatch %.1f); "
         "steady read median %.1f ms, min %.1f, max %.1f (copy %.0f %%, "
         "resolve %.0f %%, collect %.0f %%, dispatch %.0f %%); %zu value "
         "lists per read; RSS +%.1f MiB after the first read, +%.1f MiB "
         "after %d more\n",
         n, (n + n_devs * OPS_PER_MOUNT - 1) / (n_devs * OPS_PER_MOUNT), n_devs,
         OPS_PER_MOUNT,
         first.copy + first.resolve + first.collect + first.dispatch,
         first.copy, first.resolve, first.collect, first.dispatch,
         total[READS / 2], total[0], total[READS - 1], 100 * sum.copy / all,
         100 * sum.resolve / all, 100 * sum.collect / all,
         100 * sum.dispatch / all, lists, rss_first - rss_before,
         rss_mib() - rss_before, READS);

  series_table_destroy(r.series);
  drain_free(&drained);
  mount_table_destroy(mounts);
  close(tracer.stats_fd);
  close(tracer.errors_fd);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MOUNTINFO [N ...]\n", argv[0]);
    return 2;
  }
  int status = 0;
  if (argc == 2) {
    status |= bench(argv[1], 10000) != 0;
    status |= bench(argv[1], 100000) != 0;
  }
  for (int i = 2; i < argc; i++)
    status |= bench(argv[1], (size_t)strtoul(argv[i], NULL, 10)) != 0;
  return status;
}
