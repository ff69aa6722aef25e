/*
 * identity's watcher thread: a pod created, doing its I/O and deleted
 * between two reads (no identity_tick in between) must still be known to
 * identity_resolve. A fake cgroup tree and containerd state dir in a temp
 * dir (ids are inode numbers there), the same with the state file written
 * after its bundle directory, a negative control without the watcher (the
 * scenario must then fail: it detects the bug), a budget of inotify
 * watches too small for the tree, and a real cgroup on this host (root
 * only).
 *
 * Nothing here waits for time to pass: where a real pod would live a few
 * milliseconds, the test waits until the watcher has handled the events
 * so far (identity_watcher_settle). What is proved is what the watcher
 * does with the events, whatever the scheduler does with its thread.
 */
/* unshare() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "collectd_compat.h"

#include "cgroup_tree.h"
#include "identity.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAYOUT "io.containerd.runtime.v2.task/k8s.io"
/* Only turns a watcher that never gets there into a failure; on time it
 * returns as soon as the events are handled. */
#define SETTLE_TIMEOUT TIME_T_TO_CDTIME_T(60)

static char base[128];  /* temp dir */
static char tree[256];  /* fake cgroup v2 mount */
static char state[256]; /* fake containerd state dir */
static unsigned serial;

/* The watcher has handled every event of what the test did so far (at
 * once without a watcher: nothing would ever handle them). */
static bool settled(identity_t *id) {
  if (identity_watcher_settle(id, SETTLE_TIMEOUT))
    return true;
  printf("# the watcher has not handled the events in %.0f s\n",
         CDTIME_T_TO_DOUBLE(SETTLE_TIMEOUT));
  return false;
}

static void bundle_path(char *buf, size_t size, const char *root,
                        const char *cid) {
  snprintf(buf, size, "%s/" LAYOUT "/%s", root, cid);
}

/* A pod of its own for every scenario: container id, sandbox id, uid, and
 * where containerd and runc put it below the state dir and mount. */
typedef struct {
  char ctr[65], sandbox[65], uid[37], uid_[37], name[32];
  char bundle[1024], sb_bundle[1024]; /* the container's, the sandbox's */
  char podcg[1024], ctrcg[1024];      /* the pod's cgroup, its container's */
} pod_t;

static void new_pod(pod_t *p, const char *mount) {
  unsigned n = ++serial;
  snprintf(p->ctr, sizeof(p->ctr), "%08x%08x%08x%08x%08x%08x%08x%08x", n,
           (unsigned)getpid(), 0xc0ffeeu, n, n, n, n, 0xc0u);
  snprintf(p->sandbox, sizeof(p->sandbox), "%08x%08x%08x%08x%08x%08x%08x%08x",
           n, (unsigned)getpid(), 0x5a4db0u, n, n, n, n, 0x5au);
  snprintf(p->uid, sizeof(p->uid), "0b1e7c44-52f3-4e0a-8d6b-%012x", n);
  snprintf(p->uid_, sizeof(p->uid_), "0b1e7c44_52f3_4e0a_8d6b_%012x", n);
  snprintf(p->name, sizeof(p->name), "short-%u", n);
  bundle_path(p->bundle, sizeof(p->bundle), state, p->ctr);
  bundle_path(p->sb_bundle, sizeof(p->sb_bundle), state, p->sandbox);
  snprintf(p->podcg, sizeof(p->podcg),
           "%s/kubepods.slice/kubepods-besteffort.slice/"
           "kubepods-besteffort-pod%s.slice",
           mount, p->uid_);
  snprintf(p->ctrcg, sizeof(p->ctrcg), "%.900s/cri-containerd-%s.scope",
           p->podcg, p->ctr);
}

/* config.json as containerd writes it (the fields identity reads), in the
 * state dir root. */
static int write_config(const char *root, const pod_t *p, bool sandbox) {
  char path[1024], json[2048];
  bundle_path(path, sizeof(path), root, sandbox ? p->sandbox : p->ctr);
  strncat(path, "/config.json", sizeof(path) - strlen(path) - 1);
  snprintf(json, sizeof(json),
           "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"dd\"]},"
           "\"annotations\":{"
           "\"io.kubernetes.cri.container-type\":\"%s\","
           "%s%s%s"
           "\"io.kubernetes.cri.sandbox-namespace\":\"churn\","
           "\"io.kubernetes.cri.sandbox-name\":\"%s\","
           "\"io.kubernetes.cri.sandbox-uid\":\"%s\"},"
           "\"linux\":{\"cgroupsPath\":\"kubepods-besteffort-pod%s.slice:"
           "cri-containerd:%s\"}}",
           sandbox ? "sandbox" : "container",
           sandbox ? "" : "\"io.kubernetes.cri.container-name\":\"",
           sandbox ? "" : "writer", sandbox ? "" : "\",", p->name, p->uid,
           p->uid_, sandbox ? p->sandbox : p->ctr);
  return tree_write_file(path, json);
}

/* How start_pod makes a pod: config.json only once the watcher saw the
 * bundle without it; no container (conmon, or a pod that never got to its
 * containers). */
#define POD_LATE_CONFIG 1u
#define POD_SANDBOX_ONLY 2u

/* A pod as containerd and runc make it: its bundle directories, then
 * their config.json, then its cgroups (runc creates them only once the
 * config exists). With POD_LATE_CONFIG each step waits until the watcher
 * has handled the one before. Fills the cgroup ids (the container's 0 with
 * POD_SANDBOX_ONLY); 0 or -1 (the failed step printed). */
static int start_pod(identity_t *id, const pod_t *p, unsigned how,
                     uint64_t *ctr_id, uint64_t *pod_id) {
  bool late = how & POD_LATE_CONFIG, with_ctr = !(how & POD_SANDBOX_ONLY);
  const char *step = NULL;
  if (tree_mkdir_p(p->sb_bundle) != 0 ||
      (with_ctr && tree_mkdir_p(p->bundle) != 0))
    step = "bundle directories";
  else if (late && !settled(id))
    step = "watcher, bundles";
  else if (write_config(state, p, true) != 0 ||
           (with_ctr && write_config(state, p, false) != 0))
    step = "config.json";
  else if (late && !settled(id))
    step = "watcher, config.json";
  else if (tree_mkdir_p(p->podcg) != 0 ||
           (with_ctr && tree_mkdir_p(p->ctrcg) != 0))
    step = "cgroups";
  if (step != NULL) {
    printf("# pod %s: %s failed\n", p->name, step);
    return -1;
  }
  *ctr_id = with_ctr ? tree_cgroup_id(p->ctrcg, "") : 0;
  if (pod_id != NULL)
    *pod_id = tree_cgroup_id(p->podcg, "");
  return 0;
}

/* Removes what start_pod made. 0 or -1. */
static int remove_pod(const pod_t *p, unsigned how) {
  bool with_ctr = !(how & POD_SANDBOX_ONLY);
  int failed = (with_ctr && rmdir(p->ctrcg) != 0) + (rmdir(p->podcg) != 0) +
               (with_ctr && tree_rm_rf(p->bundle) != 0) +
               (tree_rm_rf(p->sb_bundle) != 0);
  return failed ? -1 : 0;
}

/* The pod's whole life between two reads: made, its "I/O" until the
 * watcher has seen it, then everything removed. */
static int short_lived_pod(identity_t *id, const pod_t *p, unsigned how,
                           uint64_t *ctr_id, uint64_t *pod_id) {
  OK(start_pod(id, p, how, ctr_id, pod_id) == 0);
  OK(settled(id));
  OK(remove_pod(p, how) == 0);
  return 0;
}

static identity_config_t watch_config(const char *cgroup_root) {
  static const char *dirs[1];
  dirs[0] = state;
  identity_config_t cfg = tree_identity_config(cgroup_root, dirs, 1);
  cfg.any_owner = true;
  return cfg;
}

static identity_t *make_identity(const char *cgroup_root, bool watcher) {
  identity_config_t cfg = watch_config(cgroup_root);
  cfg.no_watcher = !watcher;
  return identity_create(&cfg);
}

/* On the fake tree, as the plugin has it after its first read. */
static identity_t *ticked_identity(bool watcher) {
  identity_t *id = make_identity(tree, watcher);
  if (id != NULL)
    identity_tick(id, cdtime());
  return id;
}

static int setup_tree(void) {
  char path[512];
  snprintf(tree, sizeof(tree), "%s/cgroup", base);
  snprintf(state, sizeof(state), "%s/state", base);
  if (tree_make_v2_root(tree) ||
      tree_mkdir_under(tree, "/kubepods.slice/kubepods-besteffort.slice") ||
      tree_mkdir_under(tree, "/system.slice/kubelet.service"))
    return -1;
  snprintf(path, sizeof(path), "%s/" LAYOUT, state);
  return tree_mkdir_p(path);
}

static int expect_pod(identity_t *id, uint64_t cgid, const pod_t *p,
                      const char *container) {
  pod_identity_t out;
  OK(cgid != 0);
  EXPECT_EQ_INT(IDENTITY_FINAL, identity_resolve(id, cgid, &out).state);
  if (!out.in_pod)
    printf("# id %" PRIu64 " resolved to cgroup %s\n", cgid, out.cgroup);
  OK1(out.in_pod, "attributed to its pod, not to a cgroup");
  EXPECT_EQ_STR("churn", out.ns);
  EXPECT_EQ_STR(p->name, out.pod);
  EXPECT_EQ_STR(container, out.container);
  return 0;
}

/* A pod below mount that lives and goes between two reads; the next read
 * (no tick before the lookup, as in the worst case) finds its container
 * and its pod. Fills its container's cgroup id. */
static int pod_known_after_its_end(identity_t *id, const char *mount,
                                   unsigned how, pod_t *p, uint64_t *ctr_id) {
  new_pod(p, mount);
  uint64_t pod_id;
  if (short_lived_pod(id, p, how, ctr_id, &pod_id) != 0 ||
      expect_pod(id, *ctr_id, p, "writer") != 0 ||
      expect_pod(id, pod_id, p, "POD") != 0)
    return -1;
  return 0;
}

DEF_TEST(pod_gone_before_read) {
  identity_t *id = ticked_identity(true);
  OK(id != NULL);
  pod_t p;
  uint64_t ctr_id;
  if (pod_known_after_its_end(id, tree, 0, &p, &ctr_id) != 0)
    return -1;
  /* ended: the tombstones keep it, and say so */
  OK(settled(id));
  identity_tick(id, cdtime());
  pod_identity_t out;
  OK(identity_resolve(id, ctr_id, &out).alive);
  if (expect_pod(id, ctr_id, &p, "writer") != 0)
    return -1;
  identity_tick(id, cdtime() + TIME_T_TO_CDTIME_T(301));
  OK(!identity_resolve(id, ctr_id, &out).alive);

  /* many in a row, the watcher keeps up */
  pod_t many[5];
  uint64_t many_ids[5][2];
  for (int i = 0; i < 5; i++) {
    new_pod(&many[i], tree);
    if (short_lived_pod(id, &many[i], 0, &many_ids[i][0], &many_ids[i][1]) != 0)
      return -1;
  }
  for (int i = 0; i < 5; i++)
    if (expect_pod(id, many_ids[i][0], &many[i], "writer") != 0)
      return -1;
  identity_destroy(id);
  return 0;
}

/* The bundle directory first, its config.json later: the watcher watches
 * the bundle until the file is written. The pod's own cgroup (no container
 * id: conmon, or a process kubelet put there) is found through the
 * sandbox's state, which only a parsed bundle gives. */
DEF_TEST(config_written_late) {
  identity_t *id = ticked_identity(true);
  OK(id != NULL);
  pod_t p;
  uint64_t ctr_id;
  if (pod_known_after_its_end(id, tree, POD_LATE_CONFIG, &p, &ctr_id) != 0)
    return -1;

  /* Only the sandbox's bundle and the pod's cgroup (a pod that never got
   * to its containers, or CRI-O's conmon in the pod cgroup): no container
   * id to look up on demand, so the sandbox must have been parsed when
   * its config.json was written. */
  pod_t q;
  new_pod(&q, tree);
  uint64_t q_id;
  if (short_lived_pod(id, &q, POD_LATE_CONFIG | POD_SANDBOX_ONLY, &ctr_id,
                      &q_id) != 0 ||
      expect_pod(id, q_id, &q, "POD") != 0)
    return -1;
  identity_destroy(id);
  return 0;
}

/* The watcher reads a state file as soon as it is written; a file
 * replaced afterwards by a symbolic link (to another pod's valid state)
 * must not keep the early answer: the cgroup, created after the swap, is
 * reported under its own name, as without the watcher (VM lab, hostile
 * state "symlink"). */
DEF_TEST(state_replaced_by_symlink) {
  identity_t *id = ticked_identity(true);
  OK(id != NULL);
  pod_t p, victim;
  new_pod(&p, tree);
  new_pod(&victim, tree);
  char file[1100], decoy[256];
  OK(tree_mkdir_p(p.bundle) == 0);
  OK(write_config(state, &p, false) == 0);
  OK(settled(id)); /* parsed by the watcher */
  /* the victim's state, outside the layout, as the link's target */
  snprintf(decoy, sizeof(decoy), "%s/decoy", base);
  OK(tree_mkdir_p(decoy) == 0);
  char target[1100];
  bundle_path(target, sizeof(target), decoy, victim.ctr);
  OK(tree_mkdir_p(target) == 0);
  OK(write_config(decoy, &victim, false) == 0);
  strncat(target, "/config.json", sizeof(target) - strlen(target) - 1);
  snprintf(file, sizeof(file), "%s/config.json", p.bundle);
  OK(unlink(file) == 0);
  OK(symlink(target, file) == 0);
  OK(tree_mkdir_p(p.ctrcg) == 0);
  uint64_t cgid = tree_cgroup_id(p.ctrcg, "");
  OK(settled(id)); /* resolved by the watcher, after the swap */
  pod_identity_t out;
  EXPECT_EQ_INT(IDENTITY_FINAL, identity_resolve(id, cgid, &out).state);
  OK1(!out.in_pod, "a state file replaced by a symbolic link is refused");
  EXPECT_EQ_STR("", out.pod);
  char want[128];
  snprintf(want, sizeof(want), "cri-containerd-%s.scope", p.ctr);
  EXPECT_EQ_STR(want, out.cgroup);
  OK(mock_log_count(LOG_WARNING, "symbolic link") >= 1);
  OK(rmdir(p.ctrcg) == 0);
  OK(rmdir(p.podcg) == 0);
  OK(tree_rm_rf(p.bundle) == 0);
  identity_destroy(id);
  return 0;
}

/* Negative control: the same life without the watcher (inotify drained by
 * identity_tick only) is not resolved, so the tests above can fail. */
DEF_TEST(control_without_watcher) {
  identity_t *id = ticked_identity(false);
  OK(id != NULL);
  pod_t p;
  new_pod(&p, tree);
  uint64_t ctr_id, pod_id;
  if (short_lived_pod(id, &p, 0, &ctr_id, &pod_id) != 0)
    return -1;
  OK(ctr_id != 0);
  pod_identity_t out;
  EXPECT_EQ_INT(IDENTITY_UNKNOWN, identity_resolve(id, ctr_id, &out).state);
  EXPECT_EQ_STR(IDENTITY_UNRESOLVED_CGROUP, out.cgroup);
  identity_tick(id, cdtime());
  EXPECT_EQ_INT(IDENTITY_UNKNOWN, identity_resolve(id, ctr_id, &out).state);
  identity_destroy(id);
  return 0;
}

/* Every inotify watch this process holds, in all its inotify instances:
 * the kernel lists each in the instance's fdinfo. */
static size_t process_watches(void) {
  size_t n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return (size_t)-1;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[300], link[64], line[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
    ssize_t l = readlink(path, link, sizeof(link) - 1);
    if (l <= 0)
      continue;
    link[l] = '\0';
    if (strcmp(link, "anon_inode:inotify") != 0)
      continue;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    while (fgets(line, sizeof(line), f) != NULL)
      n += strncmp(line, "inotify wd:", 11) == 0;
    fclose(f);
  }
  closedir(d);
  return n;
}

/* MaxInotifyWatches 8: one state dir (4 layout watches), one bundle watch,
 * 3 for cgroups (the root, kubepods.slice, its besteffort slice). Pods
 * created after that are in unwatched directories: the process never
 * holds more than 8 watches, the cap is logged once, and every pod is
 * still identified (on demand, and by the periodic rescans). */
#define TINY_BUDGET 8
#define BUDGET_PODS 10
DEF_TEST(watch_budget) {
  identity_config_t cfg = watch_config(tree);
  cfg.max_watches = TINY_BUDGET;
  size_t before = process_watches();
  identity_t *id = identity_create(&cfg);
  OK(id != NULL);
  identity_tick(id, cdtime());
  pod_t pods[BUDGET_PODS];
  uint64_t ctr_ids[BUDGET_PODS];
  for (int i = 0; i < BUDGET_PODS; i++) {
    new_pod(&pods[i], tree);
    OK(start_pod(id, &pods[i], 0, &ctr_ids[i], NULL) == 0);
  }
  for (int i = 0; i < BUDGET_PODS; i++)
    if (expect_pod(id, ctr_ids[i], &pods[i], "writer") != 0)
      return -1;
  size_t held = process_watches() - before;
  printf("# %zu inotify watches held with a budget of %d\n", held, TINY_BUDGET);
  OK(held <= TINY_BUDGET);
  OK(mock_log_count(LOG_WARNING, "MaxInotifyWatches") == 1);
  identity_destroy(id);
  EXPECT_EQ_INT((int)before, (int)process_watches());
  for (int i = 0; i < BUDGET_PODS; i++)
    OK(remove_pod(&pods[i], 0) == 0);
  return 0;
}

static int write_proc(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* In a child process, in a user namespace of its own whose inotify budget
 * (user.max_inotify_watches, per namespace) is 4 watches: the kernel
 * refuses the fifth with ENOSPC, as it would when kubelet, containerd and
 * systemd have used up root's. Returns the number of failed checks. */
static int enospc_child(void) {
  if (unshare(CLONE_NEWUSER) != 0 ||
      write_proc("/proc/self/setgroups", "deny") != 0 ||
      write_proc("/proc/self/uid_map", "0 0 1") != 0 ||
      write_proc("/proc/self/gid_map", "0 0 1") != 0 ||
      write_proc("/proc/sys/user/max_inotify_watches", "4") != 0) {
    fprintf(stderr, "# cannot make a user namespace with 4 watches: %s\n",
            strerror(errno));
    return 100;
  }
  int failed = 0;
  identity_t *id = ticked_identity(true);
  if (id == NULL)
    return 101;
  pod_t pods[3];
  uint64_t ctr_ids[3];
  for (int i = 0; i < 3; i++) {
    new_pod(&pods[i], tree);
    failed += start_pod(id, &pods[i], 0, &ctr_ids[i], NULL) != 0;
  }
  for (int i = 0; i < 3; i++) {
    pod_identity_t out;
    identity_state_t state = identity_resolve(id, ctr_ids[i], &out).state;
    if (state != IDENTITY_FINAL || !out.in_pod ||
        strcmp(out.pod, pods[i].name) != 0) {
      fprintf(stderr, "# pod %s: state %d, pod \"%s\", cgroup \"%s\"\n",
              pods[i].name, (int)state, out.pod, out.cgroup);
      failed++;
    }
  }
  size_t logged = mock_log_count(LOG_WARNING, "out of inotify watches");
  if (logged != 1) {
    fprintf(stderr, "# ENOSPC logged %zu times, want 1\n", logged);
    failed++;
  }
  identity_destroy(id);
  for (int i = 0; i < 3; i++)
    failed += remove_pod(&pods[i], 0) != 0;
  return failed;
}

DEF_TEST(watch_enospc) {
  fflush(stdout);
  pid_t pid = fork();
  OK(pid >= 0);
  if (pid == 0)
    _exit(enospc_child());
  int status = 0;
  OK(waitpid(pid, &status, 0) == pid);
  OK(WIFEXITED(status));
  EXPECT_EQ_INT(0, WEXITSTATUS(status));
  return 0;
}

/* Shutdown with events still queued, and a create/destroy cycle. */
DEF_TEST(start_stop) {
  for (int i = 0; i < 3; i++) {
    identity_t *id = make_identity(tree, true);
    OK(id != NULL);
    pod_t p;
    new_pod(&p, tree);
    OK(tree_mkdir_p(p.podcg) == 0);
    identity_destroy(id);
    OK(rmdir(p.podcg) == 0);
  }
  return 0;
}

/* A real cgroup on this host: kubepods-like directories made and removed
 * as soon as the watcher has seen them, ids from kernfs handles. */
DEF_TEST(real_cgroup) {
  OK1(geteuid() == 0, "runs as root (needed to make a real cgroup)");
  identity_t *id = make_identity(NULL, true);
  OK(id != NULL);
  /* a kubepods tree of our own (the root is watched for kubepods*) */
  char top[512];
  tree_host_mount(id, top, sizeof(top));
  snprintf(top + strlen(top), sizeof(top) - strlen(top),
           "/kubepods-nfsebpftest%d", (int)getpid());
  if (mkdir(top, 0755) != 0) {
    printf("not ok %d - cannot create %s: %s\n", ++check_count__, top,
           strerror(errno));
    identity_destroy(id);
    return -1;
  }
  char path[1024];
  snprintf(path, sizeof(path), "%s/kubepods.slice", top);
  OK(mkdir(path, 0755) == 0);
  snprintf(path, sizeof(path), "%s/kubepods.slice/kubepods-besteffort.slice",
           top);
  OK(mkdir(path, 0755) == 0);
  OK(settled(id)); /* watched before the pod's cgroups appear */
  pod_t p;
  uint64_t ctr_id;
  int status = pod_known_after_its_end(id, top, 0, &p, &ctr_id);
  OK(rmdir(path) == 0);
  snprintf(path, sizeof(path), "%s/kubepods.slice", top);
  OK(rmdir(path) == 0);
  OK(rmdir(top) == 0);
  identity_destroy(id);
  return status;
}

int main(void) {
  if (!tree_temp_dir(base, sizeof(base), "nfs_ebpf_watch")) {
    printf("not ok 1 - mkdtemp\n");
    return 1;
  }
  mock_log_set_echo(false);
  if (setup_tree() != 0) {
    printf("not ok 1 - fake tree in %s\n", base);
    return 1;
  }
  /* first: it counts the process's watches, which an identity that a
   * failed test left behind would add to */
  RUN_TEST(watch_budget);
  RUN_TEST(watch_enospc);
  RUN_TEST(pod_gone_before_read);
  RUN_TEST(config_written_late);
  RUN_TEST(state_replaced_by_symlink);
  RUN_TEST(control_without_watcher);
  RUN_TEST(start_stop);
  RUN_TEST(real_cgroup);
  if (tree_rm_rf(base) != 0)
    printf("# could not remove %s\n", base);
  END_TEST;
}
