/*
 * identity: a fake cgroup tree in a temp dir (ids are inode numbers there)
 * against the runtime fixtures, freshness and tombstones, layout
 * detection, and a real cgroup created on this host (root only).
 */
#include "collectd_compat.h"

#include "cgroup_index.h"
#include "identity.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_REAL "7d6a1f3c0b5e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
#define ID_SYSTEMD "47f2784d14c66d4f2bf01848527fd969bf8bb33131f80651bcbe11de9cd3f30e"
#define ID_CRIO "9ff6b5a0270499d4222efc7d85bd36aa57c5ef48415f4c9066b05049c99a0db3"
#define ID_DOCKER "768f95cebf3110e67397c563330c0e08ba0016203ba603af38d4d988364c5115"
#define ID_H_CTRL "fe42c496b0962c80ba33fb08bc2d44a918f5098459e7f439463717c6436d989d"
#define ID_UNKNOWN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char fixtures[1024];
static char tree[128];

typedef struct {
  const char *path; /* below the tree */
  const char *ns, *pod, *container, *cgroup;
} expect_t;

static const expect_t expects[] = {
    {"/kubepods/besteffort/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/" ID_REAL,
     "shop", "web-0", "nginx", NULL},
    {"/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70.slice/"
     "cri-containerd-" ID_SYSTEMD ".scope",
     "shop", "api-7f9c6d5b8-x2x9q", "app", NULL},
    {"/kubepods.slice/kubepods-pod9d8c7b6a_5f4e_4d3c_8b2a_1f0e9d8c7b6a.slice/"
     "crio-" ID_CRIO ".scope/container",
     "data", "db-0", "postgres", NULL},
    {"/kubepods.slice/kubepods-pod9d8c7b6a_5f4e_4d3c_8b2a_1f0e9d8c7b6a.slice/"
     "crio-conmon-" ID_CRIO ".scope",
     "data", "db-0", "POD", NULL},
    {"/kubepods/besteffort/pod31f5c0de-8e2b-4b9a-a1d4-7c6e5f4d3c2b/" ID_DOCKER,
     "web", "cache-5d8f7b9c4-qwert", "redis", NULL},
    {"/system.slice/kubelet.service", NULL, NULL, NULL, "kubelet.service"},
    {"/", NULL, NULL, NULL, "/"},
    /* hostile state: reported under the cgroup */
    {"/kubepods/besteffort/pod0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d70/" ID_H_CTRL,
     NULL, NULL, NULL, ID_H_CTRL},
    /* the cgroup names another pod than the state: never guess */
    {"/kubepods/burstable/pod11111111-2222-4333-8444-555555555555/" ID_REAL,
     NULL, NULL, NULL, ID_REAL},
    /* a container id no runtime knows */
    {"/kubepods/burstable/pod11111111-2222-4333-8444-555555555555/" ID_UNKNOWN,
     NULL, NULL, NULL, ID_UNKNOWN},
};

static int mkdirs(const char *root, const char *rel) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s'", root, rel);
  return system(cmd);
}

static uint64_t ino_of(const char *root, const char *rel) {
  char path[2048];
  struct stat st;
  snprintf(path, sizeof(path), "%s%s", root, rel);
  return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static identity_t *make_identity(const char *cgroup_root) {
  char dirs[4][1100];
  static const char *names[] = {"containerd", "crio", "docker", "hostile"};
  static const char *ptrs[4];
  for (int i = 0; i < 4; i++) {
    snprintf(dirs[i], sizeof(dirs[i]), "%s/runtime/%s", fixtures, names[i]);
    if (ptrs[i] == NULL) /* the same for every call: kept, not leaked */
      ptrs[i] = strdup(dirs[i]);
  }
  identity_config_t cfg = {
      .cgroup_root = cgroup_root,
      .state_dirs = ptrs,
      .n_state_dirs = 4,
      .rescan_interval = TIME_T_TO_CDTIME_T(60),
      .tombstone_ttl = TIME_T_TO_CDTIME_T(300),
      .no_inotify = true,
  };
  return identity_create(&cfg);
}

DEF_TEST(fake_tree) {
  char file[256];
  OK(mkdirs(tree, "") == 0);
  snprintf(file, sizeof(file), "%s/cgroup.controllers", tree);
  FILE *f = fopen(file, "w");
  OK(f != NULL);
  fclose(f);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(expects); i++)
    OK(mkdirs(tree, expects[i].path) == 0);

  identity_t *id = make_identity(tree);
  OK(id != NULL);
  EXPECT_EQ_INT(IDENTITY_CGROUP_V2, identity_cgroup_mode(id, NULL));
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(expects); i++) {
    const expect_t *e = &expects[i];
    pod_identity_t out;
    printf("# %s\n", e->path);
    EXPECT_EQ_INT(0, identity_lookup(id, ino_of(tree, e->path), &out));
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
  EXPECT_EQ_INT(-ENOENT, identity_lookup(id, bogus, &out));
  EXPECT_EQ_STR(IDENTITY_UNRESOLVED_CGROUP, out.cgroup);
  OK(!out.in_pod);
  OK(!identity_cgroup_alive(id, bogus));

  /* created after the last scan: resolved on demand in the next interval
   * (a tree that is not kernfs costs a walk, at most one per interval) */
  OK(mkdirs(tree, "/system.slice/late.service") == 0);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(10));
  uint64_t late = ino_of(tree, "/system.slice/late.service");
  EXPECT_EQ_INT(0, identity_lookup(id, late, &out));
  EXPECT_EQ_STR("late.service", out.cgroup);

  /* a pod container that ends: kept until the ttl, then gone */
  const char *pod_path = expects[0].path;
  uint64_t pod_id = ino_of(tree, pod_path);
  EXPECT_EQ_INT(0, identity_lookup(id, pod_id, &out));
  OK(out.in_pod);
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rmdir '%s%s'", tree, pod_path);
  OK(system(cmd) == 0);
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61)); /* periodic rescan */
  EXPECT_EQ_INT(0, identity_lookup(id, pod_id, &out));
  OK1(out.in_pod && strcmp(out.pod, "web-0") == 0, "tombstone keeps the pod");
  OK(identity_cgroup_alive(id, pod_id));
  identity_tick(id, t0 + TIME_T_TO_CDTIME_T(61 + 301));
  OK(!identity_cgroup_alive(id, pod_id));
  EXPECT_EQ_INT(-ENOENT, identity_lookup(id, pod_id, &out));
  OK(identity_cgroup_alive(id, late));
  identity_destroy(id);
  return 0;
}

DEF_TEST(layout_detection) {
  char root[256], cmd[1024];
  snprintf(root, sizeof(root), "%s-hybrid", tree);
  snprintf(cmd, sizeof(cmd),
           "mkdir -p '%s/unified/system.slice/x.service' '%s/memory' && "
           "touch '%s/unified/cgroup.controllers' '%s/memory/cgroup.procs'",
           root, root, root, root);
  OK(system(cmd) == 0);
  identity_t *id = make_identity(root);
  OK(id != NULL);
  EXPECT_EQ_INT(IDENTITY_CGROUP_HYBRID, identity_cgroup_mode(id, NULL));
  pod_identity_t out;
  char unified[300];
  snprintf(unified, sizeof(unified), "%s/unified", root);
  EXPECT_EQ_INT(0, identity_lookup(id, ino_of(unified, "/system.slice/x.service"), &out));
  EXPECT_EQ_STR("x.service", out.cgroup);
  identity_destroy(id);

  snprintf(root, sizeof(root), "%s-v1", tree);
  snprintf(cmd, sizeof(cmd),
           "mkdir -p '%s/memory/kubepods/besteffort/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/"
           ID_REAL "' '%s/cpu' && touch '%s/memory/cgroup.procs'",
           root, root, root);
  OK(system(cmd) == 0);
  id = make_identity(root);
  OK(id != NULL);
  const char *controller = NULL;
  EXPECT_EQ_INT(IDENTITY_CGROUP_V1, identity_cgroup_mode(id, &controller));
  EXPECT_EQ_STR("memory", controller);
  char mem[300];
  snprintf(mem, sizeof(mem), "%s/memory", root);
  EXPECT_EQ_INT(0, identity_lookup(id,
                                   ino_of(mem, "/kubepods/besteffort/pod25fae09f-3c1d-4b6e-"
                                               "9a7f-0e8d2c4b6a13/" ID_REAL),
                                   &out));
  OK(out.in_pod && strcmp(out.container, "nginx") == 0);
  identity_destroy(id);
  return 0;
}

/* A real cgroup on this host: its id (kernfs handle) equals st_ino, and a
 * cgroup created after identity_create resolves on demand. */
DEF_TEST(real_cgroup) {
  if (geteuid() != 0) {
    printf("ok %d - # SKIP real cgroup test needs root\n", ++check_count__);
    return 0;
  }
  identity_config_t cfg = {.state_dirs = (const char *const[]){"/nonexistent"},
                           .n_state_dirs = 1,
                           .no_inotify = true};
  identity_t *id = identity_create(&cfg);
  OK(id != NULL);
  const char *controller = NULL;
  identity_cgroup_mode_t mode = identity_cgroup_mode(id, &controller);
  char dir[256], name[64];
  snprintf(name, sizeof(name), "nfs_ebpf_test_%d", (int)getpid());
  snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s",
           mode == IDENTITY_CGROUP_HYBRID ? "unified/"
           : mode == IDENTITY_CGROUP_V1   ? controller
                                          : "",
           mode == IDENTITY_CGROUP_V1 ? "/" : "");
  strncat(dir, name, sizeof(dir) - strlen(dir) - 1);
  if (mkdir(dir, 0755) != 0) {
    printf("ok %d - # SKIP cannot create %s: %s\n", ++check_count__, dir,
           strerror(errno));
    identity_destroy(id);
    return 0;
  }
  struct stat st;
  OK(stat(dir, &st) == 0);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  uint64_t handle_id = 0;
  OK(fd >= 0 && cgroup_id_at(fd, NULL, &handle_id) == 0);
  close(fd);
  EXPECT_EQ_UINT64((uint64_t)st.st_ino, handle_id);

  pod_identity_t out;
  int status = identity_lookup(id, handle_id, &out);
  EXPECT_EQ_INT(0, status);
  EXPECT_EQ_STR(name, out.cgroup);
  OK(!out.in_pod);
  OK(identity_cgroup_alive(id, handle_id));

  OK(rmdir(dir) == 0);
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(61));
  EXPECT_EQ_INT(0, identity_lookup(id, handle_id, &out)); /* tombstone */
  EXPECT_EQ_STR(name, out.cgroup);
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(61 + 301));
  OK(!identity_cgroup_alive(id, handle_id));
  identity_destroy(id);
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
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s-hybrid' '%s-v1'", tree, tree, tree);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", tree);
  END_TEST;
}
