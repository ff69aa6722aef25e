/*
 * Copies the kernel's op_stats / op_errors hash maps for the read callback.
 * See kstats.h for why reading is enough and nothing is reset.
 */
#include "collectd_compat.h"

#include "kstats.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>

/* Entries fetched per BPF_MAP_LOOKUP_BATCH call: a typical node's map in a
 * few syscalls. */
#define KSTATS_BATCH 256

/* The kernel's ENOTSUPP (not in userspace errno.h). */
#define KERNEL_ENOTSUPP 524

/* Set once the kernel refused batch lookups (before 5.6); from then on only
 * the per-key walk is tried. */
static bool batch_unsupported;

void kstats_snapshot_init(kstats_snapshot_t *s, size_t key_size,
                          size_t val_size) {
  memset(s, 0, sizeof(*s));
  s->key_size = key_size;
  s->val_size = val_size;
}

void kstats_snapshot_free(kstats_snapshot_t *s) {
  free(s->keys);
  free(s->vals);
  s->keys = s->vals = NULL;
  s->len = s->cap = 0;
}

/* Make room for `extra` more entries. */
static int snapshot_reserve(kstats_snapshot_t *s, size_t extra) {
  if (s->len + extra <= s->cap)
    return 0;
  size_t cap = s->cap ? s->cap : KSTATS_BATCH;
  while (cap < s->len + extra)
    cap *= 2;
  void *keys = realloc(s->keys, cap * s->key_size);
  if (keys == NULL)
    return -ENOMEM;
  s->keys = keys;
  void *vals = realloc(s->vals, cap * s->val_size);
  if (vals == NULL)
    return -ENOMEM;
  s->vals = vals;
  s->cap = cap;
  return 0;
}

/* Key by key, for kernels without batch ops. Nobody deletes keys while we
 * walk (the BPF side never deletes, and we delete only after reading), so
 * get_next_key cannot restart the walk and repeat keys. */
static int read_by_key(int fd, kstats_snapshot_t *s) {
  const void *prev = NULL;
  for (;;) {
    int status = snapshot_reserve(s, 1);
    if (status != 0)
      return status;
    void *key = (char *)s->keys + s->len * s->key_size;
    if (bpf_map_get_next_key(fd, prev, key) != 0)
      return errno == ENOENT ? 0 : -errno; /* ENOENT: end of the map */
    if (bpf_map_lookup_elem(fd, key, (char *)s->vals + s->len * s->val_size) !=
        0)
      return -errno;
    prev = key;
    s->len++;
  }
}

static int read_batched(int fd, kstats_snapshot_t *s) {
  /* The batch cursor is opaque to us; 8 bytes covers every map type. */
  __u64 in_batch = 0, out_batch = 0;
  bool first = true;
  for (;;) {
    int status = snapshot_reserve(s, KSTATS_BATCH);
    if (status != 0)
      return status;
    __u32 count = KSTATS_BATCH;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch,
                                   (char *)s->keys + s->len * s->key_size,
                                   (char *)s->vals + s->len * s->val_size,
                                   &count, &opts);
    if (err != 0 && errno != ENOENT)
      return -errno;
    s->len += count;
    if (err != 0) /* ENOENT: that was the last batch */
      return 0;
    in_batch = out_batch;
    first = false;
  }
}

int kstats_read(int map_fd, kstats_snapshot_t *s) {
  s->len = 0;
  if (!batch_unsupported) {
    int status = read_batched(map_fd, s);
    if (status == 0)
      return 0;
    if (status != -EINVAL && status != -EOPNOTSUPP &&
        status != -KERNEL_ENOTSUPP && status != -ENOSPC)
      return status;
    /* No batch ops here (or, ENOSPC, a hash bucket larger than a batch):
     * throw the partial copy away and walk key by key. */
    if (status != -ENOSPC) {
      batch_unsupported = true;
      INFO("nfs_ebpf plugin: this kernel has no batched map lookups "
           "(Linux 5.6+); reading the maps key by key.");
    }
    s->len = 0;
  }
  return read_by_key(map_fd, s);
}

int kstats_delete(int map_fd, const void *key) {
  if (bpf_map_delete_elem(map_fd, key) != 0)
    return -errno;
  return 0;
}
