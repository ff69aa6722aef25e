/*
 * The plugin end to end through collectd's (mocked) dispatcher: config,
 * init, read and shutdown, with the kernel maps and pod names faked
 * (fake_kernel.c) and the real drain, resolve, dispatch, mount table,
 * series, identifier, histogram and name
 * modules. Checks the exact identifiers and values a write plugin gets.
 */
#include "nfs_ebpf.c" /* static functions and state of the plugin */
#include "identifier.h"

#include "fake_kernel.h"
#include <dirent.h>
#include "mock_collectd.h"
#include "testing.h"

#define DEV_DATA 53u /* 0:53 in the mountinfo below */
#define WHAT_READ                                                              \
  "read@10.0.0.5:|vol|data" /* after collectd's escaping too                   \
                             */

static char mountinfo_path[] = "/tmp/nfs_ebpf_test_mountinfo_XXXXXX";

#define MOUNTINFO_ROOT "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define MOUNTINFO_DATA                                                         \
  "36 22 0:53 / /var/lib/kubelet/pods/uid/volumes/kubernetes.io~nfs/data "     \
  "rw,relatime shared:2 - nfs4 10.0.0.5:/vol/data "                            \
  "rw,vers=4.2,rsize=1048576,addr=10.0.0.5\n"

/* Replaces the mount table's text (the plugin notices by size or mtime). */
static void rewrite_mountinfo(const char *text) {
  int fd = open(mountinfo_path, O_WRONLY | O_TRUNC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    printf("# cannot write %s\n", mountinfo_path);
  close(fd);
}

static void write_mountinfo(void) {
  int fd = mkstemp(mountinfo_path);
  close(fd);
  rewrite_mountinfo(MOUNTINFO_ROOT MOUNTINFO_DATA);
}

/* Back to a freshly loaded plugin. */
static void reset_plugin(void) {
  nfs_ebpf_shutdown();
  conf_attach_mode = TRACER_ATTACH_AUTO;
  conf_bucket_count = 0;
  conf_max_entries = NFS_EBPF_DEFAULT_MAX_ENTRIES;
  conf_retain_ended = 0;
  conf_wire = true;
  read_number = 0;
  last_read_time = 0;
  fake_reset();
  mock_reset();
}

/* Config from key/value pairs; numbers are given as strings starting with
 * a digit. */
static int configure(const char *const *kv, size_t n) {
  oconfig_item_t *ci = mock_config_new("Plugin");
  mock_config_add_string(ci, "nfs_ebpf");
  oconfig_item_t *mi = mock_config_add_child(ci, "MountInfo");
  mock_config_add_string(mi, mountinfo_path);
  for (size_t i = 0; i + 1 < n; i += 2) {
    oconfig_item_t *c = mock_config_add_child(ci, kv[i]);
    const char *v = kv[i + 1];
    if (v[0] >= '0' && v[0] <= '9')
      mock_config_add_number(c, atof(v));
    else
      mock_config_add_string(c, v);
  }
  int status = nfs_ebpf_config(ci);
  mock_config_free(ci);
  return status;
}

static const value_list_t *find(const char *who, const char *type,
                                const char *what) {
  return mock_dispatch_find(who, type, what);
}

static derive_t derive_of(const char *who, const char *type, const char *what) {
  const value_list_t *vl = find(who, type, what);
  return vl != NULL ? vl->values[0].derive : -1;
}

/* Bucket `le` of a series' histogram: its value list's data source named
 * as docs/identifiers.md says (-1 if either is missing). */
static derive_t bucket_of(const char *who, const char *what, const char *le) {
  char source[DATA_MAX_NAME_LEN];
  if (identifier_bucket_source(source, sizeof(source), le) != 0)
    return -1;
  for (size_t i = mock_dispatch_count(); i-- > 0;) {
    const value_list_t *vl = mock_dispatched(i);
    if (!identifier_is_bucket_type(vl->type) ||
        strcmp(vl->plugin_instance, who) != 0 ||
        strcmp(vl->type_instance, what) != 0)
      continue;
    size_t n;
    const data_source_t *ds = mock_data_sources(vl->type, &n);
    for (size_t j = 0; ds != NULL && j < n && j < vl->values_len; j++)
      if (strcmp(ds[j].name, source) == 0)
        return vl->values[j].derive;
    return -1;
  }
  return -1;
}

/* One read, with a fresh record of what it dispatched. */
static int read_once(void) {
  mock_dispatch_clear();
  return nfs_ebpf_read(NULL);
}

DEF_TEST(config_rejects_bad_values) {
  reset_plugin();
  const char *bad_mode[] = {"AttachMode", "sometimes"};
  EXPECT_EQ_INT(-1, configure(bad_mode, 2));
  OK(mock_log_count(LOG_ERR, "AttachMode") >= 1);
  const char *small[] = {"MaxEntries", "10"};
  EXPECT_EQ_INT(-1, configure(small, 2));
  const char *huge[] = {"MaxEntries", "1e12"};
  EXPECT_EQ_INT(-1, configure(huge, 2));
  const char *fraction[] = {"MaxEntries", "100.5"};
  EXPECT_EQ_INT(-1, configure(fraction, 2));
  const char *forever[] = {"RetainEndedSeries", "1e30"};
  EXPECT_EQ_INT(-1, configure(forever, 2));
  const char *negative[] = {"RetainEndedSeries", "-1"};
  EXPECT_EQ_INT(-1, configure(negative, 2));
  const char *no_watches[] = {"MaxInotifyWatches", "0"};
  EXPECT_EQ_INT(-1, configure(no_watches, 2));
  const char *all_watches[] = {"MaxInotifyWatches", "1e9"};
  EXPECT_EQ_INT(-1, configure(all_watches, 2));
  OK(mock_log_count(LOG_ERR, "MaxInotifyWatches") == 2);
  const char *unknown[] = {"Frobnicate", "yes"};
  EXPECT_EQ_INT(-1, configure(unknown, 2));
  OK(mock_log_count(LOG_ERR, "Frobnicate") == 1);
  const char *word_bucket[] = {"Bucket", "fast"};
  EXPECT_EQ_INT(-1, configure(word_bucket, 2));

  /* Decreasing bounds are caught at init, with the reason. */
  reset_plugin();
  const char *decreasing[] = {"Bucket", "0.1", "Bucket", "0.01"};
  EXPECT_EQ_INT(0, configure(decreasing, 4));
  EXPECT_EQ_INT(-1, nfs_ebpf_init());
  OK(mock_log_count(LOG_ERR, "Bucket") >= 1);
  EXPECT_EQ_INT(0, fake.tracer_opened);
  return 0;
}

DEF_TEST(config_reaches_the_kernel_side) {
  reset_plugin();
  const char *kv[] = {"AttachMode", "kprobe", "Bucket",     "0.001",
                      "Bucket",     "0.01",   "MaxEntries", "4096"};
  EXPECT_EQ_INT(0, configure(kv, 8));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(TRACER_ATTACH_KPROBE, fake.tracer_config.mode);
  EXPECT_EQ_INT(2, fake.tracer_config.nr_buckets);
  EXPECT_EQ_UINT64(1000000, fake.tracer_config.bucket_bounds_ns[0]);
  EXPECT_EQ_UINT64(10000000, fake.tracer_config.bucket_bounds_ns[1]);
  EXPECT_EQ_INT(4096, fake.tracer_config.max_entries);
  EXPECT_EQ_INT(NFS_CGROUP_V2, fake.tracer_config.cgroup_controller);
  /* init already looked for the nfs modules once. */
  EXPECT_EQ_INT(1, fake.syncs);
  return 0;
}

/* A v1-only host on 6.12+ without v1 memory files: /proc/cgroups leaves
 * memory out (kernel commit af000ce85293), so a controller's line number
 * there is not its css_set.subsys[] index (pids is 11 in Debian's 6.12, the
 * 11th line here). The plugin must hand the BPF side the controller, whose
 * index the program takes from the kernel's enum cgroup_subsys_id; before
 * the fix it handed over 10, hugetlb's slot. */
DEF_TEST(v1_controller_index_on_612_proc_cgroups) {
  char root[] = "/tmp/nfs_ebpf_test_root_XXXXXX", path[PATH_MAX];
  reset_plugin();
  OK(mkdtemp(root) != NULL);
  snprintf(path, sizeof(path), "%s/proc", root);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/proc/cgroups", root);
  FILE *fh = fopen(path, "w");
  CHECK_NOT_NULL(fh);
  fputs("#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
        "cpuset\t2\t1\t1\ncpu\t3\t1\t1\ncpuacct\t3\t1\t1\n"
        "blkio\t4\t1\t1\ndevices\t5\t1\t1\nfreezer\t6\t1\t1\n"
        "net_cls\t7\t1\t1\nperf_event\t8\t1\t1\nnet_prio\t7\t1\t1\n"
        "hugetlb\t9\t1\t1\npids\t10\t1\t1\nrdma\t11\t1\t1\n"
        "misc\t12\t1\t1\n",
        fh);
  fclose(fh);
  /* MountInfo is a host path too: the same table under the root. */
  char mi[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/tmp", root);
  mkdir(path, 0755);
  snprintf(mi, sizeof(mi), "cp %s %s/tmp/", mountinfo_path, root);
  EXPECT_EQ_INT(0, system(mi));
  const char *kv[] = {"HostRoot", root};
  EXPECT_EQ_INT(0, configure(kv, 2));
  fake.v1_controller = "pids";
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(NFS_CGROUP_V1_PIDS, fake.tracer_config.cgroup_controller);
  snprintf(mi, sizeof(mi), "rm -r %s", root);
  EXPECT_EQ_INT(0, system(mi));
  return 0;
}

/* Open file descriptors of this process. */
static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

/* A failed init leaves nothing running or open: collectd keeps the plugin
 * loaded (and calls shutdown only when the daemon ends), so anything left
 * would live as long as the daemon. */
DEF_TEST(init_fails_cleanly_without_the_tracer) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  int fds = count_fds();
  fake.tracer_open_status = -EPERM;
  EXPECT_EQ_INT(-1, nfs_ebpf_init());
  EXPECT_EQ_INT(1, fake.tracer_opened);
  EXPECT_EQ_INT(fds, count_fds());   /* the mountinfo poll fd is closed */
  EXPECT_EQ_INT(0, fake.identities); /* its watcher thread is stopped */
  OK(mounts == NULL && identity == NULL && series == NULL && tracer == NULL);
  /* shutdown after a failed init is harmless */
  EXPECT_EQ_INT(0, nfs_ebpf_shutdown());
  EXPECT_EQ_INT(0, fake.identities);
  return 0;
}

DEF_TEST(pod_read_becomes_contract_values) {
  reset_plugin();
  const char *kv[] = {"Bucket", "0.001", "Bucket", "0.01"};
  EXPECT_EQ_INT(0, configure(kv, 4));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(100, "shop", "web-0", "nginx");
  struct op_stats *v = fake_set_stats(100, DEV_DATA, NFS_OP_READ);
  v->count = 3; /* 0.5 ms, 5 ms, and one 20 ms read that failed */
  v->bytes = 12288;
  v->latency_ns = 500000 + 5000000 + 20000000;
  v->buckets[0] = 1;
  v->buckets[1] = 1;
  fake_set_error(100, DEV_DATA, NFS_OP_READ, EIO, 1);
  fake.lost[NFS_LOST_MISSED_RETURN] = 7;

  EXPECT_EQ_INT(0, read_once());
  const char *who = "shop_web-0_nginx";
  EXPECT_EQ_INT(12288, derive_of(who, "total_bytes", WHAT_READ));
  EXPECT_EQ_INT(3, derive_of(who, "operations", WHAT_READ));
  EXPECT_EQ_INT(1, bucket_of(who, WHAT_READ, "0.001"));
  EXPECT_EQ_INT(2, bucket_of(who, WHAT_READ, "0.01"));
  EXPECT_EQ_INT(3, bucket_of(who, WHAT_READ, "+Inf"));
  EXPECT_EQ_INT(1, derive_of(who, "errors", "read-EIO@10.0.0.5:|vol|data"));
  const value_list_t *sum = find(who, "duration", WHAT_READ);
  OK(sum != NULL);
  if (sum != NULL)
    EXPECT_EQ_DOUBLE(0.0255, sum->values[0].gauge);
  const value_list_t *bytes = find(who, "total_bytes", WHAT_READ);
  if (bytes != NULL) {
    EXPECT_EQ_STR("nfs_ebpf", bytes->plugin);
    OK(bytes->time > 0);
  }
  /* Lost events: every reason, zeros too. */
  EXPECT_EQ_INT(7, derive_of("", "derive", "missed_return"));
  EXPECT_EQ_INT(0, derive_of("", "derive", "stats_map_full"));
  EXPECT_EQ_INT(0, derive_of("", "derive", "missed_entry"));
  /* count, sum, bytes, one list of 3 buckets, 1 error, and lost events. */
  EXPECT_EQ_INT(3 + 1 + 1 + NFS_LOST_MAX, mock_dispatch_count());
  EXPECT_EQ_INT(0, mock_log_count(LOG_ERR, "mock: dataset"));
  return 0;
}

/* Line `nth` (from 0) of the shipped types.db
 * (collectd.conf.d/nfs_ebpf-types.db), comments left out, with every run of
 * blanks made one space; "" if unreadable or absent. */
static void shipped_types_db_line(size_t nth, char *line, size_t size) {
  const char *srcdir = getenv("srcdir");
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/collectd.conf.d/nfs_ebpf-types.db",
           srcdir != NULL ? srcdir : ".");
  line[0] = '\0';
  FILE *fh = fopen(path, "r");
  char raw[2048];
  while (fh != NULL && fgets(raw, sizeof(raw), fh) != NULL) {
    if (raw[0] == '#' || raw[0] == '\n' || nth-- > 0)
      continue;
    size_t len = 0;
    for (const char *c = raw; *c != '\0' && len + 1 < size; c++) {
      bool blank = isspace((unsigned char)*c);
      if (blank && (len == 0 || line[len - 1] == ' '))
        continue;
      line[len++] = blank ? ' ' : *c;
    }
    while (len > 0 && line[len - 1] == ' ')
      len--;
    line[len] = '\0';
    break;
  }
  if (fh != NULL)
    fclose(fh);
}

DEF_TEST(bucket_type_is_registered_and_matches_the_shipped_types_db) {
  /* Default bounds: the plain name, 17 sources, and the line the plugin
   * logs for receivers is the one the package ships. */
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  size_t n;
  const data_source_t *ds = mock_data_sources("nfs_ebpf_buckets", &n);
  OK(ds != NULL);
  EXPECT_EQ_INT(17, n);
  if (ds != NULL && n == 17) {
    EXPECT_EQ_STR("le_0_0001", ds[0].name);
    EXPECT_EQ_STR("le_2_5", ds[13].name);
    EXPECT_EQ_STR("le_inf", ds[16].name);
    EXPECT_EQ_INT(DS_TYPE_DERIVE, ds[16].type);
  }
  /* Every type the plugin registers (the wire level's too: it is on by
   * default) is the package's, line for line, and no other. */
  static const char *const types[] = {"nfs_ebpf_buckets ",
                                      "nfs_ebpf_rtt_buckets ", "nfs_ebpf_rpc "};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    char shipped[2048];
    shipped_types_db_line(i, shipped, sizeof(shipped));
    OK1(strncmp(shipped, types[i], strlen(types[i])) == 0, types[i]);
    char logged[2100];
    snprintf(logged, sizeof(logged), "types.db line: %s", shipped);
    EXPECT_EQ_INT(1, mock_log_count(LOG_INFO, logged));
  }
  char none[2048];
  shipped_types_db_line(3, none, sizeof(none));
  EXPECT_EQ_STR("", none);
  EXPECT_EQ_INT(3, mock_log_count(LOG_INFO, "types.db line: "));
  EXPECT_EQ_INT(0, nfs_ebpf_shutdown());
  OK(mock_data_sources("nfs_ebpf_buckets", &n) == NULL);
  OK(mock_data_sources("nfs_ebpf_rpc", &n) == NULL);

  /* Other bounds: a name of their own, so a receiver that knows only the
   * default bounds cannot mislabel them. */
  reset_plugin();
  const char *odd[] = {"Bucket", "1e-05", "Bucket", "0.001"};
  EXPECT_EQ_INT(0, configure(odd, 4));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(100, "shop", "web-0", "nginx");
  fake_set_stats(100, DEV_DATA, NFS_OP_READ)->count = 2;
  EXPECT_EQ_INT(0, read_once());
  const value_list_t *vl = NULL;
  for (size_t i = 0; i < mock_dispatch_count(); i++)
    if (identifier_is_bucket_type(mock_dispatched(i)->type))
      vl = mock_dispatched(i);
  OK(vl != NULL);
  if (vl != NULL) {
    EXPECT_EQ_INT(strlen("nfs_ebpf_buckets_") + 8, strlen(vl->type));
    OK(strspn(vl->type + 17, "0123456789abcdef") == 8);
    EXPECT_EQ_INT(3, vl->values_len);
    ds = mock_data_sources(vl->type, &n);
    OK(ds != NULL && n == 3);
    if (ds != NULL && n == 3) {
      EXPECT_EQ_STR("le_1em05", ds[0].name);
      EXPECT_EQ_STR("le_0_001", ds[1].name);
      EXPECT_EQ_STR("le_inf", ds[2].name);
    }
  }
  EXPECT_EQ_INT(2, bucket_of("shop_web-0_nginx", WHAT_READ, "+Inf"));
  EXPECT_EQ_INT(0, mock_log_count(LOG_ERR, "mock: dataset"));
  return 0;
}

/* One value of a wire level series' nfs_ebpf_rpc value list, by its data
 * source's position; -1 if the list is missing. */
static double rpc_column(const char *who, const char *what, size_t column) {
  const value_list_t *vl = find(who, "nfs_ebpf_rpc", what);
  if (vl == NULL || column >= vl->values_len)
    return -1;
  size_t n;
  const data_source_t *ds = mock_data_sources("nfs_ebpf_rpc", &n);
  if (ds == NULL || column >= n)
    return -1;
  return ds[column].type == DS_TYPE_GAUGE ? vl->values[column].gauge
                                          : (double)vl->values[column].derive;
}

/* RTT bucket `le` of a wire level series (-1 if missing). */
static derive_t rtt_bucket_of(const char *who, const char *what,
                              const char *le) {
  char source[DATA_MAX_NAME_LEN];
  const value_list_t *vl = find(who, "nfs_ebpf_rtt_buckets", what);
  size_t n;
  const data_source_t *ds = mock_data_sources("nfs_ebpf_rtt_buckets", &n);
  if (vl == NULL || ds == NULL ||
      identifier_bucket_source(source, sizeof(source), le) != 0)
    return -1;
  for (size_t j = 0; j < n && j < vl->values_len; j++)
    if (strcmp(ds[j].name, source) == 0)
      return vl->values[j].derive;
  return -1;
}

DEF_TEST(wire_level_series) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(1, fake.wire_opened);
  EXPECT_EQ_INT(FAKE_LOST_FD, fake.wire_config.lost_events_fd);
  fake_add_pod(100, "shop", "web-0", "nginx");
  struct rpc_stats *w =
      fake_set_rpc(100, DEV_DATA, NFS_RPC_SCOPE_MOUNT, "WRITE");
  w->requests = 16;
  w->transmissions = 18;
  w->major_timeouts = 1;
  w->errors = 2;
  w->sent_bytes = 16 * 65700;
  w->received_bytes = 16 * 200;
  w->replies = 15;
  w->queue_ns = 1500000000;
  w->rtt_ns = 250000000;
  w->execute_ns = 2000000000;
  w->rtt_buckets[3] = 10; /* <= 1 ms */
  w->rtt_buckets[9] = 5;  /* <= 100 ms */
  fake_set_rpc(NFS_EBPF_CGROUP_UNATTRIBUTED, DEV_DATA, NFS_RPC_SCOPE_MOUNT,
               "GETATTR")
      ->requests = 3;
  fake_set_rpc(NFS_EBPF_CGROUP_NFS_CLIENT, DEV_DATA, NFS_RPC_SCOPE_SERVER,
               "SEQUENCE")
      ->requests = 7;
  /* an operation series on the same mount keeps its own names */
  fake_set_stats(100, DEV_DATA, NFS_OP_WRITE)->count = 4;
  EXPECT_EQ_INT(0, read_once());

  const char *who = "shop_web-0_nginx", *what = "WRITE@10.0.0.5:|vol|data";
  /* struct rpc_stats' columns, in the order of the shipped types.db */
  EXPECT_EQ_INT(16, rpc_column(who, what, 0));
  EXPECT_EQ_INT(18, rpc_column(who, what, 1));
  EXPECT_EQ_INT(1, rpc_column(who, what, 2));
  EXPECT_EQ_INT(2, rpc_column(who, what, 3));
  EXPECT_EQ_INT(16 * 65700, rpc_column(who, what, 4));
  EXPECT_EQ_INT(16 * 200, rpc_column(who, what, 5));
  EXPECT_EQ_INT(15, rpc_column(who, what, 6));
  OK(rpc_column(who, what, 7) == 1.5);
  OK(rpc_column(who, what, 8) == 0.25);
  OK(rpc_column(who, what, 9) == 2.0);
  /* cumulative RTT buckets; +Inf is the replies */
  EXPECT_EQ_INT(0, rtt_bucket_of(who, what, "0.0005"));
  EXPECT_EQ_INT(10, rtt_bucket_of(who, what, "0.001"));
  EXPECT_EQ_INT(15, rtt_bucket_of(who, what, "0.1"));
  EXPECT_EQ_INT(15, rtt_bucket_of(who, what, "+Inf"));
  EXPECT_EQ_INT(4, derive_of(who, "operations", "write@10.0.0.5:|vol|data"));
  /* what no process caused, under names of its own; the server's shared
   * client under the server alone */
  EXPECT_EQ_INT(3,
                rpc_column("@unattributed", "GETATTR@10.0.0.5:|vol|data", 0));
  EXPECT_EQ_INT(7, rpc_column("@nfs-client", "SEQUENCE@10.0.0.5:", 0));
  EXPECT_EQ_INT(0, mock_log_count(LOG_ERR, ""));
  /* RPCs the kernel skipped the counting program for are lost events */
  EXPECT_EQ_INT(0, derive_of("", "derive", "rpc_program_skipped"));
  fake.rpc_skipped = 2;
  fake.lost[NFS_LOST_RPC_MOUNT_UNKNOWN] = 1;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(2, derive_of("", "derive", "rpc_program_skipped"));
  EXPECT_EQ_INT(1, derive_of("", "derive", "rpc_mount_unknown"));
  return 0;
}

DEF_TEST(wire_level_keys_of_ended_pods_are_retired) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(300, "shop", "db-0", "pg");
  fake_add_pod(301, "shop", "db-0", "pg");
  fake_set_rpc(300, DEV_DATA, NFS_RPC_SCOPE_MOUNT, "COMMIT")->requests = 5;
  fake_set_rpc(301, DEV_DATA, NFS_RPC_SCOPE_MOUNT, "COMMIT")->requests = 1;
  const char *who = "shop_db-0_pg", *what = "COMMIT@10.0.0.5:|vol|data";
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(6, rpc_column(who, what, 0));
  fake_kill_cgroup(300);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(0, fake.deleted_rpc);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1, fake.deleted_rpc);
  EXPECT_EQ_INT(6, rpc_column(who, what, 0));
  fake_set_rpc(301, DEV_DATA, NFS_RPC_SCOPE_MOUNT, "COMMIT")->requests = 2;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(7, rpc_column(who, what, 0));
  return 0;
}

DEF_TEST(wire_level_can_be_turned_off) {
  reset_plugin();
  const char *off[] = {"Wire", "false"};
  EXPECT_EQ_INT(0, configure(off, 2));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(0, fake.wire_opened);
  fake_add_pod(100, "shop", "web-0", "nginx");
  fake_set_rpc(100, DEV_DATA, NFS_RPC_SCOPE_MOUNT, "READ")->requests = 1;
  EXPECT_EQ_INT(0, read_once());
  OK(find("shop_web-0_nginx", "nfs_ebpf_rpc", NULL) == NULL);
  size_t n;
  OK(mock_data_sources("nfs_ebpf_rpc", &n) == NULL);

  /* it takes the operations' attach mode: kprobe mode attaches it with
   * raw_tp and kprobes, and says nothing about it being off */
  reset_plugin();
  const char *kprobe[] = {"AttachMode", "kprobe"};
  EXPECT_EQ_INT(0, configure(kprobe, 2));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(1, fake.wire_opened);
  EXPECT_EQ_INT(TRACER_ATTACH_KPROBE, fake.wire_config.mode);
  EXPECT_EQ_INT(0, mock_log_count(LOG_WARNING, "wire level"));
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(TRACER_ATTACH_AUTO, fake.wire_config.mode);

  /* a wire level that cannot start leaves the operations running */
  reset_plugin();
  fake.wire_open_status = -EPERM;
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_set_stats(100, DEV_DATA, NFS_OP_READ)->count = 1;
  fake_add_pod(100, "shop", "web-0", "nginx");
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1, derive_of("shop_web-0_nginx", "operations", WHAT_READ));
  return 0;
}

DEF_TEST(metadata_ops_have_no_bytes_and_non_pods_their_cgroup) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_cgroup(200, "kubelet.service");
  fake_set_stats(200, DEV_DATA, NFS_OP_GETATTR)->count = 4;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(4, derive_of("@kubelet.service", "operations",
                             "getattr@10.0.0.5:|vol|data"));
  OK(find("@kubelet.service", "total_bytes", NULL) == NULL);
  /* Default buckets: 16 bounds + Inf. */
  EXPECT_EQ_INT(
      4, bucket_of("@kubelet.service", "getattr@10.0.0.5:|vol|data", "+Inf"));
  const value_list_t *buckets = find("@kubelet.service", "nfs_ebpf_buckets",
                                     "getattr@10.0.0.5:|vol|data");
  OK(buckets != NULL && buckets->values_len == 17);
  EXPECT_EQ_INT(
      0, bucket_of("@kubelet.service", "getattr@10.0.0.5:|vol|data", "0.0001"));
  return 0;
}

DEF_TEST(ended_pod_keeps_its_counts_and_its_keys_are_freed) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  /* The same container, restarted: two cgroups, one series. */
  fake_add_pod(300, "shop", "db-0", "pg");
  fake_add_pod(301, "shop", "db-0", "pg");
  fake_set_stats(300, DEV_DATA, NFS_OP_WRITE)->bytes = 1000;
  fake_set_stats(300, DEV_DATA, NFS_OP_WRITE)->count = 1;
  fake_set_error(300, DEV_DATA, NFS_OP_WRITE, EDQUOT, 2);
  fake_set_stats(301, DEV_DATA, NFS_OP_WRITE)->bytes = 10;
  fake_set_stats(301, DEV_DATA, NFS_OP_WRITE)->count = 1;
  const char *who = "shop_db-0_pg", *what = "write@10.0.0.5:|vol|data";
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1010, derive_of(who, "total_bytes", what));

  /* The first cgroup ends: its last values stay, its keys leave the maps
   * once they stayed the same for two reads. */
  fake_kill_cgroup(300);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(0, fake.deleted_stats);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1010, derive_of(who, "total_bytes", what));
  EXPECT_EQ_INT(2, derive_of(who, "errors", "write-EDQUOT@10.0.0.5:|vol|data"));
  EXPECT_EQ_INT(1, fake.deleted_stats);
  EXPECT_EQ_INT(1, fake.deleted_errs);

  /* Next read: only the live key is in the map; totals keep growing. */
  fake_set_stats(301, DEV_DATA, NFS_OP_WRITE)->bytes = 20;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1020, derive_of(who, "total_bytes", what));
  EXPECT_EQ_INT(2, derive_of(who, "errors", "write-EDQUOT@10.0.0.5:|vol|data"));
  return 0;
}

/* An NFS call of a task that left the cgroup can still end in it after the
 * cgroup is gone; and the kernel adds between our read and our delete. A
 * key leaves the map only once it stayed the same for a read, and with
 * the value it had when it left. */
DEF_TEST(retirement_waits_for_quiet_and_keeps_late_increments) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(700, "shop", "job-0", "run");
  const char *who = "shop_job-0_run";
  fake_set_stats(700, DEV_DATA, NFS_OP_READ)->count = 5;
  EXPECT_EQ_INT(0, read_once());
  fake_kill_cgroup(700);
  fake_set_stats(700, DEV_DATA, NFS_OP_READ)->count = 6; /* after death */
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(6, derive_of(who, "operations", WHAT_READ));
  EXPECT_EQ_INT(0, fake.deleted_stats); /* it just changed */
  fake.late_count = 2; /* lands between this read and the deletion */
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1, fake.deleted_stats);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(8, derive_of(who, "operations", WHAT_READ));
  EXPECT_EQ_INT(8, bucket_of(who, WHAT_READ, "+Inf"));
  return 0;
}

/* Before Linux 5.14 the key is deleted without its value: the read that
 * found it quiet has the final value. */
DEF_TEST(retirement_without_lookup_and_delete) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake.take_unsupported = true;
  fake_add_pod(710, "shop", "job-1", "run");
  fake_set_stats(710, DEV_DATA, NFS_OP_READ)->count = 5;
  fake_set_error(710, DEV_DATA, NFS_OP_READ, EIO, 1);
  fake_kill_cgroup(710);
  for (int i = 0; i < 3; i++)
    EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1, fake.deleted_stats);
  EXPECT_EQ_INT(1, fake.deleted_errs);
  EXPECT_EQ_INT(5, derive_of("shop_job-1_run", "operations", WHAT_READ));
  EXPECT_EQ_INT(
      1, derive_of("shop_job-1_run", "errors", "read-EIO@10.0.0.5:|vol|data"));
  return 0;
}

/* A deletion that fails leaves the key bound (and in the map): it is tried
 * again, never resolved a second time and counted twice. */
DEF_TEST(failed_retirement_keeps_the_key_bound) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(720, "shop", "job-2", "run");
  const char *who = "shop_job-2_run";
  fake_set_stats(720, DEV_DATA, NFS_OP_READ)->count = 3;
  fake_set_error(720, DEV_DATA, NFS_OP_READ, EIO, 1);
  EXPECT_EQ_INT(0, read_once());
  fake_kill_cgroup(720);
  fake.delete_status = -EPERM;
  for (int i = 0; i < RESOLVE_GRACE_READS + 2; i++) {
    EXPECT_EQ_INT(0, read_once());
    EXPECT_EQ_INT(3, derive_of(who, "operations", WHAT_READ));
    EXPECT_EQ_INT(1, derive_of(who, "errors", "read-EIO@10.0.0.5:|vol|data"));
  }
  EXPECT_EQ_INT(1, mock_log_count(LOG_ERR, "failed"));
  EXPECT_EQ_INT(1, (int)series_count(series));
  fake.delete_status = 0;
  for (int i = 0; i < 2; i++) {
    EXPECT_EQ_INT(0, read_once());
    EXPECT_EQ_INT(3, derive_of(who, "operations", WHAT_READ));
    EXPECT_EQ_INT(1, derive_of(who, "errors", "read-EIO@10.0.0.5:|vol|data"));
  }
  EXPECT_EQ_INT(1, fake.deleted_stats);
  EXPECT_EQ_INT(1, fake.deleted_errs);
  return 0;
}

/* umount, then another export mounted on the same (reused) device number,
 * in a cgroup that lives on: the new mount's operations carry its own
 * server and export, the old ones stay where they were. */
DEF_TEST(reused_device_number_moves_to_the_new_mount) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_cgroup(730, "kubelet.service");
  const char *who = "@kubelet.service";
  const char *old_what = WHAT_READ, *new_what = "read@10.0.0.9:|other";
  struct op_stats *v = fake_set_stats(730, DEV_DATA, NFS_OP_READ);
  v->count = 4;
  v->bytes = 400;
  fake_set_error(730, DEV_DATA, NFS_OP_READ, EIO, 1);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(4, derive_of(who, "operations", old_what));

  /* umounted: nothing changes */
  rewrite_mountinfo(MOUNTINFO_ROOT);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(4, derive_of(who, "operations", old_what));
  /* another export on 0:53 */
  rewrite_mountinfo(MOUNTINFO_ROOT
                    "40 22 0:53 / /mnt/other rw,relatime shared:3 - nfs "
                    "10.0.0.9:/other rw,vers=3,addr=10.0.0.9\n");
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(4, derive_of(who, "operations", old_what));
  EXPECT_EQ_INT(0, derive_of(who, "operations", new_what));
  v = fake_set_stats(730, DEV_DATA, NFS_OP_READ);
  v->count = 7;
  v->bytes = 700;
  fake_set_error(730, DEV_DATA, NFS_OP_READ, EIO, 3);
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(4, derive_of(who, "operations", old_what));
  EXPECT_EQ_INT(400, derive_of(who, "total_bytes", old_what));
  EXPECT_EQ_INT(1, derive_of(who, "errors", "read-EIO@10.0.0.5:|vol|data"));
  EXPECT_EQ_INT(3, derive_of(who, "operations", new_what));
  EXPECT_EQ_INT(300, derive_of(who, "total_bytes", new_what));
  EXPECT_EQ_INT(3, bucket_of(who, "read@10.0.0.9:|other", "+Inf"));
  EXPECT_EQ_INT(2, derive_of(who, "errors", "read-EIO@10.0.0.9:|other"));

  /* The source changes without a read in between (umount and mount
   * between two reads): the same. */
  rewrite_mountinfo(MOUNTINFO_ROOT MOUNTINFO_DATA);
  v = fake_set_stats(730, DEV_DATA, NFS_OP_READ);
  EXPECT_EQ_INT(0, read_once());
  v->count = 8;
  v->bytes = 800;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(5, derive_of(who, "operations", old_what));
  EXPECT_EQ_INT(500, derive_of(who, "total_bytes", old_what));
  EXPECT_EQ_INT(3, derive_of(who, "operations", new_what));
  EXPECT_EQ_INT(1, derive_of(who, "errors", "read-EIO@10.0.0.5:|vol|data"));
  EXPECT_EQ_INT(2, derive_of(who, "errors", "read-EIO@10.0.0.9:|other"));
  return 0;
}

/* A file under a directory, written whole. */
static void write_under(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    printf("# cannot write %s\n", path);
  close(fd);
}

/* A process of a fake host /proc: its mount namespace and mountinfo. */
static void fake_process(const char *root, const char *pid, const char *ns,
                         const char *mountinfo) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/proc/%s/ns", root, pid);
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
  if (system(cmd) != 0)
    printf("# %s failed\n", cmd);
  snprintf(path, sizeof(path), "%s/proc/%s/ns/mnt", root, pid);
  if (symlink(ns, path) != 0)
    printf("# cannot link %s\n", path);
  snprintf(path, sizeof(path), "%s/proc/%s", root, pid);
  write_under(path, "mountinfo", mountinfo);
}

/* An NFSv4 submount made inside a pod's mount namespace: not in the host's
 * table, found through the pod's process under HostRoot, reported under
 * its own export from the first read. */
DEF_TEST(submount_in_a_pod_namespace_is_named) {
  reset_plugin();
  char root[] = "/tmp/nfs_ebpf_test_root_XXXXXX";
  OK(mkdtemp(root) != NULL);
  write_under(root, "mountinfo", MOUNTINFO_ROOT MOUNTINFO_DATA);
  fake_process(root, "1", "mnt:[4026531840]", MOUNTINFO_ROOT MOUNTINFO_DATA);
  fake_process(root, "4242", "mnt:[4026532999]",
               "1540 1530 0:53 / /data rw - nfs4 10.0.0.5:/vol/data rw\n"
               "1541 1540 0:77 / /data/projects rw - nfs4 "
               "10.0.0.5:/vol/data/projects rw,vers=4.2\n");
  const char *kv[] = {"HostRoot", root, "MountInfo", "/mountinfo"};
  EXPECT_EQ_INT(0, configure(kv, 4));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(820, "shop", "web-9", "nginx");
  fake_set_stats(820, 77, NFS_OP_READ)->count = 2;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(2, derive_of("shop_web-9_nginx", "operations",
                             "read@10.0.0.5:|vol|data|projects"));
  nfs_ebpf_shutdown();
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
  EXPECT_EQ_INT(0, system(cmd));
  return 0;
}

DEF_TEST(unresolved_keys_wait_then_say_so) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(400, "shop", "web-1", "nginx");
  fake_set_stats(400, 99, NFS_OP_READ)->count = 1; /* device not mounted */
  fake_set_stats(555, DEV_DATA, NFS_OP_READ)->count = 2; /* unknown cgroup */
  for (int i = 0; i < RESOLVE_GRACE_READS; i++) {
    EXPECT_EQ_INT(0, read_once());
    OK(find("shop_web-1_nginx", "operations", NULL) == NULL);
    OK(find("@unresolved", "operations", NULL) == NULL);
  }
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(
      1, derive_of("shop_web-1_nginx", "operations", "read@unknown-dev-0-99:"));
  EXPECT_EQ_INT(2, derive_of("@unresolved", "operations", WHAT_READ));
  return 0;
}

DEF_TEST(container_without_state_yet_is_not_pinned) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  /* Resolved to its cgroup name only: the runtime's state is not readable
   * yet. The first read must not pin the counts to that name. */
  fake_add_cgroup(
      500,
      "cri-containerd-"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope");
  fake_set_provisional(500);
  fake_set_stats(500, DEV_DATA, NFS_OP_OPEN)->count = 1;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(0, mock_dispatch_count() - NFS_LOST_MAX);
  /* Then the bundle appears. */
  fake_resolve_to_pod(500, "shop", "web-2", "nginx");
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(1, derive_of("shop_web-2_nginx", "operations",
                             "open@10.0.0.5:|vol|data"));
  return 0;
}

/* How final a name is, identity says (identity_test checks its answers on
 * real trees); the read takes that as given and never guesses again from
 * the cgroup's name. The name alone cannot tell: a pod's own cgroup names
 * no container and CRI-O's conmon is none (though its name holds one's
 * id), yet until the pod's state is readable they must wait like a
 * container; a container of no pod (plain Docker) is named by its cgroup,
 * final from the first read. */
#define CONTAINER_ID                                                           \
  "9ff6b5a0270499d4222efc7d85bd36aa57c5ef48415f4c9066b05049c99a0db3"
DEF_TEST(pod_level_cgroups_wait_for_identity_not_for_their_names) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  const char *pod_slice =
      "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice";
  const char *conmon = "crio-conmon-" CONTAINER_ID ".scope";
  const char *docker = "docker-" CONTAINER_ID ".scope";
  fake_add_cgroup(900, pod_slice);
  fake_set_provisional(900); /* its pod's state comes later */
  fake_add_cgroup(901, conmon);
  fake_set_provisional(901);    /* its pod's state never comes */
  fake_add_cgroup(902, docker); /* final */
  fake_set_stats(900, DEV_DATA, NFS_OP_READ)->count = 1;
  fake_set_stats(901, DEV_DATA, NFS_OP_READ)->count = 2;
  fake_set_stats(902, DEV_DATA, NFS_OP_READ)->count = 3;
  char pod_who[DATA_MAX_NAME_LEN], conmon_who[DATA_MAX_NAME_LEN],
      docker_who[DATA_MAX_NAME_LEN];
  snprintf(pod_who, sizeof(pod_who), "@%s", pod_slice);
  snprintf(conmon_who, sizeof(conmon_who), "@%s", conmon);
  snprintf(docker_who, sizeof(docker_who), "@%s", docker);

  EXPECT_EQ_INT(0, read_once());
  OK(find(pod_who, "operations", NULL) == NULL);
  OK(find(conmon_who, "operations", NULL) == NULL);
  EXPECT_EQ_INT(3, derive_of(docker_who, "operations", WHAT_READ));

  /* The pod's sandbox state appears: its own cgroup is the pod's. */
  fake_resolve_to_pod(900, "shop", "api-0", "POD");
  for (int i = 1; i < RESOLVE_GRACE_READS; i++) {
    EXPECT_EQ_INT(0, read_once());
    EXPECT_EQ_INT(1, derive_of("shop_api-0_POD", "operations", WHAT_READ));
    OK(find(pod_who, "operations", NULL) == NULL);
    OK(find(conmon_who, "operations", NULL) == NULL);
  }
  /* conmon's never does: after the grace period, its cgroup's name. */
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(2, derive_of(conmon_who, "operations", WHAT_READ));
  EXPECT_EQ_INT(1, derive_of("shop_api-0_POD", "operations", WHAT_READ));
  EXPECT_EQ_INT(3, derive_of(docker_who, "operations", WHAT_READ));
  return 0;
}

/* A pod whose namespace + pod + container exceed 127 characters, and
 * cgroups whose names hold '|', '~' or non-ASCII bytes: their names are
 * shortened or hashed (identifier.h), and they are reported from the first
 * read like any other. */
DEF_TEST(long_and_odd_names_are_reported) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  char pod[201];
  memset(pod, 'a', 200);
  memcpy(pod + 190, "-28f6d-x7k", 10);
  pod[200] = '\0';
  fake_add_pod(700, "argo", pod, "main");
  fake_set_stats(700, DEV_DATA, NFS_OP_READ)->count = 1;
  const char *odd[] = {"odd|pipe.scope", "odd~tilde.scope",
                       "caf\xc3\xa9.service"};
  for (size_t i = 0; i < 3; i++) {
    fake_add_cgroup(710 + i, odd[i]);
    fake_set_stats(710 + i, DEV_DATA, NFS_OP_READ)->count = 2 + i;
  }
  EXPECT_EQ_INT(0, read_once());

  char who[DATA_MAX_NAME_LEN];
  int status = identifier_who(who, sizeof(who), "argo", pod, "main", NULL);
  EXPECT_EQ_INT(1, derive_of(who, "operations", WHAT_READ));
  EXPECT_EQ_INT(0, status);
  EXPECT_EQ_INT(IDENTIFIER_MAX_LEN, strlen(who));
  OK(strncmp(who, "argo_aaaa", 9) == 0);
  OK(strcmp(who + strlen(who) - 5, "_main") == 0);
  for (size_t i = 0; i < 3; i++) {
    status = identifier_who(who, sizeof(who), NULL, NULL, NULL, odd[i]);
    EXPECT_EQ_INT(2 + (derive_t)i, derive_of(who, "operations", WHAT_READ));
    EXPECT_EQ_INT(0, status);
    OK(who[0] == '@' && who[1] == '~' &&
       strlen(who) == 1 + IDENTIFIER_HASH_LEN);
  }
  return 0;
}

/* A map read that fails must not make any counter fall: the read reports
 * no series, retires and deletes nothing, and the next read goes on from
 * the kernel's cumulative values, each counted once. */
DEF_TEST(failed_map_read_keeps_every_value) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  const char *who = "shop_db-1_pg", *what = "write@10.0.0.5:|vol|data";
  const char *eio = "write-EIO@10.0.0.5:|vol|data";
  fake_add_pod(800, "shop", "db-1", "pg"); /* ends during the failures */
  fake_add_pod(801, "shop", "db-1", "pg"); /* its restarted container */
  fake_set_stats(800, DEV_DATA, NFS_OP_WRITE)->bytes = 500;
  fake_set_error(800, DEV_DATA, NFS_OP_WRITE, EIO, 1);
  fake_set_stats(801, DEV_DATA, NFS_OP_WRITE)->bytes = 10;
  EXPECT_EQ_INT(0, read_once());
  EXPECT_EQ_INT(510, derive_of(who, "total_bytes", what));
  EXPECT_EQ_INT(1, derive_of(who, "errors", eio));

  fake_kill_cgroup(800);
  fake_set_stats(801, DEV_DATA, NFS_OP_WRITE)->bytes = 20;
  for (int failing = 0; failing < 2; failing++) {
    fake.stats_read_status = failing == 0 ? -EIO : 0;
    fake.errors_read_status = failing == 1 ? -ENOMEM : 0;
    mock_log_set_echo(false);
    EXPECT_EQ_INT(0, read_once());
    mock_log_set_echo(true);
    /* neither a zero nor a stale value: no series at all */
    EXPECT_EQ_INT(-1, derive_of(who, "total_bytes", what));
    EXPECT_EQ_INT(-1, derive_of(who, "errors", eio));
    EXPECT_EQ_INT(NFS_LOST_MAX, mock_dispatch_count()); /* lost events */
    EXPECT_EQ_INT(0, fake.deleted_stats);
    EXPECT_EQ_INT(0, fake.deleted_errs);
  }
  OK(mock_log_count(LOG_ERR, "op_stats map failed") == 1);
  OK(mock_log_count(LOG_ERR, "op_errors map failed") == 1);

  /* Reads work again: the ended cgroup is retired once, the rest is live. */
  fake.errors_read_status = 0;
  for (int i = 0; i < 2; i++) {
    EXPECT_EQ_INT(0, read_once());
    EXPECT_EQ_INT(520, derive_of(who, "total_bytes", what));
    EXPECT_EQ_INT(1, derive_of(who, "errors", eio));
  }
  EXPECT_EQ_INT(1, fake.deleted_stats);
  EXPECT_EQ_INT(1, fake.deleted_errs);
  return 0;
}

DEF_TEST(torn_read_keeps_histogram_valid) {
  reset_plugin();
  const char *kv[] = {"Bucket", "0.001"};
  EXPECT_EQ_INT(0, configure(kv, 2));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  fake_add_pod(600, "shop", "web-3", "nginx");
  struct op_stats *v = fake_set_stats(600, DEV_DATA, NFS_OP_READ);
  v->count = 4;
  v->buckets[0] = 5; /* caught the bucket's add before the count's */
  EXPECT_EQ_INT(0, read_once());
  derive_t count = derive_of("shop_web-3_nginx", "operations", WHAT_READ);
  derive_t inf = bucket_of("shop_web-3_nginx", WHAT_READ, "+Inf");
  EXPECT_EQ_INT(5, inf);
  EXPECT_EQ_INT(inf, count);
  return 0;
}

DEF_TEST(clock_stepped_back_still_advances_value_time) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  mock_set_time(TIME_T_TO_CDTIME_T(1000));
  EXPECT_EQ_INT(0, read_once());
  const value_list_t *first = find("", "derive", "missed_return");
  cdtime_t t1 = first != NULL ? first->time : 0;
  mock_set_time(TIME_T_TO_CDTIME_T(999)); /* the wall clock went back */
  EXPECT_EQ_INT(0, read_once());
  const value_list_t *second = find("", "derive", "missed_return");
  OK(second != NULL && second->time > t1);
  return 0;
}

DEF_TEST(host_root_prefixes_host_paths) {
  reset_plugin();
  /* mountinfo_path is /tmp/...: with HostRoot "/" + "/" it must still be
   * found, and with a HostRoot that does not hold it, init must fail. */
  const char *root_slash[] = {"HostRoot", "//"};
  EXPECT_EQ_INT(0, configure(root_slash, 2));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  reset_plugin();
  const char *elsewhere[] = {"HostRoot", "/nonexistent-host-root"};
  EXPECT_EQ_INT(0, configure(elsewhere, 2));
  EXPECT_EQ_INT(-1, nfs_ebpf_init());
  OK(fake.tracer_opened == 0);
  EXPECT_EQ_INT(0, fake.identities);
  return 0;
}

DEF_TEST(shutdown_closes_the_tracer) {
  reset_plugin();
  EXPECT_EQ_INT(0, configure(NULL, 0));
  EXPECT_EQ_INT(0, nfs_ebpf_init());
  EXPECT_EQ_INT(0, nfs_ebpf_shutdown());
  EXPECT_EQ_INT(1, fake.tracer_closed);
  OK(series == NULL && mounts == NULL && tracer == NULL);
  return 0;
}

int main(void) {
  write_mountinfo();
  RUN_TEST(config_rejects_bad_values);
  RUN_TEST(config_reaches_the_kernel_side);
  RUN_TEST(v1_controller_index_on_612_proc_cgroups);
  RUN_TEST(init_fails_cleanly_without_the_tracer);
  RUN_TEST(pod_read_becomes_contract_values);
  RUN_TEST(bucket_type_is_registered_and_matches_the_shipped_types_db);
  RUN_TEST(metadata_ops_have_no_bytes_and_non_pods_their_cgroup);
  RUN_TEST(ended_pod_keeps_its_counts_and_its_keys_are_freed);
  RUN_TEST(retirement_waits_for_quiet_and_keeps_late_increments);
  RUN_TEST(retirement_without_lookup_and_delete);
  RUN_TEST(failed_retirement_keeps_the_key_bound);
  RUN_TEST(reused_device_number_moves_to_the_new_mount);
  RUN_TEST(submount_in_a_pod_namespace_is_named);
  rewrite_mountinfo(MOUNTINFO_ROOT MOUNTINFO_DATA);
  RUN_TEST(unresolved_keys_wait_then_say_so);
  RUN_TEST(container_without_state_yet_is_not_pinned);
  RUN_TEST(pod_level_cgroups_wait_for_identity_not_for_their_names);
  RUN_TEST(long_and_odd_names_are_reported);
  RUN_TEST(failed_map_read_keeps_every_value);
  RUN_TEST(torn_read_keeps_histogram_valid);
  RUN_TEST(clock_stepped_back_still_advances_value_time);
  RUN_TEST(host_root_prefixes_host_paths);
  RUN_TEST(shutdown_closes_the_tracer);
  RUN_TEST(wire_level_series);
  RUN_TEST(wire_level_keys_of_ended_pods_are_retired);
  RUN_TEST(wire_level_can_be_turned_off);
  unlink(mountinfo_path);
  END_TEST;
}
