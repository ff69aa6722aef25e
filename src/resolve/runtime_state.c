/*
 * Container runtime state: see runtime_state.h. This file keeps the
 * container table (container_table.c) in step with the state directories:
 * which directories and layouts are probed, their scans, and the inotify
 * watches on layouts and on bundles still being written. Each state file
 * is parsed by runtime_json.c.
 */
#include "collectd_compat.h"

#include "container_table.h"
#include "host_path.h"
#include "inotify_drain.h"
#include "log_once.h"
#include "runtime_json.h"
#include "runtime_state.h"
#include "safe_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <unistd.h>

const char *const runtime_state_default_dirs[] = {
    "/run/containerd",                          /* containerd */
    "/run/k3s/containerd",                      /* k3s, RKE2 */
    "/var/snap/microk8s/common/run/containerd", /* microk8s */
    "/run/k0s/containerd",                      /* k0s */
    "/run/containers/storage",                  /* CRI-O (runroot) */
    "/var/lib/docker",                          /* Docker + cri-dockerd */
    NULL,
};

/* Where a runtime keeps its bundles below a state dir, and its state file
 * in a bundle: one row per layout, each probed in every state dir. */
typedef struct {
  const char *subdir; /* below the state dir, one component per '/' */
  runtime_kind_t kind;
  const char *inner_dir; /* below the bundle, or NULL */
  const char *file;
} runtime_layout_def_t;

static const runtime_layout_def_t runtime_layout_defs[] = {
    {"io.containerd.runtime.v2.task/k8s.io", RUNTIME_KIND_CONTAINERD, NULL,
     "config.json"},
    {"io.containerd.runtime.v1.linux/k8s.io", RUNTIME_KIND_CONTAINERD, NULL,
     "config.json"},
    {"overlay-containers", RUNTIME_KIND_CRIO, "userdata", "config.json"},
    {"containers", RUNTIME_KIND_DOCKER, NULL, "config.v2.json"},
};
#define RUNTIME_N_LAYOUTS STATIC_ARRAY_SIZE(runtime_layout_defs)
_Static_assert(RUNTIME_N_LAYOUTS == RUNTIME_LAYOUTS_PER_DIR,
               "runtime_state.h counts the layouts' watches");

typedef struct {
  const runtime_layout_def_t *def;
  char *path; /* host_root + state dir + subdir */
  int fd;     /* -1 while the directory does not exist */
  int wd;     /* inotify watch, -1 if none */
  bool dirty; /* re-list at the next poll */
  uint64_t scan;
} runtime_layout_t;

/* Bundles watched while their state file is not written yet. */
#define RUNTIME_MAX_BUNDLE_WATCHES 1024
#define RUNTIME_BUNDLE_MASK                                                    \
  (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW)

typedef struct {
  int wd;
  size_t layout;
  char id[RUNTIME_ID_LEN + 1];
} runtime_bundle_watch_t;

struct runtime_state_s {
  runtime_layout_t *layouts;
  size_t n_layouts;
  safe_file_policy_t policy;
  pthread_mutex_t *lock; /* the owner's (runtime_state_set_lock), or NULL */
  void (*scan_hook)(void *ctx); /* tests: once per layout listing, unlocked */
  void *scan_hook_ctx;
  size_t max_bundle_watches;
  cdtime_t tombstone_ttl;
  int inotify_fd;
  runtime_bundle_watch_t bundle_watches[RUNTIME_MAX_BUNDLE_WATCHES];
  size_t n_bundle_watches;
  container_table_t table;
};

static bool runtime_id_ok(const char *id) {
  size_t len = strlen(id);
  if (len != RUNTIME_ID_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  return true;
}

/* Whether st is the state file n was last parsed from, in layout li. */
static bool runtime_file_unchanged(const container_entry_t *n, size_t li,
                                   const struct stat *st) {
  return n != NULL && !n->missing && n->layout == li && n->dev == st->st_dev &&
         n->ino == st->st_ino && n->size == st->st_size &&
         n->mtime.tv_sec == st->st_mtim.tv_sec &&
         n->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* n's bundle was found (by scan l->scan): alive again if it was not. */
static void runtime_bundle_seen(const runtime_layout_t *l,
                                container_entry_t *n) {
  n->c.alive = true;
  n->dead_since = 0;
  n->seen_scan = l->scan;
}

/* The state file of bundle id, relative to its layout directory:
 * "<id>/[<inner_dir>/]<file>". */
static void runtime_state_file_path(const runtime_layout_t *l, const char *id,
                                    char *rel, size_t size) {
  snprintf(rel, size, "%s/%s%s%s", id,
           l->def->inner_dir ? l->def->inner_dir : "",
           l->def->inner_dir ? "/" : "", l->def->file);
}

/* A periodic rescan finds most bundles as they were: one fstatat by path,
 * no open, tells so. The path may cross a symbolic link here, unlike the
 * reads below, but only the very file parsed earlier through them (same
 * device, inode, size and mtime) passes, so nothing new is trusted;
 * anything else takes the full path. */
static bool runtime_bundle_unchanged(const runtime_layout_t *l, size_t li,
                                     int layout_fd, const char *id,
                                     const container_entry_t *n) {
  if (n == NULL || n->missing || n->layout != li)
    return false;
  char rel[PATH_MAX];
  runtime_state_file_path(l, id, rel, sizeof(rel));
  struct stat st;
  return fstatat(layout_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode) && runtime_file_unchanged(n, li, &st);
}

/* Records what the state file (st) of bundle id in layout li says: parsed,
 * or the failure status of its parse (remembered too, is_pod false and
 * logged once, so a bad file is not parsed again until it changes). *np is
 * the entry, added if NULL. Returns 0, or -ENOSPC when the table is full. */
static int runtime_record_bundle(runtime_state_t *rs, size_t li, const char *id,
                                 container_entry_t **np,
                                 runtime_container_t *parsed, int status,
                                 const struct stat *st) {
  container_entry_t *n = *np;
  if (n == NULL && (n = container_table_add(&rs->table, id)) == NULL)
    return -ENOSPC;
  sstrncpy(parsed->id, id, sizeof(parsed->id));
  container_table_set(&rs->table, n, parsed);
  n->failed = status != 0;
  n->layout = li;
  n->dev = st->st_dev;
  n->ino = st->st_ino;
  n->size = st->st_size;
  n->mtime = st->st_mtim;
  *np = n;
  return 0;
}

/* The common case in one system call: the bundle's state file opened by its
 * path below the layout directory, no symbolic link anywhere on it, then
 * the checks every state file passes (safe_file_open_beneath). Returns the
 * fd of a non-empty state file, or -1 for anything else (missing, empty, a
 * link, refused, or no openat2 here): the step-by-step path below then
 * tells those cases apart and logs them. Saves opening and closing the
 * bundle directory and a second stat per bundle on a first scan. */
static int runtime_open_state_file(const runtime_state_t *rs,
                                   const runtime_layout_t *l, int layout_fd,
                                   const char *id, struct stat *st) {
  char rel[PATH_MAX];
  runtime_state_file_path(l, id, rel, sizeof(rel));
  int fd = safe_file_open_beneath(layout_fd, rel, &rs->policy, st);
  if (fd >= 0 && st->st_size == 0) {
    close(fd);
    return -1;
  }
  return fd < 0 ? -1 : fd;
}

/* Reads one bundle of a layout. Returns 0 if the container is now known,
 * -ENOENT if the bundle or its file does not exist (yet), other -errno. */
static int runtime_read_bundle(runtime_state_t *rs, size_t li, int layout_fd,
                               const char *id, cdtime_t now) {
  runtime_layout_t *l = &rs->layouts[li];
  container_entry_t *n = container_table_find(&rs->table, id);
  (void)now;
  if (runtime_bundle_unchanged(l, li, layout_fd, id, n)) {
    runtime_bundle_seen(l, n);
    return 0;
  }
  char where[PATH_MAX];
  snprintf(where, sizeof(where), "%s/%s", l->path, id);

  struct stat st;
  runtime_container_t parsed;
  int fd = runtime_open_state_file(rs, l, layout_fd, id, &st);
  if (fd >= 0) {
    int status = 0;
    if (!runtime_file_unchanged(n, li, &st)) {
      int parse = runtime_json_parse_fd(fd, l->def->file, l->def->kind,
                                        &rs->policy, where, &parsed);
      status = runtime_record_bundle(rs, li, id, &n, &parsed, parse, &st);
    }
    close(fd);
    if (status == 0)
      runtime_bundle_seen(l, n);
    return status;
  }

  /* O_NOFOLLOW on every component: a bundle replaced by a symlink (or a
   * symlinked userdata dir) is refused, so no read leaves the state dir.
   * rootfs/ and work are never opened. */
  int bundle_fd = safe_dir_open(layout_fd, id);
  if (bundle_fd < 0) {
    if (bundle_fd == -ELOOP || bundle_fd == -ENOTDIR) {
      char key[PATH_MAX + 32];
      snprintf(key, sizeof(key), "runtime_state:bundle-link:%s", where);
      log_once(LOG_WARNING, key,
               "nfs_ebpf plugin: ignoring %s: not a directory (symbolic link?)",
               where);
    }
    return bundle_fd;
  }
  int file_dir = bundle_fd;
  if (l->def->inner_dir != NULL) {
    file_dir = safe_dir_open(bundle_fd, l->def->inner_dir);
    if (file_dir < 0) {
      close(bundle_fd);
      return file_dir;
    }
  }

  int status = 0;
  bool have_st = fstatat(file_dir, l->def->file, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (!have_st || (S_ISREG(st.st_mode) && st.st_size == 0)) {
    /* An empty file is one being written (created, not filled yet): wait
     * for it like for a missing one rather than log it as invalid. */
    status = have_st ? -ENOENT : -errno;
  } else if (!runtime_file_unchanged(n, li, &st)) {
    int parse = runtime_json_parse_file(file_dir, l->def->file, l->def->kind,
                                        &rs->policy, where, &parsed);
    status = parse == -ENOENT
                 ? -ENOENT
                 : runtime_record_bundle(rs, li, id, &n, &parsed, parse, &st);
  }
  if (status == 0)
    runtime_bundle_seen(l, n);
  if (file_dir != bundle_fd)
    close(file_dir);
  close(bundle_fd);
  return status;
}

/* Opens (or re-opens) a layout directory and its inotify watch. */
static void runtime_layout_open(runtime_state_t *rs, runtime_layout_t *l,
                                const char *root) {
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
  /* The configured state dir itself is trusted (the admin chose it); the
   * components below it are opened without following links. */
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char sub[128];
  sstrncpy(sub, l->def->subdir, sizeof(sub));
  char *save = NULL;
  for (char *c = strtok_r(sub, "/", &save); fd >= 0 && c != NULL;
       c = strtok_r(NULL, "/", &save)) {
    int next = safe_dir_open(fd, c);
    close(fd);
    fd = next;
  }
  l->fd = fd < 0 ? -1 : fd;
  if (l->fd >= 0 && rs->inotify_fd >= 0 && l->wd < 0) {
    l->wd = inotify_add_watch(rs->inotify_fd, l->path,
                              IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                  IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                                  IN_ONLYDIR | IN_DONT_FOLLOW);
    if (l->wd < 0)
      log_once(LOG_INFO, "runtime_state:inotify",
               "nfs_ebpf plugin: cannot watch %s (%s); relying on periodic "
               "rescans",
               l->path, strerror(errno));
  }
}

/* A bundle whose state file is not there yet: watch the bundle directory
 * (and CRI-O's userdata/ if it exists), so that writing the file, or
 * creating userdata/, re-lists the layout at once. */
static void runtime_watch_bundle(runtime_state_t *rs, size_t li,
                                 const char *id) {
  if (rs->inotify_fd < 0)
    return;
  const runtime_layout_t *l = &rs->layouts[li];
  for (int inner = 0; inner < (l->def->inner_dir ? 2 : 1); inner++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s%s%s", l->path, id, inner ? "/" : "",
             inner ? l->def->inner_dir : "");
    int wd = inotify_add_watch(rs->inotify_fd, path, RUNTIME_BUNDLE_MASK);
    if (wd < 0)
      continue; /* no userdata/ yet, or no watches left: retried at ticks */
    bool known = false;
    for (size_t i = 0; i < rs->n_bundle_watches && !known; i++)
      known = rs->bundle_watches[i].wd == wd;
    if (known)
      continue;
    if (rs->n_bundle_watches >= rs->max_bundle_watches) {
      inotify_rm_watch(rs->inotify_fd, wd);
      log_once(LOG_INFO, "runtime_state:bundle-watches",
               "nfs_ebpf plugin: more than %zu bundles waiting for their "
               "state file; the others are retried once per read",
               rs->max_bundle_watches);
      return;
    }
    runtime_bundle_watch_t *w = &rs->bundle_watches[rs->n_bundle_watches++];
    w->wd = wd;
    w->layout = li;
    sstrncpy(w->id, id, sizeof(w->id));
  }
}

static void runtime_bundle_watch_drop(runtime_state_t *rs, size_t i, bool rm) {
  if (rm)
    inotify_rm_watch(rs->inotify_fd, rs->bundle_watches[i].wd);
  rs->bundle_watches[i] = rs->bundle_watches[--rs->n_bundle_watches];
}

/* The bundle's state file was read: its watches are no longer needed. */
static void runtime_unwatch_bundle(runtime_state_t *rs, const char *id) {
  for (size_t i = 0; i < rs->n_bundle_watches;) {
    if (strcmp(rs->bundle_watches[i].id, id) == 0)
      runtime_bundle_watch_drop(rs, i, true);
    else
      i++;
  }
}

static void runtime_lock(const runtime_state_t *rs) {
  if (rs->lock != NULL)
    pthread_mutex_lock(rs->lock);
}

static void runtime_unlock(const runtime_state_t *rs) {
  if (rs->lock != NULL)
    pthread_mutex_unlock(rs->lock);
}

void runtime_state_set_lock(runtime_state_t *rs, pthread_mutex_t *lock,
                            void (*scan_hook)(void *ctx), void *ctx) {
  rs->lock = lock;
  rs->scan_hook = scan_hook;
  rs->scan_hook_ctx = ctx;
}

/* Lists one layout directory and reads every bundle in it. The listing is
 * done without the owner's lock, and the lock is released between
 * bundles: a lookup waits for one bundle's read at most, never for the
 * scan of a node's thousands of containers. */
static void runtime_layout_scan(runtime_state_t *rs, size_t li, cdtime_t now) {
  runtime_layout_t *l = &rs->layouts[li];
  l->dirty = false;
  if (l->fd < 0)
    return;
  int list_fd = openat(l->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = list_fd >= 0 ? fdopendir(list_fd) : NULL;
  if (dir == NULL) {
    if (list_fd >= 0)
      close(list_fd);
    return;
  }
  /* Bundles read from now on, by this scan or meanwhile by a lookup or
   * another scan, have seen_scan >= scan. */
  uint64_t scan = ++l->scan;
  bool hooked = false;
  for (;;) {
    char name[SAFE_FILE_MAX_NAME + 2];
    runtime_unlock(rs);
    if (!hooked && rs->scan_hook != NULL) {
      hooked = true;
      rs->scan_hook(rs->scan_hook_ctx);
    }
    struct dirent *de = readdir(dir);
    if (de != NULL)
      sstrncpy(name, de->d_name, sizeof(name));
    runtime_lock(rs);
    if (de == NULL)
      break;
    if (name[0] == '.')
      continue;
    if (!safe_file_name_ok(name, SAFE_FILE_MAX_NAME)) {
      char key[PATH_MAX + 32];
      snprintf(key, sizeof(key), "runtime_state:badname:%s", l->path);
      log_once(LOG_WARNING, key,
               "nfs_ebpf plugin: ignoring entries with unexpected names in %s",
               l->path);
      continue;
    }
    /* Cgroup paths only ever name 64-hex ids; other entries (non-CRI
     * containers, runtime housekeeping) cannot be matched anyway. */
    if (!runtime_id_ok(name))
      continue;
    if (l->fd < 0)
      break; /* closed meanwhile (the layout went away): a rescan follows */
    int status = runtime_read_bundle(rs, li, l->fd, name, now);
    const container_entry_t *n =
        status == 0 ? container_table_find(&rs->table, name) : NULL;
    if (status == -ENOENT) {
      l->dirty = true; /* created, config not written yet: retry soon */
      runtime_watch_bundle(rs, li, name);
    } else if (n != NULL && n->failed) {
      /* maybe read while being written: its close is worth an event */
      runtime_watch_bundle(rs, li, name);
    } else if (rs->n_bundle_watches > 0) {
      runtime_unwatch_bundle(rs, name);
    }
  }
  closedir(dir);
  container_table_end_unseen(&rs->table, li, scan, now);
}

runtime_state_t *runtime_state_create(const runtime_state_config_t *cfg) {
  runtime_state_t *rs = calloc(1, sizeof(*rs));
  if (rs == NULL)
    return NULL;
  const char *const *dirs = cfg->state_dirs;
  size_t n_dirs = cfg->n_state_dirs;
  if (dirs == NULL) {
    dirs = runtime_state_default_dirs;
    for (n_dirs = 0; dirs[n_dirs] != NULL; n_dirs++)
      ;
  }
  rs->policy.max_size = cfg->max_file_size;
  rs->policy.any_owner = cfg->any_owner;
  if (container_table_init(&rs->table, cfg->max_containers
                                           ? cfg->max_containers
                                           : RUNTIME_DEFAULT_MAX_CONTAINERS) !=
      0) {
    free(rs);
    return NULL;
  }
  rs->tombstone_ttl = cfg->tombstone_ttl;
  rs->max_bundle_watches = cfg->max_bundle_watches;
  if (rs->max_bundle_watches == 0 ||
      rs->max_bundle_watches > RUNTIME_MAX_BUNDLE_WATCHES)
    rs->max_bundle_watches = RUNTIME_MAX_BUNDLE_WATCHES;
  rs->inotify_fd = -1;
  if (!cfg->no_inotify) {
    rs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rs->inotify_fd < 0)
      WARNING("nfs_ebpf plugin: inotify_init1 failed (%s); runtime state is "
              "refreshed by periodic rescans only",
              strerror(errno));
  }
  rs->layouts = calloc(n_dirs * RUNTIME_N_LAYOUTS, sizeof(*rs->layouts));
  if (rs->layouts == NULL) {
    runtime_state_destroy(rs);
    return NULL;
  }
  for (size_t d = 0; d < n_dirs; d++) {
    for (size_t k = 0; k < RUNTIME_N_LAYOUTS; k++) {
      runtime_layout_t *l = &rs->layouts[rs->n_layouts++];
      char dir[PATH_MAX], path[PATH_MAX];
      snprintf(dir, sizeof(dir), "%s/%s", dirs[d],
               runtime_layout_defs[k].subdir);
      host_path(path, sizeof(path), cfg->host_root, dir);
      l->def = &runtime_layout_defs[k];
      l->path = strdup(path);
      l->fd = -1;
      l->wd = -1;
      if (l->path == NULL) {
        runtime_state_destroy(rs);
        return NULL;
      }
    }
  }
  return rs;
}

void runtime_state_destroy(runtime_state_t *rs) {
  if (rs == NULL)
    return;
  for (size_t i = 0; i < rs->n_layouts; i++) {
    if (rs->layouts[i].fd >= 0)
      close(rs->layouts[i].fd);
    free(rs->layouts[i].path);
  }
  free(rs->layouts);
  if (rs->inotify_fd >= 0)
    close(rs->inotify_fd);
  container_table_destroy(&rs->table);
  free(rs);
}

/* The state dir a layout belongs to: its path without the layout suffix. */
static void runtime_layout_root(const runtime_layout_t *l, char *root,
                                size_t size) {
  sstrncpy(root, l->path, size);
  size_t pl = strlen(root), sl = strlen(l->def->subdir);
  if (pl > sl)
    root[pl - sl - 1] = '\0';
}

int runtime_state_rescan(runtime_state_t *rs, cdtime_t now) {
  if (rs == NULL)
    return -EINVAL;
  container_table_drop_misses(&rs->table);
  for (size_t i = 0; i < rs->n_layouts; i++) {
    char root[PATH_MAX];
    runtime_layout_root(&rs->layouts[i], root, sizeof(root));
    runtime_layout_open(rs, &rs->layouts[i], root);
    if (rs->layouts[i].fd < 0) {
      /* gone (or never there): everything it held has ended (no entry has
       * seen a scan newer than the last) */
      container_table_end_unseen(&rs->table, i, ++rs->layouts[i].scan, now);
      continue;
    }
    runtime_layout_scan(rs, i, now);
  }
  return (int)container_table_live(&rs->table);
}

typedef struct {
  runtime_state_t *rs;
  bool overflow; /* events lost, or a state dir to open again */
} runtime_poll_t;

/* One inotify event of the state dirs' and bundles' watches. A state dir
 * gone (or moved) sets overflow: its directory must be opened again. */
static void runtime_watch_event(const struct inotify_event *ev, void *arg) {
  runtime_poll_t *poll = arg;
  runtime_state_t *rs = poll->rs;
  for (size_t i = 0; i < rs->n_bundle_watches; i++) {
    runtime_bundle_watch_t *w = &rs->bundle_watches[i];
    if (w->wd != ev->wd)
      continue;
    /* the file closed after writing, or renamed into place (Docker),
     * or CRI-O's userdata/ created: not a file just opened */
    if ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) ||
        (ev->mask & (IN_CREATE | IN_ISDIR)) == (IN_CREATE | IN_ISDIR))
      rs->layouts[w->layout].dirty = true;
    if (ev->mask & IN_IGNORED) /* bundle removed */
      runtime_bundle_watch_drop(rs, i, false);
    break;
  }
  for (size_t i = 0; i < rs->n_layouts; i++) {
    if (rs->layouts[i].wd != ev->wd)
      continue;
    rs->layouts[i].dirty = true;
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
      rs->layouts[i].wd = -1;
      poll->overflow = true; /* re-open the layout dirs */
    }
  }
}

int runtime_state_poll(runtime_state_t *rs, cdtime_t now) {
  if (rs == NULL)
    return -EINVAL;
  runtime_poll_t poll = {.rs = rs};
  if (rs->inotify_fd >= 0 &&
      inotify_drain(rs->inotify_fd, runtime_watch_event, &poll))
    poll.overflow = true;
  int relisted = 0;
  if (poll.overflow) {
    /* Events were lost: only a full rescan is right. */
    log_once(LOG_INFO, "runtime_state:overflow",
             "nfs_ebpf plugin: runtime state changed faster than inotify "
             "reported it; rescanning all state dirs");
    runtime_state_rescan(rs, now);
    relisted = (int)rs->n_layouts;
  } else {
    for (size_t i = 0; i < rs->n_layouts; i++) {
      if (rs->layouts[i].dirty) {
        runtime_layout_scan(rs, i, now);
        relisted++;
      }
    }
  }
  container_table_expire(&rs->table, now, rs->tombstone_ttl);
  return relisted;
}

int runtime_state_inotify_fd(const runtime_state_t *rs) {
  return rs ? rs->inotify_fd : -1;
}

const runtime_container_t *runtime_state_find(runtime_state_t *rs,
                                              const char *id, cdtime_t now) {
  if (rs == NULL || id == NULL || !runtime_id_ok(id))
    return NULL;
  container_entry_t *n = container_table_find(&rs->table, id);
  if (n != NULL && !n->missing && n->c.alive &&
      rs->layouts[n->layout].fd >= 0) {
    /* The caller may keep the answer for a cgroup's lifetime, and the file
     * may have been read early (by the watcher, mid-write) or replaced
     * since (rename, symbolic link): check it again, a stat, and a parse
     * only if it changed. A bundle gone meanwhile keeps its last answer. */
    size_t li = n->layout;
    (void)runtime_read_bundle(rs, li, rs->layouts[li].fd, id, now);
    n = container_table_find(&rs->table, id);
  }
  if (n != NULL)
    return n->missing ? NULL : &n->c;

  /* On demand: the bundle may have appeared since the last scan. */
  for (size_t i = 0; i < rs->n_layouts; i++) {
    runtime_layout_t *l = &rs->layouts[i];
    if (l->fd < 0) {
      char root[PATH_MAX];
      runtime_layout_root(l, root, sizeof(root));
      runtime_layout_open(rs, l, root);
      if (l->fd < 0)
        continue;
    }
    if (runtime_read_bundle(rs, i, l->fd, id, now) == 0) {
      n = container_table_find(&rs->table, id);
      return n ? &n->c : NULL;
    }
  }
  /* Remember the miss until the next full rescan, so an id that belongs to
   * no runtime costs no file system work per interval. */
  if ((n = container_table_add(&rs->table, id)) != NULL)
    n->missing = true;
  return NULL;
}

const runtime_container_t *runtime_state_find_pod(runtime_state_t *rs,
                                                  const char *pod_uid) {
  if (rs == NULL || pod_uid == NULL || pod_uid[0] == '\0')
    return NULL;
  return container_table_find_pod(&rs->table, pod_uid);
}

size_t runtime_state_count(const runtime_state_t *rs) {
  return rs ? rs->table.count : 0;
}
