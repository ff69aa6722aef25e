/*
 * Opening files that other programs (container runtimes, and through them
 * the containers) control, while running as root. Every open is relative
 * to an already opened directory and never follows a symbolic link, so a
 * state directory cannot redirect us to an arbitrary host file; the file
 * must be a regular file of bounded size owned by root (or by us).
 */
#ifndef NFS_EBPF_SAFE_FILE_H
#define NFS_EBPF_SAFE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Cap used by other agents for runtime state files. */
#define SAFE_FILE_DEFAULT_MAX_SIZE (16u * 1024u * 1024u)
/* Longest directory name accepted from a state directory (a container id
 * is 64; CRI-O and Docker names stay below this). */
#define SAFE_FILE_MAX_NAME 76

typedef struct {
  size_t max_size; /* 0: SAFE_FILE_DEFAULT_MAX_SIZE */
  bool any_owner;  /* skip the owner check (tests only) */
} safe_file_policy_t;

/* Opens name (one path component) in dirfd with O_RDONLY|O_NOFOLLOW|
 * O_CLOEXEC|O_NONBLOCK and checks with fstat: regular file, owned by root
 * or by our effective uid, st_size <= max_size. Returns the fd, or
 * -errno: -ELOOP for a symlink, -EINVAL for a bad name or not a regular
 * file, -EPERM for a foreign owner, -EFBIG for an oversized file. If st is
 * not NULL it receives the fstat result. */
int safe_file_open(int dirfd, const char *name,
                   const safe_file_policy_t *policy, struct stat *st);

/* Opens path (relative, several components) below dirfd in one system
 * call, openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (Linux 5.6+):
 * no component may be a symbolic link or lead out of dirfd. Then the same
 * checks and results as safe_file_open. -ENOSYS where openat2 is missing
 * (kernel or headers), -EPERM also when a seccomp filter refuses it: the
 * caller then opens one component at a time. */
int safe_file_open_beneath(int dirfd, const char *path,
                           const safe_file_policy_t *policy, struct stat *st);

/* Opens a sub-directory (one path component) with O_DIRECTORY|O_NOFOLLOW|
 * O_CLOEXEC: a symlink in place of a directory is refused (-ELOOP or
 * -ENOTDIR). Returns the fd or -errno. */
int safe_dir_open(int dirfd, const char *name);

/* Reads at most max bytes from fd into buf (a file that grew past max
 * after fstat gives -EFBIG rather than a silent cut). Returns the number
 * of bytes read or -errno. */
ssize_t safe_file_read(int fd, char *buf, size_t max);

/* True if name is a plausible state directory entry:
 * [A-Za-z0-9]+([._-][A-Za-z0-9]+)* and at most max_len characters
 * (SAFE_FILE_MAX_NAME if max_len is 0). Rejects ".", "..", "/" and every
 * control or non-ASCII byte. */
bool safe_file_name_ok(const char *name, size_t max_len);

#endif /* NFS_EBPF_SAFE_FILE_H */
