/*
 * Reading an inotify descriptor to its end (see inotify_drain.h).
 */
#include "inotify_drain.h"

#include <unistd.h>

/* Room for many events per read(2); a name is at most NAME_MAX + 1 bytes,
 * so one event always fits. */
#define INOTIFY_DRAIN_BUF 16384

bool inotify_drain(int fd, inotify_event_cb on_event, void *ctx) {
  bool overflow = false;
  char buf[INOTIFY_DRAIN_BUF]
      __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t len = read(fd, buf, sizeof(buf));
    if (len <= 0)
      break; /* EAGAIN: drained */
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      p += sizeof(*ev) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW)
        overflow = true;
      else
        on_event(ev, ctx);
    }
  }
  return overflow;
}
