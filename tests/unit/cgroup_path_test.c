/*
 * cgroup path patterns of kubelet and the runtimes, every driver and QoS
 * class, and the short name of cgroups outside pods.
 */
#include "collectd_compat.h"

#include "cgroup_path.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>

#define ID "7d6a1f3c0b5e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d"
#define UID "25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13"
#define UID_ "25fae09f_3c1d_4b6e_9a7f_0e8d2c4b6a13"
#define STATIC_UID                                                             \
  "6e2b4c8a0f1d3e5b7a9c8d6e4f2a0b1c" /* static pods: 32 hex                    \
                                      */

typedef struct {
  const char *path;
  const char *pod_uid;
  const char *container_id;
} case_t;

static const case_t cases[] = {
    /* systemd driver, containerd, each QoS class */
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
     ".slice/cri-containerd-" ID ".scope",
     UID, ID},
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" ID ".scope",
     UID, ID},
    {"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope",
     UID, ID},
    /* CRI-O, crun's extra "container" leaf, conmon */
    {"/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope", UID, ID},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
     ".slice/crio-" ID ".scope/container",
     UID, ID},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
     ".slice/crio-conmon-" ID ".scope",
     UID, ""},
    /* Docker via cri-dockerd, systemd driver */
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/docker-" ID ".scope",
     UID, ID},
    /* cgroupfs driver: bare ids, each QoS class, CRI-O prefix */
    {"/kubepods/burstable/pod" UID "/" ID, UID, ID},
    {"/kubepods/besteffort/pod" UID "/" ID, UID, ID},
    {"/kubepods/pod" UID "/" ID, UID, ID},
    {"/kubepods/pod" UID "/crio-" ID, UID, ID},
    {"/kubepods/pod" UID "/crio-" ID "/container", UID, ID},
    /* static pods (32-hex uid), both drivers */
    {"/kubepods/burstable/pod" STATIC_UID "/" ID, STATIC_UID, ID},
    {"/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod" STATIC_UID ".slice/cri-containerd-" ID ".scope",
     STATIC_UID, ID},
    /* pod level (no container) and nested under a kubelet --cgroup-root */
    {"/kubepods/burstable/pod" UID, UID, ""},
    {"/k8s.slice/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID
     ".scope",
     UID, ID},
    /* outside pods */
    {"/system.slice/kubelet.service", "", ""},
    {"/system.slice/docker-" ID ".scope", "", ID},
    {"/", "", ""},
    /* near misses: 63 hex, upper case, a pod uid with a bad separator */
    {"/kubepods/pod" UID "/"
     "7d6a1f3c0b5e4d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6",
     UID, ""},
    {"/kubepods/pod" UID
     "/7D6A1F3C0B5E4D2A9C8B7A6F5E4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F7E6D",
     UID, ""},
    {"/kubepods.slice/kubepods-pod25fae09f-3c1d-4b6e-9a7f-0e8d2c4b6a13.slice/"
     "cri-containerd-" ID ".scope",
     "", ID},
    /* a uid that fails only at its last character must leave no partial
     * uid behind (tests/fuzz/crashes/cgroup_path-*) */
    {"/kubepods/pod0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d7r", "", ""},
    {"/kubepods.slice/kubepods-pod0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d7r.slice",
     "", ""},
};

DEF_TEST(patterns) {
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(cases); i++) {
    const case_t *c = &cases[i];
    cgroup_path_info_t info;
    cgroup_path_parse(c->path, &info);
    printf("# %s\n", c->path);
    EXPECT_EQ_STR(c->pod_uid, info.pod_uid);
    EXPECT_EQ_STR(c->container_id, info.container_id);
  }
  return 0;
}

/* The runtime each container component's prefix names (the matcher's own
 * answer; cgroup_path_parse keeps only the id). */
DEF_TEST(component_runtimes) {
  static const struct {
    const char *component;
    runtime_kind_t runtime;
  } comps[] = {
      {"cri-containerd-" ID ".scope", RUNTIME_KIND_CONTAINERD},
      {"crio-" ID ".scope", RUNTIME_KIND_CRIO},
      {"crio-" ID, RUNTIME_KIND_CRIO},
      {"docker-" ID ".scope", RUNTIME_KIND_DOCKER},
      {"libpod-" ID ".scope", RUNTIME_KIND_LIBPOD},
      {ID, RUNTIME_KIND_PLAIN},
      {"crio-conmon-" ID ".scope", RUNTIME_KIND_NONE},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(comps); i++) {
    char id[CGROUP_CONTAINER_ID_LEN + 1] = "";
    runtime_kind_t runtime = RUNTIME_KIND_NONE;
    bool found = cgroup_path_component_container(
        comps[i].component, strlen(comps[i].component), id, &runtime);
    printf("# %s\n", comps[i].component);
    EXPECT_EQ_INT(comps[i].runtime != RUNTIME_KIND_NONE, found);
    EXPECT_EQ_INT(comps[i].runtime, runtime);
    EXPECT_EQ_STR(found ? ID : "", id);
  }
  return 0;
}

/* A container id above the pod component is not the container's. */
DEF_TEST(container_only_below_pod) {
  cgroup_path_info_t info;
  cgroup_path_parse("/" ID "/kubepods/pod" UID, &info);
  EXPECT_EQ_STR(UID, info.pod_uid);
  EXPECT_EQ_STR("", info.container_id);
  return 0;
}

/* Below a container's cgroup the pod names what it creates: copies of
 * another pod's uid and container id there change nothing. */
#define OTHER_ID                                                               \
  "47f2784d14c66d4f2bf01848527fd969bf8bb33131f80651bcbe11de9cd3f30e"
#define OTHER_UID "0b1e7c44-52f3-4e0a-8d6b-3f9a1c2e5d70"
#define OTHER_UID_ "0b1e7c44_52f3_4e0a_8d6b_3f9a1c2e5d70"
DEF_TEST(delegated_subtree_names) {
  static const char *const paths[] = {
      "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID
      ".scope/cri-containerd-" OTHER_ID ".scope",
      "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID
      ".scope/pod" OTHER_UID "/" OTHER_ID,
      "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID
      ".scope/kubepods-besteffort-pod" OTHER_UID_ ".slice/crio-" OTHER_ID
      ".scope",
      "/kubepods/burstable/pod" UID "/" ID "/a/b/pod" OTHER_UID "/" OTHER_ID,
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(paths); i++) {
    cgroup_path_info_t info;
    printf("# %s\n", paths[i]);
    cgroup_path_parse(paths[i], &info);
    EXPECT_EQ_STR(UID, info.pod_uid);
    EXPECT_EQ_STR(ID, info.container_id);
  }
  EXPECT_EQ_INT(-1, cgroup_path_below_container("/"));
  EXPECT_EQ_INT(-1, cgroup_path_below_container("/kubepods/pod" UID));
  EXPECT_EQ_INT(0, cgroup_path_below_container("/kubepods/pod" UID "/" ID));
  EXPECT_EQ_INT(1, cgroup_path_below_container(paths[0]));
  EXPECT_EQ_INT(2, cgroup_path_below_container(paths[1]));
  EXPECT_EQ_INT(4, cgroup_path_below_container(paths[3]));
  EXPECT_EQ_INT(-1, cgroup_path_below_container(
                        "/kubepods.slice/crio-conmon-" ID ".scope"));
  return 0;
}

DEF_TEST(short_names) {
  static const struct {
    const char *path, *want;
  } names[] = {
      {"/system.slice/kubelet.service", "kubelet.service"},
      {"/system.slice/containerd.service/", "containerd.service"},
      {"/", "/"},
      {"", "/"},
      {"/user.slice/user-1000.slice/session-3.scope", "session-3.scope"},
      {"/system.slice/crio-" ID ".scope/container", "crio-" ID ".scope"},
      {"/container", "container"},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(names); i++) {
    char buf[256];
    cgroup_path_short_name(names[i].path, buf, sizeof(buf));
    EXPECT_EQ_STR(names[i].want, buf);
  }
  return 0;
}

DEF_TEST(hostile_paths) {
  /* deeper than any runtime nests: recognised as nothing, no overrun */
  char deep[64 * 80 + 200] = "";
  for (int i = 0; i < 70; i++)
    strcat(deep, "/kubepods");
  strcat(deep, "/pod" UID "/" ID);
  cgroup_path_info_t info;
  cgroup_path_parse(deep, &info);
  EXPECT_EQ_STR("", info.container_id);
  cgroup_path_parse(NULL, &info);
  EXPECT_EQ_STR("", info.pod_uid);
  return 0;
}

int main(void) {
  mock_log_set_echo(false);
  RUN_TEST(patterns);
  RUN_TEST(component_runtimes);
  RUN_TEST(container_only_below_pod);
  RUN_TEST(delegated_subtree_names);
  RUN_TEST(short_names);
  RUN_TEST(hostile_paths);
  END_TEST;
}
