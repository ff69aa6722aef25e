/*
 * cgroup id -> path index of one hierarchy: see cgroup_index.h.
 */
/* name_to_handle_at() and open_by_handle_at() are GNU extensions; the
 * define must precede the first system header, which collectd's pull in. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "collectd_compat.h"

#include "cgroup_index.h"
#include "log_once.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Handle type of kernfs (cgroup) directories, include/linux/exportfs.h. */
#define CGROUP_FILEID_KERNFS 0xfe

#define CGROUP_WATCH_BUCKETS 1024
#define CGROUP_WATCH_MASK                                                      \
  (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |      \
   IN_ONLYDIR)

/* One watched directory: the inotify wd and what it names. */
typedef struct cgroup_watch_s {
  int wd;
  uint64_t id;
  char *path;
  struct cgroup_watch_s *next;
} cgroup_watch_t;

typedef struct cgroup_node_s {
  cgroup_index_entry_t e;
  uint64_t seen_scan; /* scan number that last saw it */
  struct cgroup_node_s *next;
} cgroup_node_t;

struct cgroup_index_s {
  char *mount_path;
  int mount_fd;
  bool kernfs;          /* ids come from FILEID_KERNFS handles */
  char *mount_link;     /* the mount as /proc/self/fd shows it */
  cgroup_node_t **buckets;
  size_t n_buckets;     /* power of two */
  size_t count;
  size_t max_entries;
  uint64_t scan;        /* number of the scan in progress / last done */
  uint64_t next_serial;
  /* inotify (cgroup_index_watch_start) */
  int inotify_fd;       /* -1: not watching */
  size_t max_watches;
  size_t n_watches;
  cgroup_watch_t *watches[CGROUP_WATCH_BUCKETS]; /* by wd */
  /* per walk */
  size_t walk_visited;
  bool walk_complete;
  cdtime_t walk_now;
};

/* The kernfs file handle of a cgroup directory (name "" = dirfd itself):
 * its 8 bytes are the cgroup id on every kernel. Returns true and fills id
 * for a kernfs directory, false otherwise (not kernfs, or no handles). */
static bool cgroup_kernfs_id_at(int dirfd, const char *name, uint64_t *id) {
  bool self = name == NULL || name[0] == '\0';
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(dirfd, self ? "" : name, &h.fh, &mount_id,
                        self ? AT_EMPTY_PATH : 0) != 0 ||
      h.fh.handle_type != CGROUP_FILEID_KERNFS || h.fh.handle_bytes != 8)
    return false;
  memcpy(id, h.fh.f_handle, sizeof(*id));
  return true;
}

int cgroup_id_at(int dirfd, const char *name, uint64_t *id) {
  if (cgroup_kernfs_id_at(dirfd, name, id))
    return 0;
  /* Not kernfs (or no handle support): the inode number is the id that a
   * test tree in a temp dir is built with. */
  bool self = name == NULL || name[0] == '\0';
  struct stat st;
  if (fstatat(dirfd, self ? "" : name, &st,
              AT_SYMLINK_NOFOLLOW | (self ? AT_EMPTY_PATH : 0)) != 0)
    return -errno;
  *id = (uint64_t)st.st_ino;
  return 0;
}

static bool cgroup_fd_is_kernfs(int fd) {
  uint64_t unused;
  return cgroup_kernfs_id_at(fd, "", &unused);
}

static char *cgroup_fd_link(int fd) {
  char proc[64], buf[PATH_MAX];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
  if (n <= 0 || (size_t)n >= sizeof(buf) - 1)
    return NULL;
  buf[n] = '\0';
  return strdup(buf);
}

static size_t cgroup_bucket(const cgroup_index_t *idx, uint64_t id) {
  uint64_t h = id * 0x9E3779B97F4A7C15ULL; /* spread sequential inodes */
  return (size_t)(h >> 20) & (idx->n_buckets - 1);
}

cgroup_index_t *cgroup_index_create(const char *mount_path, size_t max_entries) {
  int fd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    ERROR("nfs_ebpf plugin: cannot open cgroup hierarchy %s: %s", mount_path,
          strerror(errno));
    return NULL;
  }
  cgroup_index_t *idx = calloc(1, sizeof(*idx));
  if (idx == NULL) {
    close(fd);
    return NULL;
  }
  idx->mount_fd = fd;
  idx->inotify_fd = -1;
  idx->mount_path = strdup(mount_path);
  idx->kernfs = cgroup_fd_is_kernfs(fd);
  idx->mount_link = cgroup_fd_link(fd);
  idx->max_entries = max_entries ? max_entries : CGROUP_INDEX_DEFAULT_MAX_ENTRIES;
  idx->n_buckets = 1024;
  while (idx->n_buckets < idx->max_entries / 2)
    idx->n_buckets <<= 1;
  idx->buckets = calloc(idx->n_buckets, sizeof(*idx->buckets));
  if (idx->mount_path == NULL || idx->buckets == NULL) {
    cgroup_index_destroy(idx);
    return NULL;
  }
  return idx;
}

void cgroup_index_destroy(cgroup_index_t *idx) {
  if (idx == NULL)
    return;
  for (size_t b = 0; idx->buckets != NULL && b < idx->n_buckets; b++) {
    for (cgroup_node_t *n = idx->buckets[b], *next; n != NULL; n = next) {
      next = n->next;
      free((char *)n->e.path);
      free(n);
    }
  }
  free(idx->buckets);
  for (size_t b = 0; b < CGROUP_WATCH_BUCKETS; b++)
    for (cgroup_watch_t *w = idx->watches[b], *next; w != NULL; w = next) {
      next = w->next;
      free(w->path);
      free(w);
    }
  if (idx->inotify_fd >= 0)
    close(idx->inotify_fd);
  if (idx->mount_fd >= 0)
    close(idx->mount_fd);
  free(idx->mount_path);
  free(idx->mount_link);
  free(idx);
}

static cgroup_node_t *cgroup_node_find(const cgroup_index_t *idx, uint64_t id) {
  for (cgroup_node_t *n = idx->buckets[cgroup_bucket(idx, id)]; n; n = n->next)
    if (n->e.id == id)
      return n;
  return NULL;
}

static void cgroup_node_remove(cgroup_index_t *idx, cgroup_node_t *victim) {
  cgroup_node_t **pp = &idx->buckets[cgroup_bucket(idx, victim->e.id)];
  while (*pp != victim)
    pp = &(*pp)->next;
  *pp = victim->next;
  free((char *)victim->e.path);
  free(victim);
  idx->count--;
}

/* Makes room by evicting the tombstone that died first. */
static bool cgroup_evict_oldest_tombstone(cgroup_index_t *idx) {
  cgroup_node_t *oldest = NULL;
  for (size_t b = 0; b < idx->n_buckets; b++)
    for (cgroup_node_t *n = idx->buckets[b]; n; n = n->next)
      if (!n->e.alive && (oldest == NULL || n->e.dead_since < oldest->e.dead_since))
        oldest = n;
  if (oldest == NULL)
    return false;
  cgroup_node_remove(idx, oldest);
  return true;
}

/* Records that id is live at path now. */
static int cgroup_index_record(cgroup_index_t *idx, uint64_t id, const char *path) {
  cgroup_node_t *n = cgroup_node_find(idx, id);
  if (n != NULL) {
    if (strcmp(n->e.path, path) != 0) {
      /* Same id, other cgroup: never let the old name leak into the new
       * one. The serial tells cached resolutions they are stale. */
      char *copy = strdup(path);
      if (copy == NULL)
        return -ENOMEM;
      log_once(LOG_INFO, "cgroup_index:reused",
               "nfs_ebpf plugin: cgroup id %" PRIu64 " now names %s (was %s)",
               id, path, n->e.path);
      free((char *)n->e.path);
      n->e.path = copy;
      n->e.serial = ++idx->next_serial;
    } else if (!n->e.alive) {
      n->e.serial = ++idx->next_serial; /* came back: treat as new */
    }
    n->e.alive = true;
    n->e.dead_since = 0;
    n->seen_scan = idx->scan;
    return 0;
  }
  if (idx->count >= idx->max_entries && !cgroup_evict_oldest_tombstone(idx)) {
    log_once(LOG_WARNING, "cgroup_index:full",
             "nfs_ebpf plugin: more than %zu cgroups under %s; the rest are "
             "reported as unresolved",
             idx->max_entries, idx->mount_path);
    return -ENOSPC;
  }
  n = calloc(1, sizeof(*n));
  if (n == NULL || (n->e.path = strdup(path)) == NULL) {
    free(n);
    return -ENOMEM;
  }
  n->e.id = id;
  n->e.alive = true;
  n->e.serial = ++idx->next_serial;
  n->seen_scan = idx->scan;
  size_t b = cgroup_bucket(idx, id);
  n->next = idx->buckets[b];
  idx->buckets[b] = n;
  idx->count++;
  return 0;
}

static bool cgroup_watch_wanted(const char *path);
static bool cgroup_watch_add(cgroup_index_t *idx, int fd, const char *path,
                             uint64_t id);

static void cgroup_walk(cgroup_index_t *idx, int dirfd, char *path, size_t len,
                        int depth) {
  /* A new open file description, not dup(): a dup shares the offset, and
   * the mount's fd is listed again on every rescan. */
  int list_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0)
    return;
  DIR *dir = fdopendir(list_fd);
  if (dir == NULL) {
    close(list_fd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
      continue;
    if (++idx->walk_visited > idx->max_entries) {
      idx->walk_complete = false;
      break;
    }
    size_t nl = strlen(de->d_name);
    if (len + 1 + nl + 1 > PATH_MAX) {
      log_once(LOG_WARNING, "cgroup_index:longpath",
               "nfs_ebpf plugin: cgroup path under %s longer than %d bytes "
               "skipped", idx->mount_path, PATH_MAX);
      idx->walk_complete = false;
      continue;
    }
    /* O_NOFOLLOW: cgroupfs has no symlinks; a test tree or a bind-mounted
     * host root must not lead the walk elsewhere. */
    int child = openat(dirfd, de->d_name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0)
      continue; /* removed meanwhile, or not a directory */
    uint64_t id;
    size_t child_len = len;
    if (len > 1)
      path[child_len++] = '/';
    memcpy(path + child_len, de->d_name, nl + 1);
    child_len += nl;
    if (cgroup_id_at(child, NULL, &id) == 0) {
      (void)cgroup_index_record(idx, id, path);
      if (idx->inotify_fd >= 0 && cgroup_watch_wanted(path))
        (void)cgroup_watch_add(idx, child, path, id);
    }
    if (depth + 1 < CGROUP_INDEX_MAX_DEPTH)
      cgroup_walk(idx, child, path, child_len, depth + 1);
    else
      idx->walk_complete = false;
    path[len] = '\0';
    close(child);
  }
  closedir(dir);
}

int cgroup_index_rescan(cgroup_index_t *idx, cdtime_t now) {
  if (idx == NULL)
    return -EINVAL;
  char *path = malloc(PATH_MAX);
  if (path == NULL)
    return -ENOMEM;
  idx->scan++;
  idx->walk_visited = 0;
  idx->walk_complete = true;
  idx->walk_now = now;

  uint64_t root_id;
  if (cgroup_id_at(idx->mount_fd, NULL, &root_id) == 0) {
    (void)cgroup_index_record(idx, root_id, "/");
    if (idx->inotify_fd >= 0)
      (void)cgroup_watch_add(idx, idx->mount_fd, "/", root_id);
  }
  path[0] = '/';
  path[1] = '\0';
  cgroup_walk(idx, idx->mount_fd, path, 1, 0);
  free(path);

  int live = 0;
  for (size_t b = 0; b < idx->n_buckets; b++) {
    for (cgroup_node_t *n = idx->buckets[b]; n; n = n->next) {
      if (n->seen_scan == idx->scan) {
        live++;
      } else if (n->e.alive && idx->walk_complete) {
        /* Only a complete walk may declare a cgroup gone. */
        n->e.alive = false;
        n->e.dead_since = now ? now : 1;
      }
    }
  }
  return live;
}

int cgroup_index_resolve(cgroup_index_t *idx, uint64_t id, cdtime_t now) {
  (void)now;
  if (idx == NULL)
    return -EINVAL;
  if (!idx->kernfs || idx->mount_link == NULL)
    return -EOPNOTSUPP;
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + 8];
  } h;
  h.fh.handle_bytes = 8;
  h.fh.handle_type = CGROUP_FILEID_KERNFS;
  memcpy(h.fh.f_handle, &id, sizeof(id));
  int fd = open_by_handle_at(idx->mount_fd, &h.fh,
                             O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ESTALE || errno == ENOENT)
      return -ENOENT;
    return -EOPNOTSUPP; /* EPERM without CAP_DAC_READ_SEARCH, old kernels */
  }
  char *link = cgroup_fd_link(fd);
  uint64_t check = 0;
  int status = cgroup_id_at(fd, NULL, &check);
  close(fd);
  if (link == NULL || status != 0 || check != id) {
    free(link);
    return -EOPNOTSUPP;
  }
  size_t ml = strlen(idx->mount_link);
  const char *rel = NULL;
  if (strncmp(link, idx->mount_link, ml) == 0) {
    if (link[ml] == '\0')
      rel = "/";
    else if (link[ml] == '/' || strcmp(idx->mount_link, "/") == 0)
      rel = link + ml - (link[ml] == '/' ? 0 : 1);
  }
  /* A removed directory reads back as "<path> (deleted)". */
  size_t ll = strlen(link);
  bool deleted = ll > 10 && strcmp(link + ll - 10, " (deleted)") == 0;
  if (rel == NULL || deleted) {
    free(link);
    return rel == NULL ? -EOPNOTSUPP : -ENOENT;
  }
  status = cgroup_index_record(idx, id, rel);
  free(link);
  return status;
}

const cgroup_index_entry_t *cgroup_index_find(const cgroup_index_t *idx,
                                              uint64_t id) {
  if (idx == NULL)
    return NULL;
  cgroup_node_t *n = cgroup_node_find(idx, id);
  return n ? &n->e : NULL;
}

size_t cgroup_index_expire(cgroup_index_t *idx, cdtime_t now, cdtime_t ttl) {
  size_t dropped = 0;
  if (idx == NULL)
    return 0;
  for (size_t b = 0; b < idx->n_buckets; b++) {
    for (cgroup_node_t **pp = &idx->buckets[b]; *pp != NULL;) {
      cgroup_node_t *n = *pp;
      if (!n->e.alive && now > n->e.dead_since && now - n->e.dead_since > ttl) {
        *pp = n->next;
        free((char *)n->e.path);
        free(n);
        idx->count--;
        dropped++;
      } else {
        pp = &n->next;
      }
    }
  }
  return dropped;
}

size_t cgroup_index_count(const cgroup_index_t *idx) {
  return idx ? idx->count : 0;
}

/* ---------------------------------------------------------------------- */
/* inotify on the pods' subtree                                           */

/* Pods live below kubelet's "kubepods" cgroup (kubepods.slice with the
 * systemd driver); only that subtree is watched. */
static bool cgroup_watch_wanted(const char *path) {
  for (const char *p = path; (p = strchr(p, '/')) != NULL;) {
    p++;
    if (strncmp(p, "kubepods", strlen("kubepods")) == 0)
      return true;
  }
  return false;
}

static size_t cgroup_watch_bucket(int wd) {
  return (size_t)wd & (CGROUP_WATCH_BUCKETS - 1);
}

static cgroup_watch_t *cgroup_watch_find(const cgroup_index_t *idx, int wd) {
  for (cgroup_watch_t *w = idx->watches[cgroup_watch_bucket(wd)]; w; w = w->next)
    if (w->wd == wd)
      return w;
  return NULL;
}

static cgroup_watch_t *cgroup_watch_find_path(const cgroup_index_t *idx,
                                              const char *path) {
  for (size_t b = 0; b < CGROUP_WATCH_BUCKETS; b++)
    for (cgroup_watch_t *w = idx->watches[b]; w; w = w->next)
      if (strcmp(w->path, path) == 0)
        return w;
  return NULL;
}

static void cgroup_watch_forget(cgroup_index_t *idx, int wd) {
  for (cgroup_watch_t **pp = &idx->watches[cgroup_watch_bucket(wd)]; *pp;
       pp = &(*pp)->next) {
    if ((*pp)->wd == wd) {
      cgroup_watch_t *w = *pp;
      *pp = w->next;
      free(w->path);
      free(w);
      idx->n_watches--;
      return;
    }
  }
}

/* Watches the directory open as fd (through /proc/self/fd, so the watch is
 * on the very directory that was opened). Returns true if it is watched. */
static bool cgroup_watch_add(cgroup_index_t *idx, int fd, const char *path,
                             uint64_t id) {
  if (idx->n_watches >= idx->max_watches) {
    log_once(LOG_WARNING, "cgroup_index:watch-cap",
             "nfs_ebpf plugin: more than %zu cgroups to watch under %s; pods "
             "created and removed within one read interval may be reported "
             "as unresolved",
             idx->max_watches, idx->mount_path);
    return false;
  }
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  int wd = inotify_add_watch(idx->inotify_fd, proc, CGROUP_WATCH_MASK);
  if (wd < 0) {
    if (errno == ENOSPC)
      log_once(LOG_WARNING, "cgroup_index:watch-enospc",
               "nfs_ebpf plugin: out of inotify watches (sysctl "
               "fs.inotify.max_user_watches) with %zu cgroups watched under "
               "%s; pods created and removed within one read interval may "
               "be reported as unresolved",
               idx->n_watches, idx->mount_path);
    return false;
  }
  cgroup_watch_t *w = cgroup_watch_find(idx, wd);
  if (w != NULL) { /* already watched (a rescan): keep it current */
    if (strcmp(w->path, path) != 0) {
      char *copy = strdup(path);
      if (copy == NULL)
        return true;
      free(w->path);
      w->path = copy;
    }
    w->id = id;
    return true;
  }
  w = calloc(1, sizeof(*w));
  if (w == NULL || (w->path = strdup(path)) == NULL) {
    free(w);
    inotify_rm_watch(idx->inotify_fd, wd);
    return false;
  }
  w->wd = wd;
  w->id = id;
  size_t b = cgroup_watch_bucket(wd);
  w->next = idx->watches[b];
  idx->watches[b] = w;
  idx->n_watches++;
  return true;
}

int cgroup_index_watch_start(cgroup_index_t *idx, size_t max_watches) {
  if (idx == NULL)
    return -EINVAL;
  if (idx->inotify_fd >= 0)
    return 0;
  idx->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (idx->inotify_fd < 0) {
    int err = errno;
    WARNING("nfs_ebpf plugin: inotify_init1 failed (%s); cgroups are found "
            "by periodic rescans only", strerror(err));
    return -err;
  }
  idx->max_watches = max_watches ? max_watches : idx->max_entries;
  return 0;
}

int cgroup_index_watch_fd(const cgroup_index_t *idx) {
  return idx ? idx->inotify_fd : -1;
}

size_t cgroup_index_watch_count(const cgroup_index_t *idx) {
  return idx ? idx->n_watches : 0;
}

/* Marks id, last seen at path, as ended now. */
static int cgroup_watch_gone(cgroup_index_t *idx, uint64_t id, const char *path,
                             cdtime_t now) {
  cgroup_node_t *n = cgroup_node_find(idx, id);
  if (n == NULL || !n->e.alive || strcmp(n->e.path, path) != 0)
    return 0;
  n->e.alive = false;
  n->e.dead_since = now ? now : 1;
  return 1;
}

/* A directory appeared at path (a PATH_MAX buffer of which len bytes are
 * used): record it, and watch it and what it already holds (children made
 * before the watch existed send no event). */
static int cgroup_watch_new_dir(cgroup_index_t *idx, char *path, size_t len,
                                int depth, cgroup_index_new_cb cb, void *ctx) {
  int fd = openat(idx->mount_fd, path[1] ? path + 1 : ".",
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0; /* gone already: nothing left to learn */
  int changed = 0;
  uint64_t id;
  if (cgroup_id_at(fd, NULL, &id) != 0 || cgroup_index_record(idx, id, path) != 0) {
    close(fd);
    return 0;
  }
  changed++;
  if (cb != NULL)
    cb(ctx, id);
  if (!cgroup_watch_wanted(path) || depth + 1 >= CGROUP_INDEX_MAX_DEPTH ||
      !cgroup_watch_add(idx, fd, path, id)) {
    close(fd);
    return changed;
  }
  int list_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = list_fd >= 0 ? fdopendir(list_fd) : NULL;
  if (dir == NULL) {
    if (list_fd >= 0)
      close(list_fd);
    close(fd);
    return changed;
  }
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] == '.' &&
        (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
      continue;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
      continue;
    size_t nl = strlen(de->d_name);
    if (len + 1 + nl + 1 > PATH_MAX)
      continue;
    size_t child_len = len;
    if (len > 1)
      path[child_len++] = '/';
    memcpy(path + child_len, de->d_name, nl + 1);
    changed += cgroup_watch_new_dir(idx, path, child_len + nl, depth + 1, cb, ctx);
    path[len] = '\0';
  }
  closedir(dir);
  close(fd);
  return changed;
}

int cgroup_index_watch_poll(cgroup_index_t *idx, cdtime_t now,
                            cgroup_index_new_cb cb, void *ctx) {
  if (idx == NULL || idx->inotify_fd < 0)
    return 0;
  char *path = malloc(PATH_MAX);
  if (path == NULL)
    return -ENOMEM;
  int changed = 0;
  bool overflow = false;
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t len = read(idx->inotify_fd, buf, sizeof(buf));
    if (len <= 0)
      break; /* EAGAIN: drained */
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      p += sizeof(*ev) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      cgroup_watch_t *w = cgroup_watch_find(idx, ev->wd);
      if (w == NULL)
        continue;
      if (ev->mask & IN_IGNORED) { /* removed (or unmounted) */
        cgroup_watch_forget(idx, ev->wd);
        continue;
      }
      if (ev->mask & IN_DELETE_SELF) {
        changed += cgroup_watch_gone(idx, w->id, w->path, now);
        continue;
      }
      if (ev->len == 0 || !(ev->mask & IN_ISDIR))
        continue;
      size_t pl = strlen(w->path), nl = strlen(ev->name);
      if (pl + 1 + nl + 1 > PATH_MAX)
        continue;
      memcpy(path, w->path, pl);
      size_t n = pl;
      if (pl > 1)
        path[n++] = '/';
      memcpy(path + n, ev->name, nl + 1);
      n += nl;
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        int depth = 0;
        for (const char *c = path; *c; c++)
          depth += *c == '/';
        changed += cgroup_watch_new_dir(idx, path, n, depth - 1, cb, ctx);
      } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        cgroup_watch_t *child = cgroup_watch_find_path(idx, path);
        if (child != NULL)
          changed += cgroup_watch_gone(idx, child->id, child->path, now);
      }
    }
  }
  free(path);
  if (overflow) {
    /* Events were lost: only a full walk is right. */
    log_once(LOG_INFO, "cgroup_index:overflow",
             "nfs_ebpf plugin: cgroups changed faster than inotify reported "
             "them; rescanning %s", idx->mount_path);
    int live = cgroup_index_rescan(idx, now);
    if (live > 0)
      changed += live;
  }
  return changed;
}
