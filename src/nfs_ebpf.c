/**
 * nfs_ebpf: per-Pod NFS client operations for collectd, traced with eBPF.
 * This file is the collectd glue: configuration, init, shutdown, and the
 * read callback, which runs the stages of the pipeline in order.
 *
 * The path of one NFS read, end to end:
 *  1. probe, bpf/nfs_ebpf.bpf.c: nfs_file_read's entry stamps the time for
 *     (thread, op); its return adds count, bytes, latency and a bucket to
 *     op_stats[{cgroup id, device, op}] (errors to op_errors).
 *     src/probe/tracer.c loads those programs once the nfs modules exist.
 *  2. drain, src/drain/drain.c: copies both maps each interval.
 *  3. resolve, src/resolve/resolve.c: binds each key to the series of its
 *     labels: cgroup id -> pod (identity.c), device -> NFS server and
 *     export (mount_table.c).
 *  4. series, src/series/series.c: cumulative values per label set, kept
 *     across container restarts and ended keys; drain moves the copied
 *     values in.
 *  5. dispatch, src/dispatch/dispatch.c: value lists named as
 *     identifier.h says. write_prometheus prints
 *     collectd_nfs_ebpf_total_bytes_total{...}, and
 *     contrib/prometheus/scrape-config.yml renames it to
 *     nfs_ebpf_bytes_total{namespace,pod,container,server,export,op="read"}.
 */

#include "collectd_compat.h"

#include "dispatch.h"
#include "drain.h"
#include "histogram.h"
#include "host_path.h"
#include "identity.h"
#include "log_once.h"
#include "mount_table.h"
#include "nfs_ebpf.h"
#include "resolve.h"
#include "series.h"
#include "tracer.h"
#include "wire.h"

#include <errno.h>
#include <math.h>

#define PLUGIN_NAME "nfs_ebpf"

/*
 * Configuration (see collectd.conf.d/nfs_ebpf.conf for the user's view).
 */
static tracer_attach_mode_t conf_attach_mode = TRACER_ATTACH_AUTO;
static double conf_bucket_seconds[NFS_EBPF_MAX_BUCKETS];
static size_t conf_bucket_count;
static uint32_t conf_max_entries = NFS_EBPF_DEFAULT_MAX_ENTRIES;
static char *conf_host_root;
static char *conf_mountinfo;
static char *conf_cgroup_root;
static char **conf_state_dirs;
static size_t conf_state_dir_count;
static cdtime_t conf_retain_ended;
static size_t conf_max_watches; /* 0: identity's default */
static bool conf_wire = true;   /* the wire level (nfs_ebpf_rpc_*) */

/*
 * Run-time state, owned by init/read/shutdown. collectd never runs one
 * read callback concurrently with itself, and shutdown runs after the read
 * threads stopped, so none of this needs a lock.
 */
static histogram_t histogram;
static tracer_t *tracer;
static wire_t *wire; /* NULL: the wire level is off */
static mount_table_t *mounts;
static identity_t *identity;
static series_table_t *series;
static drain_t drained;         /* this read's copy of the kernel maps */
static uint64_t read_number;    /* counts reads; the series table's stamp */
static cdtime_t last_read_time; /* time stamped on the previous read's values */

static int config_attach_mode(oconfig_item_t *ci) {
  char *mode = NULL;
  if (cf_util_get_string(ci, &mode) != 0)
    return -1;
  int status = 0;
  if (strcasecmp(mode, "auto") == 0)
    conf_attach_mode = TRACER_ATTACH_AUTO;
  else if (strcasecmp(mode, "fentry") == 0)
    conf_attach_mode = TRACER_ATTACH_FENTRY;
  else if (strcasecmp(mode, "kprobe") == 0)
    conf_attach_mode = TRACER_ATTACH_KPROBE;
  else {
    ERROR("nfs_ebpf plugin: AttachMode \"%s\" is not one of \"auto\", "
          "\"fentry\" or \"kprobe\".",
          mode);
    status = -1;
  }
  sfree(mode);
  return status;
}

/* `Bucket 0.001 0.01 0.1`: upper bounds in seconds, as collectd's own
 * latency config does it. Several Bucket lines add up. */
static int config_buckets(oconfig_item_t *ci) {
  if (ci->values_num < 1) {
    ERROR("nfs_ebpf plugin: Bucket needs at least one number (seconds).");
    return -1;
  }
  for (int i = 0; i < ci->values_num; i++) {
    if (ci->values[i].type != OCONFIG_TYPE_NUMBER) {
      ERROR("nfs_ebpf plugin: Bucket takes numbers (upper bounds in "
            "seconds); argument %d is not a number.",
            i + 1);
      return -1;
    }
    if (conf_bucket_count >= NFS_EBPF_MAX_BUCKETS) {
      ERROR("nfs_ebpf plugin: at most %d Bucket bounds are supported.",
            NFS_EBPF_MAX_BUCKETS);
      return -1;
    }
    conf_bucket_seconds[conf_bucket_count++] = ci->values[i].value.number;
  }
  return 0;
}

static int config_max_entries(oconfig_item_t *ci) {
  /* Read as a double and range-check before converting: collectd's
   * cf_util_get_int casts without checking, and 1e12 does not fit. */
  double value = 0;
  if (cf_util_get_double(ci, &value) != 0)
    return -1;
  /* Below 64 the maps are useless; above 2^22 the op_stats map alone would
   * take over a gigabyte of kernel memory. */
  if (!(value >= 64 && value <= (1 << 22)) || value != (double)(int)value) {
    ERROR("nfs_ebpf plugin: MaxEntries %g is not a whole number in "
          "[64, %d].",
          value, 1 << 22);
    return -1;
  }
  conf_max_entries = (uint32_t)value;
  return 0;
}

static int config_retain_ended(oconfig_item_t *ci) {
  /* Range-checked as a double: cf_util_get_cdtime converts 1e30 or NaN
   * without checking. A week is far more than any tombstone needs. */
  double seconds = 0;
  if (cf_util_get_double(ci, &seconds) != 0)
    return -1;
  if (!(seconds >= 0 && seconds <= 7 * 86400)) {
    ERROR("nfs_ebpf plugin: RetainEndedSeries %g is not a number of "
          "seconds in [0, 604800].",
          seconds);
    return -1;
  }
  conf_retain_ended = DOUBLE_TO_CDTIME_T(seconds);
  return 0;
}

static int config_max_watches(oconfig_item_t *ci) {
  /* The kernel's fs.inotify.max_user_watches tops out near 2^20. */
  double value = 0;
  if (cf_util_get_double(ci, &value) != 0)
    return -1;
  if (!(value >= 1 && value <= (1 << 20)) || value != (double)(int)value) {
    ERROR("nfs_ebpf plugin: MaxInotifyWatches %g is not a whole number in "
          "[1, %d].",
          value, 1 << 20);
    return -1;
  }
  conf_max_watches = (size_t)value;
  return 0;
}

static int config_state_dir(oconfig_item_t *ci) {
  char *dir = NULL;
  if (cf_util_get_string(ci, &dir) != 0)
    return -1;
  char **grown =
      realloc(conf_state_dirs, (conf_state_dir_count + 1) * sizeof(*grown));
  if (grown == NULL) {
    sfree(dir);
    return -1;
  }
  conf_state_dirs = grown;
  conf_state_dirs[conf_state_dir_count++] = dir;
  return 0;
}

static int nfs_ebpf_config(oconfig_item_t *ci) {
  int status = 0;
  for (int i = 0; i < ci->children_num && status == 0; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp("AttachMode", child->key) == 0)
      status = config_attach_mode(child);
    else if (strcasecmp("Bucket", child->key) == 0)
      status = config_buckets(child);
    else if (strcasecmp("MaxEntries", child->key) == 0)
      status = config_max_entries(child);
    else if (strcasecmp("HostRoot", child->key) == 0)
      status = cf_util_get_string(child, &conf_host_root);
    else if (strcasecmp("MountInfo", child->key) == 0)
      status = cf_util_get_string(child, &conf_mountinfo);
    else if (strcasecmp("CgroupRoot", child->key) == 0)
      status = cf_util_get_string(child, &conf_cgroup_root);
    else if (strcasecmp("StateDir", child->key) == 0)
      status = config_state_dir(child);
    else if (strcasecmp("RetainEndedSeries", child->key) == 0)
      status = config_retain_ended(child);
    else if (strcasecmp("MaxInotifyWatches", child->key) == 0)
      status = config_max_watches(child);
    else if (strcasecmp("Wire", child->key) == 0)
      status = cf_util_get_boolean(child, &conf_wire);
    else {
      ERROR("nfs_ebpf plugin: unknown option \"%s\".", child->key);
      status = -1;
    }
  }
  return status;
}

/* A host path under HostRoot (see host_path.h). */
static void host_file(char *buf, size_t size, const char *path) {
  host_path(buf, size, conf_host_root, path);
}

/* Releases everything init creates, whatever part of it exists: init's
 * failure path and shutdown share it, so a failed init leaves no watcher
 * thread, inotify descriptor or BPF object behind. */
static void free_runtime(void) {
  wire_close(wire); /* uses the tracer's lost_events map */
  wire = NULL;
  tracer_close(tracer); /* detaches every probe first */
  tracer = NULL;
  series_table_destroy(series);
  series = NULL;
  identity_destroy(identity); /* stops the watcher thread */
  identity = NULL;
  mount_table_destroy(mounts);
  mounts = NULL;
  drain_free(&drained);
}

static int nfs_ebpf_init(void) {
  char err[256] = "";
  const double *bounds = conf_bucket_seconds;
  size_t nbounds = conf_bucket_count;
  if (nbounds == 0)
    histogram_default_bounds(&bounds, &nbounds);
  if (histogram_init(&histogram, bounds, nbounds, err, sizeof(err)) != 0) {
    ERROR("nfs_ebpf plugin: invalid Bucket configuration: %s", err);
    return -1;
  }
  if (dispatch_register_buckets(&histogram, conf_wire) != 0)
    return -1;
  if (conf_retain_ended == 0)
    conf_retain_ended = TIME_T_TO_CDTIME_T(600);

  /* The mount table of the host's mount namespace: kubelet mounts pod
   * volumes there. In a DaemonSet, /proc/self is the pod's namespace, so
   * read init's view through HostRoot. */
  char path[PATH_MAX];
  if (conf_mountinfo != NULL)
    host_file(path, sizeof(path), conf_mountinfo); /* a host path, like
                                                       CgroupRoot, StateDir */
  else if (conf_host_root != NULL && strcmp(conf_host_root, "/") != 0)
    host_file(path, sizeof(path), "/proc/1/mountinfo");
  else
    sstrncpy(path, "/proc/self/mountinfo", sizeof(path));
  mounts = mount_table_create(path);
  if (mounts == NULL)
    goto fail; /* mount_table_create logged why */
  /* Devices the host's table lacks are looked for in containers' mount
   * namespaces, through the host's /proc. */
  char proc_dir[PATH_MAX];
  host_file(proc_dir, sizeof(proc_dir), "/proc");
  if (mount_table_search_namespaces(mounts, proc_dir) != 0) {
    ERROR("nfs_ebpf plugin: out of memory setting up the mount table.");
    goto fail;
  }

  /* CgroupRoot and StateDir are paths on the host: identity puts
   * HostRoot in front of them. */
  identity_config_t icfg = {
      .host_root = conf_host_root,
      .cgroup_root = conf_cgroup_root,
      .state_dirs = (const char *const *)conf_state_dirs,
      .n_state_dirs = conf_state_dir_count,
      .max_watches = conf_max_watches,
  };
  identity = identity_create(&icfg);
  if (identity == NULL)
    goto fail;

  series = series_table_create();
  if (series == NULL) {
    ERROR("nfs_ebpf plugin: out of memory creating the series table.");
    goto fail;
  }
  drain_init(&drained);

  char sys_module[PATH_MAX];
  host_file(sys_module, sizeof(sys_module), "/sys/module");
  tracer_config_t tcfg = {
      .mode = conf_attach_mode,
      .nr_buckets = (uint32_t)histogram.count,
      .max_entries = conf_max_entries,
      .cgroup_controller = identity_bpf_cgroup_controller(identity),
      .sys_module_dir = sys_module,
  };
  memcpy(tcfg.bucket_bounds_ns, histogram.bounds_ns,
         sizeof(tcfg.bucket_bounds_ns));
  if (tracer_open(&tcfg, &tracer) != 0)
    goto fail; /* tracer_open logged the cause and what to do about it */

  if (conf_wire) {
    wire_config_t wcfg = {
        .mode = conf_attach_mode,
        .nr_buckets = tcfg.nr_buckets,
        .max_entries = conf_max_entries,
        .cgroup_controller = tcfg.cgroup_controller,
        .sys_module_dir = sys_module,
        .lost_events_fd = tracer_lost_fd(tracer),
    };
    memcpy(wcfg.bucket_bounds_ns, tcfg.bucket_bounds_ns,
           sizeof(wcfg.bucket_bounds_ns));
    /* Without it (logged) operations are still reported. */
    wire_open(&wcfg, &wire);
  }

  /* Attach now if the nfs modules are already loaded; otherwise every read
   * checks again, so a mount made later is traced without a restart. */
  tracer_sync_modules(tracer);
  wire_sync_modules(wire);
  const char *v1 = NULL;
  if (identity_cgroup_mode(identity, &v1) != IDENTITY_CGROUP_V1)
    v1 = NULL;
  INFO("nfs_ebpf plugin: ready: %zu latency buckets, MaxEntries %" PRIu32
       ", mountinfo %s, cgroup ids from %s%s%s.",
       histogram.count, conf_max_entries, path,
       v1 ? "the cgroup v1 controller " : "cgroup v2", v1 ? v1 : "",
       v1 ? " (its kernel index comes from the kernel's BTF)" : "");
  return 0;

fail:
  free_runtime();
  dispatch_unregister_buckets();
  return -1;
}

/* Lost events are always dispatched, zeros included. */
static void submit_lost(cdtime_t now) {
  uint64_t lost[NFS_LOST_MAX] = {0};
  if (tracer_read_lost(tracer, lost) != 0)
    return; /* logged by the tracer; no number beats a wrong number */
  /* the BPF side never ran for these: the kernel counted them */
  lost[NFS_LOST_RPC_PROGRAM_SKIPPED] += wire_skipped(wire);
  dispatch_lost(lost, now);
}

/* The time stamped on one read's values. collectd's cache drops a value
 * whose time is not after the previous one ("Value too old"); a wall clock
 * stepped back (NTP, a VM's clocksource switch) must not cost a read. */
static cdtime_t read_timestamp(void) {
  cdtime_t now = cdtime();
  if (now <= last_read_time)
    now = last_read_time + 1;
  last_read_time = now;
  return now;
}

static int nfs_ebpf_read(user_data_t *ud) {
  (void)ud;
  cdtime_t started = cdtime();
  cdtime_t now = read_timestamp();
  read_number++;

  tracer_sync_modules(tracer);
  wire_sync_modules(wire);
  mount_table_refresh(mounts, false);
  identity_tick(identity, now);

  /* The series take this read's values only if both maps were read: a
   * failed read dispatches no series this interval (a repeated value would
   * claim a rate of 0, zeros a counter reset), keeps every reported value
   * where it was, and retires nothing; the next read catches up, as the
   * kernel values are cumulative. */
  series_begin_interval(series, read_number);
  if (drain_read_maps(&drained, tracer, wire) == 0) {
    resolve_t r = {.mounts = mounts,
                   .identity = identity,
                   .series = series,
                   .read_number = read_number};
    resolve_keys(&r, &drained.stats);
    resolve_rpc_keys(&r, &drained.rpc);
    drain_collect(&drained, tracer, wire, series);
    series_commit_interval(series);
    dispatch_series(series, &histogram, now);
  }
  submit_lost(now);

  /* Series of ended pods stay (with their last values) for
   * RetainEndedSeries, then end. */
  cdtime_t interval = plugin_get_interval();
  uint64_t keep_reads = interval > 0 ? conf_retain_ended / interval : 0;
  if (read_number > keep_reads)
    series_expire(series, read_number - keep_reads);

  /* A read longer than the interval makes write plugins that time series
   * out (write_prometheus) drop some of them between reads. */
  cdtime_t took = cdtime() - started;
  if (interval > 0 && took > interval)
    log_once(LOG_WARNING, "nfs_ebpf:slow-read",
             "nfs_ebpf plugin: one read took %.3f s, longer than the "
             "interval (%.3f s), for %zu series; consider a longer "
             "Interval for this plugin.",
             CDTIME_T_TO_DOUBLE(took), CDTIME_T_TO_DOUBLE(interval),
             series_count(series));
  return 0;
}

static int nfs_ebpf_shutdown(void) {
  free_runtime();
  dispatch_unregister_buckets();
  for (size_t i = 0; i < conf_state_dir_count; i++)
    sfree(conf_state_dirs[i]);
  sfree(conf_state_dirs);
  conf_state_dir_count = 0;
  sfree(conf_host_root);
  sfree(conf_mountinfo);
  sfree(conf_cgroup_root);
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, nfs_ebpf_config);
  plugin_register_init(PLUGIN_NAME, nfs_ebpf_init);
  plugin_register_complex_read(/* group = */ NULL, PLUGIN_NAME, nfs_ebpf_read,
                               /* interval = */ 0, /* user_data = */ NULL);
  plugin_register_shutdown(PLUGIN_NAME, nfs_ebpf_shutdown);
}
