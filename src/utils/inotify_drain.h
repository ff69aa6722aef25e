/*
 * Reading an inotify descriptor to its end: the loop the cgroup index and
 * the runtime state watcher share (each decides what an event means).
 */
#ifndef NFS_EBPF_INOTIFY_DRAIN_H
#define NFS_EBPF_INOTIFY_DRAIN_H

#include <stdbool.h>
#include <sys/inotify.h>

typedef void (*inotify_event_cb)(const struct inotify_event *ev, void *ctx);

/* Calls on_event for each event queued on `fd` (opened IN_NONBLOCK) until a
 * read would block or fails. IN_Q_OVERFLOW is not passed on: the result is
 * true when the kernel's queue overflowed, so events were lost and only a
 * full rescan is right. */
bool inotify_drain(int fd, inotify_event_cb on_event, void *ctx);

#endif /* NFS_EBPF_INOTIFY_DRAIN_H */
