/*
 * Fake cgroup trees for the identity tests and benchmark: see cgroup_tree.h.
 */
/* nftw() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "collectd_compat.h"

#include "cgroup_index.h"
#include "cgroup_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int tree_mkdir_p(const char *path) {
  char buf[PATH_MAX];
  if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
    return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int tree_mkdir_under(const char *root, const char *rel) {
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof(path), "%s%s", root, rel) >= sizeof(path))
    return -1;
  return tree_mkdir_p(path);
}

int tree_write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  size_t len = strlen(text);
  bool written = write(fd, text, len) == (ssize_t)len;
  return close(fd) == 0 && written ? 0 : -1;
}

static int tree_remove_entry(const char *path, const struct stat *st, int type,
                             struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

int tree_rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -1;
  return nftw(path, tree_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int tree_make_v2_root(const char *path) {
  char file[PATH_MAX];
  if (tree_mkdir_p(path) != 0 ||
      (size_t)snprintf(file, sizeof(file), "%s/cgroup.controllers", path) >=
          sizeof(file))
    return -1;
  return tree_write_file(file, "");
}

uint64_t tree_cgroup_id(const char *root, const char *rel) {
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof(path), "%s%s", root, rel) >= sizeof(path))
    return 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uint64_t id = 0;
  if (fd >= 0) {
    if (cgroup_id_at(fd, NULL, &id) != 0)
      id = 0;
    close(fd);
  }
  return id;
}

bool tree_temp_dir(char *buf, size_t size, const char *prefix) {
  struct stat st;
  bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
             access("/dev/shm", W_OK) == 0;
  if ((size_t)snprintf(buf, size, "%s/%s_XXXXXX", shm ? "/dev/shm" : "/tmp",
                       prefix) >= size)
    return false;
  return mkdtemp(buf) != NULL;
}

void tree_host_mount(const identity_t *id, char *buf, size_t size) {
  const char *controller = NULL;
  identity_cgroup_mode_t mode = identity_cgroup_mode(id, &controller);
  snprintf(buf, size, "/sys/fs/cgroup%s%s",
           mode == IDENTITY_CGROUP_HYBRID ? "/unified"
           : mode == IDENTITY_CGROUP_V1   ? "/"
                                          : "",
           mode == IDENTITY_CGROUP_V1 ? controller : "");
}

identity_config_t tree_identity_config(const char *cgroup_root,
                                       const char *const *state_dirs,
                                       size_t n_state_dirs) {
  return (identity_config_t){
      .cgroup_root = cgroup_root,
      .state_dirs = state_dirs,
      .n_state_dirs = n_state_dirs,
      .rescan_interval = TIME_T_TO_CDTIME_T(60),
      .tombstone_ttl = TIME_T_TO_CDTIME_T(300),
  };
}
