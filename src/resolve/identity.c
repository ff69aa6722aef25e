/*
 * cgroup id -> Kubernetes identity: see identity.h.
 */
/* pthread_setname_np() is a GNU extension; the define must precede the
 * first system header, which collectd's pull in. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "collectd_compat.h"

#include "cgroup_index.h"
#include "cgroup_path.h"
#include "identity.h"
#include "host_path.h"
#include "log_once.h"
#include "nfs_ebpf.h"
#include "runtime_state.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDENTITY_DEFAULT_RESCAN TIME_T_TO_CDTIME_T(60)
#define IDENTITY_DEFAULT_TTL TIME_T_TO_CDTIME_T(300)
#define IDENTITY_CACHE_BUCKETS 4096

/* An IDENTITY_FINAL answer, for this cgroup incarnation (serial).
 * IDENTITY_PROVISIONAL ones (runtime state not readable yet) are not
 * cached: the next call tries again. */
typedef struct identity_cached_s {
  uint64_t cgroup_id;
  uint64_t serial;
  pod_identity_t ident;
  struct identity_cached_s *next;
} identity_cached_t;

struct identity_s {
  pthread_mutex_t lock;
  identity_cgroup_mode_t mode;
  const char *v1_controller;
  cgroup_index_t *cgroups;
  runtime_state_t *runtime;
  cdtime_t rescan_interval;
  cdtime_t ttl;
  cdtime_t now; /* time of the last tick */
  cdtime_t last_rescan;
  bool rescanned_on_demand; /* at most one full walk per tick for unknown ids */
  identity_cached_t *cache[IDENTITY_CACHE_BUCKETS];
  /* watcher thread */
  pthread_t watcher;
  bool watcher_running;
  bool watcher_rescans; /* the watcher does the periodic rescans */
  int stop_fd; /* eventfd: identity_destroy wakes the watcher with it */
  /* The watcher is in (or about to enter) poll() with every event it read
   * handled; signalled on each entry, for identity_watcher_settle. */
  bool watcher_polling;
  pthread_cond_t watcher_polled;
};

static void identity_watcher_start(identity_t *id);
static void identity_watcher_stop(identity_t *id);

static bool identity_is_file(const char *dir, const char *name) {
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return stat(path, &st) == 0;
}

static bool identity_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* cgroup2 at the root: v2. cgroup2 at unified/: hybrid (runc puts every
 * container there too, so bpf_get_current_cgroup_id() is meaningful). Else
 * v1 only: the BPF side reads one controller's id, in the order the notes
 * recommend. A plain directory (a test tree) is treated as v2. */
static void identity_detect(identity_t *id, const char *root, char *mount,
                            size_t size) {
  id->v1_controller = NULL;
  if (identity_is_file(root, "cgroup.controllers")) {
    id->mode = IDENTITY_CGROUP_V2;
    snprintf(mount, size, "%s", root);
    return;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/unified", root);
  if (identity_is_file(path, "cgroup.controllers")) {
    id->mode = IDENTITY_CGROUP_HYBRID;
    snprintf(mount, size, "%s", path);
    return;
  }
  static const char *const controllers[] = {"memory", "pids", "cpuset"};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(controllers); i++) {
    snprintf(path, sizeof(path), "%s/%s", root, controllers[i]);
    if (identity_is_dir(path) && identity_is_file(path, "cgroup.procs")) {
      id->mode = IDENTITY_CGROUP_V1;
      id->v1_controller = controllers[i];
      snprintf(mount, size, "%s", path);
      return;
    }
  }
  id->mode = IDENTITY_CGROUP_V2;
  snprintf(mount, size, "%s", root);
}

/* The whole inotify budget: fs.inotify.max_user_watches is one pool for
 * every process of the user (root: kubelet, containerd, systemd), so take
 * a small part of it at most. */
static size_t identity_watch_budget(const identity_config_t *cfg) {
  if (cfg->max_watches != 0)
    return cfg->max_watches;
  size_t budget = IDENTITY_DEFAULT_MAX_WATCHES;
  FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
  unsigned long max_user = 0;
  if (f != NULL) {
    if (fscanf(f, "%lu", &max_user) == 1 && max_user / 8 < budget)
      budget = max_user / 8;
    fclose(f);
  }
  return budget ? budget : 1;
}

identity_t *identity_create(const identity_config_t *cfg) {
  identity_t *id = calloc(1, sizeof(*id));
  if (id == NULL)
    return NULL;
  pthread_mutex_init(&id->lock, NULL);
  pthread_condattr_t cond_attr;
  pthread_condattr_init(&cond_attr);
  pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
  pthread_cond_init(&id->watcher_polled, &cond_attr);
  pthread_condattr_destroy(&cond_attr);
  id->stop_fd = -1;
  id->rescan_interval =
      cfg->rescan_interval ? cfg->rescan_interval : IDENTITY_DEFAULT_RESCAN;
  id->ttl = cfg->tombstone_ttl ? cfg->tombstone_ttl : IDENTITY_DEFAULT_TTL;
  id->now = cdtime();

  char root[PATH_MAX], mount[PATH_MAX];
  host_path(root, sizeof(root), cfg->host_root,
            cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup");
  identity_detect(id, root, mount, sizeof(mount));

  /* The watch budget, split: one watch per state dir layout, an eighth
   * for bundles waiting for their state file, the rest for cgroups. */
  size_t budget = identity_watch_budget(cfg);
  size_t n_dirs = cfg->n_state_dirs;
  if (cfg->state_dirs == NULL)
    for (n_dirs = 0; runtime_state_default_dirs[n_dirs] != NULL; n_dirs++)
      ;
  size_t bundle_watches = budget / 8 ? budget / 8 : 1;
  size_t reserved = bundle_watches + n_dirs * RUNTIME_LAYOUTS_PER_DIR;
  size_t cgroup_watches = budget > reserved ? budget - reserved : 0;

  id->cgroups = cgroup_index_create(mount, cfg->max_cgroups);
  runtime_state_config_t rcfg = {
      .host_root = cfg->host_root,
      .state_dirs = cfg->state_dirs,
      .n_state_dirs = cfg->n_state_dirs,
      .max_file_size = cfg->max_file_size,
      .max_containers = cfg->max_containers,
      .max_bundle_watches = bundle_watches,
      .tombstone_ttl = id->ttl,
      .any_owner = cfg->any_owner,
      .no_inotify = cfg->no_inotify,
  };
  id->runtime = runtime_state_create(&rcfg);
  if (id->cgroups == NULL || id->runtime == NULL) {
    identity_destroy(id);
    return NULL;
  }
  bool watch = !cfg->no_inotify && !cfg->no_watcher;
  if (watch && cgroup_watches == 0)
    WARNING("nfs_ebpf plugin: MaxInotifyWatches %zu leaves no watch for "
            "cgroups; they are found by the periodic rescan and on demand",
            budget);
  else if (watch) /* the rescan adds the watches */
    (void)cgroup_index_watch_start(id->cgroups, cgroup_watches);
  int ncg = cgroup_index_rescan(id->cgroups, id->now);
  int nct = runtime_state_rescan(id->runtime, id->now);
  id->last_rescan = id->now;
  INFO("nfs_ebpf plugin: pod identity: cgroup %s at %s%s%s, %d cgroups, %d "
       "containers, %zu of at most %zu inotify watches on cgroups",
       id->mode == IDENTITY_CGROUP_V2       ? "v2"
       : id->mode == IDENTITY_CGROUP_HYBRID ? "hybrid"
                                            : "v1",
       mount, id->v1_controller ? " controller " : "",
       id->v1_controller ? id->v1_controller : "", ncg, nct,
       cgroup_index_watch_count(id->cgroups), cgroup_watches);
  /* From now on other threads call in: scans share the lock with them. */
  cgroup_index_set_lock(id->cgroups, &id->lock, cfg->scan_hook,
                        cfg->scan_hook_ctx);
  runtime_state_set_lock(id->runtime, &id->lock, cfg->scan_hook,
                         cfg->scan_hook_ctx);
  if (watch)
    identity_watcher_start(id);
  return id;
}

static void identity_cache_clear(identity_t *id) {
  for (size_t b = 0; b < IDENTITY_CACHE_BUCKETS; b++) {
    for (identity_cached_t *c = id->cache[b], *next; c; c = next) {
      next = c->next;
      free(c);
    }
    id->cache[b] = NULL;
  }
}

void identity_destroy(identity_t *id) {
  if (id == NULL)
    return;
  identity_watcher_stop(id);
  identity_cache_clear(id);
  cgroup_index_destroy(id->cgroups);
  runtime_state_destroy(id->runtime);
  pthread_cond_destroy(&id->watcher_polled);
  pthread_mutex_destroy(&id->lock);
  free(id);
}

identity_cgroup_mode_t identity_cgroup_mode(const identity_t *id,
                                            const char **v1_controller) {
  if (v1_controller != NULL)
    *v1_controller = id->v1_controller;
  return id->mode;
}

uint32_t identity_bpf_cgroup_controller(const identity_t *id) {
  static const struct {
    const char *name;
    uint32_t controller;
  } v1[] = {
      {"memory", NFS_CGROUP_V1_MEMORY},
      {"pids", NFS_CGROUP_V1_PIDS},
      {"cpuset", NFS_CGROUP_V1_CPUSET},
  };
  if (id->mode != IDENTITY_CGROUP_V1 || id->v1_controller == NULL)
    return NFS_CGROUP_V2;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(v1); i++)
    if (strcmp(id->v1_controller, v1[i].name) == 0)
      return v1[i].controller;
  /* identity_detect only picks controllers of the table above. */
  return NFS_CGROUP_V2;
}

static size_t identity_bucket(uint64_t cgroup_id) {
  return (size_t)((cgroup_id * 0x9E3779B97F4A7C15ULL) >> 40) %
         IDENTITY_CACHE_BUCKETS;
}

static identity_cached_t **identity_cache_slot(identity_t *id,
                                               uint64_t cgroup_id) {
  identity_cached_t **pp = &id->cache[identity_bucket(cgroup_id)];
  while (*pp != NULL && (*pp)->cgroup_id != cgroup_id)
    pp = &(*pp)->next;
  return pp;
}

static void identity_set_cgroup(pod_identity_t *out, const char *path) {
  memset(out, 0, sizeof(*out));
  cgroup_path_short_name(path, out->cgroup, sizeof(out->cgroup));
}

static void identity_set_unresolved(pod_identity_t *out) {
  memset(out, 0, sizeof(*out));
  sstrncpy(out->cgroup, IDENTITY_UNRESOLVED_CGROUP, sizeof(out->cgroup));
}

static void identity_set_pod(pod_identity_t *out, const runtime_container_t *c,
                             const char *container) {
  memset(out, 0, sizeof(*out));
  sstrncpy(out->ns, c->ns, sizeof(out->ns));
  sstrncpy(out->pod, c->pod, sizeof(out->pod));
  sstrncpy(out->container, container, sizeof(out->container));
  out->in_pod = true;
}

/* Resolves a cgroup path: IDENTITY_FINAL, or IDENTITY_PROVISIONAL while
 * the runtime state the path points to is not readable. */
static identity_state_t identity_resolve_path(identity_t *id, const char *path,
                                              pod_identity_t *out) {
  cgroup_path_info_t info;
  cgroup_path_parse(path, &info);

  if (info.container_id[0] != '\0') {
    const runtime_container_t *c =
        runtime_state_find(id->runtime, info.container_id, id->now);
    if (c == NULL) {
      /* No state (yet, or a runtime we do not read): the cgroup name is
       * the honest answer until the next rescan. */
      identity_set_cgroup(out, path);
      return IDENTITY_PROVISIONAL;
    }
    if (!c->is_pod) {
      identity_set_cgroup(out,
                          path); /* plain container, or bad state (logged) */
      return IDENTITY_FINAL;
    }
    if (info.pod_uid[0] != '\0' && c->pod_uid[0] != '\0' &&
        strcmp(info.pod_uid, c->pod_uid) != 0) {
      /* The cgroup says one pod, the state file another: never guess. */
      char key[128];
      snprintf(key, sizeof(key), "identity:uid-mismatch:%s", c->id);
      log_once(LOG_WARNING, key,
               "nfs_ebpf plugin: container %.12s: cgroup %s names pod uid %s "
               "but its state says %s; reporting the cgroup",
               c->id, path, info.pod_uid, c->pod_uid);
      identity_set_cgroup(out, path);
      return IDENTITY_FINAL;
    }
    identity_set_pod(out, c, c->container);
    return IDENTITY_FINAL;
  }

  if (info.pod_uid[0] != '\0') {
    /* In a pod but in no container: conmon, or a process kubelet put in the
     * pod slice. It belongs to the pod's infrastructure. */
    const runtime_container_t *c =
        runtime_state_find_pod(id->runtime, info.pod_uid);
    if (c != NULL) {
      identity_set_pod(out, c, RUNTIME_SANDBOX_NAME);
      return IDENTITY_FINAL;
    }
    identity_set_cgroup(out, path);
    return IDENTITY_PROVISIONAL;
  }

  identity_set_cgroup(out, path);
  return IDENTITY_FINAL;
}

static identity_state_t identity_resolve_locked(identity_t *id,
                                                uint64_t cgroup_id,
                                                pod_identity_t *out) {
  const cgroup_index_entry_t *e = cgroup_index_find(id->cgroups, cgroup_id);
  if (e == NULL) {
    /* Never seen: ask the kernel for this one id; if the hierarchy does not
     * allow that, walk it, at most once per interval. */
    int status = cgroup_index_resolve(id->cgroups, cgroup_id, id->now);
    if (status == -EOPNOTSUPP && !id->rescanned_on_demand) {
      id->rescanned_on_demand = true;
      cgroup_index_rescan(id->cgroups, id->now);
    }
    e = cgroup_index_find(id->cgroups, cgroup_id);
  }
  if (e == NULL) {
    identity_set_unresolved(out);
    return IDENTITY_UNKNOWN;
  }

  identity_cached_t **slot = identity_cache_slot(id, cgroup_id);
  if (*slot != NULL && (*slot)->serial == e->serial) {
    *out = (*slot)->ident;
    return IDENTITY_FINAL;
  }
  identity_state_t state = identity_resolve_path(id, e->path, out);
  if (*slot != NULL && (*slot)->serial != e->serial) {
    /* The id names another cgroup now: forget the old answer entirely. */
    identity_cached_t *stale = *slot;
    *slot = stale->next;
    free(stale);
  }
  if (state == IDENTITY_FINAL) {
    identity_cached_t *c = calloc(1, sizeof(*c));
    if (c != NULL) {
      c->cgroup_id = cgroup_id;
      c->serial = e->serial;
      c->ident = *out;
      size_t b = identity_bucket(cgroup_id);
      c->next = id->cache[b];
      id->cache[b] = c;
    }
  }
  return state;
}

identity_answer_t identity_resolve(identity_t *id, uint64_t cgroup_id,
                                   pod_identity_t *out) {
  identity_answer_t answer = {.state = IDENTITY_UNKNOWN, .alive = false};
  if (out == NULL)
    return answer;
  if (id == NULL) {
    identity_set_unresolved(out);
    return answer;
  }
  pthread_mutex_lock(&id->lock);
  answer.state = identity_resolve_locked(id, cgroup_id, out);
  pthread_mutex_unlock(&id->lock);
  /* Known means in the index: live, or a tombstone not expired yet. */
  answer.alive = answer.state != IDENTITY_UNKNOWN;
  return answer;
}

/* Drops cached answers whose cgroup left the index (tombstone expired). */
static void identity_cache_prune(identity_t *id) {
  for (size_t b = 0; b < IDENTITY_CACHE_BUCKETS; b++)
    for (identity_cached_t **pp = &id->cache[b]; *pp;) {
      identity_cached_t *c = *pp;
      const cgroup_index_entry_t *e =
          cgroup_index_find(id->cgroups, c->cgroup_id);
      if (e == NULL || e->serial != c->serial) {
        *pp = c->next;
        free(c);
      } else {
        pp = &c->next;
      }
    }
}

static bool identity_rescan_due(const identity_t *id, cdtime_t now) {
  return now - id->last_rescan >= id->rescan_interval || now < id->last_rescan;
}

/* Called with the lock held; the walks drop it for their file system
 * work, so lookups go on meanwhile. */
static void identity_rescan(identity_t *id, cdtime_t now) {
  id->last_rescan = now; /* first: no second rescan starts meanwhile */
  cgroup_index_rescan(id->cgroups, now);
  runtime_state_rescan(id->runtime, now);
}

void identity_tick(identity_t *id, cdtime_t now) {
  if (id == NULL)
    return;
  pthread_mutex_lock(&id->lock);
  id->now = now;
  id->rescanned_on_demand = false;
  runtime_state_poll(id->runtime, now);
  /* With a watcher thread, it rescans: the read callback never walks. */
  if (!id->watcher_rescans && identity_rescan_due(id, now))
    identity_rescan(id, now);
  cgroup_index_expire(id->cgroups, now, id->ttl);
  identity_cache_prune(id);
  pthread_mutex_unlock(&id->lock);
}

/* ---------------------------------------------------------------------- */
/* Watcher thread                                                         */

/* A cgroup just created: resolve it now, while its directory and its
 * container's bundle exist; a final answer is cached for the reads. */
static void identity_on_new_cgroup(void *ctx, uint64_t cgroup_id) {
  identity_t *id = ctx;
  pod_identity_t out;
  (void)identity_resolve_locked(id, cgroup_id, &out);
}

static void *identity_watcher_main(void *arg) {
  identity_t *id = arg;
  struct pollfd fds[3] = {
      {.fd = id->stop_fd, .events = POLLIN},
      {.fd = runtime_state_inotify_fd(id->runtime), .events = POLLIN},
      {.fd = cgroup_index_watch_fd(id->cgroups), .events = POLLIN},
  };
  for (;;) {
    /* Sleep until an event, or until the periodic rescan is due. */
    pthread_mutex_lock(&id->lock);
    cdtime_t due = id->last_rescan + id->rescan_interval;
    id->watcher_polling = true;
    pthread_cond_broadcast(&id->watcher_polled);
    pthread_mutex_unlock(&id->lock);
    cdtime_t wall = cdtime();
    int timeout_ms = 0;
    if (due > wall) {
      uint64_t ms = CDTIME_T_TO_MS(due - wall) + 1;
      timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    int n = poll(fds, STATIC_ARRAY_SIZE(fds), timeout_ms);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ERROR("nfs_ebpf plugin: pod identity watcher: poll failed: %s; "
            "relying on periodic rescans",
            strerror(errno));
      pthread_mutex_lock(&id->lock);
      id->watcher_rescans = false; /* identity_tick rescans again */
      id->watcher_polling = false;
      pthread_mutex_unlock(&id->lock);
      break;
    }
    if (fds[0].revents)
      break;
    pthread_mutex_lock(&id->lock);
    id->watcher_polling = false;
    cdtime_t now = cdtime();
    if (now < id->now)
      now = id->now; /* never date a tombstone before the last tick */
    /* Runtime state first: a container's bundle is written before its
     * cgroup is created, so its events are already queued. */
    if (fds[1].revents)
      runtime_state_poll(id->runtime, now);
    if (fds[2].revents)
      cgroup_index_watch_poll(id->cgroups, now, identity_on_new_cgroup, id);
    if (identity_rescan_due(id, now))
      identity_rescan(id, now);
    pthread_mutex_unlock(&id->lock);
  }
  return NULL;
}

/* Started even without inotify (logged): it does the periodic rescans. */
static void identity_watcher_start(identity_t *id) {
  id->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (id->stop_fd < 0) {
    WARNING("nfs_ebpf plugin: eventfd failed (%s); pod identity is refreshed "
            "once per read only",
            strerror(errno));
    return;
  }
  /* Signals stay with collectd's own threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  id->watcher_rescans = true; /* before it runs: it may clear it */
  int status = pthread_create(&id->watcher, NULL, identity_watcher_main, id);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (status != 0) {
    id->watcher_rescans = false;
    WARNING("nfs_ebpf plugin: cannot start the pod identity watcher (%s); "
            "pod identity is refreshed once per read only",
            strerror(status));
    close(id->stop_fd);
    id->stop_fd = -1;
    return;
  }
  pthread_setname_np(id->watcher, "nfs_ebpf_watch");
  id->watcher_running = true;
}

static void identity_watcher_stop(identity_t *id) {
  if (id->watcher_running) {
    uint64_t one = 1;
    if (write(id->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
      ERROR("nfs_ebpf plugin: cannot stop the pod identity watcher: %s",
            strerror(errno));
    pthread_join(id->watcher, NULL);
    id->watcher_running = false;
  }
  if (id->stop_fd >= 0) {
    close(id->stop_fd);
    id->stop_fd = -1;
  }
}

/* Called with the lock held: whether an inotify fd has events not read. */
static bool identity_events_queued(int fd) {
  int bytes = 0;
  return fd >= 0 && ioctl(fd, FIONREAD, &bytes) == 0 && bytes > 0;
}

/* Called with the lock held. Events are queued by the very syscall that
 * causes them (mkdir, rmdir, close): what a caller did before is either
 * still queued, or was read and handled by the time the watcher says it
 * polls again (it reads and handles them under the lock). */
static bool identity_watcher_idle(identity_t *id) {
  return !id->watcher_running ||
         (id->watcher_polling &&
          !identity_events_queued(runtime_state_inotify_fd(id->runtime)) &&
          !identity_events_queued(cgroup_index_watch_fd(id->cgroups)));
}

bool identity_watcher_settle(identity_t *id, cdtime_t timeout) {
  if (id == NULL)
    return false;
  struct timespec deadline, wait = CDTIME_T_TO_TIMESPEC(timeout);
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += wait.tv_sec;
  deadline.tv_nsec += wait.tv_nsec;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&id->lock);
  bool settled, timed_out = false;
  while (!(settled = identity_watcher_idle(id)) && !timed_out)
    timed_out = pthread_cond_timedwait(&id->watcher_polled, &id->lock,
                                       &deadline) == ETIMEDOUT;
  pthread_mutex_unlock(&id->lock);
  return settled;
}
