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
static size_t conf_max_watches; /* 0: identity's default */

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
  tracer_close(tracer); /* detaches every probe first */
  tracer = NULL;
  series_table_destroy(series);
  series = NULL;
  identity_destroy(identity); /* stops the watcher thread */
  identity = NULL;
  mount_table_destroy(mounts);
  mounts = NULL;
  kstats_snapshot_free(&stats_snapshot);
  kstats_snapshot_free(&errors_snapshot);
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
      .cgroup_controller = identity_bpf_cgroup_controller(identity),
      .sys_module_dir = sys_module,
  };
  memcpy(tcfg.bucket_bounds_ns, histogram.bounds_ns,
         sizeof(tcfg.bucket_bounds_ns));
  if (tracer_open(&tcfg, &tracer) != 0)
    goto fail; /* tracer_open logged the cause and what to do about it */

  /* Attach now if the nfs modules are already loaded; otherwise every read
   * checks again, so a mount made later is traced without a restart. */
  tracer_sync_modules(tracer);
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
  return -1;
}

/* The "who" of a kernel key: its pod, or its cgroup outside pods. Returns
 * 0 and fills `who` (long or odd names shortened or hashed as ident.h
 * says: final, like any other name), -EAGAIN while the answer may still
 * improve, -EINVAL if no identifier can be made (a bug, logged by ident). */
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
  status = id.in_pod
               ? ident_who(who, who_size, id.ns, id.pod, id.container, NULL)
               : ident_who(who, who_size, NULL, NULL, NULL, id.cgroup);
  return status == 0 ? 0 : -EINVAL;
}

/* Find (or make) the series of a kernel key. NULL: not resolvable yet,
 * try again next read. A bound key whose device now belongs to another
 * mount (the number was reused) is rebound to the new mount's series. */
static series_t *resolve_key(const struct op_key *key, bool *mounts_forced) {
  const nfs_mount_t *mnt = mount_table_lookup(mounts, key->dev);
  series_t *bound = series_bound(series, key);
  if (bound != NULL) {
    if (mnt == NULL)
      mnt = mount_table_lookup_elsewhere(mounts, key->dev, false);
    /* Still the same mount, or umounted (nothing adds to the key then). */
    if (mnt == NULL || mnt->generation == series_bound_mount(series, key))
      return bound;
    series_t *s = series_get(series, bound->who, mnt->server, mnt->export_,
                             key->op);
    if (s == NULL ||
        series_rebind(series, key, s, mnt->generation) != 0) {
      ERROR("nfs_ebpf plugin: out of memory adding a series; device %" PRIu32
            ":%" PRIu32 " stays reported under its previous mount.",
            key->dev >> 20, key->dev & 0xfffff);
      return bound;
    }
    return s;
  }

  uint64_t first = series_pending_since(series, key);
  bool give_up = read_number - first >= UNRESOLVED_GRACE_READS;

  if (mnt == NULL && !*mounts_forced) {
    /* A mount newer than our last look: mountinfo's poll should have told
     * us, but re-read once per interval to be sure. */
    mount_table_refresh(mounts, true);
    *mounts_forced = true;
    mnt = mount_table_lookup(mounts, key->dev);
  }
  if (mnt == NULL) /* a mount only a container's namespace has */
    mnt = mount_table_lookup_elsewhere(mounts, key->dev, true);
  char unknown_server[64];
  const char *server, *export_;
  if (mnt != NULL) {
    server = mnt->server;
    export_ = mnt->export_;
  } else if (give_up) {
    /* In no mount namespace we could read (its processes are gone).
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

  series_t *s = series_get(series, who, server, export_, key->op);
  if (s == NULL ||
      series_bind(series, key, s, mnt != NULL ? mnt->generation : 0) != 0) {
    ERROR("nfs_ebpf plugin: out of memory adding a series; its values will "
          "be reported once memory is available.");
    return NULL;
  }
  return s;
}

/* Add every kernel key's cumulative values to its series; keys whose
 * cgroup is gone (and whose names were kept long enough) are retired: their
 * last value moves into the series for good and the key leaves the map.
 * Returns 0, or the failed map read's status (nothing was staged then). */
/* Copy both kernel maps. Nothing else of a read happens unless both
 * copies succeed (see nfs_ebpf_read). */
static int read_maps(void) {
  const char *map = "op_stats";
  int status = kstats_read(tracer_stats_fd(tracer), &stats_snapshot);
  if (status == 0) {
    map = "op_errors";
    status = kstats_read(tracer_errors_fd(tracer), &errors_snapshot);
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

/* Bind every stats key to its series. A key of a cgroup that is gone is
 * marked for retirement once its values stayed the same for two reads: no
 * program is still adding to it. */
static void resolve_keys(void) {
  bool mounts_forced = false;
  for (size_t i = 0; i < stats_snapshot.len; i++) {
    const struct op_key *key = kstats_key(&stats_snapshot, i);
    const struct op_stats *val = kstats_val(&stats_snapshot, i);
    if (key->op >= NFS_OP_MAX)
      continue; /* impossible unless the BPF object and plugin disagree */
    if (resolve_key(key, &mounts_forced) != NULL &&
        !identity_cgroup_alive(identity, key->cgroup_id))
      series_retire_ready(series, key, val->count);
  }
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
static void collect_errors(void) {
  for (size_t i = 0; i < errors_snapshot.len; i++) {
    const struct err_key *ek = kstats_key(&errors_snapshot, i);
    struct op_key key = op_key_of_error(ek);
    __u64 count, final;
    memcpy(&count, kstats_val(&errors_snapshot, i), sizeof(count));
    int status;
    if (series_retiring(series, &key) &&
        take_key(tracer_errors_fd(tracer), ek, &count, &final,
                 sizeof(final)) == 0)
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
static void collect_stats(void) {
  for (size_t i = 0; i < stats_snapshot.len; i++) {
    const struct op_key *key = kstats_key(&stats_snapshot, i);
    const struct op_stats *val = kstats_val(&stats_snapshot, i);
    struct op_stats final;
    if (series_retiring(series, key) &&
        take_key(tracer_stats_fd(tracer), key, val, &final, sizeof(final)) ==
            0) {
      series_retire_key_stats(series, key, &final);
      series_unbind(series, key);
      continue;
    }
    series_retire_cancel(series, key);
    series_add_key_stats(series, key, val);
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

  /* The series take this read's values only if both maps were read: a
   * failed read dispatches no series this interval (a repeated value would
   * claim a rate of 0, zeros a counter reset), keeps every reported value
   * where it was, and retires nothing; the next read catches up, as the
   * kernel values are cumulative. */
  series_begin_interval(series, read_number);
  if (read_maps() == 0) {
    resolve_keys();
    collect_errors();
    collect_stats();
    series_commit_interval(series);
    series_for_each(series, submit_series, &now);
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
