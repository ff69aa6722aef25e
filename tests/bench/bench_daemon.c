/*
 * The daemon's symbols the benchmarked modules use, besides
 * plugin_dispatch_values (each benchmark has its own): logs are printed as
 * TAP comments, not measured; strings are copied as the daemon copies
 * them, so a copy costs what it costs there.
 */
#include "collectd_compat.h"

#include <stdarg.h>
#include <time.h>

void plugin_log(int level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  printf("# log %d: %s\n", level, msg);
}

/* The bucket type: nothing to check it against here. */
int plugin_register_data_set(const data_set_t *ds) {
  (void)ds;
  return 0;
}

int plugin_unregister_data_set(const char *name) {
  (void)name;
  return 0;
}

int ssnprintf(char *str, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int status = vsnprintf(str, size, fmt, ap);
  va_end(ap);
  return status;
}

/* As the daemon's: strncpy, padding included. */
char *sstrncpy(char *dest, const char *src, size_t n) {
  strncpy(dest, src, n);
  dest[n - 1] = '\0';
  return dest;
}

char *sstrerror(int errnum, char *buf, size_t buflen) {
  snprintf(buf, buflen, "%s", strerror(errnum));
  return buf;
}

cdtime_t cdtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return TIMESPEC_TO_CDTIME_T(&ts);
}
