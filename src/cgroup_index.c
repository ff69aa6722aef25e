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
#include <sys/stat.h>
#include <unistd.h>

/* Handle type of kernfs (cgroup) directories, include/linux/exportfs.h. */
#define CGROUP_FILEID_KERNFS 0xfe

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
  /* per walk */
  size_t walk_visited;
  bool walk_complete;
  cdtime_t walk_now;
};

int cgroup_id_at(int dirfd, const char *name, uint64_t *id) {
  bool self = name == NULL || name[0] == '\0';
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(dirfd, self ? "" : name, &h.fh, &mount_id,
                        self ? AT_EMPTY_PATH : 0) == 0 &&
      h.fh.handle_type == CGROUP_FILEID_KERNFS && h.fh.handle_bytes == 8) {
    memcpy(id, h.fh.f_handle, sizeof(*id));
    return 0;
  }
  /* Not kernfs (or no handle support): the inode number is the id that a
   * test tree in a temp dir is built with. */
  struct stat st;
  if (fstatat(dirfd, self ? "" : name, &st,
              AT_SYMLINK_NOFOLLOW | (self ? AT_EMPTY_PATH : 0)) != 0)
    return -errno;
  *id = (uint64_t)st.st_ino;
  return 0;
}

static bool cgroup_fd_is_kernfs(int fd) {
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  return name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0 &&
         h.fh.handle_type == CGROUP_FILEID_KERNFS;
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
    if (cgroup_id_at(child, NULL, &id) == 0)
      (void)cgroup_index_record(idx, id, path);
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
  if (cgroup_id_at(idx->mount_fd, NULL, &root_id) == 0)
    (void)cgroup_index_record(idx, root_id, "/");
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
