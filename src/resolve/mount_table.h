/*
 * NFS mounts by device, from /proc/<pid>/mountinfo: turns the s_dev the
 * BPF side records into the server and export users know. Re-read only when
 * the kernel says the mount table changed (poll POLLPRI/POLLERR on the open
 * file), or when forced because an unknown device showed up.
 */
#ifndef NFS_EBPF_MOUNTINFO_H
#define NFS_EBPF_MOUNTINFO_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nfs_ebpf.h"

/* Lines longer than this are skipped (logged): no real mountinfo line is,
 * and a bound keeps a corrupt file from eating memory. Overlay lines with
 * hundreds of layers reach tens of KiB, so the bound is generous. */
#define MOUNTINFO_MAX_LINE (1024 * 1024)

/* One mountinfo line, split. Strings point into the caller's buffer,
 * octal escapes (\040 ...) already decoded. */
typedef struct {
  unsigned int mount_id;
  unsigned int parent_id;
  unsigned int major;
  unsigned int minor;
  const char *root;
  const char *mount_point;
  const char *mount_options;
  const char *fstype;
  const char *source;
  const char *super_options;
} mountinfo_line_t;

/* Parses one line (without or with its trailing newline) in place. Returns
 * 0, or -1 with *why set to a static reason ("too few fields", "no ' - '
 * separator", "bad major:minor" ...). Never reads past the terminator. */
int mountinfo_parse_line(char *line, mountinfo_line_t *out, const char **why);

/* Kernel dev_t encoding of super_block->s_dev (nfs_ebpf.h), which the BPF
 * side records: major << 20 | minor. These turn mountinfo's major:minor into
 * it and back. */
static inline uint32_t mountinfo_kernel_dev(unsigned int major,
                                            unsigned int minor) {
  return ((uint32_t)major << NFS_EBPF_DEV_MINOR_BITS) | (uint32_t)minor;
}

static inline uint32_t kernel_dev_major(uint32_t dev) {
  return dev >> NFS_EBPF_DEV_MINOR_BITS;
}

static inline uint32_t kernel_dev_minor(uint32_t dev) {
  return dev & NFS_EBPF_DEV_MINOR_MASK;
}

typedef struct {
  uint32_t dev;       /* major << 20 | minor, what BPF reads from s_dev */
  char *source;       /* as in mountinfo, decoded: "10.0.0.5:/vol" */
  char *server;       /* source before its first ":/" ("[fd00::1]" kept) */
  char *export_;      /* from that '/' on; "" if the source has no ":/" */
  char *mount_point;  /* of the first line with this device */
  char fstype[8];     /* "nfs" or "nfs4" */
  char version[16];   /* super option vers= ("3", "4.2"), "" if absent */
  unsigned int lines; /* mountinfo lines (mount points) with this device */
  /* Changes when the device number starts to stand for another mount: its
   * source differs from the previous table's, or the device was not in the
   * previous table (umounted, then reused). Never 0. */
  uint64_t generation;
} nfs_mount_t;

typedef struct mount_table_s mount_table_t;

/* Opens path (kept open for change notification) and reads it. NULL, with
 * a log line, if it cannot be opened or read. */
mount_table_t *mount_table_create(const char *path);

/* Re-reads the table if the kernel signalled a change (or the file is a
 * plain file whose size, mtime or inode changed), or always with force.
 * Returns 1 if re-read, 0 if unchanged, <0 (negative errno) on error; on
 * error the previous table stays in use. */
int mount_table_refresh(mount_table_t *t, bool force);

/* The NFS mount with that device, or NULL. Valid until the next refresh. */
const nfs_mount_t *mount_table_lookup(const mount_table_t *t, uint32_t dev);

/* NFS mounts that only other mount namespaces have: a pod that mounts NFS
 * itself, NFSv4 submounts (crossmnt) made inside a pod's namespace. With a
 * proc directory set (the host's /proc, under HostRoot), the mountinfo of
 * one process of every other mount namespace is read for NFS devices the
 * table lacks. mount_table_lookup_elsewhere returns such a device's mount
 * (with a generation like the table's), or NULL. It scans at most once per
 * round (a round starts with each non-forced mount_table_refresh): when
 * `search` is set and no earlier scan found the device (a key seen for the
 * first time), or, every 10 rounds at most, when the host table changed
 * since the last scan (mounts in containers come and go with it), so that
 * a device reused inside a container is noticed too. Valid until the next
 * lookup_elsewhere or refresh. */
int mount_table_search_namespaces(mount_table_t *t, const char *proc_dir);
const nfs_mount_t *mount_table_lookup_elsewhere(mount_table_t *t, uint32_t dev,
                                                bool search);

/* Number of NFS devices in the table. */
size_t mount_table_count(const mount_table_t *t);

void mount_table_destroy(mount_table_t *t);

#endif /* NFS_EBPF_MOUNTINFO_H */
