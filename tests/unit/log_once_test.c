/*
 * Tests for src/utils/log_once.c: the first line of a key is logged, its
 * repeats within the period are only counted and reported with the next
 * line; a full table still finds every key it holds.
 */
#include "collectd_compat.h"

#include "log_once.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>
#include <time.h>

DEF_TEST(repeats_counted_until_the_period_ends) {
  mock_reset();
  log_once_reset();
  log_once_set_period(1);
  OK(log_once(LOG_WARNING, "k:a", "first %d", 1));
  OK(!log_once(LOG_WARNING, "k:a", "second"));
  OK(!log_once(LOG_WARNING, "k:a", "third"));
  /* another key is its own */
  OK(log_once(LOG_WARNING, "k:b", "other"));
  EXPECT_EQ_INT(1, (int)mock_log_count(LOG_WARNING, "first 1"));
  EXPECT_EQ_INT(0, (int)mock_log_count(-1, "second"));

  /* a second later (monotonic whole seconds) the key logs again */
  struct timespec pause = {.tv_sec = 1, .tv_nsec = 100 * 1000 * 1000};
  nanosleep(&pause, NULL);
  OK(log_once(LOG_WARNING, "k:a", "fourth"));
  EXPECT_EQ_INT(1, (int)mock_log_count(
                       LOG_WARNING, "fourth (2 similar messages suppressed)"));
  log_once_set_period(0);
  return 0;
}

DEF_TEST(every_slot_remembered_then_one_reused) {
  mock_reset();
  log_once_reset();
  /* long enough that no key's period ends during the test */
  log_once_set_period(3600);
  char key[32];
  int logged = 0, repeated = 0;
  for (int i = 0; i < LOG_ONCE_SLOTS; i++) {
    snprintf(key, sizeof(key), "k:%d", i);
    logged += log_once(LOG_INFO, key, "key %d", i);
  }
  EXPECT_EQ_INT(LOG_ONCE_SLOTS, logged);
  /* a full table still knows every key */
  for (int i = 0; i < LOG_ONCE_SLOTS; i++) {
    snprintf(key, sizeof(key), "k:%d", i);
    repeated += log_once(LOG_INFO, key, "key %d again", i);
  }
  EXPECT_EQ_INT(0, repeated);
  /* one more key takes the slot of the key logged first (all of them were
   * logged within the same second or two) and is muted next */
  OK(log_once(LOG_INFO, "k:new", "new"));
  OK(!log_once(LOG_INFO, "k:new", "new again"));
  /* the key logged last is still muted; the first one was forgotten */
  snprintf(key, sizeof(key), "k:%d", LOG_ONCE_SLOTS - 1);
  OK(!log_once(LOG_INFO, key, "last key again"));
  OK(log_once(LOG_INFO, "k:0", "first key again"));
  /* and took the slot of the next oldest, k:1 */
  OK(!log_once(LOG_INFO, "k:2", "k:2 again"));
  OK(log_once(LOG_INFO, "k:1", "k:1 again"));

  /* reset forgets every key */
  log_once_reset();
  OK(log_once(LOG_INFO, "k:new", "after reset"));
  OK(log_once(LOG_INFO, NULL, "no key"));
  OK(!log_once(LOG_INFO, "", "empty key: the same as none"));
  log_once_set_period(0);
  return 0;
}

int main(void) {
  mock_log_set_echo(false);
  RUN_TEST(repeats_counted_until_the_period_ends);
  RUN_TEST(every_slot_remembered_then_one_reused);
  END_TEST;
}
