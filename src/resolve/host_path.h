/*
 * Paths on the host when collectd may run in a pod: HostRoot is "/" on a
 * node install and the host's / mounted into the pod for a DaemonSet
 * (README, "Running as a DaemonSet"). One helper so that /proc, /sys and
 * the runtime state directories are all prefixed the same way.
 */
#ifndef NFS_EBPF_HOST_PATH_H
#define NFS_EBPF_HOST_PATH_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* buf = host_root + path (path absolute). host_root NULL, "" or "/" means
 * the node's own /, and trailing slashes of host_root are ignored, so
 * "/host/" + "/proc" is "/host/proc". Returns 0, or -ENAMETOOLONG with buf
 * holding "" (never a truncated path that names another file). */
static inline int host_path(char *buf, size_t size, const char *host_root,
                            const char *path) {
  size_t len = host_root != NULL ? strlen(host_root) : 0;
  while (len > 0 && host_root[len - 1] == '/')
    len--;
  int n = snprintf(buf, size, "%.*s%s", (int)len, len ? host_root : "", path);
  if (n < 0 || (size_t)n >= size) {
    if (size > 0)
      buf[0] = '\0';
    return -ENAMETOOLONG;
  }
  return 0;
}

#endif /* NFS_EBPF_HOST_PATH_H */
