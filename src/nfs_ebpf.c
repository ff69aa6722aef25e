/**
 * nfs_ebpf: per-Pod NFS client operations for collectd, traced with eBPF.
 *
 * The path of one NFS read, end to end:
 *  1. bpf/nfs_ebpf.bpf.c: a probe on nfs_file_read's entry stamps the time
 *     for (thread, op); its return adds count, bytes, latency and a bucket
 *     to op_stats[{cgroup id, device, op}] (errors to op_errors).
 *  2. src/tracer.c loads those programs once the nfs modules exist.
 *  3. nfs_ebpf_read() below copies the maps (src/kstats.c), turns each key's
 *     cgroup id into a pod (src/identity.c) and its device into an NFS
 *     server and export (src/mountinfo.c), sums keys into series
 *     (src/series.c), and dispatches them with names from src/ident.c.
 *  4. write_prometheus prints collectd_nfs_ebpf_total_bytes_total{...}, and
 *     contrib/prometheus/scrape-config.yml renames it to
 *     nfs_ebpf_bytes_total{namespace,pod,container,server,export,op="read"}.
 */

#include "collectd_compat.h"

#include "cgroup_path.h"
#include "errno_names.h"
#include "histogram.h"
#include "host_path.h"
#include "ident.h"
#include "identity.h"
#include "kstats.h"
#include "log_once.h"
#include "mountinfo.h"
#include "nfs_ebpf.h"
#include "op_names.h"
#include "series.h"
#include "tracer.h"

#include <errno.h>
#include <math.h>

#define PLUGIN_NAME "nfs_ebpf"

/* Reads a key may stay unresolved (pod state or mount not visible yet)
 * before it is reported under a fallback name. Waiting loses nothing: the
 * kernel values are cumulative. */
#define UNRESOLVED_GRACE_READS 3

/*
 * Configuration (see collectd.conf.d/nfs_ebpf.conf for the user's view).
 */
static tracer_attach_mode_t conf_attach_mode = TRACER_ATTACH_AUTO;
static double conf_bucket_seconds[NFS_EBPF_MAX_BUCKETS];
static size_t conf_bucket_count;
static uint32_t conf_max_entries = 16384;
static char *conf_host_root;
static char *conf_mountinfo;
static char *conf_cgroup_root;
static char **conf_state_dirs;
static size_t conf_state_dir_count;
static cdtime_t conf_retain_ended;

/*
 * Run-time state, owned by init/read/shutdown. collectd never runs one
 * read callback concurrently with itself, and shutdown runs after the read
 * threads stopped, so none of this needs a lock.
 */
static histogram_t histogram;
static tracer_t *tracer;
static mount_table_t *mounts;
static identity_t *identity;
static series_table_t *series;
static kstats_snapshot_t stats_snapshot;
static kstats_snapshot_t errors_snapshot;
static uint64_t read_number; /* counts reads; the series table's stamp */
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

/* The kernel's index of a cgroup v1 controller is its line in
 * /proc/cgroups (header excluded): the kernel prints every controller it was
 * built with, in subsystem-id order. Returns -1 when pods are identified by
 * cgroup v2 ids (v2 or hybrid hosts), the index on v1-only hosts, and -2
 * when that controller cannot be found. */
static int cgroup_v1_subsys_id(void) {
  const char *controller = NULL;
  if (identity_cgroup_mode(identity, &controller) != IDENTITY_CGROUP_V1)
    return -1;
  char path[PATH_MAX];
  host_file(path, sizeof(path), "/proc/cgroups");
  FILE *fh = fopen(path, "r");
  if (fh == NULL) {
    ERROR("nfs_ebpf plugin: cgroup v1-only host, but %s cannot be read (%s), "
          "so the \"%s\" controller's kernel index is unknown.",
          path, STRERRNO, controller);
    return -2;
  }
  char line[256];
  int index = -1, found = -2;
  while (fgets(line, sizeof(line), fh) != NULL) {
    if (line[0] == '#')
      continue;
    index++;
    size_t len = strcspn(line, " \t");
    if (len == strlen(controller) && strncmp(line, controller, len) == 0) {
      found = index;
      break;
    }
  }
  fclose(fh);
  if (found == -2)
    ERROR("nfs_ebpf plugin: cgroup v1-only host, but the \"%s\" controller "
          "is not listed in %s.",
          controller, path);
  else
    INFO("nfs_ebpf plugin: cgroup v1-only host: pods are identified by the "
         "\"%s\" controller's cgroup ids (kernel index %d).",
         controller, found);
  return found;
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
    return -1; /* mount_table_create logged why */

  /* CgroupRoot and StateDir are paths on the host: identity puts
   * HostRoot in front of them. */
  identity_config_t icfg = {
      .host_root = conf_host_root,
      .cgroup_root = conf_cgroup_root,
      .state_dirs = (const char *const *)conf_state_dirs,
      .n_state_dirs = conf_state_dir_count,
  };
  identity = identity_create(&icfg);
  if (identity == NULL)
    return -1;
  int v1_subsys = cgroup_v1_subsys_id();
  if (v1_subsys == -2)
    return -1; /* v1-only host, but its controller has no kernel index */

  series = series_table_create();
  if (series == NULL) {
    ERROR("nfs_ebpf plugin: out of memory creating the series table.");
    return -1;
  }
  kstats_snapshot_init(&stats_snapshot, sizeof(struct op_key),
                       sizeof(struct op_stats));
  kstats_snapshot_init(&errors_snapshot, sizeof(struct err_key),
                       sizeof(__u64));

  char sys_module[PATH_MAX];
  host_file(sys_module, sizeof(sys_module), "/sys/module");
  tracer_config_t tcfg = {
      .mode = conf_attach_mode,
      .nr_buckets = (uint32_t)histogram.count,
      .max_entries = conf_max_entries,
      .cgroup_v1_subsys_id = v1_subsys,
      .sys_module_dir = sys_module,
  };
  memcpy(tcfg.bucket_bounds_ns, histogram.bounds_ns,
         sizeof(tcfg.bucket_bounds_ns));
  int status = tracer_open(&tcfg, &tracer);
  if (status != 0)
    return -1; /* tracer_open logged the cause and what to do about it */

  /* Attach now if the nfs modules are already loaded; otherwise every read
   * checks again, so a mount made later is traced without a restart. */
  tracer_sync_modules(tracer);
  INFO("nfs_ebpf plugin: ready: %zu latency buckets, MaxEntries %" PRIu32
       ", mountinfo %s, cgroup ids from %s.",
       histogram.count, conf_max_entries, path,
       v1_subsys < 0 ? "cgroup v2" : "a cgroup v1 controller");
  return 0;
}

/* The "who" of a kernel key: its pod, or its cgroup outside pods. Returns
 * 0 and fills `who`, or -EAGAIN while the answer may still improve. */
static int resolve_who(uint64_t cgroup_id, bool give_up, char *who,
                       size_t who_size) {
  pod_identity_t id;
  int status = identity_lookup(identity, cgroup_id, &id);
  if (status != 0) {
    /* Unknown even after an on-demand rescan: a cgroup that came and went
     * between two reads. After the grace period identity filled `id` as
     * the one "unresolved" cgroup: reported, never dropped, and one series
     * however many such cgroups there are. */
    if (!give_up)
      return -EAGAIN;
  } else if (!id.in_pod && !give_up) {
    /* A container's cgroup whose runtime state we cannot read yet (its
     * bundle is being written): wait rather than pin its counts to the
     * cgroup name for good. */
    char container_id[CGROUP_CONTAINER_ID_LEN + 1];
    cgroup_runtime_t runtime;
    if (cgroup_path_component_container(id.cgroup, strlen(id.cgroup),
                                        container_id, &runtime))
      return -EAGAIN;
  }
  if (id.in_pod)
    return ident_who(who, who_size, id.ns, id.pod, id.container, NULL);
  return ident_who(who, who_size, NULL, NULL, NULL, id.cgroup);
}

/* Find (or make) the series of a kernel key. NULL: not resolvable yet,
 * try again next read. */
static series_t *resolve_key(const struct op_key *key, bool *mounts_forced) {
  series_t *s = series_bound(series, key);
  if (s != NULL)
    return s;

  uint64_t first = series_pending_since(series, key);
  bool give_up = read_number - first >= UNRESOLVED_GRACE_READS;

  const nfs_mount_t *mnt = mount_table_lookup(mounts, key->dev);
  if (mnt == NULL && !*mounts_forced) {
    /* A mount newer than our last look: mountinfo's poll should have told
     * us, but re-read once per interval to be sure. */
    mount_table_refresh(mounts, true);
    *mounts_forced = true;
    mnt = mount_table_lookup(mounts, key->dev);
  }
  char unknown_server[64];
  const char *server, *export_;
  if (mnt != NULL) {
    server = mnt->server;
    export_ = mnt->export_;
  } else if (give_up) {
    /* Not in our mount namespace's table: a mount only a container sees.
     * Name the device rather than guess a server. */
    ssnprintf(unknown_server, sizeof(unknown_server),
              "unknown-dev-%" PRIu32 "-%" PRIu32, key->dev >> 20,
              key->dev & 0xfffff);
    server = unknown_server;
    export_ = "";
  } else {
    return NULL;
  }

  char who[SERIES_NAME_LEN];
  if (resolve_who(key->cgroup_id, give_up, who, sizeof(who)) != 0)
    return NULL;

  s = series_get(series, who, server, export_, key->op);
  if (s == NULL || series_bind(series, key, s) != 0) {
    ERROR("nfs_ebpf plugin: out of memory adding a series; its values will "
          "be reported once memory is available.");
    return NULL;
  }
  return s;
}

/* Add every kernel key's cumulative values to its series; keys whose
 * cgroup is gone (and whose names were kept long enough) are retired: their
 * last value moves into the series for good and the key leaves the map. */
static void collect_stats(void) {
  int status = kstats_read(tracer_stats_fd(tracer), &stats_snapshot);
  if (status != 0) {
    ERROR("nfs_ebpf plugin: reading the op_stats map failed: %s",
          STRERROR(-status));
    return;
  }
  bool mounts_forced = false;
  for (size_t i = 0; i < stats_snapshot.len; i++) {
    const struct op_key *key = kstats_key(&stats_snapshot, i);
    if (key->op >= NFS_OP_MAX)
      continue; /* impossible unless the BPF object and plugin disagree */
    series_t *s = resolve_key(key, &mounts_forced);
    if (s == NULL)
      continue;
    bool retire = !identity_cgroup_alive(identity, key->cgroup_id);
    series_add_stats(series, s, kstats_val(&stats_snapshot, i), retire);
  }
}

/* The op_stats key an op_errors entry belongs to: same cgroup, device, op. */
static struct op_key op_key_of_error(const struct err_key *ek) {
  return (struct op_key){
      .cgroup_id = ek->cgroup_id, .dev = ek->dev, .op = ek->op};
}

static void collect_errors(void) {
  int status = kstats_read(tracer_errors_fd(tracer), &errors_snapshot);
  if (status != 0) {
    ERROR("nfs_ebpf plugin: reading the op_errors map failed: %s",
          STRERROR(-status));
    return;
  }
  for (size_t i = 0; i < errors_snapshot.len; i++) {
    const struct err_key *ek = kstats_key(&errors_snapshot, i);
    struct op_key key = op_key_of_error(ek);
    /* The BPF side updates op_stats before op_errors, so a bound stats key
     * exists for every error except one that raced with this read: it is
     * picked up next time (counts are cumulative). */
    series_t *s = series_bound(series, &key);
    if (s == NULL)
      continue;
    bool retire = !identity_cgroup_alive(identity, key.cgroup_id);
    __u64 count;
    memcpy(&count, kstats_val(&errors_snapshot, i), sizeof(count));
    if (series_add_errors(series, s, ek->err, count, retire) != 0)
      ERROR("nfs_ebpf plugin: out of memory recording errors.");
  }
}

/* Remove the kernel keys that were just retired. Errors first: once the
 * stats key is unbound, its errors could no longer find their series. */
static void remove_retired_keys(void) {
  for (size_t i = 0; i < errors_snapshot.len; i++) {
    const struct err_key *ek = kstats_key(&errors_snapshot, i);
    struct op_key key = op_key_of_error(ek);
    if (series_bound(series, &key) != NULL &&
        !identity_cgroup_alive(identity, key.cgroup_id))
      kstats_delete(tracer_errors_fd(tracer), ek);
  }
  for (size_t i = 0; i < stats_snapshot.len; i++) {
    const struct op_key *key = kstats_key(&stats_snapshot, i);
    if (series_bound(series, key) == NULL ||
        identity_cgroup_alive(identity, key->cgroup_id))
      continue;
    kstats_delete(tracer_stats_fd(tracer), key);
    series_unbind(series, key);
  }
}

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

static int submit_series(const series_t *s, void *user_data) {
  cdtime_t now = *(const cdtime_t *)user_data;
  const char *op = op_name(s->op);
  struct op_stats total;
  series_total(s, &total);

  /* __u64 is unsigned long long, uint64_t unsigned long: copy, don't
   * alias. */
  uint64_t buckets[NFS_EBPF_MAX_BUCKETS], cumulative[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    buckets[i] = total.buckets[i];
  histogram_cumulative(&histogram, buckets, total.count, cumulative);

  char what[SERIES_NAME_LEN];
  ident_what(what, sizeof(what), op, NULL, s->server, s->export_);
  /* _count is the +Inf bucket, so the two always agree. */
  submit_derive(now, s->who, "operations", what, cumulative[histogram.count]);
  submit_value(now, s->who, "duration", what,
               (value_t){.gauge = (gauge_t)total.latency_ns / 1e9});
  if (s->op == NFS_OP_READ || s->op == NFS_OP_WRITE)
    submit_derive(now, s->who, "total_bytes", what, total.bytes);

  /* Cumulative buckets, Prometheus style; +Inf is the count (raised to
   * the buckets' sum if this copy caught a bucket before its count). */
  for (size_t i = 0; i <= histogram.count; i++) {
    ident_what(what, sizeof(what), op, histogram.le[i], s->server,
               s->export_);
    submit_derive(now, s->who, "total_operations", what, cumulative[i]);
  }

  for (size_t i = 0; i < s->n_errnos; i++) {
    char name[32];
    errno_name(s->errnos[i].err, name, sizeof(name));
    ident_what(what, sizeof(what), op, name, s->server, s->export_);
    submit_derive(now, s->who, "errors", what,
                  s->errnos[i].retired + s->errnos[i].live);
  }
  return 0;
}

/* Lost events are always dispatched, zeros included: a missing series
 * would look like "nothing lost" for the wrong reason. */
static void submit_lost(cdtime_t now) {
  uint64_t lost[NFS_LOST_MAX] = {0};
  if (tracer_read_lost(tracer, lost) != 0)
    return; /* logged by the tracer; no number beats a wrong number */
  for (int i = 0; i < NFS_LOST_MAX; i++)
    submit_derive(now, "", "derive", lost_reason_name(i), lost[i]);
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
  mount_table_refresh(mounts, false);
  identity_tick(identity, now);

  series_begin_interval(series, read_number);
  collect_stats();
  collect_errors();
  series_for_each(series, submit_series, &now);
  submit_lost(now);
  remove_retired_keys();

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
  tracer_close(tracer); /* detaches every probe first */
  tracer = NULL;
  series_table_destroy(series);
  series = NULL;
  identity_destroy(identity);
  identity = NULL;
  mount_table_destroy(mounts);
  mounts = NULL;
  kstats_snapshot_free(&stats_snapshot);
  kstats_snapshot_free(&errors_snapshot);
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
