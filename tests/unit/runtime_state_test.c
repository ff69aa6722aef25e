/*
 * runtime_state: each runtime's real file shapes (tests/fixtures/runtime,
 * see its README), hostile state files, freshness (inotify, rescan,
 * tombstones), and the container table's bound on its own. Run from the
 * repository root or set NFS_EBPF_FIXTURES to the tests/fixtures directory.
 */
#include "collectd_compat.h"

#include "container_table.h"
#include "log_once.h"
#include "mock_collectd.h"
#include "runtime_json.h"
#include "runtime_state.h"
#include "safe_file.h"

#include <collectd/core/testing.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_REAL                                                                \
  "7d6a1f3c0b5e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
#define ID_SANDBOX                                                             \
  "34bd7fd9396bc11d69c301235d08430a05828040bce4a0885a5c190f92baeda2"
#define ID_SYSTEMD                                                             \
  "47f2784d14c66d4f2bf01848527fd969bf8bb33131f80651bcbe11de9cd3f30e"
#define ID_V1 "454662977fa5dfc48466e1ba95e1e68484943cf6de2049706b4fd488364a1f0f"
#define ID_CRIO                                                                \
  "9ff6b5a0270499d4222efc7d85bd36aa57c5ef48415f4c9066b05049c99a0db3"
#define ID_CRIO_SB                                                             \
  "e31ef139c8c034f8336a08cd317798a210629c046902f2b7cf7891f4a683fc82"
#define ID_DOCKER                                                              \
  "768f95cebf3110e67397c563330c0e08ba0016203ba603af38d4d988364c5115"
#define ID_DOCKER_PLAIN                                                        \
  "4fd88b678ecadb93030bb98dfb4733c038f1fa2022c789c9a0f2bcf070a0e0d7"
#define ID_H_LINKED_BUNDLE                                                     \
  "fd3daf757691ecd9b914905ede184ac50f76ee2a7c0a95f564fabc27d87842b0"
#define ID_H_CTRL                                                              \
  "fe42c496b0962c80ba33fb08bc2d44a918f5098459e7f439463717c6436d989d"
#define ID_H_DEEP                                                              \
  "51f1ad038e12fe427704e644b4bd44c2ef217668e08f53422804aa736393fb16"
#define ID_H_DUP                                                               \
  "14fa89bca1a7ba7aca43d37959d8a57297f6208395dc98a49f4a71a2cf90e47e"
#define ID_H_BADNAME                                                           \
  "bdf0df3a870d6ce1762ea7e5754945871302f094df7ec9932cb87dc5cd406cd5"
#define ID_H_UTF8                                                              \
  "d33f8521418e298fbd92a2adf9af77f25cb94d88c95834decb7d46bacd2ccb22"
#define ID_H_LONG                                                              \
  "a61684a925853ef0569f2a39608a9ca3cca47524965534bb7435a604bae84747"
#define ID_H_SYMLINK                                                           \
  "7d3a7420804002141bd8d1c4e03803fe10108f3f7a5479c7ae3130d907d8fabd"
#define ID_H_TRUNC                                                             \
  "2e7ff090096c39130d4bcbf71d284a4f5b097231c3f734081cf9fcf37a3e8481"

static char fixtures[1024];

static const char *fixture(const char *rel) {
  static char buf[4][PATH_MAX];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, PATH_MAX, "%s/runtime/%s", fixtures, rel);
  return b;
}

static runtime_state_t *state_for(const char *const *dirs, size_t n) {
  runtime_state_config_t cfg = {
      .state_dirs = dirs,
      .n_state_dirs = n,
      .tombstone_ttl = TIME_T_TO_CDTIME_T(300),
      .no_inotify = true,
  };
  runtime_state_t *rs = runtime_state_create(&cfg);
  if (rs != NULL)
    runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(1000));
  return rs;
}

static int expect_pod(runtime_state_t *rs, const char *id, const char *ns,
                      const char *pod, const char *container, bool sandbox) {
  const runtime_container_t *c =
      runtime_state_find(rs, id, TIME_T_TO_CDTIME_T(1000));
  OK1(c != NULL, id);
  OK1(c->is_pod, "is a pod container");
  EXPECT_EQ_STR(ns, c->ns);
  EXPECT_EQ_STR(pod, c->pod);
  EXPECT_EQ_STR(container, c->container);
  EXPECT_EQ_INT(sandbox, c->sandbox);
  return 0;
}

DEF_TEST(containerd) {
  const char *dirs[] = {fixture("containerd")};
  runtime_state_t *rs = state_for(dirs, 1);
  OK(rs != NULL);
  /* captured from containerd 1.6.20 (fixture README) */
  if (expect_pod(rs, ID_REAL, "shop", "web-0", "nginx", false))
    return -1;
  const runtime_container_t *c = runtime_state_find(rs, ID_REAL, 0);
  EXPECT_EQ_STR("25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13", c->pod_uid);
  EXPECT_EQ_STR(
      "/kubepods/besteffort/pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13/" ID_REAL,
      c->cgroups_path);
  if (expect_pod(rs, ID_SANDBOX, "shop", "api-7f9c6d5b8-x2x9q", "POD", true) ||
      expect_pod(rs, ID_SYSTEMD, "shop", "api-7f9c6d5b8-x2x9q", "app", false))
    return -1;
  /* legacy runtime v1 layout, no sandbox-uid annotation */
  if (expect_pod(rs, ID_V1, "jobs", "batch-28312345-abcde", "worker", false))
    return -1;
  EXPECT_EQ_STR("", runtime_state_find(rs, ID_V1, 0)->pod_uid);
  /* a pod's sandbox is preferred for pod-level lookups */
  c = runtime_state_find_pod(rs, "0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d70");
  OK(c != NULL && c->sandbox);
  OK(runtime_state_find_pod(rs, "00000000-0000-4000-8000-000000000000") ==
     NULL);
  runtime_state_destroy(rs);
  return 0;
}

DEF_TEST(crio_and_docker) {
  const char *dirs[] = {fixture("crio"), fixture("docker")};
  runtime_state_t *rs = state_for(dirs, 2);
  OK(rs != NULL);
  if (expect_pod(rs, ID_CRIO, "data", "db-0", "postgres", false) ||
      expect_pod(rs, ID_CRIO_SB, "data", "db-0", "POD", true) ||
      expect_pod(rs, ID_DOCKER, "web", "cache-5d8f7b9c4-qwert", "redis", false))
    return -1;
  EXPECT_EQ_INT(RUNTIME_KIND_CRIO, runtime_state_find(rs, ID_CRIO, 0)->kind);
  EXPECT_EQ_INT(RUNTIME_KIND_DOCKER,
                runtime_state_find(rs, ID_DOCKER, 0)->kind);
  /* a Docker container that is not Kubernetes': known, but no pod */
  const runtime_container_t *c = runtime_state_find(rs, ID_DOCKER_PLAIN, 0);
  OK(c != NULL && !c->is_pod);
  /* a containerd id is not found in CRI-O/Docker dirs */
  OK(runtime_state_find(rs, ID_REAL, 0) == NULL);
  runtime_state_destroy(rs);
  return 0;
}

/* Bundles written by a real containerd 1.6.20 through its CRI plugin
 * (tests/tools/cri-capture, capture.json beside them): a sandbox and a
 * container of pod nfs-team/capture-pod, cgroupfs driver. */
#define ID_CRI_SANDBOX                                                         \
  "d475dd1259e7da26e0b8087098d3df66f8c477d11b170604cb13a7c78fa582fe"
#define ID_CRI_CONTAINER                                                       \
  "3c860e53842f7e12efa160b605a2f35bc68ac26c4fe4cb3a212d1f406a20b949"
#define CRI_POD_UID "0b4bd0f7-5f0e-4c4c-9a1c-6a4c1d2e3f40"

DEF_TEST(containerd_cri_capture) {
  const char *dirs[] = {fixture("containerd-cri")};
  runtime_state_t *rs = state_for(dirs, 1);
  OK(rs != NULL);
  if (expect_pod(rs, ID_CRI_CONTAINER, "nfs-team", "capture-pod", "writer",
                 false) ||
      expect_pod(rs, ID_CRI_SANDBOX, "nfs-team", "capture-pod", "POD", true))
    return -1;
  const runtime_container_t *c = runtime_state_find(rs, ID_CRI_CONTAINER, 0);
  EXPECT_EQ_STR(CRI_POD_UID, c->pod_uid);
  EXPECT_EQ_STR("/kubepods/besteffort/pod" CRI_POD_UID "/" ID_CRI_CONTAINER,
                c->cgroups_path);
  EXPECT_EQ_INT(RUNTIME_KIND_CONTAINERD, c->kind);
  c = runtime_state_find_pod(rs, CRI_POD_UID);
  OK(c != NULL && c->sandbox);
  runtime_state_destroy(rs);
  return 0;
}

/* Every hostile bundle yields no pod identity, logs once, and the good
 * bundle a symlink points at is not read through the link. */
DEF_TEST(hostile_fixtures) {
  log_once_reset();
  const char *dirs[] = {fixture("hostile")};
  runtime_state_t *rs = state_for(dirs, 1);
  OK(rs != NULL);
  static const char *const bad[] = {ID_H_CTRL,    ID_H_DEEP, ID_H_DUP,
                                    ID_H_BADNAME, ID_H_UTF8, ID_H_LONG,
                                    ID_H_TRUNC};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(bad); i++) {
    const runtime_container_t *c = runtime_state_find(rs, bad[i], 0);
    OK1(c != NULL && !c->is_pod && c->ns[0] == '\0' && c->pod[0] == '\0',
        bad[i]);
    OK1(mock_log_count(LOG_WARNING, bad[i]) == 1, "logged once");
  }
  /* remembered as a container without identity, so it is not retried */
  const runtime_container_t *l = runtime_state_find(rs, ID_H_SYMLINK, 0);
  OK1(l == NULL || (!l->is_pod && l->pod[0] == '\0'),
      "symlinked config.json refused (its target is a good file)");
  OK(mock_log_count(LOG_WARNING, "symbolic link") >= 1);
  OK1(runtime_state_find(rs, ID_H_LINKED_BUNDLE, 0) == NULL,
      "symlinked bundle dir refused");
  /* rescans and repeated lookups do not log again */
  runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(2000));
  runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(3000));
  l = runtime_state_find(rs, ID_H_SYMLINK, 0);
  OK(l == NULL || !l->is_pod);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(bad); i++)
    OK1(mock_log_count(LOG_WARNING, bad[i]) == 1, "still logged once");
  OK(mock_log_count(LOG_WARNING, ID_H_SYMLINK) == 1);
  runtime_state_destroy(rs);
  return 0;
}

static char tmp_root[128];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

static const char *good_json =
    "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
    "\"io.kubernetes.cri.container-name\":\"app\","
    "\"io.kubernetes.cri.sandbox-name\":\"%s\","
    "\"io.kubernetes.cri.sandbox-namespace\":\"ns1\"},"
    "\"linux\":{\"cgroupsPath\":\"/kubepods/x\"}}";

/* bundle <root>/io.containerd.runtime.v2.task/k8s.io/<id>/config.json */
static void make_bundle(const char *root, const char *id, const char *pod) {
  char path[PATH_MAX], json[1024];
  snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task", root);
  mkdir(path, 0711);
  snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/k8s.io", root);
  mkdir(path, 0711);
  snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/k8s.io/%s",
           root, id);
  mkdir(path, 0700);
  snprintf(json, sizeof(json), good_json, pod);
  snprintf(path, sizeof(path),
           "%s/io.containerd.runtime.v2.task/k8s.io/%s/config.json", root, id);
  write_file(path, json);
}

static int bundle_dir(const char *root, const char *id) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/k8s.io/%s",
           root, id);
  return open(path, O_RDONLY | O_DIRECTORY);
}

/* tmp_root/name (in root) with a bundle of ID_REAL for pod: the bundle
 * directory, open (-1 if it is not there). */
static int real_bundle(const char *name, const char *pod, char *root,
                       size_t size) {
  snprintf(root, size, "%s/%s", tmp_root, name);
  mkdir(root, 0755);
  make_bundle(root, ID_REAL, pod);
  return bundle_dir(root, ID_REAL);
}

/* Parses a bundle's config.json as containerd's, with the default checks. */
static int parse_config(int dfd, const char *label, runtime_container_t *c) {
  safe_file_policy_t policy = {0};
  return runtime_json_parse_file(dfd, "config.json", RUNTIME_KIND_CONTAINERD,
                                 &policy, label, c);
}

DEF_TEST(file_checks) {
  char root[PATH_MAX];
  int dfd = real_bundle("checks", "p1", root, sizeof(root));
  OK(dfd >= 0);
  runtime_container_t c;
  EXPECT_EQ_INT(0, parse_config(dfd, "t", &c));
  OK(c.is_pod);
  safe_file_policy_t policy = {0};

  /* oversize: a sparse file just over the 16 MiB default is refused from
   * fstat, without reading it */
  int fd = openat(dfd, "big.json", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  OK(fd >= 0 && ftruncate(fd, SAFE_FILE_DEFAULT_MAX_SIZE + 1) == 0);
  close(fd);
  EXPECT_EQ_INT(-EFBIG, runtime_json_parse_file(dfd, "big.json",
                                                RUNTIME_KIND_CONTAINERD,
                                                &policy, "t-big", &c));
  OK(!c.is_pod);
  /* a configured smaller cap applies to an otherwise valid file */
  safe_file_policy_t small = {.max_size = 64};
  EXPECT_EQ_INT(-EFBIG, runtime_json_parse_file(dfd, "config.json",
                                                RUNTIME_KIND_CONTAINERD, &small,
                                                "t-small", &c));

  /* a FIFO in place of the file: refused, does not block */
  OK(mkfifo(ID_REAL "-fifo", 0600) == 0 || errno == EEXIST);
  char fifo[PATH_MAX];
  snprintf(fifo, sizeof(fifo),
           "%s/io.containerd.runtime.v2.task/k8s.io/%s/fifo.json", root,
           ID_REAL);
  unlink(ID_REAL "-fifo");
  OK(mkfifo(fifo, 0600) == 0);
  EXPECT_EQ_INT(-EINVAL, runtime_json_parse_file(dfd, "fifo.json",
                                                 RUNTIME_KIND_CONTAINERD,
                                                 &policy, "t-fifo", &c));
  /* not owned by root (nor by us) */
  OK1(geteuid() == 0, "runs as root (needed to give the file another owner)");
  OK(fchownat(dfd, "config.json", 12345, 12345, 0) == 0);
  EXPECT_EQ_INT(-EPERM, parse_config(dfd, "t-owner", &c));
  OK(!c.is_pod);
  OK(fchownat(dfd, "config.json", 0, 0, 0) == 0);
  /* a path component in the name is refused */
  EXPECT_EQ_INT(-EINVAL,
                runtime_json_parse_file(dfd, "../x", RUNTIME_KIND_CONTAINERD,
                                        &policy, "t-dots", &c));
  close(dfd);
  return 0;
}

/* The first scan's one-call open of <bundle>/[inner/]file: the same
 * refusals as opening one component at a time with O_NOFOLLOW, for a link
 * in any component, a way out of the directory, a FIFO (without blocking),
 * an absolute path and an oversized file. Needs openat2 (Linux 5.6+). */
DEF_TEST(open_beneath) {
  char root[PATH_MAX];
  snprintf(root, sizeof(root), "%s/beneath", tmp_root);
  OK(mkdir(root, 0755) == 0);
  int rfd = open(root, O_RDONLY | O_DIRECTORY);
  OK(rfd >= 0);
  OK(mkdirat(rfd, "b", 0755) == 0 && mkdirat(rfd, "b/inner", 0755) == 0);
  int fd = openat(rfd, "b/inner/f.json", O_CREAT | O_WRONLY, 0644);
  OK(fd >= 0 && write(fd, "{}", 2) == 2);
  close(fd);
  OK(symlinkat("b", rfd, "dirlink") == 0);
  OK(symlinkat("f.json", rfd, "b/inner/filelink") == 0);
  OK(mkfifoat(rfd, "b/inner/fifo", 0600) == 0);

  safe_file_policy_t policy = {.any_owner = true};
  struct stat st = {0};
  fd = safe_file_open_beneath(rfd, "b/inner/f.json", &policy, &st);
  OK1(fd >= 0, "a plain path opens");
  EXPECT_EQ_INT(2, (int)st.st_size);
  if (fd >= 0)
    close(fd);
  EXPECT_EQ_INT(-ELOOP, safe_file_open_beneath(rfd, "dirlink/inner/f.json",
                                               &policy, NULL));
  EXPECT_EQ_INT(-ELOOP,
                safe_file_open_beneath(rfd, "b/inner/filelink", &policy, NULL));
  EXPECT_EQ_INT(-EXDEV, safe_file_open_beneath(rfd, "b/../../beneath/b/f",
                                               &policy, NULL));
  EXPECT_EQ_INT(-EINVAL,
                safe_file_open_beneath(rfd, "b/inner/fifo", &policy, NULL));
  EXPECT_EQ_INT(-EINVAL,
                safe_file_open_beneath(rfd, "/etc/passwd", &policy, NULL));
  safe_file_policy_t small = {.max_size = 1, .any_owner = true};
  EXPECT_EQ_INT(-EFBIG,
                safe_file_open_beneath(rfd, "b/inner/f.json", &small, NULL));
  close(rfd);
  return 0;
}

/* A pod name of 200 characters without a dot (a long Job name plus its
 * suffixes) is a valid Kubernetes name: the container belongs to its pod. */
DEF_TEST(long_pod_name) {
  char root[PATH_MAX], pod[201];
  memset(pod, 'j', 200);
  memcpy(pod + 190, "-28f6d-x7k", 10);
  pod[200] = '\0';
  int dfd = real_bundle("long", pod, root, sizeof(root));
  OK(dfd >= 0);
  runtime_container_t c;
  EXPECT_EQ_INT(0, parse_config(dfd, "t-long", &c));
  close(dfd);
  OK(c.is_pod);
  EXPECT_EQ_STR(pod, c.pod);
  EXPECT_EQ_STR("app", c.container);
  return 0;
}

/* The bundle directory is replaced by a symlink to another bundle between
 * two scans: the old identity ends, the link's target is never read. */
DEF_TEST(directory_replaced) {
  char root[PATH_MAX], other[PATH_MAX], bundle[PATH_MAX], cmd[3 * PATH_MAX];
  snprintf(root, sizeof(root), "%s/replaced", tmp_root);
  snprintf(other, sizeof(other), "%s/elsewhere", tmp_root);
  mkdir(root, 0755);
  mkdir(other, 0755);
  make_bundle(root, ID_SANDBOX, "before");
  make_bundle(other, ID_SANDBOX, "swapped");
  const char *dirs[] = {root};
  runtime_state_t *rs = state_for(dirs, 1);
  const runtime_container_t *c = runtime_state_find(rs, ID_SANDBOX, 0);
  OK(c != NULL && strcmp(c->pod, "before") == 0);

  snprintf(bundle, sizeof(bundle), "%s/io.containerd.runtime.v2.task/k8s.io/%s",
           root, ID_SANDBOX);
  snprintf(
      cmd, sizeof(cmd),
      "rm -rf '%s' && ln -s '%s/io.containerd.runtime.v2.task/k8s.io/%s' '%s'",
      bundle, other, ID_SANDBOX, bundle);
  OK(system(cmd) == 0);
  runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(2000));
  c = runtime_state_find(rs, ID_SANDBOX, 0);
  OK1(c != NULL && !c->alive, "old bundle became a tombstone");
  OK1(c != NULL && strcmp(c->pod, "swapped") != 0, "symlink target never read");
  runtime_state_destroy(rs);
  return 0;
}

/* inotify: a bundle created after start is found by poll without a full
 * rescan; a removed one becomes a tombstone, dropped after the ttl. */
DEF_TEST(inotify_and_tombstones) {
  char root[PATH_MAX], path[PATH_MAX];
  snprintf(root, sizeof(root), "%s/watched", tmp_root);
  mkdir(root, 0755);
  make_bundle(root, ID_V1, "first");
  const char *dirs[] = {root};
  runtime_state_config_t cfg = {.state_dirs = dirs,
                                .n_state_dirs = 1,
                                .tombstone_ttl = TIME_T_TO_CDTIME_T(300)};
  runtime_state_t *rs = runtime_state_create(&cfg);
  OK(rs != NULL);
  EXPECT_EQ_INT(1, runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(1000)));

  make_bundle(root, ID_CRIO, "second");
  OK(runtime_state_poll(rs, TIME_T_TO_CDTIME_T(1010)) >= 1);
  /* found by the poll, not by an on-demand lookup: the count shows it */
  EXPECT_EQ_INT(2, runtime_state_count(rs));
  const runtime_container_t *c = runtime_state_find(rs, ID_CRIO, 0);
  OK(c != NULL && c->alive && strcmp(c->pod, "second") == 0);

  snprintf(path, sizeof(path),
           "rm -rf '%s/io.containerd.runtime.v2.task/k8s.io/%s'", root, ID_V1);
  OK(system(path) == 0);
  OK(runtime_state_poll(rs, TIME_T_TO_CDTIME_T(1020)) >= 1);
  c = runtime_state_find(rs, ID_V1, 0);
  OK1(c != NULL && !c->alive && strcmp(c->pod, "first") == 0,
      "removed bundle kept as a tombstone");
  runtime_state_poll(rs, TIME_T_TO_CDTIME_T(1020 + 301));
  EXPECT_EQ_INT(1, runtime_state_count(rs));
  OK1(runtime_state_find(rs, ID_V1, 0) == NULL, "tombstone expired");
  runtime_state_destroy(rs);
  return 0;
}

/* The default state dirs below a host root (DaemonSet with / at /host). */
DEF_TEST(host_root_defaults) {
  char host[PATH_MAX], path[PATH_MAX];
  snprintf(host, sizeof(host), "%s/host", tmp_root);
  snprintf(path, sizeof(path),
           "mkdir -p '%s/run/k3s/containerd' '%s/var/lib/docker'", host, host);
  OK(system(path) == 0);
  snprintf(path, sizeof(path), "%s/run/k3s/containerd", host);
  make_bundle(path, ID_DOCKER_PLAIN, "k3s-pod");
  runtime_state_config_t cfg = {.host_root = host, .no_inotify = true};
  runtime_state_t *rs = runtime_state_create(&cfg);
  OK(rs != NULL);
  EXPECT_EQ_INT(1, runtime_state_rescan(rs, TIME_T_TO_CDTIME_T(1)));
  const runtime_container_t *c = runtime_state_find(rs, ID_DOCKER_PLAIN, 0);
  OK(c != NULL && strcmp(c->pod, "k3s-pod") == 0);
  runtime_state_destroy(rs);
  return 0;
}

/* buf: n times c. */
static const char *repeat(char *buf, char c, size_t n) {
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

DEF_TEST(dns1123) {
  char l63[64], l64[65], p200[201], p200_dot[201], p253[254], p254[255],
      p253_dash[254];
  /* Kubernetes limits a pod name (a subdomain) to 253 characters, not each
   * of its parts to 63: a 200-character name without dots is valid. */
  memcpy((char *)repeat(p200_dot, 'p', 200) + 100, ".q-1", 4);
  ((char *)repeat(p253_dash, 'p', 253))[252] = '-';
  const struct {
    const char *name;
    bool subdomain; /* else a label */
    bool valid;
  } cases[] = {
      {"kube-system", false, true},
      {"a", false, true},
      {"Kube", false, false},
      {"-a", false, false},
      {"a-", false, false},
      {"a_b", false, false},
      {"", false, false},
      {repeat(l64, 'a', 64), false, false},
      {repeat(l63, 'a', 63), false, true},
      {"web-0", true, true},
      {"a.b-c.d", true, true},
      {"a..b", true, false},
      {".a", true, false},
      {"a.", true, false},
      {repeat(p200, 'p', 200), true, true},
      {p200_dot, true, true},
      {repeat(p254, 'p', 254), true, false},
      {repeat(p253, 'p', 253), true, true},
      {p253_dash, true, false},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(cases); i++) {
    const char *name = cases[i].name;
    bool valid = cases[i].subdomain ? runtime_dns1123_subdomain(name, 253)
                                    : runtime_dns1123_label(name, 63);
    char what[128];
    snprintf(what, sizeof(what), "%s \"%.16s%s\" (%zu characters) %s",
             cases[i].subdomain ? "subdomain" : "label", name,
             strlen(name) > 16 ? "..." : "", strlen(name),
             cases[i].valid ? "valid" : "invalid");
    OK1(valid == cases[i].valid, what);
  }
  return 0;
}

/* A container whose id is c repeated, alive or not. */
static container_entry_t *table_add(container_table_t *t, char c, bool alive) {
  char id[RUNTIME_ID_LEN + 1];
  memset(id, c, RUNTIME_ID_LEN);
  id[RUNTIME_ID_LEN] = '\0';
  container_entry_t *e = container_table_add(t, id);
  if (e != NULL)
    e->c.alive = alive;
  return e;
}

/* A table of max entries (to free) holding two live containers and a
 * miss, in e[0], e[1] and e[2], their ids made of the characters of ids;
 * NULL if one could not be added. */
static container_table_t *two_live_and_a_miss(size_t max, const char ids[3],
                                              container_entry_t *e[3]) {
  container_table_t *t = malloc(sizeof(*t));
  if (t == NULL)
    return NULL;
  if (container_table_init(t, max) != 0) {
    free(t);
    return NULL;
  }
  for (int i = 0; i < 3; i++)
    if ((e[i] = table_add(t, ids[i], i < 2)) == NULL) {
      container_table_destroy(t);
      free(t);
      return NULL;
    }
  e[2]->missing = true;
  return t;
}

/* The table's bound: misses go first, then the oldest tombstone, and live
 * containers are never evicted (a new one is refused and logged). */
DEF_TEST(container_table_bounds) {
  container_entry_t *e[3];
  container_table_t *t = two_live_and_a_miss(3, "abc", e);
  OK(t != NULL);
  container_entry_t *old = e[0], *young = e[1], *miss = e[2];
  old->layout = young->layout = 1;
  old->seen_scan = 1;
  young->seen_scan = 2;
  EXPECT_EQ_INT(2, container_table_live(t));

  /* full: the miss makes room */
  char miss_id[RUNTIME_ID_LEN + 1];
  sstrncpy(miss_id, miss->c.id, sizeof(miss_id));
  OK(table_add(t, 'd', true) != NULL);
  OK(container_table_find(t, miss_id) == NULL);
  EXPECT_EQ_INT(3, t->count);

  /* full of live containers: refused, said once */
  size_t warnings = mock_log_count(LOG_WARNING, "more than 3 containers");
  OK(table_add(t, 'e', true) == NULL);
  EXPECT_EQ_INT(warnings + 1,
                mock_log_count(LOG_WARNING, "more than 3 containers"));

  /* scan 2 of layout 1 did not see `old`: a tombstone since then */
  container_table_end_unseen(t, 1, 2, TIME_T_TO_CDTIME_T(100));
  OK(!old->c.alive && young->c.alive);
  EXPECT_EQ_INT(2, container_table_live(t));
  container_table_end_unseen(t, 1, 3, TIME_T_TO_CDTIME_T(200));
  OK(!young->c.alive);
  /* full: the oldest tombstone goes */
  char old_id[RUNTIME_ID_LEN + 1];
  sstrncpy(old_id, old->c.id, sizeof(old_id));
  OK(table_add(t, 'f', true) != NULL);
  OK(container_table_find(t, old_id) == NULL);
  OK(container_table_find(t, young->c.id) == young);

  /* tombstones expire after the ttl, not before */
  container_table_expire(t, TIME_T_TO_CDTIME_T(250), TIME_T_TO_CDTIME_T(60));
  OK(container_table_find(t, young->c.id) == young);
  container_table_expire(t, TIME_T_TO_CDTIME_T(261), TIME_T_TO_CDTIME_T(60));
  EXPECT_EQ_INT(2, t->count);
  container_table_clear(t);
  EXPECT_EQ_INT(0, t->count);
  container_table_destroy(t);
  free(t);
  return 0;
}

/* e's container as a pod's (sandbox or not) of that uid. */
static void set_pod(container_table_t *t, container_entry_t *e, const char *uid,
                    bool sandbox) {
  runtime_container_t c = e->c;
  sstrncpy(c.pod_uid, uid, sizeof(c.pod_uid));
  c.is_pod = true;
  c.sandbox = sandbox;
  container_table_set(t, e, &c);
}

/* A pod's sandbox is preferred; misses and non-pod containers never; a
 * container whose file changes its pod moves to the new one. */
DEF_TEST(container_table_find_pod) {
  container_entry_t *e[3];
  container_table_t *t = two_live_and_a_miss(8, "123", e);
  OK(t != NULL);
  container_entry_t *app = e[0], *sb = e[1], *miss = e[2];
  static const char uid[] = "25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13";
  static const char uid2[] = "0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d70";
  set_pod(t, app, uid, false);
  /* a miss has no pod: its fields written by hand are not indexed */
  sstrncpy(miss->c.pod_uid, uid, sizeof(miss->c.pod_uid));
  miss->c.is_pod = true;
  OK(container_table_find_pod(t, uid) == &app->c);
  set_pod(t, sb, uid, true);
  OK(container_table_find_pod(t, uid) == &sb->c);
  OK(container_table_find_pod(t, uid2) == NULL);
  /* the sandbox's file now names another pod: it leaves the first */
  set_pod(t, sb, uid2, true);
  OK(container_table_find_pod(t, uid) == &app->c);
  OK(container_table_find_pod(t, uid2) == &sb->c);
  /* a file that no longer parses as a pod's: found under no pod */
  runtime_container_t none = {0};
  sstrncpy(none.id, app->c.id, sizeof(none.id));
  container_table_set(t, app, &none);
  OK(container_table_find_pod(t, uid) == NULL);
  /* evicted entries leave the pod index too */
  container_table_end_unseen(t, 0, UINT64_MAX, TIME_T_TO_CDTIME_T(1));
  container_table_expire(t, TIME_T_TO_CDTIME_T(1000), 0);
  OK(container_table_find_pod(t, uid2) == NULL);
  container_table_destroy(t);
  free(t);
  return 0;
}

int main(void) {
  const char *env = getenv("NFS_EBPF_FIXTURES");
  snprintf(fixtures, sizeof(fixtures), "%s", env ? env : "tests/fixtures");
  snprintf(tmp_root, sizeof(tmp_root), "/tmp/nfs_ebpf_rs_XXXXXX");
  if (mkdtemp(tmp_root) == NULL) {
    printf("not ok 1 - mkdtemp\n");
    return 1;
  }
  mock_log_set_echo(false);
  RUN_TEST(containerd);
  RUN_TEST(containerd_cri_capture);
  RUN_TEST(crio_and_docker);
  RUN_TEST(hostile_fixtures);
  RUN_TEST(file_checks);
  RUN_TEST(open_beneath);
  RUN_TEST(long_pod_name);
  RUN_TEST(directory_replaced);
  RUN_TEST(inotify_and_tombstones);
  RUN_TEST(host_root_defaults);
  RUN_TEST(dns1123);
  RUN_TEST(container_table_bounds);
  RUN_TEST(container_table_find_pod);
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", tmp_root);
  END_TEST;
}
