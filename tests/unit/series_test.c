/*
 * series.c: the user-visible counters must never go backwards, whatever
 * happens to the kernel keys that feed them.
 */
#include "collectd_compat.h"
#include "testing.h"

#include <linux/types.h> /* __u* for the shared header */

#include "series.h"

static series_values_t stats(uint64_t count, uint64_t bytes) {
  series_values_t v = {
      .op = {.count = count, .bytes = bytes, .latency_ns = count}};
  v.op.buckets[0] = count;
  return v;
}

DEF_TEST(keys_of_one_pod_add_up) {
  series_table_t *t = series_table_create();
  OK(t != NULL);
  series_begin_interval(t, 1);
  /* Two cgroups (a restarted container) feeding one series. */
  series_t *s = series_get(t, "ns_pod_c", "10.0.0.5", "/vol", 0);
  OK(s != NULL);
  OK(s == series_get(t, "ns_pod_c", "10.0.0.5", "/vol", 0));
  OK(s != series_get(t, "ns_pod_c", "10.0.0.5", "/vol", 1));
  OK(s != series_get(t, "ns_pod_c", "10.0.0.5", "/vo", 0));
  struct op_key k1 = {.cgroup_id = 11, .dev = 53, .op = 0};
  struct op_key k2 = {.cgroup_id = 12, .dev = 53, .op = 0};
  EXPECT_EQ_INT(0, series_bind(t, &k1, s, 1));
  EXPECT_EQ_INT(0, series_bind(t, &k2, s, 1));
  EXPECT_EQ_INT(-EEXIST, series_bind(t, &k1, s, 1));
  OK(series_bound(t, &k1) == s);

  series_values_t a = stats(3, 300), b = stats(4, 400), total;
  series_add_stats(t, s, &a, false);
  series_add_stats(t, s, &b, false);
  series_commit_interval(t);
  series_total(s, &total);
  EXPECT_EQ_UINT64(7, total.op.count);
  EXPECT_EQ_UINT64(700, total.op.bytes);
  EXPECT_EQ_UINT64(7, total.op.buckets[0]);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(retired_keys_keep_their_counts) {
  series_table_t *t = series_table_create();
  series_t *s = series_get(t, "ns_pod_c", "srv", "/e", 0);
  struct op_key old = {.cgroup_id = 11, .dev = 53, .op = 0};
  struct op_key new = {.cgroup_id = 12, .dev = 53, .op = 0};
  series_bind(t, &old, s, 1);
  series_bind(t, &new, s, 1);

  /* Read 1: both alive. */
  series_begin_interval(t, 1);
  series_values_t v_old = stats(10, 0), v_new = stats(1, 0), total;
  series_add_stats(t, s, &v_old, false);
  series_add_stats(t, s, &v_new, false);
  EXPECT_EQ_INT(0, series_add_errors(t, s, 30, 2, false));
  series_commit_interval(t);
  series_total(s, &total);
  EXPECT_EQ_UINT64(11, total.op.count);

  /* Read 2: the old cgroup is gone; its final value is retired and its key
   * removed. The total must not drop. */
  series_begin_interval(t, 2);
  series_add_stats(t, s, &v_old, true);
  EXPECT_EQ_INT(0, series_add_errors(t, s, 30, 2, true));
  v_new = stats(2, 0);
  series_add_stats(t, s, &v_new, false);
  series_commit_interval(t);
  series_unbind(t, &old);
  series_total(s, &total);
  EXPECT_EQ_UINT64(12, total.op.count);
  EXPECT_EQ_UINT64(1, s->n_errnos);
  EXPECT_EQ_UINT64(2, s->errnos[0].retired + s->errnos[0].live);

  /* Read 3: only the new key, read again from scratch. */
  series_begin_interval(t, 3);
  series_add_stats(t, s, &v_new, false);
  series_commit_interval(t);
  series_total(s, &total);
  EXPECT_EQ_UINT64(12, total.op.count);
  EXPECT_EQ_UINT64(2, s->errnos[0].retired + s->errnos[0].live);
  series_table_destroy(t);
  return 0;
}

/* A read that stages values (live and retired) and is never committed
 * changes nothing the user sees, and the next read counts each value once. */
DEF_TEST(uncommitted_read_changes_nothing) {
  series_table_t *t = series_table_create();
  series_t *s = series_get(t, "ns_pod_c", "srv", "/e", 0);
  series_values_t v_old = stats(10, 100), v_new = stats(1, 10), total;
  series_begin_interval(t, 1);
  series_add_stats(t, s, &v_old, false);
  series_add_stats(t, s, &v_new, false);
  EXPECT_EQ_INT(0, series_add_errors(t, s, 5, 3, false));
  series_commit_interval(t);

  /* Read 2 fails after the old key was staged as retired. */
  series_begin_interval(t, 2);
  series_add_stats(t, s, &v_old, true);
  EXPECT_EQ_INT(0, series_add_errors(t, s, 5, 3, true));
  series_total(s, &total);
  EXPECT_EQ_UINT64(11, total.op.count);
  EXPECT_EQ_UINT64(110, total.op.bytes);
  EXPECT_EQ_UINT64(3, s->errnos[0].retired + s->errnos[0].live);

  /* Read 3 succeeds: the old key retired once, the new one live. */
  series_begin_interval(t, 3);
  series_add_stats(t, s, &v_old, true);
  EXPECT_EQ_INT(0, series_add_errors(t, s, 5, 3, true));
  v_new = stats(2, 20);
  series_add_stats(t, s, &v_new, false);
  series_commit_interval(t);
  series_total(s, &total);
  EXPECT_EQ_UINT64(12, total.op.count);
  EXPECT_EQ_UINT64(120, total.op.bytes);
  EXPECT_EQ_UINT64(3, s->errnos[0].retired + s->errnos[0].live);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(orphaned_series_expire_bound_ones_do_not) {
  series_table_t *t = series_table_create();
  series_begin_interval(t, 1);
  series_t *gone = series_get(t, "ns_gone_c", "srv", "/e", 0);
  series_t *quiet = series_get(t, "ns_quiet_c", "srv", "/e", 0);
  struct op_key kq = {.cgroup_id = 20, .dev = 53, .op = 0};
  series_bind(t, &kq, quiet, 1);
  EXPECT_EQ_UINT64(2, series_count(t));
  (void)gone;
  /* Nothing fed either since read 1; only the unbound one ends. */
  series_begin_interval(t, 10);
  EXPECT_EQ_UINT64(1, series_expire(t, 5));
  EXPECT_EQ_UINT64(1, series_count(t));
  OK(series_bound(t, &kq) == quiet);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(pending_keys_remember_first_sight) {
  series_table_t *t = series_table_create();
  struct op_key k = {.cgroup_id = 30, .dev = 53, .op = 2};
  series_begin_interval(t, 4);
  EXPECT_EQ_UINT64(4, series_pending_since(t, &k));
  series_begin_interval(t, 5);
  EXPECT_EQ_UINT64(4, series_pending_since(t, &k));
  OK(series_bound(t, &k) == NULL);
  series_t *s = series_get(t, "@kubelet.service", "srv", "/e", 2);
  EXPECT_EQ_INT(0, series_bind(t, &k, s, 1));
  OK(series_bound(t, &k) == s);
  EXPECT_EQ_UINT64(1, s->n_keys);
  series_unbind(t, &k);
  EXPECT_EQ_UINT64(0, s->n_keys);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(long_exports_stay_apart) {
  /* Two exports that differ only after 300 characters. */
  char a[400], b[400];
  memset(a, 'x', sizeof(a));
  a[0] = '/';
  a[sizeof(a) - 1] = '\0';
  memcpy(b, a, sizeof(b));
  b[350] = 'y';
  series_table_t *t = series_table_create();
  series_t *sa = series_get(t, "ns_pod_c", "srv", a, 0);
  series_t *sb = series_get(t, "ns_pod_c", "srv", b, 0);
  OK(sa != NULL && sb != NULL);
  OK(sa != sb);
  EXPECT_EQ_STR(b, sb->export_);
  /* whats this long are shortened whole: no common tail to keep */
  EXPECT_EQ_PTR(NULL, sb->what_tail);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(what_tail_built_with_the_series) {
  series_table_t *t = series_table_create();
  series_t *s = series_get(t, "ns_pod_c", "10.0.0.5", "/srv/vol", 0);
  OK(s != NULL);
  EXPECT_EQ_STR("@10.0.0.5:|srv|vol", s->what_tail);
  series_table_destroy(t);
  return 0;
}

DEF_TEST(many_series_and_keys) {
  /* Past several table doublings, every key still finds its series. */
  series_table_t *t = series_table_create();
  series_begin_interval(t, 1);
  char who[64];
  size_t wrong = 0;
  for (uint64_t i = 0; i < 5000; i++) {
    snprintf(who, sizeof(who), "ns_pod-%" PRIu64 "_c", i);
    series_t *s = series_get(t, who, "srv", "/e", (uint32_t)(i % 14));
    struct op_key k = {.cgroup_id = i, .dev = 1, .op = (uint32_t)(i % 14)};
    if (s == NULL || series_bind(t, &k, s, 1) != 0)
      wrong++;
  }
  for (uint64_t i = 0; i < 5000; i++) {
    snprintf(who, sizeof(who), "ns_pod-%" PRIu64 "_c", i);
    struct op_key k = {.cgroup_id = i, .dev = 1, .op = (uint32_t)(i % 14)};
    series_t *s = series_bound(t, &k);
    if (s == NULL || strcmp(s->who, who) != 0)
      wrong++;
  }
  EXPECT_EQ_UINT64(0, wrong);
  EXPECT_EQ_UINT64(5000, series_count(t));
  series_table_destroy(t);
  return 0;
}

int main(void) {
  RUN_TEST(keys_of_one_pod_add_up);
  RUN_TEST(retired_keys_keep_their_counts);
  RUN_TEST(uncommitted_read_changes_nothing);
  RUN_TEST(orphaned_series_expire_bound_ones_do_not);
  RUN_TEST(pending_keys_remember_first_sight);
  RUN_TEST(long_exports_stay_apart);
  RUN_TEST(what_tail_built_with_the_series);
  RUN_TEST(many_series_and_keys);
  END_TEST;
}
