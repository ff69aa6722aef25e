/*
 * Rate-limited logging: see log_once.h.
 *
 * A small fixed array of (key hash, last time logged, suppressed count)
 * slots, indexed by the hash (hash.h, on static buckets): a repeat, the
 * common case, is found without scanning the slots. Fixed, so memory does
 * not grow with the number of distinct problems an attacker can make up;
 * when it is full the least recently logged slot is reused.
 */
#include "collectd_compat.h"

#include "hash.h"
#include "log_once.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

typedef struct {
  hash_node_t node; /* hash: the key's; in log_once_keys while used */
  bool used;
  time_t last_logged;
  uint64_t logged_seq; /* log_once_seq when last logged: orders ties */
  unsigned long suppressed;
} log_once_slot_t;

static pthread_mutex_t log_once_lock = PTHREAD_MUTEX_INITIALIZER;
static log_once_slot_t log_once_slots[LOG_ONCE_SLOTS];
static hash_node_t *log_once_buckets[LOG_ONCE_SLOTS];
static hash_table_t log_once_keys = HASH_TABLE_STATIC(log_once_buckets);
static unsigned int log_once_period = LOG_ONCE_DEFAULT_PERIOD_S;
/* Counts logged lines. last_logged has whole seconds, so many keys share
 * one; the sequence tells which of them was logged first. */
static uint64_t log_once_seq;

/* A free slot, else the one logged longest ago. */
static log_once_slot_t *log_once_victim(void) {
  log_once_slot_t *oldest = &log_once_slots[0];
  for (size_t i = 0; i < LOG_ONCE_SLOTS && oldest->used; i++) {
    log_once_slot_t *s = &log_once_slots[i];
    if (!s->used || s->logged_seq < oldest->logged_seq)
      oldest = s;
  }
  return oldest;
}

/* Monotonic, so a clock step cannot unmute or mute a key for hours. */
static time_t log_once_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

bool log_once(int level, const char *key, const char *format, ...) {
  if (key == NULL)
    key = "";
  uint64_t h = hash_fnv1a64(key, strlen(key));
  time_t now = log_once_now();
  unsigned long suppressed = 0;

  pthread_mutex_lock(&log_once_lock);
  /* Keys are told apart by their hash alone: no callback. */
  hash_node_t *found = hash_table_find(&log_once_keys, h, NULL, NULL);
  log_once_slot_t *slot =
      found != NULL ? HASH_ENTRY(found, log_once_slot_t, node) : NULL;
  if (slot != NULL) {
    if (now - slot->last_logged < (time_t)log_once_period) {
      slot->suppressed++;
      pthread_mutex_unlock(&log_once_lock);
      return false;
    }
    suppressed = slot->suppressed;
  } else {
    slot = log_once_victim();
    if (slot->used)
      hash_table_remove(&log_once_keys, &slot->node);
    slot->used = true;
    hash_table_insert(&log_once_keys, &slot->node, h);
  }
  slot->last_logged = now;
  slot->logged_seq = ++log_once_seq;
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
  hash_table_clear(&log_once_keys, NULL);
  memset(log_once_slots, 0, sizeof(log_once_slots));
  log_once_seq = 0;
  pthread_mutex_unlock(&log_once_lock);
}
