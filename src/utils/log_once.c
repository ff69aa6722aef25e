/*
 * Rate-limited logging: see log_once.h.
 *
 * A small fixed table of (key hash, last time logged, suppressed count).
 * Fixed, so memory does not grow with the number of distinct problems an
 * attacker can make up; when it is full the least recently logged slot is
 * reused.
 */
#include "collectd_compat.h"

#include "log_once.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

typedef struct {
  uint64_t key_hash; /* 0: free slot */
  time_t last_logged;
  unsigned long suppressed;
} log_once_slot_t;

static pthread_mutex_t log_once_lock = PTHREAD_MUTEX_INITIALIZER;
static log_once_slot_t log_once_slots[LOG_ONCE_SLOTS];
static unsigned int log_once_period = LOG_ONCE_DEFAULT_PERIOD_S;

static uint64_t log_once_hash(const char *key) {
  uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  return h ? h : 1; /* 0 marks a free slot */
}

/* Monotonic, so a clock step cannot unmute or mute a key for hours. */
static time_t log_once_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

bool log_once(int level, const char *key, const char *format, ...) {
  uint64_t h = log_once_hash(key != NULL ? key : "");
  time_t now = log_once_now();
  unsigned long suppressed = 0;

  pthread_mutex_lock(&log_once_lock);
  log_once_slot_t *slot = NULL, *oldest = NULL;
  for (size_t i = 0; i < LOG_ONCE_SLOTS; i++) {
    log_once_slot_t *s = &log_once_slots[i];
    if (s->key_hash == h) {
      slot = s;
      break;
    }
    if (oldest == NULL || s->key_hash == 0 ||
        (oldest->key_hash != 0 && s->last_logged < oldest->last_logged))
      oldest = s;
  }
  if (slot != NULL) {
    if (now - slot->last_logged < (time_t)log_once_period) {
      slot->suppressed++;
      pthread_mutex_unlock(&log_once_lock);
      return false;
    }
    suppressed = slot->suppressed;
  } else {
    slot = oldest;
    slot->key_hash = h;
  }
  slot->last_logged = now;
  slot->suppressed = 0;
  pthread_mutex_unlock(&log_once_lock);

  char msg[1024];
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof(msg), format, ap);
  va_end(ap);
  if (suppressed > 0)
    plugin_log(level, "%s (%lu similar messages suppressed)", msg, suppressed);
  else
    plugin_log(level, "%s", msg);
  return true;
}

void log_once_set_period(unsigned int seconds) {
  pthread_mutex_lock(&log_once_lock);
  log_once_period = seconds ? seconds : LOG_ONCE_DEFAULT_PERIOD_S;
  pthread_mutex_unlock(&log_once_lock);
}

void log_once_reset(void) {
  pthread_mutex_lock(&log_once_lock);
  memset(log_once_slots, 0, sizeof(log_once_slots));
  pthread_mutex_unlock(&log_once_lock);
}
