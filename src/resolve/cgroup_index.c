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
#include "cgroup_path.h"
#include "hash.h"
#include "inotify_drain.h"
#include "log_once.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Handle type of kernfs (cgroup) directories, include/linux/exportfs.h. */
#define CGROUP_FILEID_KERNFS 0xfe

/* The index is sized once for max_entries, at least this many buckets. */
#define CGROUP_INDEX_MIN_BUCKETS 1024
#define CGROUP_WATCH_BUCKETS 1024
#define CGROUP_WATCH_MASK                                                      \
  (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |      \
   IN_ONLYDIR)

/* One watched directory: the inotify wd and what it names. */
typedef struct cgroup_watch_s {
  int wd;
  uint64_t id;
  char *path;
  size_t below_recorded; /* a container's: children recorded from events */
  hash_node_t node;      /* in idx->watches, hashed by wd */
} cgroup_watch_t;

typedef struct cgroup_node_s {
  cgroup_index_entry_t e;
  uint64_t seen_scan; /* scan number that last saw it */
  hash_node_t node;   /* in idx->nodes, hashed by cgroup_hash(id) */
} cgroup_node_t;

#define CGROUP_NODE_OF(n) HASH_ENTRY(n, cgroup_node_t, node)
#define CGROUP_WATCH_OF(n) HASH_ENTRY(n, cgroup_watch_t, node)

struct cgroup_index_s {
  char *mount_path;
  int mount_fd;
  bool kernfs;        /* ids come from FILEID_KERNFS handles */
  char *mount_link;   /* the mount as /proc/self/fd shows it */
  hash_table_t nodes; /* cgroup_node_t; sized once for max_entries */
  size_t max_entries;
  uint64_t scan; /* number of the last scan started */
  uint64_t next_serial;
  pthread_mutex_t *lock; /* the owner's (cgroup_index_set_lock), or NULL */
  void (*walk_hook)(void *ctx); /* tests: once per walk, lock not held */
  void *walk_hook_ctx;
  uint64_t skipped; /* cgroups below containers left out (bounds) */
  /* inotify (cgroup_index_watch_start) */
  int inotify_fd; /* -1: not watching */
  size_t max_watches;
  bool watches_short;   /* a watch was refused (cap or ENOSPC) */
  hash_table_t watches; /* cgroup_watch_t by wd */
};

/* One walk of the hierarchy. Its state is its own, not the index's: walks
 * may overlap (the watcher's periodic one, a lookup's on-demand one) while
 * the lock is dropped between directory entries. */
typedef struct {
  cgroup_index_t *idx;
  uint64_t scan; /* entries recorded from now on have seen_scan >= scan */
  size_t visited;
  bool complete; /* may declare unseen cgroups gone */
  bool hooked;
  char **partial; /* container subtrees not walked entirely */
  size_t n_partial;
} cgroup_walk_t;

/* A listing of the subdirectories of a directory fd with getdents64
 * directly: readdir would need a second open of each directory (fdopendir
 * takes over the fd) and fdopendir's fstat and fcntl, and a rescan lists
 * thousands of them. fd must be a description of its own (its offset is
 * used), and stays the caller's. */
typedef struct {
  int fd;
  char *buf;
  long len, pos;
  bool failed; /* getdents64 failed: the listing is not complete */
} cgroup_dir_t;

#define CGROUP_DIR_BUF 32768

static bool cgroup_dir_open(cgroup_dir_t *d, int fd) {
  *d = (cgroup_dir_t){.fd = fd, .buf = malloc(CGROUP_DIR_BUF)};
  return d->buf != NULL;
}

/* The next entry that may be a directory (not "." or ".."; d_type DT_DIR
 * or unknown), or NULL at the end or on an error. */
static const struct dirent64 *cgroup_dir_next(cgroup_dir_t *d) {
  for (;;) {
    if (d->pos >= d->len) {
      ssize_t n = getdents64(d->fd, d->buf, CGROUP_DIR_BUF);
      if (n <= 0) {
        d->failed = n < 0;
        return NULL;
      }
      d->len = n;
      d->pos = 0;
    }
    const struct dirent64 *de = (const void *)(d->buf + d->pos);
    d->pos += de->d_reclen;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
      continue;
    if (de->d_name[0] == '.' &&
        (de->d_name[1] == '\0' ||
         (de->d_name[1] == '.' && de->d_name[2] == '\0')))
      continue;
    return de;
  }
}

static void cgroup_dir_close(cgroup_dir_t *d) {
  free(d->buf);
  d->buf = NULL;
}

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

/* The id of dirfd's entry name, whose fstatat is st, without opening it:
 * on kernfs its handle, else (a test tree) st_ino, as cgroup_id_at. */
static bool cgroup_id_at_stat(const cgroup_index_t *idx, int dirfd,
                              const char *name, const struct stat *st,
                              uint64_t *id) {
  if (idx->kernfs && cgroup_kernfs_id_at(dirfd, name, id))
    return true;
  *id = (uint64_t)st->st_ino;
  return true;
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

static uint64_t cgroup_hash(uint64_t id) {
  return (id * 0x9E3779B97F4A7C15ULL) >> 20; /* spread sequential inodes */
}

static void cgroup_lock(const cgroup_index_t *idx) {
  if (idx->lock != NULL)
    pthread_mutex_lock(idx->lock);
}

static void cgroup_unlock(const cgroup_index_t *idx) {
  if (idx->lock != NULL)
    pthread_mutex_unlock(idx->lock);
}

void cgroup_index_set_lock(cgroup_index_t *idx, pthread_mutex_t *lock,
                           void (*walk_hook)(void *ctx), void *ctx) {
  idx->lock = lock;
  idx->walk_hook = walk_hook;
  idx->walk_hook_ctx = ctx;
}

cgroup_index_t *cgroup_index_create(const char *mount_path,
                                    size_t max_entries) {
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
  idx->max_entries =
      max_entries ? max_entries : CGROUP_INDEX_DEFAULT_MAX_ENTRIES;
  if (idx->mount_path == NULL ||
      hash_table_init_bounded(&idx->nodes, idx->max_entries,
                              CGROUP_INDEX_MIN_BUCKETS) != 0 ||
      hash_table_init(&idx->watches, CGROUP_WATCH_BUCKETS, HASH_TABLE_FIXED) !=
          0) {
    cgroup_index_destroy(idx);
    return NULL;
  }
  return idx;
}

static void cgroup_node_free(hash_node_t *n) {
  cgroup_node_t *node = CGROUP_NODE_OF(n);
  free((char *)node->e.path);
  free(node);
}

static void cgroup_watch_free(hash_node_t *n) {
  cgroup_watch_t *w = CGROUP_WATCH_OF(n);
  free(w->path);
  free(w);
}

void cgroup_index_destroy(cgroup_index_t *idx) {
  if (idx == NULL)
    return;
  hash_table_destroy(&idx->nodes, cgroup_node_free);
  hash_table_destroy(&idx->watches, cgroup_watch_free);
  if (idx->inotify_fd >= 0)
    close(idx->inotify_fd);
  if (idx->mount_fd >= 0)
    close(idx->mount_fd);
  free(idx->mount_path);
  free(idx->mount_link);
  free(idx);
}

static bool cgroup_node_has_id(const hash_node_t *n, const void *id) {
  return CGROUP_NODE_OF(n)->e.id == *(const uint64_t *)id;
}

static cgroup_node_t *cgroup_node_find(const cgroup_index_t *idx, uint64_t id) {
  hash_node_t *n =
      hash_table_find(&idx->nodes, cgroup_hash(id), cgroup_node_has_id, &id);
  return n != NULL ? CGROUP_NODE_OF(n) : NULL;
}

static void cgroup_node_remove(cgroup_index_t *idx, cgroup_node_t *victim) {
  hash_table_remove(&idx->nodes, &victim->node);
  cgroup_node_free(&victim->node);
}

/* Makes room by evicting the tombstone that died first. */
static bool cgroup_evict_oldest_tombstone(cgroup_index_t *idx) {
  cgroup_node_t *oldest = NULL;
  HASH_TABLE_FOREACH(&idx->nodes, h, next) {
    cgroup_node_t *n = CGROUP_NODE_OF(h);
    if (!n->e.alive &&
        (oldest == NULL || n->e.dead_since < oldest->e.dead_since))
      oldest = n;
  }
  if (oldest == NULL)
    return false;
  cgroup_node_remove(idx, oldest);
  return true;
}

/* Records that id is live at path now. */
static int cgroup_index_record(cgroup_index_t *idx, uint64_t id,
                               const char *path) {
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
  if (hash_table_count(&idx->nodes) >= idx->max_entries &&
      !cgroup_evict_oldest_tombstone(idx)) {
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
  hash_table_insert(&idx->nodes, &n->node, cgroup_hash(id));
  return 0;
}

static bool cgroup_watch_wanted(const char *path);
static cgroup_watch_t *cgroup_watch_add(cgroup_index_t *idx, int fd,
                                        const char *path, uint64_t id);

/* Called with the lock held: the container at path[0..cont_len) has more
 * below it than the bounds allow; its subtree is left partly unindexed. */
static void cgroup_walk_partial(cgroup_walk_t *w, const char *path,
                                size_t cont_len) {
  cgroup_index_t *idx = w->idx;
  idx->skipped++;
  for (size_t i = 0; i < w->n_partial; i++)
    if (strncmp(w->partial[i], path, cont_len) == 0 &&
        w->partial[i][cont_len] == '\0')
      return;
  log_once(LOG_WARNING, "cgroup_index:below-container",
           "nfs_ebpf plugin: container cgroup %.*s has more than %d cgroups "
           "or %d levels below it (a delegated subtree?); the rest are not "
           "indexed or watched but resolve to that container on demand",
           (int)cont_len, path, CGROUP_INDEX_MAX_BELOW_CONTAINER,
           CGROUP_INDEX_MAX_DEPTH_BELOW_CONTAINER);
  char **grown = realloc(w->partial, (w->n_partial + 1) * sizeof(*grown));
  char *copy = strndup(path, cont_len);
  if (grown == NULL || copy == NULL) {
    /* cannot say which subtree was cut: let no cgroup be declared gone */
    free(copy);
    if (grown != NULL)
      w->partial = grown;
    w->complete = false;
    return;
  }
  w->partial = grown;
  w->partial[w->n_partial++] = copy;
}

/* Whether the walk looked at every cgroup that could be at path. */
static bool cgroup_walk_covers(const cgroup_walk_t *w, const char *path) {
  for (size_t i = 0; i < w->n_partial; i++) {
    size_t l = strlen(w->partial[i]);
    if (strncmp(path, w->partial[i], l) == 0 && path[l] == '/')
      return false;
  }
  return true;
}

/* Lists dirfd (whose path, len bytes, is in the PATH_MAX buffer path) and
 * records its subdirectories, recursively. The file system work is done
 * without the index's lock; each change to the index takes it. below: see
 * cgroup_path_below_container; budget: cgroups still allowed below the
 * container being walked, whose own path is path[0..cont_len). */
static void cgroup_walk(cgroup_walk_t *w, int dirfd, char *path, size_t len,
                        int depth, int below, size_t cont_len, size_t *budget) {
  cgroup_index_t *idx = w->idx;
  cgroup_dir_t dir;
  if (!cgroup_dir_open(&dir, dirfd)) {
    w->complete = false;
    return;
  }
  const struct dirent64 *de;
  while ((de = cgroup_dir_next(&dir)) != NULL) {
    size_t nl = strlen(de->d_name);
    char cid[CGROUP_CONTAINER_ID_LEN + 1];
    int child_below =
        below >= 0                                                   ? below + 1
        : cgroup_path_component_container(de->d_name, nl, cid, NULL) ? 0
                                                                     : -1;
    if (child_below > 0 &&
        (*budget == 0 ||
         child_below > CGROUP_INDEX_MAX_DEPTH_BELOW_CONTAINER)) {
      /* The pod's own subtree: what is left of it costs no index entry
       * and no watch (and no further listing of this directory). */
      cgroup_lock(idx);
      cgroup_walk_partial(w, path, cont_len);
      cgroup_unlock(idx);
      break;
    }
    if (++w->visited > idx->max_entries) {
      w->complete = false;
      break;
    }
    if (len + 1 + nl + 1 > PATH_MAX) {
      log_once(LOG_WARNING, "cgroup_index:longpath",
               "nfs_ebpf plugin: cgroup path under %s longer than %d bytes "
               "skipped",
               idx->mount_path, PATH_MAX);
      w->complete = false;
      continue;
    }
    /* AT_SYMLINK_NOFOLLOW, and O_NOFOLLOW below: cgroupfs has no
     * symlinks; a test tree or a bind-mounted host root must not lead the
     * walk elsewhere. */
    struct stat st;
    if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode))
      continue; /* removed meanwhile, or not a directory */
    size_t child_len = len;
    if (len > 1)
      path[child_len++] = '/';
    memcpy(path + child_len, de->d_name, nl + 1);
    child_len += nl;
    /* Down to the containers' own cgroups: their creation and removal
     * are events of their parents' watches, and what a pod makes below
     * them is its own business (resolved on demand). */
    bool watch =
        idx->inotify_fd >= 0 && child_below <= 0 && cgroup_watch_wanted(path);
    /* kernfs (and tmpfs) count a directory's subdirectories in its link
     * count: a leaf cgroup, most of them, needs no open and no listing. */
    bool descend = st.st_nlink != 2;
    int child = -1;
    if (watch || descend) {
      child = openat(dirfd, de->d_name,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        path[len] = '\0';
        continue; /* removed meanwhile */
      }
    }
    if (child_below > 0)
      (*budget)--;
    /* The id of the directory opened, where a watch is put on it: watch
     * and id must be of the same cgroup, should the name be reused. */
    uint64_t id;
    if (child >= 0 && watch
            ? cgroup_id_at(child, NULL, &id) == 0
            : cgroup_id_at_stat(idx, dirfd, de->d_name, &st, &id)) {
      cgroup_lock(idx);
      (void)cgroup_index_record(idx, id, path);
      if (watch)
        (void)cgroup_watch_add(idx, child, path, id);
      cgroup_unlock(idx);
      if (!w->hooked && idx->walk_hook != NULL) {
        w->hooked = true;
        idx->walk_hook(idx->walk_hook_ctx);
      }
    }
    size_t child_budget = CGROUP_INDEX_MAX_BELOW_CONTAINER;
    if (child >= 0 && descend && depth + 1 < CGROUP_INDEX_MAX_DEPTH)
      cgroup_walk(w, child, path, child_len, depth + 1, child_below,
                  child_below == 0 ? child_len : cont_len,
                  child_below == 0 ? &child_budget : budget);
    else if (descend)
      w->complete = false;
    path[len] = '\0';
    if (child >= 0)
      close(child);
  }
  if (dir.failed)
    w->complete = false; /* only a complete walk may declare cgroups gone */
  cgroup_dir_close(&dir);
}

int cgroup_index_rescan(cgroup_index_t *idx, cdtime_t now) {
  if (idx == NULL)
    return -EINVAL;
  char *path = malloc(PATH_MAX);
  if (path == NULL)
    return -ENOMEM;
  cgroup_walk_t w = {.idx = idx, .scan = ++idx->scan, .complete = true};

  uint64_t root_id;
  if (cgroup_id_at(idx->mount_fd, NULL, &root_id) == 0) {
    (void)cgroup_index_record(idx, root_id, "/");
    if (idx->inotify_fd >= 0)
      (void)cgroup_watch_add(idx, idx->mount_fd, "/", root_id);
  }
  path[0] = '/';
  path[1] = '\0';
  /* The walk is the slow part (a directory listing and an open per
   * cgroup): lookups must not wait for it. */
  cgroup_unlock(idx);
  /* A new open file description, not dup(): a dup shares the offset, and
   * the mount's fd is listed again on every rescan. */
  int root = openat(idx->mount_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root >= 0) {
    cgroup_walk(&w, root, path, 1, 0, -1, 0, NULL);
    close(root);
  } else {
    w.complete = false;
  }
  cgroup_lock(idx);
  free(path);

  int live = 0;
  HASH_TABLE_FOREACH(&idx->nodes, h, next) {
    cgroup_node_t *n = CGROUP_NODE_OF(h);
    /* >=: recorded meanwhile by another walk, an event or a lookup */
    if (n->seen_scan >= w.scan) {
      live++;
    } else if (n->e.alive && w.complete && cgroup_walk_covers(&w, n->e.path)) {
      /* Only a complete walk may declare a cgroup gone. */
      n->e.alive = false;
      n->e.dead_since = now ? now : 1;
    }
  }
  for (size_t i = 0; i < w.n_partial; i++)
    free(w.partial[i]);
  free(w.partial);
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
  HASH_TABLE_FOREACH(&idx->nodes, h, next) {
    cgroup_node_t *n = CGROUP_NODE_OF(h);
    if (!n->e.alive && now > n->e.dead_since && now - n->e.dead_since > ttl) {
      cgroup_node_remove(idx, n);
      dropped++;
    }
  }
  return dropped;
}

size_t cgroup_index_count(const cgroup_index_t *idx) {
  return idx ? hash_table_count(&idx->nodes) : 0;
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

/* A wd is its own hash: the kernel hands them out in sequence. */
static bool cgroup_watch_has_wd(const hash_node_t *n, const void *wd) {
  return CGROUP_WATCH_OF(n)->wd == *(const int *)wd;
}

static cgroup_watch_t *cgroup_watch_find(const cgroup_index_t *idx, int wd) {
  hash_node_t *n =
      hash_table_find(&idx->watches, (uint64_t)wd, cgroup_watch_has_wd, &wd);
  return n != NULL ? CGROUP_WATCH_OF(n) : NULL;
}

static cgroup_watch_t *cgroup_watch_find_path(const cgroup_index_t *idx,
                                              const char *path) {
  HASH_TABLE_FOREACH(&idx->watches, n, next) {
    cgroup_watch_t *w = CGROUP_WATCH_OF(n);
    if (strcmp(w->path, path) == 0)
      return w;
  }
  return NULL;
}

static void cgroup_watch_forget(cgroup_index_t *idx, int wd) {
  cgroup_watch_t *w = cgroup_watch_find(idx, wd);
  if (w == NULL)
    return;
  hash_table_remove(&idx->watches, &w->node);
  cgroup_watch_free(&w->node);
}

/* Watches the directory open as fd (through /proc/self/fd, so the watch is
 * on the very directory that was opened). Returns its watch, or NULL if it
 * is not watched: then a rescan (periodic, or on demand for an unknown id)
 * finds what is created in it. */
static cgroup_watch_t *cgroup_watch_add(cgroup_index_t *idx, int fd,
                                        const char *path, uint64_t id) {
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if (hash_table_count(&idx->watches) >= idx->max_watches) {
    /* Already watched (a rescan) costs nothing: IN_MASK_CREATE would
     * refuse it, so ask for the wd with a mask that changes nothing. */
    int wd = inotify_add_watch(idx->inotify_fd, proc,
                               CGROUP_WATCH_MASK | IN_MASK_ADD);
    cgroup_watch_t *w = wd >= 0 ? cgroup_watch_find(idx, wd) : NULL;
    if (w != NULL)
      return w;
    if (wd >= 0)
      inotify_rm_watch(idx->inotify_fd, wd);
    idx->watches_short = true;
    log_once(LOG_WARNING, "cgroup_index:watch-cap",
             "nfs_ebpf plugin: more than %zu cgroups to watch under %s "
             "(MaxInotifyWatches); the others are found by the periodic "
             "rescan and on demand, so pods created and removed within one "
             "read interval may be reported as unresolved",
             idx->max_watches, idx->mount_path);
    return NULL;
  }
  int wd = inotify_add_watch(idx->inotify_fd, proc, CGROUP_WATCH_MASK);
  if (wd < 0) {
    if (errno == ENOSPC) {
      idx->watches_short = true;
      log_once(LOG_WARNING, "cgroup_index:watch-enospc",
               "nfs_ebpf plugin: out of inotify watches (sysctl "
               "fs.inotify.max_user_watches, shared by every process of "
               "the user) with %zu cgroups watched under %s; the others "
               "are found by the periodic rescan and on demand, so pods "
               "created and removed within one read interval may be "
               "reported as unresolved",
               hash_table_count(&idx->watches), idx->mount_path);
    }
    return NULL;
  }
  cgroup_watch_t *w = cgroup_watch_find(idx, wd);
  if (w != NULL) { /* already watched (a rescan): keep it current */
    if (strcmp(w->path, path) != 0) {
      char *copy = strdup(path);
      if (copy == NULL)
        return w;
      free(w->path);
      w->path = copy;
    }
    w->id = id;
    return w;
  }
  w = calloc(1, sizeof(*w));
  if (w == NULL || (w->path = strdup(path)) == NULL) {
    free(w);
    inotify_rm_watch(idx->inotify_fd, wd);
    return NULL;
  }
  w->wd = wd;
  w->id = id;
  hash_table_insert(&idx->watches, &w->node, (uint64_t)wd);
  return w;
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
            "by periodic rescans only",
            strerror(err));
    return -err;
  }
  idx->max_watches = max_watches ? max_watches : idx->max_entries;
  return 0;
}

int cgroup_index_watch_fd(const cgroup_index_t *idx) {
  return idx ? idx->inotify_fd : -1;
}

size_t cgroup_index_watch_count(const cgroup_index_t *idx) {
  return idx ? hash_table_count(&idx->watches) : 0;
}

bool cgroup_index_watches_short(const cgroup_index_t *idx) {
  return idx != NULL && idx->watches_short;
}

uint64_t cgroup_index_skipped(const cgroup_index_t *idx) {
  return idx ? idx->skipped : 0;
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
 * used) in the directory that parent watches: record it, and watch it and
 * what it already holds (children made before the watch existed send no
 * event), down to the containers' own cgroups. Of what a pod creates below
 * a container's cgroup, at most CGROUP_INDEX_MAX_BELOW_CONTAINER children
 * are recorded this way; the rest resolve to the container on demand. */
static int cgroup_watch_new_dir(cgroup_index_t *idx, char *path, size_t len,
                                int depth, cgroup_watch_t *parent,
                                cgroup_index_new_cb cb, void *ctx) {
  int below = cgroup_path_below_container(path);
  if (below > 0) {
    if (below > 1 || parent == NULL ||
        parent->below_recorded >= CGROUP_INDEX_MAX_BELOW_CONTAINER) {
      idx->skipped++;
      log_once(LOG_WARNING, "cgroup_index:below-container",
               "nfs_ebpf plugin: container cgroup %s has more than %d "
               "cgroups or %d levels below it (a delegated subtree?); the "
               "rest are not indexed or watched but resolve to that "
               "container on demand",
               parent ? parent->path : path, CGROUP_INDEX_MAX_BELOW_CONTAINER,
               CGROUP_INDEX_MAX_DEPTH_BELOW_CONTAINER);
      return 0;
    }
    parent->below_recorded++;
  }
  int fd = openat(idx->mount_fd, path[1] ? path + 1 : ".",
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0; /* gone already: nothing left to learn */
  int changed = 0;
  uint64_t id;
  if (cgroup_id_at(fd, NULL, &id) != 0 ||
      cgroup_index_record(idx, id, path) != 0) {
    close(fd);
    return 0;
  }
  changed++;
  if (cb != NULL)
    cb(ctx, id);
  cgroup_watch_t *w = NULL;
  if (below > 0 || !cgroup_watch_wanted(path) ||
      depth + 1 >= CGROUP_INDEX_MAX_DEPTH ||
      (w = cgroup_watch_add(idx, fd, path, id)) == NULL) {
    close(fd);
    return changed;
  }
  cgroup_dir_t dir;
  if (!cgroup_dir_open(&dir, fd)) {
    close(fd);
    return changed;
  }
  const struct dirent64 *de;
  while ((de = cgroup_dir_next(&dir)) != NULL) {
    size_t nl = strlen(de->d_name);
    if (len + 1 + nl + 1 > PATH_MAX)
      continue;
    size_t child_len = len;
    if (len > 1)
      path[child_len++] = '/';
    memcpy(path + child_len, de->d_name, nl + 1);
    changed +=
        cgroup_watch_new_dir(idx, path, child_len + nl, depth + 1, w, cb, ctx);
    path[len] = '\0';
  }
  cgroup_dir_close(&dir);
  close(fd);
  return changed;
}

/* One inotify event of the cgroup tree's watches. */
typedef struct {
  cgroup_index_t *idx;
  cdtime_t now;
  cgroup_index_new_cb cb;
  void *ctx;
  char *path; /* PATH_MAX bytes */
  int changed;
} cgroup_watch_poll_t;

static void cgroup_watch_event(const struct inotify_event *ev, void *arg) {
  cgroup_watch_poll_t *poll = arg;
  cgroup_index_t *idx = poll->idx;
  char *path = poll->path;
  cgroup_watch_t *w = cgroup_watch_find(idx, ev->wd);
  if (w == NULL)
    return;
  if (ev->mask & IN_IGNORED) { /* removed (or unmounted) */
    cgroup_watch_forget(idx, ev->wd);
    return;
  }
  if (ev->mask & IN_DELETE_SELF) {
    poll->changed += cgroup_watch_gone(idx, w->id, w->path, poll->now);
    return;
  }
  if (ev->len == 0 || !(ev->mask & IN_ISDIR))
    return;
  size_t pl = strlen(w->path), nl = strlen(ev->name);
  if (pl + 1 + nl + 1 > PATH_MAX)
    return;
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
    poll->changed +=
        cgroup_watch_new_dir(idx, path, n, depth - 1, w, poll->cb, poll->ctx);
  } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
    cgroup_watch_t *child = cgroup_watch_find_path(idx, path);
    if (child != NULL)
      poll->changed +=
          cgroup_watch_gone(idx, child->id, child->path, poll->now);
  }
}

int cgroup_index_watch_poll(cgroup_index_t *idx, cdtime_t now,
                            cgroup_index_new_cb cb, void *ctx) {
  if (idx == NULL || idx->inotify_fd < 0)
    return 0;
  cgroup_watch_poll_t poll = {
      .idx = idx, .now = now, .cb = cb, .ctx = ctx, .path = malloc(PATH_MAX)};
  if (poll.path == NULL)
    return -ENOMEM;
  bool overflow = inotify_drain(idx->inotify_fd, cgroup_watch_event, &poll);
  free(poll.path);
  int changed = poll.changed;
  if (overflow) {
    /* Events were lost: only a full walk is right. */
    log_once(LOG_INFO, "cgroup_index:overflow",
             "nfs_ebpf plugin: cgroups changed faster than inotify reported "
             "them; rescanning %s",
             idx->mount_path);
    int live = cgroup_index_rescan(idx, now);
    if (live > 0)
      changed += live;
  }
  return changed;
}
