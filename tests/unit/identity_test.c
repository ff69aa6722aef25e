/*
 * identity: a fake cgroup tree in a temp dir (ids are inode numbers there)
 * against the runtime fixtures (how final each answer is, pod-level
 * cgroups included), freshness and tombstones, layout
 * detection, and a real cgroup created on this host (root only); lookups
 * while a rescan runs; a pod with a delegated cgroup subtree.
 */
#include "collectd_compat.h"

#include "cgroup_index.h"
#include "cgroup_tree.h"
#include "identity.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID_REAL                                                                \
  "7d6a1f3c0b5e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
#define ID_SYSTEMD                                                             \
  "47f2784d14c66d4f2bf01848527fd969bf8bb33131f80651bcbe11de9cd3f30e"
#define ID_CRIO                                                                \
  "9ff6b5a0270499d4222efc7d85bd36aa57c5ef48415f4c9066b05049c99a0db3"
#define ID_DOCKER                                                              \
  "768f95cebf3110e67397c563330c0e08ba0016203ba603af38d4d988364c5115"
#define ID_H_CTRL                                                              \
  "fe42c496b0962c80ba33fb08bc2d44a918f5098459e7f439463717c6436d989d"
#define ID_UNKNOWN                                                             \
  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_SANDBOX                                                             \
  "34bd7fd9396bc11d69c301235d08430a05828040bce4a0885a5c190f92baeda2"
#define ID_DOCKER_PLAIN                                                        \
  "4fd88b678ecadb93030bb98dfb4733c038f1fa2022c789c9a0f2bcf070a0e0d7"
/* A pod no runtime state names (yet). */
#define UID_NO_STATE "11111111-2222-4333-8444-555555555555"
#define UID_NO_STATE_SLICE "11111111_2222_4333_8444_555555555555"

static char fixtures[1024];
static char tree[128];

typedef struct {
  const char *path; /* below the tree */
  const char *ns, *pod, *container, *cgroup;
  identity_state_t state;
} expect_t;

static const expect_t expects[] = {
    {"/kubepods/besteffort/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/" ID_REAL,
     "shop", "web-0", "nginx", NULL, IDENTITY_FINAL},
    {"/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice/"
     "cri-containerd-" ID_SYSTEMD ".scope",
     "shop", "api-7f9c6d5b8-x2x9q", "app", NULL, IDENTITY_FINAL},
    {"/kubepods.slice/kubepods-pod9d8c7b6a_5f4e_4d3c_8b2a_1f0e9d8c7b6a.slice/"
     "crio-" ID_CRIO ".scope/container",
     "data", "db-0", "postgres", NULL, IDENTITY_FINAL},
    {"/kubepods.slice/kubepods-pod9d8c7b6a_5f4e_4d3c_8b2a_1f0e9d8c7b6a.slice/"
     "crio-conmon-" ID_CRIO ".scope",
     "data", "db-0", "POD", NULL, IDENTITY_FINAL},
    {"/kubepods/besteffort/pod31f5c0de-8e2b-4b9a-a1d4-7c6e5f4d3c2b/" ID_DOCKER,
     "web", "cache-5d8f7b9c4-qwert", "redis", NULL, IDENTITY_FINAL},
    {"/system.slice/kubelet.service", NULL, NULL, NULL, "kubelet.service",
     IDENTITY_FINAL},
    {"/", NULL, NULL, NULL, "/", IDENTITY_FINAL},
    /* hostile state: reported under the cgroup, for good (though the name
     * is a container id) */
    {"/kubepods/besteffort/pod0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d70/" ID_H_CTRL,
     NULL, NULL, NULL, ID_H_CTRL, IDENTITY_FINAL},
    /* the cgroup names another pod than the state: never guess */
    {"/kubepods/burstable/pod" UID_NO_STATE "/" ID_REAL, NULL, NULL, NULL,
     ID_REAL, IDENTITY_FINAL},
    /* a container id no runtime knows (yet): its name, for now */
    {"/kubepods/burstable/pod" UID_NO_STATE "/" ID_UNKNOWN, NULL, NULL, NULL,
     ID_UNKNOWN, IDENTITY_PROVISIONAL},
    /* Pod-level cgroups: the pod's own, its sandbox's. Their names say
     * nothing of a container, or name one that is no pod's: only the
     * runtime state tells whether the answer is final. */
    {"/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice",
     "shop", "api-7f9c6d5b8-x2x9q", "POD", NULL, IDENTITY_FINAL},
    {"/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice/"
     "cri-containerd-" ID_SANDBOX ".scope",
     "shop", "api-7f9c6d5b8-x2x9q", "POD", NULL, IDENTITY_FINAL},
    {"/kubepods/burstable/pod" UID_NO_STATE, NULL, NULL, NULL,
     "pod" UID_NO_STATE, IDENTITY_PROVISIONAL},
    {"/kubepods.slice/kubepods-pod" UID_NO_STATE_SLICE ".slice/"
     "crio-conmon-" ID_UNKNOWN ".scope",
     NULL, NULL, NULL, "crio-conmon-" ID_UNKNOWN ".scope",
     IDENTITY_PROVISIONAL},
    /* a Docker container of no pod */
    {"/system.slice/docker-" ID_DOCKER_PLAIN ".scope", NULL, NULL, NULL,
     "docker-" ID_DOCKER_PLAIN ".scope", IDENTITY_FINAL},
};

static identity_t *make_identity(const char *cgroup_root) {
  char dirs[4][1100];
  static const char *names[] = {"containerd", "crio", "docker", "hostile"};
  static const char *ptrs[4];
  for (int i = 0; i < 4; i++) {
    snprintf(dirs[i], sizeof(dirs[i]), "%s/runtime/%s", fixtures, names[i]);
    if (ptrs[i] == NULL) /* the same for every call: kept, not leaked */
      ptrs[i] = strdup(dirs[i]);
  }
  identity_config_t cfg = tree_identity_config(cgroup_root, ptrs, 4);
  cfg.no_inotify = true;
  return identity_create(&cfg);
}

DEF_TEST(fake_tree) {
  OK(tree_make_v2_root(tree) == 0);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(expects); i++)
    OK(tree_mkdir_under(tree, expects[i].path) == 0);

  identity_t *id = make_identity(tree);
  OK(id != NULL);
  EXPECT_EQ_INT(IDENTITY_CGROUP_V2, identity_cgroup_mode(id, NULL));
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(expects); i++) {
    const expect_t *e = &expects[i];
    pod_identity_t out;
    printf("# %s\n", e->path);
    identity_answer_t answer =
        identity_resolve(id, tree_cgroup_id(tree, e->path), &out);
    EXPECT_EQ_INT(e->state, answer.state);
    OK(answer.alive);
    EXPECT_EQ_INT((e->ns != NULL), out.in_pod);
    if (e->ns != NULL) {
      EXPECT_EQ_STR(e->ns, out.ns);
      EXPECT_EQ_STR(e->pod, out.pod);
      EXPECT_EQ_STR(e->container, out.container);
      EXPECT_EQ_STR("", out.cgroup);
    } else {
      EXPECT_EQ_STR(e->cgroup, out.cgroup);
      EXPECT_EQ_STR("", out.pod);
    }
  }
  OK(mock_log_count(LOG_WARNING, "names pod uid") == 1);
  identity_destroy(id);
  return 0;
}

/* Ids never seen, cgroups created after start, tombstones. */
DEF_TEST(freshness) {
  identity_t *id = make_identity(tree);
  OK(id != NULL);
  cdtime_t t0 = TIME_T_TO_CDTIME_T(100000);
  identity_tick(id, t0);
  pod_identity_t out;

  /* an id that does not exist */
  uint64_t bogus = 0xfffffffffff0ULL;
  identity_answer_t answer = identity_resolve(id, bogus, &out);
  EXPECT_EQ_INT(IDENTITY_UNKNOWN, answer.state);
  EXPECT_EQ_STR(IDENTITY_UNRESOLVED_CGROUP, out.cgroup);
  OK(!out.in_pod);
  OK(!answer.alive);

  /* created after the last scan: resolved on demand in the next interval
   * (a tree that is not kernfs costs a walk, at most one per interval) */
  OK(tree_mkdir_under(tree, "/system.slice/late.service") == 0);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(10));
  uint64_t late = tree_cgroup_id(tree, "/system.slice/late.service");
  EXPECT_EQ_INT(IDENTITY_FINAL, identity_resolve(id, late, &out).state);
  EXPECT_EQ_STR("late.service", out.cgroup);

  /* a pod container that ends: kept until the ttl, then gone */
  const char *pod_path = expects[0].path;
  uint64_t pod_id = tree_cgroup_id(tree, pod_path);
  EXPECT_EQ_INT(IDENTITY_FINAL, identity_resolve(id, pod_id, &out).state);
  OK(out.in_pod);
  char path[1024];
  snprintf(path, sizeof(path), "%s%s", tree, pod_path);
  OK(rmdir(path) == 0);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61)); /* periodic rescan */
  answer = identity_resolve(id, pod_id, &out);
  EXPECT_EQ_INT(IDENTITY_FINAL, answer.state);
  OK1(out.in_pod && strcmp(out.pod, "web-0") == 0, "tombstone keeps the pod");
  OK(answer.alive);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61 + 301));
  answer = identity_resolve(id, pod_id, &out);
  OK(!answer.alive);
  EXPECT_EQ_INT(IDENTITY_UNKNOWN, answer.state);
  OK(identity_resolve(id, late, &out).alive);
  identity_destroy(id);
  return 0;
}

DEF_TEST(layout_detection) {
  char root[256], unified[300], mem[300], file[400];
  snprintf(root, sizeof(root), "%s-hybrid", tree);
  snprintf(unified, sizeof(unified), "%s/unified", root);
  snprintf(mem, sizeof(mem), "%s/memory", root);
  snprintf(file, sizeof(file), "%s/cgroup.procs", mem);
  OK(tree_make_v2_root(unified) == 0 &&
     tree_mkdir_under(unified, "/system.slice/x.service") == 0 &&
     tree_mkdir_p(mem) == 0 && tree_write_file(file, "") == 0);
  identity_t *id = make_identity(root);
  OK(id != NULL);
  EXPECT_EQ_INT(IDENTITY_CGROUP_HYBRID, identity_cgroup_mode(id, NULL));
  pod_identity_t out;
  EXPECT_EQ_INT(
      IDENTITY_FINAL,
      identity_resolve(id, tree_cgroup_id(unified, "/system.slice/x.service"),
                       &out)
          .state);
  EXPECT_EQ_STR("x.service", out.cgroup);
  identity_destroy(id);

  snprintf(root, sizeof(root), "%s-v1", tree);
  snprintf(mem, sizeof(mem), "%s/memory", root);
  snprintf(file, sizeof(file), "%s/cgroup.procs", mem);
  static const char v1_container[] =
      "/kubepods/besteffort/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/" ID_REAL;
  OK(tree_mkdir_under(mem, v1_container) == 0 &&
     tree_mkdir_under(root, "/cpu") == 0 && tree_write_file(file, "") == 0);
  id = make_identity(root);
  OK(id != NULL);
  const char *controller = NULL;
  EXPECT_EQ_INT(IDENTITY_CGROUP_V1, identity_cgroup_mode(id, &controller));
  EXPECT_EQ_STR("memory", controller);
  EXPECT_EQ_INT(
      IDENTITY_FINAL,
      identity_resolve(id, tree_cgroup_id(mem, v1_container), &out).state);
  OK(out.in_pod && strcmp(out.container, "nginx") == 0);
  identity_destroy(id);
  return 0;
}

/* A real cgroup on this host: its id (kernfs handle) equals st_ino, and a
 * cgroup created after identity_create resolves on demand. */
DEF_TEST(real_cgroup) {
  OK1(geteuid() == 0, "runs as root (needed to make a real cgroup)");
  identity_config_t cfg = {.state_dirs = (const char *const[]){"/nonexistent"},
                           .n_state_dirs = 1,
                           .no_inotify = true};
  identity_t *id = identity_create(&cfg);
  OK(id != NULL);
  char mount[256], dir[512], name[64];
  tree_host_mount(id, mount, sizeof(mount));
  snprintf(name, sizeof(name), "nfs_ebpf_test_%d", (int)getpid());
  snprintf(dir, sizeof(dir), "%s/%s", mount, name);
  if (mkdir(dir, 0755) != 0) {
    printf("not ok %d - cannot create %s: %s\n", ++check_count__, dir,
           strerror(errno));
    identity_destroy(id);
    return -1;
  }
  struct stat st;
  OK(stat(dir, &st) == 0);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  uint64_t handle_id = 0;
  OK(fd >= 0 && cgroup_id_at(fd, NULL, &handle_id) == 0);
  close(fd);
  EXPECT_EQ_UINT64((uint64_t)st.st_ino, handle_id);

  pod_identity_t out;
  identity_answer_t answer = identity_resolve(id, handle_id, &out);
  EXPECT_EQ_INT(IDENTITY_FINAL, answer.state);
  EXPECT_EQ_STR(name, out.cgroup);
  OK(!out.in_pod);
  OK(answer.alive);

  OK(rmdir(dir) == 0);
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(61));
  answer = identity_resolve(id, handle_id, &out); /* tombstone */
  EXPECT_EQ_INT(IDENTITY_FINAL, answer.state);
  OK(answer.alive);
  EXPECT_EQ_STR(name, out.cgroup);
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(61 + 301));
  OK(!identity_resolve(id, handle_id, &out).alive);
  identity_destroy(id);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* A rescan must not hold the lock that lookups need                      */

/* How long a lookup may take before it counts as blocked: a deadlock
 * guard, not a timing assertion (a lookup that waits for the lock never
 * completes while the scan is held in the hook; one that does not wait
 * completes in microseconds). */
#define BLOCKED_GUARD_S 30

typedef struct {
  identity_t *id;
  uint64_t cgroup_id;
  pthread_mutex_t m;
  pthread_cond_t c;
  bool done;
  identity_answer_t answer;
  pod_identity_t out;
} lookup_job_t;

static void *lookup_job(void *arg) {
  lookup_job_t *j = arg;
  pod_identity_t out;
  identity_answer_t answer = identity_resolve(j->id, j->cgroup_id, &out);
  pthread_mutex_lock(&j->m);
  j->answer = answer;
  j->out = out;
  j->done = true;
  pthread_cond_signal(&j->c);
  pthread_mutex_unlock(&j->m);
  return NULL;
}

#define MAX_JOBS 32
typedef struct {
  identity_t *id; /* NULL: do nothing (identity_create's first scan) */
  uint64_t cgroup_id;
  int calls, completed, blocked;
  size_t n;
  pthread_t threads[MAX_JOBS];
  lookup_job_t jobs[MAX_JOBS];
} hook_state_t;

/* Called in the middle of the rescan, on the thread doing it: a lookup on
 * another thread must complete while the scan is held here. */
static void scan_hook(void *ctx) {
  hook_state_t *h = ctx;
  h->calls++;
  if (h->id == NULL || h->blocked > 0 || h->n == MAX_JOBS)
    return;
  lookup_job_t *j = &h->jobs[h->n];
  memset(j, 0, sizeof(*j));
  j->id = h->id;
  j->cgroup_id = h->cgroup_id;
  pthread_mutex_init(&j->m, NULL);
  pthread_cond_init(&j->c, NULL);
  if (pthread_create(&h->threads[h->n], NULL, lookup_job, j) != 0)
    return;
  h->n++;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += BLOCKED_GUARD_S;
  pthread_mutex_lock(&j->m);
  while (!j->done)
    if (pthread_cond_timedwait(&j->c, &j->m, &deadline) == ETIMEDOUT)
      break;
  if (j->done)
    h->completed++;
  else
    h->blocked++;
  pthread_mutex_unlock(&j->m);
}

DEF_TEST(lookup_during_rescan) {
  hook_state_t h = {0};
  char dirs[4][1100];
  static const char *names[] = {"containerd", "crio", "docker", "hostile"};
  const char *ptrs[4];
  for (int i = 0; i < 4; i++) {
    snprintf(dirs[i], sizeof(dirs[i]), "%s/runtime/%s", fixtures, names[i]);
    ptrs[i] = dirs[i];
  }
  identity_config_t cfg = {
      .cgroup_root = tree,
      .state_dirs = ptrs,
      .n_state_dirs = 4,
      .rescan_interval = TIME_T_TO_CDTIME_T(60),
      .no_inotify = true, /* identity_tick rescans, on this thread */
      .scan_hook = scan_hook,
      .scan_hook_ctx = &h,
  };
  identity_t *id = identity_create(&cfg);
  OK(id != NULL);
  const expect_t *e = &expects[1]; /* the systemd-driver containerd pod */
  h.cgroup_id = tree_cgroup_id(tree, e->path);
  OK(h.cgroup_id != 0);
  h.id = id;
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(61)); /* a rescan is due */
  for (size_t i = 0; i < h.n; i++)
    pthread_join(h.threads[i], NULL);
  printf("# rescan hook called %d times: %d lookups completed during the "
         "scan, %d blocked\n",
         h.calls, h.completed, h.blocked);
  EXPECT_EQ_INT(0, h.blocked);
  /* the cgroup walk, and the listing of each state dir layout */
  OK(h.completed >= 2);
  for (size_t i = 0; i < h.n; i++) {
    EXPECT_EQ_INT(IDENTITY_FINAL, h.jobs[i].answer.state);
    OK(h.jobs[i].answer.alive);
    OK(h.jobs[i].out.in_pod);
    EXPECT_EQ_STR(e->pod, h.jobs[i].out.pod);
    EXPECT_EQ_STR(e->container, h.jobs[i].out.container);
    pthread_mutex_destroy(&h.jobs[i].m);
    pthread_cond_destroy(&h.jobs[i].c);
  }
  identity_destroy(id);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* A pod with a delegated cgroup subtree                                  */

/* The systemd-driver containerd pod (shop/api-7f9c6d5b8-x2x9q, container
 * app), its container's cgroup delegated to it. */
#define DELEGATED_POD_SLICE                                                    \
  "/kubepods.slice/kubepods-burstable.slice/"                                  \
  "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice"
#define DELEGATED DELEGATED_POD_SLICE "/cri-containerd-" ID_SYSTEMD ".scope"
/* Names the pod gives its own cgroups, copied from another pod's
 * (shop/web-0, container nginx: ID_REAL in pod 25fae09f-...). */
static const char *const spoofs[] = {
    DELEGATED "/cri-containerd-" ID_REAL ".scope",
    DELEGATED "/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/" ID_REAL,
    DELEGATED "/kubepods-besteffort-pod25fae09f_3c1d_4b6e_9a7f_0e8d2c4b6a13."
              "slice/cri-containerd-" ID_REAL ".scope",
};

/* Every cgroup in the delegated subtree resolves to its container, or (not
 * indexed, on a tree where ids cannot be resolved on demand) to nothing:
 * never to another pod. */
static int expect_delegated(identity_t *id, const char *root, const char *rel,
                            bool must_resolve) {
  pod_identity_t out;
  uint64_t cgid = tree_cgroup_id(root, rel);
  OK(cgid != 0);
  identity_state_t state = identity_resolve(id, cgid, &out).state;
  if (state != IDENTITY_FINAL || !out.in_pod ||
      strcmp(out.pod, "api-7f9c6d5b8-x2x9q") != 0)
    printf("# %s: state %d, in_pod %d, pod \"%s\" container \"%s\" cgroup "
           "\"%s\"\n",
           rel, (int)state, out.in_pod, out.pod, out.container, out.cgroup);
  if (must_resolve)
    EXPECT_EQ_INT(IDENTITY_FINAL, state);
  if (state != IDENTITY_UNKNOWN) {
    OK(out.in_pod);
    EXPECT_EQ_STR("shop", out.ns);
    EXPECT_EQ_STR("api-7f9c6d5b8-x2x9q", out.pod);
    EXPECT_EQ_STR("app", out.container);
  } else {
    EXPECT_EQ_INT(IDENTITY_UNKNOWN, state);
    OK(!out.in_pod);
  }
  return 0;
}

/* Builds the delegated subtree below root/DELEGATED: the spoofs, n flat
 * children and a chain deeper than the bounds. */
static int make_delegated(const char *root, int n) {
  char rel[1024];
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(spoofs); i++)
    if (tree_mkdir_under(root, spoofs[i]) != 0)
      return -1;
  for (int i = 0; i < n; i++) {
    snprintf(rel, sizeof(rel), DELEGATED "/d%03d", i);
    if (tree_mkdir_under(root, rel) != 0)
      return -1;
  }
  return tree_mkdir_under(root, DELEGATED "/a/b/c/d/e/f/g");
}

DEF_TEST(delegated_subtree) {
  char root[256];
  snprintf(root, sizeof(root), "%s-delegated", tree);
  OK(tree_make_v2_root(root) == 0);
  OK(tree_mkdir_under(root, "/system.slice/gone.service") == 0);
  /* First only the copied names: few enough to be indexed, and each must
   * still resolve to the pod that made it. */
  OK(tree_mkdir_under(root, DELEGATED) == 0);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(spoofs); i++)
    OK(tree_mkdir_under(root, spoofs[i]) == 0);
  identity_t *id = make_identity(root);
  OK(id != NULL);
  expect_delegated(id, root, DELEGATED, true);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(spoofs); i++)
    expect_delegated(id, root, spoofs[i], true);

  /* Then thousands of cgroups below the container: the index holds a
   * bounded number of them, and says so once. */
  enum { FLAT = 2000 };
  OK(make_delegated(root, FLAT) == 0);
  cdtime_t t0 = cdtime() + TIME_T_TO_CDTIME_T(100);
  identity_tick(id, t0); /* a rescan is due */
  expect_delegated(id, root, DELEGATED, true);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(spoofs); i++)
    expect_delegated(id, root, spoofs[i], false);
  expect_delegated(id, root, DELEGATED "/d1999", false);
  expect_delegated(id, root, DELEGATED "/a/b/c/d/e/f/g", false);
  OK(mock_log_count(LOG_WARNING, "delegated subtree") == 1);

  cgroup_index_t *idx = cgroup_index_create(root, 0);
  OK(idx != NULL);
  int live = cgroup_index_rescan(idx, t0);
  /* /, system.slice, gone.service, kubepods.slice, its burstable slice,
   * the pod slice, the container: 7, and what is allowed below it */
  printf("# %d cgroups indexed of %d, %" PRIu64 " left out\n", live,
         7 + FLAT + 7 + 3 + 2, cgroup_index_skipped(idx));
  OK(live >= 7 && live <= 7 + CGROUP_INDEX_MAX_BELOW_CONTAINER);
  EXPECT_EQ_INT(live, (int)cgroup_index_count(idx));
  OK(cgroup_index_skipped(idx) > 0);
  cgroup_index_destroy(idx);

  /* The walk is still complete elsewhere: a cgroup that goes is noticed,
   * and its tombstone expires. */
  uint64_t gone = tree_cgroup_id(root, "/system.slice/gone.service");
  pod_identity_t out;
  OK(identity_resolve(id, gone, &out).alive);
  char path[512];
  snprintf(path, sizeof(path), "%s/system.slice/gone.service", root);
  OK(rmdir(path) == 0);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61));
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61 + 301));
  OK(!identity_resolve(id, gone, &out).alive);
  /* and the delegating container is still there */
  expect_delegated(id, root, DELEGATED, true);
  identity_destroy(id);
  OK(tree_rm_rf(root) == 0);
  return 0;
}

/* The same on this host's cgroup2 (root needed): ids are kernfs handles,
 * so every cgroup of the subtree, indexed or not, resolves on demand, to
 * the pod that made it. */
DEF_TEST(delegated_subtree_real) {
  OK1(geteuid() == 0, "the real cgroup test needs root");
  char root[256], rel[1024];
  identity_config_t probe = {.state_dirs =
                                 (const char *const[]){"/nonexistent"},
                             .n_state_dirs = 1,
                             .no_inotify = true};
  identity_t *id = identity_create(&probe);
  OK(id != NULL);
  tree_host_mount(id, root, sizeof(root));
  identity_destroy(id);
  /* below our own test cgroup, so nothing else on the host is touched */
  char top[64];
  snprintf(top, sizeof(top), "/nfs_ebpf_deleg_%d", (int)getpid());
  char base_dir[512];
  snprintf(base_dir, sizeof(base_dir), "%s%s", root, top);
  OK1(mkdir(base_dir, 0755) == 0, "create a test cgroup on this host");

  enum { FLAT = 40 };
  char sub[256];
  snprintf(sub, sizeof(sub), "%s%s", root, top);
  OK(tree_mkdir_under(sub, DELEGATED) == 0);
  OK(make_delegated(sub, FLAT) == 0);

  char dirs[1100];
  snprintf(dirs, sizeof(dirs), "%s/runtime/containerd", fixtures);
  const char *ptrs[] = {dirs};
  identity_config_t cfg = {
      .state_dirs = ptrs,
      .n_state_dirs = 1,
      .no_inotify = true,
  };
  id = identity_create(&cfg);
  OK(id != NULL);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(spoofs); i++) {
    snprintf(rel, sizeof(rel), "%s%s", top, spoofs[i]);
    expect_delegated(id, root, rel, true);
  }
  for (int i = 0; i < FLAT; i += 7) {
    snprintf(rel, sizeof(rel), "%s" DELEGATED "/d%03d", top, i);
    expect_delegated(id, root, rel, true);
  }
  snprintf(rel, sizeof(rel), "%s" DELEGATED "/a/b/c/d/e/f/g", top);
  expect_delegated(id, root, rel, true);
  identity_destroy(id);
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "find '%s' -depth -type d -exec rmdir {} +",
           base_dir);
  OK(system(cmd) == 0);
  return 0;
}

int main(void) {
  const char *env = getenv("NFS_EBPF_FIXTURES");
  snprintf(fixtures, sizeof(fixtures), "%s", env ? env : "tests/fixtures");
  if (fixtures[0] != '/') {
    char cwd[512];
    if (getcwd(cwd, sizeof(cwd)) != NULL) {
      char abs[1024];
      snprintf(abs, sizeof(abs), "%s/%s", cwd, fixtures);
      snprintf(fixtures, sizeof(fixtures), "%s", abs);
    }
  }
  snprintf(tree, sizeof(tree), "/tmp/nfs_ebpf_cg_XXXXXX");
  if (mkdtemp(tree) == NULL) {
    printf("not ok 1 - mkdtemp\n");
    return 1;
  }
  mock_log_set_echo(false);
  RUN_TEST(fake_tree);
  RUN_TEST(freshness);
  RUN_TEST(layout_detection);
  RUN_TEST(real_cgroup);
  RUN_TEST(lookup_during_rescan);
  RUN_TEST(delegated_subtree);
  RUN_TEST(delegated_subtree_real);
  static const char *const suffixes[] = {"", "-hybrid", "-v1"};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(suffixes); i++) {
    char dir[256];
    snprintf(dir, sizeof(dir), "%s%s", tree, suffixes[i]);
    if (tree_rm_rf(dir) != 0)
      printf("# could not remove %s\n", dir);
  }
  END_TEST;
}
