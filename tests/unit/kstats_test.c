/*
 * kstats against real BPF hash maps of this kernel (needs root or CAP_BPF:
 * without it the test fails, as every BPF test must). Checks that a
 * snapshot holds every key exactly once with its value, across several
 * batches, in both the batched and the key-by-key walk.
 */
#include "collectd_compat.h"
#include "testing.h"

#include "kstats.h"
#include <linux/types.h> /* __u* for the shared header */
#include "nfs_ebpf.h"

#include <bpf/bpf.h>
#include <errno.h>

#define N_KEYS 1000 /* several KSTATS_BATCH batches */

static int make_map(void) {
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  return bpf_map_create(BPF_MAP_TYPE_HASH, "kstats_test",
                        sizeof(struct op_key), sizeof(struct op_stats), 4096,
                        &opts);
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

int main(void) {
  RUN_TEST(read_whole_map);
  RUN_TEST(empty_map);
  END_TEST;
}
