/*
 * Hardened file access for runtime state: see safe_file.h.
 */
#include "collectd_compat.h"

#include "safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define SAFE_FILE_HAVE_OPENAT2 1
#endif

bool safe_file_name_ok(const char *name, size_t max_len) {
  if (max_len == 0)
    max_len = SAFE_FILE_MAX_NAME;
  if (name == NULL || name[0] == '\0')
    return false;
  size_t len = 0;
  bool prev_sep = true; /* a separator may neither start nor repeat */
  for (const char *p = name; *p; p++, len++) {
    if (len >= max_len)
      return false;
    char c = *p;
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (alnum) {
      prev_sep = false;
      continue;
    }
    if ((c == '.' || c == '_' || c == '-') && !prev_sep) {
      prev_sep = true;
      continue;
    }
    return false;
  }
  return !prev_sep; /* nor end the name */
}

/* Every state file is opened so: read-only, never through a final symbolic
 * link, and O_NONBLOCK so that a FIFO planted in place of the file cannot
 * hang the read thread in open() (safe_file_check then refuses it). */
#define SAFE_FILE_OPEN_FLAGS (O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

static bool safe_component_ok(const char *name) {
  /* Only one path component: the caller's dirfd is the trust anchor. */
  return name != NULL && name[0] != '\0' && strchr(name, '/') == NULL &&
         strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The checks every opened state file passes (see safe_file.h); closes fd
 * and returns -errno when one fails. */
static int safe_file_check(int fd, const safe_file_policy_t *policy,
                           struct stat *st_out) {
  size_t max_size = (policy != NULL && policy->max_size != 0)
                        ? policy->max_size
                        : SAFE_FILE_DEFAULT_MAX_SIZE;
  bool any_owner = policy != NULL && policy->any_owner;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  int status = 0;
  if (!S_ISREG(st.st_mode))
    status = -EINVAL;
  else if (!any_owner && st.st_uid != 0 && st.st_uid != geteuid())
    status = -EPERM;
  else if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max_size)
    status = -EFBIG;
  if (status != 0) {
    close(fd);
    return status;
  }
  if (st_out != NULL)
    *st_out = st;
  return fd;
}

int safe_file_open(int dirfd, const char *name,
                   const safe_file_policy_t *policy, struct stat *st_out) {
  if (!safe_component_ok(name))
    return -EINVAL;
  int fd = openat(dirfd, name, SAFE_FILE_OPEN_FLAGS);
  if (fd < 0)
    return -errno;
  return safe_file_check(fd, policy, st_out);
}

int safe_file_open_beneath(int dirfd, const char *path,
                           const safe_file_policy_t *policy,
                           struct stat *st_out) {
  if (path == NULL || path[0] == '\0' || path[0] == '/')
    return -EINVAL;
#ifdef SAFE_FILE_HAVE_OPENAT2
  /* RESOLVE_NO_SYMLINKS refuses a link in any component, the last one
   * included, as opening each component with O_NOFOLLOW would;
   * RESOLVE_BENEATH keeps ".." from leaving dirfd. */
  struct open_how how = {
      .flags = SAFE_FILE_OPEN_FLAGS,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
  };
  int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  if (fd < 0)
    return -errno;
  return safe_file_check(fd, policy, st_out);
#else
  (void)dirfd, (void)policy, (void)st_out;
  return -ENOSYS;
#endif
}

int safe_dir_open(int dirfd, const char *name) {
  if (!safe_component_ok(name))
    return -EINVAL;
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

ssize_t safe_file_read(int fd, char *buf, size_t max) {
  size_t have = 0;
  for (;;) {
    /* Ask for one byte more than allowed to notice growth past the cap. */
    char *dst = buf + have;
    size_t room = max - have;
    char extra;
    ssize_t n = room > 0 ? read(fd, dst, room) : read(fd, &extra, 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (n == 0)
      return (ssize_t)have;
    if (room == 0)
      return -EFBIG;
    have += (size_t)n;
  }
}
