/*
 * kstats against real BPF hash maps of this kernel (needs root or CAP_BPF:
 * without it the test fails, as every BPF test must). Checks that a
 * snapshot holds every key exactly once with its value, across several
 * batches, in both the batched and the key-by-key walk (forced here, since
 * this kernel has batches; the walk is what pre-5.6 kernels and every
 * batch that hits ENOSPC use), including when keys are deleted while the
 * walk runs.
 */
#include "collectd_compat.h"
#include "testing.h"

#include "kstats.h"
#include <linux/types.h> /* __u* for the shared header */
#include "nfs_ebpf.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <malloc.h>

#define N_KEYS 1000 /* several KSTATS_BATCH batches */

static int make_map(void) {
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  return bpf_map_create(BPF_MAP_TYPE_HASH, "kstats_test", sizeof(struct op_key),
                        sizeof(struct op_stats), 4096, &opts);
}

static int fill(int fd) {
  for (int i = 0; i < N_KEYS; i++) {
    struct op_key k = {.cgroup_id = 1000 + i, .dev = 53, .op = i % NFS_OP_MAX};
    struct op_stats v = {.count = i, .bytes = (uint64_t)i * 4096};
    if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST) != 0)
      return -errno;
  }
  return 0;
}

/* Every key once, each with its own value. Counts mismatches so that one
 * TAP line stands for the whole map. */
static int check_snapshot(const kstats_snapshot_t *s) {
  static unsigned char seen[N_KEYS];
  memset(seen, 0, sizeof(seen));
  EXPECT_EQ_UINT64(N_KEYS, s->len);
  size_t out_of_range = 0, repeated = 0, wrong_value = 0;
  for (size_t i = 0; i < s->len; i++) {
    const struct op_key *k = kstats_key(s, i);
    const struct op_stats *v = kstats_val(s, i);
    uint64_t idx = k->cgroup_id - 1000;
    if (idx >= N_KEYS) {
      out_of_range++;
      continue;
    }
    repeated += seen[idx]++ != 0;
    wrong_value += v->count != idx || v->bytes != idx * 4096;
  }
  EXPECT_EQ_UINT64(0, out_of_range);
  EXPECT_EQ_UINT64(0, repeated);
  EXPECT_EQ_UINT64(0, wrong_value);
  return 0;
}

DEF_TEST(read_whole_map) {
  int fd = make_map();
  if (fd < 0) {
    printf("# bpf_map_create failed: %s (root or CAP_BPF needed)\n",
           strerror(errno));
  }
  OK(fd >= 0);
  EXPECT_EQ_INT(0, fill(fd));

  kstats_snapshot_t s;
  kstats_snapshot_init(&s, sizeof(struct op_key), sizeof(struct op_stats));
  EXPECT_EQ_INT(0, kstats_read(fd, &s));
  check_snapshot(&s);

  /* A second read reuses the buffers and sees the same content. */
  EXPECT_EQ_INT(0, kstats_read(fd, &s));
  check_snapshot(&s);

  /* Deleting a key removes it from the next snapshot. */
  struct op_key gone = {.cgroup_id = 1000, .dev = 53, .op = 0};
  EXPECT_EQ_INT(0, kstats_delete(fd, &gone));
  EXPECT_EQ_INT(-ENOENT, kstats_delete(fd, &gone));
  EXPECT_EQ_INT(0, kstats_read(fd, &s));
  EXPECT_EQ_UINT64(N_KEYS - 1, s.len);

  /* Taking a key returns the value it left with (this kernel is 5.14+,
   * where hash maps read and delete in one step). */
  struct op_key taken = {.cgroup_id = 1007, .dev = 53, .op = 7 % NFS_OP_MAX};
  struct op_stats last = {0};
  EXPECT_EQ_INT(0, kstats_take(fd, &taken, &last));
  EXPECT_EQ_UINT64(7, last.count);
  EXPECT_EQ_UINT64(7 * 4096, last.bytes);
  EXPECT_EQ_INT(-ENOENT, kstats_take(fd, &taken, &last));
  EXPECT_EQ_INT(0, kstats_read(fd, &s));
  EXPECT_EQ_UINT64(N_KEYS - 2, s.len);

  kstats_snapshot_free(&s);
  close(fd);
  return 0;
}

DEF_TEST(empty_map) {
  int fd = make_map();
  OK(fd >= 0);
  kstats_snapshot_t s;
  kstats_snapshot_init(&s, sizeof(struct op_key), sizeof(struct op_stats));
  EXPECT_EQ_INT(0, kstats_read(fd, &s));
  EXPECT_EQ_UINT64(0, s.len);
  kstats_snapshot_free(&s);
  close(fd);
  return 0;
}

/* Deletes the key the walk stands on at two fixed steps, as a concurrent
 * deleter would: the kernel then restarts from the first bucket. */
typedef struct {
  size_t steps;
  size_t delete_at[2];
  bool replace; /* and insert a new key each time: the map never shrinks */
  size_t limit; /* stop interfering after this many steps */
  uint64_t next_id;
} walk_interference_t;

static void interfere(int fd, const void *key, void *arg) {
  walk_interference_t *w = arg;
  size_t step = w->steps++;
  if (step >= w->limit)
    return;
  if (!w->replace && step != w->delete_at[0] && step != w->delete_at[1])
    return;
  bpf_map_delete_elem(fd, key);
  if (w->replace) {
    struct op_key k = {.cgroup_id = w->next_id++, .dev = 54, .op = 0};
    struct op_stats v = {.count = 1};
    bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST);
  }
}

/* A fresh filled map read by the key-by-key walk (forced: this kernel has
 * batches), with interference `w` (NULL: none). Returns kstats_read's
 * status, -EBADF if the map cannot be made. */
static int key_walk(walk_interference_t *w, kstats_snapshot_t *s) {
  int fd = make_map();
  if (fd < 0 || fill(fd) != 0) {
    printf("# cannot make the map: %s\n", strerror(errno));
    return -EBADF;
  }
  kstats_test_force_key_walk(true);
  kstats_test_walk_hook(w != NULL ? interfere : NULL, w);
  int status = kstats_read(fd, s);
  kstats_test_walk_hook(NULL, NULL);
  kstats_test_force_key_walk(false);
  close(fd);
  return status;
}

/* The key-by-key walk over a map that outgrows the snapshot's first
 * buffers (256 entries): the key it continues from must survive their
 * realloc, or the kernel gets a garbage key, restarts, and keys repeat.
 * main() makes glibc fill freed memory, so that reading it is seen. */
DEF_TEST(key_walk_whole_map) {
  kstats_snapshot_t s;
  kstats_snapshot_init(&s, sizeof(struct op_key), sizeof(struct op_stats));
  EXPECT_EQ_INT(0, key_walk(NULL, &s));
  check_snapshot(&s);
  EXPECT_EQ_INT(0, key_walk(NULL, &s)); /* with the grown buffers */
  check_snapshot(&s);
  kstats_snapshot_free(&s);
  return 0;
}

/* Every key once, even though the walk restarted twice: keys read before
 * their deletion keep the value they were read with. */
DEF_TEST(key_walk_restarted_by_deletes) {
  walk_interference_t w = {.delete_at = {300, 700}, .limit = SIZE_MAX};
  kstats_snapshot_t s;
  kstats_snapshot_init(&s, sizeof(struct op_key), sizeof(struct op_stats));
  EXPECT_EQ_INT(0, key_walk(&w, &s));
  check_snapshot(&s);
  kstats_snapshot_free(&s);
  return 0;
}

/* Deletions that never stop (each replaced by a new key) restart the walk
 * on every step: it must give up after a bounded number of steps instead
 * of spinning for as long as they last (here: 200000 steps). */
DEF_TEST(key_walk_is_bounded) {
  walk_interference_t w = {.replace = true, .limit = 200000, .next_id = 1};
  kstats_snapshot_t s;
  kstats_snapshot_init(&s, sizeof(struct op_key), sizeof(struct op_stats));
  EXPECT_EQ_INT(-EAGAIN, key_walk(&w, &s));
  printf("# the walk took %zu steps\n", w.steps);
  OK(w.steps <= 4 * (4096 + 1));
  kstats_snapshot_free(&s);
  return 0;
}

int main(void) {
  /* Freed memory filled with a pattern: a use after free reads garbage
   * instead of the stale bytes glibc would otherwise leave there. */
  mallopt(M_PERTURB, 0x5a);
  RUN_TEST(read_whole_map);
  RUN_TEST(empty_map);
  RUN_TEST(key_walk_whole_map);
  RUN_TEST(key_walk_restarted_by_deletes);
  RUN_TEST(key_walk_is_bounded);
  END_TEST;
}
